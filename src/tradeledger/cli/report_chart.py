"""The report's chart as geometry: where each tick, line and point goes (`templates/report.html.j2` draws it).

Cumulative realized PnL (gross and net of fees) and wallet cash, one point per fill (over THIN_ABOVE fills,
the points each pixel column shows: application.report_series), by the time the fill occurred or evenly
spaced. SVG coordinates are floats: they are drawing positions, never amounts. Every value
is turned into a position by one Decimal ratio converted to float at the end (marked "drawing position").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import NamedTuple

from tradeledger.application.audit import UNEVEN_GAPS, Report
from tradeledger.application.report_series import CHART_COLUMNS, CHART_LEFT, even_x, time_x
from tradeledger.cli.report_view import shown
from tradeledger.domain.display import DISPLAY
from tradeledger.domain.fills import decimal_text
from tradeledger.domain.positions import ZERO

LEFT, PLOT_WIDTH, RIGHT = CHART_LEFT, CHART_COLUMNS, 30  # the x geometry is the series' (thinned to its columns)
WIDTH = LEFT + PLOT_WIDTH + RIGHT
PANEL_HEIGHT, PANEL_TOP, PANEL_GAP = 220, 50, 90
HEIGHT = PANEL_TOP + 2 * PANEL_HEIGHT + PANEL_GAP + 70
TICKS = 5
# Above this many fills the chart draws its lines without a marker per fill (the lines keep one point per
# fill up to application.report_series.THIN_ABOVE fills), so a long log does not make a page of circles.
MARKER_LIMIT = 400
EVEN_AXIS_TITLE = "fills in the order they occurred, evenly spaced (UTC time at each tick)"
TIME_AXIS_TITLE = "occurred at (UTC)"
LEGEND = (("realized", "realized (gross)"), ("net", "net of fees"))


class Point(NamedTuple):
    """One fill's point of a series (a tuple: a chart of a long log has three per fill, built ~3x faster than a
    frozen dataclass's)."""

    x: float
    y: float
    seq: int
    value: str  # the exact cumulative value, for the marker's tooltip


def px(value: float) -> str:
    """A drawing position (SVG coordinate) to two places."""
    return f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    label: str
    points: Sequence[Point]
    markers: bool  # one circle per point (few fills only)

    @property
    def path(self) -> str:
        """The step line's SVG path: from the first point, then from each point across to the next one's x (H),
        then to its value (V). Written here, not by the template: one fill's step is two of its loop's values."""
        first = self.points[0]
        return f"M{first.x:.2f},{first.y:.2f}" + "".join([f" H{q.x:.2f} V{q.y:.2f}" for q in self.points[1:]])


@dataclass(frozen=True, slots=True)
class Panel:
    """One plot: y ticks and grid, a dashed baseline (0, or B0 for cash), one step line per series."""

    title: str
    top: int
    ticks: Sequence[tuple[float, str]]  # (y, label)
    baseline: tuple[float, str]  # (y, label)
    series: Sequence[Series]


@dataclass(frozen=True, slots=True)
class XTick:
    x: float
    anchor: str  # text-anchor: start, middle or end
    moment: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Chart:
    panels: Sequence[Panel]
    x_ticks: Sequence[XTick]
    axis_title: str
    note: str  # what the x axis is, and how to get the other one
    thinned: str = ""  # said when the chart draws fewer points than the fills (application.report_series)


def nice_ticks(values: Iterable[Decimal]) -> list[Decimal]:
    """Round tick values (1, 2 or 5 times a power of ten) covering every value."""
    values = list(values)
    low, high = min(values), max(values)
    with localcontext(DISPLAY):
        if low == high:
            pad = max(abs(low) / 10, Decimal(1))
            low, high = low - pad, high + pad
        raw = (high - low) / TICKS
        base = Decimal(1).scaleb(raw.adjusted())
        step = next(base * m for m in (1, 2, 5, 10) if base * m >= raw)
        first = (low / step).to_integral_value(ROUND_FLOOR) * step
        last = (high / step).to_integral_value(ROUND_CEILING) * step
        count = int((last - first) / step)
        return [first + step * i for i in range(count + 1)]


def tick_label(value: Decimal) -> str:
    return shown(value, min_places=0)


def _ys(values: Iterable[Decimal], ticks: Sequence[Decimal], top: int) -> list[float]:
    """Where each value goes up the panel at `top`, its ticks spanning it (one decimal context for them all)."""
    with localcontext(DISPLAY):
        low, span = ticks[0], ticks[-1] - ticks[0]
        ratios = [(value - low) / span for value in values]
    return [top + PANEL_HEIGHT - float(ratio) * PANEL_HEIGHT for ratio in ratios]  # float ok: drawing positions


