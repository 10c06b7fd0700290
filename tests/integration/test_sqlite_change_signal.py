"""SQLite's change signal (storage/sql/changes.py) opens the database the ledger's engine opens.

A SQLite URL in URI form (`sqlite:///file:NAME?mode=memory&cache=shared&uri=true`) is opened by the engine as a
URI; the signal's own connection must open the same database, not a file named after the URI's path.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.application.subscribing import EventNotice


# SQLAlchemy warns that it picks its pool for a mode=memory URL by itself (open_ledger, not what is tested here).
@pytest.mark.filterwarnings("ignore:Selection of the SingletonThreadPool:sqlalchemy.exc.SADeprecationWarning")
def test_the_signal_of_a_shared_memory_ledger_watches_that_ledger_and_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///file:ledger-{uuid.uuid4().hex}?mode=memory&cache=shared&uri=true"
    with open_ledger(url) as writer, open_ledger(url) as reader:
        subscription = reader.subscribe()
        assert subscription.poll(0.01) == []  # its signal is open now
        assert sorted(path.name for path in tmp_path.iterdir()) == []
        writer.record(fill_fields(fill_id="F-1"))
        assert subscription.changed() is True  # committed by another connection: the data version moved
        assert [n.seq for n in subscription.read() if isinstance(n, EventNotice)] == [1]
        subscription.close()
