"""The order of the tax lots' fold (spec section 11): the order the events occurred, `occurred_at` then seq on a
tie, not the order the log took them (the positions' order, section 4).

A sync that backfills the fills an exchange kept while a bot was down appends a buy after a sale that occurred
later; that buy is a lot of the sale, with its own acquisition date, term and the sale's tax year (as rotki and
Koinly match, and Beancount books, by date). `domain.lots.LotBook` folds the log's rows in seq order as they stream
while every fill comes no earlier than the last one folded into its pool (and, when withdrawals dispose, than the
withdrawals of its account and currency, and a withdrawal no earlier than those and the fills of its pools): the
common log, whose order is the time order, folds as before. The first event that does not stops the fold
(OutOfTimeOrder), and `application.lots` folds again from the log read sorted by (`occurred_at`, seq), into a book
`in_time_order`, whose rows are then listed by the disposal's seq (`listed_by_seq`) as a fold in seq order lists
them. A fold in seq order refused before it got to a backfill is asked again of the whole log (`backfilled`): the
refused event may have needed that backfill. The open lots still add up to the positions (a sum in any order); a
fold in time order does not refuse a base fee that the positions' log order allowed (the lots held when it
occurred may not cover it: beyond them it is a short lot), and does not ask the log-order refusal at all: the rows
are then checked in seq order as the positions check them (`log_order_refusal`), so that a log the positions refuse
(a row edited behind the ledger's back, say) is refused by the lots whether or not it holds a backfill.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal, Inexact, localcontext
from operator import attrgetter
from typing import Any, cast

from tradeledger.domain.fee_parts import base_fee_refusal, fee_parts
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_pools import position_after
from tradeledger.domain.lot_terms import ZERO, GainRow, LotKey, MissingAcquisition
from tradeledger.domain.markets import market
from tradeledger.errors import InvalidFill


class OutOfTimeOrder(Exception):  # a signal, not an error: the fold starts again in time order
    """Event `seq` occurred before an event the fold already took into its pool (a backfill): a fold in seq order is
    not the fold in time order, and stops (see the module's docstring)."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"seq {seq} occurred before an event folded before it")
        self.seq = seq


def backfilled(
    rows: Iterable[ExecutionRow], kinds: Mapping[int, str] | None = None, moves: Collection[int] = ()
) -> bool:
    """Whether `rows` (in seq order) hold a spot fill that occurred before an earlier fill of its pool, or, with the
    `kinds` of the transfers when withdrawals dispose, a fill or a withdrawal that occurred before an earlier
    withdrawal of its account and currency, or a withdrawal before an earlier fill of its pools (a side of an internal
    move that pairs, in `moves`, asked as a withdrawal of its account): where
    `LotBook.apply_rows` stops with OutOfTimeOrder, asked of the whole log when a fold in seq order was refused before
    it got that far (a backfill later in the log may be what the refused event needed). A row whose symbol does not
    read is left to the folds."""
    pools: dict[LotKey, str] = {}  # the latest time of a fill per pool
    filled: dict[tuple[str, str], str] = {}  # ... per (account, currency) of a fill of its pools
    withdrawn: dict[tuple[str, str], str] = {}  # ... per (account, currency) of a withdrawal
    keys: dict[tuple[str, str], LotKey | None] = {}  # the pool of (account, symbol); None: a contract, or unread
    for seq, account, _, symbol, _, _, _, _, at, kind, _, _, currency in cast("Iterable[tuple[Any, ...]]", rows):
        if kind != "fill":
            if (kinds is not None and kinds.get(seq) == "withdrawal") or seq in moves:
                if at < withdrawn.get((account, currency), "") or at < filled.get((account, currency), ""):
                    return True
                withdrawn[account, currency] = at
            continue
        if (account, symbol) not in keys:
            try:
                traded = market(symbol)
            except (ValueError, TypeError):  # not a symbol (None, or text no market has): the folds refuse the row
                traded = None
            spot = traded is not None and traded.settle is None
            keys[account, symbol] = (account, traded.base, traded.quote) if traded is not None and spot else None
        key = keys[account, symbol]
        if key is None:
            continue
        if at < pools.get(key, "") or at < withdrawn.get(key[:2], ""):
            return True
        pools[key] = at
        filled[key[:2]] = max(filled.get(key[:2], ""), at)
    return False


class _Size:
    """A spot position's signed size and its cycle's entered total as the positions keep them, and the text its
    fees text holds when it may hold a fee in the base currency (the code quoted, as JSON writes it)."""

    __slots__ = ("base", "entered", "position")

    def __init__(self, base: str) -> None:
        self.position, self.entered, self.base = ZERO, ZERO, f'"{base}"'


_NEW = _Size("")  # a key not seen yet


def _size_of(symbol: str) -> _Size | None:
    """A new position of `symbol`, None for a contract's (the lots hold none)."""
    traded = market(symbol)
    return _Size(traded.base) if traded.settle is None else None


def log_order_refusal(rows: Iterable[ExecutionRow]) -> tuple[int, str] | None:
    """The seq of the first spot fill of `rows` (in seq order) that the positions refuse in that order, and why in
    their words: a base fee (`fee_parts.base_fee_refusal`) or a size that would round (`position_after`); None when
    they refuse none. Asked after a fold in time order (which asks neither in log order) of the rows it folded, every
    one of them read by it: a fill of a contract has no lots, and the other events move no size. The sums are made
    inline and checked by the Inexact flag, as `LotBook.apply_rows` makes them (`position_after` when one rounds)."""
    sizes: dict[tuple[str, str], _Size | None] = {}  # (account, symbol); None: a contract (no lots)
    dec, zero, inexact = Decimal, ZERO, Inexact
    with localcontext(LEDGER_CONTEXT) as context:
        flags = context.flags
        for row in cast("Iterable[tuple[Any, ...]]", rows):
            seq, account, _, symbol, side, quantity, _, _, _, kind, fees, _, _ = row
            if kind != "fill":
                continue
            size = sizes.get((account, symbol), _NEW)
            if size is _NEW:
                size = sizes[account, symbol] = _size_of(symbol)
            if size is None:
                continue
            buy, q, position = side == "buy", dec(quantity), size.position
            flags[inexact] = False
            moved = position + q if buy else position - q
            entered = size.entered
            if position > zero if buy else position < zero:  # rule 2: the cycle grows
                entered += q
            elif moved > zero if buy else moved < zero:  # rule 1 or 4: a cycle opens with what is left
                entered = moved if buy else -moved
            try:
                if flags[inexact]:
                    moved, entered = position_after(seq, position, size.entered, buy, q)
                if fees is not None and size.base in fees:
                    moved, entered = _after_base_fee(seq, symbol, fees, position, moved, entered)
            except InvalidFill as refused:
                return seq, str(refused).removeprefix(f"seq {seq}: ")
            size.position, size.entered = moved, entered
    return None


def _after_base_fee(
    seq: int, symbol: str, fees: str, before: Decimal, after: Decimal, entered: Decimal
) -> tuple[Decimal, Decimal]:
    """The size and entered total after the base fee of `fees` (none: as they are) is disposed of; InvalidFill
    naming fill `seq` when the positions refuse it."""
    parts = fee_parts(symbol, fees)
    base, index = parts[2], parts[3]
    if not base:
        return after, entered
    refusal = base_fee_refusal(symbol, base, index, after, bool(before) and bool(after) and (before > 0) != (after > 0))
    if refusal is not None:
        raise InvalidFill(f"seq {seq}: {refusal}")
    return position_after(seq, after, entered, base < 0, abs(base))


def listed_by_seq(rows: list[GainRow], missing: list[MissingAcquisition]) -> None:
    """`rows` and `missing` of a fold in time order sorted by the disposal's seq (each disposal's parts in the order
    matched: the sort is stable), as a fold in seq order lists them: the same report whichever order the log took."""
    rows.sort(key=_disposed_seq)
    missing.sort(key=_missing_seq)


_disposed_seq = attrgetter("disposed_seq")
_missing_seq = attrgetter("seq")
