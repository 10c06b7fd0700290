"""The paper-trading bot loop (`tradeledger paper-bot`, `scripts/start_bot_auto.py`) over the bundled prices."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.factories import recorded_fills
from tradeledger import open_ledger
from tradeledger.compat.paper_bot import PaperTradingLoop, load_price_series

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start_bot_auto.py"
SHARED = Path(__file__).resolve().parents[3] / "shared"


def test_the_bundled_series_has_three_symbols_and_240_minute_bars() -> None:
    series = load_price_series()

    assert len(series) == 240
    assert all(sorted(bar.prices) == ["BTC/USD", "ETH/USD", "SOL/USD"] for bar in series)
    assert (series[1].time - series[0].time).total_seconds() == 60


def test_every_cycle_prints_the_count_of_every_view_and_they_agree(cli: Cli, tmp_path: Path) -> None:
    result = cli("paper-bot", "--cycles", "60", "--state-dir", str(tmp_path / "logs"))

    cycles = re.findall(
        r"cycle +(\d+) \d\d:\d\d positions ctx=(\d+) trade_manager=(\d+) wallet=(\d+) monitor=(\d+)", result.stdout
    )
    assert [int(cycle) for cycle, *_ in cycles] == list(range(1, 61))
    assert all(len(set(counts)) == 1 for _, *counts in cycles), cycles
    assert any(int(counts[0]) > 0 for _, *counts in cycles)  # it did trade
    assert "warning:" not in result.stdout + result.stderr
    assert "mismatch" not in result.stdout + result.stderr
    assert "no consistency warnings, verify ok" in result.stdout
    assert (tmp_path / "logs" / "trade_manager_state.json").exists()
    assert (tmp_path / "logs" / "paper_wallet_state.yaml").exists()


def test_a_second_run_on_the_same_ledger_resumes_at_the_next_bar(cli: Cli, tmp_path: Path) -> None:
    logs = str(tmp_path / "logs")
    first = cli.json("paper-bot", "--cycles", "50", "--state-dir", logs)
    second = cli.json("paper-bot", "--cycles", "30", "--state-dir", logs)

    assert (first["cycles"], first["next_bar"]) == (50, 51)
    assert (second["cycles"], second["next_bar"]) == (30, 81)
    assert second["seq"] > first["seq"]
    assert second["consistent"]
    assert second["verify"]


def test_two_runs_of_30_trade_exactly_like_one_run_of_60(db_url: str, tmp_path: Path) -> None:
    series = load_price_series()
    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    with open_ledger(whole_url) as ledger:
        PaperTradingLoop(ledger, None, series).run(60)
        whole = [(f.symbol, f.side, f.quantity, f.price, f.fee) for f in recorded_fills(ledger.history())]
    for _ in range(2):
        with open_ledger(db_url) as ledger:
            PaperTradingLoop(ledger, None, series).run(30)
    with open_ledger(db_url) as ledger:
        halves = [(f.symbol, f.side, f.quantity, f.price, f.fee) for f in recorded_fills(ledger.history())]

    assert len(whole) > 10
    assert halves == whole


def test_the_real_legacy_config_drives_the_bot(cli: Cli, tmp_path: Path) -> None:
    config = SHARED / "fixtures" / "legacy-real" / "config.yaml"

    summary = cli.json("paper-bot", "--cycles", "40", "--config", str(config), "--state-dir", str(tmp_path))

    assert summary["consistent"]
    assert summary["verify"]
    # Its exit_strategy.trailing_stop_pct of 0.01 (the default is 0.008) is on every open position.
    state = json.loads((tmp_path / "trade_manager_state.json").read_text(encoding="utf-8"))
    assert state["positions"]
    assert {position["trailing_stop_pct"] for position in state["positions"].values()} == {0.01}


@pytest.mark.parametrize(
    "config",
    [
        "position_monitor: {sync_with_legacy: false}",
        "position_monitor: {use_trade_manager: false}",
        "trade_manager: {enabled: false}",
        "trade_manager: {single_source_of_truth: false}",
        "paper_wallet: {sync_with_trade_manager: false, auto_sync_on_trade: false}",
    ],
)
def test_the_whole_series_runs_clean_with_each_switch_off(cli: Cli, tmp_path: Path, config: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config + "\n", encoding="utf-8")

    summary = cli.json("paper-bot", "--cycles", "240", "--config", str(path), "--state-dir", str(tmp_path / "logs"))

    assert (summary["cycles"], summary["consistent"], summary["verify"]) == (240, True, True)
    assert summary["warnings"] == []


@pytest.mark.slow
def test_start_bot_auto_runs_the_bot_from_a_shell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    command = [sys.executable, str(SCRIPT), "--db", url, "--cycles", "5", "--state-dir", str(tmp_path), "--json"]

    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["cycles"], summary["next_bar"], summary["verify"]) == (5, 6, True)


def test_without_options_it_says_where_the_ledger_and_the_legacy_files_go(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TRADELEDGER_URL"}

    result = subprocess.run(
        [sys.executable, "-m", "tradeledger", "paper-bot", "--cycles", "3"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"ledger: sqlite:///{tmp_path / 'tradeledger.db'}" in lines
    assert f"legacy read-model files: {tmp_path / 'crypto_bot' / 'logs'}" in lines
    assert (tmp_path / "crypto_bot" / "logs" / "trade_manager_state.json").exists()


def test_a_run_ends_with_its_pnl_and_cash_as_the_ledger_has_them(cli: Cli, tmp_path: Path) -> None:
    text = cli("paper-bot", "--cycles", "60", "--state-dir", str(tmp_path)).stdout
    totals = cli.json("positions")["totals"]

    [pnl] = [line for line in text.splitlines() if line.startswith("PnL: ")]
    assert pnl.startswith(
        f"PnL: realized {two(totals['realized_pnl'])}, fees {two(totals['fees'])}, net {two(totals['net_pnl'])}, "
        "unrealized "
    )
    assert re.search(r"; cash [\d,]+\.\d\d \(started 10,000\.00\)$", pnl), pnl


def two(value: str) -> str:
    return f"{Decimal(value):,.2f}"


def test_every_number_is_written_one_way_quantities_and_prices_exact_money_to_cents(cli: Cli, tmp_path: Path) -> None:
    text = cli("paper-bot", "--cycles", "60", "--state-dir", str(tmp_path)).stdout

    actions = [line.strip() for line in text.splitlines() if line.startswith("    ")]
    assert any(" @ " in action for action in actions)
    for action in actions:
        for number in re.findall(r"(?<![\w/])-?\d[\d,]*(?:\.\d+)?", action.split(" pnl ")[0]):
            assert not (("." in number) and number.endswith("0")), (action, number)
        if " pnl " in action:
            assert re.fullmatch(r"-?[\d,]+\.\d\d", action.split(" pnl ")[1]), action
    cash = re.findall(r" cash (\S+)", text)
    assert cash
    assert all(re.fullmatch(r"[\d,]+\.\d\d", value) for value in cash), cash
    assert any("," in value for value in cash)
