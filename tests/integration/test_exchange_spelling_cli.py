"""One spelling per exchange name, through the command line (tests/integration/test_exchange_spelling.py has the
rule): every command that appends refuses a name differing only in case from one the ledger holds with one line on
stderr naming both, exit 2, and nothing written; `sync` refuses before it asks the exchange anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.exchanges.test_ccxt_sync import Offline
from tradeledger.cli import main
from tradeledger.exchanges.ccxt import syncing

T = "2026-12-01T10:00:00+00:00"
FUTURE = "BTC/USDT:USDT-261204"  # expired on 2026-12-04


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


def record(exchange: str, fill_id: str = "a", *, symbol: str = "BTC/USDT", side: str = "buy") -> list[str]:
    return ["record", "--fill-id", fill_id, "--exchange", exchange, "--symbol", symbol, "--side", side,
            "--quantity", "1", "--price", "90000", "--time", T]  # fmt: skip


def refused_once(cli: Cli, *args: str) -> str:
    """The one line a refused command prints on stderr (exit 2, nothing on stdout)."""
    result = cli(*args, expect=2)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    line: str = result.stderr
    return line.rstrip("\n")


def held(cli: Cli) -> list[tuple[str, str]]:
    """(exchange, currency) of every balance, and so every exchange name the ledger holds."""
    return [(b["exchange"], b["currency"]) for b in cli.json("balances")["balances"]]


COMMANDS = {
    "record": record("Binance", "b"),
    "record-funding": ["record-funding", "--funding-id", "f", "--exchange", "Binance", "--symbol", "BTC/USDT:USDT",
                       "--amount", "-1.5", "--time", T],
    "record-transfer": ["record-transfer", "--transfer-id", "t", "--exchange", "Binance", "--currency", "USDT",
                        "--amount", "1000", "--kind", "deposit", "--time", T],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_record_command_under_a_second_spelling_is_refused_in_one_line(cli: Cli, command: str) -> None:
    cli(*record("binance"))

    line = refused_once(cli, *COMMANDS[command])

    kind = command.removeprefix("record-") if command != "record" else "fill"
    assert line == f"error: {kind} 1: exchange: 'Binance' differs only in case from 'binance' already in the ledger"
    assert held(cli) == [("binance", "BTC"), ("binance", "USDT")]


def test_a_settlement_under_a_second_spelling_is_refused_and_the_future_stays_open(cli: Cli) -> None:
    cli(*record("binance", symbol=FUTURE))

    line = refused_once(
        cli, "record-settlement", "--symbol", FUTURE, "--price", "91000", "--time", "2026-12-04T08:00:00+00:00",
        "--exchange", "Binance",
    )  # fmt: skip

    assert "exchange: 'Binance' differs only in case from 'binance' already in the ledger" in line
    [position] = cli.json("positions")["open"]
    assert position["quantity"] == "1"


def test_an_import_under_a_second_spelling_names_the_line_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    cli(*record("binance"))
    lines = [
        {"fill_id": "b", "exchange": "binance", "symbol": "BTC/USDT", "side": "sell", "quantity": "1",
         "price": "91000", "occurred_at": T},
        {"fill_id": "c", "exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "quantity": "1",
         "price": "91000", "occurred_at": T},
    ]  # fmt: skip
    file = tmp_path / "fills.ndjson"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))

    line = refused_once(cli, "import", str(file))

    assert line == "error: line 2: exchange: 'BINANCE' differs only in case from 'binance' already in the ledger"
    assert cli.json("balances")["seq"] == 1


def test_an_ingest_under_a_second_spelling_is_refused_and_ingests_nothing(cli: Cli, tmp_path: Path) -> None:
    cli(*record("Binance", "live-1"))  # the bot's name for the exchange
    trades = [
        {"id": "9001", "order": "555", "timestamp": 1764583200000, "symbol": "BTC/USDT", "side": "buy",
         "price": "90000", "amount": "1", "fee": {"cost": "9", "currency": "USDT"}},
    ]  # fmt: skip
    file = tmp_path / "trades.json"
    file.write_text(json.dumps(trades))

    line = refused_once(cli, "ingest", "ccxt", str(file), "--exchange", "binance")

    assert line == (
        "error: entry 0: exchange: 'binance' differs only in case from 'Binance' already in the ledger; "
        "nothing was ingested"
    )
    assert held(cli) == [("Binance", "BTC"), ("Binance", "USDT")]


@pytest.mark.parametrize("symbols", [["--symbols", "BTC/USDT"], []], ids=["symbols named", "symbols held"])
def test_a_sync_under_a_second_spelling_is_refused_before_it_asks_the_exchange(
    cli: Cli, symbols: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(*record("Bybit", "live-1"))
    offline = Offline([])
    monkeypatch.setattr(syncing, "connect", offline)

    status = main(["--db", cli.url, "sync", "bybit", *symbols])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    message = "sync 'bybit': 'bybit' differs only in case from 'Bybit' already in the ledger"
    assert captured.err == f"error: {message}\n"
    assert offline.urls == []
    assert held(cli) == [("Bybit", "BTC"), ("Bybit", "USDT")]
