"""The report's chart as geometry: where every line, point and label of the SVG goes (the markup is in
templates/report.html.j2).

SVG coordinates are floats: they are drawing positions, never amounts. Every value is turned into a
position by one Decimal ratio converted to float at the end (marked "drawing position"), and written
with two decimals here, so the template only places text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext

from tradeledger.application.report import UNEVEN_GAPS, Report
from tradeledger.domain.fills import decimal_text
from tradeledger.domain.positions import ZERO

# Above this many fills the chart draws its lines without a marker per fill (the lines keep one
# point per fill), so a long log does not make a page of millions of circles.
MARKER_LIMIT = 400
WIDTH, LEFT, RIGHT = 1160, 100, 30
PANEL_HEIGHT, PANEL_TOP, PANEL_GAP = 220, 50, 90
HEIGHT = PANEL_TOP + 2 * PANEL_HEIGHT + PANEL_GAP + 70
TICKS = 5
EVEN_AXIS_TITLE = "fills in the order they occurred, evenly spaced (UTC time at each tick)"

# Display only: a context wide enough to quantize any stored amount to 8 places without an error.
DISPLAY = Context(prec=100, rounding=ROUND_HALF_EVEN)


def shown(value: Decimal, *, places: int = 8, min_places: int = 2) -> str:
    """`value` rounded half-even to `places`, trailing zeros dropped down to `min_places`, with thousands commas."""
    rounded = value.quantize(Decimal(1).scaleb(-places), context=DISPLAY)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    whole, _, fraction = f"{rounded:,f}".partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    return f"{whole}.{fraction}" if fraction else whole


@dataclass(frozen=True, slots=True)
class Tick:
    y: str
    label_y: str
    label: str


@dataclass(frozen=True, slots=True)
class Marker:
    x: str
    y: str
    title: str


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    label: str
    points: int
    d: str
    markers: tuple[Marker, ...]


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    top: int
    ticks: tuple[Tick, ...]
    baseline: Tick
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class XTick:
    x: str
    anchor: str
    date: str
    time: str


@dataclass(frozen=True, slots=True)
class LegendKey:
    name: str
    label: str
    x: int


LEGEND = tuple(
    LegendKey(name, label, WIDTH - RIGHT - 330 + offset * 170)
    for offset, (name, label) in enumerate((("realized", "realized (gross)"), ("net", "net of fees")))
)


@dataclass(frozen=True, slots=True)
class Chart:
    panels: tuple[Panel, ...]
    x_ticks: tuple[XTick, ...]
    axis_title: str
    note: str
    # fixed geometry, for the template
    legend: tuple[LegendKey, ...] = LEGEND
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    plot_width: int = WIDTH - LEFT - RIGHT
    panel_height: int = PANEL_HEIGHT
    legend_y: int = PANEL_TOP - 14
    axis_y: int = PANEL_TOP + 2 * PANEL_HEIGHT + PANEL_GAP
    axis_title_x: str = f"{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}"


def _nice_ticks(values: Iterable[Decimal]) -> list[Decimal]:
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


def _y(value: Decimal, ticks: Sequence[Decimal], top: int) -> float:
    with localcontext(DISPLAY):
        ratio = (value - ticks[0]) / (ticks[-1] - ticks[0])
    return top + PANEL_HEIGHT - float(ratio) * PANEL_HEIGHT  # float ok: a drawing position


def _x(moment: datetime, start: datetime, end: datetime) -> float:
    width = WIDTH - LEFT - RIGHT
    if end == start:
        return LEFT + width / 2  # drawing position
    return LEFT + (moment - start) / (end - start) * width  # drawing position (a timedelta ratio)


def _even_x(index: int, count: int) -> float:
    width = WIDTH - LEFT - RIGHT
    if count == 1:
        return LEFT + width / 2  # drawing position
    return LEFT + index * width / (count - 1)  # drawing position


def _chart_note(report: Report) -> str:
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


def _panel(
    title: str,
    series: Sequence[tuple[str, str, Sequence[Decimal]]],
    baseline: tuple[str, Decimal],
    times: Sequence[float],
    top: int,
    seqs: Sequence[int],
) -> Panel:
    """One plot: y ticks and grid, a dashed baseline (0, or B0 for cash), one step line per series.

    A cumulative sum changes only at a fill, so each series is a step path: from the previous point
    across to the fill's time (H), then up or down to its new value (V) — one vertex per fill.
    """
    ticks = _nice_ticks([baseline[1], *(v for _, _, values in series for v in values)])
    grid = []
    for tick in ticks:
        y = _y(tick, ticks, top)
        grid.append(Tick(f"{y:.2f}", f"{y + 4:.2f}", shown(tick, min_places=0)))
    label, level = baseline
    base_y = _y(level, ticks, top)
    lines = []
    for name, line_label, values in series:
        ys = [_y(v, ticks, top) for v in values]
        steps = "".join(f" H{x:.2f} V{y:.2f}" for x, y in zip(times[1:], ys[1:], strict=True))
        markers = (
            tuple(
                Marker(f"{x:.2f}", f"{y:.2f}", f"{line_label} after seq {seq}: {decimal_text(v)}")
                for x, y, v, seq in zip(times, ys, values, seqs, strict=True)
            )
            if len(values) <= MARKER_LIMIT
            else ()
        )
        lines.append(Line(name, line_label, len(values), f"M{times[0]:.2f},{ys[0]:.2f}{steps}", markers))
    return Panel(title, top, tuple(grid), Tick(f"{base_y:.2f}", f"{base_y - 5:.2f}", label), tuple(lines))


def _x_ticks(report: Report, evenly: bool) -> tuple[XTick, ...]:
    series = report.series
    start, end = series[0].occurred_at, series[-1].occurred_at
    count = 1 if (len(series) == 1 if evenly else end == start) else min(TICKS, len(series)) if evenly else TICKS
    ticks = []
    for i in range(count):
        if evenly:
            index = 0 if count == 1 else round(i * (len(series) - 1) / (count - 1))
            moment, x = series[index].occurred_at, _even_x(index, len(series))
        else:
            moment = start if count == 1 else start + (end - start) * i / (count - 1)
            x = _x(moment, start, end)
        utc = moment.astimezone(UTC)
        anchor = "start" if count > 1 and i == 0 else "end" if count > 1 and i == count - 1 else "middle"
        ticks.append(XTick(f"{x:.2f}", anchor, f"{utc:%Y-%m-%d}", f"{utc:%H:%M:%S}"))
    return tuple(ticks)


def chart(report: Report) -> Chart | None:
    """Cumulative realized PnL (gross and net of fees) and wallet cash, one point per fill; None without fills."""
    series = report.series
    if not series:
        return None
    start, end = series[0].occurred_at, series[-1].occurred_at
    evenly = report.chart_axis == "fills"
    times = [_even_x(i, len(series)) if evenly else _x(point.occurred_at, start, end) for i, point in enumerate(series)]
    seqs = [point.seq for point in series]
    pnl = _panel(
        "Cumulative realized PnL (quote currency)",
        [
            ("realized", "realized PnL (gross)", [point.realized for point in series]),
            ("net", "realized PnL net of fees", [point.net for point in series]),
        ],
        ("0", ZERO),
        times,
        PANEL_TOP,
        seqs,
    )
    cash = _panel(
        "Wallet cash (quote currency)",
        [("cash", "wallet cash", [point.cash for point in series])],
        (f"B0 = {shown(report.initial_balance)}", report.initial_balance),
        times,
        PANEL_TOP + PANEL_HEIGHT + PANEL_GAP,
        seqs,
    )
    title = EVEN_AXIS_TITLE if evenly else "occurred at (UTC)"
    return Chart((pnl, cash), _x_ticks(report, evenly), title, _chart_note(report))
