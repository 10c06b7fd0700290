"""Tax lots over the log (spec section 11): gains for a tax year, the open lots, and the check of the lots a
specific disposal names before it is written.

The lots are computed on demand from the log, never stored: their matching depends on arguments (the
method of each tax year, fees in the basis or not, withdrawals disposing or not) that a single stored
projection could not hold, and a method chosen for a later year must never change an earlier year's
matches, so each report folds the log again from its start (`domain.lots.LotBook`, in seq order).
The fold reads the log's stored text rows as a rebuild of the positions does (scripts/bench.py holds
it to at most twice a rebuild); the metadata and the transfers' kinds are read only when a `specific`
year or `withdrawals_dispose` needs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from tradeledger.application.collector import cycle_collector_paused
from tradeledger.application.ports import EventLog, Transaction
from tradeledger.application.replaying import event_at, refused_until
from tradeledger.domain.fee_parts import fee_parts
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, shortened
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_pools import rounded_rest
from tradeledger.domain.lot_terms import (
    LONG_AFTER_DAYS,
    NO_TAX_YEAR,
    GainRow,
    GainTotals,
    LotPicks,
    Method,
    MethodPlan,
    MissingAcquisition,
    OpenLot,
    lot_picks,
    totals_of,
)
from tradeledger.domain.lots import LotBook
from tradeledger.domain.markets import market
from tradeledger.domain.records import StoredEvent
from tradeledger.domain.stored_rows import refuse_unreadable
from tradeledger.errors import InvalidFill


@dataclass(frozen=True, slots=True)
class LotOptions:
    """How the lots are matched and what a report covers (every field an argument, never stored)."""

    plan: MethodPlan
    account: str | None = None
    quote: str | None = None
    fees_in_basis: bool = True
    withdrawals_dispose: bool = False
    long_after_days: int = LONG_AFTER_DAYS


@dataclass(frozen=True, slots=True)
class GainsReport:
    """The matched parts and missing acquisitions of the disposals of `year` (every year when None)."""

    seq: int
    plan: MethodPlan
    year: int | None
    rows: tuple[GainRow, ...]
    missing: tuple[MissingAcquisition, ...]
    totals: GainTotals
    years: tuple[int, ...]  # the tax years with a disposal, and those the plan names

    def methods(self) -> dict[str, str]:
        """{year: method} for every year of `years`."""
        return {str(year): self.plan.method_of(year).value for year in self.years}


@dataclass(frozen=True, slots=True)
class LotsReport:
    """The lots open after the events up to `seq` (those that occurred at or before the time asked)."""

    seq: int
    plan: MethodPlan
    lots: tuple[OpenLot, ...]
    years: tuple[int, ...]

    def method(self) -> str | dict[str, str]:
        """The one method of every year, or {year: method} when the plan changes by year."""
        if len(self.plan.years) == 1:
            return self.plan.years[0][1].value
        return {str(year): self.plan.method_of(year).value for year in self.years}


def method_plan(method: str | Sequence[str] | MethodPlan) -> MethodPlan:
    """The plan of methods a caller names: one method, methods by year (["fifo", "2025=hifo"]), or a plan."""
    if isinstance(method, MethodPlan):
        return method
    return MethodPlan.parse([method] if isinstance(method, str) else list(method))


def _rows_with_extras(
    tx: Transaction, account: str | None, until_time: str | None, metadata: dict[int, Any], kinds: dict[int, str]
) -> Iterator[ExecutionRow]:
    """The log's rows, collecting the metadata of fills that name lots and the kind of each transfer on the way."""
    for event in tx.log.read(account=account):
        if until_time is not None and event.occurred_at > until_time:
            continue
        if event.metadata is not None and '"lots"' in event.metadata:
            found = json.loads(event.metadata)
            if isinstance(found, dict) and "lots" in found:
                metadata[event.seq] = found
        if event.kind is not None:
            kinds[event.seq] = event.kind
        yield event.execution_row()


def _plain_rows(tx: Transaction, account: str | None, until_time: str | None) -> Iterator[ExecutionRow]:
    rows = tx.log.rows(until_time=until_time)
    if account is None:  # the stored rows as the driver streams them: no step of ours between
        return rows
    return (row for row in rows if row[1] == account)


def _fold(tx: Transaction, options: LotOptions, *, year: int | None, until_time: str | None) -> LotBook:
    """The lots folded from the log (of one account when asked); `last_seq` the last event folded."""
    book = LotBook(
        options.plan,
        fees_in_basis=options.fees_in_basis,
        withdrawals_dispose=options.withdrawals_dispose,
        long_after_days=options.long_after_days,
        year=year,
    )
    try:
        if Method.SPECIFIC in options.plan.uses or options.withdrawals_dispose:
            metadata: dict[int, Any] = {}
            kinds: dict[int, str] = {}
            book.apply_rows(_rows_with_extras(tx, options.account, until_time, metadata, kinds), metadata, kinds)
        else:
            book.apply_rows(_plain_rows(tx, options.account, until_time))
    except InvalidFill as refusal:
        if until_time is None:  # every prefix of the log folds: each event was checked after those before it
            raise
        raise refused_until(tx, until_time, refusal, after_seq=book.last_seq, account=options.account) from None
    return book


