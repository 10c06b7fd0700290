"""`history` (JSON and table) and `export` of a log that holds every kind of event, byte for byte as the golden
files say: v1 fills (written before the typed events), v2 fills with fees in the quote, the base and other
currencies (valued, unvalued, a rebate), funding, transfers of each kind, metadata with non-ASCII text, line
breaks, nesting, floats and empty containers, several accounts and exchanges.

The golden files were written by the code before `history` built its output from the stored rows without
json's indenting encoder (commit f652304): these tests hold the faster path to that output exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import RECORDED_AT
from tests.e2e.conftest import GOLDEN, Cli
from tradeledger import open_ledger

MAIN_BEFORE_0007 = GOLDEN.parent / "main-e36b65c"
BYTES = GOLDEN / "every_event"
T = "2026-02-0{}T09:30:00.25+01:00"

EVENTS: list[dict[str, object]] = [
    {
        "fill_id": "v2-meta",
        "account": "default",
        "exchange": "binance",
        "symbol": "BTC/USD",
        "side": "buy",
        "quantity": "0.25",
        "price": "41000.5",
        "fees": [{"amount": "1.25", "currency": "USD"}],
        "occurred_at": T.format(1),
        "strategy": "grid",
        "order_id": "o-1",
        "client_order_id": "c-1",
        "metadata": {
            "note": 'café — ünïcode \u2028 ☃\nsecond line\ttab "quoted" \\ back',
            "tags": ["a", "β", ""],
            "nested": {"x": 1, "y": [1.5, True, None, {"deep": []}], "z": {}},
            "empty": {},
            "list": [],
            "float": 1e-07,
            "big": 123456789012345678901234567890,
        },
    },
    {
        "fill_id": "v2-base-fee",
        "account": "default",
        "exchange": "binance",
        "symbol": "BTC/USD",
        "side": "buy",
        "quantity": "1",
        "price": "40000",
        "fees": [{"amount": "0.001", "currency": "BTC"}],
        "occurred_at": T.format(2),
        "metadata": {"flat": "yes", "n": 3, "f": 2.5, "t": False, "none": None, "ü": "ß\n"},
    },
    {
        "fill_id": "v2-many-fees",
        "account": "default",
        "exchange": "binance",
        "symbol": "BTC/USD",
        "side": "sell",
        "quantity": "0.5",
        "price": "42000.125",
        "fees": [
            {"amount": "0.02", "currency": "BNB", "quote_value": "6.1"},
            {"amount": "3", "currency": "FEE"},
            {"amount": "-0.5", "currency": "USD"},
            {"amount": "0", "currency": "ETH"},
            {"amount": "0.00000001", "currency": "XRP"},
        ],
        "occurred_at": T.format(3),
        "strategy": "grid",
    },
    {
        "fill_id": "v2-no-fee",
        "account": "swing",
        "exchange": "",
        "symbol": "SOL/USD",
        "side": "buy",
        "quantity": "12.5",
        "price": "0.000012345",
        "fees": [],
        "occurred_at": T.format(4),
        "metadata": {},
    },
    {
        "fill_id": "v2-perp",
        "account": "swing",
        "exchange": "bybit",
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "quantity": "0.01",
        "price": "43000",
        "fees": [{"amount": "0.258", "currency": "USDT"}],
        "occurred_at": T.format(5),
    },
    {
        "type": "funding",
        "funding_id": "f-1",
        "account": "swing",
        "exchange": "bybit",
        "symbol": "BTC/USDT:USDT",
        "amount": "-0.0125",
        "currency": "USDT",
        "occurred_at": T.format(6),
        "metadata": {"rate": "0.0001", "note": "8h\nfunding"},
    },
    {
        "type": "funding",
        "funding_id": "f-2",
        "account": "swing",
        "exchange": "bybit",
        "symbol": "BTC/USDT:USDT",
        "amount": "0.5",
        "currency": "USDT",
        "occurred_at": T.format(6),
    },
    {
        "type": "transfer",
        "transfer_id": "t-in",
        "account": "default",
        "exchange": "binance",
        "currency": "USD",
        "amount": "100000",
        "kind": "deposit",
        "occurred_at": T.format(7),
    },
    {
        "type": "transfer",
        "transfer_id": "t-out",
        "account": "default",
        "exchange": "binance",
        "currency": "BTC",
        "amount": "-0.5",
        "fee": "0.0005",
        "kind": "withdrawal",
        "occurred_at": T.format(8),
        "metadata": {"address": "bc1…", "memo": "zurück\r\n"},
    },
    {
        "type": "transfer",
        "transfer_id": "t-move",
        "account": "swing",
        "exchange": "bybit",
        "currency": "USDT",
        "amount": "250",
        "kind": "internal",
        "occurred_at": T.format(9),
    },
]


def every_event(folder: Path) -> Cli:
    """The v1 ledger of main e36b65c (ten v1 fills, a rollback), opened (upgraded) and given EVENTS."""
    path = folder / "ledger.db"
    shutil.copyfile(MAIN_BEFORE_0007 / "ledger.db", path)
    url = f"sqlite:///{path}"
    with open_ledger(url, clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many(EVENTS)
    return Cli(url)


CASES = [
    (("history", "--json"), "history.json", None),
    (("history", "--json", "--account", "swing"), "history-swing.json", None),
    (("history", "--json", "--symbol", "BTC/USD"), "history-btc.json", None),
    (("history",), "history.txt", None),
    (("history",), "history-wide.txt", "230"),
    (("history", "--account", "swing"), "history-swing-wide.txt", "200"),
    (("export",), "export.ndjson", None),
]


@pytest.mark.parametrize(("arguments", "golden", "columns"), CASES)
def test_history_and_export_of_every_event_type_are_the_golden_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: tuple[str, ...], golden: str, columns: str | None
) -> None:
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    cli = every_event(tmp_path)

    result = cli(*arguments)

    assert result.stdout_bytes == (BYTES / golden).read_bytes()


def test_history_of_an_empty_log_is_an_empty_array_and_an_empty_table(cli: Cli) -> None:
    assert cli("history", "--json").stdout == "[]\n"
    assert "the log is empty" in cli("history").stdout
