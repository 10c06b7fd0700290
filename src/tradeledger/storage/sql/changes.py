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
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tradeledger.errors import StorageError

if TYPE_CHECKING:
    from psycopg.errors import Diagnostic

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
    """LISTEN on a connection of its own (taken out of the engine's pool for good).

    A lost connection (the server terminated it, a network cut) may have lost a notification: the next
    `wait` opens a new connection, LISTENs again and says "look" (True), so the reader reads by seq and
    misses nothing. Only a server that refuses the new connection ends the wait, with a StorageError."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._raw: Any = None
        self._connection: Any = None  # psycopg's Connection
        self._ending = False  # the server said it ends the connection (a FATAL message, read before the close)
        self._listen()

    def _listen(self) -> None:
        try:
            raw = self._engine.raw_connection()
            raw.detach()  # autocommit and LISTEN stay with this connection; it never goes back to the pool
            connection: Any = raw.dbapi_connection
            connection.autocommit = True
            connection.add_notice_handler(self._noticed)
            connection.execute(f"LISTEN {CHANNEL}")
        except (sa.exc.DBAPIError, _driver_error()) as error:
            raise StorageError(f"cannot listen for changes of the ledger: {error}") from None
        self._raw = raw
        self._connection = connection
        self._ending = False

    def _noticed(self, diagnostic: Diagnostic) -> None:
        """libpq hands the server's last word before it closes an idle connection over as a notice."""
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            self._ending = True

    def wait(self, timeout: float) -> bool:
        if self._connection is None:  # lost before, and not listening again yet
            self._listen()
            return True
        try:
            woken = any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))
        except _driver_error():
            woken = False
        if not (self._ending or self._connection.broken or self._connection.closed):
            return woken
        self._drop()
        self._listen()
        return True

    def _drop(self) -> None:
        """Close a lost connection on the driver only (a pool's reset of it would fail and be logged)."""
        connection, self._connection, self._raw = self._connection, None, None
        connection.close()

    def close(self) -> None:
        if self._connection is None:
            return
        if self._ending or self._connection.broken:
            self._drop()
            return
        raw, self._connection, self._raw = self._raw, None, None
        raw.close()


def _driver_error() -> type[Exception]:
    """psycopg's error for a lost connection (psycopg is imported only where PostgreSQL is used)."""
    import psycopg  # noqa: PLC0415 - the optional driver, loaded already by the engine that made this signal

    return psycopg.OperationalError


def change_signal(engine: sa.Engine) -> SqliteChangeSignal | PostgresChangeSignal:
    """The signal for this engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresChangeSignal(engine)
    database = engine.url.database
    return SqliteChangeSignal(database or ":memory:")