def _seq(tx: Transaction, until_time: str | None, folded: int) -> int:
    """The seq a report is as of: the head, or with a time bound the last event folded."""
    return tx.log.head().seq if until_time is None else folded


def _quote(options: LotOptions, quote: str) -> bool:
    return options.quote is None or quote == options.quote


def gains_of(tx: Transaction, options: LotOptions, *, year: int | None) -> GainsReport:
    """The gains of `year`'s disposals (every year's when None), matched by each year's method."""
    with cycle_collector_paused():
        book = _fold(tx, options, year=year, until_time=None)
        quote = options.quote
        rows = tuple(book.rows if quote is None else (row for row in book.rows if row.quote == quote))
    missing = tuple(item for item in book.missing if _quote(options, item.quote) or not item.quote)
    years = tuple(sorted(book.years | set(options.plan.explicit)))
    return GainsReport(tx.log.head().seq, options.plan, year, rows, missing, totals_of(rows), years)


def open_lots_of(tx: Transaction, options: LotOptions, *, until_time: str | None) -> LotsReport:
    """The open lots after the events that occurred at or before `until_time` (all when None)."""
    with cycle_collector_paused():
        book = _fold(tx, options, year=NO_TAX_YEAR, until_time=until_time)  # no gain rows: the open lots need none
    lots = tuple(lot for lot in book.open_lots() if _quote(options, lot.quote))
    years = tuple(sorted(book.years | set(options.plan.explicit)))
    return LotsReport(_seq(tx, until_time, book.last_seq), options.plan, lots, years)


# --- the check at record and import time ----------------------------------------------------------


def _names_lots(event: StoredEvent) -> dict[str, Any] | None:
    """The metadata of a fill or a transfer whose metadata has `lots`, else None."""
    if event.type not in _NAMING or event.metadata is None or '"lots"' not in event.metadata:
        return None
    found = json.loads(event.metadata)
    return found if isinstance(found, dict) and "lots" in found else None


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
        if isinstance(lot_seq, int) and lot_seq in used and later.seq > lot_seq:
            used[lot_seq] += Decimal(str(item.get("quantity", "0")))


def _named_in_log(log: EventLog, account: str, symbol: str, lot_seqs: set[int]) -> dict[int, Decimal]:
    """What the fills in the log after each lot of `lot_seqs` (of `account` and `symbol`) named of it: one read
    of the history from the first of them, however many lots (a read per lot made a sale naming K lots read
    the history K times: 86 s for 1,000 lots of an 8,000-fill history)."""
    used = dict.fromkeys(lot_seqs, Decimal(0))
    for later in log.read(after_seq=min(lot_seqs), account=account, symbol=symbol):
        _add_named(used, later, frozenset())
    return used


def _withdrawn_in_log(log: EventLog, account: str, lot_seqs: set[int]) -> dict[int, Decimal]:
    """What the fills and withdrawals of `account` in the log after each lot of `lot_seqs` named of it: a withdrawal
    naming lots is checked against both (when withdrawals dispose, both take from the lots), one read of the
    account's history from the first of them."""
    used = dict.fromkeys(lot_seqs, Decimal(0))
    for later in log.read(after_seq=min(lot_seqs), account=account):
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


def _acquired(lot: StoredEvent | None, event: StoredEvent, acquired_by: str) -> Decimal:
    """The most fill `lot` acquired of the lots `event` can name (long lots for a sell or a withdrawal, short ones for
    a buy; 0 when none): a fill of the same account and spot symbol (for a withdrawal: a spot symbol whose base is the
    currency withdrawn) on the side `acquired_by` acquires its quantity, and its base fee acquires too on either side
    (spec section 9: a base rebate is coins acquired at the fill price, so long; a base fee is a disposal at the fill
    price, which grows a short). Whether the fill's whole quantity opened a lot (a buy may close short lots first) is
    for the report to say, which matches by the methods asked."""
    if lot is None or lot.type != "fill" or lot.account != event.account or lot.symbol is None:
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


