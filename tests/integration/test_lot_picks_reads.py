"""A batch of sales that each name their lot is checked with a bounded number of reads of the log, whatever the number
of sales: an import of a history that names its lots on every sale must not read the log once per sale (each read by
account a scan of the table on SQLite: an import quadratic in its length)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradeledger import Ledger
from tradeledger.application import lot_pick_fold
from tradeledger.storage.sql.log import SqlEventLog

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def pairs(start: int, count: int, account: str = "bot") -> list[dict[str, Any]]:
    """Pairs `start` to `start + count - 1` of a history in time order: a buy of 1 (at seq 2 * pair + 1), then a sale
    of 1 naming that buy's lot."""
    fills: list[dict[str, Any]] = []
    for pair in range(start, start + count):
        for offset, side in enumerate(("buy", "sell")):
            fill: dict[str, Any] = {
                "fill_id": f"{account}-{pair}-{side}",
                "account": account,
                "exchange": "kraken",
                "symbol": "BTC/USD",
                "side": side,
                "quantity": "1",
                "price": "100" if side == "buy" else "110",
                "fee": "0",
                "occurred_at": (T0 + timedelta(seconds=2 * pair + offset)).isoformat(),
            }
            if side == "sell":
                fill["metadata"] = {"lots": [{"seq": 2 * pair + 1, "quantity": "1"}]}
            fills.append(fill)
    return fills


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The filters of every read of the log by the SQL store (SqlEventLog.read, counted, its result unchanged)."""
    seen: list[dict[str, Any]] = []
    original = SqlEventLog.read

    def counted(self: SqlEventLog, **filters: Any) -> Any:
        seen.append(filters)
        return original(self, **filters)

    monkeypatch.setattr(SqlEventLog, "read", counted)
    return seen


def test_a_batch_of_sales_each_naming_its_lot_reads_the_log_a_bounded_number_of_times(
    ledger: Ledger, reads: list[dict[str, Any]]
) -> None:
    ledger.record_many(pairs(0, 10))
    few = len(reads)
    reads.clear()

    ledger.record_many(pairs(10, 200))

    assert len(reads) <= few + 5, f"{len(reads)} reads for 200 sales, {few} for 10"
    assert len(ledger.gains("specific").rows) == 210


def plain_buy(seconds: float, fill_id: str) -> dict[str, Any]:
    """A buy of 1 naming no lots, at `seconds` after T0."""
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    return {"fill_id": fill_id, "account": "bot", "exchange": "kraken", "symbol": "BTC/USD", "side": "buy"} | {
        "quantity": "1",
        "price": "100",
        "fee": "0",
        "occurred_at": at,
    }


@pytest.fixture
def folded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many events each fold of the lot check folds (lot_pick_fold._fold, counted, its result unchanged)."""
    sizes: list[int] = []
    original = lot_pick_fold._fold

    def counted(events: Any, *, withdrawals_dispose: bool) -> Any:
        sizes.append(len(events))
        return original(events, withdrawals_dispose=withdrawals_dispose)

    monkeypatch.setattr(lot_pick_fold, "_fold", counted)
    return sizes


def test_an_append_naming_no_lots_that_occurred_after_the_last_event_naming_lots_reads_nothing_of_the_log(
    ledger: Ledger, reads: list[dict[str, Any]], folded: list[int]
) -> None:
    ledger.record(plain_buy(0, "first"))  # a ledger naming no lots
    ledger.record(plain_buy(-10, "backfilled"))
    ledger.record_many(pairs(0, 10))
    reads.clear()
    folded.clear()

    ledger.record(plain_buy(30, "after"))  # after the sale naming a lot at 19 s

    assert (reads, folded) == ([], [])


def test_a_backfill_naming_no_lots_inside_an_open_position_folds_from_the_last_time_the_pool_was_empty(
    ledger: Ledger, folded: list[int]
) -> None:
    ledger.record_many(pairs(0, 50))  # 100 events; the pool empty after each sale, flat at the head
    folded.clear()

    ledger.record(plain_buy(2 * 45 + 0.5, "backfill"))  # lot 91 open then (its sale at 91 s): folded from its buy

    assert folded == [2 * 5 + 1]  # pairs 45 to 49 and the backfill, not the 100 events of the history
    assert len(ledger.gains("specific").rows) == 50


def test_a_backfill_into_two_pools_of_one_account_asks_for_its_latest_withdrawal_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record_many(pairs(0, 5))  # the sale naming a lot at 9 s: the mark
    asked: list[tuple[str, frozenset[str]]] = []
    original = SqlEventLog.last_occurred

    def counted(self: SqlEventLog, account: str, exchange: str | None, types: Any, **filters: Any) -> str | None:
        asked.append((account, frozenset(filters.get("kinds", ()))))
        return original(self, account, exchange, types, **filters)

    monkeypatch.setattr(SqlEventLog, "last_occurred", counted)

    eth = plain_buy(4.5, "eth") | {"symbol": "ETH/USD"}
    ledger.record_many([plain_buy(4.5, "btc"), eth])  # backfills into bot's BTC and ETH pools

    assert asked.count(("bot", frozenset({"withdrawal"}))) == 1


def test_a_backfill_inside_an_open_position_reads_the_history_back_to_where_it_folds_not_all_of_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, folded: list[int]
) -> None:
    ledger.record_many(pairs(0, 500))  # 1,000 events a second apart; the pool empty after each sale
    read_back: list[int] = []  # the seqs yielded to the reads of the history before the backfill
    original = SqlEventLog.read

    def counted(self: SqlEventLog, **filters: Any) -> Any:
        for event in original(self, **filters):
            if filters.get("occurred_until") is not None:
                read_back.append(event.seq)
            yield event

    monkeypatch.setattr(SqlEventLog, "read", counted)
    folded.clear()

    ledger.record(plain_buy(2 * 495 + 0.5, "backfill"))  # lot 991 open then: folded from its buy

    assert folded == [2 * 5 + 1]
    # The minute before the backfill (its first window: 60 events), not the 991 events of the history before it.
    assert len(read_back) == 60
    assert min(read_back) == 2 * 495 + 1 - 59
