"""Tax lots over the log (spec section 11): gains for a tax year and the open lots (the check of the lots a
specific disposal names before it is written is application/lot_picks.py).

The lots are computed on demand from the log, never stored: their matching depends on arguments (the
method of each tax year, fees in the basis or not, withdrawals disposing or not) that a single stored
projection could not hold, and a method chosen for a later year must never change an earlier year's
matches, so each report folds the log again from its start (`domain.lots.LotBook`, in the order the events
occurred). The fold reads the log's stored text rows in seq order as a rebuild of the positions does (scripts/bench.py
holds it to at most twice a rebuild), which is the order they occurred in while no fill was backfilled after a later
one of its pool; at the first that was, it reads them again sorted by (`occurred_at`, seq) and folds them anew
(`_fold`), then once more in seq order for what the positions refuse in log order, which a fold in time order does
not ask (`domain.lot_order.log_order_refusal`). The metadata and the transfers' kinds are read only when a
`specific` year or `withdrawals_dispose` needs them. The fold lists the seqs of the transfers it met; when some are
internal moves (read by seq: a log without transfers reads nothing more), their sides are paired and the log folded
again with them, so that the lots follow the coins from one account to another (`domain.lot_transfers`; `_folded`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tradeledger.application.collector import cycle_collector_paused
from tradeledger.application.ports import Transaction
from tradeledger.application.replaying import refused_until
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_order import OutOfTimeOrder, backfilled, log_order_refusal
from tradeledger.domain.lot_terms import (
    LONG_AFTER_DAYS,
    NO_TAX_YEAR,
    GainRow,
    GainTotals,
    Method,
    MethodPlan,
    MissingAcquisition,
    OpenLot,
    totals_of,
)
from tradeledger.domain.lot_transfers import MovedTransfer, MoveSide, internal_moves, late_moves, paired_moves
from tradeledger.domain.lots import LotBook
from tradeledger.domain.markets import currency_code
from tradeledger.errors import InvalidArgument, InvalidFill


@dataclass(frozen=True, slots=True)
class LotOptions:
    """How the lots are matched and what a report covers (every field an argument, never stored)."""

    plan: MethodPlan
    account: str | None = None
    quote: str | None = None
    fees_in_basis: bool = True
    withdrawals_dispose: bool = False
    long_after_days: int = LONG_AFTER_DAYS

    def __post_init__(self) -> None:
        quote_named(self.quote)


def quote_named(quote: str | None) -> str | None:
    """`quote` (None: every quote currency), refused (InvalidArgument) unless it is a currency code: a symbol's quote
    is one (domain/markets.py), so any other text would keep no symbol and answer an empty report, silently."""
    if quote is not None:
        try:
            currency_code(quote)
        except ValueError as error:
            raise InvalidArgument(f"quote: {error}") from None
    return quote


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
    tx: Transaction,
    account: str | None,
    until_time: str | None,
    metadata: dict[int, Any],
    kinds: dict[int, str],
    *,
    by_time: bool = False,
) -> Iterator[ExecutionRow]:
    """The log's rows (sorted by time with `by_time`), collecting the metadata of fills that name lots and the kind of
    each transfer on the way."""
    rows = _read_with_extras(tx, account, until_time, metadata, kinds)
    return iter(sorted(rows, key=_time_then_seq)) if by_time else rows


def _read_with_extras(
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


def _time_then_seq(row: ExecutionRow) -> tuple[str, int]:
    return (row[8], row[0])


def _plain_rows(
    tx: Transaction, account: str | None, until_time: str | None, *, by_time: bool = False
) -> Iterator[ExecutionRow]:
    rows = tx.log.rows(until_time=until_time, by_time=by_time)
    if account is None:  # the stored rows as the driver streams them: no step of ours between
        return rows
    return (row for row in rows if row[1] == account)


def _folded(tx: Transaction, options: LotOptions, *, year: int | None, until_time: str | None) -> LotBook:
    """The lots folded from the log (`_fold`), with the lots of internal moves following the coins: a fold that met
    an internal transfer pairs them (`domain.lot_transfers.paired_moves`) and folds again with the moves; a report of
    one account folds every account (the other side of a move is in another), its rows then kept to that account
    (`_of_account`). A move whose in side occurred after the time asked is in transit at that time: its lots left the
    source account and are in neither."""
    try:
        book: LotBook | None = _fold(tx, options, year=year, until_time=until_time)
    except (InvalidArgument, InvalidFill):
        # Without the moves a specific disposal naming a lot moved into its account is refused (its account holds
        # no such lot): the refusal stands when the log holds no internal move that pairs.
        if not paired_moves(_internal(tx, _transfer_seqs(tx))):
            raise
        book = None
    internal = _internal(tx, _transfer_seqs(tx) if book is None else book.transfers)
    if not internal:  # the common log: folded once, as before
        assert book is not None
        return book
    if options.account is not None:
        return _of_account(_folded(tx, replace(options, account=None), year=None, until_time=until_time), options, year)
    moves = paired_moves(internal)
    if until_time is not None and len(moves) < len(internal):  # the other side may have occurred after the bound
        moves = paired_moves(_internal(tx, _transfer_seqs(tx)))
    if not moves:
        assert book is not None  # a log whose internal moves do not pair was refused above
        return book
    by_time = book is None or book.in_time_order or late_moves(moves, book.late)
    return _fold(tx, options, year=year, until_time=until_time, moves=moves, by_time=by_time)


def _transfer_seqs(tx: Transaction) -> list[int]:
    """The seqs of every transfer in the log (a read of the rows)."""
    return [row[0] for row in tx.log.rows() if row[9] == "transfer"]


def _fold(
    tx: Transaction,
    options: LotOptions,
    *,
    year: int | None,
    until_time: str | None,
    moves: Mapping[int, MoveSide] | None = None,
    by_time: bool = False,
) -> LotBook:
    """The lots folded from the log (of one account when asked) in the order the events occurred; `last_seq` the last
    event folded (the latest seq). Folded as the log streams in seq order, the common case; a fill backfilled after
    a later one of its pool stops that fold (OutOfTimeOrder), and the log is read again in time order (at once with
    `by_time`: a fold without the moves already had to)."""
    try:
        if not by_time:
            return _fold_once(tx, options, year=year, until_time=until_time, by_time=False, moves=moves)
    except OutOfTimeOrder:
        pass
    except (InvalidArgument, InvalidFill):
        # A backfill later in the log may be what the refused event needed (the lot a sale names, the coins a base
        # fee pays): the refusal stands when there is none, else the events are folded in time order.
        if not _backfilled(tx, options, until_time, moves or {}):
            raise
    book = _fold_once(tx, options, year=year, until_time=until_time, by_time=True, moves=moves)
    # What the positions refuse in log order, which a fold in time order does not ask (domain.lot_order).
    refused = log_order_refusal(_plain_rows(tx, options.account, until_time))
    if refused is not None:
        seq, why = refused
        refusal = InvalidFill(f"seq {seq}: {why}")
        if until_time is None:
            raise refusal
        raise refused_until(tx, until_time, refusal, after_seq=seq - 1, account=options.account)
    book.by_seq()
    return book


def _backfilled(tx: Transaction, options: LotOptions, until_time: str | None, moves: Mapping[int, MoveSide]) -> bool:
    """Whether the rows a fold of `options` reads hold a backfill (`domain.lot_order.backfilled`)."""
    if options.withdrawals_dispose:
        kinds: dict[int, str] = {}
        return backfilled(_rows_with_extras(tx, options.account, until_time, {}, kinds), kinds, moves)
    return backfilled(_plain_rows(tx, options.account, until_time), None, moves)


_SEQS_READ = 1_000  # the seqs of one read (a statement's parameters are bounded)


def _internal(tx: Transaction, transfers: list[int]) -> list[MovedTransfer]:
    """The internal transfers among the events at `transfers` (a read of the transfers only: none, none read)."""
    found: list[MovedTransfer] = []
    for start in range(0, len(transfers), _SEQS_READ):
        found.extend(internal_moves(tx.log.read(seqs=transfers[start : start + _SEQS_READ])))
    return found


def _of_account(book: LotBook, options: LotOptions, year: int | None) -> LotBook:
    """`book`, folded over every account with every year's rows, kept to the rows, missing acquisitions and tax years
    of the account `options` names (and the rows and missing acquisitions of `year`, when given; `open_lots_of` keeps
    the account's open lots)."""
    account = options.account
    rows = [row for row in book.rows if row.account == account]
    missing = [item for item in book.missing if item.account == account]
    book.years = {row.disposed_at.year for row in rows} | {item.disposed_at.year for item in missing}
    book.rows = [row for row in rows if year is None or row.disposed_at.year == year]
    book.missing = [item for item in missing if year is None or item.disposed_at.year == year]
    return book


def _fold_once(
    tx: Transaction,
    options: LotOptions,
    *,
    year: int | None,
    until_time: str | None,
    by_time: bool,
    moves: Mapping[int, MoveSide] | None,
) -> LotBook:
    book = LotBook(
        options.plan,
        fees_in_basis=options.fees_in_basis,
        withdrawals_dispose=options.withdrawals_dispose,
        long_after_days=options.long_after_days,
        year=year,
        in_time_order=by_time,
    )
    seqs = _Latest()
    try:
        if Method.SPECIFIC in options.plan.uses or options.withdrawals_dispose:
            metadata: dict[int, Any] = {}
            kinds: dict[int, str] = {}
            rows = _rows_with_extras(tx, options.account, until_time, metadata, kinds, by_time=by_time)
            book.apply_rows(seqs.seen(rows) if by_time else rows, metadata, kinds, moves)
        else:
            rows = _plain_rows(tx, options.account, until_time, by_time=by_time)
            book.apply_rows(seqs.seen(rows) if by_time else rows, moves=moves)
    except InvalidFill as refusal:
        # Every prefix of the log folds: each event was checked after those before it. A fold in time order names
        # the event it refuses (a size that would round in that order).
        if until_time is None or by_time:
            raise
        raise refused_until(tx, until_time, refusal, after_seq=book.last_seq, account=options.account) from None
    if by_time:
        book.last_seq = seqs.latest
    return book


class _Latest:
    """The latest seq of the rows a fold in time order read (its last row is the latest time, not seq)."""

    __slots__ = ("latest",)

    def __init__(self) -> None:
        self.latest = 0

    def seen(self, rows: Iterator[ExecutionRow]) -> Iterator[ExecutionRow]:
        for row in rows:
            self.latest = max(self.latest, row[0])
            yield row


def _seq(tx: Transaction, until_time: str | None, folded: int) -> int:
    """The seq a report is as of: the head, or with a time bound the last event folded."""
    return tx.log.head().seq if until_time is None else folded


def _quote(options: LotOptions, quote: str) -> bool:
    return options.quote is None or quote == options.quote


def gains_of(tx: Transaction, options: LotOptions, *, year: int | None) -> GainsReport:
    """The gains of `year`'s disposals (every year's when None), matched by each year's method."""
    with cycle_collector_paused():
        book = _folded(tx, options, year=year, until_time=None)
        quote = options.quote
        rows = tuple(book.rows if quote is None else (row for row in book.rows if row.quote == quote))
    missing = tuple(item for item in book.missing if _quote(options, item.quote) or not item.quote)
    years = tuple(sorted(book.years | set(options.plan.explicit)))
    return GainsReport(tx.log.head().seq, options.plan, year, rows, missing, totals_of(rows), years)


def open_lots_of(tx: Transaction, options: LotOptions, *, until_time: str | None) -> LotsReport:
    """The open lots after the events that occurred at or before `until_time` (all when None)."""
    with cycle_collector_paused():
        book = _folded(tx, options, year=NO_TAX_YEAR, until_time=until_time)  # no gain rows: the open lots need none
    account = options.account  # a fold of every account when one of its internal moves paired (`_folded`)
    lots = tuple(lot for lot in book.open_lots() if _quote(options, lot.quote) and account in (None, lot.account))
    years = tuple(sorted(book.years | set(options.plan.explicit)))
    return LotsReport(_seq(tx, until_time, book.last_seq), options.plan, lots, years)
