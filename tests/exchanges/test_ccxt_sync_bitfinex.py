"""`sync` of bitfinex's trades through ccxt 4.5.90's real bitfinex class, offline.

ccxt's `bitfinex.fetch_my_trades` posts to `/v2/auth/r/trades/{symbol}/hist` with `start` (its `since`) and `end`,
but neither `limit` nor `sort`: bitfinex's API documentation ("Trades", authenticated) answers `limit` trades (25
unless told, 2500 at most) in that span, sorted by `MTS` descending unless `sort` is 1: the newest 25 since the
cursor. The fake bitfinex here answers as that documentation says.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
from freezegun import freeze_time

from tradeledger import open_ledger
from tradeledger.domain.fills import Fill
from tradeledger.exchanges.ccxt import syncing

START = 1574899200000  # 2019-11-28T00:00:00Z
MINUTE = 60_000
MARKET = {
    "id": "tETHUST", "symbol": "ETH/USDT", "base": "ETH", "quote": "USDT", "baseId": "ETH", "quoteId": "UST",
    "type": "spot", "spot": True, "contract": False, "active": True,
}  # fmt: skip


def trade(index: int) -> list[Any]:
    """A row of bitfinex's trade list (ID, PAIR, MTS, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE, ORDER_PRICE, MAKER,
    FEE, FEE_CURRENCY, CID), `index` minutes after START: a buy of 0.1 ETH at 187.37, fee 0.0002 ETH."""
    return [402088000 + index, "tETHUST", START + (index + 1) * MINUTE, 34938060000 + index, "0.1", "187.37",
            "EXCHANGE LIMIT", "187.37", 1, "-0.0002", "ETH", None]  # fmt: skip


class Bitfinex:
    """bitfinex's authenticated POSTs: a symbol's trade history as its documentation describes it (from `start` to
    `end`, `limit` of them, 25 unless told, newest first unless `sort` is 1); every other list empty."""

    def __init__(self, trades: list[list[Any]]) -> None:
        self.trades = trades
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        query = json.loads(body) if body else {}
        self.asked.append((url, query))
        if not url.endswith("/auth/r/trades/tETHUST/hist"):
            return []
        found = [t for t in self.trades if query.get("start", 0) <= t[2] <= query.get("end", 1 << 62)]
        found.sort(key=lambda t: t[2], reverse=query.get("sort", -1) != 1)
        return found[: query.get("limit", 25)]


def test_bitfinex_trades_before_the_newest_25_since_the_cursor_are_synced(tmp_path: Path) -> None:
    exchange = ccxt.bitfinex({"apiKey": "key", "secret": "secret", "enableRateLimit": False})
    exchange.number = str
    exchange.set_markets([MARKET])
    bitfinex = Bitfinex([trade(index) for index in range(60)])
    exchange.fetch = bitfinex.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2019-11-29"):
        syncing.sync(
            ledger, exchange, exchange="bitfinex", symbols=["ETH/USDT"], since=datetime(2019, 11, 28, tzinfo=UTC)
        )
        again = syncing.sync(ledger, exchange, exchange="bitfinex", symbols=["ETH/USDT"])
        fills = [r.event for r in ledger.history() if isinstance(r.event, Fill)]

    assert [f.fill_id for f in fills] == [f"ETH/USDT:{402088000 + index}" for index in range(60)]
    assert sum(f.quantity for f in fills) == Decimal("6.0")
    assert again.appended == 0
    # oldest first from the cursor, 1000 a call
    asked = [query for url, query in bitfinex.asked if url.endswith("/trades/tETHUST/hist")]
    assert [(query["start"], query["limit"], query["sort"]) for query in asked[:2]] == [
        (START, 1000, 1),
        (START + 60 * MINUTE, 1000, 1),
    ]
