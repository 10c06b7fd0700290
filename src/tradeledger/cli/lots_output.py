"""What `gains` and `lots` print (spec section 11): their JSON shapes, the capital-gains CSV, Rich tables.

Shared by the `gains` and `lots` commands and the report's gains section. Amounts are exact decimal
strings in JSON and CSV, rounded for people in tables; times are ISO 8601 in UTC. Every amount is in
the quote currency of its symbol: the tables and the CSV name it (the JSON shape of the spec has
`currency` only; `--quote` keeps one quote currency, so that the totals add like with like).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.text import Text

from tradeledger.application.lots import GainsReport, LotsReport
from tradeledger.cli.output import iso, money, shown
from tradeledger.cli.tables import Cell, Column, RowsOf, print_table
from tradeledger.domain.display import cents
from tradeledger.domain.fills import decimal_text
from tradeledger.domain.lot_terms import GainRow, GainTotals, MissingAcquisition, OpenLot

CSV_CHUNK = 2_000  # rows of the worksheet written at once
CSV_COLUMNS = ("description", "date acquired", "date sold", "proceeds", "cost basis", "gain", "term")


def gain_row_json(row: GainRow) -> dict[str, Any]:
    return {
        "account": row.account,
        "currency": row.currency,
        "quantity": decimal_text(row.quantity),
        "acquired_at": iso(row.acquired_at),
        "acquired_seq": row.acquired_seq,
        "disposed_at": iso(row.disposed_at),
        "disposed_seq": row.disposed_seq,
        "proceeds": decimal_text(row.proceeds),
        "cost_basis": decimal_text(row.cost_basis),
        "gain": decimal_text(row.gain),
        "term": row.term,
    }


def missing_json(item: MissingAcquisition) -> dict[str, Any]:
    return {
        "account": item.account,
        "currency": item.currency,
        "quantity": decimal_text(item.quantity),
        "seq": item.seq,
    }


def gain_totals_json(totals: GainTotals) -> dict[str, str]:
    return {
        "proceeds": decimal_text(totals.proceeds),
        "cost_basis": decimal_text(totals.cost_basis),
        "gain": decimal_text(totals.gain),
        "short": decimal_text(totals.short),
        "long": decimal_text(totals.long),
    }


def gains_json(report: GainsReport) -> dict[str, Any]:
    """`gains --json`: {"seq", "method", "year", "rows", "missing", "totals"} (spec section 11); "rows" and "missing"
    are iterators, each item made as `emit` writes it (cli/json_text.py)."""
    method: str | dict[str, str] = report.methods() if report.year is None else report.plan.method_of(report.year).value
    return {
        "seq": report.seq,
        "method": method,
        "year": report.year,
        "rows": map(gain_row_json, report.rows),
        "missing": map(missing_json, report.missing),
        "totals": gain_totals_json(report.totals),
    }


def lots_json(report: LotsReport) -> dict[str, Any]:
    """`lots --json`: {"seq", "method", "lots": [{"account", "currency", "quantity", "unit_cost",
    "acquired_at", "acquired_seq"}]} (spec section 11); "lots" is an iterator, as in `gains_json`."""
    return {
        "seq": report.seq,
        "method": report.method(),
        "lots": (
            {
                "account": lot.account,
                "currency": lot.currency,
                "quantity": decimal_text(lot.quantity),
                "unit_cost": decimal_text(lot.unit_cost),
                "acquired_at": iso(lot.acquired_at),
                "acquired_seq": lot.acquired_seq,
            }
            for lot in report.lots
        ),
    }


def description(row: GainRow) -> str:
    """What a worksheet row sold: `0.5 BTC (BTC/USDT, account default)`; a short lot bought back says so."""
    short = "short sale bought back, " if row.quantity < 0 else ""
    return (
        f"{decimal_text(abs(row.quantity))} {row.currency} ({short}{row.currency}/{row.quote}, account {row.account})"
    )


def gains_csv(report: GainsReport) -> Iterator[str]:
    """The capital-gains worksheet: one line per matched part, dates in UTC, amounts exact; its text in pieces of
    CSV_CHUNK rows, for a file written as they come (never the whole text at once)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(report.rows, start=1):
        writer.writerow(
            (
                description(row),
                iso(row.acquired_at)[:10],
                iso(row.disposed_at)[:10],
                decimal_text(row.proceeds),
                decimal_text(row.cost_basis),
                decimal_text(row.gain),
                row.term,
            )
        )
        if count % CSV_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def methods_named(methods: str | dict[str, str]) -> str:
    """`method fifo` when one method holds for every year shown, else `methods 2024 fifo, 2025 hifo`."""
    if isinstance(methods, str):
        return f"method {methods}"
    if len(set(methods.values())) == 1:
        return f"method {next(iter(methods.values()))}"
    return "methods " + ", ".join(f"{year} {method}" for year, method in methods.items())


