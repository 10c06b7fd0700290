"""Change signals (ports.ChangeSignal): how a subscription learns that another process committed.

- PostgreSQL: every unit of work that moves the log runs `NOTIFY tradeledger_log` (delivered when it
  commits); a signal holds its own connection that LISTENs. The notification carries nothing: readers
  read the events by seq, so a notification lost (a reconnect) costs latency, never an event.
- SQLite: `PRAGMA data_version` on the signal's own connection changes when another connection
  commits; it is polled every `poll_s` (a read of a page already in memory, about a microsecond).
"""

from __future__ import annotations

import sqlite3
import threading
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
    """`PRAGMA data_version`, polled on a connection of its own.

    `close` may come from another thread while one waits (`Ledger.close()` closes its subscriptions): the
    connection is used and closed under a lock, and a wait on a closed signal returns False."""

    def __init__(self, database: str, *, poll_s: float = SQLITE_POLL_S, uri: bool = False) -> None:
        """`database` and `uri` as the engine's dialect passes them to sqlite3.connect (a URI keeps its query)."""
        self._poll_s = poll_s
        self._lock = threading.Lock()
        try:
            self._connection: sqlite3.Connection | None = sqlite3.connect(database, check_same_thread=False, uri=uri)
        except sqlite3.Error as error:
            raise StorageError(f"cannot watch the ledger at {database}: {error}") from None
        self._seen = self._version()

    def _version(self) -> int | None:
        """The data version now; None once closed."""
        with self._lock:
            if self._connection is None:
                return None
            try:
                row = self._connection.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as error:
                raise StorageError(f"cannot watch the ledger: {error}") from None
        return int(row[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            version = self._version()
            if version is None:
                return False
            if version != self._seen:
                self._seen = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._poll_s, left))

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class PostgresChangeSignal:
    """LISTEN on a connection of its own (taken out of the engine's pool for good).

    A lost connection (the server terminated it, a network cut) may have lost a notification: the next
    `wait` opens a new connection, LISTENs again and says "look" (True), so the reader reads by seq and
    misses nothing. Only a server that refuses the new connection ends the wait, with a StorageError.

    `close` may come from another thread while one waits: the connection is never closed under a wait (libpq
    is not safe for that); the waiting thread closes it when its wait returns (within its timeout)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._raw: Any = None
        self._connection: Any = None  # psycopg's Connection
        self._ending = False  # the server said it ends the connection (a FATAL message, read before the close)
        self._state = threading.Lock()  # guards _closed and _waiting
        self._closed = False
        self._waiting = False
        self._listen()

    def _listen(self) -> None:
        """LISTEN on a connection of the pool, made again once when that connection is found ended: after a server
        restart the pool's idle connections are all gone, and SQLAlchemy, seeing one gone, discards them all."""
        try:
            connection = self._listening()
        except sa.exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise StorageError(f"cannot listen for changes of the ledger: {error.orig}") from None
            try:
                connection = self._listening()
            except sa.exc.DBAPIError as again:
                raise StorageError(f"cannot listen for changes of the ledger: {again.orig}") from None
        raw = connection.connection
        raw.detach()  # autocommit and LISTEN stay with this connection; it never goes back to the pool
        driver: Any = raw.dbapi_connection
        driver.add_notice_handler(self._noticed)
        self._raw = raw
        self._connection = driver
        self._ending = False

    def _listening(self) -> sa.Connection:
        """A pooled connection in autocommit that has run LISTEN (through SQLAlchemy, which tells a connection the
        server ended from other errors and then invalidates the pool)."""
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            connection.exec_driver_sql(f"LISTEN {CHANNEL}")
        except BaseException:
            connection.close()
            raise
        return connection

    def _noticed(self, diagnostic: Diagnostic) -> None:
        """libpq hands the server's last word before it closes an idle connection over as a notice."""
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            self._ending = True

    def wait(self, timeout: float) -> bool:
        with self._state:
            if self._closed:
                return False
            self._waiting = True
        try:
            woken = self._wait(timeout)
        finally:
            closed = self._done_waiting()
        if closed:  # closed while this thread waited: it left the connection to this thread
            self._release()
            return False
        return woken

    def _done_waiting(self) -> bool:
        """Whether `close` came while this thread waited (another thread may have set `_closed` meanwhile)."""
        with self._state:
            self._waiting = False
            return self._closed

    def _wait(self, timeout: float) -> bool:
        if self._connection is None:  # lost before, and not listening again yet
            self._listen()
            return True
        connection = self._connection
        try:
            woken = any(True for _ in connection.notifies(timeout=timeout, stop_after=1))
        except _driver_error():
            woken = False
        if not (self._ending or connection.broken or connection.closed):
            return woken
        self._release()
        self._listen()
        return True

    def _release(self) -> None:
        """Close the connection; a lost one on the driver only (a pool's reset of it would fail and be logged)."""
        connection, raw = self._connection, self._raw
        self._connection, self._raw = None, None
        if connection is None:
            return
        if self._ending or connection.broken or connection.closed:
            connection.close()
        else:
            raw.close()

    def close(self) -> None:
        with self._state:
            self._closed = True
            waiting = self._waiting
        if not waiting:
            self._release()


def _driver_error() -> type[Exception]:
    """psycopg's error for a lost connection (psycopg is imported only where PostgreSQL is used)."""
    import psycopg  # noqa: PLC0415 - the optional driver, loaded already by the engine that made this signal

    return psycopg.OperationalError


def change_signal(engine: sa.Engine) -> SqliteChangeSignal | PostgresChangeSignal:
    """The signal for this engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresChangeSignal(engine)
    # What the engine's own connections open: a URI (`?uri=true`) with its query (mode=memory, cache=shared, …)
    args, options = engine.dialect.create_connect_args(engine.url)
    database = str(args[0]) if args else ":memory:"
    return SqliteChangeSignal(database or ":memory:", uri=bool(options.get("uri", False)))
