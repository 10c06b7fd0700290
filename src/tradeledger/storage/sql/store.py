"""SqlLedgerStore: a LedgerStore over one SQLAlchemy engine (SQLite or PostgreSQL).

A unit of work runs on this thread's write connection (kept between transactions: a pool checkout,
its options and its return cost ~60 µs, a quarter of a small append's Python); the head row is
locked at the first `log.head()` (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the write
lock already), and `commit()` writes the head and the projection's checkpoint in one statement
(the row's trigger wants them equal) before committing. The transaction is the DB-API connection's
(SQLite: `BEGIN IMMEDIATE` and `COMMIT` sent on it; SQLAlchemy's begin and commit cost ~30 µs more): a
statement run through SQLAlchemy in it begins SQLAlchemy's transaction on the one already open
(`engine.py` sends no second BEGIN), and the unit of work then ends it through SQLAlchemy. On SQLite an
append's `read_ahead` reads the head with the rebuild token (`ports.REBUILDS`) in one statement. On
PostgreSQL a unit of work that reads ahead (an append) runs in two round trips, its reads with the
head's lock and its writes with the commit (`batching.py`). Reads open their own connection and see
one snapshot (`engine.snapshot_options`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from tradeledger.application.ports import LAST_REBUILD, REBUILDS, AheadReads
from tradeledger.domain.records import Checkpoint
from tradeledger.errors import StorageError
from tradeledger.storage.engine import WRITE, snapshot_options
from tradeledger.storage.prepared import Prepared, dbapi_error
from tradeledger.storage.schema import head, projection_entries
from tradeledger.storage.sql.batching import Batch, flush_batches_before_statements, forget_prepared
from tradeledger.storage.sql.changes import (
    NOTIFY,
    NOTIFY_SQL,
    PostgresChangeSignal,
    SqliteChangeSignal,
    change_signal,
)
from tradeledger.storage.sql.log import SqlEventLog
from tradeledger.storage.sql.projection import SqlProjectionStore

# What SQLite's error codes mean for a ledger's user (Python's sqlite3 names the code of each error).
_SQLITE_HINTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR_WRITE": "a write failed: the disk may be full or the file over a size limit",
    "SQLITE_READONLY": "the database file or its folder is read-only",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_CANTOPEN": "the file cannot be opened (missing folder or no permission)",
}


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become StorageError, naming what the database said (and, on SQLite, what it means)."""
    try:
        yield
    except exc.DBAPIError as error:
        code = getattr(error.orig, "sqlite_errorname", None)
        hint = next((text for name, text in _SQLITE_HINTS.items() if code and code.startswith(name)), None)
        said = f"{error.orig} ({code}: {hint})" if hint else str(error.orig)
        raise StorageError(f"the database refused the operation: {said}") from error


_P_MOVE_HEAD = Prepared(
    head.update()
    .where(head.c.id == 1)
    .values(
        epoch=sa.bindparam("epoch"),
        seq=sa.bindparam("seq"),
        hash=sa.bindparam("hash"),
        checkpoint_epoch=sa.bindparam("c_epoch"),
        checkpoint_seq=sa.bindparam("c_seq"),
        checkpoint_hash=sa.bindparam("c_hash"),
    )
)


# SQLite's read ahead: the head and the rebuild token (ports.REBUILDS), which an append reads next, in one
# statement of constants (the write lock is held from BEGIN IMMEDIATE: nothing moves between two statements
# either), run on the DB-API connection: the statement saved is ~20 k instructions, Prepared's path ~10 k.
_P_HEAD_AND_MARK = Prepared(
    sa.select(
        head.c.epoch,
        head.c.seq,
        head.c.hash,
        sa.select(projection_entries.c.value)
        .where(
            projection_entries.c.projection == sa.literal_column(f"'{REBUILDS}'"),
            projection_entries.c.key == sa.literal_column(f"'{LAST_REBUILD}'"),
        )
        .scalar_subquery(),
    ).where(head.c.id == sa.literal_column("1"))
)


