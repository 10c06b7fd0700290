"""`tradeledger report --html FILE`: a self-contained HTML report for an auditor (issue 5).

The numbers come from the log alone: the state is `Ledger.replay` (as of `--until-time`, bounded by
the head that `verify` checked, which holds the stored projection against the reference fold), and
the chart and the wallet fold the same fills once more, fill by fill (`domain.wallet.WalletReplay`).
Every amount is an exact Decimal; it is rounded for display only (the exact value is in each cell's
tooltip). The page needs nothing from the network: the CSS is inline and the chart is an SVG drawn
here (a step line per series, one vertex per fill, by the time the fill occurred), no JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from html import escape
from itertools import pairwise
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from tradeledger.application.ledger import Ledger
from tradeledger.application.verification import VerifyReport
from tradeledger.bootstrap import open_ledger
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    decimal_text_arg,
    emit,
    ledger_url,
    out,
    parse_marks,
    parse_time,
    reports_errors,
)
from tradeledger.cli.output import short_hash
from tradeledger.compat.files import write_output
from tradeledger.domain.fills import LEDGER_CONTEXT, MAX_DIGITS, decimal_text, significant_digits, time_text
from tradeledger.domain.positions import (
    ZERO,
    ClosedPosition,
    Execution,
    Position,
    PositionKey,
    Totals,
)
from tradeledger.domain.records import LedgerState, RecordedFill
from tradeledger.domain.wallet import WalletBook, WalletReplay
from tradeledger.errors import InvalidArgument
from tradeledger.storage.urls import shown_url

DEFAULT_INITIAL_BALANCE = "10000"
# The fill table lists the latest fills only (the chart and every total still use all of them);
# `tradeledger history` and `export` list the whole log.
FILL_TABLE_LIMIT = 2000
# Above this many fills the chart draws its lines without a marker per fill (the lines keep one
# point per fill), so a long log does not make a page of millions of circles.
MARKER_LIMIT = 400

# Display only: a context wide enough to quantize any stored amount to 8 places without an error.
_DISPLAY = Context(prec=100, rounding=ROUND_HALF_EVEN)


# --- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    price: Decimal
    source: str  # "--mark" or "stored <time>"


@dataclass(frozen=True, slots=True)
class FillRow:
    """One fill of the report, with what it did when folded in log order."""

    recorded: RecordedFill
    realized: Decimal  # gross realized PnL of this fill
    cash: Decimal  # wallet cash right after it, in log order


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the chart: the cumulative sums over the fills that occurred up to this one."""

    seq: int
    occurred_at: datetime
    realized: Decimal
    net: Decimal
    cash: Decimal


@dataclass(frozen=True, slots=True)
class Report:
    url: str
    generated_at: datetime
    until_time: datetime | None
    account: str | None
    initial_balance: Decimal
    state: LedgerState
    verify: VerifyReport
    fills: tuple[FillRow, ...]  # seq order
    series: tuple[SeriesPoint, ...]  # occurred_at order
    wallet: WalletBook
    marks: Mapping[str, Mark]
    folds_agree: bool
    balance_given: bool = True  # False: initial_balance is the default, not the user's
    chart_axis: str = "time"  # "time" or "fills" (evenly spaced), as drawn
    axis_choice: str = "auto"  # what was asked: "auto", "time" or "fills"

    @property
    def symbols(self) -> tuple[PositionKey, ...]:
        return tuple(self.state.symbol_totals)

    @property
    def multi_account(self) -> bool:
        return len({account for account, _ in self.symbols}) > 1


def by_key(position: Position) -> PositionKey:
    return position.key


