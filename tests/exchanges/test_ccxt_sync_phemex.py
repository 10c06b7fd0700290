"""`sync` of phemex's USDT perpetual trades through ccxt 4.5.90's real phemex class, offline.

ccxt's `phemex.fetch_my_trades` reads a USDT-settled contract's trades from `/exchange/order/v2/tradingList` with
`currency=USDT`, `offset=0`, `limit=200` and `start` (the `since`), never the symbol: the answer is the account's
trades of every USDT contract, 200 at most, and ccxt keeps the symbol's afterwards (`parse_trades`). phemex's API
documentation (phemex-api-docs, hedged perpetual "Query user trade") lists that answer newest first, paged by `offset`.
The fake phemex here answers as that documentation says (and, to be safe, oldest first too): a busy account's other
symbols fill the 200 rows, and the synced symbol's trades hide behind them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_sync_currencies import Router
from tradeledger import open_ledger
from tradeledger.domain.fills import Fill
from tradeledger.exchanges.ccxt import syncing

START = 1666137600000  # 2022-10-19T00:00:00Z
MINUTE = 60_000
OK: dict[str, Any] = {"code": 0, "msg": "OK", "data": []}


def row(index: int, symbol: str) -> dict[str, Any]:
    """A row of phemex's USDT trade list (the layout of its documentation's example), `index` minutes after START."""
    return {
        "createdAt": START + (index + 1) * MINUTE, "symbol": symbol, "currency": "USDT", "action": 1, "tradeType": 1,
        "execQtyRq": "0.01", "execPriceRp": "1271.9", "side": 1, "orderQtyRq": "0.01", "priceRp": "1271.9",
        "execValueRv": "12.719", "feeRateRr": "0.0001", "execFeeRv": "0.0012719", "ordType": 2,
        "execId": f"{symbol}-{index}", "execStatus": 6,
    }  # fmt: skip


# 260 trades in 260 minutes: ETHUSDT's 11th and 241st, the rest another contract's (SOLUSDT)
ROWS = [row(index, "ETHUSDT" if index in (10, 240) else "SOLUSDT") for index in range(260)]


class Phemex:
    """phemex's USDT trade list as its documentation describes it: the rows from `start`, of `symbol` when given,
    ordered by time (newest first unless told), `limit` of them from `offset`; every other list empty."""

    def __init__(self, rows: list[dict[str, Any]], *, newest_first: bool) -> None:
        self.rows, self.newest_first = rows, newest_first

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if not path.endswith("/exchange/order/v2/tradingList"):
            return OK  # funding fees, deposits, withdrawals: none
        found = [
            r
            for r in self.rows
            if r["createdAt"] >= int(query.get("start", 0)) and query.get("symbol", r["symbol"]) == r["symbol"]
        ]
        found.sort(key=lambda r: r["createdAt"], reverse=self.newest_first)
        offset, limit = int(query["offset"]), int(query["limit"])
        return {**OK, "data": found[offset : offset + limit]}


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest first", "oldest first"])
def test_a_busy_phemex_accounts_other_contracts_do_not_hide_the_synced_symbols_trades(
    tmp_path: Path, *, newest_first: bool
) -> None:
    exchange = offline_exchange("phemex")
    router = Router(Phemex(ROWS, newest_first=newest_first))
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2022-10-24"):
        syncing.sync(
            ledger, exchange, exchange="phemex", symbols=["ETH/USDT:USDT"], since=datetime(2022, 10, 19, tzinfo=UTC)
        )
        again = syncing.sync(ledger, exchange, exchange="phemex", symbols=["ETH/USDT:USDT"])
        fills = [r.event for r in ledger.history() if isinstance(r.event, Fill)]

    assert [(f.fill_id, f.quantity, f.occurred_at) for f in fills] == [
        ("ETH/USDT:USDT:ETHUSDT-10", Decimal("0.01"), datetime(2022, 10, 19, 0, 11, tzinfo=UTC)),
        ("ETH/USDT:USDT:ETHUSDT-240", Decimal("0.01"), datetime(2022, 10, 19, 4, 1, tzinfo=UTC)),
    ]
    assert again.appended == 0
    # every USDT contract's trades, page by page from offset 0 until a page holds fewer than 200
    assert [query for path, query in router.asked if path.endswith("tradingList")][:2] == [
        {"currency": "USDT", "offset": "0", "limit": "200", "start": str(START)},
        {"currency": "USDT", "offset": "200", "limit": "200", "start": str(START)},
    ]
