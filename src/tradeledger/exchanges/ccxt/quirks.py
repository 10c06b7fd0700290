"""What ccxt 4.5.90 makes of one exchange's answer that the exchange did not say, read back from its raw record.

htx: ccxt's `htx.fetch_my_trades` reads a USDT-margined contract's trades from `/v5/trade/order/details`, whose
`trade_fee` is the "total trading fees in USDT", a charge positive (htx's API v5 documentation: a TAKER's 31.4 USDT,
fee 0.01884; ccxt's own example in `htx.parse_trade`: a TAKER's 125.3764, 0.07522584); `htx.parse_trade` negates it,
as it must for the older contract APIs, which write a charge negative (their rows hold `fee_asset`, the v5 rows
`fee_currency`). A v5 row whose ccxt fee is minus its `trade_fee` has its fee as htx wrote it: a charge positive, a
rebate negative (a ccxt that stops negating it gives the same fee).
"""

from __future__ import annotations

from collections.abc import Mapping

from tradeledger.exchanges.ccxt.entries import Entry


def trade_fees(entry: Entry, exchange: str) -> list[dict[str, object]]:
    """A trade's fees as ccxt gives them (Entry.fees), the exchange's own sign restored where ccxt turned it."""
    fees = entry.fees()
    info = entry.raw.get("info")
    if exchange != "htx" or not isinstance(info, Mapping) or "fee_currency" not in info or len(fees) != 1:
        return fees
    written = entry.number(info.get("trade_fee"), "info.trade_fee")
    (fee,) = fees
    return [{**fee, "amount": written}] if fee["amount"] == -written else fees