def build_report(
    ledger: Ledger,
    *,
    url: str,
    generated_at: datetime,
    until_time: datetime | None = None,
    account: str | None = None,
    initial_balance: Decimal | None = None,
    marks: Mapping[str, Decimal] | None = None,
    chart_axis: str = "auto",
) -> Report:
    """Everything the page shows, read from the ledger and folded from its log."""
    balance_given = initial_balance is not None
    if initial_balance is None:
        initial_balance = Decimal(DEFAULT_INITIAL_BALANCE)
    verify = ledger.verify()
    # Bounded by the head verify saw, so a fill appended meanwhile is in neither or in both.
    state = ledger.replay(until_seq=verify.head.seq, until_time=until_time).for_account(account)
    recorded = [
        r
        for r in ledger.history(account=account)
        if r.seq <= state.seq and (until_time is None or r.fill.occurred_at <= until_time)
    ]
    replay = WalletReplay(initial_balance)
    wallet = replay.wallet
    assert wallet is not None
    rows = []
    for r in recorded:
        realized_before = wallet.realized_pnl
        replay.apply(Execution.of(r.seq, r.fill))
        with localcontext(LEDGER_CONTEXT):
            rows.append(FillRow(r, wallet.realized_pnl - realized_before, wallet.cash))
    book = replay.positions.book()
    replayed_open = list(state.open)
    folds_agree = book.totals == dict(state.symbol_totals) and sorted(book.open.values(), key=by_key) == replayed_open
    stored = ledger.marks().prices
    resolved: dict[str, Mark] = {}
    for symbol in {symbol for _, symbol in state.symbol_totals}:
        if marks and symbol in marks:
            resolved[symbol] = Mark(marks[symbol], "--mark")
        elif symbol in stored:
            resolved[symbol] = Mark(stored[symbol].price, f"stored {time_text(stored[symbol].marked_at)}")
    series = tuple(cumulative(rows, initial_balance))
    return Report(
        url=shown_url(url),
        generated_at=generated_at,
        until_time=until_time,
        account=account,
        initial_balance=initial_balance,
        state=state,
        verify=verify,
        fills=tuple(rows),
        series=series,
        wallet=wallet,
        marks=resolved,
        folds_agree=folds_agree,
        balance_given=balance_given,
        chart_axis=resolve_axis(chart_axis, [point.occurred_at for point in series]),
        axis_choice=chart_axis,
    )


CHART_AXES = ("auto", "time", "fills")
# `auto` spaces the fills evenly when the longest gap between two fills is over this many typical (median) gaps.
UNEVEN_GAPS = 10
MIN_GAPS = 2  # a median of fewer gaps says nothing