class SqlTransaction:
    """A read transaction (see ports.Transaction)."""

    def __init__(self, connection: sa.Connection, *, writing: bool = False) -> None:
        self.log = SqlEventLog(connection, writing=writing)
        self.projection = SqlProjectionStore(connection)


_AHEAD_MAX = 64  # statements a unit of work reads ahead at most (an append of a few fills reads far fewer)


class SqlUnitOfWork(SqlTransaction):
    """A write transaction (see ports.UnitOfWork)."""

    def __init__(self, connection: sa.Connection, *, postgres: bool) -> None:
        super().__init__(connection, writing=True)
        self._connection = connection
        dbapi: Any = connection.connection.dbapi_connection
        self._dbapi = dbapi
        self.batch = Batch(connection) if postgres else None
        self.committed = False
        if not postgres:  # SQLite: the write lock at once, so appenders queue on the busy timeout
            self._driver("BEGIN IMMEDIATE", dbapi.execute, "BEGIN IMMEDIATE")

    def read_ahead(self, reads: Callable[[], AheadReads]) -> None:
        batch, log, projection = self.batch, self.log, self.projection
        if batch is None:  # SQLite: a read costs no round trip, a statement ~20 k instructions: the head and the token
            sql = _P_HEAD_AND_MARK.sql(self._connection.dialect)
            try:
                epoch, seq, hash_, mark = self._dbapi.execute(sql).fetchone()
            except self._connection.dialect.loaded_dbapi.Error as error:
                raise dbapi_error(self._connection, sql, (), error) from error
            log.locked(Checkpoint(epoch, seq, hash_))
            projection.known(REBUILDS, LAST_REBUILD, mark)
            return
        wanted = reads()
        if not wanted:  # nothing to read ahead: the head alone
            log.head()
            return
        keys, positions = list(wanted.events), list(wanted.positions)
        entries = [(table, key) for table, names in wanted.entries.items() for key in names]
        queries = log.ahead(keys) + projection.ahead(positions, entries)
        results = batch.start(queries) if len(queries) <= _AHEAD_MAX else None
        if results is None:  # too many, or the transaction has started: as without reading ahead
            log.head()
            return
        log.read_ahead(keys, results[: len(keys) + 1])
        projection.read_ahead(positions, entries, results[len(keys) + 1 :])

    def commit(self) -> None:
        log, projection, connection, batch = self.log, self.projection, self._connection, self.batch
        if log.moved is not None or projection.moved is not None:
            at, checkpoint = log.head(), projection.checkpoint()
            values = {"epoch": at.epoch, "seq": at.seq, "hash": at.hash}
            values |= {"c_epoch": checkpoint.epoch, "c_seq": checkpoint.seq, "c_hash": checkpoint.hash}
            _P_MOVE_HEAD.run(connection, values)
            if log.moved is not None and batch is not None:  # PostgreSQL: delivered on commit, wakes subscriptions
                if batch.open:
                    batch.queue_sql(NOTIFY_SQL)
                else:
                    connection.execute(NOTIFY)
        if batch is not None and batch.open:
            batch.commit()  # the queued writes, the head, NOTIFY and COMMIT in one round trip
            if connection.in_transaction():  # SQLAlchemy's, begun by a statement run through it: committed above
                connection.commit()
        elif connection.in_transaction():
            connection.commit()
        else:
            self._driver("COMMIT", self._dbapi.commit)
        self.committed = True

    def rollback(self) -> None:
        """End a unit of work left without commit() (or whose commit failed)."""
        connection = self._connection
        if connection.in_transaction():
            connection.rollback()
        elif not connection.invalidated and not connection.closed:
            self._driver("ROLLBACK", self._dbapi.rollback)

    def _driver(self, statement: str, call: Callable[..., object], *args: object) -> None:
        """`call(*args)` on the DB-API connection (it runs `statement`); its error as SQLAlchemy's
        DBAPIError, as from a statement run through it."""
        try:
            call(*args)
        except self._connection.dialect.loaded_dbapi.Error as error:
            raise dbapi_error(self._connection, statement, None, error) from error


