"""The tradeledger command line: the app, its global `--db`, the one table of commands, the entry point.

Every command is a plain function in a command module (fills, exchange, state, lots, audit, demo, paper_bot,
report, anchor, admin, migration); `COMMANDS` registers each under its name, in `--help` order, wrapped in
`reports_errors` (a LedgerError or an OSError: one line on stderr, exit 2), when Typer first reads
them: `main` runs an app of the one command it is asked for, so only that command's module is
imported (`import` never loads the report's page or the legacy bot); `app` (help, tests) has them all.
A command module imports only the shared helpers (common, output, tables, ndjson, anchor_files), never
another command module.
"""

from __future__ import annotations

import importlib
import io
import sys
from typing import Annotated

import typer
from typer.models import CommandInfo

from tradeledger.cli.common import EXIT_INVALID, print_error, reader_gone, reports_errors
from tradeledger.cli.helptext import LedgerGroup


def configure(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="URL", help="Database URL. Default: $TRADELEDGER_URL, else sqlite:///tradeledger.db."
        ),
    ] = None,
) -> None:
    ctx.obj = db


# (name, command module, function): the commands of `tradeledger`, in the order `--help` lists them.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("record", "fills", "record"),
    ("record-funding", "fills", "record_funding"),
    ("record-transfer", "fills", "record_transfer"),
    ("record-settlement", "fills", "record_settlement"),
    ("import", "fills", "import_fills"),
    ("ingest", "exchange", "ingest"),
    ("sync", "exchange", "sync"),
    ("reconcile", "exchange", "reconcile"),
    ("positions", "state", "positions"),
    ("balances", "state", "balances"),
    ("replay", "state", "replay"),
    ("history", "state", "history"),
    ("watch", "watch", "watch"),
    ("gains", "lots", "gains"),
    ("lots", "lots", "lots"),
    ("verify", "audit", "verify"),
    ("rebuild", "audit", "rebuild"),
    ("copy", "audit", "copy"),
    ("demo", "demo", "demo"),
    ("paper-bot", "paper_bot", "paper_bot"),
    ("report", "report", "report"),
    ("keygen", "anchor", "keygen"),
    ("checkpoint", "anchor", "checkpoint"),
    ("rollback", "admin", "rollback"),
    ("restore", "admin", "restore"),
    ("export", "admin", "export"),
    ("migrate", "migration", "migrate"),
    ("enable-sot", "migration", "enable_sot"),
)
NAMES = frozenset(name for name, _, _ in COMMANDS)


class LedgerApp(typer.Typer):
    """The `tradeledger` app. Its commands (COMMANDS, or the one named `only`) are registered when Typer
    first reads them, to build or run the app: importing the app imports no command module."""

    def __init__(self, only: str | None = None) -> None:
        self._only = only
        self._pending = True
        super().__init__(
            name="tradeledger",
            help="An event-sourced position ledger: every fill an immutable event, positions projected from the log.",
            no_args_is_help=True,
            add_completion=False,
            pretty_exceptions_enable=False,
            cls=LedgerGroup,
        )
        self.callback()(configure)

    @property  # Typer's attribute, filled on first read
    def registered_commands(self) -> list[CommandInfo]:
        if self._pending:
            self._pending = False
            for name, module, function in COMMANDS:
                if self._only is None or name == self._only:
                    command = getattr(importlib.import_module(f"tradeledger.cli.{module}"), function)
                    # A command that parses its arguments itself first names its class (`record`: fee pairs).
                    self.command(name, cls=getattr(command, "command_class", None))(reports_errors(command))
        return self._registered

    @registered_commands.setter
    def registered_commands(self, commands: list[CommandInfo]) -> None:
        self._registered = commands


app = LedgerApp()


def invoked(argv: list[str]) -> str | None:
    """The command `argv` runs, when it names one after the global options (`--db URL`); else None."""
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--db":
            next(arguments, None)
        elif not argument.startswith("--db="):
            return argument if argument in NAMES else None
    return None


def whole_writes() -> None:
    """Under PYTHONUNBUFFERED=1 (`python -u`, many container images) stdout's text goes straight to the file
    descriptor, and a write the pipe took only in part (its reader gone: `positions --json | head -c 100`) loses the
    rest without an error: the command ended with 0 on a document cut off. Its text then goes through a buffered
    writer of the same descriptor, which writes the rest or raises BrokenPipeError (exit 2, `reader_gone`), flushed
    at each line break as unbuffered output is."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and isinstance(stream.buffer, io.RawIOBase):
        raw = io.FileIO(stream.fileno(), "w", closefd=False)
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(raw), encoding=stream.encoding, errors=stream.errors, line_buffering=True
        )


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status instead of exiting.

    Every failure is one line on stderr and status 2: a usage error (Click's own message, without
    the usage box), and, as a last line of defence, an exception no command turned into a
    LedgerError (a bug: its type and message, never a traceback). Status 1 stays "verify failed".
    """
    arguments = sys.argv[1:] if argv is None else argv
    whole_writes()
    command = invoked(arguments)
    # The command's own module only (the start-up of `import` is part of its speed, spec section 8).
    application = app if command is None else LedgerApp(only=command)
    try:
        status = application(args=arguments, prog_name="tradeledger", standalone_mode=False)
    except typer.TyperException as error:  # Click's usage errors (Typer vendors Click)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        # Typer checks a value against an option's choices through pydantic, whose message leads with its own
        # label ("Invalid value for '--side': Value error, 'BUY' is not one of …"): the words after it say it all.
        message = message.replace("': Value error, ", "': ", 1)
        if message:  # `tradeledger` alone has printed its help already and has nothing to add
            context = getattr(error, "ctx", None)
            hint = f" (see: {context.command_path} --help)" if context is not None else ""
            print_error(f"{message}{hint}")
        return EXIT_INVALID
    except typer.Abort:  # Ctrl-C at a prompt
        print_error("aborted")
        return EXIT_INVALID
    except BrokenPipeError:  # the reader went away (`tradeledger history | head`): nothing left to say
        return reader_gone()
    except RecursionError:
        print_error("the input is nested too deep to read")
        return EXIT_INVALID
    except Exception as error:  # noqa: BLE001 - the process boundary: one line, never a traceback
        print_error(f"unexpected {type(error).__name__}: {error} (this is a bug in tradeledger; please report it)")
        return EXIT_INVALID
    return status if isinstance(status, int) else 0
