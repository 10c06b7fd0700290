"""The check of the lots a specific disposal names (`metadata.lots`, spec section 11) before it is written: at record
and import time, inside the append transaction (application/bulk.py), against the log and the batch before it.

The lots are matched in the order the events occurred (`domain.lots`), so a lot named must have occurred before the
disposal (by `occurred_at`, then seq): a fill later in the same batch that occurred earlier may be named, one that
occurred after the disposal may not. A lot an internal move carried counts in the account it was moved into, not
in the one it left, by the time the disposal occurred (`_moved`, application/lot_pick_moves.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from tradeledger.application.lot_pick_fold import Pools, check_by_fold
from tradeledger.application.lot_pick_moves import AccountMoves, lot_currency, moved_lots, named_lots
from tradeledger.application.ports import EventLog
from tradeledger.application.replaying import event_at
from tradeledger.domain.fee_parts import fee_parts
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, shortened
from tradeledger.domain.lot_pools import rounded_rest
from tradeledger.domain.lot_terms import ZERO, LotPicks, lot_picks
from tradeledger.domain.markets import market
from tradeledger.domain.positions import Position, PositionKey
from tradeledger.domain.records import StoredEvent
from tradeledger.domain.stored_rows import refuse_unreadable
from tradeledger.errors import InvalidFill


def _names_lots(event: StoredEvent) -> dict[str, Any] | None:
    """The metadata of a fill or a transfer whose metadata has `lots`, else None."""
    return named_lots(event) if event.type in _NAMING else None


_NAMING = frozenset({"fill", "transfer"})


def _add_named(used: dict[int, Decimal], later: StoredEvent, kinds: frozenset[str | None]) -> None:
    """Add to `used` what `later` (a fill, or a transfer of `kinds`) names of the lots `used` counts."""
    if later.type == "transfer" and later.kind not in kinds:
        return
    named = _names_lots(later)
    if named is None or not isinstance(named["lots"], list):
        return
    for item in named["lots"]:
        if not isinstance(item, dict):
            continue
        lot_seq = item.get("seq")
        if isinstance(lot_seq, int) and lot_seq in used and later.seq != lot_seq:
            used[lot_seq] += Decimal(str(item.get("quantity", "0")))


def _first_occurred(log: EventLog, lot_seqs: set[int], first_new: int) -> str | None:
    """The earliest `occurred_at` of the events of the log at `lot_seqs` (those before the batch, which starts at
    `first_new`: a seq past it is never looked up); None when the log holds none of them."""
    in_log = {seq for seq in lot_seqs if seq < first_new}
    return min((event.occurred_at for event in log.read(seqs=in_log)), default=None) if in_log else None


def _named_in_log(log: EventLog, account: str, symbol: str, lot_seqs: set[int], first_new: int) -> dict[int, Decimal]:
    """What the fills in the log named of each lot of `lot_seqs` (of `account` and `symbol`): one read of the history
    that occurred from the first of them, however many lots (a read per lot made a sale naming K lots read the history
    K times: 86 s for 1,000 lots of an 8,000-fill history). By time, not by seq: the lots are matched in the order the
    events occurred, so a fill recorded before a lot in the same batch may name it (`_lot_before`)."""
    used = dict.fromkeys(lot_seqs, Decimal(0))
    since = _first_occurred(log, lot_seqs, first_new)
    if since is not None:
        for later in log.read(account=account, symbol=symbol, occurred_from=since):
            _add_named(used, later, frozenset())
    return used


def _withdrawn_in_log(log: EventLog, account: str, lot_seqs: set[int], first_new: int) -> dict[int, Decimal]:
    """What the fills and withdrawals of `account` in the log named of each lot of `lot_seqs`: a withdrawal naming lots
    is checked against both (when withdrawals dispose, both take from the lots), one read of the account's history
    that occurred from the first of them."""
    used = dict.fromkeys(lot_seqs, Decimal(0))
    since = _first_occurred(log, lot_seqs, first_new)
    if since is not None:
        for later in log.read(account=account, occurred_from=since):
            _add_named(used, later, _WITHDRAWAL)
    return used


_WITHDRAWAL = frozenset({"withdrawal"})


def _lot_seqs_named(naming: Sequence[tuple[StoredEvent, dict[str, Any]]]) -> dict[tuple[str, str], set[int]]:
    """The seqs the fills of a batch name as lots, per (account, symbol): the lots whose use one read finds."""
    named: dict[tuple[str, str], set[int]] = {}
    for event, metadata in naming:
        if event.symbol is None:  # a transfer: its lots are counted from the account's history
            continue
        items = metadata["lots"] if isinstance(metadata["lots"], list) else []
        seqs = {item["seq"] for item in items if isinstance(item, dict) and type(item.get("seq")) is int}
        named.setdefault((event.account, event.symbol), set()).update(seqs)
    return named


def _lot_at(log: EventLog, seq: int) -> StoredEvent | None:
    """The log's event at `seq`, which a new fill names as its lot; a row edited behind the ledger's back into a
    value no event holds is a StorageError naming its seq and field (`domain.stored_rows`), never read as a lot
    that does not exist, is used up, or has no end."""
    lot = event_at(log, seq)
    if lot is not None:
        refuse_unreadable(lot.execution_row())
    return lot


def _held(lot: StoredEvent | None, event: StoredEvent, acquired_by: str, moved: Decimal) -> tuple[Decimal, Decimal]:
    """What `event` may take of `lot`: (what the fill acquired in its account, what internal moves carried of it into
    that account, `moved` of `_moved`, when the fill is a lot anywhere)."""
    carried = moved if _acquired(lot, event, acquired_by, anywhere=True) else ZERO
    return _acquired(lot, event, acquired_by), carried


def _acquired(lot: StoredEvent | None, event: StoredEvent, acquired_by: str, *, anywhere: bool = False) -> Decimal:
    """The most fill `lot` acquired of the lots `event` can name (long lots for a sell or a withdrawal, short ones for
    a buy; 0 when none): a fill of the same account and spot symbol (for a withdrawal: a spot symbol whose base is the
    currency withdrawn) on the side `acquired_by` acquires its quantity, and its base fee acquires too on either side
    (spec section 9: a base rebate is coins acquired at the fill price, so long; a base fee is a disposal at the fill
    price, which grows a short). Whether the fill's whole quantity opened a lot (a buy may close short lots first), and
    what disposals naming no lots took of it, the reports' fold says (`lot_pick_fold`, asked last). With
    `anywhere`, a fill of any account: a lot an internal move may have carried into the account of `event`
    (`_moved`)."""
    if lot is None or lot.type != "fill" or (lot.account != event.account and not anywhere) or lot.symbol is None:
        return Decimal(0)
    if event.symbol is None:  # a withdrawal: a lot of the currency it takes
        traded = market(lot.symbol)
        if traded.settle is not None or traded.base != event.currency:
            return Decimal(0)
    elif lot.symbol != event.symbol:
        return Decimal(0)
    assert lot.quantity is not None
    assert lot.symbol is not None
    base_fee = Decimal(0) if lot.fees is None else fee_parts(lot.symbol, lot.fees)[2]
    by_fee = max(-base_fee if acquired_by == "buy" else base_fee, Decimal(0))
    return (Decimal(lot.quantity) if lot.side == acquired_by else Decimal(0)) + by_fee


def check_lot_picks(
    log: EventLog,
    new: Sequence[StoredEvent],
    named: Callable[[int], str],
    open_cycle: Callable[[PositionKey], Position | None] | None = None,
) -> None:
    """Refuse (InvalidFill naming `metadata.lots` and its value) a new fill whose `metadata.lots` is not a
    list of lots summing to its quantity, or names a lot that is no acquisition before it of the same
    account and spot symbol (a buy for a sell, a short sale for a buy; before it in the order the lots are matched,
    by `occurred_at` then seq: a lot later in its batch that occurred earlier is one), or more of a lot than is
    left; and a new
    transfer naming lots unless it is a withdrawal naming lots of its currency (`_withdrawal_picks`).

    At record time a lot is used up when the quantity of the fill that acquired it (in the disposal's account; plus
    what internal moves brought into that account less what they took out, by the disposal's time), minus what other
    specific disposals (in the log, then earlier in the batch) named of it, is less than what is named.
    That is all the log can say before a report: which lots are open when a disposal is matched also
    depends on the methods of the earlier years, which are arguments, so `gains` checks it again. A withdrawal
    disposes only when a report asks: what it named is counted for later withdrawals, never for a fill.
    Last, the reports' own fold of the lots named (`lot_pick_fold.check_by_fold`; `open_cycle`: the open position
    of an (account, symbol) at the log's head, from where that fold may start), and of the lots an event naming none
    may take when it occurred before the log's latest event naming lots (`_backfilled`: a sale backfilled before a
    recorded sale naming the lot it takes first in, first out is refused, naming that sale and lot).
    """
    naming = [(event, metadata) for event in new if (metadata := _names_lots(event)) is not None]
    backfilled = _backfilled(log, new)
    if not naming:  # the usual append: no fill names lots, and none of its events occurred before one that does
        if backfilled:
            with localcontext(LEDGER_CONTEXT):
                check_by_fold(log, new, named, AccountMoves(log, new), open_cycle, backfilled)
        return
    batch = {event.seq: event for event in new}
    named_seqs = _lot_seqs_named(naming)
    used: dict[tuple[str, str], dict[int, Decimal]] = {}  # per (account, symbol): what fills named of each lot
    # Per account, what fills and withdrawals named of each lot: in the log, and earlier in the batch.
    withdrawn: dict[str, dict[int, Decimal]] = {}
    in_batch: dict[str, dict[int, Decimal]] = {}
    moves = AccountMoves(log, new)
    with localcontext(LEDGER_CONTEXT):
        for event, metadata in naming:
            where = named(event.seq)
            if event.type == "transfer":
                picks = _withdrawal_picks(log, event, metadata, batch, where, (withdrawn, in_batch), moves)
            else:
                picks = _fill_picks(log, event, metadata, batch, where, (used, named_seqs), moves)
            named_of = in_batch.setdefault(event.account, {})
            for lot_seq, amount in picks:
                named_of[lot_seq] = named_of.get(lot_seq, Decimal(0)) + amount
        # What disposals naming no lots took first in, first out: the reports' own fold of the pools named.
        check_by_fold(log, new, named, moves, open_cycle, backfilled)


def _backfilled(log: EventLog, new: Sequence[StoredEvent]) -> set[Pools]:
    """The pools (account, currency) whose lots an event of `new` may take first in, first out, when it occurred
    before the latest event of the log that may name lots (`EventLog.lots_named_until`, read with the head): a
    backfill, which may take a lot that event names. None for the usual append: its log names no lots, or it
    occurred after the last event naming some (one comparison of its time)."""
    until = log.lots_named_until()
    if until is None:
        return set()
    return {
        (event.account, currency)
        for event in new
        if event.occurred_at < until and (currency := lot_currency(event)) is not None
    }


def _lot_before(log: EventLog, event: StoredEvent, batch: dict[int, StoredEvent], lot_seq: int) -> StoredEvent | None:
    """The event at `lot_seq`, which `event` names as a lot: one in the log, or in its batch (a later seq of the batch
    may have occurred before it, a backfill: `_refuse_later` asks); None for its own seq, and for a seq past the batch,
    never looked up (past the database's integers, the lookup itself would fail)."""
    if lot_seq == event.seq:
        return None
    if lot_seq in batch:
        return batch[lot_seq]
    return None if lot_seq > event.seq else _lot_at(log, lot_seq)


def _refuse_later(where: str, given: str, lot: StoredEvent, event: StoredEvent) -> None:
    """InvalidFill unless `lot` occurred before the disposal `event` (by `occurred_at`, then seq): a disposal is
    matched against the lots held when it occurred (spec section 11)."""
    if (lot.occurred_at, lot.seq) < (event.occurred_at, event.seq):
        return
    lot_at, event_at = (datetime.fromisoformat(text).isoformat() for text in (lot.occurred_at, event.occurred_at))
    what = "fill" if event.type == "fill" else "withdrawal"
    when = (
        f"after this {what}"
        if lot.occurred_at > event.occurred_at
        else f"at the time of this {what}, recorded after it"
    )
    raise InvalidFill(
        f"{where}: metadata.lots: lot {lot.seq} occurred at {lot_at}, {when} ({event_at}); a disposal is matched "
        f"against the lots held when it occurred (got {given})"
    )


def _fill_picks(
    log: EventLog,
    event: StoredEvent,
    metadata: dict[str, Any],
    batch: dict[int, StoredEvent],
    where: str,
    counts: tuple[dict[tuple[str, str], dict[int, Decimal]], dict[tuple[str, str], set[int]]],
    moves: AccountMoves,
) -> LotPicks:
    """The lots a new fill names, checked (see `check_lot_picks`); `counts`: what fills named of each lot per
    (account, symbol), in the log and earlier in the batch, and the lots the batch names (one read finds them)."""
    given = shortened(json.dumps(metadata["lots"]))
    assert event.quantity is not None
    assert event.symbol is not None
    try:
        picks = lot_picks(metadata["lots"], Decimal(event.quantity))
    except InvalidFill as error:
        raise InvalidFill(f"{where}: {error}") from None
    if market(event.symbol).settle is not None:
        raise InvalidFill(
            f"{where}: metadata.lots: {event.symbol} is a contract; contracts have positions, not lots (got {given})"
        )
    used, named_seqs = counts
    acquired_by = "sell" if event.side == "buy" else "buy"
    lots = {lot_seq: _lot_before(log, event, batch, lot_seq) for lot_seq, _ in picks}
    moved = _moved(log, event, batch, lots, where, moves) if acquired_by == "buy" else {}  # moves carry long lots
    for lot_seq, amount in picks:
        lot = lots[lot_seq]
        acquired, carried = _held(lot, event, acquired_by, moved.get(lot_seq, ZERO))
        if not acquired and carried <= 0:
            fee = "rebate" if acquired_by == "buy" else "fee"
            raise InvalidFill(
                f"{where}: metadata.lots: lot {lot_seq} does not exist: no {acquired_by} of {event.symbol} in "
                f"account {event.account!r}, nor a fill of it with a base {fee}, was recorded at seq {lot_seq} "
                f"before this fill (got {given})"
            )
        assert lot is not None
        _refuse_later(where, given, lot, event)
        key = (event.account, event.symbol)
        if key not in used:
            used[key] = _named_in_log(log, *key, named_seqs[key], min(batch))
        _refuse_overdrawn(where, given, lot_seq, (acquired, carried), used[key][lot_seq], amount, event)
        used[key][lot_seq] += amount
    return picks


def _withdrawal_picks(
    log: EventLog,
    event: StoredEvent,
    metadata: dict[str, Any],
    batch: dict[int, StoredEvent],
    where: str,
    counts: tuple[dict[str, dict[int, Decimal]], dict[str, dict[int, Decimal]]],
    moves: AccountMoves,
) -> LotPicks:
    """The lots a new transfer names, checked (InvalidFill naming `metadata.lots` otherwise): only a withdrawal
    disposes of lots; what it names sums to its amount and fee, each lot a long lot of its currency in its account
    acquired before it, not used up by what earlier fills and withdrawals named of it (`counts`: per account, what
    the log named, what the batch named before it)."""
    given = shortened(json.dumps(metadata["lots"]))
    if event.kind != "withdrawal":
        what = "an internal move" if event.kind == "internal" else f"a {event.kind}"
        raise InvalidFill(
            f"{where}: metadata.lots: {what} disposes of no lots; only a withdrawal names the lots it takes "
            f"(got {given})"
        )
    assert event.amount is not None
    quantity = Decimal(event.fee or "0") - Decimal(event.amount)
    try:
        picks = lot_picks(metadata["lots"], quantity)
    except InvalidFill as error:
        raise InvalidFill(f"{where}: {error}") from None
    acquired: dict[int, Decimal] = {}
    lots = {lot_seq: _lot_before(log, event, batch, lot_seq) for lot_seq, _ in picks}
    moved = _moved(log, event, batch, lots, where, moves)
    carried: dict[int, Decimal] = {}
    for lot_seq, _ in picks:
        lot = lots[lot_seq]
        acquired[lot_seq], carried[lot_seq] = _held(lot, event, "buy", moved.get(lot_seq, ZERO))
        if not acquired[lot_seq] and carried[lot_seq] <= 0:
            raise InvalidFill(
                f"{where}: metadata.lots: lot {lot_seq} does not exist: no buy of {event.currency} in account "
                f"{event.account!r}, nor a fill with a base rebate of it, was recorded at seq {lot_seq} before this "
                f"withdrawal (got {given})"
            )
        assert lot is not None
        _refuse_later(where, given, lot, event)
    in_log, in_batch = counts
    if not acquired.keys() <= in_log.get(event.account, {}).keys():
        seqs = {*acquired, *in_log.get(event.account, {})}
        in_log[event.account] = _withdrawn_in_log(log, event.account, seqs, min(batch))
    for lot_seq, amount in picks:
        named_before = in_log[event.account][lot_seq] + in_batch.get(event.account, {}).get(lot_seq, Decimal(0))
        _refuse_overdrawn(where, given, lot_seq, (acquired[lot_seq], carried[lot_seq]), named_before, amount, event)
    return picks


def _refuse_overdrawn(
    where: str,
    given: object,
    lot_seq: int,
    held: tuple[Decimal, Decimal],
    named: Decimal,
    amount: Decimal,
    event: StoredEvent,
) -> None:
    """InvalidFill when `amount` of lot `lot_seq` is more than what it acquired in the account of the disposal `event`
    plus what internal moves carried into it less what they took out (`held`), less what earlier disposals `named`, or
    would leave a rest that rounds (`where`, `given`: the disposal and its metadata.lots, for the message)."""
    acquired, carried = held
    left = acquired + carried - named
    if amount > left and not carried:
        raise InvalidFill(
            f"{where}: metadata.lots: lot {lot_seq} is used up: it acquired {decimal_text(acquired)}, earlier "
            f"disposals named {decimal_text(named)}, {decimal_text(max(left, Decimal(0)))} is left (got {given})"
        )
    if amount > left:
        what = "fill" if event.type == "fill" else "withdrawal"
        moves = (
            f"internal moves brought {decimal_text(carried)} of it into the account"
            if carried > 0
            else f"internal moves took {decimal_text(-carried)} of it out of the account"
        )
        raise InvalidFill(
            f"{where}: metadata.lots: lot {lot_seq} has {decimal_text(max(left, Decimal(0)))} open in account "
            f"{event.account!r} when this {what} occurred: it acquired {decimal_text(acquired)} there, {moves}, "
            f"earlier disposals named {decimal_text(named)} (got {given})"
        )
    rounded = rounded_rest(lot_seq, left, amount)
    if rounded is not None:
        raise InvalidFill(f"{where}: {rounded} (got {given})")


def _moved(
    log: EventLog,
    event: StoredEvent,
    batch: dict[int, StoredEvent],
    lots: dict[int, StoredEvent | None],
    where: str,
    moves: AccountMoves,
) -> dict[int, Decimal]:
    """Per lot `event` names (`lots`, by seq), what internal moves carried into its account less what they took out
    by the time it occurred (`lot_pick_moves.moved_lots`); nothing to look at when none of the lots exists, or when
    the account never had an internal move."""
    since = min((lot.occurred_at for lot in lots.values() if lot is not None), default=None)
    if since is None or not moves.of(event.account):
        return {}
    return moved_lots(log, event, list(batch.values()), since, where)
