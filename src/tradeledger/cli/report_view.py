"""The audit report's numbers for people: rounding for display, and the tables' rows as cells (no markup).

`templates/report.html.j2` turns these into HTML; every amount is rounded half-even for display only
(`shown`), its exact value goes with it as the cell's tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext

from tradeledger.application.audit import Mark, Report
from tradeledger.application.lots import GainsReport
from tradeledger.cli.output import short_hash
from tradeledger.domain.display import display_text
from tradeledger.domain.events import Funding, Transfer
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text
from tradeledger.domain.positions import ClosedPosition, Position, UnvaluedFees


def shown(value: Decimal, *, places: int = 8, min_places: int = 2) -> str:
    """`value` rounded half-even to `places` (a nonzero one below the last place: to its first significant digits,
    `domain.display`), trailing zeros dropped down to `min_places`, with thousands commas."""
    return display_text(value, places, keep_places=min_places, commas=True)


def quantity(value: Decimal) -> str:
    return shown(value, min_places=0)


def percent(value: Decimal) -> str:
    return shown(value, places=2)


def when(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: its text, its CSS classes, and a tooltip (the exact value of a rounded number)."""

    text: str
    css: str = ""
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    empty: str  # said instead of an empty table


def text(value: str, *, title: str | None = None, css: str = "") -> Cell:
    return Cell(value, css, title)


def number(value: Decimal, display: str | None = None, *, signed: bool = False) -> Cell:
    """A right-aligned number rounded for display; the exact value is its tooltip."""
    css = "num"
    if signed:
        css += " pos" if value > 0 else " neg" if value < 0 else ""
    return Cell(shown(value) if display is None else display, css, decimal_text(value))


def unvalued_text(unvalued: UnvaluedFees) -> str:
    """Unvalued fees as such, per currency ("0.01 BNB unvalued"); "" when there are none."""
    return ", ".join(f"{quantity(amount)} {currency} unvalued" for currency, amount in unvalued)


def unvalued_at_marks(unvalued: UnvaluedFees, marks: Mapping[str, Mark]) -> str:
    """Unvalued fees as such, each with its value at any `CURRENCY/QUOTE` mark the report has (for display:
    never booked); "" when there are none."""
    parts = []
    for currency, amount in unvalued:
        with localcontext(LEDGER_CONTEXT):
            values = [
                f"{shown(amount * mark.price)} {symbol.partition('/')[2]} at the {symbol} mark"
                for symbol, mark in sorted(marks.items())
                if symbol.partition("/")[0] == currency
            ]
        parts.append(f"{quantity(amount)} {currency} unvalued" + (f" (≈ {', '.join(values)})" if values else ""))
    return ", ".join(parts)


def fees_cell(valued: Decimal, unvalued: UnvaluedFees = ()) -> Cell:
    """Valued fees in the quote, followed by any unvalued ones per currency: never shown as if they were zero."""
    cell = number(valued)
    if not unvalued:
        return cell
    return Cell(f"{cell.text} + {unvalued_text(unvalued)}", cell.css, cell.title)


def blank(note: str = "—") -> Cell:
    return Cell(note, "num muted")


def key_cells(multi_account: bool, account: str, symbol: str) -> list[Cell]:
    """A row's account (when the report holds several: `report.multi_account`, asked once per table, since it
    looks at every symbol) and symbol."""
    return [*([text(account)] if multi_account else []), text(symbol)]


def key_headers(report: Report) -> list[str]:
    return [*(["Account"] if report.multi_account else []), "Symbol"]


MARK_HEADERS = ("Mark", "Mark from", "Unrealized", "Unrealized %")


def unrealized_cells(position: Position, mark: Mark | None) -> list[Cell]:
    if mark is None:
        return [blank("unmarked"), blank(), blank(), blank()]
    pct = position.unrealized_pnl_pct(mark.price)
    return [
        number(mark.price),
        text(mark.source, css="muted"),
        number(position.unrealized_pnl(mark.price), signed=True),
        number(pct, percent(pct)),
    ]


