"""The store contract (application/ports.py) on every store: in memory, a SQLite file, a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import BACKENDS, PostgresServer, sqlite_backend
from tradeledger.application.ports import LedgerStore
from tradeledger.bootstrap import open_store
from tradeledger.storage.memory import MemoryLedgerStore

STORES = ("memory", *BACKENDS)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerStore]:
    """A fresh, empty store of each kind."""
    if request.param == "memory":
        yield MemoryLedgerStore()
        return
    if request.param == "sqlite":
        backend = sqlite_backend(tmp_path)
        opened = open_store(backend.url)
        yield opened
        opened.close()
        backend.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database() as backend:
        opened = open_store(backend.url)
        yield opened
        opened.close()
