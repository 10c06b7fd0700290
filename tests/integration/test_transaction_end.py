"""The end of a transaction when closing its streams fails (a cursor whose connection died, a driver error).

A unit of work and a read close the streams they left open before they end (`SqlEventLog.close_streams`).
When that close fails, the transaction must still be rolled back and its connection given back, and the
error raised must be the first one (the refusal that ended the unit of work, when there was one), the close's
failure noted on it, never swallowed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import fill_fields
from tradeledger import FillConflict, StorageError, open_ledger
from tradeledger.bootstrap import open_store
from tradeledger.storage.sql.log import SqlEventLog
from tradeledger.storage.sql.store import SqlLedgerStore

pytestmark = pytest.mark.reliability

CLOSE_FAILED = "disk I/O error"


class FailingClose:
    """Once armed, the next `close_streams` closes the streams, then fails as a driver error would."""

    def __init__(self) -> None:
        self.armed = False
        self.failures = 0

    def arm(self) -> None:
        self.armed = True


@pytest.fixture
def failing_close(monkeypatch: pytest.MonkeyPatch) -> FailingClose:
    close = SqlEventLog.close_streams
    failing = FailingClose()

    def close_then_fail(log: SqlEventLog) -> None:
        close(log)
        if failing.armed:
            failing.armed = False
            failing.failures += 1
            raise sa.exc.OperationalError("CLOSE", None, sqlite3.OperationalError(CLOSE_FAILED))

    monkeypatch.setattr(SqlEventLog, "close_streams", close_then_fail)
    return failing


def conflict(fill_id: str = "F-1") -> dict[str, str]:
    return fill_fields(fill_id=fill_id, price="999")


def test_a_refused_append_whose_streams_fail_to_close_raises_the_refusal_with_the_close_failure_noted(
    db_url: str, failing_close: FailingClose
) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(fill_id="F-1"))
        failing_close.arm()

        with pytest.raises(FillConflict) as raised:
            ledger.record(conflict())

    assert failing_close.failures == 1
    notes = getattr(raised.value, "__notes__", [])
    assert any(CLOSE_FAILED in note for note in notes), notes


def test_a_refused_append_whose_streams_fail_to_close_leaves_the_ledger_appending(
    db_url: str, failing_close: FailingClose
) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(fill_id="F-1"))
        failing_close.arm()
        with pytest.raises((FillConflict, StorageError)):
            ledger.record(conflict())
        assert failing_close.failures == 1

        assert ledger.record(fill_fields(fill_id="F-2")).seq == 2
        assert ledger.record(fill_fields(fill_id="F-3")).seq == 3
        assert [recorded.fill.event_id for recorded in ledger.history()] == ["F-1", "F-2", "F-3"]


def test_a_refused_append_whose_streams_fail_to_close_leaves_no_write_lock_on_the_sqlite_file(
    tmp_path: Path, failing_close: FailingClose
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"  # on PostgreSQL the broken connection is dropped, its lock with it
    with open_ledger(url) as ledger, open_ledger(url, busy_timeout_s=0.5) as other:
        ledger.record(fill_fields(fill_id="F-1"))
        failing_close.arm()
        with pytest.raises((FillConflict, StorageError)):
            ledger.record(conflict())
        assert failing_close.failures == 1

        assert other.record(fill_fields(fill_id="F-2")).seq == 2


def read_and_fail(store: SqlLedgerStore) -> None:
    with store.reading() as tx:
        tx.log.head()
        raise LookupError("the read's own error")


def test_a_read_that_failed_and_whose_streams_fail_to_close_raises_its_own_error(
    db_url: str, failing_close: FailingClose
) -> None:
    store = open_store(db_url)
    failing_close.arm()
    try:
        with pytest.raises(LookupError, match="the read's own error") as raised:
            read_and_fail(store)
        assert failing_close.failures == 1
        notes = getattr(raised.value, "__notes__", [])
        assert any(CLOSE_FAILED in note for note in notes), notes
        with store.reading() as tx:  # the connection went back to the pool, usable
            assert tx.log.head().seq == 0
    finally:
        store.close()


def test_a_committed_append_whose_streams_fail_to_close_raises_a_storage_error_and_stays_recorded(
    db_url: str, failing_close: FailingClose
) -> None:
    with open_ledger(db_url) as ledger:
        failing_close.arm()
        with pytest.raises(StorageError, match=CLOSE_FAILED):
            ledger.record(fill_fields(fill_id="F-1"))
        assert failing_close.failures == 1

        assert ledger.record(fill_fields(fill_id="F-2")).seq == 2
        assert [recorded.fill.event_id for recorded in ledger.history()] == ["F-1", "F-2"]
