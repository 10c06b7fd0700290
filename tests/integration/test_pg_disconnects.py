"""A long-lived process whose PostgreSQL server dropped every connection (a restart, a failover).

`pg_terminate_backend` on every backend of the ledger's database stands in for a restart: the ledger's
write connection and the idle connections of its pool are all gone, and it learns so only when it next
uses one (`own_server` restarts a server of a test's own with `pg_ctl restart`). The first call after it works:
a unit of work whose connection is found lost in its first round trip (nothing written) is made again on a new
connection, once, and so is a read's BEGIN. A loss raised (a second in a row, or with the commit sent) is one
ConnectionLost saying what of the call was done; the call after it works on the same Ledger, without reopening it.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend, PostgresServer
from tests.factories import fill_fields
from tests.integration.test_subscriptions import TRADELEDGER, Lines, ended
from tests.notices import seen
from tradeledger import ConnectionLost, Ledger, open_ledger
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.paper_wallet.checkpoint import TABLE, checkpoint_key
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import create_trade
from tradeledger.storage.sql import store as store_module
from tradeledger.storage.sql.batching import Batch, begin_now
from tradeledger.storage.sql.store import SqlUnitOfWork

pytestmark = pytest.mark.reliability

HANG_GUARD_S = 60  # a bound on a hung subscriber, never an assertion on speed
LOST = "the connection to the database was lost"
TERMINATED = "terminating connection due to administrator command"
PG_SCRIPT = Path(__file__).parents[2] / "scripts" / "pg"
SERVER_S = 120  # a bound on starting, restarting or stopping a server, never an assertion on speed


@pytest.fixture
def backend(postgres_server: PostgresServer) -> Iterator[Backend]:
    with postgres_server.fresh_database() as created:
        yield created


@pytest.fixture
def ledger(backend: Backend) -> Iterator[Ledger]:
    with open_ledger(backend.url) as opened:
        yield opened


@pytest.fixture
def own_server(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A PostgreSQL server of this test's own (scripts/pg), its URL and folder: it may be restarted while the shared
    server (`postgres_server`, which says whether PostgreSQL is there at all) serves other tests."""
    del postgres_server
    started = subprocess.run([PG_SCRIPT, "start"], capture_output=True, text=True, check=True, timeout=SERVER_S)
    exports = dict(re.findall(r"^export (\w+)=(\S+)$", started.stdout, re.MULTILINE))
    folder = exports["TRADELEDGER_TEST_PG_DIR"]
    try:
        yield exports["TRADELEDGER_TEST_PG_URL"], folder
    finally:
        subprocess.run([PG_SCRIPT, "stop", folder], capture_output=True, check=True, timeout=SERVER_S)


def restart_server(folder: str) -> None:
    """`pg_ctl restart` (fast: every session ended) of a server `own_server` started."""
    subprocess.run([PG_SCRIPT, "restart", folder], capture_output=True, check=True, timeout=SERVER_S)


