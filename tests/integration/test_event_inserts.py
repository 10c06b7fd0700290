"""On SQLite an append's INSERT leaves out the optional columns that are NULL in every one of its events
(storage/sql/log.py: CPython 3.11's sqlite3 pays for each None it binds); the rows it stores are the
events as sealed, column for column, whatever mix of events and optional fields a batch holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tests.integration.test_sqlite_statements import traced
from tradeledger import Ledger, open_ledger
from tradeledger.application.ledger import Ledger as CoreLedger
from tradeledger.storage.memory import MemoryLedgerStore

T = "2026-01-06T00:00:00Z"
FUNDING = {"type": "funding", "funding_id": "f1", "exchange": "bybit", "symbol": "ETH/USDT:USDT", "amount": "-3",
           "currency": "USDT", "occurred_at": T}  # fmt: skip
TRANSFER = {"type": "transfer", "transfer_id": "w1", "exchange": "bybit", "currency": "USDT", "amount": "-100",
            "fee": "1", "kind": "withdrawal", "occurred_at": T}  # fmt: skip
BATCHES: list[list[dict[str, Any]]] = [
    [fill_fields(fill_id="F-1"), fill_fields(fill_id="F-2")],
    [fill_fields(fill_id="F-3", metadata={"a": [1, None]}, strategy="grid"), fill_fields(fill_id="F-4")],
    [TRANSFER, fill_fields(fill_id="F-5", order_id="o-5", client_order_id="c-5"), FUNDING],
    [fill_fields(fill_id="F-6", metadata={"b": "é"})],
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with open_ledger(f"sqlite:///{path}", clock=lambda: RECORDED_AT) as opened:
        yield opened


def inserts(ledger: Ledger, action: Callable[[], object]) -> list[str]:
    """The INSERTs into ledger_events that `action` ran on the ledger's write connection."""
    return [
        statement for statement in traced(ledger, action) if statement.lstrip().startswith("INSERT INTO ledger_events")
    ]


def columns_of(insert: str) -> list[str]:
    return [name.strip() for name in insert.split("(", 1)[1].split(")", 1)[0].split(",")]


def test_a_batch_of_plain_fills_inserts_none_of_the_columns_they_leave_null(ledger: Ledger) -> None:
    found = inserts(ledger, lambda: ledger.record_many([fill_fields(fill_id="F-1"), fill_fields(fill_id="F-2")]))

    assert found  # a statement per row as SQLite's trace reports an executemany (again for its trigger)
    assert set(map(tuple, map(columns_of, found))) == {
        ("seq", "epoch", "recorded_at", "fill_id", "account", "exchange", "symbol", "side", "quantity", "price",
         "occurred_at", "prev_hash", "hash", "type", "version", "fees"),
    }  # fmt: skip


def test_a_column_one_event_of_the_batch_fills_is_inserted_for_every_event(ledger: Ledger) -> None:
    batch = [fill_fields(fill_id="F-1"), fill_fields(fill_id="F-2", strategy="grid")]

    found = inserts(ledger, lambda: ledger.record_many(batch))

    assert all("strategy" in columns_of(insert) and "metadata" not in columns_of(insert) for insert in found)


def test_the_stored_rows_are_the_events_as_sealed_column_for_column(ledger: Ledger, path: Path) -> None:
    reference = CoreLedger(MemoryLedgerStore(), clock=lambda: RECORDED_AT)
    for batch in BATCHES:
        ledger.record_many(batch)
        reference.record_many(batch)
    single = fill_fields(fill_id="F-7", strategy="s")
    ledger.record(single)  # a single append
    reference.record(single)

    with closing(sqlite3.connect(path)) as connection:
        cursor = connection.execute("SELECT * FROM ledger_events ORDER BY seq")
        names = [column[0] for column in cursor.description]
        stored = [dict(zip(names, row, strict=True)) for row in cursor]
    with reference._store.reading() as tx:
        sealed = [event.as_dict() for event in tx.log.read()]

    assert len(stored) == 9
    assert stored == sealed
    assert [row["metadata"] for row in stored][2:4] == ['{"a":[1,null]}', None]
    assert ledger.verify().ok
