"""`sync` of okx's funding through ccxt 4.5.90's real okx class, offline.

ccxt's `okx.fetch_funding_history` asks `/api/v5/account/bills-archive` for `type=8` (funding fee) bills with
`ctType` and `ccy` (every linear contract settled in the symbol's quote), never `begin`, `after` or the instrument,
and keeps the symbol's bills from `since` afterwards (`filter_by_symbol_since_limit`). okx's API documentation
("Get bills details (last 3 months)") answers those bills newest first, 100 at most (`limit`, 100 unless told),
paged back by `after` (bills with a smaller `billId`). The fake okx here answers as that documentation says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from freezegun import freeze_time

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_sync_currencies import Router
from tradeledger import open_ledger
from tradeledger.domain.events import Funding
from tradeledger.exchanges.ccxt import syncing

START = 1704067200000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000
EMPTY: dict[str, Any] = {"code": "0", "msg": "", "data": []}


def instrument(base: str) -> dict[str, str]:
    """okx's `/api/v5/public/instruments` row of a USDT-margined perpetual (the layout of its documentation)."""
    return {
        "instType": "SWAP", "instId": f"{base}-USDT-SWAP", "uly": f"{base}-USDT", "instFamily": f"{base}-USDT",
        "baseCcy": "", "quoteCcy": "", "settleCcy": "USDT", "ctVal": "0.01", "ctMult": "1", "ctValCcy": base,
        "ctType": "linear", "lotSz": "1", "tickSz": "0.1", "minSz": "1", "lever": "100", "state": "live",
        "listTime": "1611916828000", "expTime": "", "optType": "", "stk": "", "alias": "",
    }  # fmt: skip


def bill(index: int, base: str) -> dict[str, str]:
    """A funding fee bill (`type` 8) `index` hours after START."""
    return {
        "bal": "100", "balChg": "-0.01", "billId": str(700_000_000 + index), "ccy": "USDT", "execType": "",
        "fee": "0", "from": "", "instId": f"{base}-USDT-SWAP", "instType": "SWAP", "mgnMode": "cross",
        "notes": "", "ordId": "", "pnl": "-0.01", "posBal": "0", "posBalChg": "0", "subType": "173", "sz": "1",
        "to": "", "ts": str(START + (index + 1) * HOUR), "type": "8",
    }  # fmt: skip


# 240 funding bills in 240 hours: BTC's every fourth, the rest ETH's
BILLS = [bill(index, "BTC" if index % 4 == 0 else "ETH") for index in range(240)]


class Okx:
    """okx's bills-archive as its documentation describes it: the bills of `type` (and `instType`, `ccy`, `instId`
    when given), newest first, from `begin` to `end`, before the bill `after`, `limit` of them (100 unless told)."""

    def __init__(self, bills: list[dict[str, str]]) -> None:
        self.bills = bills

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if not path.endswith("/account/bills-archive"):
            return EMPTY  # trades, deposits, withdrawals: none
        found = [
            b
            for b in self.bills
            if all(query.get(key, b[key]) == b[key] for key in ("type", "instType", "ccy", "instId"))
            and int(query.get("begin", 0)) <= int(b["ts"]) <= int(query.get("end", 1 << 62))
            and int(b["billId"]) < int(query.get("after", 1 << 62))
        ]
        found.sort(key=lambda b: -int(b["billId"]))
        return {**EMPTY, "data": found[: int(query.get("limit", 100))]}


def test_okx_funding_before_the_latest_100_bills_is_synced(tmp_path: Path) -> None:
    exchange = offline_exchange("okx")
    exchange.set_markets([*exchange.markets.values(), *(exchange.parse_market(instrument(b)) for b in ("BTC", "ETH"))])
    router = Router(Okx(BILLS))
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2024-01-12"):
        syncing.sync(
            ledger, exchange, exchange="okx", symbols=["BTC/USDT:USDT"], since=datetime(2024, 1, 1, tzinfo=UTC)
        )
        again = syncing.sync(ledger, exchange, exchange="okx", symbols=["BTC/USDT:USDT"])
        funding = [r.event for r in ledger.history() if isinstance(r.event, Funding)]

    assert len(funding) == 60  # every BTC bill: the 4th hour's and on, not only those among the latest 100 bills
    assert funding[0].occurred_at == datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert funding[-1].occurred_at == datetime(2024, 1, 10, 21, tzinfo=UTC)
    assert sum(f.amount for f in funding) == Decimal("-0.60")
    assert again.appended == 0
    # every contract's funding bills, 100 a call, then those after the earliest bill held, until fewer than 100
    asked = [query for path, query in router.asked if path.endswith("bills-archive")]
    assert [(query.get("after"), query["limit"], query["type"]) for query in asked[:3]] == [
        (None, "100", "8"),
        ("700000140", "100", "8"),
        ("700000040", "100", "8"),
    ]
