"""Help text for people: value labels instead of Python types, whole sentences, every default shown.

Typer labels an option's value with its Python type (`<str>`, `<bool>`, `<list[str]>`) and, in its
Rich mode, keeps a docstring's line breaks, so a sentence wrapped in the source breaks mid-line in
`--help`. `LedgerGroup` (the `tradeledger` app's group class) tidies every command it hands out:
flags get no label, other options a word (`TEXT`, `INTEGER`, `PATH`, or an explicit `metavar=`),
and each paragraph of a command's help is joined into one line that Rich wraps to the terminal.
"""

from __future__ import annotations

import inspect

from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

# Typer's type label (without the brackets) -> the word shown instead.
LABELS = {
    "str": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "list[str]": "TEXT",
    "path": "PATH",
    "file": "FILE",
    "directory": "FOLDER",
    "float": "NUMBER",
}


def _text_label(_ctx: _click.Context) -> str:
    return "<text>"


def one_line_paragraphs(text: str) -> str:
    """Each paragraph (blank-line separated) as one line; a paragraph starting with \\b is kept as written."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def tidy(command: _click.Command, ctx: _click.Context) -> None:
    """Label every option of `command` for people (see the module) and join its help's paragraphs."""
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument) and param.display_type(ctx) == "<str>":
            param.display_type = _text_label  # type: ignore[method-assign,assignment]  # a text argument: EXCHANGE <text>
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue  # arguments keep their name and type: FILE <file>
        if param.is_flag:
            param.metavar = ""
            continue
        word = LABELS.get(param.display_type(ctx).strip("<>"))
        if word is not None:
            param.metavar = word
    if command.help:
        command.help = one_line_paragraphs(command.help)


class LedgerGroup(TyperGroup):
    """The `tradeledger` group: it and each command it hands out (for help, errors, runs) are tidied."""

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy(command, ctx)
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        tidy(self, ctx)
        super().format_help(ctx, formatter)
