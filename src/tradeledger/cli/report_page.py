"""The report's page: the numbers of `application.report` as display text, rendered by a Jinja2 template
(templates/report.html.j2, autoescaped). Amounts are rounded for display only; the exact value of
each number is its cell's tooltip. The page needs nothing from the network: the CSS is inline and
the chart is an SVG (cli/report_chart.py), no JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from functools import cache
from html import escape
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tradeledger.application.report import FillRow, Mark, Report
from tradeledger.cli.output import short_hash
from tradeledger.cli.report_chart import chart, shown
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, time_text
from tradeledger.domain.positions import ZERO, ClosedPosition, Position

# The fill table lists the latest fills only (the chart and every total still use all of them);
# `tradeledger history` and `export` list the whole log.
FILL_TABLE_LIMIT = 2000


def quantity(value: Decimal) -> str:
    return shown(value, min_places=0)


def percent(value: Decimal) -> str:
    return shown(value, places=2)


def when(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: its text, an optional tooltip, CSS classes."""

    text: str
    title: str | None = None
    css: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    empty: str  # said instead of an empty table


def _number_cell(value: Decimal, display: str | None = None, *, signed: bool = False) -> Cell:
    """A right-aligned number rounded for display; the exact value is its tooltip."""
    css = "num"
    if signed:
        css += " pos" if value > 0 else " neg" if value < 0 else ""
    return Cell(shown(value) if display is None else display, decimal_text(value), css)


def _blank_cell(note: str = "—") -> Cell:
    return Cell(note, css="num muted")


def _key_cells(report: Report, account: str, symbol: str) -> list[Cell]:
    return [*([Cell(account)] if report.multi_account else []), Cell(symbol)]


def _key_headers(report: Report) -> list[str]:
    return [*(["Account"] if report.multi_account else []), "Symbol"]


def _unrealized_cells(position: Position, mark: Mark | None) -> list[Cell]:
    if mark is None:
        return [_blank_cell("unmarked"), _blank_cell(), _blank_cell(), _blank_cell()]
    pct = position.unrealized_pnl_pct(mark.price)
    return [
        _number_cell(mark.price),
        Cell(mark.source, css="muted"),
        _number_cell(position.unrealized_pnl(mark.price), signed=True),
        _number_cell(pct, percent(pct)),
    ]


_MARK_HEADERS = ["Mark", "Mark from", "Unrealized", "Unrealized %"]


def _symbols_table(report: Report) -> Table:
    open_by_key = {p.key: p for p in report.state.open}
    rows = []
    for (account, symbol), totals in report.state.symbol_totals.items():
        position = open_by_key.get((account, symbol))
        cells = _key_cells(report, account, symbol)
        if position is None:
            cells += [Cell("flat", css="muted"), _blank_cell(), _blank_cell()]
        else:
            cells += [Cell(position.side.value), _number_cell(position.quantity, quantity(position.quantity))]
            cells.append(_number_cell(position.avg_price))
        cells += [
            _number_cell(totals.realized_pnl, signed=True),
            _number_cell(totals.fees),
            _number_cell(totals.net_pnl, signed=True),
        ]
        if position is None:
            cells += [_blank_cell(), _blank_cell(), _blank_cell(), _blank_cell()]
        else:
            cells += _unrealized_cells(position, report.marks.get(symbol))
        rows.append(cells)
    headers = [*_key_headers(report), "Open side", "Open qty", "Avg price", "Realized", "Fees", "Net", *_MARK_HEADERS]
    return Table("symbols", headers, rows, "No symbol has been traded.")


