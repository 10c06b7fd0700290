"""The HTML report rendered by headless Chromium: a screenshot that is not blank, and a DOM with tables and chart.

Needs Debian's `chromium` (`.ci/run` installs it); without /usr/bin/chromium these tests skip, except
under `.ci/run` (TRADELEDGER_TEST_BROWSER_REQUIRED=1), where a missing browser fails the run.
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_report import SESSION, record_session
from tests.e2e.test_report_reconcile import MATCHING, balance_file, record

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 2000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HOW_TO = "needs headless Chromium at /usr/bin/chromium: apt-get install chromium (CI installs it)"
REQUIRED = os.environ.get("TRADELEDGER_TEST_BROWSER_REQUIRED") == "1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists() and not REQUIRED, reason=HOW_TO),
]


def chromium(tmp_path: Path, page: Path, *action: str) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium on a local file, offline and with a throwaway profile."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *action,
        page.resolve().as_uri(),
    ]
    result = subprocess.run(
        command, capture_output=True, timeout=60, check=False, env={**os.environ, "HOME": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return result


def screenshot(tmp_path: Path, page: Path, name: str) -> Path:
    png = tmp_path / name
    chromium(tmp_path, page, f"--screenshot={png}")
    assert png.exists(), f"chromium wrote no screenshot for {page}"
    return png


def png_size(png: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must follow the PNG signature."""
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    length, chunk, width, height = struct.unpack(">I4sII", data[8:24])
    assert (length, chunk) == (13, b"IHDR")
    return width, height


@pytest.fixture
def report(cli: Cli, tmp_path: Path) -> Path:
    record_session(cli.url)
    target = tmp_path / "report.html"
    cli("report", "--html", str(target), "--mark", "BTC/USD=80")
    return target


def test_the_report_renders_to_a_full_screenshot_that_is_not_blank(report: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>", encoding="utf-8")

    shot = screenshot(tmp_path, report, "report.png")
    empty = screenshot(tmp_path, blank, "blank.png")

    assert png_size(shot) == (WIDTH, HEIGHT)
    assert png_size(empty) == (WIDTH, HEIGHT)
    # Text, tables and the chart compress far worse than a white page of the same size.
    assert shot.stat().st_size > 10 * empty.stat().st_size, (shot.stat().st_size, empty.stat().st_size)


def test_the_rendered_dom_holds_the_tables_rows_and_the_charts_lines(report: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, report, "--dump-dom").stdout.decode()

    for table in ("header", "symbols", "open", "closed", "totals", "wallet", "fills"):
        assert f'<table id="{table}"' in dom or f'<table class="meta" id="{table}"' in dom, table
    assert "<td>BTC/USD</td><td>short</td>" in dom
    assert "<td>ETH/USD</td><td>long</td>" in dom
    assert ">-15.00</td>" in dom  # the closed BTC cycle's realized PnL
    assert ">10.00</td>" in dom  # BTC's unrealized PnL at the mark 80
    assert '<svg id="chart"' in dom
    for series in ("realized", "net", "cash"):
        assert f'<path id="series-{series}"' in dom
        assert dom.count(f'<circle class="point {series}"') == len(SESSION)
    assert "passed" in dom


def test_the_reconciliation_section_renders_with_its_verdict_and_tables(cli: Cli, tmp_path: Path) -> None:
    record(cli.url)
    balances = balance_file(tmp_path, {**MATCHING, "USDT": "819.86", "<script>x</script>": "1"})
    target = tmp_path / "report.html"
    cli("report", "--html", str(target), "--reconcile-balances", balances, expect=1)

    dom = chromium(tmp_path, target, "--dump-dom").stdout.decode()

    assert "The ledger differs from the exchange: 2 balances differ." in dom
    assert '<table id="reconcile-balances"' in dom
    assert '<td class="num bad" title="100">100</td>' in dom  # USDT: a deposit not ingested
    assert "<td>&lt;script&gt;x&lt;/script&gt;</td>" in dom  # the currency as text, never an element
    assert "<script" not in dom
