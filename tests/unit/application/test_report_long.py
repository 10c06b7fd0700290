"""The audit report of a log longer than its tables (issue 19): the report streams the log and keeps only what
the page shows, and every number is the one the report gave when it held every fill as a model.

The expected values below were printed by the report before it streamed (f652304) over the same ledger.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tradeledger import Ledger
from tradeledger.application import audit
from tradeledger.application.audit import FeeTotal, Report, build_report
from tradeledger.cli.report_page import render_html

GENERATED_AT = datetime(2026, 3, 3, tzinfo=UTC)
T0 = datetime(2026, 2, 1, tzinfo=UTC)
SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD")


def long_session(count: int = 3000) -> list[dict[str, Any]]:
    """`count` fills over three symbols (every fourth a sell), every 500th reported 10 hours late, every 7th
    with an unvalued BNB fee beside its quote fee, and a deposit after every 1,000th."""
    events: list[dict[str, Any]] = []
    for i in range(count):
        minute = i - 600 if i % 500 == 499 else i
        fill: dict[str, Any] = {
            "fill_id": f"F{i}", "exchange": "kraken", "symbol": SYMBOLS[i % 3],
            "side": "sell" if i % 4 == 3 else "buy", "quantity": f"{1 + i % 7}",
            "price": f"{100 + (i * 37) % 91}.{i % 10}", "occurred_at": T0 + timedelta(minutes=minute),
        }  # fmt: skip
        if i % 7 == 0:
            fill["fees"] = [{"amount": f"0.{i % 9}"}, {"amount": "0.001", "currency": "BNB"}]
        else:
            fill["fee"] = f"0.{i % 9}"
        events.append(fill)
        if i % 1000 == 999:
            events.append({"type": "transfer", "transfer_id": f"D{i}", "exchange": "kraken", "currency": "USD",
                           "amount": "500", "kind": "deposit", "occurred_at": T0 + timedelta(minutes=i)})  # fmt: skip
    return events


def audit_of(ledger: Ledger, **options: Any) -> Report:
    return build_report(ledger, url="sqlite:////ledger.db", generated_at=GENERATED_AT, **options)


def test_a_report_of_3000_fills_keeps_the_latest_2000_rows_with_the_numbers_of_every_fill(ledger: Ledger) -> None:
    ledger.record_many(long_session())

    report = audit_of(ledger, initial_balance=Decimal(1000))

    assert report.fill_count == 3000
    assert len(report.fills) == 2000
    first, last = report.fills[0], report.fills[-1]
    assert (first.recorded.seq, first.realized, first.cash) == (1002, Decimal("0E-25"), Decimal("-292823.5"))
    assert (last.recorded.seq, last.realized, last.cash) == (
        3002,
        Decimal("-44.2270017038120498552313972"),
        Decimal("-874080.1"),
    )
    overdraft = report.overdraft()
    assert overdraft is not None
    assert (overdraft.first.recorded.seq, overdraft.first.cash) == (4, Decimal("-138.0"))
    assert (overdraft.lowest.recorded.seq, overdraft.lowest.cash) == (2997, Decimal("-874813.0"))
    assert report.fee_totals == (
        FeeTotal("BNB", "USD", 429, Decimal("0.429"), Decimal(0), Decimal("0.429")),
        FeeTotal("USD", "USD", 2666, Decimal("1199.1"), Decimal("1199.1"), Decimal(0)),
    )
    assert [(r.seq, r.fill.event_id) for r in report.movements] == [(1001, "D999"), (2002, "D1999"), (3003, "D2999")]
    assert len(report.series) == report.series_count == 3000
    assert [(p.seq, p.index) for p in (report.series[0], report.series[1500], report.series[-1])] == [
        (500, 0),  # reported late: it occurred first
        (1500, 1500),
        (3001, 2999),
    ]
    assert (report.series[1500].realized, report.series[1500].net, report.series[1500].cash) == (
        Decimal("927.4791883703103450383177336"),
        Decimal("328.2791883703103450383177336"),
        Decimal("-435805.3"),
    )
    assert (report.series[-1].net, report.state.totals.net_pnl) == (
        Decimal("-396.9601388121915759887415959"),
        Decimal("-396.9601388121915759887415958"),
    )


def test_the_page_of_3000_fills_is_the_one_the_report_wrote_when_it_held_every_fill(ledger: Ledger) -> None:
    ledger.record_many(long_session())

    page = render_html(audit_of(ledger))

    assert "The first 1000 fills are left out here" in page
    assert '<span id="fill-count">3000</span>' in page
    assert "chart-thinned" not in page
    # the whole page as the report before streaming (f652304) wrote it, byte for byte
    assert (
        hashlib.sha256(page.encode()).hexdigest() == "5871edadf38ca42b61c63a4ddbfd61e0678e892880a29f5e2eef978b135c2ca6"
    )


def test_the_movements_table_lists_the_latest_ones_and_says_how_many_are_left_out(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "MOVEMENT_TABLE_LIMIT", 2)
    perp = {"exchange": "bybit", "symbol": "BTC/USDT:USDT", "quantity": "1", "occurred_at": T0}
    ledger.record_many(
        [
            {"type": "funding", "funding_id": "f1", "exchange": "bybit", "symbol": "BTC/USDT:USDT",
             "amount": "-2", "currency": "USDT", "occurred_at": T0},
            {**perp, "fill_id": "o", "side": "buy", "price": "100", "fee": "0.1"},
            *[{"type": "transfer", "transfer_id": f"d{i}", "exchange": "bybit", "currency": "USDT",
               "amount": "10", "kind": "deposit", "occurred_at": T0} for i in range(3)],
        ]
    )  # fmt: skip

    report = audit_of(ledger)
    page = render_html(report)

    assert [r.fill.event_id for r in report.movements] == ["d1", "d2"]
    assert report.movement_count == 4
    assert report.has_funding is True  # the funding payment left out of the table still counts
    assert "The first 2 funding payments and transfers are left out here" in page
    assert "<th>Funding</th>" in page


def test_the_report_reads_the_log_only_to_the_head_verify_saw(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger.record_many(long_session(30))
    verify = ledger.verify
    appended: list[int] = []

    def verify_then_append(**options: Any) -> Any:
        checked = verify(**options)
        if not appended:
            appended.append(ledger.record({**long_session(1)[0], "fill_id": "AFTER"}).seq)
        return checked

    monkeypatch.setattr(ledger, "verify", verify_then_append)

    report = audit_of(ledger)

    assert appended == [31]
    assert report.fill_count == 30
    assert report.fills[-1].recorded.seq == 30


def drawn_columns(page: str, series: str) -> dict[int, tuple[float, float]]:
    """What a series' step line covers in each pixel column of the page: its lowest and highest y there."""
    match = re.search(rf'<path id="series-{series}"[^>]* d="M([-\d.]+),([-\d.]+)((?: H[-\d.]+ V[-\d.]+)*)"', page)
    assert match is not None
    x, y = float(match.group(1)), float(match.group(2))
    covered: dict[int, tuple[float, float]] = {}

    def cover(column: int, *ys: float) -> None:
        low, high = covered.get(column, (min(ys), max(ys)))
        covered[column] = (min(low, *ys), max(high, *ys))

    cover(math.floor(x), y)
    for across, to in re.findall(r" H([-\d.]+) V([-\d.]+)", match.group(3)):
        for column in range(math.floor(x), math.floor(float(across)) + 1):
            cover(column, y)
        x, previous, y = float(across), y, float(to)
        cover(math.floor(x), previous, y)
    return covered


