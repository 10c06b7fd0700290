"""The HTML report pinned byte for byte: one rich ledger's page, as the report printed it before the page
became a Jinja2 template (issue 14). A change to the page shows here as a diff of the golden file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.e2e.conftest import GOLDEN
from tradeledger import Ledger
from tradeledger.application.audit import build_report
from tradeledger.cli.ndjson import read_fills
from tradeledger.cli.report_page import render_html
from tradeledger.domain.risk import PriceMark

PAGE = GOLDEN / "flip_and_partials.report.html"
GENERATED_AT = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
URL = "sqlite:////srv/ledgers/flip_and_partials.db"  # as shown (an absolute file: shown_url keeps it)
HOSTILE = {
    "fill_id": "<script>alert('x')</script>",
    "account": "core",
    "exchange": "[bold]kraken[/bold]",
    "symbol": "ETH/USD",
    "side": "buy",
    "quantity": "0.5",
    "price": "3000",
    "fee": "0.15",
    "strategy": '"><img src=x onerror=alert(1)> & [red]',
    "occurred_at": "2026-01-05T16:00:00Z",
}


def golden_ledger(ledger: Ledger) -> None:
    """The golden fills, a typo rolled back, a fill of hostile text, and a stored mark for ETH."""
    lines = (GOLDEN / "flip_and_partials.ndjson").read_text(encoding="utf-8").splitlines()
    ledger.append_texts(read_fills(lines).texts)
    ledger.record({**HOSTILE, "fill_id": "TYPO", "quantity": "50"})
    ledger.rollback(to_seq=9, reason="<b>fat finger</b> [bold]50[/bold]", actor="auditor@desk")
    ledger.record(HOSTILE)
    ledger.save_marks([PriceMark("ETH/USD", Decimal(3100), datetime(2026, 1, 6, 8, 0, tzinfo=UTC))])


def test_the_report_of_the_golden_ledger_is_the_golden_page(ledger: Ledger) -> None:
    golden_ledger(ledger)

    built = build_report(ledger, url=URL, generated_at=GENERATED_AT, marks={"BTC/USD": Decimal(190)})

    assert render_html(built) == PAGE.read_text(encoding="utf-8")


def test_the_golden_page_is_written_as_utf8_text_with_one_final_newline() -> None:
    page = PAGE.read_bytes()

    assert page.startswith(b"<!DOCTYPE html>\n")
    assert page.endswith(b"</html>\n")
    assert "—".encode() in page