def drop_connections(backend: Backend) -> int:
    """Terminate every other backend of the database (as a restart would); how many there were."""
    query = (
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return len(backend.sql(query))


def idle_in_pool(ledger: Ledger, count: int) -> None:
    """Leave `count` idle connections in the ledger's pool: `count` reads at once, each returned after."""
    started = threading.Barrier(count)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            with ledger._store.reading() as tx:  # holds its connection until all started
                tx.log.head()
                started.wait(HANG_GUARD_S)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            failures.append(error)

    threads = [threading.Thread(target=read) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def fill_ids(ledger: Ledger) -> list[tuple[int, str]]:
    return [(recorded.seq, recorded.fill.event_id) for recorded in ledger.history()]


def logged_problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What was logged at WARNING or above (SQLAlchemy's pool logs a connection whose reset failed)."""
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_ledger_idle_through_a_server_restart_appends_and_reads_at_its_first_call(
    own_server: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, folder = own_server
    with open_ledger(url) as ledger:
        ledger.record(fill_fields(fill_id="F-1"))
        idle_in_pool(ledger, 3)
        restart_server(folder)

        assert ledger.record(fill_fields(fill_id="F-2")).seq == 2

        idle_in_pool(ledger, 3)
        restart_server(folder)
        assert [position.symbol for position in ledger.positions()] == ["BTC/USD"]
        assert ledger.record(fill_fields(fill_id="F-3")).seq == 3
        assert fill_ids(ledger) == [(1, "F-1"), (2, "F-2"), (3, "F-3")]
        assert ledger.verify().ok
    assert logged_problems(caplog) == []


def test_the_first_append_after_the_connections_dropped_appends_on_a_new_connection(
    backend: Backend, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    idle_in_pool(ledger, 3)
    assert drop_connections(backend) >= 4  # the writer and the three idle ones

    assert ledger.record(fill_fields(fill_id="F-2")).seq == 2
    assert ledger.record(fill_fields(fill_id="F-3")).seq == 3

    assert fill_ids(ledger) == [(1, "F-1"), (2, "F-2"), (3, "F-3")]
    assert ledger.verify().ok
    assert logged_problems(caplog) == []


def test_the_first_read_after_the_connections_dropped_reads_on_a_new_connection(
    backend: Backend, ledger: Ledger
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    idle_in_pool(ledger, 3)
    drop_connections(backend)

    assert [position.symbol for position in ledger.positions()] == ["BTC/USD"]
    assert fill_ids(ledger) == [(1, "F-1")]


def test_a_trade_manager_records_its_first_trade_after_the_connections_dropped(
    backend: Backend, ledger: Ledger
) -> None:
    with TradeManager(ledger) as manager:
        manager.record_trade(create_trade("BTC/USD", "buy", "1", "100"))
        idle_in_pool(ledger, 3)
        drop_connections(backend)

        manager.record_trade(create_trade("BTC/USD", "buy", "2", "110"))

        position = manager.get_position("BTC/USD")
        assert position is not None
        assert str(position.total_amount) == "3"
        assert str(position.average_price) == "106.6666666666666666666666667"
    assert [seq for seq, _ in fill_ids(ledger)] == [1, 2]


def test_an_append_whose_connection_is_lost_with_its_commit_sent_says_it_may_have_committed(
    backend: Backend, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    sending = Batch.commit

    def dropped_first(batch: Batch) -> None:  # the server ends the session as the writes and COMMIT go out
        drop_connections(backend)
        sending(batch)

    monkeypatch.setattr(Batch, "commit", dropped_first)
    with pytest.raises(ConnectionLost) as raised:
        ledger.record(fill_fields(fill_id="F-2"))
    monkeypatch.undo()

    message = str(raised.value)
    assert message.startswith(LOST), message
    assert TERMINATED in message, message
    assert "after its commit was sent: it may have been committed or not" in message, message
    assert "sending its fills again is safe (a fill already recorded is a duplicate" in message, message
    # Here the server ended the session before the COMMIT arrived: sent again, the fill is new.
    assert ledger.record(fill_fields(fill_id="F-2")).seq == 2
    assert fill_ids(ledger) == [(1, "F-1"), (2, "F-2")]


def test_an_append_whose_connection_is_lost_twice_in_its_first_round_trip_fails_having_written_nothing(
    backend: Backend, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    reading = Batch.start

    def dropped_first(batch: Batch, reads: Any) -> Any:
        drop_connections(backend)  # the new connection of the replay too: the server keeps ending sessions
        return reading(batch, reads)

    monkeypatch.setattr(Batch, "start", dropped_first)
    with pytest.raises(ConnectionLost) as raised:
        ledger.record(fill_fields(fill_id="F-2"))
    monkeypatch.undo()

    message = str(raised.value)
    assert message.startswith(LOST), message
    assert TERMINATED in message, message
    assert "its commit was not sent, so nothing of it was written, and the next call connects again" in message
    assert ledger.record(fill_fields(fill_id="F-3")).seq == 2
    assert fill_ids(ledger) == [(1, "F-1"), (2, "F-3")]


def test_a_read_whose_connection_is_lost_twice_before_it_reads_fails_naming_the_lost_connection_then_reads(
    backend: Backend, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    beginning = begin_now

    def dropped_first(connection: Any) -> None:
        drop_connections(backend)
        beginning(connection)

    monkeypatch.setattr(store_module, "begin_now", dropped_first)
    with pytest.raises(ConnectionLost) as raised:
        ledger.positions()
    monkeypatch.undo()

    assert str(raised.value).startswith(LOST), str(raised.value)
    assert TERMINATED in str(raised.value)
    assert [position.symbol for position in ledger.positions()] == ["BTC/USD"]
    assert ledger.record(fill_fields(fill_id="F-2")).seq == 2


def test_a_subscriber_reads_on_through_dropped_connections_without_an_error(backend: Backend) -> None:
    with open_ledger(backend.url) as reader, open_ledger(backend.url) as writer:
        writer.record(fill_fields(fill_id="F-1"))
        subscription = reader.subscribe()
        assert seen(subscription.poll()) == [(1, "F-1")]
        idle_in_pool(reader, 3)
        drop_connections(backend)
        writer.record(fill_fields(fill_id="F-2"))

        # Its read's pooled connection was dropped, and so was its LISTEN connection: both replaced.
        assert seen(subscription.poll(HANG_GUARD_S)) == [(2, "F-2")]

        idle_in_pool(reader, 3)
        drop_connections(backend)
        writer.record(fill_fields(fill_id="F-3"))
        assert seen([next(iter(subscription))]) == [(3, "F-3")]  # an iteration reads on too
        subscription.close()


def test_a_subscriber_waiting_when_the_connections_drop_listens_again_on_a_new_connection_and_reads_on(
    backend: Backend,
) -> None:
    with open_ledger(backend.url) as reader, open_ledger(backend.url) as writer:
        writer.record(fill_fields(fill_id="F-1"))
        subscription = reader.subscribe()
        assert seen(subscription.poll()) == [(1, "F-1")]
        idle_in_pool(reader, 3)  # its reads' connections, idle in its pool as a live reader's are
        signal = subscription._signal  # the restart must come while it waits, as a live one's does
        assert signal is not None
        waiting = signal.wait
        dropped: list[int] = []

        def restarted_while_waiting(timeout: float) -> bool:
            if not dropped:  # the server restarts (every connection ended) and a bot appends, during the wait
                dropped.append(drop_connections(backend))
                writer.record(fill_fields(fill_id="F-2"))
            return waiting(timeout)

        signal.wait = restarted_while_waiting  # type: ignore[method-assign]

        assert seen(subscription.poll(HANG_GUARD_S)) == [(2, "F-2")]
        assert dropped[0] >= 4  # its LISTEN connection and the 3 idle in its pool (and the writer's)
        writer.record(fill_fields(fill_id="F-3"))
        assert seen(subscription.poll(HANG_GUARD_S)) == [(3, "F-3")]
        subscription.close()


def test_watch_prints_on_through_a_server_restart_while_it_waits(own_server: tuple[str, str]) -> None:
    url, folder = own_server
    with open_ledger(url) as ledger:
        ledger.record(fill_fields(fill_id="F-1"))
    watcher = subprocess.Popen(
        [TRADELEDGER, "--db", url, "watch", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = Lines(watcher)
        first = json.loads(lines.next())  # printed: it waits for the next event now
        restart_server(folder)  # its connections ended, and new ones refused until the server is up again
        with open_ledger(url) as ledger:
            ledger.record(fill_fields(fill_id="F-2"))
        second = json.loads(lines.next())
        watcher.send_signal(signal.SIGTERM)
    finally:
        if watcher.poll() is None:
            watcher.send_signal(signal.SIGTERM)
        returncode, err = ended(watcher)

    assert returncode == 0, err
    assert [(line["seq"], line["event"]["fill_id"]) for line in (first, second)] == [(1, "F-1"), (2, "F-2")]


def test_an_append_on_a_write_connection_the_driver_closed_appends_on_a_new_connection(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    writer = ledger._store._writer()  # type: ignore[attr-defined]  # its DB-API connection, closed under it
    writer.connection.dbapi_connection.close()

    assert ledger.record(fill_fields(fill_id="F-2")).seq == 2
    assert fill_ids(ledger) == [(1, "F-1"), (2, "F-2")]
    assert logged_problems(caplog) == []


def test_after_a_read_found_the_connections_dropped_the_next_append_appends_and_nothing_is_logged(
    backend: Backend, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    idle_in_pool(ledger, 2)
    drop_connections(backend)

    assert [position.symbol for position in ledger.positions()] == ["BTC/USD"]
    assert ledger.record(fill_fields(fill_id="F-2")).seq == 2
    assert fill_ids(ledger) == [(1, "F-1"), (2, "F-2")]
    assert logged_problems(caplog) == []  # the dropped write connection was given back without a failed reset


# Stop 2 %, trailing 1 %: a buy at 100 starts at stop 98; a mark of 120 ratchets it to 118.80.
TRAIL_1PCT = {"exit_strategy": {"trailing_stop_pct": 0.01, "stop_loss_pct": 0.02, "take_profit_pct": 0.5}}


def test_units_of_work_that_do_not_read_ahead_run_at_their_first_call_after_a_server_restart(
    own_server: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, folder = own_server
    with open_ledger(url) as ledger:
        with TradeManager(ledger, config=TRAIL_1PCT, mark_flush_interval_s=3600) as manager:
            manager.record_trade(create_trade("BTC/USD", "buy", "1", "100"))
            restart_server(folder)
            manager.update_price("BTC/USD", 120)  # ratchets the stop: its level is committed before it returns
            levels = ledger.marks().levels[("default", "BTC/USD")]
            assert (levels.stop_loss_price, levels.highest_price) == (Decimal("118.8"), Decimal(120))
            restart_server(folder)
            manager.flush_marks()  # the price mark itself
            assert ledger.marks().prices["BTC/USD"].price == Decimal(120)

        wallet = PaperWallet(ledger, Decimal(10_000), account="paper")
        wallet.open("ETH/USD", "buy", 1, 100)
        assert wallet.balance == Decimal(9900)  # its book at seq 2, past the checkpoint its first figure saved at 1
        restart_server(folder)
        wallet.shutdown()  # saves the wallet's checkpoint at the head
        saved = ledger.resume_account(TABLE, checkpoint_key("paper", Decimal(10_000)), account="paper", at=ledger.head)
        assert saved is not None
        assert (saved.at.seq, saved.state is not None) == (2, True)

        subscription = ledger.subscribe(name="risk")
        assert [seq for seq, _ in seen(subscription.poll())] == [1, 2]
        restart_server(folder)
        subscription.save()
        subscription.close()
        with ledger.subscribe(name="risk") as resumed:
            assert resumed.position == ledger.head

        restart_server(folder)
        assert ledger.rebuild() == ledger.head

        restart_server(folder)
        report = ledger.rollback(to_seq=1, reason="a restart test", actor="test")
        assert (report.head_after.seq, ledger.head.seq) == (1, 1)
        assert fill_ids(ledger)[0][0] == 1
        assert ledger.verify().ok
    assert logged_problems(caplog) == []


def test_a_checkpoint_save_whose_connection_is_lost_with_its_commit_sent_says_it_may_have_committed(
    backend: Backend, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    at = ledger.head
    committing = SqlUnitOfWork.commit

    def dropped_first(uow: SqlUnitOfWork) -> None:  # the server ends the session as the COMMIT goes out
        drop_connections(backend)
        committing(uow)

    monkeypatch.setattr(SqlUnitOfWork, "commit", dropped_first)
    with pytest.raises(ConnectionLost) as raised:
        ledger.save_checkpoint("mine", "k", "state", at=at)
    monkeypatch.undo()

    message = str(raised.value)
    assert message.startswith(LOST), message
    assert TERMINATED in message, message
    assert message.endswith(
        "after its commit was sent: it may have been committed or not; read the ledger to learn which before doing "
        "it again, and the next call connects again"
    ), message
    assert ledger.save_checkpoint("mine", "k", "state", at=at)
    found = ledger.resume_account("mine", "k", account="default", at=at)
    assert found is not None
    assert (found.at, found.state) == (at, "state")


def test_a_checkpoint_save_whose_connection_is_lost_twice_at_its_begin_fails_having_written_nothing(
    backend: Backend, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    at = ledger.head
    beginning = begin_now

    def dropped_first(connection: Any) -> None:  # the new connection's BEGIN too: the server keeps ending sessions
        drop_connections(backend)
        beginning(connection)

    monkeypatch.setattr(store_module, "begin_now", dropped_first)
    with pytest.raises(ConnectionLost) as raised:
        ledger.save_checkpoint("mine", "k", "state", at=at)
    monkeypatch.undo()

    message = str(raised.value)
    assert message.startswith(LOST), message
    assert TERMINATED in message, message
    assert "its commit was not sent, so nothing of it was written, and the next call connects again" in message
    found = ledger.resume_account("mine", "k", account="default", at=at)
    assert found is not None
    assert found.state is None
    assert ledger.save_checkpoint("mine", "k", "state", at=at)
