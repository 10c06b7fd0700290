"""What every command shares: the consoles, JSON output, error reporting, option parsing, progress bars.

Command modules (app.py, admin.py, migration.py, report.py) import from here; app.py imports them to
register their commands, so nothing here imports a command module.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from tradeledger.application.ledger import Ledger
from tradeledger.bootstrap import open_ledger
from tradeledger.cli.output import dumps
from tradeledger.errors import InvalidArgument, LedgerError


@functools.cache
def out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH  # files and pipes get room for every column
    return console


@functools.cache
def err() -> Console:
    return Console(stderr=True, highlight=False)


P = ParamSpec("P")
R = TypeVar("R")
EXIT_INVALID = 2
PIPED_WIDTH = 120
EXIT_VERIFY_FAILED = 1

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (decimals as strings) instead of tables.")]


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A LedgerError ends the command with its message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LedgerError as error:
            err().print(Text.assemble(("error:", "red"), f" {error}"), soft_wrap=True)
            raise typer.Exit(EXIT_INVALID) from None

    return wrapper


@contextmanager
def opened(ctx: typer.Context) -> Iterator[Ledger]:
    with open_ledger(ctx.obj) as ledger:
        yield ledger


def emit(value: object) -> None:
    """JSON for scripts: plain text on stdout, untouched by Rich."""
    typer.echo(dumps(value))


def parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{option}: not an ISO 8601 time (got {value!r})") from None
    if parsed.tzinfo is None:
        raise InvalidArgument(f"{option}: needs a UTC offset such as +00:00 or Z (got {value!r})")
    return parsed


def parse_amount(value: str, option: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0:
        raise InvalidArgument(f"{option}: expected a decimal number above 0 (got {value!r})")
    return amount


def parse_marks(values: list[str]) -> dict[str, Decimal]:
    marks: dict[str, Decimal] = {}
    for value in values:
        symbol, sep, price_text = value.partition("=")
        try:
            price = Decimal(price_text)
        except InvalidOperation:
            price = Decimal("NaN")
        if not sep or not symbol or not price.is_finite() or price <= 0:
            raise InvalidArgument(f"--mark: expected SYMBOL=PRICE with a price > 0 (got {value!r})")
        marks[symbol] = price
    return marks


def new_progress() -> Progress:
    """Progress bars on stderr, shown only on a terminal, gone when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err(),
        transient=True,
        disable=not err().is_terminal,
    )


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """One progress bar (see new_progress); yields `update(completed)`."""
    with new_progress() as progress:
        task = progress.add_task(description, total=total)
        yield lambda completed: progress.update(task, completed=completed)