def _open_table(report: Report) -> Table:
    rows = [
        [
            *_key_cells(report, p.account, p.symbol),
            Cell(p.side.value),
            _number_cell(p.quantity, quantity(p.quantity)),
            _number_cell(p.avg_price),
            _number_cell(p.realized_pnl, signed=True),
            _number_cell(p.fees),
            _number_cell(p.net_pnl, signed=True),
            Cell(str(p.opened_seq), css="num"),
            Cell(when(p.opened_at)),
            *_unrealized_cells(p, report.marks.get(p.symbol)),
        ]
        for p in report.state.open
    ]
    headers = [
        *_key_headers(report),
        *("Side", "Qty", "Avg price", "Realized (cycle)", "Fees (cycle)", "Net (cycle)", "Opened seq", "Opened at"),
        *_MARK_HEADERS,
    ]
    return Table("open", headers, rows, "No open positions.")


def _closed_table(report: Report) -> Table:
    def row(c: ClosedPosition) -> list[Cell]:
        return [
            *_key_cells(report, c.account, c.symbol),
            Cell(c.side.value),
            _number_cell(c.quantity, quantity(c.quantity)),
            _number_cell(c.avg_price),
            _number_cell(c.realized_pnl, signed=True),
            _number_cell(c.fees),
            _number_cell(c.net_pnl, signed=True),
            Cell(str(c.opened_seq), css="num"),
            Cell(when(c.opened_at)),
            Cell(str(c.closed_seq), css="num"),
            Cell(when(c.closed_at)),
        ]

    headers = [
        *_key_headers(report),
        *("Side", "Qty", "Avg price", "Realized", "Fees", "Net", "Opened seq", "Opened at", "Closed seq", "Closed at"),
    ]
    return Table("closed", headers, [row(c) for c in report.state.closed], "No closed cycles.")


def _rollbacks_table(report: Report) -> Table:
    """The admin log: every audited rollback, who, when, why and which events it removed (with their hashes)."""
    rows = []
    for record in report.verify.rollbacks:
        removed = record.removed_events()
        gone = ", ".join(f"#{event.seq} {event.fill_id} ({short_hash(event.hash)})" for event in removed)
        rows.append(
            [
                Cell(str(record.id)),
                Cell(record.at),
                Cell(record.actor),
                Cell(record.reason),
                Cell(f"epoch {record.from_epoch} seq {record.from_seq}", record.from_hash),
                Cell(f"epoch {record.to_epoch} seq {record.to_seq}", record.to_hash),
                Cell(gone or "—"),
                Cell(short_hash(record.hash), record.hash, "hash"),
            ]
        )
    headers = ["#", "At", "By", "Reason", "From head", "To head", "Removed events", "Record hash"]
    return Table("rollbacks", headers, rows, "No rollback: the log has only ever been appended to.")


def _totals_rows(report: Report) -> list[tuple[str, Cell]]:
    totals = report.state.totals
    marked = [p for p in report.state.open if p.symbol in report.marks]
    with localcontext(LEDGER_CONTEXT):
        unrealized = report.state.unrealized_pnl({symbol: mark.price for symbol, mark in report.marks.items()})
        with_unrealized = totals.net_pnl + unrealized
    unmarked = len(report.state.open) - len(marked)
    note = f" ({unmarked} open position(s) unmarked, not included)" if unmarked else ""
    return [
        ("Realized (gross)", _number_cell(totals.realized_pnl, signed=True)),
        ("Fees", _number_cell(totals.fees)),
        ("Net realized", _number_cell(totals.net_pnl, signed=True)),
        (f"Unrealized at mark{note}", _number_cell(unrealized, signed=True)),
        ("Net realized + unrealized", _number_cell(with_unrealized, signed=True)),
    ]


def _wallet_rows(report: Report) -> list[tuple[str, Cell]]:
    """The invariant's terms (WalletBook checked it after every fill, it raises otherwise)."""
    wallet = report.wallet
    with localcontext(LEDGER_CONTEXT):
        held = sum(wallet.cost_basis.values(), ZERO)
        left = wallet.cash + held
        right = wallet.initial_balance + wallet.realized_pnl - wallet.fees
        difference = left - right
    return [
        ("Initial balance B0", _number_cell(wallet.initial_balance)),
        ("Cash", _number_cell(wallet.cash)),
        ("Open positions at cost Σ|s|·avg", _number_cell(held)),
        ("cash + Σ|s|·avg", _number_cell(left)),
        ("B0 + realized \u2212 fees", _number_cell(right)),
        ("Difference", _number_cell(difference, decimal_text(difference))),
    ]


