"""The report chart's series (issue 19): what each fill did, kept compact as the log streams by, summed in the
order the fills occurred, and thinned on a long log to what the chart's drawn width can show.

The fold keeps no model per fill: per fill its time, seq and three exact Decimals (gross realized PnL, quote
fees, the wallet cash's change), a few hundred bytes, never the fill or its row. The series is summed in
(occurred_at, seq) order, which is not the log's when a fill was reported late (its effect is drawn at the
time it occurred, so it moves every later point): that is why the deltas are kept until the log is read.

Thinning (`thinned`): above THIN_ABOVE fills the chart keeps, in each pixel column of its drawn width
(CHART_COLUMNS) and for each of its three lines, the column's first and last point and the lowest and
highest (the first point of that value), plus the fills at the x axis's ticks. A step line through those
points covers in each column the same span of y as through all of them, enters and leaves the column at
the same values, and the steps between columns are unchanged: at the drawn width it is the same picture.
At or below THIN_ABOVE every fill has its point, as before (so the page of a small ledger is unchanged).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import TypeVar

from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import ZERO

CHART_LEFT, CHART_COLUMNS = 100, 1030  # where the chart's plot starts and its width, in pixels (cli.report_chart)
THIN_ABOVE = 10_000  # a chart of more fills is thinned (see the module's docstring)
X_TICKS = 5  # the x axis's ticks (cli.report_chart.TICKS): on the evenly spaced axis, each at a fill's point

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the chart: the cumulative sums over the fills that occurred up to this one."""

    seq: int
    occurred_at: datetime
    realized: Decimal
    net: Decimal
    cash: Decimal
    index: int  # its place among all the report's fills in the order they occurred (the evenly spaced x)


def thinned(items: Iterable[tuple[int, Sequence[Decimal], P, bool]]) -> Iterator[P]:
    """Of `items` (column, values, payload, forced) in drawing order, columns never decreasing, the payloads
    kept: in each column the first and the last, and per value (line) the first of its lowest and the
    first of its highest, and every forced one; in their order. Holds one column's few candidates at a time."""
    column: int | None = None
    kept: dict[int, P] = {}
    lows: list[tuple[Decimal, int, P]] = []
    highs: list[tuple[Decimal, int, P]] = []
    last: tuple[int, P] | None = None
    for position, (col, values, payload, forced) in enumerate(items):
        if col != column:
            if last is not None:
                yield from _column(kept, lows, highs, last)
            column, kept = col, {position: payload}
            lows = [(value, position, payload) for value in values]
            highs = list(lows)
        else:
            for line, value in enumerate(values):
                if value < lows[line][0]:
                    lows[line] = (value, position, payload)
                elif value > highs[line][0]:
                    highs[line] = (value, position, payload)
            if forced:
                kept[position] = payload
        last = (position, payload)
    if last is not None:
        yield from _column(kept, lows, highs, last)


def _column(
    kept: dict[int, P], lows: list[tuple[Decimal, int, P]], highs: list[tuple[Decimal, int, P]], last: tuple[int, P]
) -> Iterator[P]:
    kept.update({position: payload for _, position, payload in (*lows, *highs)})
    kept[last[0]] = last[1]
    for position in sorted(kept):
        yield kept[position]


