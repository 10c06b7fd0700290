"""A single append on PostgreSQL waits for the server twice (storage/sql/batching.py), whatever it appends.

The round trips are counted in libpq's own trace of the ledger's connections (what psycopg sent and
what came back): one is a run of messages to the server followed by the server's answer. Before the
batching an append ran thirteen (docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import Backend, PostgresServer
from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import FillConflict, Ledger, StorageError, open_ledger
from tradeledger.storage.engine import create_ledger_engine
from tradeledger.storage.sql import SqlLedgerStore
from tradeledger.storage.sql.log import _P_HEAD_FOR_UPDATE

pq = pytest.importorskip("psycopg.pq")


class Traced:
    """A ledger on PostgreSQL whose connections libpq traces on demand."""

    def __init__(self, ledger: Ledger, connections: list[Any], backend: Backend) -> None:
        self.ledger = ledger
        self.connections = connections
        self.backend = backend

    def round_trips(self, action: Callable[[], object]) -> int:
        """How many times `action` sent the server something and waited for its answer, on every connection."""
        with self.traces() as texts:
            action()
        return sum(round_trips(text) for text in texts)

    @contextmanager
    def traces(self) -> Iterator[list[str]]:
        texts: list[str] = []
        files = []
        for connection in self.connections:
            trace = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after libpq let go of it
            connection.pgconn.trace(trace.fileno())
            connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            files.append((connection, trace))
        try:
            yield texts
        finally:
            for connection, trace in files:
                connection.pgconn.untrace()
                trace.seek(0)
                texts.append(trace.read().decode())
                trace.close()


def round_trips(trace: str) -> int:
    """The turns from sending ("F" lines of libpq's trace) to receiving ("B" lines)."""
    directions = [line[0] for line in trace.splitlines() if line[:1] in ("F", "B")]
    return sum(1 for sent, answered in itertools.pairwise(directions) if (sent, answered) == ("F", "B"))


@pytest.fixture
def traced(postgres_server: PostgresServer) -> Iterator[Traced]:
    with postgres_server.fresh_database() as backend:
        open_ledger(backend.url).close()  # the schema, on connections of its own
        engine = create_ledger_engine(backend.url)
        connections: list[Any] = []
        sa.event.listen(engine, "connect", lambda dbapi_connection, _record: connections.append(dbapi_connection))
        with Ledger(SqlLedgerStore(engine), clock=lambda: RECORDED_AT) as ledger:
            ledger.record(fill_fields())  # a session's first append prepares its statements
            yield Traced(ledger, connections, backend)


def test_a_new_fill_is_appended_in_two_round_trips(traced: Traced) -> None:
    fill = fill_fields(symbol="ETH/USD", fee="0.5")  # a new position, two balances and a fee

    assert traced.round_trips(lambda: traced.ledger.record(fill)) == 2
    assert traced.ledger.head.seq == 2


def test_a_fill_on_an_open_position_is_appended_in_two_round_trips(traced: Traced) -> None:
    traced.ledger.record(fill_fields(symbol="SOL/USD", quantity="2"))
    closing = fill_fields(symbol="SOL/USD", side="sell", quantity="2", price="110")

    assert traced.round_trips(lambda: traced.ledger.record(closing)) == 2
    assert traced.ledger.state() == traced.ledger.replay()
    assert traced.ledger.state().closed


def test_a_fill_on_a_dated_future_reads_its_contracts_settlement_key_in_the_same_two_round_trips(
    traced: Traced,
) -> None:
    future = "BTC/USDT:USDT-261225"
    traced.ledger.record(fill_fields(symbol=future, occurred_at="2026-12-20T10:00:00+00:00"))
    more = fill_fields(symbol=future, quantity="2", occurred_at="2026-12-21T10:00:00+00:00")

    assert traced.round_trips(lambda: traced.ledger.record(more)) == 2
    position = traced.ledger.position(future)
    assert position is not None
    assert position.quantity == 3


def test_an_append_under_an_exchange_name_new_to_the_ledger_object_reads_the_names_in_one_round_trip_more(
    traced: Traced,
) -> None:
    assert traced.round_trips(lambda: traced.ledger.record(fill_fields(exchange="binance"))) == 3
    assert traced.round_trips(lambda: traced.ledger.record(fill_fields(exchange="binance"))) == 2


def test_a_duplicate_is_answered_in_two_round_trips(traced: Traced) -> None:
    fill = fill_fields()
    first = traced.ledger.record(fill)

    assert traced.round_trips(lambda: traced.ledger.record(fill)) == 2
    assert traced.ledger.record(fill).seq == first.seq


def test_a_conflicting_fill_is_refused_after_one_round_trip_and_a_rollback(traced: Traced) -> None:
    fill = fill_fields()
    traced.ledger.record(fill)
    other = {**fill, "price": "999"}

    def refused() -> None:
        with pytest.raises(FillConflict):
            traced.ledger.record(other)

    assert traced.round_trips(refused) == 2  # the reads, then ROLLBACK
    assert traced.ledger.record(fill_fields()).seq == 3  # the next append works


def test_an_append_after_the_session_lost_its_prepared_statements_prepares_them_again(traced: Traced) -> None:
    # psycopg runs DEALLOCATE ALL after a rollback on a connection where it prepared statements of its own.
    for connection in traced.connections:
        if not connection.closed and connection.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            connection.autocommit = True
            connection.execute("DEALLOCATE ALL")
            connection.autocommit = False

    receipt = traced.ledger.record(fill_fields(symbol="ETH/USD"))

    assert receipt.seq == 2
    assert traced.round_trips(lambda: traced.ledger.record(fill_fields(symbol="ETH/USD"))) == 2
    assert traced.ledger.verify().ok


def test_a_write_the_server_refuses_at_commit_leaves_nothing_and_the_next_append_works(traced: Traced) -> None:
    traced.backend.sql("ALTER TABLE ledger_events ADD CONSTRAINT no_bad CHECK (fill_id <> 'BAD')")
    before = traced.ledger.state()

    with pytest.raises(StorageError, match="no_bad"):
        traced.ledger.record(fill_fields(fill_id="BAD", symbol="ETH/USD"))

    assert traced.ledger.state() == before
    assert traced.ledger.head.seq == 1
    assert traced.ledger.record(fill_fields(symbol="ETH/USD")).seq == 2
    assert traced.round_trips(lambda: traced.ledger.record(fill_fields(symbol="ETH/USD"))) == 2
    assert traced.ledger.verify().ok
    assert traced.ledger.state() == traced.ledger.replay()


def test_a_failed_rollback_never_leaves_the_write_connection_in_autocommit_mode(
    traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    psycopg = pytest.importorskip("psycopg")

    def failing_rollback(_self: object) -> None:
        raise psycopg.OperationalError("the rollback failed")

    with monkeypatch.context() as patched:
        patched.setattr(psycopg.Connection, "rollback", failing_rollback)
        with pytest.raises(FillConflict) as raised:  # the conflict's rollback fails in turn: noted on it
            traced.ledger.record_many([fill_fields(fill_id="R-1"), fill_fields(fill_id="R-1", price="7")])
    assert raised.value.__notes__ == [
        "ending the unit of work failed too: OperationalError: the rollback failed",
    ]

    # Whatever the write connection became, it is not one whose statements commit one by one.
    assert all(not connection.autocommit or connection.closed for connection in traced.connections)
    traced.ledger.record(fill_fields(fill_id="R-2"))
    assert [recorded.fill.event_id for recorded in traced.ledger.history()][-1] == "R-2"


@pytest.mark.parametrize(
    "foreign",
    [
        "(int) AS SELECT $1, 41::bigint, repeat('f', 64)",  # other SQL altogether
        "OURS OFFSET 1",  # this ledger's PREPARE (OURS) with more after it
    ],
    ids=["other-sql", "longer-sql"],
)
def test_a_statement_another_client_prepared_under_a_ledger_name_is_never_run(traced: Traced, foreign: str) -> None:
    fill = fill_fields()
    traced.ledger.record(fill)
    with pytest.raises(FillConflict):  # a rollback: the ledger reads its session's statements again next time
        traced.ledger.record({**fill, "price": "999"})
    # A session shared between processes (pgbouncer in transaction mode) may hold a statement of another
    # process under a name this one gives its own: the head's lock here, with other SQL and other values.
    name = _P_HEAD_FOR_UPDATE.name
    ours = _P_HEAD_FOR_UPDATE.prepare_sql(sa.create_engine(traced.backend.url).dialect).removeprefix(f"PREPARE {name}")
    for connection in traced.connections:
        if not connection.closed and connection.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            connection.autocommit = True
            connection.execute(f"DEALLOCATE {name}")
            connection.execute(f"PREPARE {name}{foreign.replace('OURS', ours)}")
            connection.autocommit = False

    receipt = traced.ledger.record(fill_fields(symbol="ETH/USD"))

    assert receipt.seq == 3
    assert traced.ledger.verify().ok
    assert traced.round_trips(lambda: traced.ledger.record(fill_fields(symbol="ETH/USD"))) == 2
