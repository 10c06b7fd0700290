"""Identical rows of trades.csv: each kept as a fill, and named where the operator looks before the append.

Two rows alike in every field (symbol, side, amount, price, fee, and the time to its microsecond) are two fills
of one size in the same instant, or one row written twice. The legacy files cannot tell which, and no legacy bug
is known to write a row twice (legacy-system.md §6.4: `trade_logger.log_trade` writes one row a call; the known
double counts are the TradeManager's, of trades, not of rows). So the migration never drops one: each row is
counted as the TradeManager trade that explains it (`plan._csv_fills`), else as a fill of its own, and a group
with a row of the latter kind is named in the plan's notes, in `migrate --json` (`identical_rows`, and the
summary's count of their rows), and in the causes of the reconciliation's differences of its symbol and of the
wallet's cash. Rows every one of which a TradeManager trade of its own explains are the state file's trades
(the primary record holds as many): nothing is counted on the rows' word, and nothing is said.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tradeledger.compat.migration.legacy import (
    STATE_FILE,
    TRADES_CSV,
    Comparison,
    CsvRow,
    IdenticalRows,
    RowFill,
)
from tradeledger.domain.fills import Side, decimal_text, time_text

UNTOLD = (
    "two fills of one size in the same instant, or one row written twice (no legacy bug is known to write one "
    "twice, and the files cannot tell which): the migration drops no row; check them before the append, a row "
    "written twice doubles its quantity"
)

_Key = tuple[str, Side, Decimal, Decimal, Decimal, datetime]


def identical_rows(rows: Sequence[CsvRow], counted_as: Mapping[int, RowFill]) -> tuple[IdenticalRows, ...]:
    """The groups of two or more rows that become fills alike in every field, with the fill each row is counted
    as (`counted_as`, by line), in the order of their first line; those of which no row is a fill of its own are
    left out."""
    groups: dict[_Key, list[CsvRow]] = defaultdict(list)
    for row in rows:
        if row.fill is not None:
            fill = row.fill
            groups[(fill.symbol, fill.side, fill.quantity, fill.price, fill.fee, fill.occurred_at)].append(row)
    found: list[IdenticalRows] = []
    for alike in groups.values():
        fills = tuple(counted_as[row.line] for row in alike)
        if len(alike) > 1 and any(fill.source == TRADES_CSV for fill in fills):
            first = alike[0]
            found.append(IdenticalRows(first.symbol, first.side, first.amount, first.price, first.timestamp, fills))
    return tuple(found)


def _lines(lines: Sequence[int]) -> str:
    """`line 3`, `lines 1 and 3`, `lines 1, 3 and 4`."""
    if len(lines) == 1:
        return f"line {lines[0]}"
    return f"lines {', '.join(str(line) for line in lines[:-1])} and {lines[-1]}"


def note(group: IdenticalRows) -> str:
    """The plan's note on one group: what the rows are, what each is counted as, what the files cannot tell."""
    what = f"{decimal_text(group.amount)} {group.symbol} at {decimal_text(group.price)}, {time_text(group.timestamp)}"
    trades = [fill for fill in group.fills if fill.source != TRADES_CSV]
    own = [fill.line for fill in group.fills if fill.source == TRADES_CSV]
    if not trades:
        counted = "each is kept as a fill of its own"
    else:
        if len(trades) == 1:
            (trade,) = trades
            counted = f"line {trade.line} is trade {trade.fill_id} of {STATE_FILE} ({trade.where}), which holds one"
        else:
            ids = ", ".join(f"{trade.fill_id} ({trade.where})" for trade in trades)
            counted = f"{_lines([trade.line for trade in trades])} are trades {ids} of {STATE_FILE}, which holds "
            counted += str(len(trades))
        kept = "is kept as a fill of its own" if len(own) == 1 else "are each kept as a fill of its own"
        counted += f" such trade{'s' if len(trades) > 1 else ''}, and {_lines(own)} {kept}"
    return f"{TRADES_CSV} {_lines(group.lines)} are identical rows ({group.side.value} {what}): {counted}; {UNTOLD}"


def _cause(group: IdenticalRows) -> str:
    """The reconciliation's cause: the replay counts every row of the group."""
    trades = [f"{_lines([fill.line])} as trade {fill.fill_id}" for fill in group.fills if fill.source != TRADES_CSV]
    kept = f"each kept ({', '.join(trades)})" if trades else "each kept as a fill"
    return (
        f"{TRADES_CSV} {_lines(group.lines)} are identical rows, {kept}: if the row was written twice, the replay "
        "counts it twice"
    )


def with_causes(rows: Sequence[Comparison], groups: Sequence[IdenticalRows]) -> list[Comparison]:
    """The reconciliation with each group named among the causes of the differences it may explain: those of its
    symbol, and the wallet's cash."""
    named: list[Comparison] = []
    for row in rows:
        causes = [
            _cause(group)
            for group in groups
            if row.status == "differs" and (row.symbol == group.symbol or (row.scope, row.symbol) == ("wallet", None))
        ]
        named.append(replace(row, causes=(*row.causes, *causes)) if causes else row)
    return named
