"""phemex's and kraken's trades through ccxt 4.5.90's real parsers, offline: what each exchange writes and what the
ledger books of it (tests/fixtures/ccxt-recorded/phemex-kraken-trades.raw.json). Nothing here needed a fix: these
tests say what was checked.

phemex: a USDT perpetual's row of `/exchange/order/v2/tradingList` (phemex's API documentation's example: `side` 1
buy, 2 sell, `execQtyRq` in ETH, `execFeeRv` in USDT, a maker's rebate negative) and a spot row (`Ev` amounts scaled
by 1e8, the buy's fee in the BTC received). kraken: `TradesHistory` rows (ccxt's `kraken.parse_trade` comment; the
trade's id is the key kraken lists it under, its fee in the quote currency).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt

from tests.exchanges.offline import OfflineExchange, offline_exchange
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tradeledger.domain.fills import Fill
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

RAW: dict[str, Any] = json.loads((RECORDED / "phemex-kraken-trades.raw.json").read_text(encoding="utf-8"))
MARKETS = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-markets"


def booked(exchange: ccxt.Exchange, name: str, symbol: str) -> list[tuple[object, ...]]:
    """(fill id, side, quantity, price, order id, [(fee, currency)]) of each fill, in time order."""
    mapped = map_entries(exchange.fetch_my_trades(symbol), exchange=name, kind=Kind.TRADES)
    return [
        (f.fill_id, f.side.value, f.quantity, f.price, f.order_id, [(fee.amount, fee.currency) for fee in f.fees])
        for _, f in mapped.in_time_order()
        if isinstance(f, Fill)
    ]


def test_phemex_usdt_perpetual_sides_amounts_and_a_makers_rebate() -> None:
    exchange = offline_exchange("phemex", [RAW["phemexUsdt"]])

    assert booked(exchange, "phemex", "ETH/USDT:USDT") == [
        ("ETH/USDT:USDT:c6db276", "sell", Decimal("0.77"), Decimal("1271.9"), None, [(Decimal("-0.0979363"), "USDT")]),
        ("ETH/USDT:USDT:8718cae", "buy", Decimal("0.01"), Decimal("1271.9"), None, [(Decimal("0.0012719"), "USDT")]),
    ]


def test_phemex_spot_scaled_amounts_and_a_buys_fee_in_btc() -> None:
    exchange = offline_exchange("phemex", [RAW["phemexSpot"]])

    assert booked(exchange, "phemex", "BTC/USDT") == [
        (
            "BTC/USDT:c6bd8979-07ba-5946-b07e-f8b65135dbb1", "buy", Decimal("0.00103"), Decimal("9700.56"),
            "b2b7018d-f02f-4c59-b4cf-051b9c2d2e83", [(Decimal("0.00000103"), "BTC")],
        )
    ]  # fmt: skip


def test_kraken_trades_are_named_by_their_txid_with_the_fee_in_usd() -> None:
    exchange = ccxt.kraken({"apiKey": "key", "secret": "c2VjcmV0", "enableRateLimit": False})
    exchange.number = str
    exchange.set_markets(json.loads((MARKETS / "kraken-btc.json").read_text(encoding="utf-8")))
    exchange.fetch = OfflineExchange([RAW["kraken"]]).fetch

    assert booked(exchange, "kraken", "BTC/USD") == [
        ("BTC/USD:TCCCTY-WE3O6-EAAAAA", "buy", Decimal("0.001"), Decimal(72000), "OQCLML-BW3P3-BUCMWZ",
         [(Decimal("0.1152"), "USD")]),
        ("BTC/USD:TBP7O6-PNXI-CONU", "sell", Decimal("0.0001"), Decimal("72026.5"), "OSJVN7-A2AE-63WZV",
         [(Decimal("0.01873"), "USD")]),
    ]  # fmt: skip
