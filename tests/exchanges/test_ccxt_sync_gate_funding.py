"""`sync` of gate's funding through ccxt 4.5.90's real gate class, offline.

ccxt's `gate.fetch_funding_history` asks `/futures/{settle}/account_book` with the contract, `type=fund` and `from`
(its `since`, in seconds), but neither `to`, `limit` nor `offset`, and does not read `until`: gate's API v4
documentation ("Query account book") answers `limit` records (100 unless told) from `offset`, newest first, so only
the newest 100 since the cursor came. The fake gate here answers as that documentation says.
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

START = 1704067200  # 2024-01-01T00:00:00Z, in seconds as gate writes it
HOUR = 3600
CONTRACT = {
    "name": "BTC_USDT", "type": "direct", "quanto_multiplier": "0.0001", "leverage_min": "1", "leverage_max": "100",
    "mark_price": "40000", "order_price_round": "0.1", "order_size_min": 1, "order_size_max": 1000000,
    "maker_fee_rate": "-0.0001", "taker_fee_rate": "0.00075", "funding_interval": 3600, "in_delisting": False,
    "create_time": 1600000000,
}  # fmt: skip


def record(index: int) -> dict[str, Any]:
    """A `fund` record of gate's futures account book (the layout of ccxt's comment), `index` hours after START."""
    return {
        "time": START + (index + 1) * HOUR, "change": "-0.01", "balance": "100", "text": "BTC_USDT", "type": "fund",
        "contract": "BTC_USDT", "id": str(9000 + index),
    }  # fmt: skip


class Gate:
    """gate's futures account book as its documentation describes it: the records of `contract` and `type` from `from`
    to `to`, newest first, `limit` (100 unless told) from `offset`; every other list empty."""

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if not path.endswith("/futures/usdt/account_book"):
            return []
        rows = [
            r
            for r in (record(index) for index in range(250))
            if r["contract"] == query["contract"] and r["type"] == query["type"]
            and int(query.get("from", 0)) <= r["time"] <= int(query.get("to", 1 << 40))
        ]  # fmt: skip
        rows.sort(key=lambda r: -r["time"])
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return rows[offset : offset + limit]


def test_gate_funding_before_the_newest_100_since_the_cursor_is_synced(tmp_path: Path) -> None:
    exchange = ccxt.gate({"apiKey": "key", "secret": "secret", "enableRateLimit": False})
    exchange.number = str
    exchange.set_markets([exchange.parse_contract_market(CONTRACT, "usdt")])
    router = Router(Gate())
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2024-01-12"):
        syncing.sync(
            ledger, exchange, exchange="gate", symbols=["BTC/USDT:USDT"], since=datetime(2024, 1, 1, tzinfo=UTC)
        )
        again = syncing.sync(ledger, exchange, exchange="gate", symbols=["BTC/USDT:USDT"])
        funding = [r.event for r in ledger.history() if isinstance(r.event, Funding)]

    assert len(funding) == 250  # every hour's since the cursor, not the newest 100 only
    assert funding[0].occurred_at == datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert funding[-1].occurred_at == datetime(2024, 1, 11, 10, tzinfo=UTC)
    assert sum(f.amount for f in funding) == Decimal("-2.50")
    assert again.appended == 0
    # from the cursor, 100 a call by offset, until an answer holds fewer than 100
    asked = [query for path, query in router.asked if path.endswith("account_book")]
    assert [(query["from"], query["limit"], query["offset"]) for query in asked[:3]] == [
        (str(START), "100", "0"),
        (str(START), "100", "100"),
        (str(START), "100", "200"),
    ]