def balance_note(report: Report) -> str:
    b0 = shown(report.wallet.initial_balance)
    if report.balance_given:
        return f"Starting balance B0 = {b0}, given with --initial-balance."
    return (
        f"Starting balance B0 = {b0}: a default, not read from the ledger (which does not hold the "
        "wallet's starting cash); pass --initial-balance B0 for the real one."
    )


def _overdraft_note(fills: Sequence[FillRow]) -> str | None:
    """When the cash-secured wallet's cash went below zero after some fill, what to say about it."""
    below = [row for row in fills if row.cash < 0]
    if not below:
        return None
    first, lowest = below[0], min(below, key=lambda row: row.cash)
    return (
        f"Overdraft: the cash went below zero, first after seq {first.recorded.seq} ({shown(first.cash)}), "
        f"lowest {shown(lowest.cash)} after seq {lowest.recorded.seq}. A cash-secured wallet cannot spend more "
        "than it holds: the starting balance is too low for these fills, or they did not go through this wallet."
    )


def _fills_table(report: Report) -> Table:
    rows = []
    for row in report.fills[-FILL_TABLE_LIMIT:]:
        r, f = row.recorded, row.recorded.fill
        rows.append(
            [
                Cell(str(r.seq), css="num"),
                Cell(when(f.occurred_at)),
                Cell(f.fill_id),
                *([Cell(f.account)] if report.multi_account else []),
                Cell(f.exchange),
                Cell(f.symbol),
                Cell(f.side.value),
                _number_cell(f.quantity, quantity(f.quantity)),
                _number_cell(f.price),
                _number_cell(f.fee),
                Cell(f.strategy or ""),
                _number_cell(row.realized, signed=True),
                _number_cell(row.cash),
                Cell(short_hash(r.hash), r.hash, "hash"),
            ]
        )
    headers = [
        *("Seq", "Occurred at", "Fill id", *(["Account"] if report.multi_account else []), "Exchange", "Symbol"),
        *("Side", "Qty", "Price", "Fee", "Strategy", "Realized", "Cash after", "Hash"),
    ]
    return Table("fills", headers, rows, "There are no fills.")


def _html_escaped(value: Any) -> Any:  # noqa: ANN401 - any value a template prints
    """Text escaped as html.escape does (quotes as &quot; and &#x27;); markup and numbers as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(escape(value))  # noqa: S704 - escaped on this line
    return value


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("tradeledger.cli", "templates"),
        autoescape=True,
        finalize=_html_escaped,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )


def render_html(report: Report) -> str:
    """The whole page, one self-contained HTML document."""
    check = report.verify
    first = check.problems[0] if check.problems else None
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            r=report,
            state=report.state,
            check=check,
            first_where=None if first is None else ("ledger" if first.seq is None else f"seq {first.seq}"),
            quotes=", ".join(sorted({symbol.partition("/")[2] for _, symbol in report.symbols})),
            generated=when(report.generated_at),
            until=None if report.until_time is None else time_text(report.until_time),
            symbols=_symbols_table(report),
            open=_open_table(report),
            closed=_closed_table(report),
            totals=_totals_rows(report),
            chart=chart(report),
            wallet=_wallet_rows(report),
            balance_note=balance_note(report),
            overdraft=_overdraft_note(report.fills),
            fills=_fills_table(report),
            fills_left_out=len(report.fills) - min(len(report.fills), FILL_TABLE_LIMIT),
            rollbacks=_rollbacks_table(report),
        )
    )
