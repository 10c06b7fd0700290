"""Change signals (ports.ChangeSignal): how a subscription learns that another process committed.

- PostgreSQL: every unit of work that moves the log runs `NOTIFY tradeledger_log` (delivered when it
  commits); a signal holds its own connection that LISTENs. The notification carries nothing: readers
  read the events by seq, so a notification lost (a reconnect) costs latency, never an event.
- SQLite: `PRAGMA data_version` on the signal's own connection changes when another connection
  commits; it is polled every `poll_s` (a read of a page already in memory, about a microsecond).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa

from tradeledger.errors import StorageError

CHANNEL = "tradeledger_log"
NOTIFY_SQL = f"NOTIFY {CHANNEL}"
NOTIFY = sa.text(NOTIFY_SQL)
SQLITE_POLL_S = 0.005


class SqliteChangeSignal:
    """`PRAGMA data_version`, polled on a connection of its own."""

    def __init__(self, database: str, *, poll_s: float = SQLITE_POLL_S) -> None:
        self._poll_s = poll_s
        try:
            self._connection: sqlite3.Connection | None = sqlite3.connect(database, check_same_thread=False)
        except sqlite3.Error as error:
            raise StorageError(f"cannot watch the ledger at {database}: {error}") from None
        self._seen = self._version()

    def _version(self) -> int:
        assert self._connection is not None
        try:
            row = self._connection.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as error:
            raise StorageError(f"cannot watch the ledger: {error}") from None
        return int(row[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            version = self._version()
            if version != self._seen:
                self._seen = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._poll_s, left))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresChangeSignal:
    """LISTEN on a connection of its own (taken out of the engine's pool for good)."""

    def __init__(self, engine: sa.Engine) -> None:
        raw = engine.raw_connection()
        raw.detach()  # autocommit and LISTEN stay with this connection; it never goes back to the pool
        self._raw = raw
        connection: Any = raw.dbapi_connection  # psycopg's Connection
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        self._connection = connection

    def wait(self, timeout: float) -> bool:
        return any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))

    def close(self) -> None:
        self._raw.close()


def change_signal(engine: sa.Engine) -> SqliteChangeSignal | PostgresChangeSignal:
    """The signal for this engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresChangeSignal(engine)
    database = engine.url.database
    return SqliteChangeSignal(database or ":memory:")
