"""What every command shares: the consoles, JSON output, error reporting, option parsing, progress bars.

Command modules (fills, state, audit, demo, paper_bot, report, anchor, admin, migration) import from
here; app.py imports them to register their commands, so nothing here imports a command module.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text
from typer.core import TyperCommand

from tradeledger.application.exchange_names import refuse_case_rival
from tradeledger.application.ledger import Ledger
from tradeledger.bootstrap import open_ledger
from tradeledger.cli.json_text import holds_iterator, json_pieces
from tradeledger.cli.output import dumps
from tradeledger.domain.fills import exact_amount
from tradeledger.errors import InvalidArgument, LedgerError
from tradeledger.settings import LedgerSettings
from tradeledger.storage.urls import is_in_memory, shown_url

# No text reaches Rich as markup or as an emoji code: user text ("x[/]", "[link=…]", ":+1:") prints as it is, in
# every command.
# Styles are given as Text spans or style= arguments, never as "[red]…[/red]" inside a string.


def reader_gone() -> int:
    """After a BrokenPipeError on stdout (`tradeledger history | head`): nothing is left to say, and nothing more
    is written to stdout (the interpreter's last flush too); the status to end with, 2 as for every failure."""
    sys.stdout = None
    return EXIT_INVALID


class _Console(Console):
    """Rich's console, but a reader gone away raises BrokenPipeError, which ends the command quietly with status 2
    (`reports_errors`, `main`) where Rich would exit with 1, this CLI's "verify failed"."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


@functools.cache
def out() -> Console:
    console = _Console(highlight=False, markup=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH  # files and pipes get room for every column
    return console


def beside(written: Path) -> Console:
    """Where a command says what it wrote to `written`: stdout, save when `written` is stdout itself (`--output
    /dev/stdout`, `--csv /dev/stdout`): then stderr, so that the NDJSON, the CSV or the page is all stdout holds."""
    try:
        file, stdout = written.stat(), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a descriptor (a test's capture): not the file
        return out()
    return err() if (file.st_dev, file.st_ino) == (stdout.st_dev, stdout.st_ino) else out()


@functools.cache
def err() -> Console:
    return _Console(stderr=True, highlight=False, markup=False, emoji=False)


P = ParamSpec("P")
R = TypeVar("R")
EXIT_INVALID = 2
PIPED_WIDTH = 120
EMIT_CHUNK = 1 << 16  # characters of JSON text written at once
EMIT_SPOOL = 1 << 20  # characters of a streamed JSON document kept in memory before it goes to a temporary file
EXIT_VERIFY_FAILED = 1

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (decimals as strings) instead of tables.")]
UntilTimeOption = Annotated[
    str | None,
    typer.Option("--until-time", metavar="TIME", help="Only fills that occurred at or before this time."),
]


# The longest error line (after `error: `); a longer message is cut in its middle.
MAX_ERROR_CHARACTERS = 2_000
_ERROR_HEAD, _ERROR_TAIL = 1_400, 500  # kept of a longer one, with the count of what is cut between them


def print_error(message: str) -> None:
    """One line on stderr: `error: ` and the message, its own line breaks folded into the line, and at most
    MAX_ERROR_CHARACTERS of it: a longer one (a refusal quoting a huge value) keeps its start, which names
    the file and field, and its end, and says how much is left out between them."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    if len(line) > MAX_ERROR_CHARACTERS:
        cut = len(line) - _ERROR_HEAD - _ERROR_TAIL
        line = f"{line[:_ERROR_HEAD]} … ({cut:,} characters left out) … {line[-_ERROR_TAIL:]}"
    err().print(Text.assemble(("error:", "red"), f" {line}"), soft_wrap=True)


def os_error_message(error: OSError) -> str:
    """What went wrong with which file, in one line (`export --output` onto a folder, a full disk …)."""
    where = " -> ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
    reason = error.strerror or str(error) or type(error).__name__
    return f"{where}: {reason}" if where else reason


@contextmanager
def naming_option(option: str) -> Iterator[None]:
    """An OSError inside (a folder, a missing folder, a full disk) as InvalidArgument naming the option."""
    try:
        yield
    except OSError as error:
        raise InvalidArgument(f"{option}: {os_error_message(error)}") from None


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A LedgerError or an OSError ends the command with one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LedgerError as error:
            print_error(str(error))
        except BrokenPipeError:  # stdout's reader went away (Typer would exit with 1 on it: "verify failed")
            raise typer.Exit(reader_gone()) from None
        except OSError as error:
            print_error(os_error_message(error))
        raise typer.Exit(EXIT_INVALID)

    return wrapper


def ledger_url(db: str | None) -> str:
    """The ledger `--db` names (else $TRADELEDGER_URL, else the default) as people and manifests see it:
    a relative SQLite path made absolute, its password hidden."""
    return shown_url(db if db is not None else LedgerSettings().url)


def refuse_in_memory(url: str | None, option: str = "--db") -> None:
    """A command that writes refuses an in-memory SQLite ledger: what it records would be gone at exit."""
    resolved = url if url is not None else LedgerSettings().url
    if is_in_memory(resolved):
        raise InvalidArgument(
            f"{option}: {resolved!r} is an in-memory database, gone when this command exits, so nothing it "
            "writes would be kept; give a file (sqlite:///tradeledger.db) or a server URL"
        )


@contextmanager
def opened(ctx: typer.Context, *, writes: bool = False, audit: bool = False) -> Iterator[Ledger]:
    """The ledger of `--db`; a command that `writes` refuses an in-memory one before opening it (`audit`: see
    `open_ledger`, for `verify`)."""
    if writes:
        refuse_in_memory(ctx.obj)
    with open_ledger(ctx.obj, audit=audit) as ledger:
        yield ledger


def emit(value: object) -> None:
    """JSON for scripts: plain text on stdout, untouched by Rich, whole or not at all. A list may be an iterator (a
    report's rows made as they are written, `history`'s events read from the log): the text is made a part at a time
    (cli/json_text.py), byte for byte `dumps` of the value with its iterators made lists, and neither the items nor
    the text are held whole: it goes to a temporary file (in memory up to EMIT_SPOOL characters) and reaches stdout
    only once the last item was made, so a read that fails part way (a row that no longer reads, a lost database)
    leaves nothing on stdout for a script to take for the document, only the error on stderr (exit 2)."""
    if not holds_iterator(value):
        typer.echo(dumps(value))
        return
    with tempfile.SpooledTemporaryFile(max_size=EMIT_SPOOL, mode="w+", encoding="utf-8", newline="") as spool:
        pending: list[str] = []
        size = 0
        for piece in json_pieces(value):
            pending.append(piece)
            size += len(piece)
            if size >= EMIT_CHUNK:
                spool.write("".join(pending))
                pending.clear()
                size = 0
        pending.append("\n")
        spool.write("".join(pending))
        spool.seek(0)
        write = sys.stdout.write
        while text := spool.read(EMIT_CHUNK):
            write(text)
    sys.stdout.flush()


def emit_items(items: Iterable[object]) -> None:
    """A JSON array on stdout, as `emit` writes one (`dumps` of the list and a newline, byte for byte), written an
    item at a time: the list is never held whole."""
    emit(iter(items))


def parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{option}: not an ISO 8601 time (got {value!r})") from None
    if parsed.tzinfo is None:
        raise InvalidArgument(f"{option}: needs a UTC offset such as +00:00 or Z (got {value!r})")
    return parsed


def decimal_text_arg(value: str) -> Decimal:
    """An option's decimal text, or NaN when it is not one: ASCII digits only (Decimal() alone reads
    fullwidth and Arabic-Indic digits as well)."""
    if not value.isascii():
        return Decimal("NaN")
    try:
        return Decimal(value)
    except InvalidOperation:
        return Decimal("NaN")


def parse_initial_balance(value: str) -> Decimal:
    """--initial-balance: the paper wallet's B0, as any wallet takes it (domain.wallet.starting_cash)."""
    from tradeledger.domain.wallet import starting_cash  # noqa: PLC0415 - the wallet's fold, for two commands only

    balance = decimal_text_arg(value)
    if not balance.is_finite():
        raise InvalidArgument(f"--initial-balance: expected a decimal number (got {value!r})")
    return starting_cash(balance, "--initial-balance")


def _within_limits(amount: Decimal, where: str) -> Decimal:
    """`amount`, held to a fill amount's limits (at most 28 significant digits, 1E-24..1E+24), else refused."""
    try:
        return exact_amount(amount)
    except ValueError as error:
        raise InvalidArgument(f"{where}: {error}") from None


def _keyed_amounts(
    values: list[str], option: str, shape: str, requirement: str, allowed: Callable[[Decimal], bool]
) -> Iterator[tuple[str, str, Decimal]]:
    """Each `KEY=AMOUNT` option of `values` as (key, the option's text, amount), the amount `allowed`; else
    InvalidArgument "`option`: expected `shape` with `requirement` (got ...)". Its limits are the caller's to hold."""
    for value in values:
        key, sep, text = value.partition("=")
        amount = decimal_text_arg(text)
        if not sep or not key or not amount.is_finite() or not allowed(amount):
            raise InvalidArgument(f"{option}: expected {shape} with {requirement} (got {value!r})")
        yield key, value, amount


def parse_marks(values: list[str]) -> dict[str, Decimal]:
    return {
        symbol: _within_limits(price, f"--mark: {symbol!r}")
        for symbol, _, price in _keyed_amounts(values, "--mark", "SYMBOL=PRICE", "a price > 0", lambda p: p > 0)
    }


def parse_tolerances(values: list[str], option: str = "--tolerance") -> dict[str, Decimal]:
    """`CURRENCY=AMOUNT` options (reconcile's dust allowances): an amount of 0 or more per currency."""
    found = _keyed_amounts(values, option, "CURRENCY=AMOUNT", "an amount of 0 or more", lambda amount: amount >= 0)
    return {currency: _within_limits(amount, f"{option}: {currency}") for currency, _, amount in found}


def parse_contract_sizes(values: list[str], option: str = "--contract-size") -> dict[str, Decimal]:
    """`SYMBOL=SIZE` options: the base units of one contract of a contract symbol (ccxt's market contractSize)."""
    from tradeledger.domain.markets import market  # noqa: PLC0415 - symbols, for the ccxt commands only

    found: dict[str, Decimal] = {}
    for symbol, value, size in _keyed_amounts(
        values, option, "SYMBOL=SIZE", "a size greater than 0", lambda amount: amount > 0
    ):
        try:
            contract = market(symbol).contract
        except ValueError as error:
            raise InvalidArgument(f"{option}: {symbol!r} {error}") from None
        if not contract:
            raise InvalidArgument(f"{option}: {symbol!r} is a spot symbol; a size is for a contract (got {value!r})")
        found[symbol] = _within_limits(size, f"{option}: {symbol!r}")
    return found


def exchange_named(ledger: Ledger, account: str, exchange: str | None, option: str = "--exchange") -> str:
    """The exchange a reconciliation compares: `exchange` as named, else the account's only one (`only_exchange`).

    A name the ledger does not hold that differs only in case from one it holds is refused naming both: the ledger
    holds one spelling per exchange (domain/exchange_names.py), so `Binance` on a ledger holding `binance` would
    compare nothing booked. A name it does not hold in any case compares as named: nothing is booked under it."""
    if exchange is None:
        return only_exchange(ledger, account, option)
    refuse_case_rival(exchange, ledger.exchanges(), option)  # an index, not a read of the log
    return exchange


def only_exchange(ledger: Ledger, account: str, option: str = "--exchange") -> str:
    """The one exchange `account` holds balances on (what reconcile compares when none is named)."""
    held = sorted({b.exchange for b in ledger.balances(account=account).balances})
    if len(held) != 1:
        listed = ", ".join(repr(name) for name in held) or "none"
        raise InvalidArgument(f"{option}: name the exchange to reconcile (account {account!r} holds {listed})")
    return held[0]


def new_progress() -> Progress:
    """Progress bars on stderr, shown only on a terminal, gone when done."""
    return Progress(
        TextColumn("{task.description}", markup=False),
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


class MethodValues(TyperCommand):
    """A command whose `--method` takes several values after one option, as spec section 11 writes it (`--method
    YEAR=M …`): `method_values` reads each argument right after the option's value as the option given again.
    For `gains`, `lots` and `report`, which take no arguments of their own: nothing else is read differently."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, method_values(args))


def method_values(args: list[str], option: str = "--method") -> list[str]:
    """`args` with each bare argument that follows `option`'s value (or another such argument) as `option ARG`:
    `--method fifo 2025=hifo --json` is `--method fifo --method 2025=hifo --json`. A bare argument after anything
    else is left as it is (click refuses it as an extra argument), and so is everything after `--`."""
    rewritten: list[str] = []
    following = False  # right after the option's value: a bare argument is another value
    tokens = iter(args)
    for token in tokens:
        if token == "--":  # noqa: S105 - the end of the options, not a password
            rewritten += [token, *tokens]
            break
        if token == option:
            rewritten.append(token)
            value = next(tokens, None)
            if value is None:  # no value: click names the option
                break
            rewritten.append(value)
            following = True
        elif token.startswith(f"{option}="):
            rewritten.append(token)
            following = True
        elif following and not token.startswith("-"):
            rewritten += [option, token]
        else:
            rewritten.append(token)
            following = False
    return rewritten
