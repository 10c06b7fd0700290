"""`sync` of mexc's funding through ccxt 4.5.90's real mexc class, offline.

ccxt's `mexc.fetch_funding_history` asks `/api/v1/private/position/funding_records` with the symbol (and `page_size`
only when given a limit), never a start time: mexc's contract API documentation ("Get details of user's funding rate
history") answers page `page_num` (1 unless told) of `page_size` records (20 unless told, 100 at most), newest first.
The fake mexc here answers as that documentation says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
from freezegun import freeze_time

from tests.exchanges.test_ccxt_sync_currencies import Router
from tradeledger import open_ledger
from tradeledger.domain.events import Funding
from tradeledger.exchanges.ccxt import syncing

START = 1704067200000  # 2024-01-01T00:00:00Z
HOURS_8 = 8 * 3_600_000
CONTRACT = {
    "symbol": "BTC_USDT", "displayName": "BTC_USDT PERPETUAL", "baseCoin": "BTC", "quoteCoin": "USDT",
    "settleCoin": "USDT", "contractSize": 0.0001, "minLeverage": 1, "maxLeverage": 200, "priceScale": 1,
    "volScale": 0, "amountScale": 4, "priceUnit": 0.1, "volUnit": 1, "minVol": 1, "maxVol": 1000000,
    "makerFeeRate": 0.0002, "takerFeeRate": 0.0006, "state": 0, "futureType": 1, "apiAllowed": True,
}  # fmt: skip


def record(index: int) -> dict[str, Any]:
    """A funding record (the layout of ccxt's comment in `mexc.fetch_funding_history`), `index` settlements on."""
    return {
        "id": 7423000 + index, "symbol": "BTC_USDT", "positionType": 1, "positionValue": "29.3",
        "funding": "-0.001", "rate": "0.0001", "settleTime": START + (index + 1) * HOURS_8,
    }  # fmt: skip


RECORDS = [record(index) for index in range(130)]  # 43 days of funding


class Mexc:
    """mexc's funding records as its documentation describes them: page `page_num` of `page_size` (20 unless told),
    newest first; one USDT perpetual (BTC_USDT); every other list empty."""

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if path.endswith("/contract/detail"):
            return {"success": True, "code": 0, "data": [CONTRACT]}
        if path.endswith("/position/funding_records"):
            size, page = int(query.get("page_size", 20)), int(query.get("page_num", 1))
            rows = sorted(RECORDS, key=lambda r: -int(r["settleTime"]))[(page - 1) * size : page * size]
            data = {"pageSize": size, "totalCount": len(RECORDS), "currentPage": page, "resultList": rows}
            return {"success": True, "code": 0, "data": data}
        if path.startswith("/api/v1/"):
            return {"success": True, "code": 0, "data": []}
        return []  # spot: deposits, withdrawals


def test_mexc_funding_before_the_latest_20_records_is_synced(tmp_path: Path) -> None:
    exchange = ccxt.mexc({"apiKey": "key", "secret": "secret", "enableRateLimit": False})
    exchange.number = str
    router = Router(Mexc())
    exchange.fetch = router.fetch
    exchange.set_markets(exchange.fetch_swap_markets())

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2024-02-14"):
        syncing.sync(
            ledger, exchange, exchange="mexc", symbols=["BTC/USDT:USDT"], since=datetime(2024, 1, 1, tzinfo=UTC)
        )
        again = syncing.sync(ledger, exchange, exchange="mexc", symbols=["BTC/USDT:USDT"])
        funding = [r.event for r in ledger.history() if isinstance(r.event, Funding)]

    assert len(funding) == 130  # every settlement since the cursor, not the latest 20 only
    assert funding[0].occurred_at == datetime(2024, 1, 1, 8, tzinfo=UTC)
    assert funding[-1].occurred_at == datetime(2024, 2, 13, 8, tzinfo=UTC)
    assert sum(f.amount for f in funding) == Decimal("-0.130")
    assert again.appended == 0
    # page by page, 100 a page, until a page holds fewer than 100
    asked = [query for path, query in router.asked if path.endswith("funding_records")]
    assert [(query["page_num"], query["page_size"]) for query in asked[:3]] == [
        ("1", "100"),
        ("2", "100"),
        ("1", "100"),
    ]
