"""The lots a specific disposal names (`metadata.lots`, spec section 11) checked by the reports' own fold before the
append that holds it is written (application/lot_picks.py asks it last, inside the append transaction).

Counting what earlier disposals *named* of a lot is not enough: under `specific` a disposal that names no lots (a
sale, the base fee of any fill, a buy back of a short, an internal move, a withdrawal when withdrawals dispose) takes
the oldest lots first, and a lot it took is no longer there to name. A fill naming it, once recorded, would make every
`gains --method specific` and `lots --method specific` refuse the whole log, which only a rollback mends. So for each
(account, currency) whose lots an event of the append names, its events (in the log and in the append) are folded
under `specific` in the order they occurred (`domain.lots.LotBook`, as the reports fold them; the events of every
account of that currency when the account had an internal move of it, whose lots follow the coins), and the append is
refused when that fold refuses an event: a fill of the append, naming the lot and what is left of it then; or an
event of the log that occurred later, which the append would break (a backfilled sale that takes the lot it names).
A fill naming lots is folded as `gains` folds it by default (withdrawals do not dispose); a withdrawal naming lots as
`gains --withdrawals-dispose` folds it.

Cost, per (account, currency) an append names lots of: the fold starts where each pool was provably empty
(`_since_empty`: the events of the position open at the head, in the common case), found by a look for an internal
move of the account and a read of the pool's events from that time (two reads by account: on SQLite each a scan of
the table, as no index of the log leads with the account), and for a backfill inside an open position reads of the
pool's earlier events backwards in windows of time, each 16 times the one before, back to where it was empty (a
minute of a bot's history, not all of it); else the account's whole history is read and folded.

An append naming no lots is folded so only when one of its events occurred before the latest event of the log that
may name lots (`EventLog.lots_named_until`, kept in the head row and read with it): a backfill, which may take first
in, first out the lot a recorded disposal names (`backfilled`, for the pools of its events). The usual append (a log
naming no lots, or events that occurred after the last one naming some) reads nothing more: one comparison of times.
A pool folded only for a backfill is refused only for what the append breaks: a log `gains` refuses already is left
as it is (a pool named by the append says so, as before).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from tradeledger.application.lot_pick_moves import SPECIFIC, AccountMoves, lot_currency, named_lots, time_then_seq
from tradeledger.application.ports import EventLog
from tradeledger.application.replaying import event_at
from tradeledger.domain.fee_parts import fee_parts
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, shortened, time_shaped, time_text
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_pools import rounded_rest
from tradeledger.domain.lot_terms import NO_TAX_YEAR, ZERO, lot_picks
from tradeledger.domain.lot_transfers import internal_moves, paired_moves
from tradeledger.domain.lots import LotBook
from tradeledger.domain.markets import market
from tradeledger.domain.positions import Position, PositionKey
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidArgument, InvalidFill

_TAKES = "where a disposal naming no lots (a base fee too) takes the oldest lots first"

Pools = tuple[str, str]  # (account, currency)


def check_by_fold(
    log: EventLog,
    new: Sequence[StoredEvent],
    named: Callable[[int], str],
    moves: AccountMoves,
    open_cycle: Callable[[PositionKey], Position | None] | None = None,
    backfilled: AbstractSet[Pools] = frozenset(),
) -> None:
    """Refuse (InvalidFill naming `metadata.lots`) the append of `new` when the reports' fold under `specific` of the
    pools an event of it names lots of, or of `backfilled` (pools an event of it naming none may take the lots of,
    having occurred before an event of the log that may name some), would refuse an event (see the module's
    docstring); `named`: how a message names an event of the append (by seq); `moves`: whether an account had an
    internal move (asked once per account and append, with lot_picks.py's own checks); `open_cycle`: the open
    position of an (account, symbol) at the log's head (`_since_empty` starts from it)."""
    asked: dict[Pools, set[bool]] = {}  # per pools: the folds asked (withdrawals disposing or not)
    for event in new:
        currency = lot_currency(event)
        if currency is not None and named_lots(event) is not None:
            asked.setdefault((event.account, currency), set()).add(event.type == "transfer")
    only_backfilled = set(backfilled) - asked.keys()
    withdrawn: dict[str, str | None] = {}  # per account: its latest withdrawal, asked once however many pools
    for pools in only_backfilled:
        asked[pools] = _backfill_folds(log, new, pools, withdrawn)
    seqs = {event.seq for event in new}
    for pools, disposing in asked.items():
        for withdrawals_dispose in sorted(disposing):
            events = None
            if open_cycle is not None and not withdrawals_dispose:
                events = _since_empty(log, new, pools, open_cycle, moves)
            if events is None:
                events = _history(log, new, *pools)
            _refuse_unfolded(
                events, seqs, pools, named, withdrawals_dispose=withdrawals_dispose, broken=pools not in only_backfilled
            )


def _backfill_folds(
    log: EventLog, new: Sequence[StoredEvent], pools: Pools, withdrawn: dict[str, str | None]
) -> set[bool]:
    """The folds a backfill into `pools` asks (withdrawals disposing or not): `gains`' default, and the one where
    withdrawals dispose when the account had a withdrawal since the backfill's first event (one it takes the lot of
    may name it); `withdrawn`: the latest withdrawal of each account asked already (a read by account each)."""
    account, currency = pools
    since = min(event.occurred_at for event in new if event.account == account and lot_currency(event) == currency)
    if account not in withdrawn:
        withdrawn[account] = log.last_occurred(account, None, _TRANSFER, kinds=_WITHDRAWAL)
    latest = withdrawn[account]
    return {False, True} if latest is not None and latest >= since else {False}


_TRANSFER, _WITHDRAWAL = frozenset({"transfer"}), frozenset({"withdrawal"})


def _history(log: EventLog, new: Sequence[StoredEvent], account: str, currency: str) -> list[StoredEvent]:
    """The events of the log and of `new` that move the lots of `currency` in `account` (of every account when one of
    them is an internal move: its lots follow the coins), in the order they occurred."""
    own = [event for event in (*log.read(account=account), *new) if event.account == account]
    events = [event for event in own if lot_currency(event) == currency]
    if any(event.kind == "internal" for event in events):
        events = [event for event in (*log.read(), *new) if lot_currency(event) == currency]
    return sorted(events, key=time_then_seq)


def _since_empty(
    log: EventLog,
    new: Sequence[StoredEvent],
    pools: Pools,
    open_cycle: Callable[[PositionKey], Position | None],
    moves: AccountMoves,
) -> list[StoredEvent] | None:
    """The events of the pools of `pools` that the fills of `new` trade, from a time at which each was empty, in the
    order they occurred; None when no such time is found (the whole history is then folded).

    Without internal moves (withdrawals not disposing), a pool's lots add up to the position its fills left (in the
    order they occurred: each disposal takes from the lots, what it takes beyond them opens lots on the other side),
    so where that position is 0 the pool is empty and a fold from there is the reports' fold. The time tried is the
    earlier of the first fill of `new` in the pool and the opening of the position open at the log's head
    (`open_cycle`): the position before it is the head's less what the fills from it moved (a read of the pool's
    events from that time, not of its history). When that position is not 0 (a backfill that occurred while a
    position was open), the pool's events before that time are read backwards in windows of time until one before
    which the position was 0 (`_back_to_empty`), where the fold starts (none: the whole history)."""
    account, currency = pools
    mine = [event for event in new if event.account == account and lot_currency(event) == currency]
    if any(event.type != "fill" for event in mine) or moves.of(account):
        return None  # an internal move of the account: the lots follow the coins, the positions do not count them
    found: list[StoredEvent] = []
    for symbol in sorted({event.symbol for event in mine if event.symbol is not None}):
        part = _symbol_since_empty(log, [event for event in mine if event.symbol == symbol], open_cycle)
        if part is None:
            return None
        found += part
    return sorted(found, key=time_then_seq)


def _symbol_since_empty(
    log: EventLog, batch: Sequence[StoredEvent], open_cycle: Callable[[PositionKey], Position | None]
) -> list[StoredEvent] | None:
    """`_since_empty` for one (account, symbol), whose fills in the append are `batch`."""
    account, symbol = batch[0].account, batch[0].symbol
    assert symbol is not None
    start = min(time_then_seq(event) for event in batch)
    cycle = open_cycle((account, symbol))
    if cycle is not None:
        opened = event_at(log, cycle.opened_seq)
        if opened is None:
            return None
        start = min(start, time_then_seq(opened))
    read = log.read(account=account, symbol=symbol, occurred_from=start[0])
    later = [event for event in read if time_then_seq(event) >= start]
    with localcontext(LEDGER_CONTEXT):
        size = ZERO if cycle is None else cycle.signed_quantity
        for event in later:
            size -= _moved_size(event)
        if size != 0:  # not empty then (a backfill inside an open position): the latest time before it that was
            before, size = _back_to_empty(log, account, symbol, start, size)
            later = [*before, *later]
    return [*later, *batch] if size == 0 else None


def _back_to_empty(
    log: EventLog, account: str, symbol: str, start: tuple[str, int], size: Decimal
) -> tuple[list[StoredEvent], Decimal]:
    """The events of (account, symbol) before `start` (by time, then seq), back to the latest before which its
    position was 0, in the order they occurred, and that position (`size`: the one at `start`; not 0 when the history
    ran out first). Read backwards in windows of time, each `_GROWTH` times the one before (`_FIRST_SPAN` first), so
    a backfill on a long history reads about what it folds (at most `_GROWTH` times the span it folds, in a few
    reads), not the whole history before it; the last window has no lower bound (the rest of the history)."""
    taken: list[StoredEvent] = []  # the latest first
    upper, span = start, _FIRST_SPAN
    while size != 0:
        lower = _earlier_by(upper[0], span)
        read = log.read(account=account, symbol=symbol, occurred_from=lower, occurred_until=upper[0])
        for event in sorted((event for event in read if time_then_seq(event) < upper), key=time_then_seq)[::-1]:
            taken.append(event)
            size -= _moved_size(event)
            if size == 0:
                break
        if lower is None:
            break
        upper, span = (lower, 0), span * _GROWTH  # (lower, 0): before every event at `lower`, which this read held
    return taken[::-1], size


_FIRST_SPAN, _GROWTH = timedelta(minutes=1), 16


def _earlier_by(time: str, span: timedelta) -> str | None:
    """The stored time text `span` before `time`; None when that is before the year 1, or `time` is not a stored
    time text (an edited row: read without a lower bound)."""
    if not time_shaped(time):
        return None
    at = datetime.fromisoformat(time)
    return None if at - _YEAR_ONE <= span else time_text(at - span)


_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


def _moved_size(event: StoredEvent) -> Decimal:
    """What a spot fill moved its position's signed size by: its quantity, less its fee in the base currency."""
    if event.type != "fill" or event.quantity is None or event.symbol is None:
        return ZERO
    quantity = Decimal(event.quantity)
    moved = quantity if event.side == "buy" else -quantity
    return moved - fee_parts(event.symbol, event.fees)[2] if event.fees is not None else moved


def _fold(events: Sequence[StoredEvent], *, withdrawals_dispose: bool) -> tuple[LotBook, StoredEvent | None, str]:
    """`events` folded under `specific` as the reports fold them: the book, and the event it refused with why (None
    and "" when it refused none); the book holds the lots as they were when that event was matched."""
    book = LotBook(SPECIFIC, withdrawals_dispose=withdrawals_dispose, year=NO_TAX_YEAR, in_time_order=True)
    metadata = {event.seq: found for event in events if (found := named_lots(event)) is not None}
    kinds = {event.seq: event.kind for event in events if event.kind is not None}
    current: list[StoredEvent] = []

    def rows() -> Iterator[ExecutionRow]:
        for event in events:
            current[:] = [event]
            yield event.execution_row()

    try:
        book.apply_rows(rows(), metadata, kinds, paired_moves(internal_moves(events)))
    except (InvalidArgument, InvalidFill) as refusal:
        return book, current[0], str(refusal)
    return book, None, ""


def _refuse_unfolded(
    events: Sequence[StoredEvent],
    new: set[int],
    pools: Pools,
    named: Callable[[int], str],
    *,
    withdrawals_dispose: bool,
    broken: bool = True,
) -> None:
    """InvalidFill when the fold of `events` (those of the append at the seqs `new`) refuses an event; with `broken`
    False, not when it refuses an event of the log that the log's own fold refuses already (a backfill's pools: the
    append did not break it)."""
    book, refused, why = _fold(events, withdrawals_dispose=withdrawals_dispose)
    if refused is None:
        return
    report = "gains --method specific" + (" --withdrawals-dispose" if withdrawals_dispose else "")
    what = "fill" if refused.type == "fill" else "withdrawal"
    if refused.seq in new:
        where, given = named(refused.seq), _given(refused)
        short = _short_of(book, refused)
        if short is None:
            raise InvalidFill(f"{where}: metadata.lots: {report} would refuse the log with this {what}: {why}{given}")
        lot_seq, held, amount = short
        raise InvalidFill(
            f"{where}: metadata.lots: lot {lot_seq} has {decimal_text(held)} left in account {refused.account!r} when "
            f"this {what} is matched under specific{_disposing(withdrawals_dispose)}, {_TAKES}: "
            f"{decimal_text(amount)} cannot be taken of it{given}"
        )
    # An event of the log, which the append would break: a backfill that occurred before it takes what it names.
    mine = [event for event in events if event.seq in new]  # one at least: the one naming lots of `pools`
    earlier = [event for event in mine if time_then_seq(event) < time_then_seq(refused)]
    first = min(earlier or mine, key=lambda event: event.seq)
    where = named(first.seq)
    _, before, _ = _fold([event for event in events if event.seq not in new], withdrawals_dispose=withdrawals_dispose)
    if before is not None and before.seq == refused.seq:
        if not broken:
            return
        account, currency = pools
        raise InvalidFill(
            f"{where}: metadata.lots: the lots of {currency} in account {account!r} cannot be checked: {report} "
            f"already refuses the log at seq {refused.seq} ({why}); a rollback to before it mends the log"
        )
    short = _short_of(book, refused)
    if short is None:
        raise InvalidFill(
            f"{where}: metadata.lots: with this batch, {report} would refuse the log at seq {refused.seq}, which "
            f"occurred after this event: {why}"
        )
    lot_seq, held, amount = short
    raise InvalidFill(
        f"{where}: metadata.lots: the {what} at seq {refused.seq}, which occurred after this one, names "
        f"{decimal_text(amount)} of lot {lot_seq}; with this batch, lot {lot_seq} has {decimal_text(held)} left in "
        f"account {refused.account!r} when seq {refused.seq} is matched under specific"
        f"{_disposing(withdrawals_dispose)}, {_TAKES}"
    )


def _disposing(withdrawals_dispose: bool) -> str:
    return " (withdrawals disposing)" if withdrawals_dispose else ""


def _given(event: StoredEvent) -> str:
    """` (got ...)`: the `metadata.lots` of `event`, for a message; "" when it names none."""
    metadata = named_lots(event)
    return "" if metadata is None else f" (got {shortened(json.dumps(metadata['lots']))})"


def _short_of(book: LotBook, event: StoredEvent) -> tuple[int, Decimal, Decimal] | None:
    """The first lot `event` names of which less is open in `book` than it names, or whose rest would be rounded:
    (lot seq, what is open of it, what is named); None when every lot named is open, or it names none."""
    metadata = named_lots(event)
    if metadata is None:
        return None
    if event.type == "fill":
        assert event.symbol is not None
        assert event.quantity is not None
        traded = market(event.symbol)
        currency, quote, quantity = traded.base, traded.quote, Decimal(event.quantity)
        sign = 1 if event.side == "sell" else -1
    else:
        assert event.currency is not None
        assert event.amount is not None
        currency, quote, quantity, sign = event.currency, None, Decimal(event.fee or "0") - Decimal(event.amount), 1
    try:
        picks = lot_picks(metadata["lots"], quantity)
    except InvalidFill:
        return None
    for lot_seq, amount in picks:
        held = book.open_of(event.account, currency, quote, lot_seq, sign)
        if held < amount or rounded_rest(lot_seq, held, amount) is not None:
            return lot_seq, held, amount
    return None
