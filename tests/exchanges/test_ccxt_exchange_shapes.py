"""What users' exchange data looks like through `tradeledger ingest ccxt` (helper-75): fills of one order in one
millisecond, fees in the received coin, in a third coin and several per fill, rebates, contracts of a size.

Expected values are worked out by hand from the entries and written out.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.exchanges.test_ccxt_more_exchanges import tradeledger
from tests.exchanges.test_ccxt_recorded_exchanges import history_ids


def _usdm_trade(ident: str, side: str, qty: str, price: str, time: int) -> dict[str, Any]:
    """A BTC/USDT:USDT trade as ccxt 4.5.90 (string mode) parses binance's USDⓈ-M `userTrades` (contract size 1)."""
    cost = str(Decimal(qty) * Decimal(price))
    return {
        "id": ident,
        "order": "261942655610",
        "timestamp": time,
        "symbol": "BTC/USDT:USDT",
        "type": None,
        "side": side,
        "takerOrMaker": "taker",
        "price": price,
        "amount": qty,
        "cost": cost,
        "fee": {"cost": "0", "currency": "USDT"},
        "fees": [{"cost": "0", "currency": "USDT"}],
        "info": {"symbol": "BTCUSDT", "id": int(ident), "price": price, "qty": qty, "time": time},
    }


def test_fills_of_one_millisecond_are_appended_in_the_order_of_their_numeric_ids(tmp_path: Path) -> None:
    # binance numbers trades per symbol: a symbol's ids grow past 9999 to 10000. Long 0.5 @ 90 (trade 9997), then
    # one market sell of 1.5 filled in one millisecond against three makers: 9998 @ 100, 9999 @ 99, 10000 @ 98.
    # In the exchange's order the first fill closes the long: realized (100 - 90) x 0.5 = 5, and the other two open
    # a short of 1 at (99 + 98) / 2 = 98.5. In the text order of the ids ("10000" < "9998") the fill at 98 would
    # close it: realized 4, short 1 at 99.5.
    db, file = tmp_path / "ledger.db", tmp_path / "trades.json"
    at = 1707530039409
    trades = [
        _usdm_trade("9997", "buy", "0.5", "90", at - 60_000),
        _usdm_trade("9998", "sell", "0.5", "100", at),
        _usdm_trade("9999", "sell", "0.5", "99", at),
        _usdm_trade("10000", "sell", "0.5", "98", at),
    ]
    file.write_text(json.dumps(trades))

    assert tradeledger(db, "ingest", "ccxt", str(file), "--exchange", "binanceusdm", "--json")[0] == 0

    assert history_ids(db) == [f"BTC/USDT:USDT:{ident}" for ident in ("9997", "9998", "9999", "10000")]
    code, shown = tradeledger(db, "positions", "--json")
    assert code == 0, shown
    (position,) = shown["open"]
    assert (position["side"], position["quantity"], position["avg_price"]) == ("short", "1", "98.5")
    assert shown["totals"]["realized_pnl"] == "5"
