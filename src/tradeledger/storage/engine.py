"""Engine set-up: the one place that knows SQLite pragmas and transaction modes."""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event

from tradeledger.storage.urls import is_in_memory

Synchronous = Literal["full", "normal", "off"]

# A write transaction opened with this execution option takes SQLite's write lock at BEGIN, so
# concurrent appenders queue on the busy timeout instead of failing on lock upgrade.
WRITE = {"tradeledger_write": True}


def _ensure_wal(cursor: Any, busy_timeout_s: float) -> None:  # noqa: ANN401 - DBAPI cursor
    """Put the file in WAL mode (a persistent property of the file) unless it already is.

    Switching modes needs an exclusive lock, and SQLite answers "database is locked" at once instead
    of waiting on the busy handler when another process holds one (two first opens of a new file),
    so the switch is retried until the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_s
    delay = 0.001
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def snapshot_options(engine: sa.Engine) -> dict[str, Any]:
    """Execution options for a read transaction that sees one snapshot for all its statements.

    SQLite's deferred transaction already does; PostgreSQL's default READ COMMITTED takes a new
    snapshot per statement, so reads ask for REPEATABLE READ. Writes stay READ COMMITTED: they
    serialise on the head row instead.
    """
    return {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}


def _bound_lock_waits(engine: sa.Engine, busy_timeout_s: float) -> None:
    """Each PostgreSQL session waits for a lock at most the busy timeout (`lock_timeout`), then its statement fails:
    a writer stopped in the middle of an append (SIGSTOP, a paused VM, a network cut that sends no reset) holds the
    head row's lock until the server learns its connection ended, which can take hours, and without a bound every
    other writer of the fleet waited for it without an error. Set once per connection (a round trip when the pool
    opens one, none per append); SQLite's writers wait the same time (`PRAGMA busy_timeout`)."""
    milliseconds = max(1, round(busy_timeout_s * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # noqa: ANN401 - DBAPI connection
        dbapi_connection.execute(f"SET lock_timeout = {milliseconds}")
        dbapi_connection.commit()


def create_ledger_engine(url: str, *, synchronous: Synchronous = "full", busy_timeout_s: float = 30.0) -> sa.Engine:
    """An engine for a ledger database; SQLite gets WAL, the chosen durability and BEGIN IMMEDIATE; PostgreSQL a
    lock wait bounded by the busy timeout, as SQLite's."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = sa.create_engine(url)
        if engine.dialect.name == "postgresql":
            _bound_lock_waits(engine, busy_timeout_s)
        return engine

    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})
    in_memory = is_in_memory(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # noqa: ANN401 - DBAPI connection
        # Hand transaction control to SQLAlchemy's begin event below (pysqlite's own is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                _ensure_wal(cursor, busy_timeout_s)
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        dbapi_connection: Any = connection.connection.dbapi_connection
        if dbapi_connection.in_transaction:  # a unit of work began it on the DB-API connection (sql/store.py)
            return
        mode = "IMMEDIATE" if connection.get_execution_options().get("tradeledger_write") else "DEFERRED"
        statement = f"BEGIN {mode}"
        # On the DB-API connection: exec_driver_sql costs ~80 µs, a third of a small append's Python.
        try:
            dbapi_connection.execute(statement)
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(statement, (), error, sqlite3.Error, dialect=connection.dialect) from error

    return engine
