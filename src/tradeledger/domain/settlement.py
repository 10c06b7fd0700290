"""A dated future's expiry: the settlement that closes what is open of it, and the fills its expiry rules out.

When a dated future (`BASE/QUOTE:SETTLE-YYMMDD`, `markets.Market.expiry`) expires, the exchange closes what is
open of it at its settlement (delivery) price, sometimes taking a delivery fee. The ledger books that as a fill:
the opposite side for the whole open quantity at the settlement price, with its fees, marked `{"settlement":
true}` in its metadata and named by the deterministic id `settlement:SYMBOL` (a contract settles once per account:
positions net across an account's exchanges, so the settlement, stored under the exchange it was settled on, ends
the contract in the account on every exchange). Being a fill, it closes the position, books its realized PnL and
moves the settle currency's balance as any closing fill does: the event model, the hash chain and every fold take
it as they are.

The time of day a contract expires varies by exchange, so its expiry *day* (UTC) is the bound: a fill or a funding
payment on a dated contract that occurred after the end of that day is refused when it is recorded
(`refuse_past_expiry`, inside the append, new events only: a log holding such an event from before this check still
folds, verifies and replays), and a settlement must occur on that day.

A fill marked as a settlement is held to what record-settlement writes whoever records it (`record`, a batch, an
import): `settlement_refusal`, asked by the append's fold just before it folds the settlement (so the position is the
log's with the batch's earlier events): the id `settlement:SYMBOL`, no fee in the base currency (whose fee-free
disposal after the fill would open the position again), the opposite side of the open position for its whole
quantity, and no earlier than every fill of the contract in the account (`early_settlement_refusal`: the
settlement ends the contract; read in time order, it would otherwise close what was open then and leave the later
fill to open a position again; funding of the contract likewise). And once a contract's settlement is in the log,
a later fill or funding payment on it in that account, on any exchange, is refused (`refuse_after_settlement`): a
fill would leave a position no settlement could close (the id is taken), funding would count in no cycle; so is
funding that occurred after a settlement later in its batch. The settlement is rolled back, the event recorded and
the contract settled again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, Inexact, localcontext
from functools import lru_cache
from typing import Any

from tradeledger.domain.events import Funding, Transfer
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill, Side, decimal_text, parsed_fees
from tradeledger.domain.markets import market
from tradeledger.domain.positions import Position, PositionSide
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidArgument, InvalidFill

SETTLEMENT = "settlement"  # the metadata key that marks a fill as a dated future's settlement
_MARKED = '"settlement":true'  # how it reads in a stored (canonical) metadata text


def settlement_id(symbol: str) -> str:
    """The fill id of a contract's settlement: one per account and contract (stored under the exchange it was settled
    on), whoever records it."""
    return f"{SETTLEMENT}:{symbol}"


@lru_cache(maxsize=4096)
def expiry_day(symbol: str) -> date | None:
    """The UTC day a dated future expires (its YYMMDD, in this century as ccxt writes it: 991231 is 2099-12-31, not
    the 1999 strptime's %y reads), None for any other market."""
    expiry = market(symbol).expiry
    if expiry is None:
        return None
    return date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))


@lru_cache(maxsize=4096)
def _last_day_text(symbol: str) -> str | None:
    """`expiry_day` as the first 10 characters of a canonical time text (YYYY-MM-DD): text order is time order."""
    day = expiry_day(symbol)
    return None if day is None else day.isoformat()


def settlement_key(account: str, symbol: str) -> tuple[str, str]:
    """(account, id): the settlement of `symbol` in `account`, stored under the exchange it was settled on (positions
    net across an account's exchanges, so a contract settles once per account: EventLog.find_anywhere finds it)."""
    return (account, settlement_id(symbol))


