"""The report's page, byte for byte, for the golden fills: what an auditor reviewed stays what they get.

The page is written by a template (cli/templates/report.html.j2); a change to it shows here as a diff
of the whole page. To accept a reviewed change, run this file with TRADELEDGER_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.e2e.conftest import GOLDEN
from tradeledger import open_ledger
from tradeledger.application.report import build_report
from tradeledger.cli.report_page import render_html
from tradeledger.domain.risk import PriceMark

RECORDED_AT = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
GENERATED_AT = datetime(2026, 1, 7, 9, 30, tzinfo=UTC)
PAGE = GOLDEN / "flip_and_partials.report.html"


def test_the_report_page_of_the_golden_fills_is_the_reviewed_page(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=lambda: RECORDED_AT) as ledger:
        for line in (GOLDEN / "flip_and_partials.ndjson").read_text().splitlines():
            if line.strip():
                ledger.record(json.loads(line, parse_float=str, parse_int=str))
        ledger.save_marks([PriceMark("ETH/USD", Decimal(3100), RECORDED_AT)], [])
        report = build_report(
            ledger, url="sqlite:///ledger.db", generated_at=GENERATED_AT, marks={"BTC/USD": Decimal(190)}
        )

    page = render_html(report)

    if os.environ.get("TRADELEDGER_UPDATE_GOLDEN") == "1":
        PAGE.write_text(page)
    assert page == PAGE.read_text()