def but_the_lines(page: str) -> str:
    """The page without its step lines' vertices and counts, and without the note on the thinning."""
    page = re.sub(r'<p class="muted" id="chart-thinned">[^<]*</p>\n', "", page)
    return re.sub(r' data-points="\d+" d="[^"]*"', "", page)


@pytest.mark.parametrize("axis", ["time", "fills"])
def test_a_thinned_chart_covers_each_pixel_column_as_the_chart_of_every_point(ledger: Ledger, axis: str) -> None:
    ledger.record_many(long_session(5000))  # nine of them reported late: drawn at their times

    whole = audit_of(ledger, chart_axis=axis)
    thinned = audit_of(ledger, chart_axis=axis, thin_above=1000)
    page, thinned_page = render_html(whole), render_html(thinned)

    assert (len(whole.series), whole.series_count) == (5000, 5000)
    assert thinned.series_count == 5000
    assert len(thinned.series) < 5000
    for series in ("realized", "net", "cash"):
        assert drawn_columns(thinned_page, series) == drawn_columns(page, series)
    assert but_the_lines(thinned_page) == but_the_lines(page)  # the ticks, the tables: all the same
    assert f"The lines are drawn through {len(thinned.series):,} of the 5,000 fills&#x27; points" in thinned_page
    assert "chart-thinned" not in page
    assert thinned_page.count("<circle") == page.count("<circle") == 0  # over 400 fills: no markers either way
