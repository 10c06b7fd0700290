"""The state read back: `positions` (the stored projection), `balances`, `replay` (from the log alone), `history`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from tradeledger.application.replaying import symbol_named
from tradeledger.cli.common import (
    JsonOption,
    UntilTimeOption,
    emit,
    emit_items,
    err,
    opened,
    out,
    parse_initial_balance,
    parse_marks,
    parse_time,
)
from tradeledger.cli.event_view import recorded_json
from tradeledger.cli.history_table import print_history
from tradeledger.cli.output import (
    balances_json,
    print_balances,
    print_state,
    print_wallet,
    state_json,
    unused_marks,
    wallet_json,
)
from tradeledger.domain.records import LedgerState
from tradeledger.domain.settlement import expiry_day
from tradeledger.errors import InvalidArgument


def positions(
    ctx: typer.Context,
    closed: Annotated[bool, typer.Option("--closed", help="Also list closed position cycles.")] = False,
    account: Annotated[str | None, typer.Option(help="Only this account (totals too).")] = None,
    mark: Annotated[
        list[str] | None, typer.Option(metavar="SYMBOL=PRICE", help="SYMBOL=PRICE for unrealized PnL; repeatable.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Open positions (and closed cycles) from the stored projection; an open position on a dated future that
    expired before today (UTC, the wall clock) is named under them (on stderr beside --json)."""
    marks = parse_marks(mark or [])
    with opened(ctx) as ledger:
        state = ledger.state(account=account)
    expired = past_expiry(state, datetime.now(UTC).date())  # the wall clock: what has expired by today
    if json_output:
        emit(state_json(state, closed=closed, marks=marks))
        for note in [*unused_marks(state, marks), *expired]:  # named, as under the tables, off the document
            err().print(note, highlight=False, soft_wrap=True)
    else:
        print_state(out(), state, closed=closed, marks=marks, title="Positions")
        for note in expired:
            out().print(note, highlight=False, soft_wrap=True)


def past_expiry(state: LedgerState, today: date) -> list[str]:
    """A line for each open position on a dated future whose expiry day (UTC) ended before `today`: the exchange
    settled it, and the ledger holds it open until its settlement is recorded."""
    return [
        f"{p.symbol} (account {p.account!r}) expired on {day.isoformat()} and is still open: record its settlement "
        "with record-settlement"
        for p in state.open
        if (day := expiry_day(p.symbol)) is not None and day < today
    ]


def balances(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    json_output: JsonOption = False,
) -> None:
    """What each account holds per exchange and currency (spec 9): fills, fees, funding and transfers."""
    with opened(ctx) as ledger:
        held = ledger.balances(account=account)
    if json_output:
        emit(balances_json(held))
    else:
        print_balances(out(), held)


def replay(
    ctx: typer.Context,
    until_seq: Annotated[int | None, typer.Option(min=0, metavar="SEQ", help="Stop after this seq.")] = None,
    until_time: UntilTimeOption = None,
    initial_balance: Annotated[
        str | None,
        typer.Option(
            "--initial-balance",
            metavar="DECIMAL",
            help="Also replay the paper wallet (spec 5) from this starting cash.",
        ),
    ] = None,
    account: Annotated[str, typer.Option("--account", help="Whose paper wallet to replay.")] = "default",
    json_output: JsonOption = False,
) -> None:
    """The state (and, with --initial-balance, the paper wallet) as of a seq or a time, from the log alone."""
    if until_seq is not None and until_time is not None:
        raise InvalidArgument("replay takes --until-seq or --until-time, not both")
    when = parse_time(until_time, "--until-time") if until_time is not None else None
    balance = None if initial_balance is None else parse_initial_balance(initial_balance)
    with opened(ctx) as ledger:
        head = ledger.head.seq
        if until_seq is not None and until_seq > head:
            raise InvalidArgument(
                f"--until-seq: the log ends at seq {head} (got {until_seq}); give a seq from 0 to {head}"
            )
        state = ledger.replay(until_seq=until_seq, until_time=when)
        wallet = (
            None
            if balance is None
            else ledger.replay_wallet(balance, account=account, until_seq=until_seq, until_time=when)
        )
    if json_output:
        shown = state_json(state, closed=True, marks={})
        emit(shown if wallet is None else {**shown, "wallet": wallet_json(account, wallet)})
    else:
        print_state(out(), state, closed=True, marks={}, title="Replay")
        if wallet is not None:
            print_wallet(out(), account, wallet)


def history(
    ctx: typer.Context,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    json_output: JsonOption = False,
) -> None:
    """The log in seq order (fills, funding, transfers), with hashes."""
    try:
        symbol_named(symbol)  # before the ledger is opened: a symbol no event can have is refused, not answered empty
    except InvalidArgument as error:
        raise InvalidArgument(f"--{error}") from None
    with opened(ctx) as ledger:  # streamed: what is held does not grow with the log (the table reads it twice)
        if json_output:
            emit_items(recorded_json(r) for r in ledger.stream_history(symbol=symbol, account=account))
        else:
            given = (("--symbol", symbol), ("--account", account))
            print_history(
                out(),
                lambda until_seq: ledger.stream_history(symbol=symbol, account=account, until_seq=until_seq),
                filters=" ".join(f"{option} {value}" for option, value in given if value is not None),
            )