class SqlLedgerStore:
    """LedgerStore over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        if self._postgres:
            flush_batches_before_statements(engine)
        self._writers = threading.local()
        self._held: list[sa.Connection] = []
        self._held_lock = threading.Lock()

    def _writer(self) -> sa.Connection:
        connection: sa.Connection | None = getattr(self._writers, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._engine.connect().execution_options(**WRITE)
            self._writers.connection = connection
            with self._held_lock:
                self._held = [held for held in self._held if not held.closed]
                self._held.append(connection)
        return connection

    @contextmanager
    def unit_of_work(self, *, market_data: bool = False) -> Iterator[SqlUnitOfWork]:
        with translated_errors():
            connection = self._writer()
            postgres = self._postgres
            if not postgres:
                _synchronous(connection, lowered=market_data)
            uow = SqlUnitOfWork(connection, postgres=postgres)
            batch = uow.batch
            try:
                yield uow
            finally:
                if batch is not None:
                    batch.close()  # left without commit(): what is queued is dropped with the transaction
                try:
                    if not uow.committed:  # left without commit(), or by an exception
                        uow.rollback()
                        if batch is not None:
                            forget_prepared(connection)
                finally:
                    if batch is not None:  # also when the rollback failed: never left in autocommit mode
                        batch.release()

    def changes(self) -> SqliteChangeSignal | PostgresChangeSignal:
        with translated_errors():
            return change_signal(self._engine)

    @contextmanager
    def reading(self) -> Iterator[SqlTransaction]:
        options = snapshot_options(self._engine)
        with translated_errors(), self._engine.connect().execution_options(**options) as connection, connection.begin():
            yield SqlTransaction(connection)

    def close(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
        for connection in held:
            if not connection.closed and not connection.invalidated:
                with translated_errors():
                    _synchronous(connection, lowered=False)
            connection.close()
        self._engine.dispose()


# --- SQLite's durability for market data -------------------------------------------------------
#
# In WAL mode a synchronous=NORMAL commit has written the WAL with write(2) before it returns: it
# survives a SIGKILL of the process (only an OS crash or power cut may lose the last commits, never
# corrupting the file); FULL adds an fsync per commit. Marks and levels are market-side state, so
# their units of work take NORMAL (or the engine's setting when that is lower already); the next
# other unit of work puts the connection's own setting back first.

_LOWERED = "tradeledger_synchronous_lowered"  # in the DB-API connection's info: the level to restore
_SQLITE_SYNCHRONOUS_NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _synchronous(connection: sa.Connection, *, lowered: bool) -> None:
    """Put a SQLite write connection at synchronous=NORMAL (lowered) or back at its own level.

    Outside any transaction; a PRAGMA only when the state changes, so a run of level writes (or of
    appends) costs a dict look-up each. The level to restore is kept in the DB-API connection's
    `info`, which lives as long as that connection.
    """
    if connection.dialect.name != "sqlite":
        return
    info = connection.info
    restore = info.get(_LOWERED)
    if lowered and restore is None:
        dbapi_connection: Any = connection.connection.dbapi_connection
        level = _sqlite_pragma(dbapi_connection, "PRAGMA synchronous")
        if level is not None and level > _SQLITE_SYNCHRONOUS_NORMAL:
            _sqlite_pragma(dbapi_connection, f"PRAGMA synchronous={_SQLITE_SYNCHRONOUS_NORMAL}")
        info[_LOWERED] = level
    elif not lowered and restore is not None:
        if restore > _SQLITE_SYNCHRONOUS_NORMAL:
            _sqlite_pragma(connection.connection.dbapi_connection, f"PRAGMA synchronous={restore}")
        del info[_LOWERED]


def _sqlite_pragma(dbapi_connection: Any, statement: str) -> int | None:  # noqa: ANN401 - DB-API connection
    """Run a PRAGMA outside any transaction on the DB-API connection; its first value (or None)."""
    try:
        row = dbapi_connection.execute(statement).fetchone()
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, (), error, sqlite3.Error) from error
    return None if row is None else int(row[0])