def uneven(times: Sequence[datetime]) -> bool:
    """Whether the longest gap between consecutive fill times is over UNEVEN_GAPS median gaps (3 fills at least),
    or several fills share one time (a time axis would stack them on one vertical line)."""
    gaps = sorted(later - earlier for earlier, later in pairwise(times))
    if gaps and not gaps[-1]:
        return True
    return len(gaps) >= MIN_GAPS and gaps[-1] > gaps[len(gaps) // 2] * UNEVEN_GAPS


def resolve_axis(choice: str, times: Sequence[datetime]) -> str:
    """The chart's x axis: as asked, or for `auto` evenly spaced fills when their times are uneven."""
    if choice != "auto":
        return choice
    return "fills" if uneven(times) else "time"


def cumulative(rows: Sequence[FillRow], initial_balance: Decimal) -> list[SeriesPoint]:
    """Each fill's effect as the log applied it (seq order), summed in the order the fills occurred.

    A fill reported late changes the books at its place in the log but is drawn at its own time;
    the last point equals the totals either way.
    """
    cash_change: dict[int, Decimal] = {}
    previous = initial_balance
    with localcontext(LEDGER_CONTEXT):
        for row in rows:
            cash_change[row.recorded.seq] = row.cash - previous
            previous = row.cash
        points = []
        realized, fees, cash = ZERO, ZERO, initial_balance
        for row in sorted(rows, key=lambda row: (row.recorded.fill.occurred_at, row.recorded.seq)):
            realized += row.realized
            fees += row.recorded.fill.fee
            cash += cash_change[row.recorded.seq]
            points.append(SeriesPoint(row.recorded.seq, row.recorded.fill.occurred_at, realized, realized - fees, cash))
    return points


# --- numbers for people ------------------------------------------------------------------------


def shown(value: Decimal, *, places: int = 8, min_places: int = 2) -> str:
    """`value` rounded half-even to `places`, trailing zeros dropped down to `min_places`, with thousands commas."""
    rounded = value.quantize(Decimal(1).scaleb(-places), context=_DISPLAY)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    whole, _, fraction = f"{rounded:,f}".partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    return f"{whole}.{fraction}" if fraction else whole


def quantity(value: Decimal) -> str:
    return shown(value, min_places=0)


def percent(value: Decimal) -> str:
    return shown(value, places=2)


def when(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def text_cell(value: str, *, title: str | None = None, css: str = "") -> str:
    attributes = f' class="{css}"' if css else ""
    if title is not None:
        attributes += f' title="{escape(title)}"'
    return f"<td{attributes}>{escape(value)}</td>"


def number_cell(value: Decimal, display: str | None = None, *, signed: bool = False) -> str:
    """A right-aligned number rounded for display; the exact value is its tooltip."""
    css = "num"
    if signed:
        css += " pos" if value > 0 else " neg" if value < 0 else ""
    return text_cell(shown(value) if display is None else display, title=decimal_text(value), css=css)


def blank_cell(note: str = "—") -> str:
    return f'<td class="num muted">{escape(note)}</td>'


def table(table_id: str, headers: Iterable[str], rows: Iterable[Iterable[str]], *, empty: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    if not body:
        return f'<p class="empty" id="{table_id}-empty">{escape(empty)}</p>'
    return f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


# --- the sections ------------------------------------------------------------------------------


def _key_cells(report: Report, account: str, symbol: str) -> list[str]:
    return [*([text_cell(account)] if report.multi_account else []), text_cell(symbol)]


def _key_headers(report: Report) -> list[str]:
    return [*(["Account"] if report.multi_account else []), "Symbol"]


def header_section(report: Report) -> str:
    state, check = report.state, report.verify
    head = check.head
    if check.ok:
        verdict = f'<span class="ok">passed</span> — {check.events} events, chain intact, projection equals a replay'
    else:
        first = check.problems[0]
        where = "ledger" if first.seq is None else f"seq {first.seq}"
        verdict = (
            f'<span class="bad">FAILED</span> — {len(check.problems)} problem(s); first: '
            f"{escape(where)}: {escape(first.check)}: {escape(first.detail)}"
        )
    quotes = sorted({symbol.partition("/")[2] for _, symbol in report.symbols})
    rows = [
        ("Ledger", escape(report.url)),
        ("Generated at", escape(when(report.generated_at))),
        (
            "As of",
            "the whole log"
            if report.until_time is None
            else f"fills that occurred at or before {escape(time_text(report.until_time))}",
        ),
        ("Account", "every account" if report.account is None else escape(report.account)),
        (
            "State",
            (
                f'seq <span id="state-seq">{state.seq}</span>, epoch <span id="state-epoch">{state.epoch}</span>, '
                f'hash <code id="state-hash">{escape(state.hash)}</code>'
            ),
        ),
        (
            "Chain head",
            f'seq {head.seq}, epoch {head.epoch}, hash <code id="head-hash">{escape(head.hash)}</code>',
        ),
        ("Verify", f'<span id="verify">{verdict}</span>'),
        ("Fills in this report", f'<span id="fill-count">{len(report.fills)}</span>'),
        ("Quote currencies", escape(", ".join(quotes)) if quotes else "—"),
    ]
    body = "\n".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    problems = ""
    if not check.ok:
        items = "\n".join(
            f"<li>{escape('ledger' if p.seq is None else f'seq {p.seq}')}: {escape(p.check)}: {escape(p.detail)}</li>"
            for p in check.problems
        )
        problems = f'<h3>Verify problems</h3>\n<ul id="verify-problems">\n{items}\n</ul>'
    warning = ""
    if not report.folds_agree:
        warning = (
            '<p class="bad" id="fold-warning">The replay and the reference fold disagree: '
            "a bug in tradeledger; the tables show the replay.</p>"
        )
    empty = '<p class="empty" id="no-fills">There are no fills in this report.</p>' if not report.fills else ""
    return f'<table class="meta" id="header">\n{body}\n</table>\n{problems}{warning}{empty}'


def _unrealized_cells(position: Position, mark: Mark | None) -> list[str]:
    if mark is None:
        return [blank_cell("unmarked"), blank_cell(), blank_cell(), blank_cell()]
    return [
        number_cell(mark.price),
        text_cell(mark.source, css="muted"),
        number_cell(position.unrealized_pnl(mark.price), signed=True),
        number_cell(position.unrealized_pnl_pct(mark.price), percent(position.unrealized_pnl_pct(mark.price))),
    ]


def symbols_section(report: Report) -> str:
    open_by_key = {p.key: p for p in report.state.open}
    rows = []
    for (account, symbol), totals in report.state.symbol_totals.items():
        position = open_by_key.get((account, symbol))
        cells = _key_cells(report, account, symbol)
        if position is None:
            cells += [text_cell("flat", css="muted"), blank_cell(), blank_cell()]
        else:
            cells += [text_cell(position.side.value), number_cell(position.quantity, quantity(position.quantity))]
            cells.append(number_cell(position.avg_price))
        cells += [
            number_cell(totals.realized_pnl, signed=True),
            number_cell(totals.fees),
            number_cell(totals.net_pnl, signed=True),
        ]
        if position is None:
            cells += [blank_cell(), blank_cell(), blank_cell(), blank_cell()]
        else:
            cells += _unrealized_cells(position, report.marks.get(symbol))
        rows.append(cells)
    headers = [
        *_key_headers(report),
        "Open side",
        "Open qty",
        "Avg price",
        "Realized",
        "Fees",
        "Net",
        "Mark",
        "Mark from",
        "Unrealized",
        "Unrealized %",
    ]
    return table("symbols", headers, rows, empty="No symbol has been traded.")


def open_section(report: Report) -> str:
    rows = [
        [
            *_key_cells(report, p.account, p.symbol),
            text_cell(p.side.value),
            number_cell(p.quantity, quantity(p.quantity)),
            number_cell(p.avg_price),
            number_cell(p.realized_pnl, signed=True),
            number_cell(p.fees),
            number_cell(p.net_pnl, signed=True),
            text_cell(str(p.opened_seq), css="num"),
            text_cell(when(p.opened_at)),
            *_unrealized_cells(p, report.marks.get(p.symbol)),
        ]
        for p in report.state.open
    ]
    headers = [
        *_key_headers(report),
        "Side",
        "Qty",
        "Avg price",
        "Realized (cycle)",
        "Fees (cycle)",
        "Net (cycle)",
        "Opened seq",
        "Opened at",
        "Mark",
        "Mark from",
        "Unrealized",
        "Unrealized %",
    ]
    return table("open", headers, rows, empty="No open positions.")


def closed_section(report: Report) -> str:
    def row(c: ClosedPosition) -> list[str]:
        return [
            *_key_cells(report, c.account, c.symbol),
            text_cell(c.side.value),
            number_cell(c.quantity, quantity(c.quantity)),
            number_cell(c.avg_price),
            number_cell(c.realized_pnl, signed=True),
            number_cell(c.fees),
            number_cell(c.net_pnl, signed=True),
            text_cell(str(c.opened_seq), css="num"),
            text_cell(when(c.opened_at)),
            text_cell(str(c.closed_seq), css="num"),
            text_cell(when(c.closed_at)),
        ]

    headers = [
        *_key_headers(report),
        "Side",
        "Qty",
        "Avg price",
        "Realized",
        "Fees",
        "Net",
        "Opened seq",
        "Opened at",
        "Closed seq",
        "Closed at",
    ]
    return table("closed", headers, [row(c) for c in report.state.closed], empty="No closed cycles.")


def rollbacks_section(report: Report) -> str:
    """The admin log: every audited rollback, who, when, why and which events it removed (with their hashes)."""
    rows = []
    for record in report.verify.rollbacks:
        removed = record.removed_events()
        gone = ", ".join(f"#{event.seq} {event.fill_id} ({short_hash(event.hash)})" for event in removed)
        rows.append(
            [
                text_cell(str(record.id)),
                text_cell(record.at),
                text_cell(record.actor),
                text_cell(record.reason),
                text_cell(f"epoch {record.from_epoch} seq {record.from_seq}", title=record.from_hash),
                text_cell(f"epoch {record.to_epoch} seq {record.to_seq}", title=record.to_hash),
                text_cell(gone or "—"),
                text_cell(short_hash(record.hash), title=record.hash, css="hash"),
            ]
        )
    headers = ["#", "At", "By", "Reason", "From head", "To head", "Removed events", "Record hash"]
    return table("rollbacks", headers, rows, empty="No rollback: the log has only ever been appended to.")


def totals_section(report: Report) -> str:
    totals: Totals = report.state.totals
    marked = [p for p in report.state.open if p.symbol in report.marks]
    with localcontext(LEDGER_CONTEXT):
        unrealized = report.state.unrealized_pnl({symbol: mark.price for symbol, mark in report.marks.items()})
        with_unrealized = totals.net_pnl + unrealized
    unmarked = len(report.state.open) - len(marked)
    note = f" ({unmarked} open position(s) unmarked, not included)" if unmarked else ""
    rows = [
        ["Realized (gross)", number_cell(totals.realized_pnl, signed=True)],
        ["Fees", number_cell(totals.fees)],
        ["Net realized", number_cell(totals.net_pnl, signed=True)],
        [f"Unrealized at mark{note}", number_cell(unrealized, signed=True)],
        ["Net realized + unrealized", number_cell(with_unrealized, signed=True)],
    ]
    body = "\n".join(f"<tr><th>{escape(label)}</th>{cell}</tr>" for label, cell in rows)
    return f'<table class="meta" id="totals">\n{body}\n</table>'


def wallet_section(report: Report) -> str:
    wallet = report.wallet
    with localcontext(LEDGER_CONTEXT):
        held = sum(wallet.cost_basis.values(), ZERO)
        left = wallet.cash + held
        right = wallet.initial_balance + wallet.realized_pnl - wallet.fees
        difference = left - right
    # WalletBook checked the invariant after every fill (it raises otherwise); shown here with its terms.
    rows = [
        ["Initial balance B0", number_cell(wallet.initial_balance)],
        ["Cash", number_cell(wallet.cash)],
        ["Open positions at cost Σ|s|·avg", number_cell(held)],
        ["cash + Σ|s|·avg", number_cell(left)],
        ["B0 + realized \u2212 fees", number_cell(right)],
        ["Difference", number_cell(difference, decimal_text(difference))],
    ]
    body = "\n".join(f"<tr><th>{escape(label)}</th>{cell}</tr>" for label, cell in rows)
    b0 = shown(wallet.initial_balance)
    balance = (
        f"Starting balance B0 = {b0}, given with --initial-balance."
        if report.balance_given
        else f"Starting balance B0 = {b0}: a default, not read from the ledger (which does not hold the "
        "wallet's starting cash); pass --initial-balance B0 for the real one."
    )
    note = f'<p id="wallet-balance" class="{"muted" if report.balance_given else "warn"}">{escape(balance)}</p>\n'
    return (
        note
        + overdraft_note(report.fills)
        + "<p>The paper wallet of spec §5 (cash-secured: opening a long or a short pays q·p, reducing a long "
        "credits q·p, reducing a short credits q·(2·avg \u2212 p), every fee is paid), folded over the fills "
        'of this report. Invariant: <span id="wallet-invariant" class="ok">holds after every fill</span>.</p>\n'
        f'<table class="meta" id="wallet">\n{body}\n</table>'
    )


def overdraft_note(fills: Sequence[FillRow]) -> str:
    """A red paragraph when the cash-secured wallet's cash went below zero after some fill, else nothing."""
    below = [row for row in fills if row.cash < 0]
    if not below:
        return ""
    first, lowest = below[0], min(below, key=lambda row: row.cash)
    text = (
        f"Overdraft: the cash went below zero, first after seq {first.recorded.seq} ({shown(first.cash)}), "
        f"lowest {shown(lowest.cash)} after seq {lowest.recorded.seq}. A cash-secured wallet cannot spend more "
        "than it holds: the starting balance is too low for these fills, or they did not go through this wallet."
    )
    return f'<p id="wallet-overdraft" class="bad">{escape(text)}</p>\n'


def fills_section(report: Report) -> str:
    shown_rows = report.fills[-FILL_TABLE_LIMIT:]
    rows = []
    for row in shown_rows:
        r, f = row.recorded, row.recorded.fill
        rows.append(
            [
                text_cell(str(r.seq), css="num"),
                text_cell(when(f.occurred_at)),
                text_cell(f.fill_id),
                *([text_cell(f.account)] if report.multi_account else []),
                text_cell(f.exchange),
                text_cell(f.symbol),
                text_cell(f.side.value),
                number_cell(f.quantity, quantity(f.quantity)),
                number_cell(f.price),
                number_cell(f.fee),
                text_cell(f.strategy or ""),
                number_cell(row.realized, signed=True),
                number_cell(row.cash),
                text_cell(short_hash(r.hash), title=r.hash, css="hash"),
            ]
        )
    headers = [
        "Seq",
        "Occurred at",
        "Fill id",
        *(["Account"] if report.multi_account else []),
        "Exchange",
        "Symbol",
        "Side",
        "Qty",
        "Price",
        "Fee",
        "Strategy",
        "Realized",
        "Cash after",
        "Hash",
    ]
    left_out = len(report.fills) - len(shown_rows)
    note = (
        f'<p class="muted">The first {left_out} fills are left out here (the chart and the totals include them); '
        "<code>tradeledger history</code> lists them all.</p>\n"
        if left_out
        else ""
    )
    return note + table("fills", headers, rows, empty="There are no fills.")


# --- the chart ---------------------------------------------------------------------------------
# SVG coordinates are floats: they are drawing positions, never amounts. Every value is turned into
# a position by one Decimal ratio converted to float at the end (marked "drawing position").

WIDTH, LEFT, RIGHT = 1160, 100, 30
PANEL_HEIGHT, PANEL_TOP, PANEL_GAP = 220, 50, 90
HEIGHT = PANEL_TOP + 2 * PANEL_HEIGHT + PANEL_GAP + 70
TICKS = 5


def nice_ticks(values: Iterable[Decimal]) -> list[Decimal]:
    """Round tick values (1, 2 or 5 times a power of ten) covering every value."""
    values = list(values)
    low, high = min(values), max(values)
    with localcontext(_DISPLAY):
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


def _y(value: Decimal, ticks: Sequence[Decimal], top: int) -> float:
    with localcontext(_DISPLAY):
        ratio = (value - ticks[0]) / (ticks[-1] - ticks[0])
    return top + PANEL_HEIGHT - float(ratio) * PANEL_HEIGHT  # float ok: a drawing position


def _x(moment: datetime, start: datetime, end: datetime) -> float:
    width = WIDTH - LEFT - RIGHT
    if end == start:
        return LEFT + width / 2  # drawing position
    return LEFT + (moment - start) / (end - start) * width  # drawing position (a timedelta ratio)


EVEN_AXIS_TITLE = "fills in the order they occurred, evenly spaced (UTC time at each tick)"


def _even_x(index: int, count: int) -> float:
    width = WIDTH - LEFT - RIGHT
    if count == 1:
        return LEFT + width / 2  # drawing position
    return LEFT + index * width / (count - 1)  # drawing position


def chart_note(report: Report) -> str:
    """What the chart's x axis is, and how to get the other one."""
    if report.chart_axis == "time":
        text = (
            "Fills placed at the time they occurred (UTC), one point per fill; --chart-axis fills spaces them evenly."
        )
    elif report.axis_choice == "fills":
        text = "Fills evenly spaced in the order they occurred, one point per fill (--chart-axis fills)."
    else:
        text = (
            "Fills evenly spaced in the order they occurred, one point per fill, because their times are uneven "
            f"(the longest gap between two fills is over {UNEVEN_GAPS} times the typical one); "
            "--chart-axis time places them at their times."
        )
    return f'<p class="muted" id="chart-axis">{escape(text)}</p>'


def _panel(
    title: str,
    series: Sequence[tuple[str, str, Sequence[Decimal]]],
    baseline: tuple[str, Decimal],
    times: Sequence[float],
    top: int,
    seqs: Sequence[int],
) -> str:
    """One plot: y ticks and grid, a dashed baseline (0, or B0 for cash), one step line per series.

    A cumulative sum changes only at a fill, so each series is a step path: from the previous point
    across to the fill's time (H), then up or down to its new value (V) — one vertex per fill.
    """
    ticks = nice_ticks([baseline[1], *(v for _, _, values in series for v in values)])
    parts = [f'<text class="panel-title" x="{LEFT}" y="{top - 14}">{escape(title)}</text>']
    parts.append(f'<rect class="plot" x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{PANEL_HEIGHT}"/>')
    for tick in ticks:
        y = _y(tick, ticks, top)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.2f}" x2="{WIDTH - RIGHT}" y2="{y:.2f}"/>')
        parts.append(f'<text class="y-label" x="{LEFT - 8}" y="{y + 4:.2f}">{escape(tick_label(tick))}</text>')
    label, level = baseline
    y = _y(level, ticks, top)
    parts.append(f'<line class="baseline" x1="{LEFT}" y1="{y:.2f}" x2="{WIDTH - RIGHT}" y2="{y:.2f}"/>')
    parts.append(f'<text class="baseline-label" x="{LEFT + 6}" y="{y - 5:.2f}">{escape(label)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{top + PANEL_HEIGHT}"/>')
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{top + PANEL_HEIGHT}" x2="{WIDTH - RIGHT}" y2="{top + PANEL_HEIGHT}"/>'
    )
    for name, label, values in series:
        ys = [_y(v, ticks, top) for v in values]
        steps = "".join(f" H{x:.2f} V{y:.2f}" for x, y in zip(times[1:], ys[1:], strict=True))
        parts.append(
            f'<path id="series-{name}" class="series {name}" data-points="{len(values)}" '
            f'd="M{times[0]:.2f},{ys[0]:.2f}{steps}"><title>{escape(label)}</title></path>'
        )
        if len(values) <= MARKER_LIMIT:
            parts.extend(
                f'<circle class="point {name}" cx="{x:.2f}" cy="{y:.2f}" r="3">'
                f"<title>{escape(label)} after seq {seq}: {escape(decimal_text(v))}</title></circle>"
                for x, y, v, seq in zip(times, ys, values, seqs, strict=True)
            )
    return "\n".join(parts)


def chart_svg(report: Report) -> str:
    """Cumulative realized PnL (gross and net of fees) and wallet cash, one point per fill, by time."""
    series = report.series
    if not series:
        return '<p class="empty" id="chart-empty">No fills, so nothing to chart.</p>'
    start, end = series[0].occurred_at, series[-1].occurred_at
    evenly = report.chart_axis == "fills"
    times = [_even_x(i, len(series)) if evenly else _x(point.occurred_at, start, end) for i, point in enumerate(series)]
    seqs = [point.seq for point in series]
    realized = [point.realized for point in series]
    net = [point.net for point in series]
    cash = [point.cash for point in series]
    lower = PANEL_TOP + PANEL_HEIGHT + PANEL_GAP
    parts = [
        (
            f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Cumulative realized PnL and wallet cash over time">'
        ),
        _panel(
            "Cumulative realized PnL (quote currency)",
            [
                ("realized", "realized PnL (gross)", realized),
                ("net", "realized PnL net of fees", net),
            ],
            ("0", ZERO),
            times,
            PANEL_TOP,
            seqs,
        ),
        _panel(
            "Wallet cash (quote currency)",
            [("cash", "wallet cash", cash)],
            (f"B0 = {shown(report.initial_balance)}", report.initial_balance),
            times,
            lower,
            seqs,
        ),
    ]
    legend_y = PANEL_TOP - 14
    for offset, (name, label) in enumerate((("realized", "realized (gross)"), ("net", "net of fees"))):
        key_x = WIDTH - RIGHT - 330 + offset * 170
        parts.append(
            f'<line class="series {name}" x1="{key_x}" y1="{legend_y - 4}" x2="{key_x + 24}" y2="{legend_y - 4}"/>'
        )
        parts.append(f'<text class="legend" x="{key_x + 30}" y="{legend_y}">{escape(label)}</text>')
    axis_y = lower + PANEL_HEIGHT
    count = 1 if (len(series) == 1 if evenly else end == start) else min(TICKS, len(series)) if evenly else TICKS
    for i in range(count):
        if evenly:
            index = 0 if count == 1 else round(i * (len(series) - 1) / (count - 1))
            moment, x = series[index].occurred_at, _even_x(index, len(series))
        else:
            moment = start if count == 1 else start + (end - start) * i / (count - 1)
            x = _x(moment, start, end)
        parts.extend(
            f'<line class="grid" x1="{x:.2f}" y1="{top}" x2="{x:.2f}" y2="{top + PANEL_HEIGHT}"/>'
            for top in (PANEL_TOP, lower)
        )
        utc = moment.astimezone(UTC)
        anchor = "start" if count > 1 and i == 0 else "end" if count > 1 and i == count - 1 else "middle"
        parts.append(
            f'<text class="x-label" text-anchor="{anchor}" x="{x:.2f}" y="{axis_y + 18}">{utc:%Y-%m-%d}</text>'
            f'<text class="x-label" text-anchor="{anchor}" x="{x:.2f}" y="{axis_y + 34}">{utc:%H:%M:%S}</text>'
        )
    parts.append(
        f'<text class="axis-title" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}" y="{HEIGHT - 8}">'
        f"{EVEN_AXIS_TITLE if evenly else 'occurred at (UTC)'}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


# --- the page ----------------------------------------------------------------------------------

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px 32px; color: #1f2328; font-size: 14px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
thead th { background: #f6f8fa; }
table.meta th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.hash, code { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
.pos { color: #116329; } .neg { color: #b3261e; } .muted { color: #6e7781; }
.ok { color: #116329; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
.warn { color: #9a6700; font-weight: 600; }
.empty { color: #6e7781; font-style: italic; }
svg text { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 12px; fill: #1f2328; }
svg .panel-title { font-size: 14px; font-weight: 600; }
svg .y-label { text-anchor: end; }
svg .axis-title { text-anchor: middle; fill: #6e7781; }
svg .plot { fill: #fbfcfd; stroke: none; }
svg .grid { stroke: #e4e8ec; stroke-width: 1; }
svg .baseline { stroke: #8c959f; stroke-width: 1; stroke-dasharray: 4 3; }
svg .baseline-label { fill: #6e7781; font-size: 11px; }
svg .axis { stroke: #57606a; stroke-width: 1.5; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .series.realized { stroke: #0969da; } svg .series.net { stroke: #bf8700; stroke-dasharray: 6 3; }
svg .series.cash { stroke: #1a7f37; }
svg circle.realized { fill: #0969da; } svg circle.net { fill: #bf8700; } svg circle.cash { fill: #1a7f37; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tradeledger report — seq $seq</title>
<style>$style</style>
</head>
<body>
<h1>tradeledger audit report</h1>
<p class="muted">Every number below is folded from the fill log (a replay), not read from the stored
positions; amounts are exact decimals rounded for display (hover a number for its exact value).</p>
$header
<h2>Per symbol</h2>
<p class="muted">Lifetime realized PnL (gross), fees and net per symbol, the open position and its
unrealized PnL at the mark (<code>--mark</code>, else the stored price mark, else unmarked).</p>
$symbols
<h2>Open positions</h2>
$open
<h2>Closed cycles</h2>
$closed
<h2>Totals</h2>
$totals
<h2>Chart</h2>
$chart_note
$chart
<h2>Wallet</h2>
$wallet
<h2>Fills</h2>
$fills
<h2>Audited rollbacks</h2>
<p class="muted">The admin log (hash-chained, append-only): each removal of the log's tail, with every
removed event kept whole in the record.</p>
$rollbacks
</body>
</html>
""")


def render_html(report: Report) -> str:
    return PAGE.substitute(
        seq=report.state.seq,
        style=STYLE,
        header=header_section(report),
        symbols=symbols_section(report),
        open=open_section(report),
        closed=closed_section(report),
        totals=totals_section(report),
        chart_note=chart_note(report) if report.series else "",
        chart=chart_svg(report),
        wallet=wallet_section(report),
        fills=fills_section(report),
        rollbacks=rollbacks_section(report),
    )


# --- the command -------------------------------------------------------------------------------


def write_file(path: Path, text: str) -> Path:
    """Replace `path` atomically, readable by others (a report is for the auditor); a mistyped folder is
    not created, a device such as /dev/stdout is written in place."""
    return write_output(path, text)


def parse_balance(value: str) -> Decimal:
    balance = decimal_text_arg(value)
    if not balance.is_finite() or balance < 0 or significant_digits(balance) > MAX_DIGITS:
        raise InvalidArgument(
            f"--initial-balance: expected an amount >= 0 of at most {MAX_DIGITS} digits (got {value!r})"
        )
    return balance


def report(
    ctx: typer.Context,
    html: Annotated[
        Path, typer.Option("--html", metavar="FILE", help="Where to write the HTML report (replaced atomically).")
    ],
    until_time: Annotated[
        str | None,
        typer.Option("--until-time", metavar="TIME", help="Only fills that occurred at or before this time."),
    ] = None,
    initial_balance: Annotated[
        str | None,
        typer.Option(
            "--initial-balance",
            metavar="DECIMAL",
            help=f"The paper wallet's starting cash B0. Without it: {DEFAULT_INITIAL_BALANCE}, said so on the page.",
        ),
    ] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    mark: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SYMBOL=PRICE", help="SYMBOL=PRICE for unrealized PnL (else the stored mark); repeatable."
        ),
    ] = None,
    chart_axis: Annotated[
        str,
        typer.Option(
            "--chart-axis",
            metavar="auto|time|fills",
            help="The chart's x axis: the fills' times, or the fills evenly spaced; auto: evenly if times are uneven.",
        ),
    ] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of a line.")] = False,
) -> None:
    """Write a self-contained HTML report for an auditor: positions, cycles, PnL, a chart, the chain head."""
    reports_errors(write_report)(
        ctx, html, until_time, initial_balance, account, mark or [], json_output=json_output, chart_axis=chart_axis
    )


def write_report(
    ctx: typer.Context,
    html: Path,
    until_time: str | None,
    initial_balance: str | None,
    account: str | None,
    mark: list[str],
    *,
    json_output: bool,
    chart_axis: str = "auto",
) -> None:
    until = parse_time(until_time, "--until-time") if until_time is not None else None
    balance = None if initial_balance is None else parse_balance(initial_balance)
    marks = parse_marks(mark)
    if chart_axis not in CHART_AXES:
        raise InvalidArgument(f"--chart-axis: expected one of {', '.join(CHART_AXES)} (got {chart_axis!r})")
    with open_ledger(ctx.obj) as ledger:
        built = build_report(
            ledger,
            url=ledger_url(ctx.obj),
            chart_axis=chart_axis,
            generated_at=datetime.now(UTC),
            until_time=until,
            account=account,
            initial_balance=balance,
            marks=marks,
        )
    try:
        written = write_file(html, render_html(built))
    except OSError as error:
        raise InvalidArgument(f"--html: cannot write {str(html)!r} ({error.strerror or error})") from None
    summary = {
        "html": str(written.resolve()),
        "seq": built.state.seq,
        "epoch": built.state.epoch,
        "head_hash": built.verify.head.hash,
        "verify": built.verify.ok,
        "symbols": len(built.symbols),
        "fills": len(built.fills),
    }
    if json_output:
        emit(summary)
    else:
        out().print(
            f"report written to {summary['html']}: {summary['fills']} fills, {summary['symbols']} symbols, "
            f"state seq {built.state.seq}, verify {'ok' if built.verify.ok else 'FAILED'}",
            soft_wrap=True,
        )
    if not built.verify.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)
