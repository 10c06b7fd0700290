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
occurred may not cover it: beyond them it is a short lot).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from operator import attrgetter
from typing import Any, cast

from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_terms import GainRow, LotKey, MissingAcquisition
from tradeledger.domain.markets import market


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


def listed_by_seq(rows: list[GainRow], missing: list[MissingAcquisition]) -> None:
    """`rows` and `missing` of a fold in time order sorted by the disposal's seq (each disposal's parts in the order
    matched: the sort is stable), as a fold in seq order lists them: the same report whichever order the log took."""
    rows.sort(key=_disposed_seq)
    missing.sort(key=_missing_seq)


_disposed_seq = attrgetter("disposed_seq")
_missing_seq = attrgetter("seq")
