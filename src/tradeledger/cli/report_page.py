"""The audit report as one HTML page: `templates/report.html.j2` rendered with Jinja2 over the audit use case.

Autoescaping is on; `escaped` makes it escape the way `html.escape` does (quotes as `&quot;` and `&#x27;`),
as the page always has. The template is package data of tradeledger.cli (pyproject.toml ships it).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from html import escape

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tradeledger.application.audit import Report
from tradeledger.application.lots import GainsReport
from tradeledger.cli import report_chart, report_view
from tradeledger.cli.report_reconcile import ReconcileSection
from tradeledger.domain.fills import decimal_text, time_text


def escaped(value: object) -> Markup:
    """Every `{{ value }}` of the page: HTML already made by a macro as it is, anything else escaped."""
    return value if isinstance(value, Markup) else Markup(escape(str(value)))  # noqa: S704 (escaped here)


def cell(c: report_view.Cell) -> Markup:
    """A table cell, `<td class="{{ css }}" title="{{ title }}">{{ text }}</td>` (no class when it has none, no
    title when None), each value escaped as `{{ }}` escapes it: written here, not by a macro, since a table
    of 2,000 fills has ~24,000 (a macro call costs ~10x this)."""
    css = f' class="{escaped(c.css)}"' if c.css else ""
    title = "" if c.title is None else f' title="{escaped(c.title)}"'
    return Markup(f"<td{css}{title}>{escaped(c.text)}</td>")  # noqa: S704 (each value escaped)


def cells(row: Iterable[report_view.Cell]) -> Markup:
    """A table row's cells, one `cell` after the other."""
    return Markup("".join([cell(c) for c in row]))  # noqa: S704 (each value escaped)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tradeledger.cli", "templates"),
        autoescape=True,
        finalize=escaped,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        shown=report_view.shown, when=report_view.when, time_text=time_text, exact=decimal_text, px=report_chart.px
    )
    chart_constants = ("WIDTH", "HEIGHT", "LEFT", "RIGHT", "PANEL_TOP", "PANEL_HEIGHT", "PLOT_WIDTH", "LEGEND")
    env.globals.update(
        {name: getattr(report_chart, name) for name in chart_constants},
        cell=cell,
        cells=cells,
        number=report_view.number,
        unvalued=report_view.unvalued_text,
        unvalued_at_marks=report_view.unvalued_at_marks,
    )
    return env


def render_html(
    report: Report, gains: GainsReport | None = None, reconciliation: ReconcileSection | None = None
) -> str:
    """The page: the report's tables as rounded cells, its chart as positions, and the rest read from `report`;
    with `gains`, a section of the realized gains of its tax year; with `reconciliation`, a section of the
    ledger against the exchange."""
    tables = {
        "symbols": report_view.symbols_table(report),
        "open": report_view.open_table(report),
        "closed": report_view.closed_table(report),
        "fills": report_view.fills_table(report),
        "rollbacks": report_view.rollbacks_table(report),
        "fee_currencies": report_view.fee_currencies_table(report),
        "movements": report_view.movements_table(report),
        "balances": report_view.balances_table(report),
    }
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            tables=tables,
            fills_left_out=report_view.fills_left_out(report),
            movements_left_out=report_view.movements_left_out(report),
            chart=report_chart.chart(report),
            gains=gains,
            gains_table=None if gains is None else report_view.gains_table(gains),
            reconciliation=reconciliation,
            reconcile_tables=None if reconciliation is None else reconciliation.tables(),
        )
    )