def _y(value: Decimal, ticks: Sequence[Decimal], top: int) -> float:
    return _ys((value,), ticks, top)[0]


def thinned_note(report: Report) -> str:
    """What a thinned chart left out, and why the lines are the same; "" when it draws a point per fill."""
    if not report.series_thinned:
        return ""
    return (
        f"The lines are drawn through {len(report.series):,} of the {report.series_count:,} fills' points: in "
        "each pixel column of the chart, the first and last point and each line's lowest and highest; every "
        "point left out lies between them, so the lines look the same."
    )


def axis_note(report: Report) -> str:
    """What the chart's x axis is, and how to get the other one."""
    if report.chart_axis == "time":
        return (
            "Fills placed at the time they occurred (UTC), one point per fill; --chart-axis fills spaces them evenly."
        )
    if report.axis_choice == "fills":
        return "Fills evenly spaced in the order they occurred, one point per fill (--chart-axis fills)."
    return (
        "Fills evenly spaced in the order they occurred, one point per fill, because their times are uneven "
        f"(the longest gap between two fills is over {UNEVEN_GAPS} times the typical one); "
        "--chart-axis time places them at their times."
    )


def panel(
    title: str,
    series: Sequence[tuple[str, str, Sequence[Decimal]]],
    baseline: tuple[str, Decimal],
    xs: Sequence[float],
    top: int,
    seqs: Sequence[int],
    *,
    markers: bool,
) -> Panel:
    ticks = nice_ticks([baseline[1], *(v for _, _, values in series for v in values)])
    lines = [
        Series(
            name,
            label,
            [
                Point(x, y, seq, decimal_text(v))
                for x, y, v, seq in zip(xs, _ys(values, ticks, top), values, seqs, strict=True)
            ],
            markers=markers,
        )
        for name, label, values in series
    ]
    label, level = baseline
    return Panel(title, top, [(_y(t, ticks, top), tick_label(t)) for t in ticks], (_y(level, ticks, top), label), lines)


def x_ticks(report: Report, *, evenly: bool) -> list[XTick]:
    series, total = report.series, report.series_count  # a thinned series keeps the ticks' points
    at_index = {point.index: point for point in series} if evenly else {}
    start, end = series[0].occurred_at, series[-1].occurred_at
    count = 1 if (total == 1 if evenly else end == start) else min(TICKS, total) if evenly else TICKS
    ticks = []
    for i in range(count):
        if evenly:
            index = 0 if count == 1 else round(i * (total - 1) / (count - 1))
            moment, x = at_index[index].occurred_at, even_x(index, total)
        else:
            moment = start if count == 1 else start + (end - start) * i / (count - 1)
            x = time_x(moment, start, end)
        anchor = "start" if count > 1 and i == 0 else "end" if count > 1 and i == count - 1 else "middle"
        ticks.append(XTick(x, anchor, moment.astimezone(UTC)))
    return ticks


def chart(report: Report) -> Chart | None:
    """The chart of the report's series; None without fills."""
    series = report.series
    if not series:
        return None
    start, end = series[0].occurred_at, series[-1].occurred_at
    evenly = report.chart_axis == "fills"
    total = report.series_count
    xs = [even_x(point.index, total) if evenly else time_x(point.occurred_at, start, end) for point in series]
    seqs = [point.seq for point in series]
    pnl = [
        ("realized", "realized PnL (gross)", [point.realized for point in series]),
        ("net", "realized PnL net of fees", [point.net for point in series]),
    ]
    cash = [("cash", "wallet cash", [point.cash for point in series])]
    b0 = (f"B0 = {shown(report.initial_balance)}", report.initial_balance)
    markers = total <= MARKER_LIMIT
    panels = [
        panel("Cumulative realized PnL (quote currency)", pnl, ("0", ZERO), xs, PANEL_TOP, seqs, markers=markers),
        panel(
            "Wallet cash (quote currency)", cash, b0, xs, PANEL_TOP + PANEL_HEIGHT + PANEL_GAP, seqs, markers=markers
        ),
    ]
    title = EVEN_AXIS_TITLE if evenly else TIME_AXIS_TITLE
    return Chart(panels, x_ticks(report, evenly=evenly), title, axis_note(report), thinned_note(report))
