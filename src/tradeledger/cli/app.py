"""The tradeledger command line: the app, its global `--db`, the one table of commands, the entry point.

Every command is a plain function in a command module (fills, exchange, state, lots, audit, demo, paper_bot,
report, anchor, admin, migration); `COMMANDS` registers each under its name, in `--help` order, wrapped in
`reports_errors` (a LedgerError or an OSError: one line on stderr, exit 2). A command module imports
only the shared helpers (common, output, tables, ndjson, anchor_files), never another command module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from tradeledger.cli import (
    admin,
    anchor,
    audit,
    demo,
    exchange,
    fills,
    lots,
    migration,
    paper_bot,
    report,
    state,
    watch,
)
from tradeledger.cli.common import EXIT_INVALID, print_error, reports_errors
from tradeledger.cli.helptext import LedgerGroup

app = typer.Typer(
    name="tradeledger",
    help="An event-sourced position ledger: every fill an immutable event, positions projected from the log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LedgerGroup,
)


@app.callback()
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


# (name, command): the commands of `tradeledger`, in the order `--help` lists them.
COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("record", fills.record),
    ("record-funding", fills.record_funding),
    ("record-transfer", fills.record_transfer),
    ("import", fills.import_fills),
    ("ingest", exchange.ingest),
    ("sync", exchange.sync),
    ("reconcile", exchange.reconcile),
    ("positions", state.positions),
    ("balances", state.balances),
    ("replay", state.replay),
    ("history", state.history),
    ("watch", watch.watch),
    ("gains", lots.gains),
    ("lots", lots.lots),
    ("verify", audit.verify),
    ("copy", audit.copy),
    ("demo", demo.demo),
    ("paper-bot", paper_bot.paper_bot),
    ("report", report.report),
    ("keygen", anchor.keygen),
    ("checkpoint", anchor.checkpoint),
    ("rollback", admin.rollback),
    ("restore", admin.restore),
    ("export", admin.export),
    ("migrate", migration.migrate),
    ("enable-sot", migration.enable_sot),
)
for name, command in COMMANDS:
    app.command(name)(reports_errors(command))


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status instead of exiting.

    Every failure is one line on stderr and status 2: a usage error (Click's own message, without
    the usage box), and, as a last line of defence, an exception no command turned into a
    LedgerError (a bug: its type and message, never a traceback). Status 1 stays "verify failed".
    """
    try:
        status = app(args=argv, prog_name="tradeledger", standalone_mode=False)
    except typer.TyperException as error:  # Click's usage errors (Typer vendors Click)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        if message:  # `tradeledger` alone has printed its help already and has nothing to add
            context = getattr(error, "ctx", None)
            hint = f" (see: {context.command_path} --help)" if context is not None else ""
            print_error(f"{message}{hint}")
        return EXIT_INVALID
    except typer.Abort:  # Ctrl-C at a prompt
        print_error("aborted")
        return EXIT_INVALID
    except BrokenPipeError:  # the reader went away (`tradeledger history | head`): nothing left to say
        sys.stdout = None  # so the interpreter's final flush stays quiet
        return EXIT_INVALID
    except RecursionError:
        print_error("the input is nested too deep to read")
        return EXIT_INVALID
    except Exception as error:  # noqa: BLE001 - the process boundary: one line, never a traceback
        print_error(f"unexpected {type(error).__name__}: {error} (this is a bug in tradeledger; please report it)")
        return EXIT_INVALID
    return status if isinstance(status, int) else 0
