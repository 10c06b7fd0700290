"""bybit's execution list holds more than trades: `execType` Delivery (a USDC or USDT future delivered at its expiry,
or a position closed as its contract is delisted) and Settle (an inverse future's settlement) close a position at the
exchange's delivery price (bybit v5 docs, enum execType and createType CreateBySettle: "recorded as a trade but not an
order"). A dated future's delivery is booked as tradeledger books any settlement (domain/settlement.py): a fill marked
{"settlement": true} named `settlement:SYMBOL`.

tests/fixtures/ccxt-recorded/bybit-delivery.json: ccxt 4.5.90's parse of two execution-list answers (README there).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.exchanges.test_ccxt_more_exchanges import RECORDED, balances, tradeledger
from tradeledger import open_ledger
from tradeledger.domain.fills import Fill
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries
from tradeledger.exchanges.ccxt.transfers import Unavailable

FUTURE = "BTC/USDC:USDC-241227"


def delivery_file() -> tuple[dict[str, Any], dict[str, Any]]:
    """The buy of 0.02 BTC/USDC:USDC-241227 at 96000 and its delivery at 94123.45 on 2024-12-27 08:00 UTC."""
    (bought, delivered) = json.loads((RECORDED / "bybit-delivery.json").read_text())
    return bought, delivered


def fills(db: Path) -> list[Fill]:
    with open_ledger(f"sqlite:///{db}") as ledger:
        return [event.event for event in ledger.history() if isinstance(event.event, Fill)]


def test_a_bybit_delivery_of_a_dated_future_is_booked_as_its_settlement(tmp_path: Path) -> None:
    # Bought 0.02 at 96000 (fee 1.056 USDC), delivered at 94123.45 (delivery fee 0.9412345 USDC): realized
    # (94123.45 - 96000) x 0.02 = -37.531; USDC -37.531 - 1.056 - 0.9412345 = -39.5282345.
    db, file = tmp_path / "ledger.db", str(RECORDED / "bybit-delivery.json")

    code, shown = tradeledger(db, "ingest", "ccxt", file, "--exchange", "bybit", "--json")

    assert (code, shown) == (0, {"appended": 2, "duplicates": 0, "skipped": 0, "seq": 2, "covered": 0})
    (_, settled) = fills(db)
    assert (settled.fill_id, settled.side, settled.quantity, settled.price) == (
        f"settlement:{FUTURE}",
        "sell",
        Decimal("0.02"),
        Decimal("94123.45"),
    )
    assert [(fee.amount, fee.currency) for fee in settled.fees] == [(Decimal("0.9412345"), "USDC")]
    assert settled.occurred_at == datetime(2024, 12, 27, 8, tzinfo=UTC)
    assert settled.order_id is None
    assert settled.metadata is not None
    assert settled.metadata["settlement"] is True
    assert settled.metadata["info"]["execType"] == "Delivery"
    with open_ledger(f"sqlite:///{db}") as ledger:
        assert ledger.position(FUTURE) is None
        (cycle,) = ledger.closed_positions()
        assert (cycle.realized_pnl, cycle.fees) == (Decimal("-37.531"), Decimal("1.9972345"))
    assert balances(db) == {"USDC": Decimal("-39.5282345")}


def test_a_bybit_delivery_after_the_settlement_was_recorded_by_hand_is_a_duplicate_not_a_new_short(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger.db"
    bought, delivered = delivery_file()
    with open_ledger(f"sqlite:///{db}") as ledger:
        ledger_bought = map_entries([bought], exchange="bybit")
        ledger.record_many([event for _, event in ledger_bought.events])
        ledger.record_settlement(
            FUTURE,
            price="94123.45",
            occurred_at=datetime(2024, 12, 27, 8, tzinfo=UTC),
            fees=[{"amount": Decimal("0.9412345"), "currency": "USDC"}],
            exchange="bybit",
        )
    file = tmp_path / "delivery.json"
    file.write_text(json.dumps([delivered]))

    code, shown = tradeledger(db, "ingest", "ccxt", str(file), "--exchange", "bybit", "--json")

    assert (code, shown) == (0, {"appended": 0, "duplicates": 1, "skipped": 0, "seq": 2, "covered": 0})
    with open_ledger(f"sqlite:///{db}") as ledger:
        assert ledger.position(FUTURE) is None


def test_bybits_inverse_settlement_word_settle_is_a_settlement_too() -> None:
    _, delivered = delivery_file()
    settle = {**delivered, "info": {**delivered["info"], "execType": "Settle"}}

    ((_, event),) = map_entries([settle], exchange="bybit", kind=Kind.TRADES).events

    assert isinstance(event, Fill)
    assert event.fill_id == f"settlement:{FUTURE}"


def test_a_bybit_delivery_of_a_perpetual_closed_by_its_delisting_is_a_fill_at_the_delivery_price() -> None:
    # No expiry to settle at: the exchange closed the position at its price, a fill like any other (its own id).
    _, delivered = delivery_file()
    delisted = {**delivered, "symbol": "BTC/USDC:USDC"}

    ((_, event),) = map_entries([delisted], exchange="bybit", kind=Kind.TRADES).events

    assert isinstance(event, Fill)
    assert (event.fill_id, event.side, event.quantity, event.price) == (
        "BTC/USDC:USDC:b0d1e2f3-0a1b-5c2d-8e3f-4a5b6c7d8e9f",
        "sell",
        Decimal("0.02"),
        Decimal("94123.45"),
    )
    assert event.metadata is not None
    assert "settlement" not in event.metadata


def test_two_bybit_deliveries_of_one_contract_in_a_list_are_refused_naming_both() -> None:
    # bybit's hedge mode delivers its long and its short apart; the ledger holds one net position per contract and
    # one settlement of it: record-settlement books what the net position was.
    _, delivered = delivery_file()
    short = {**delivered, "id": "c1d2e3f4-0a1b-5c2d-8e3f-4a5b6c7d8e9f", "side": "buy", "amount": "0.01"}
    short["cost"] = "941.2345"

    with pytest.raises(InvalidFill) as refused:
        map_entries([delivered, short], exchange="bybit", kind=Kind.TRADES)

    assert str(refused.value) == (
        f"entry 1: info.execType: a second bybit Delivery of {FUTURE} in the list (entry 0 is one): the ledger books "
        "one settlement of a contract's net position; record it with record-settlement"
    )


def test_a_sync_of_bybit_contracts_names_the_executions_ccxts_trade_list_leaves_out() -> None:
    # ccxt 4.5.90's bybit.fetch_my_trades sends execType=Trade (bybit's execution list takes it as a filter, bybit v5
    # docs /v5/execution/list): a liquidation (BustTrade), auto-deleveraging (AdlTrade) or delivery (Delivery, Settle)
    # of a contract is never in its answer. Spot has only trades.
    client = ccxt.bybit()

    _, unavailable = syncing.streams(client, ["BTC/USDT", "LTC/USDT:USDT", FUTURE], exchange="bybit")

    assert unavailable == [
        Unavailable(
            "executions",
            "fetch_my_trades of 'bybit' in ccxt asks for execType Trade only: what 'bybit' closed itself on "
            f"LTC/USDT:USDT, {FUTURE} (liquidations BustTrade, auto-deleveraging AdlTrade, deliveries Delivery and "
            "Settle) is not synced (ingest ccxt what fetch_my_trades(symbol, params={'execType': TYPE}) returns)",
        )
    ]


def test_a_sync_of_bybit_spot_or_of_an_exchange_listing_every_execution_names_none() -> None:
    _, spot = syncing.streams(ccxt.bybit(), ["BTC/USDT"], exchange="bybit")
    _, okx = syncing.streams(ccxt.okx(), ["BTC/USDT:USDT"], exchange="okx")

    assert (spot, okx) == ([], [])