def symbols_table(report: Report) -> Table:
    open_by_key = {p.key: p for p in report.state.open}
    multi_account, has_funding = report.multi_account, report.has_funding
    rows = []
    for (account, symbol), totals in report.state.symbol_totals.items():
        position = open_by_key.get((account, symbol))
        cells = key_cells(multi_account, account, symbol)
        if position is None:
            cells += [text("flat", css="muted"), blank(), blank()]
        else:
            cells += [text(position.side.value), number(position.quantity, quantity(position.quantity))]
            cells.append(number(position.avg_price))
        cells += [number(totals.realized_pnl, signed=True), fees_cell(totals.fees, totals.unvalued_fees)]
        cells += [
            *([number(totals.funding, signed=True)] if has_funding else []),
            number(totals.net_pnl, signed=True),
        ]
        if position is None:
            cells += [blank(), blank(), blank(), blank()]
        else:
            cells += unrealized_cells(position, report.marks.get(symbol))
        rows.append(cells)
    headers = [*key_headers(report), "Open side", "Open qty", "Avg price", "Realized", "Fees", *funding_header(report)]
    headers += ["Net", *MARK_HEADERS]
    return Table("symbols", headers, rows, "No symbol has been traded.")


def funding_header(report: Report, suffix: str = "") -> list[str]:
    """The funding column of the PnL tables, there when the report holds a funding payment (so Net adds up)."""
    return [f"Funding{suffix}"] if report.has_funding else []


def cycle_cells(p: Position | ClosedPosition, *, multi_account: bool, has_funding: bool) -> list[Cell]:
    """What an open position and a closed cycle share: key, side, size, price, PnL, and when it opened."""
    return [
        *key_cells(multi_account, p.account, p.symbol),
        text(p.side.value),
        number(p.quantity, quantity(p.quantity)),
        number(p.avg_price),
        number(p.realized_pnl, signed=True),
        fees_cell(p.fees, p.unvalued_fees),
        *([number(p.funding, signed=True)] if has_funding else []),
        number(p.net_pnl, signed=True),
        text(str(p.opened_seq), css="num"),
        text(when(p.opened_at)),
    ]


def open_table(report: Report) -> Table:
    shared = {"multi_account": report.multi_account, "has_funding": report.has_funding}
    rows = [[*cycle_cells(p, **shared), *unrealized_cells(p, report.marks.get(p.symbol))] for p in report.state.open]
    headers = [*key_headers(report), "Side", "Qty", "Avg price", "Realized (cycle)", "Fees (cycle)"]
    headers += [*funding_header(report, " (cycle)"), "Net (cycle)"]
    return Table("open", [*headers, "Opened seq", "Opened at", *MARK_HEADERS], rows, "No open positions.")


def closed_table(report: Report) -> Table:
    shared = {"multi_account": report.multi_account, "has_funding": report.has_funding}
    rows = [
        [*cycle_cells(c, **shared), text(str(c.closed_seq), css="num"), text(when(c.closed_at))]
        for c in report.state.closed
    ]
    headers = [*key_headers(report), "Side", "Qty", "Avg price", "Realized", "Fees", *funding_header(report), "Net"]
    headers += ["Opened seq"]
    return Table("closed", [*headers, "Opened at", "Closed seq", "Closed at"], rows, "No closed cycles.")


def rollbacks_table(report: Report) -> Table:
    """The admin log: every audited rollback, who, when, why and which events it removed (with their hashes)."""
    rows = []
    for record in report.verify.rollbacks:
        gone = (
            ", ".join(f"#{event.seq} {event.fill_id} ({short_hash(event.hash)})" for event in record.removed_events())
            if record.removed_read()
            else "cannot be read (see verify)"
        )
        rows.append(
            [
                text(str(record.id)),
                text(record.at),
                text(record.actor),
                text(record.reason),
                text(f"epoch {record.from_epoch} seq {record.from_seq}", title=record.from_hash),
                text(f"epoch {record.to_epoch} seq {record.to_seq}", title=record.to_hash),
                text(gone or "—"),
                text(short_hash(record.hash), title=record.hash, css="hash"),
            ]
        )
    headers = ["#", "At", "By", "Reason", "From head", "To head", "Removed events", "Record hash"]
    return Table("rollbacks", headers, rows, "No rollback: the log has only ever been appended to.")


