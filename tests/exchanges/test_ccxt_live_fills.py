"""A bot that records its fills live (its own fill ids, the exchange's order id) and later ingests or syncs the
exchange's trade list to fill a gap: the fills it recorded cover their order's exchange trades, which are counted
as covered, not appended a second time (README "Connect an exchange"; the legacy bug of legacy-system.md: "every
CEX fill would be double-counted"). Driven through the command line, as an operator does."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.exchanges.test_ccxt_sync import RECORDED_TRADES, Offline, T
from tradeledger import open_ledger
from tradeledger.cli import main
from tradeledger.exchanges.ccxt import syncing

TIME = "2026-05-01T10:00:00.123Z"
MS = 1777629600123  # TIME in ms since 1970


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def live(url: str, fill_id: str, quantity: str, *, side: str = "buy", symbol: str = "BTC/USDT", **more: str) -> None:
    """The bot's fill as its TradeManager records it (`Ledger.record`): its own id, the exchange's order id
    (`order_id=""`: none)."""
    with open_ledger(url) as ledger:
        ledger.record(
            {
                "fill_id": fill_id, "symbol": symbol, "side": side, "quantity": quantity, "price": "60000",
                "fees": [{"amount": "30", "currency": "USDT"}], "occurred_at": more.get("time", TIME),
                "exchange": "binance", "order_id": more.get("order_id", "555") or None,
            }
        )  # fmt: skip


def trade(ident: str, amount: str, *, ms: int = MS, side: str = "buy", order: str = "555") -> dict[str, Any]:
    """A binance trade as ccxt's fetch_my_trades gives it."""
    return {
        "id": ident, "order": order, "timestamp": ms, "symbol": "BTC/USDT", "side": side, "price": "60000",
        "amount": amount, "fee": {"cost": "30", "currency": "USDT"}, "type": "limit", "takerOrMaker": "taker",
    }  # fmt: skip


def ingest(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], trades: list[dict[str, Any]]
) -> tuple[int, Any]:
    listed = tmp_path / "trades.json"
    listed.write_text(json.dumps(trades))
    status = main(["--db", url, "ingest", "ccxt", str(listed), "--exchange", "binance", "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if status == 0 else captured.err


def reconcile(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], trades: list[dict[str, Any]]
) -> tuple[int, Any]:
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps(trades))
    status = main(["--db", url, "reconcile", "--trades", str(listed), "--exchange", "binance", "--json"])
    return status, json.loads(capsys.readouterr().out)["trades"]


def fill_ids(url: str) -> list[str]:
    with open_ledger(url) as ledger:
        return [recorded.event.event_id for recorded in ledger.history()]


def held(url: str) -> dict[str, tuple[str, Decimal]]:
    with open_ledger(url) as ledger:
        return {p.symbol: (p.side, p.quantity) for p in ledger.positions()}


