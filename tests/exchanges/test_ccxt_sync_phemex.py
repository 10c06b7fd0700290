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


def spot_row(index: int) -> dict[str, Any]:
    """A row of phemex's spot trade list (the layout of ccxt's comment in `phemex.fetch_my_trades`), `index` minutes
    after START: a buy of 0.001 BTC at 20000 USDT."""
    return {
        "qtyType": "ByBase", "transactTimeNs": (START + (index + 1) * MINUTE) * 1_000_000, "clOrdID": f"c-{index}",
        "orderID": f"o-{index}", "symbol": "sBTCUSDT", "side": "Buy", "priceEP": 2000000000000, "baseQtyEv": 100000,
        "quoteQtyEv": 0, "action": "New", "execStatus": "MakerFill", "ordStatus": "Filled", "ordType": "Limit",
        "execInst": "None", "timeInForce": "GoodTillCancel", "stopDirection": "UNSPECIFIED", "tradeType": "Trade",
        "stopPxEp": 0, "execId": f"e-{index}", "execPriceEp": 2000000000000, "execBaseQtyEv": 100000,
        "execQuoteQtyEv": 2000000000, "leavesBaseQtyEv": 0, "leavesQuoteQtyEv": 0, "execFeeEv": 0, "feeRateEr": 0,
    }  # fmt: skip


class PhemexSpot:
    """phemex's spot trade list (`/exchange/spot/order/trades`, symbol, start, end, limit, offset: phemex-api-docs,
    spot "Query history trades"): the symbol's rows from `start`, newest first, `limit` of them (20 unless told, as
    phemex's data lists) from `offset` (0 unless told); every other list empty."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if not path.endswith("/exchange/spot/order/trades"):
            return OK
        start = int(query.get("start", 0)) * 1_000_000
        found = [r for r in self.rows if r["transactTimeNs"] >= start and r["symbol"] == query["symbol"]]
        found.sort(key=lambda r: -r["transactTimeNs"])
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 20))
        return {**OK, "data": {"total": len(found), "rows": found[offset : offset + limit]}}


def test_phemex_spot_trades_before_the_latest_page_are_synced(tmp_path: Path) -> None:
    exchange = offline_exchange("phemex")
    router = Router(PhemexSpot([spot_row(index) for index in range(250)]))
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2022-10-20"):
        syncing.sync(
            ledger, exchange, exchange="phemex", symbols=["BTC/USDT"], since=datetime(2022, 10, 19, tzinfo=UTC)
        )
        again = syncing.sync(ledger, exchange, exchange="phemex", symbols=["BTC/USDT"])
        fills = [r.event for r in ledger.history() if isinstance(r.event, Fill)]

    assert [f.fill_id for f in fills] == [f"BTC/USDT:e-{index}" for index in range(250)]
    assert sum(f.quantity for f in fills) == Decimal("0.250")
    assert again.appended == 0
    # the symbol's own list, 200 a page from offset 0, until a page holds fewer than 200
    asked = [query for path, query in router.asked if path.endswith("/spot/order/trades")]
    assert asked[:2] == [
        {"symbol": "sBTCUSDT", "limit": "200", "start": str(START), "offset": "0"},
        {"symbol": "sBTCUSDT", "limit": "200", "start": str(START), "offset": "200"},
    ]


def test_phemex_funding_deposits_and_withdrawals_past_the_latest_page_are_named_as_not_synced(tmp_path: Path) -> None:
    exchange = offline_exchange("phemex")
    exchange.fetch = Router(Phemex([], newest_first=True)).fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2022-10-24"):
        report = syncing.sync(
            ledger, exchange, exchange="phemex", symbols=["ETH/USDT:USDT"], since=datetime(2022, 10, 19, tzinfo=UTC)
        )

    assert [(gap.stream, gap.reason) for gap in report.unavailable] == [
        (
            "funding ETH/USDT:USDT",
            (
                "'phemex' answers ccxt 4.5.90's fetch_funding_history its latest page only (20 records), whatever the "
                "cursor: those before it are not synced (record them with record-funding)"
            ),
        ),
        (
            "deposits",
            (
                "'phemex' answers ccxt 4.5.90's fetch_deposits its latest page only (of the last 3 months), whatever "
                "the cursor: those before it are not synced (record them with record-transfer)"
            ),
        ),
        (
            "withdrawals",
            (
                "'phemex' answers ccxt 4.5.90's fetch_withdrawals its latest page only (of the last 3 months), "
                "whatever the cursor: those before it are not synced (record them with record-transfer)"
            ),
        ),
    ]
