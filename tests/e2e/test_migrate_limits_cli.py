"""`tradeledger migrate` on legacy files with amounts at and beyond a fill's limits (1E-24..1E+24): exact where
they fit, else one error line naming file, field and value, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli


def state_file(logs: Path, amount: str) -> Path:
    """A trade_manager_state.json of one PEPE/USDT buy, `amount` written as the JSON number it is."""
    logs.mkdir(parents=True)
    trade = {"id": "t-pepe-1", "symbol": "PEPE/USDT", "side": "buy", "amount": "@@", "price": 0.0000001,
             "timestamp": "2025-08-26T19:01:55.574138", "strategy": "", "exchange": "", "fees": 0.35,
             "status": "filled", "order_id": None, "client_order_id": None, "metadata": {}}  # fmt: skip
    path = logs / "trade_manager_state.json"
    path.write_text(json.dumps({"trades": [trade]}).replace('"@@"', amount))
    return path


def test_a_meme_coin_amount_of_3_5e21_migrates_exactly(cli: Cli, tmp_path: Path) -> None:
    logs = tmp_path / "crypto_bot" / "logs"
    state_file(logs, "3.5e+21")

    cli("migrate", "--logs-dir", str(logs))

    [position] = cli.json("positions")["open"]
    assert (position["quantity"], position["avg_price"], position["fees"]) == (
        "3500000000000000000000",
        "0.0000001",
        "0.35",
    )
    assert "3500000000000000000000" in cli("positions").stdout


@pytest.mark.parametrize(("amount", "quoted"), [("1e300", "1E+300"), ("1e-30", "1E-30"), ("1E+25", "1E+25")])
def test_an_amount_no_fill_can_hold_exits_2_with_one_line_and_writes_nothing(
    cli: Cli, tmp_path: Path, amount: str, quoted: str
) -> None:
    logs = tmp_path / "crypto_bot" / "logs"
    path = state_file(logs, amount)

    result = cli("migrate", "--logs-dir", str(logs), expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {path}: trades[0] (id 't-pepe-1'): amount: is out of range"), line
    assert f"(got {quoted})" in line
    assert "Traceback" not in result.stderr
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()
