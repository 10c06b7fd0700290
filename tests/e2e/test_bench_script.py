"""scripts/bench.py runs end to end (tiny sizes: it checks the script, never a timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


@pytest.mark.bench
def test_bench_quick_prints_the_table_and_the_summary_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--scale", "0.01", "--runs", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"bench: \d+/\d+ targets met", lines[-1])
    table = [line for line in lines if line.startswith("| ")]
    operations = " ".join(table)
    rows = (
        "append 1 fill/txn",
        "fills/txn",
        "rebuild",
        "peak RSS",
        "state as of",
        "gains --year",
        "update_price",
        "import",
        "subscriber's hands, p50, SQLite",
        "subscriber's hands, p99, SQLite",
    )
    for row in rows:
        assert row in operations
    # Every row measured something: min, median and max are figures such as 389.4k or 1.2M, not "-" (a
    # latency, commit -> subscriber, may come out a hair below zero: the writer stamps after commit returns).
    for line in table[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert all(re.fullmatch(r"-?[\d.,]+[kMG]?( ?[a-zA-Z/]+)?", cell) for cell in cells[2:5]), line
    if "skipped: PostgreSQL rows" not in result.stdout:  # a server was given: its rows ran
        for row in (
            "subscriber's hands, p50, PostgreSQL",
            "on PostgreSQL, 2 writer processes",
            "PostgreSQL: one durable fill per transaction",
        ):
            assert row in operations
    assert list(tmp_path.iterdir()) == []  # the scratch folder is cleaned up
