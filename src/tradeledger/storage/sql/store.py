"""SqlLedgerStore: a LedgerStore over one SQLAlchemy engine (SQLite or PostgreSQL).

A unit of work runs on a write connection taken for it and given back when it ends: the store keeps one idle
between units of work, out of the pool, for whichever thread appends next (a pool checkout, its options and its
return cost ~200 k instructions, ~20 % of a small append; the list ~1 %), and units of work at the same time take
more out of the pool and give them back to it, so what a process holds grows with its appends at once, never with
its threads (docs/benchmarks.md, "write connections"); the head row is locked at the first `log.head()` (FOR UPDATE
on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the write lock already), and `commit()` writes the head, the
projection's checkpoint (the row's trigger wants them equal) and `lots_named_until` in one statement before
committing. The transaction is the DB-API connection's (SQLite: `BEGIN IMMEDIATE` and `COMMIT` sent on it;
SQLAlchemy's begin and commit cost ~30 µs more): a statement run through SQLAlchemy in it begins SQLAlchemy's
transaction on the one already open (`engine.py` sends no second BEGIN), and the unit of work then ends it through
SQLAlchemy. On SQLite an append's `read_ahead` reads the head (with `lots_named_until`), the rebuild token
(`ports.REBUILDS`) and which of its keys the log holds in one statement. On PostgreSQL a unit of work that reads
ahead (an append) runs in two round trips, its reads with the head's lock and its writes with the commit
(`batching.py`). Reads open their own connection and see one snapshot (`engine.snapshot_options`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from tradeledger.application.ports import LAST_REBUILD, READ_AHEAD_KEYS, REBUILDS, AccountKey, AheadReads, EventKey
from tradeledger.domain.records import Checkpoint
from tradeledger.errors import StorageError
from tradeledger.storage.engine import WRITE, snapshot_options
from tradeledger.storage.prepared import Prepared, dbapi_error
from tradeledger.storage.schema import head
from tradeledger.storage.sql.batching import (
    Batch,
    begin_now,
    flush_batches_before_statements,
    forget_prepared,
    untouched,
)
from tradeledger.storage.sql.changes import (
    NOTIFY,
    NOTIFY_SQL,
    PostgresChangeSignal,
    SqliteChangeSignal,
    change_signal,
)
from tradeledger.storage.sql.ending import after_failure
from tradeledger.storage.sql.head_and_keys import head_and_keys as _head_and_keys
from tradeledger.storage.sql.log import SqlEventLog
from tradeledger.storage.sql.projection import SqlProjectionStore
from tradeledger.storage.sql.synchronous import synchronous as _synchronous
from tradeledger.storage.sql.translation import pool_exhausted as _pool_exhausted
from tradeledger.storage.sql.translation import storage_error as _storage_error
from tradeledger.storage.sql.translation import translated_errors
from tradeledger.storage.urls import is_in_memory

_MOVE_HEAD = (
    head.update()
    .where(head.c.id == 1)
    .values(epoch=sa.bindparam("epoch"), seq=sa.bindparam("seq"), hash=sa.bindparam("hash"))
    .values(
        checkpoint_epoch=sa.bindparam("c_epoch"),
        checkpoint_seq=sa.bindparam("c_seq"),
        checkpoint_hash=sa.bindparam("c_hash"),
    )
)
# The same with `lots_named_until`, when the unit of work moved it (a None bound costs ~3 k instructions, log.py).
_P_MOVE_HEAD = {False: Prepared(_MOVE_HEAD), True: Prepared(_MOVE_HEAD.values(lots_named_until=sa.bindparam("lots")))}


class SqlTransaction:
    """A read transaction (see ports.Transaction)."""

    def __init__(self, connection: sa.Connection, *, writing: bool = False) -> None:
        self.log = SqlEventLog(connection, writing=writing)
        self.projection = SqlProjectionStore(connection)


_AHEAD_MAX = 64  # statements a unit of work reads ahead at most (an append of a few fills reads far fewer)


class SqlUnitOfWork(SqlTransaction):
    """A write transaction (see ports.UnitOfWork).

    On PostgreSQL a connection found lost in the unit of work's first round trip (`read_ahead`: BEGIN, the head
    FOR UPDATE and the lookups; or `begin`, the BEGIN of one that does not read ahead, sent before the unit of
    work is handed out; nothing of the transaction had been sent before it) is replaced by `reconnect` and the
    round trip made again on the new one, once: nothing was written, nothing committed, and nothing of the unit
    of work ran before it (the port's contract), so that is the whole unit of work made again. A kept write
    connection is only found dead when used: a server restarted while its thread was idle costs that thread's
    next append, mark or save no error. A loss later (a second in a row, in the middle of the unit of work, or
    as the COMMIT goes out) is raised, `commit_sent` saying which (`_storage_error`)."""

    def __init__(
        self, connection: sa.Connection, *, postgres: bool, reconnect: Callable[[], sa.Connection] | None = None
    ) -> None:
        self._reconnect = reconnect
        self.committed = False
        self.commit_sent = False  # the COMMIT went out (a loss after it leaves the outcome unknown)
        self._bind(connection, postgres=postgres)

    def _bind(self, connection: sa.Connection, *, postgres: bool) -> None:
        SqlTransaction.__init__(self, connection, writing=True)
        self._connection = connection
        dbapi: Any = connection.connection.dbapi_connection
        self._dbapi = dbapi
        self.batch = Batch(connection) if postgres else None
        if not postgres:  # SQLite: the write lock at once, so appenders queue on the busy timeout
            self._driver("BEGIN IMMEDIATE", dbapi.execute, "BEGIN IMMEDIATE")

    def read_ahead(
        self, reads: Callable[[], AheadReads], keys: Sequence[EventKey] = (), anywhere: Sequence[AccountKey] = ()
    ) -> None:
        if self.batch is None:  # SQLite: a read costs no round trip, a statement ~20 k instructions: one statement
            if len(keys) + len(anywhere) > READ_AHEAD_KEYS:
                keys, anywhere = (), ()
            self._read_head_and_keys(keys, anywhere)
            return
        self._first_trip(lambda: self._read_ahead(reads), first=untouched(self._dbapi))  # nothing sent before it?

    def begin(self) -> None:
        """PostgreSQL: the BEGIN of a unit of work that does not read ahead, before it runs (`begin_now`)."""
        self._first_trip(lambda: begin_now(self._connection), first=True)

    def _first_trip(self, trip: Callable[[], None], *, first: bool) -> None:
        """`trip()`, made again once on a new connection when it finds the connection lost and was the first."""
        try:
            trip()
        except exc.DBAPIError as error:
            if not (first and error.connection_invalidated and self._reconnect is not None):
                raise
            self._replace_connection()
            trip()  # once: a second loss in a row is raised

    @property
    def connection(self) -> sa.Connection:
        """The connection the unit of work runs on (a new one after a loss in its first round trip)."""
        return self._connection

    def _replace_connection(self) -> None:
        """After the connection was found lost in the first round trip: the unit of work on a new one."""
        batch, lost = self.batch, self._connection
        assert batch is not None  # PostgreSQL
        assert self._reconnect is not None
        batch.close()
        batch.release()
        self._bind(self._reconnect(), postgres=True)
        lost.close()  # invalidated: the pool drops it

    def _read_ahead(self, reads: Callable[[], AheadReads]) -> None:
        """PostgreSQL: BEGIN, the head FOR UPDATE and what `reads()` names, in one round trip (`batching.py`)."""
        batch, log, projection = self.batch, self.log, self.projection
        assert batch is not None  # PostgreSQL
        wanted = reads()
        if not wanted:  # nothing to read ahead: the head alone
            log.head()
            return
        keys, anywhere, positions = list(wanted.events), list(wanted.anywhere), list(wanted.positions)
        entries = [(table, key) for table, names in wanted.entries.items() for key in names]
        queries = log.ahead(keys, anywhere) + projection.ahead(positions, entries)
        results = batch.start(queries) if len(queries) <= _AHEAD_MAX else None
        if results is None:  # too many, or the transaction has started: as without reading ahead
            log.head()
            return
        logged = len(keys) + len(anywhere) + 1
        log.read_ahead(keys, anywhere, results[:logged])
        projection.read_ahead(positions, entries, results[logged:])

    def _read_head_and_keys(self, keys: Sequence[EventKey], anywhere: Sequence[AccountKey] = ()) -> None:
        """SQLite: the head, the rebuild token and which `keys` (and `anywhere`) the log holds, in one statement
        (`_head_and_keys`)."""
        connection = self._connection
        sql = _head_and_keys(len(keys), len(anywhere)).sql(connection.dialect)
        values = tuple(part for account, ident in anywhere for part in (ident, account))
        values += tuple(part for account, exchange, fill_id in keys for part in (fill_id, account, exchange))
        try:
            row = self._dbapi.execute(sql, values).fetchone()
        except connection.dialect.loaded_dbapi.Error as error:
            raise dbapi_error(connection, sql, values, error) from error
        # A key found (a duplicate) is left to `find`, which reads the stored event whole (`find_anywhere` likewise).
        firsts, seqs = row[5 : 5 + len(anywhere)], row[5 + len(anywhere) :]
        self.log.locked(
            Checkpoint(*row[:3]),
            row[3],
            [key for key, seq in zip(keys, seqs, strict=True) if seq is None],
            [key for key, seq in zip(anywhere, firsts, strict=True) if seq is None],
        )
        self.projection.known(REBUILDS, LAST_REBUILD, row[4])

    def commit(self) -> None:
        log, projection, connection, batch = self.log, self.projection, self._connection, self.batch
        if log.moved is not None or projection.moved is not None:
            at, checkpoint = log.head(), projection.checkpoint()
            values = {"epoch": at.epoch, "seq": at.seq, "hash": at.hash, "lots": log.lots_named_until()}
            values |= {"c_epoch": checkpoint.epoch, "c_seq": checkpoint.seq, "c_hash": checkpoint.hash}
            _P_MOVE_HEAD[log.lots_moved].run(connection, values)
            if log.moved is not None and batch is not None:  # PostgreSQL: delivered on commit, wakes subscriptions
                if batch.open:
                    batch.queue_sql(NOTIFY_SQL)
                else:
                    connection.execute(NOTIFY)
        self.commit_sent = True  # from here a lost connection leaves the outcome unknown
        if batch is not None and batch.open:
            batch.commit()  # the queued writes, the head, NOTIFY and COMMIT in one round trip
            if connection.in_transaction():  # SQLAlchemy's, begun by a statement run through it: committed above
                connection.commit()
        elif connection.in_transaction():
            connection.commit()
        else:
            self._driver("COMMIT", self._dbapi.commit)
        self.committed = True

    def end(self) -> None:
        """Leave the unit of work: what a batch queued is dropped and, without commit() (or after an exception),
        the transaction rolled back (a PostgreSQL session forgets its prepared names then); the DB-API connection
        is never left in autocommit mode. Each step runs also when one before it failed (the streams' close: a
        cursor whose connection died), the first failure raised (`ending.py`)."""
        batch = self.batch
        if batch is not None:
            batch.close()  # left without commit(): what is queued is dropped with the transaction
        try:
            self.log.close_streams()  # while the connection is open
        except BaseException as failed:
            after_failure(failed, "ending the transaction", self._finish)
            raise
        self._finish()

    def _finish(self) -> None:
        """Roll back a unit of work left without commit() (or by an exception); release the batch's connection."""
        batch = self.batch
        try:
            if not self.committed:  # left without commit(), or by an exception
                self.rollback()
                if batch is not None:
                    forget_prepared(self._connection)
        finally:
            if batch is not None:  # also when the rollback failed: never left in autocommit mode
                batch.release()

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


class _UnitOfWorkScope:
    """`SqlLedgerStore.unit_of_work()`: the unit of work on a write connection taken for it (`_take_writer`) and
    given back after (kept idle when its end went well), rolled back when left without commit(), its driver errors
    (and those of its end) raised as StorageError (`translated_errors`). A class, where two generator context
    managers cost ~10 k instructions an append."""

    __slots__ = ("_mark", "_market_data", "_reads_ahead", "_store", "_uow")

    def __init__(self, store: SqlLedgerStore, *, market_data: bool, reads_ahead: bool) -> None:
        self._store = store
        self._market_data = market_data
        self._reads_ahead = reads_ahead  # an append: its BEGIN goes with its reads (`read_ahead`), its fills sent again
        self._uow: SqlUnitOfWork | None = None
        self._mark = 0  # the store's count of invalidations when the connection was taken

    def __enter__(self) -> SqlUnitOfWork:
        store = self._store
        try:
            connection, self._mark = store._take_writer()  # noqa: SLF001 - the store's own scope
        except exc.DBAPIError as error:
            raise _storage_error(error, commit_sent=False) from error
        except exc.TimeoutError as error:
            raise _pool_exhausted(error) from error
        try:
            uow = self._uow = store._open(connection, market_data=self._market_data, reconnect=self._reconnect)  # noqa: SLF001
        except BaseException as error:
            after_failure(error, "giving the connection back", lambda: store._put_writer(connection, 0, kept=False))  # noqa: SLF001
            if isinstance(error, exc.DBAPIError):
                raise _storage_error(error, commit_sent=False) from error
            raise
        if uow.batch is not None and not self._reads_ahead:  # PostgreSQL
            try:
                uow.begin()
            except BaseException as error:
                self.__exit__(type(error), error, None)  # ended; a driver error raised as StorageError
                raise
        return uow

    def _reconnect(self) -> sa.Connection:
        """A new write connection for the unit of work (its connection was found lost in its first round trip)."""
        connection, self._mark = self._store._new_writer()  # noqa: SLF001 - the store's own scope
        return connection

    def _end(self) -> None:
        """End the unit of work, then give its connection back: kept idle when the end went well."""
        uow, store = self._uow, self._store
        assert uow is not None  # entered
        try:
            uow.end()
        except BaseException as failed:
            connection = uow.connection
            after_failure(failed, "giving the connection back", lambda: store._put_writer(connection, 0, kept=False))  # noqa: SLF001
            raise
        store._put_writer(uow.connection, self._mark, kept=True)  # noqa: SLF001 - the store's own scope

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> None:
        uow = self._uow
        assert uow is not None  # entered
        if error is None:
            try:
                self._end()
            except exc.DBAPIError as failed:
                raise _storage_error(failed) from failed
            return
        after_failure(error, "ending the unit of work", self._end)  # the first error stays the one raised
        if isinstance(error, exc.DBAPIError):
            sent = None if uow.committed else uow.commit_sent
            raise _storage_error(error, commit_sent=sent, append=self._reads_ahead) from error


_KEPT_IDLE = 1  # write connections kept idle between units of work, out of the pool (one thread appending alone: 1)


class SqlLedgerStore:
    """LedgerStore over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        if self._postgres:
            flush_batches_before_statements(engine)
        # Idle write connections, each with `_lost` as it was when taken out of the pool: a unit of work takes one
        # (or one from the pool) and gives it back when it ends, kept here up to _KEPT_IDLE (else to the pool). A
        # thread holds a connection only while its unit of work runs: 40 threads that append hold no more than the
        # appends running at once (a connection per live thread that had appended exhausted the pool's 15).
        self._idle: list[tuple[sa.Connection, int]] = []
        self._idle_lock = threading.Lock()
        # PostgreSQL: how many of the engine's connections were invalidated so far. A lost one (the server
        # restarted) invalidates the pool's connections as old as it (`prepared.dbapi_error`, SQLAlchemy's own
        # handling), but an idle write connection is kept out of the pool: it is replaced when this moved since it
        # was taken, so the call after a failed read does not fail on it in turn (no round trip, unlike a ping).
        self._lost = 0
        if self._postgres:
            event.listen(engine, "invalidate", self._invalidated)
        # An in-memory SQLite database lives in one connection, which SQLAlchemy keeps per thread: another thread
        # would find an empty database of its own, or take this one's idle connection, which sqlite3 refuses.
        in_memory = not self._postgres and is_in_memory(engine.url.render_as_string(hide_password=False))
        self._memory_thread = threading.get_ident() if in_memory else None

    def _check_thread(self) -> None:
        if self._memory_thread is not None and threading.get_ident() != self._memory_thread:
            raise StorageError(
                "an in-memory SQLite ledger lives in the thread that opened it, and this is another thread (it "
                "would find an empty database of its own): open a file ledger (sqlite:///x.db) to use it from threads"
            )

    def _invalidated(self, *_args: object) -> None:
        self._lost += 1

    def _take_writer(self) -> tuple[sa.Connection, int]:
        """A write connection for a unit of work, and `_lost` as it was when taken out of the pool: the idle one
        (unless a connection was lost since it was taken, or it was closed), else a new one from the pool."""
        self._check_thread()
        with self._idle_lock:
            idle = self._idle.pop() if self._idle else None
        if idle is not None:
            connection, mark = idle
            if mark == self._lost:  # kept only when open and valid (`_put_writer`)
                return connection, mark
            _give_back(connection)  # to the pool, which drops it if it is as old as a lost connection
        return self._new_writer()

    def _new_writer(self) -> tuple[sa.Connection, int]:
        mark = self._lost
        return self._engine.connect().execution_options(**WRITE), mark

    def _put_writer(self, connection: sa.Connection, mark: int, *, kept: bool) -> None:
        """Give a unit of work's connection back: kept idle (`kept`, room left, nothing lost since it was taken),
        else to the pool."""
        if kept and mark == self._lost and not connection.closed and not connection.invalidated:
            with self._idle_lock:
                if len(self._idle) < _KEPT_IDLE:
                    self._idle.append((connection, mark))
                    return
        _give_back(connection)

    def _writer(self) -> sa.Connection:
        """The write connection the next unit of work takes when no other runs (the idle one, made if none)."""
        with translated_errors():
            connection, mark = self._take_writer()
        self._put_writer(connection, mark, kept=True)
        return connection

    def unit_of_work(self, *, market_data: bool = False, reads_ahead: bool = False) -> _UnitOfWorkScope:
        return _UnitOfWorkScope(self, market_data=market_data, reads_ahead=reads_ahead)

    def _open(
        self, connection: sa.Connection, *, market_data: bool, reconnect: Callable[[], sa.Connection]
    ) -> SqlUnitOfWork:
        postgres = self._postgres
        if not postgres:
            _synchronous(connection, lowered=market_data)
        return SqlUnitOfWork(connection, postgres=postgres, reconnect=reconnect if postgres else None)

    def changes(self) -> SqliteChangeSignal | PostgresChangeSignal:
        with translated_errors():
            return change_signal(self._engine)

    @contextmanager
    def reading(self) -> Iterator[SqlTransaction]:
        """A read transaction on a connection of the pool; its streams closed while the connection is open
        (SqlEventLog.close_streams), then the connection given back (rolling back a transaction not committed),
        each step also when one before it failed, the first error raised (`ending.py`)."""
        with translated_errors():
            connection = self._read_connection()
            tx = None
            try:
                transaction = connection.begin()
                tx = SqlTransaction(connection)
                yield tx
                tx.log.close_streams()
                transaction.commit()
            except BaseException as failed:
                if tx is not None:  # closed already when the close was what failed
                    after_failure(failed, "closing the read's streams", tx.log.close_streams)
                after_failure(failed, "ending the read", connection.close)
                raise
            connection.close()

    def _read_connection(self) -> sa.Connection:
        """A connection of the pool for a read. On PostgreSQL its transaction is begun at once (`begin_now`: the
        round trip psycopg makes before the first statement, made before the read runs), and a connection found
        lost then (the pool held it idle through a server restart) is replaced, once: nothing was read yet."""
        self._check_thread()
        engine, options = self._engine, snapshot_options(self._engine)
        for retry in (False, True):  # the second connection: the pool dropped those as old as the lost one
            connection = engine.connect().execution_options(**options)
            if not self._postgres:
                return connection
            try:
                begin_now(connection)
            except BaseException as error:
                after_failure(error, "giving the connection back", connection.close)
                if retry or not (isinstance(error, exc.DBAPIError) and error.connection_invalidated):
                    raise  # not a lost connection, or a second loss in a row
            else:
                return connection
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            _give_back(connection)
        self._engine.dispose()


def _give_back(connection: sa.Connection) -> None:
    """Return a write connection to the pool, at its own synchronous level (SQLite)."""
    try:
        if not connection.closed and not connection.invalidated:
            with translated_errors():
                _synchronous(connection, lowered=False)
    finally:
        connection.close()