def fills_table(report: Report) -> Table:
    """The latest FILL_TABLE_LIMIT fills (`fills_left_out` says how many earlier ones are not listed)."""
    multi_account = report.multi_account
    rows = []
    for row in report.fills:  # the latest FILL_TABLE_LIMIT (application.audit keeps no more)
        r, f = row.recorded, row.fill
        rows.append(
            [
                text(str(r.seq), css="num"),
                text(when(f.occurred_at)),
                text(f.fill_id),
                *([text(f.account)] if multi_account else []),
                text(f.exchange),
                text(f.symbol),
                text(f.side.value),
                number(f.quantity, quantity(f.quantity)),
                number(f.price),
                fees_cell(f.fee, f.fee_split().unvalued),
                text(f.strategy or ""),
                number(row.realized, signed=True),
                number(row.cash),
                text(short_hash(r.hash), title=r.hash, css="hash"),
            ]
        )
    headers = ["Seq", "Occurred at", "Fill id", *(["Account"] if report.multi_account else []), "Exchange"]
    headers += ["Symbol", "Side", "Qty", "Price", "Fee", "Strategy", "Realized", "Cash after", "Hash"]
    return Table("fills", headers, rows, "There are no fills.")


def fills_left_out(report: Report) -> int:
    return report.fill_count - len(report.fills)


def movements_left_out(report: Report) -> int:
    return report.movement_count - len(report.movements)


def fee_currencies_table(report: Report) -> Table:
    """Every fee of the report's fills per currency paid in (and quote currency of the symbols it was paid on)."""
    rows = [
        [
            text(total.currency),
            text(total.quote),
            text(str(total.fills), css="num"),
            number(total.amount, quantity(total.amount)),
            number(total.valued),
            number(total.unvalued, f"{quantity(total.unvalued)} {total.currency} unvalued")
            if total.unvalued
            else blank(),
        ]
        for total in report.fee_totals
    ]
    headers = ["Fee currency", "Quote", "Fills", "Amount paid", "Quote value (valued)", "Unvalued"]
    return Table("fee-currencies", headers, rows, "No fees were paid.")


def movements_table(report: Report) -> Table:
    """The latest MOVEMENT_TABLE_LIMIT funding payments and transfers of the log (`movements_left_out` says how
    many earlier ones are not listed; the fills table lists fills only)."""
    rows = []
    for r in report.movements:
        event = r.fill
        assert isinstance(event, Funding | Transfer)
        if isinstance(event, Funding):
            what, kind, fee = event.symbol, "funding", blank()
        else:
            what, kind, fee = event.currency, event.kind.value, number(event.fee, quantity(event.fee))
        rows.append(
            [
                text(str(r.seq), css="num"),
                text(when(event.occurred_at)),
                text(event.event_id),
                text(event.account),
                text(event.exchange),
                text(what),
                text(kind),
                number(event.amount, quantity(event.amount), signed=True),
                text(event.currency),
                fee,
                text(short_hash(r.hash), title=r.hash, css="hash"),
            ]
        )
    headers = ["Seq", "Occurred at", "Id", "Account", "Exchange", "Symbol or currency", "Kind", "Amount", "Currency"]
    return Table("movements", [*headers, "Transfer fee", "Hash"], rows, "No funding payments or transfers.")


def balances_table(report: Report) -> Table:
    rows = [
        [text(b.account), text(b.exchange), text(b.currency), number(b.amount, quantity(b.amount), signed=True)]
        for b in report.balances.balances
    ]
    headers = ["Account", "Exchange", "Currency", "Amount"]
    return Table("balances", headers, rows, "No balances: nothing has moved any currency.")


def gains_table(gains: GainsReport) -> Table:
    """The matched parts of the tax year's disposals (`tradeledger gains`), amounts in each symbol's quote."""
    rows = [
        [
            text(row.account),
            text(f"{row.currency}/{row.quote}"),
            number(row.quantity, quantity(row.quantity)),
            text(when(row.acquired_at)),
            text(str(row.acquired_seq), css="num"),
            text(when(row.disposed_at)),
            text(str(row.disposed_seq), css="num"),
            number(row.proceeds),
            number(row.cost_basis),
            number(row.gain, signed=True),
            text(row.term),
        ]
        for row in gains.rows
    ]
    headers = ["Account", "Symbol", "Quantity", "Acquired", "Acq. seq", "Disposed", "Disp. seq", "Proceeds"]
    return Table("gains", [*headers, "Cost basis", "Gain", "Term"], rows, "No disposals in this tax year.")
