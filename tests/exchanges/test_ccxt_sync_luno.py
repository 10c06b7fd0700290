"""`sync` of luno's ledger through ccxt 4.5.90's real luno class, offline.

luno's account transactions (`/api/1/accounts/{id}/transactions`, luno's API "ListTransactions") are asked by row:
`min_row` inclusive, `max_row` exclusive, at most 1000 rows a call, a value 0 or below counted back from the latest row
(`max_row=0`: after the latest). ccxt's `luno.fetch_ledger` asks `min_row=-1000`, `max_row=0` unless told: the latest
1000 rows, whatever `since` (it only filters them). The fake luno here answers row ranges as that documentation says.
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
from tradeledger.exchanges.ccxt import syncing

START = 1700000000000  # 2023-11-14T22:13:20Z
LATER = 1700179200000  # 2023-11-17T00:00:00Z
KEYS = ("row_index", "timestamp", "balance", "available", "balance_delta", "available_delta", "description")


def received(count: int, *, since: int = 0) -> list[dict[str, Any]]:
    """`count` rows of luno's BTC account, each 0.001 BTC received, a second apart, those after row `since` from
    LATER on."""
    return [
        dict(zip(KEYS, (row, (START + row * 1000) if row <= since or not since else LATER + (row - since) * 1000,
                        f"{row / 1000:.3f}", f"{row / 1000:.3f}", "0.001", "0.001", "Received 0.001 BTC"), strict=True))
        | {"currency": "XBT"}
        for row in range(1, count + 1)
    ]  # fmt: skip


class Luno:
    """luno's answers: accounts BTC (100, holding `rows`) and ZAR (200, none), no trades; a transactions call answers
    the rows from `min_row` up to `max_row` (exclusive; 0 or below: counted back from the latest), at most 1000."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if path == "/api/1/balance":
            return {"balance": [{"account_id": "100", "asset": "XBT", "balance": "1.5", "reserved": "0"},
                                {"account_id": "200", "asset": "ZAR", "balance": "0", "reserved": "0"}]}  # fmt: skip
        if path == "/api/1/listtrades":
            return {"trades": []}
        account = path.split("/")[-2]
        rows = self.rows if account == "100" else []
        low, high = (int(query[name]) for name in ("min_row", "max_row"))
        low, high = (value if value > 0 else len(rows) + 1 + value for value in (low, high))
        assert 0 < high - low <= 1000, query  # luno refuses a range of more than 1000 rows
        return {"id": account, "transactions": [row for row in rows if low <= row["row_index"] < high]}


def test_a_luno_account_with_more_than_1000_rows_since_the_cursor_is_synced_whole(tmp_path: Path) -> None:
    exchange = offline_exchange("luno")
    luno = Luno(received(2500))
    router = Router(luno)
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-11-16"):
        syncing.sync(ledger, exchange, exchange="luno", symbols=["BTC/ZAR"], since=datetime(2023, 11, 14, tzinfo=UTC))
        first = [
            (query["min_row"], query["max_row"]) for path, query in router.asked if path.endswith("100/transactions")
        ]
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-11-18"):
        luno.rows = received(3700, since=2500)  # 1200 rows more, on 2023-11-17
        router.asked.clear()
        again = syncing.sync(ledger, exchange, exchange="luno", symbols=["BTC/ZAR"])
        later = [
            (query["min_row"], query["max_row"]) for path, query in router.asked if path.endswith("100/transactions")
        ]
        held = {(b.currency, b.amount) for b in ledger.balances().balances}
        ids = [recorded.event.event_id for recorded in ledger.history()]

    assert held == {("BTC", Decimal("3.700"))}
    assert ids == [f"ledger:100:{row}" for row in range(1, 3701)]
    # the latest 1000 rows, then the 1000 before the earliest held, until row 1 (or a row before the cursor); the
    # stream's next answers, from its cursor on, each one call
    assert first == [("-1000", "0"), ("501", "1501"), ("1", "501"), ("-1000", "0"), ("-1000", "0")]
    assert later[:2] == [("-1000", "0"), ("1701", "2701")]
    assert again.appended == 1200
