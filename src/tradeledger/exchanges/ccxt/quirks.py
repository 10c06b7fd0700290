"""What ccxt 4.5.90 makes of one exchange's answer that the exchange did not say, read back from its raw record.

htx: ccxt's `htx.fetch_my_trades` reads a USDT-margined contract's trades from `/v5/trade/order/details`, whose
`trade_fee` is the "total trading fees in USDT", a charge positive (htx's API v5 documentation: a TAKER's 31.4 USDT,
fee 0.01884; ccxt's own example in `htx.parse_trade`: a TAKER's 125.3764, 0.07522584); `htx.parse_trade` negates it,
as it must for the older contract APIs, which write a charge negative (their rows hold `fee_asset`, the v5 rows
`fee_currency`). A v5 row whose ccxt fee is minus its `trade_fee` has its fee as htx wrote it: a charge positive, a
rebate negative (a ccxt that stops negating it gives the same fee).

luno: its trade rows (`/api/1/listtrades`) hold both `fee_base` and `fee_counter`, one of them 0 (a buy's fee in the
base received, a sell's in the counter currency received); ccxt's `luno.parse_trade` reads `fee_counter` only when
`fee_base` is absent, which it never is: a fee in the counter currency came back as no fee. A luno row's fees are
its two, each other than 0, in the symbol's base and quote.

htx: its deposit states (htx's API documentation, "List of possible deposit state") are `unknown` ("on-chain transfer
has not been received"), `confirming`, `confirmed`, `safe` and `orphan` ("confirmed but currently in an orphan
branch"); ccxt's `htx.parse_transaction_status` maps `unknown` and `orphan` to `failed`, a final word, though neither
is final: the transfer may still arrive, or its block return to the main chain. An htx deposit ccxt calls failed
whose `info.state` is one of them has that state as its status (answers.py: it may still move money).
"""

from __future__ import annotations

from collections.abc import Mapping

from tradeledger.domain.markets import market
from tradeledger.exchanges.ccxt.entries import Entry

_HTX_NOT_YET = frozenset({"unknown", "orphan"})  # htx deposit states ccxt calls failed that may still move money


def transfer_status(entry: Entry, exchange: str, kind: str) -> object:
    """A transfer's status as ccxt gives it, htx's own deposit state where ccxt turned a state not final into
    `failed` (see the module)."""
    status = entry.raw.get("status")
    info = entry.raw.get("info")
    if exchange == "htx" and kind == "deposit" and status == "failed" and isinstance(info, Mapping):
        state = info.get("state")
        return state if state in _HTX_NOT_YET else status
    return status


def trade_fees(entry: Entry, exchange: str) -> list[dict[str, object]]:
    """A trade's fees as ccxt gives them (Entry.fees), the exchange's own restored where ccxt lost or turned them."""
    fees = entry.fees()
    info = entry.raw.get("info")
    if exchange == "luno" and isinstance(info, Mapping) and "fee_base" in info and "fee_counter" in info:
        traded = market(entry.symbol())
        both = [
            (entry.number(info[field], f"info.{field}"), currency)
            for field, currency in (("fee_base", traded.base), ("fee_counter", traded.quote))
        ]
        return [{"amount": amount, "currency": currency} for amount, currency in both if amount != 0]
    if exchange != "htx" or not isinstance(info, Mapping) or "fee_currency" not in info or len(fees) != 1:
        return fees
    written = entry.number(info.get("trade_fee"), "info.trade_fee")
    (fee,) = fees
    return [{**fee, "amount": written}] if fee["amount"] == -written else fees
