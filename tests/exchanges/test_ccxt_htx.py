"""htx through ccxt 4.5.90's real parser, offline (tests/fixtures/ccxt-recorded/htx.raw.json).

ccxt 4.5.90's htx `fetch_my_trades` reads a USDT-margined contract's trades from `/v5/trade/order/details`, where htx
writes `trade_fee` as the "total trading fees in USDT", a charge positive (its API v5 documentation's example: a
TAKER's 31.4 USDT sell, fee 0.01884 = 0.06%; ccxt's own example in `htx.parse_trade`: a TAKER's 125.3764, 0.07522584);
ccxt negates it, as it must for the older contract APIs, which write a charge negative (`trade_fee` -0.00522392 in
ccxt's example of `swap_cross_matchresults`). A spot trade's `filled-fees` is a charge positive in the coin received,
or, deducted in htx's points, `filled-points` in `fee-deduct-currency`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tradeledger.domain.fills import Fill
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

RAW: dict[str, Any] = json.loads((RECORDED / "htx.raw.json").read_text(encoding="utf-8"))


def fills(answer: str, symbol: str, **mapping: Any) -> list[Fill]:
    exchange = offline_exchange("htx", [RAW[answer]])
    trades = exchange.fetch_my_trades(symbol)
    mapped = map_entries(trades, exchange="htx", kind=Kind.TRADES, **mapping)
    return [event for _, event in mapped.in_time_order() if isinstance(event, Fill)]


def test_an_htx_usdt_contracts_taker_fee_is_a_charge_not_a_rebate() -> None:
    booked = fills("linear", "BTC/USDT:USDT", contract_sizes={"BTC/USDT:USDT": Decimal("0.001")})

    assert [(f.fill_id, f.side.value, f.quantity, f.price) for f in booked] == [
        ("BTC/USDT:USDT:100000032538647", "sell", Decimal("0.001"), Decimal(31400)),
        ("BTC/USDT:USDT:152022944", "sell", Decimal("0.002"), Decimal("62688.2")),
    ]
    assert [[(fee.amount, fee.currency) for fee in f.fees] for f in booked] == [
        [(Decimal("0.01884"), "USDT")],  # paid: 0.06% of 31.4
        [(Decimal("0.07522584"), "USDT")],  # paid: 0.06% of 125.3764
    ]


def test_htx_spot_fees_are_in_the_coin_received_or_in_htx_points() -> None:
    booked = fills("spot", "BTC/USDT")

    assert [(f.fill_id, f.side.value, f.quantity, f.price, f.order_id) for f in booked] == [
        ("BTC/USDT:100050305349", "buy", Decimal("0.001"), Decimal(62000), "83711103204910"),
        ("BTC/USDT:100050305348", "sell", Decimal("0.0005"), Decimal(62100), "83711103204909"),
    ]
    assert [[(fee.amount, fee.currency) for fee in f.fees] for f in booked] == [
        [(Decimal("0.000002"), "BTC")],  # the buy's fee in the BTC received
        [(Decimal("0.005826843283532154"), "HT")],  # the sell's, deducted in htx's points (HT)
    ]
