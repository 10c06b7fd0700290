"""scripts/bench.py runs end to end (tiny sizes: it checks the script, never a timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


# A stand-in for the legacy TradeManager's module (its code is never in this repository): the same calls the
# bench makes, with the project import it has and an auto-save that must never start.
LEGACY_STAND_IN = """
import json
from decimal import Decimal

from crypto_bot.utils.logger import LOG_DIR


class TradeManager:
    def __init__(self, storage_path=None):
        self.storage_path = storage_path
        self.trades = []
        self.prices = {}
        self._start_auto_save()

    def _start_auto_save(self):
        raise AssertionError("the bench turns the auto-save thread off")

    def record_trade(self, trade):
        self.trades.append(trade)
        self.save_state()

    def save_state(self):
        with open(self.storage_path, "w") as f:
            json.dump({"trades": len(self.trades), "prices": {s: str(p) for s, p in self.prices.items()}}, f)

    def update_price(self, symbol, price):
        self.prices[symbol] = price
        self.save_state()


def create_trade(symbol, side, amount, price, fees=Decimal(0)):
    assert LOG_DIR.is_dir()
    return (symbol, side, amount, price, fees)
"""


def bench(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    scratch = folder / "scratch"
    scratch.mkdir()
    command = [sys.executable, str(SCRIPT), "--quick", "--scale", "0.01", "--runs", "1", "--dir", str(scratch)]
    return subprocess.run([*command, *arguments], capture_output=True, text=True, check=False, timeout=300)


@pytest.mark.bench
def test_bench_quick_prints_the_table_and_the_summary_line(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy" / "trade_manager.py"
    legacy.parent.mkdir()
    legacy.write_text(LEGACY_STAND_IN)

    result = bench(tmp_path, "--legacy-trade-manager", str(legacy))

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
        "fills/txn (durable), fees in the base currency",
        "a TradeManager starting on a 500-fill ledger (open_ledger + constructor + get_all_positions())",
        "a PaperWallet starting on a 500-fill ledger (open_ledger + constructor + positions)",
        "a PaperWallet starting on a 500-fill ledger (open_ledger + constructor + balance, from its checkpoint)",
        "gains --year",
        "update_price",
        "update_price: ours (row above) vs the legacy TradeManager at 10,000 trades",
        "import",
        "ingest ccxt of 100 trades",
        "eventsourcing peer: rebuild, both on the same 500 fills",
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
        # Spec section 8's PostgreSQL row is durable: its target counts only on a server that flushes each commit.
        durable_row = next(line for line in table if "PostgreSQL: one durable fill per transaction" in line)
        cells = [cell.strip() for cell in durable_row.strip("|").split("|")]
        if "fsync=off" in cells[5]:
            assert (cells[7], cells[8]) == ("(none: server not durable)", "-"), durable_row
        else:
            assert "fsync=on" in cells[5], durable_row
            assert cells[7] == ">= 0.50x", durable_row
    assert "skipped: the legacy TradeManager" not in result.stdout
    assert list((tmp_path / "scratch").iterdir()) == []  # the scratch folder is cleaned up


@pytest.mark.bench
def test_without_the_legacy_trade_manager_its_row_is_left_out_saying_how_to_get_it(tmp_path: Path) -> None:
    result = bench(tmp_path, "--only", "ticks")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"bench: \d+/\d+ targets met", lines[-1])
    assert "vs the legacy TradeManager" not in result.stdout
    assert "skipped: the legacy TradeManager's update_price row: pass --legacy-trade-manager PATH" in result.stdout


@pytest.mark.bench
def test_only_startup_builds_the_log_and_times_the_wallet_after_a_first_run_saved_its_checkpoint(
    tmp_path: Path,
) -> None:
    result = bench(tmp_path, "--only", "startup")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"bench: \d+/3 targets met", lines[-1])
    assert "the first PaperWallet's start + balance (no checkpoint yet: a fold) took" in result.stderr
    balance = next(line for line in lines if "constructor + balance, from its checkpoint" in line)
    assert "after a first wallet's run saved its checkpoint" in balance


@pytest.mark.bench
def test_only_gains_times_each_gains_run_in_turns_with_a_rebuild_of_the_same_log(tmp_path: Path) -> None:
    result = bench(tmp_path, "--only", "gains")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"bench: \d+/1 targets met", lines[-1])
    row = next(line for line in lines if line.startswith("| gains --year (fifo) on "))
    assert "our rebuild of every projection, same log, in turns with each gains run" in row
    assert "matched parts" in result.stderr


@pytest.mark.bench
def test_only_batches_shows_the_batches_row_and_the_floor_of_our_logs_schema_under_it(tmp_path: Path) -> None:
    result = bench(tmp_path, "--only", "batches")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"bench: \d+/1 targets met", lines[-1])
    table = [line for line in lines if line.startswith("| ")]
    assert table[1].startswith("| append 100 fills/txn (durable) |")  # table[0]: the header; 10,000 fills at 0.01
    assert table[2].startswith("|   the same events' rows alone into our log's schema (plain executemany)")
    assert "the unique (fill_id, account, exchange) and the append-only trigger" in table[2]