def method_text(report: GainsReport) -> str:
    if report.year is not None:
        return methods_named(report.plan.method_of(report.year).value)
    return methods_named(report.methods() or report.plan.years[0][1].value)


def print_missing(console: Console, report: GainsReport) -> None:
    """A line per missing acquisition (a disposal no lot held): under the table, and after the CSV worksheet,
    which has no row for it (it has no cost basis)."""
    for item in report.missing:
        where = f"{item.currency}/{item.quote}" if item.quote else item.currency
        console.print(
            f"missing acquisition: {shown(item.quantity)} {item.currency} disposed at seq {item.seq} "
            f"({where}, account {item.account}) matched no lot",
            style="yellow",
            highlight=False,
        )


def print_gains(console: Console, report: GainsReport) -> None:
    """The matched parts as a table, then the missing acquisitions and the totals."""
    columns = [
        Column("Account", wraps=True, left=True),
        Column("Symbol", left=True),
        Column("Quantity"),
        Column("Acquired", drop=2),
        Column("Acq. seq", drop=3),
        Column("Disposed", drop=1),
        Column("Disp. seq", drop=3),
        Column("Proceeds"),
        Column("Cost basis"),
        Column("Gain"),
        Column("Term", left=True),
    ]
    year = "every year" if report.year is None else str(report.year)
    title = f"Gains, {year}: seq {report.seq}, {method_text(report)}"
    print_table(console, title, columns, RowsOf(report.rows, _gain_cells), empty="no disposals matched")
    print_missing(console, report)
    totals = report.totals
    console.print(
        Text.assemble(
            f"totals: proceeds {cents(totals.proceeds)}, cost basis {cents(totals.cost_basis)}, gain ",
            money(totals.gain),
            " (short ",
            money(totals.short),
            ", long ",
            money(totals.long),
            ")",
        ),
        highlight=False,
    )


def _gain_cells(row: GainRow) -> list[Cell]:
    return [
        row.account,
        f"{row.currency}/{row.quote}",
        shown(row.quantity),
        iso(row.acquired_at)[:19].replace("T", " "),
        str(row.acquired_seq),
        iso(row.disposed_at)[:19].replace("T", " "),
        str(row.disposed_seq),
        cents(row.proceeds),
        cents(row.cost_basis),
        money(row.gain),
        row.term,
    ]


def _lot_cells(lot: OpenLot) -> list[Cell]:
    return [
        lot.account,
        f"{lot.currency}/{lot.quote}",
        shown(lot.quantity),
        shown(lot.unit_cost),
        iso(lot.acquired_at)[:19].replace("T", " "),
        str(lot.acquired_seq),
    ]


def print_lots(console: Console, report: LotsReport) -> None:
    columns = [
        Column("Account", wraps=True, left=True),
        Column("Symbol", left=True),
        Column("Quantity"),
        Column("Unit cost"),
        Column("Acquired", drop=1),
        Column("Seq", drop=2),
    ]
    rows = RowsOf(report.lots, _lot_cells)
    title = f"Open lots: seq {report.seq}, {methods_named(report.method())}"
    print_table(console, title, columns, rows, empty="no open lots")