def test_an_exchange_trade_of_an_order_the_bot_recorded_live_is_covered_not_appended_a_second_time(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5")

    status, report = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert status == 0
    assert report == {"appended": 0, "duplicates": 0, "skipped": 0, "seq": 1, "covered": 1}
    assert fill_ids(url) == ["bot-1"]
    assert held(url) == {"BTC/USDT": ("long", Decimal("0.5"))}


def test_the_same_list_ingested_again_is_covered_again_and_appends_nothing(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5")
    ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    status, report = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert (status, report) == (0, {"appended": 0, "duplicates": 0, "skipped": 0, "seq": 1, "covered": 1})


def test_two_live_fills_of_one_order_cover_its_one_exchange_trade(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.2")
    live(url, "bot-2", "0.3")

    status, report = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert (status, report["appended"], report["covered"]) == (0, 0, 1)
    assert held(url) == {"BTC/USDT": ("long", Decimal("0.5"))}


def test_the_trades_of_an_order_past_what_the_bot_recorded_live_are_appended_in_time_order(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5")  # the bot went down with the order half filled
    listed = [trade("987656", "0.2", ms=MS + 2000), trade("987654", "0.5"), trade("987655", "0.3", ms=MS + 1000)]

    status, report = ingest(url, tmp_path, capsys, listed)

    assert (status, report["appended"], report["covered"], report["seq"]) == (0, 2, 1, 3)
    assert fill_ids(url) == ["bot-1", "BTC/USDT:987655", "BTC/USDT:987656"]
    assert held(url) == {"BTC/USDT": ("long", Decimal("1.0"))}
    status, again = ingest(url, tmp_path, capsys, listed)
    assert (status, again["appended"], again["duplicates"], again["covered"]) == (0, 0, 2, 1)


def test_a_trade_that_straddles_what_the_live_fills_cover_is_refused_naming_the_order_the_fills_and_the_trade(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.4")

    status, error = ingest(url, tmp_path, capsys, [trade("987654", "0.3"), trade("987655", "0.3", ms=MS + 1000)])

    assert status == 2
    assert "entry 1: order 555 of BTC/USDT" in error
    assert "bot-1 (0.4)" in error
    assert "BTC/USDT:987655 (0.3)" in error
    assert "nothing was ingested" in error
    assert fill_ids(url) == ["bot-1"]


def test_a_live_fill_of_the_other_side_of_the_order_is_refused_naming_both(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5", side="sell")

    status, error = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert status == 2
    assert "entry 0: order 555 of BTC/USDT" in error
    assert "bot-1 is a sell" in error
    assert "BTC/USDT:987654 a buy" in error
    assert fill_ids(url) == ["bot-1"]


def test_record_takes_the_exchanges_order_id_so_that_the_fill_covers_that_orders_trade(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "--db", url, "record", "--fill-id", "bot-1", "--symbol", "BTC/USDT", "--side", "buy", "--quantity", "0.5",
            "--price", "60000", "--fee", "30", "--time", TIME, "--exchange", "binance", "--order-id", "555",
        ]
    )  # fmt: skip
    capsys.readouterr()

    assert status == 0
    status, report = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])
    assert (status, report["appended"], report["covered"]) == (0, 0, 1)
    assert held(url) == {"BTC/USDT": ("long", Decimal("0.5"))}


def test_the_fills_of_an_order_are_looked_up_by_an_index_not_by_reading_the_log(url: str) -> None:
    with open_ledger(url):
        pass
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM ledger_events "
            "WHERE order_id IN ('555', '556') AND account = 'default' AND exchange = 'binance' ORDER BY seq"
        ).fetchall()

    details = [row[-1] for row in plan]
    assert (
        "SEARCH ledger_events USING INDEX ix_ledger_events_order_id (order_id=? AND account=? AND exchange=?)"
        in details
    )


def test_a_live_fill_recorded_without_the_order_id_is_not_matched_and_reconcile_names_it_unknown(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5", order_id="")

    status, report = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert (status, report["appended"]) == (0, 1)
    assert held(url) == {"BTC/USDT": ("long", Decimal("1.0"))}
    status, differences = reconcile(url, tmp_path, capsys, [trade("987654", "0.5")])
    assert status == 1
    assert [d["fill_id"] for d in differences["unknown"]] == ["bot-1"]


def test_a_live_fill_of_the_same_order_id_on_another_symbol_covers_nothing(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5", symbol="ETH/USDT")  # binance numbers orders per symbol

    status, report = ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert (status, report["appended"], report["covered"]) == (0, 1, 0)


def test_reconcile_takes_a_covered_trade_as_found_and_its_live_fill_as_known(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5")
    ingest(url, tmp_path, capsys, [trade("987654", "0.5")])

    status, differences = reconcile(url, tmp_path, capsys, [trade("987654", "0.5")])

    assert (status, differences) == (0, {"missing": [], "unknown": [], "conflicting": []})


def test_reconcile_names_missing_the_trades_of_an_order_past_what_its_live_fill_covers(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live(url, "bot-1", "0.5")

    status, differences = reconcile(
        url, tmp_path, capsys, [trade("987654", "0.5"), trade("987655", "0.3", ms=MS + 1000)]
    )

    assert status == 1
    assert [d["fill_id"] for d in differences["missing"]] == ["BTC/USDT:987655"]
    assert (differences["unknown"], differences["conflicting"]) == ([], [])


def bybit_page(*rows: tuple[str, int, str]) -> dict[str, Any]:
    """bybit's execution list holding the recorded spot trade (a buy of 0.000336 BTC at 29708.7) once per
    (execId, execTime, orderId)."""
    answer: dict[str, Any] = copy.deepcopy(RECORDED_TRADES)
    (row,) = answer["result"]["list"]
    answer["result"]["list"] = [
        {**row, "execId": ident, "execTime": str(ms), "orderId": order} for ident, ms, order in rows
    ]
    return answer


@pytest.fixture
def a_day_after_the_synced_trades() -> Iterator[None]:
    with freeze_time("2026-01-02"):
        yield


@pytest.mark.usefixtures("a_day_after_the_synced_trades")
def test_a_sync_after_the_bot_was_down_covers_what_it_recorded_live_and_appends_what_it_missed(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_ledger(url) as ledger:  # what the bot's TradeManager records: Ledger.record with the order id
        ledger.record(
            {
                "fill_id": "bot-1", "symbol": "BTC/USDT", "side": "buy", "quantity": "0.000336", "price": "29708.7",
                "occurred_at": "2026-01-01T00:00:01Z", "exchange": "bybit", "order_id": "555",
            }
        )  # fmt: skip
    rows = (("a", T + 1000, "555"), ("b", T + 2000, "556"))
    answers: list[dict[str, Any] | Exception] = [bybit_page(*rows), bybit_page(rows[1]), bybit_page(), bybit_page()]
    monkeypatch.setattr(syncing, "connect", Offline(answers))

    status = main(["--db", url, "sync", "bybit", "--symbols", "BTC/USDT", "--json"])
    captured = capsys.readouterr()

    assert status == 0, captured.err
    report = json.loads(captured.out)
    assert (report["appended"], report["duplicates"], report["covered"]) == (1, 1, 1)
    assert report["streams"][0]["covered"] == 1
    assert fill_ids(url) == ["bot-1", "BTC/USDT:b"]
