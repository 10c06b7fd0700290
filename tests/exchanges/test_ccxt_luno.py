"""luno's trades through ccxt 4.5.90's real parser, offline: luno's `/api/1/listtrades` rows (the layout of the
record in the comment of ccxt's `luno.parse_trade`) on BTC/ZAR (tests/fixtures/ccxt-markets/luno.json).

luno writes both `fee_base` and `fee_counter` on every trade, one of them 0: a buy's fee in the BTC received, a
sell's in the ZAR received. ccxt 4.5.90's `luno.parse_trade` reads `fee_counter` only when `fee_base` is absent, which
it never is: a fee in the counter currency comes back as no fee.
"""

from __future__ import annotations

from decimal import Decimal

from tests.exchanges.offline import offline_exchange
from tradeledger.domain.fills import Fill
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

TRADES = {
    "trades": [
        {"pair": "XBTZAR", "sequence": 3256813, "order_id": "BXEX6XHHDT5EGW2", "type": "BID",
         "timestamp": 1700000000000, "price": "650000.00", "volume": "0.010", "base": "0.010", "counter": "6500.00",
         "fee_base": "0.00001", "fee_counter": "0.00", "is_buy": False, "client_order_id": ""},
        {"pair": "XBTZAR", "sequence": 3256814, "order_id": "BXEX6XHHDT5EGW3", "type": "ASK",
         "timestamp": 1700000100000, "price": "660000.00", "volume": "0.005", "base": "0.005", "counter": "3300.00",
         "fee_base": "0.00", "fee_counter": "3.30", "is_buy": False, "client_order_id": ""},
    ]
}  # fmt: skip


def test_a_luno_buys_fee_is_in_btc_and_a_sells_in_zar() -> None:
    exchange = offline_exchange("luno", [TRADES])
    trades = exchange.fetch_my_trades("BTC/ZAR")

    mapped = map_entries(trades, exchange="luno", kind=Kind.TRADES)

    fills = [event for _, event in mapped.in_time_order() if isinstance(event, Fill)]
    assert [(f.fill_id, f.side.value, f.quantity, f.price, f.order_id) for f in fills] == [
        ("BTC/ZAR:3256813", "buy", Decimal("0.010"), Decimal(650000), "BXEX6XHHDT5EGW2"),
        ("BTC/ZAR:3256814", "sell", Decimal("0.005"), Decimal(660000), "BXEX6XHHDT5EGW3"),
    ]
    assert [[(fee.amount, fee.currency) for fee in f.fees] for f in fills] == [
        [(Decimal("0.00001"), "BTC")],
        [(Decimal("3.30"), "ZAR")],  # 0.1% of the 3300 ZAR received
    ]