def check_lot_picks(log: EventLog, new: Sequence[StoredEvent], named: Callable[[int], str]) -> None:
    """Refuse (InvalidFill naming `metadata.lots` and its value) a new fill whose `metadata.lots` is not a
    list of lots summing to its quantity, or names a lot that is no acquisition before it of the same
    account and spot symbol (a buy for a sell, a short sale for a buy), or more of a lot than is left; and a new
    transfer naming lots unless it is a withdrawal naming lots of its currency (`_withdrawal_picks`).

    At record time a lot is used up when the quantity of the fill that acquired it, minus what earlier
    specific disposals (in the log, then earlier in the batch) named of it, is less than what is named.
    That is all the log can say before a report: which lots are open when a disposal is matched also
    depends on the methods of the earlier years, which are arguments, so `gains` checks it again. A withdrawal
    disposes only when a report asks: what it named is counted for later withdrawals, never for a fill.
    """
    naming = [(event, metadata) for event in new if (metadata := _names_lots(event)) is not None]
    if not naming:  # the usual append: no fill names lots
        return
    batch = {event.seq: event for event in new}
    named_seqs = _lot_seqs_named(naming)
    used: dict[tuple[str, str], dict[int, Decimal]] = {}  # per (account, symbol): what fills named of each lot
    # Per account, what fills and withdrawals named of each lot: in the log, and earlier in the batch.
    withdrawn: dict[str, dict[int, Decimal]] = {}
    in_batch: dict[str, dict[int, Decimal]] = {}
    with localcontext(LEDGER_CONTEXT):
        for event, metadata in naming:
            where = named(event.seq)
            if event.type == "transfer":
                picks = _withdrawal_picks(log, event, metadata, batch, where, (withdrawn, in_batch))
            else:
                picks = _fill_picks(log, event, metadata, batch, where, (used, named_seqs))
            named_of = in_batch.setdefault(event.account, {})
            for lot_seq, amount in picks:
                named_of[lot_seq] = named_of.get(lot_seq, Decimal(0)) + amount


def _lot_before(log: EventLog, event: StoredEvent, batch: dict[int, StoredEvent], lot_seq: int) -> StoredEvent | None:
    """The event at `lot_seq`, which `event` names as a lot: None for a seq at or past its own, which names no lot
    before it, never looked up (past the database's integers, the lookup itself would fail)."""
    if lot_seq >= event.seq:
        return None
    return batch[lot_seq] if lot_seq in batch else _lot_at(log, lot_seq)


def _fill_picks(
    log: EventLog,
    event: StoredEvent,
    metadata: dict[str, Any],
    batch: dict[int, StoredEvent],
    where: str,
    counts: tuple[dict[tuple[str, str], dict[int, Decimal]], dict[tuple[str, str], set[int]]],
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
    for lot_seq, amount in picks:
        acquired = _acquired(_lot_before(log, event, batch, lot_seq), event, acquired_by)
        if not acquired:
            fee = "rebate" if acquired_by == "buy" else "fee"
            raise InvalidFill(
                f"{where}: metadata.lots: lot {lot_seq} does not exist: no {acquired_by} of {event.symbol} in "
                f"account {event.account!r}, nor a fill of it with a base {fee}, was recorded at seq {lot_seq} "
                f"before this fill (got {given})"
            )
        key = (event.account, event.symbol)
        if key not in used:
            used[key] = _named_in_log(log, *key, named_seqs[key])
        _refuse_overdrawn(where, given, lot_seq, acquired, used[key][lot_seq], amount)
        used[key][lot_seq] += amount
    return picks


def _withdrawal_picks(
    log: EventLog,
    event: StoredEvent,
    metadata: dict[str, Any],
    batch: dict[int, StoredEvent],
    where: str,
    counts: tuple[dict[str, dict[int, Decimal]], dict[str, dict[int, Decimal]]],
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
    for lot_seq, _ in picks:
        acquired[lot_seq] = _acquired(_lot_before(log, event, batch, lot_seq), event, "buy")
        if not acquired[lot_seq]:
            raise InvalidFill(
                f"{where}: metadata.lots: lot {lot_seq} does not exist: no buy of {event.currency} in account "
                f"{event.account!r}, nor a fill with a base rebate of it, was recorded at seq {lot_seq} before this "
                f"withdrawal (got {given})"
            )
    in_log, in_batch = counts
    if not acquired.keys() <= in_log.get(event.account, {}).keys():
        in_log[event.account] = _withdrawn_in_log(log, event.account, {*acquired, *in_log.get(event.account, {})})
    for lot_seq, amount in picks:
        named_before = in_log[event.account][lot_seq] + in_batch.get(event.account, {}).get(lot_seq, Decimal(0))
        _refuse_overdrawn(where, given, lot_seq, acquired[lot_seq], named_before, amount)
    return picks


def _refuse_overdrawn(
    where: str, given: object, lot_seq: int, acquired: Decimal, named: Decimal, amount: Decimal
) -> None:
    """InvalidFill when `amount` of lot `lot_seq` is more than what it `acquired` less what earlier disposals `named`,
    or would leave a rest that rounds (`where`, `given`: the disposal and its metadata.lots, for the message)."""
    left = acquired - named
    if amount > left:
        raise InvalidFill(
            f"{where}: metadata.lots: lot {lot_seq} is used up: it acquired {decimal_text(acquired)}, earlier "
            f"disposals named {decimal_text(named)}, {decimal_text(max(left, Decimal(0)))} is left (got {given})"
        )
    rounded = rounded_rest(lot_seq, left, amount)
    if rounded is not None:
        raise InvalidFill(f"{where}: {rounded} (got {given})")
