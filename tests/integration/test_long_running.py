"""What a process that runs for days (a trading bot) holds does not grow with the calls it makes: connections of the
pool and the change signals' own connections are given back, counted after N operations (never timed).

The figures of a long soak (RSS, file descriptors, threads, caches per 10,000 fills) are scripts/soak.py's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import Ledger, open_ledger
from tradeledger.application.ports import ChangeSignal
from tradeledger.errors import StorageError
from tradeledger.storage.engine import create_ledger_engine
from tradeledger.storage.sql.store import SqlLedgerStore

THREADS = 8  # fewer than the pool's 5 + 10 overflow: without its fix the test counts, it does not wait 30 s
LIVE_THREADS = 40  # more than the pool's 5 + 10 connections
HANG_GUARD_S = 120  # a bound on a hung thread, never an assertion on speed


@contextmanager
def ledger_on(store: SqlLedgerStore) -> Iterator[Ledger]:
    """A Ledger on a store the test holds, closed after."""
    with Ledger(store, clock=lambda: RECORDED_AT) as ledger:
        yield ledger


def test_a_thread_that_appended_and_ended_leaves_no_connection_checked_out(db_url: str) -> None:
    # A bot appending from threads that come and go (a thread per order, a reconnecting feed) kept one pooled
    # connection per thread that ever appended: the 16th such thread waited 30 s and failed on the pool's limit.
    open_ledger(db_url).close()  # the schema
    engine = create_ledger_engine(db_url)
    with ledger_on(SqlLedgerStore(engine)) as ledger:
        for n in range(THREADS):
            worker = threading.Thread(target=ledger.record, args=(fill_fields(fill_id=f"T-{n}"),))
            worker.start()
            worker.join()
        ledger.record(fill_fields(fill_id="MAIN"))

        assert ledger.head.seq == THREADS + 1
        pool = engine.pool
        assert isinstance(pool, sa.QueuePool)
        assert pool.checkedout() == 1  # this thread's write connection; the ended threads' went back


class WatchedSignal:
    """A store's change signal, remembering whether it was closed."""

    def __init__(self, signal: ChangeSignal) -> None:
        self._signal = signal
        self.closed = False

    def wait(self, timeout: float) -> bool:
        return self._signal.wait(timeout)

    def close(self) -> None:
        self.closed = True
        self._signal.close()


class WatchingStore(SqlLedgerStore):
    """A store whose every change signal is watched (`signals`)."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        self.signals: list[WatchedSignal] = []

    def changes(self) -> WatchedSignal:  # type: ignore[override]  # the store's signal, watched
        signal = WatchedSignal(super().changes())
        self.signals.append(signal)
        return signal


def test_a_subscription_dropped_without_close_closes_its_signals_connection(db_url: str) -> None:
    # A reader that makes a subscription per look (`ledger.subscribe(after=seen).poll(0)`) and never closes it:
    # each left its signal's connection open (on SQLite two file descriptors each, kept until the ledger closed;
    # Ledger.close() no longer reached it either, its set of subscriptions being weak).
    open_ledger(db_url).close()  # the schema
    store = WatchingStore(create_ledger_engine(db_url))
    with ledger_on(store) as ledger:
        ledger.record(fill_fields(fill_id="F-1"))
        for _ in range(3):
            assert [notice.kind for notice in ledger.subscribe(after=0).poll(0)] == ["event"]

        assert [signal.closed for signal in store.signals] == [True, True, True]


def test_every_connection_of_the_pool_held_is_a_storage_error_saying_what_holds_them(db_url: str) -> None:
    # With every connection of the pool held (here by a read that another thread keeps open), the next call waited
    # the pool's timeout and raised SQLAlchemy's TimeoutError, which no caller of a Ledger expects.
    open_ledger(db_url).close()  # the schema
    engine = sa.create_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    reading, done = threading.Event(), threading.Event()

    def hold_a_read() -> None:
        with ledger._store.reading():  # the pool's one connection, held
            reading.set()
            done.wait(10)

    with ledger_on(SqlLedgerStore(engine)) as ledger:
        holder = threading.Thread(target=hold_a_read)
        holder.start()
        try:
            assert reading.wait(10)
            with pytest.raises(StorageError, match=r"no connection to the database was free within .*: each unit of"):
                ledger.record(fill_fields(fill_id="MAIN"))
            with pytest.raises(StorageError, match=r"no connection to the database was free within .*: each unit of"):
                _ = ledger.head
        finally:
            done.set()
            holder.join()
        assert ledger.record(fill_fields(fill_id="MAIN")).seq == 1


def test_forty_live_threads_appending_at_once_all_append(db_url: str) -> None:
    # A bot with a thread per market, each alive for the session: each thread that appended kept a write connection
    # of the pool for its life, so the 16th (the pool's 5 + 10) waited the pool's 30 s and failed.
    start, appended = threading.Barrier(LIVE_THREADS), threading.Barrier(LIVE_THREADS)
    failures: list[BaseException] = []

    def bot(n: int) -> None:
        try:
            start.wait(HANG_GUARD_S)
            ledger.record(fill_fields(fill_id=f"T-{n}-1"))
            appended.wait(HANG_GUARD_S)  # every thread alive, each having appended
            ledger.record(fill_fields(fill_id=f"T-{n}-2"))
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            failures.append(error)
            appended.abort()

    with open_ledger(db_url, clock=lambda: RECORDED_AT) as ledger:
        threads = [threading.Thread(target=bot, args=(n,)) for n in range(LIVE_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert [f"{type(error).__name__}: {error}" for error in failures] == []
        assert ledger.head.seq == 2 * LIVE_THREADS
        assert sorted(recorded.fill.event_id for recorded in ledger.history()) == sorted(
            f"T-{n}-{k}" for n in range(LIVE_THREADS) for k in (1, 2)
        )
        assert ledger.verify().ok


IN_MEMORY_ELSEWHERE = (
    "an in-memory SQLite ledger lives in the thread that opened it, and this is another thread (it would "
    "find an empty database of its own): open a file ledger (sqlite:///x.db) to use it from threads"
)


def test_an_in_memory_ledger_refuses_another_thread_naming_why_and_stays_whole_in_its_own() -> None:
    """An in-memory SQLite database lives in one connection, which SQLAlchemy keeps per thread: a thread other than
    the opener would find an empty database of its own ("no such table"), or be handed the opener's connection,
    which sqlite3 refuses with a traceback logged by the pool. It is refused in one line saying why, and the
    opener's ledger goes on."""
    errors: list[BaseException] = []

    def append() -> None:
        try:
            ledger.record(fill_fields(fill_id="OTHER"))
        except StorageError as error:
            errors.append(error)

    with open_ledger("sqlite://") as ledger:
        ledger.record(fill_fields(fill_id="MAIN"))
        for _ in range(2):
            worker = threading.Thread(target=append)
            worker.start()
            worker.join()
        assert [str(error) for error in errors] == [IN_MEMORY_ELSEWHERE] * 2
        assert ledger.record(fill_fields(fill_id="MAIN-2")).seq == 2