class SeriesFold:
    """Each fill's effect on the chart's lines as the log applied it (seq order), and the funding payments,
    kept compact until `points` sums them in the order the fills occurred."""

    __slots__ = ("_cash", "_fees", "_funding", "_in_order", "_previous", "_realized", "_seqs", "_times")

    def __init__(self, initial_balance: Decimal) -> None:
        self._times: list[datetime] = []
        self._seqs = array("q")
        self._realized: list[Decimal] = []
        self._fees: list[Decimal] = []
        self._cash: list[Decimal] = []  # the change of the wallet's cash by the fill itself (no funding)
        self._funding: list[tuple[datetime, int, Decimal]] = []
        self._previous = initial_balance
        self._in_order = True  # the fills came in the order they occurred

    def __len__(self) -> int:
        return len(self._seqs)

    def fill(self, seq: int, occurred_at: datetime, realized: Decimal, fee: Decimal, cash: Decimal) -> None:
        """A fill, folded in log order: its gross realized PnL, its quote fees, the wallet's cash after it."""
        if self._times and occurred_at < self._times[-1]:
            self._in_order = False
        with localcontext(LEDGER_CONTEXT):
            change = cash - self._previous
        self._previous = cash
        self._times.append(occurred_at)
        self._seqs.append(seq)
        self._realized.append(realized)
        self._fees.append(fee)
        self._cash.append(change)

    def funding(self, occurred_at: datetime, seq: int, amount: Decimal) -> None:
        """A funding payment, folded in log order: the wallet's cash moved by `amount`. Left out of the next fill's
        change of the cash, it is added to the cash line (as to the net line) at the time it occurred."""
        with localcontext(LEDGER_CONTEXT):
            self._previous += amount
        self._funding.append((occurred_at, seq, amount))

    def order(self) -> Sequence[int]:
        """The fills' places in the log in the order they occurred (occurred_at, then seq)."""
        if self._in_order:
            return range(len(self._seqs))
        times, seqs = self._times, self._seqs
        return sorted(range(len(seqs)), key=lambda i: (times[i], seqs[i]))

    def times(self, order: Sequence[int]) -> list[datetime]:
        return [self._times[i] for i in order]

    def points(
        self, initial_balance: Decimal, order: Sequence[int], column: Callable[[int, datetime], int] | None
    ) -> list[SeriesPoint]:
        """The cumulative sums at each fill in `order`; with `column` (a point's index and time to its pixel
        column), thinned to what each column shows (`thinned`, with the points at the evenly spaced axis's
        ticks). The net line adds the funding (occurred_at, seq, amount) paid or received up to each point,
        in the same order, and so does the cash line (funding after the last fill has no point of its own: the
        totals and the wallet show it)."""
        sums = self._sums(initial_balance, order)
        if column is None:
            return [point for _, point in sums]
        ticks = tick_indexes(len(order))
        return list(
            thinned(
                (column(p.index, p.occurred_at), values, p, p.index in ticks)
                for values, p in sums  # one point at a time: only the kept ones stay
            )
        )

    def _sums(self, initial_balance: Decimal, order: Sequence[int]) -> Iterator[tuple[Sequence[Decimal], SeriesPoint]]:
        pending = sorted(self._funding, reverse=True)  # popped from the end: the earliest first
        funded = ZERO
        realized, fees, cash = ZERO, ZERO, initial_balance
        for index, i in enumerate(order):
            at, seq = self._times[i], self._seqs[i]
            with localcontext(LEDGER_CONTEXT):
                while pending and pending[-1][:2] <= (at, seq):
                    paid = pending.pop()[2]
                    funded += paid
                    cash += paid
                realized += self._realized[i]
                fees += self._fees[i]
                cash += self._cash[i]
                net = realized + funded - fees
            yield (realized, net, cash), SeriesPoint(seq, at, realized, net, cash, index)


def time_x(moment: datetime, start: datetime, end: datetime) -> float:
    """The drawing position (SVG x) of a point at `moment` on the time axis from `start` to `end`."""
    if end == start:
        return CHART_LEFT + CHART_COLUMNS / 2  # drawing position
    return CHART_LEFT + (moment - start) / (end - start) * CHART_COLUMNS  # drawing position (a timedelta ratio)


def even_x(index: int, count: int) -> float:
    """The drawing position (SVG x) of the `index`th of `count` evenly spaced points."""
    if count == 1:
        return CHART_LEFT + CHART_COLUMNS / 2  # drawing position
    return CHART_LEFT + index * CHART_COLUMNS / (count - 1)  # drawing position


def pixel(x: float) -> int:
    """The pixel column a drawing position is in as the page writes it (to two places: cli.report_chart.px)."""
    return int(round(x, 2))


def tick_indexes(count: int) -> frozenset[int]:
    """The fills at the ticks of the evenly spaced x axis of `count` fills (cli.report_chart.x_ticks)."""
    ticks = 1 if count == 1 else min(X_TICKS, count)
    if ticks == 1:
        return frozenset({0})
    return frozenset(round(i * (count - 1) / (ticks - 1)) for i in range(ticks))