def watched_settlements(contents: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """The keys (`settlement_key`) of the settlements that the fills (but the settlements among them) and funding
    payments of `contents` (canonical fields) on a dated future must not follow (`refuse_after_settlement`)."""
    return {
        settlement_key(content["account"], content["symbol"])
        for content in contents
        if content["type"] in _ON_A_CONTRACT
        and ":" in content["symbol"]  # a contract: spot has no expiry, and most fills are spot
        and _last_day_text(content["symbol"])
        and not _stored_settlement(content["metadata"])
    }


def watched_settlements_of(events: Iterable[Fill | Funding | Transfer]) -> list[tuple[str, str]]:
    """`watched_settlements` of validated events (what an append of them reads ahead), each once."""
    return list(
        dict.fromkeys(
            settlement_key(event.account, event.symbol)
            for event in events
            for event in events
            if not isinstance(event, Transfer)
            and _last_day_text(event.symbol)
            and not (isinstance(event, Fill) and is_settlement(event.metadata))
        )
    )


def first_settlements(found: Iterable[StoredEvent]) -> dict[tuple[str, str], StoredEvent]:
    """The first settlement (fill marked so) of each account and contract among `found` (in seq order), by
    `settlement_key`: what `refuse_after_settlement` holds new events to."""
    first: dict[tuple[str, str], StoredEvent] = {}
    for event in found:
        if is_stored_settlement(event):
            first.setdefault((event.account, str(event.fill_id)), event)
    return first


def refuse_after_settlement(
    events: Sequence[StoredEvent],
    settled: Mapping[tuple[str, str], StoredEvent],
    *,
    start: int,
    named: Callable[[int], str],
) -> None:
    """InvalidFill for the first new fill or funding payment on a dated future (`named(seq)` says which) that follows
    its contract's settlement in its account, on any of its exchanges: `settled` holds the first settlement under
    each key `watched_settlements` names (the log's, seq up to `start`, or this batch's). The settlement closed what was
    open; a fill after it would leave a position that no settlement can close (its id is taken), funding after it
    would count in no cycle: roll the settlement back first. Funding follows a settlement also when it occurred
    after it (a settlement later in its batch: read in time order, as the reports read the log, it comes after)."""
    for event in events:
        if event.type not in _ON_A_CONTRACT or event.symbol is None or _last_day_text(event.symbol) is None:
            continue
        found = settled.get(settlement_key(event.account, event.symbol))
        if found is None or found.seq == event.seq:
            continue
        what = "a fill" if event.type == "fill" else "funding"
        advice = f"{what} after its settlement is refused: roll the settlement back, record the {event.type}, then "
        if found.seq < event.seq:
            where = f"at seq {found.seq}" if found.seq <= start else "earlier in this batch"
            raise InvalidFill(
                f"{named(event.seq)}: symbol: account {event.account!r} settled {event.symbol} on {found.exchange!r} "
                f"{where}; {advice}settle again (got {event.symbol})"
            )
        if event.type == "funding" and event.occurred_at > found.occurred_at:  # the settlement later in the batch
            raise InvalidFill(
                f"{named(event.seq)}: occurred_at: account {event.account!r} settles {event.symbol} on "
                f"{found.exchange!r} at {found.occurred_at} later in this batch; {advice}settle again "
                f"(got {event.occurred_at})"
            )


def is_settlement(metadata: Mapping[str, Any] | None) -> bool:
    """Whether a fill's metadata marks it as a settlement (`settlement` is JSON true, nothing else)."""
    return metadata is not None and metadata.get(SETTLEMENT) is True


def _stored_settlement(metadata: str | None) -> bool:
    if metadata is None or _MARKED not in metadata:  # the usual fill: no JSON read
        return False
    found = json.loads(metadata)
    return isinstance(found, dict) and is_settlement(found)


def refuse_past_expiry(events: Sequence[StoredEvent], *, named: Callable[[int], str]) -> None:
    """InvalidFill for the first new event (`named(seq)` says which) that its contract's expiry rules out: a fill or
    a funding payment on a dated future that occurred after the end of its expiry day (UTC), or a settlement that is
    not on a dated future's expiry day. Checked when events are recorded, never on the log's events."""
    for event in events:
        if event.symbol is None or event.type not in _ON_A_CONTRACT:
            continue
        last_day = _last_day_text(event.symbol)
        settles = event.type == "fill" and _stored_settlement(event.metadata)
        day = event.occurred_at[:10]
        if settles and (last_day is None or day != last_day):
            raise InvalidFill(f"{named(event.seq)}: {_settlement_refusal(event.symbol, event.occurred_at, last_day)}")
        if last_day is not None and not settles and day > last_day:
            raise InvalidFill(f"{named(event.seq)}: {_expired_refusal(event)}")


_ON_A_CONTRACT = frozenset(("fill", "funding"))  # the event types that name a contract (a transfer names none)


def _expired_refusal(event: StoredEvent) -> str:
    symbol = str(event.symbol)
    start = f"occurred_at: {symbol} expired on {_last_day_text(symbol)} (its expiry {market(symbol).expiry}); "
    if event.type == "funding":
        return f"{start}funding after the end of its expiry day (UTC) is refused (got {event.occurred_at})"
    return (
        f"{start}a fill after the end of its expiry day (UTC) is refused: the exchange settled it, book that with "
        f"record-settlement (got {event.occurred_at})"
    )


def is_stored_settlement(event: StoredEvent) -> bool:
    """Whether a stored event is a fill marked as a settlement (a substring test for the usual one: no JSON read)."""
    return event.type == "fill" and _stored_settlement(event.metadata)


def settlement_refusal(event: StoredEvent, position: Position | None) -> str | None:
    """Why the new settlement `event` is not the fill record-settlement writes for `position`, the open position of
    its account and contract just before it (None: flat), and so refused; None when it is that fill. It is named
    `settlement:SYMBOL`; it has no fee in the base currency, whose fee-free disposal after the fill would open the
    position again; it is the opposite side of `position` for its whole quantity."""
    symbol = str(event.symbol)
    if event.fill_id != settlement_id(symbol):
        return (
            f"fill_id: a settlement of {symbol} is named {settlement_id(symbol)} (one per account, whoever records "
            f"it) (got {event.fill_id!r})"
        )
    traded = market(symbol)
    for index, (currency, _, _) in enumerate(parsed_fees(event.fees or "[]")):
        if currency == traded.base:
            return (
                f"fees[{index}].currency: a settlement closes the position whole; a fee in its base currency "
                f"{currency} (a disposal after the fill) would open it again: give the delivery fee in "
                f"{traded.settle} (got {currency!r})"
            )
    whole = f"a settlement closes the whole open position of {symbol} in account {event.account!r}"
    if position is None:
        return (
            f"metadata.settlement: {whole}; none is open (got a {event.side} of {event.quantity} marked settlement: "
            "true)"
        )
    closing = "sell" if position.side is PositionSide.LONG else "buy"
    open_text = (
        f"({position.side.value} {decimal_text(position.quantity)}: a {closing} of {decimal_text(position.quantity)})"
    )
    if event.side != closing:
        return f"side: {whole} {open_text} (got {event.side})"
    if Decimal(str(event.quantity)) != position.quantity:
        return f"quantity: {whole} {open_text} (got {event.quantity})"
    return None


def early_settlement_refusal(event: StoredEvent, later: StoredEvent, *, in_log: bool) -> str:
    """Why the new settlement `event` is refused when `later`, a fill of its account and contract before it in the log
    (`in_log`) or in its batch, occurred after it: the settlement ends the contract, so a read of the log in time
    order would see it close what was open then and the later fill open or close what remained."""
    if later.type == "funding":
        every = "every fill and funding payment of it"
        which = f"funding at seq {later.seq}" if in_log else "funding earlier in this batch"
    else:
        every = "every fill of it"
        which = f"seq {later.seq}" if in_log else "a fill earlier in this batch"
    return (
        f"occurred_at: the settlement of {event.symbol} in account {event.account!r} occurs after {every}; "
        f"{which} occurred at {later.occurred_at} (got {event.occurred_at})"
    )


def _settlement_refusal(symbol: str, occurred_at: str, last_day: str | None) -> str:
    if last_day is None:
        return (
            f"metadata.settlement: only a dated future (BASE/QUOTE:SETTLE-YYMMDD) settles at an expiry; {symbol} has "
            "none (got true)"
        )
    return f"occurred_at: the settlement of {symbol} occurs on its expiry day {last_day} (UTC) (got {occurred_at})"


def settlement_fields(
    position: Position,
    *,
    exchange: str,
    price: Decimal,
    occurred_at: datetime,
    fees: Sequence[Mapping[str, Any]] = (),
    fee_rate: Decimal | None = None,
) -> dict[str, Any]:
    """The fill that settles the open `position` of a dated future: the opposite side for its whole quantity at
    `price`, with `fees`, or a fee of `fee_rate` of its value (quantity * price, in the settle currency); see
    `closing_fields`."""
    side = Side.SELL if position.side is PositionSide.LONG else Side.BUY
    closed = (position.account, position.symbol, side, position.quantity)
    return closing_fields(closed, exchange=exchange, price=price, occurred_at=occurred_at, fees=fees, fee_rate=fee_rate)


def closing_fields(
    closed: tuple[str, str, Side, Decimal],
    *,
    exchange: str,
    price: Decimal,
    occurred_at: datetime,
    fees: Sequence[Mapping[str, Any]] = (),
    fee_rate: Decimal | None = None,
) -> dict[str, Any]:
    """The settlement fill of (account, symbol, its side, its quantity) `closed`; InvalidArgument when the contract is
    not dated, both fees and a rate are given or the rate's fee would round. The fill's own rules (a price above 0,
    exact amounts, the expiry day) are checked when it is recorded."""
    account, symbol, side, quantity = closed
    traded = market(symbol)
    if traded.expiry is None:
        raise InvalidArgument(
            f"symbol: only a dated future (BASE/QUOTE:SETTLE-YYMMDD) settles at an expiry (got {symbol!r})"
        )
    if fee_rate is not None and fees:
        raise InvalidArgument("fee_rate: give the delivery fee as fees or as a rate of the value, not both")
    if fee_rate is not None:
        if not fee_rate.is_finite():
            raise InvalidArgument(f"fee_rate: must be a finite number (got {fee_rate})")
        with localcontext(LEDGER_CONTEXT) as exact:
            exact.traps[Inexact] = True
            try:
                fee = fee_rate * quantity * price
            except Inexact:
                raise InvalidArgument(
                    f"fee_rate: {fee_rate} of {quantity} * {price} needs more than 28 digits; give the fee "
                    "the exchange charged as fees"
                ) from None
        fees = [{"amount": fee, "currency": traded.quote}]
    return {
        "fill_id": settlement_id(symbol),
        "account": account,
        "exchange": exchange,
        "symbol": symbol,
        "side": side.value,
        "quantity": quantity,
        "price": price,
        "fees": list(fees),
        "occurred_at": occurred_at,
        "metadata": {SETTLEMENT: True},
    }
