"""PostgreSQL's change signal (storage/sql/changes.py) when its LISTEN connection is lost.

The signal only says when to look (spec section 12): a lost connection may have lost a notification,
so it must say "look" and listen again on a new connection, never end the subscriber.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.backends import Backend, PostgresServer
from tests.factories import fill_fields
from tests.notices import seen
from tradeledger import Ledger, open_ledger

HANG_GUARD_S = 60  # a bound on a hung subscriber, never an assertion on speed
LISTENERS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN tradeledger_log'"


@pytest.fixture
def backend(postgres_server: PostgresServer) -> Iterator[Backend]:
    with postgres_server.fresh_database() as created:
        yield created


def listeners(backend: Backend) -> list[int]:
    return sorted(pid for (pid,) in backend.sql(LISTENERS))


def terminate(backend: Backend, pids: list[int]) -> None:
    for pid in pids:
        backend.sql("SELECT pg_terminate_backend(:pid, 5000)", {"pid": pid})


def test_a_subscriber_whose_listen_connection_is_terminated_listens_again_and_misses_nothing(backend: Backend) -> None:
    with open_ledger(backend.url) as reader, open_ledger(backend.url) as writer:
        writer.record(fill_fields(fill_id="F-1"))
        subscription = reader.subscribe()
        assert seen(subscription.poll()) == [(1, "F-1")]
        assert subscription.poll(0.01) == []  # the signal is open and listening now
        before = listeners(backend)
        assert len(before) == 1
        terminate(backend, before)

        assert subscription.changed() is True  # a lost connection may have lost a notification: look
        assert subscription.poll(0.05) == []  # waits on a new connection, no error
        after = listeners(backend)
        assert len(after) == 1
        assert after != before

        writing = threading.Thread(target=lambda: writer.record(fill_fields(fill_id="F-2")))
        writing.start()
        notices = subscription.poll(HANG_GUARD_S)
        writing.join()
        assert seen(notices) == [(2, "F-2")]

        terminate(backend, after)  # lost again: listens again again
        assert subscription.poll(0.01) == []
        assert len(listeners(backend)) == 1
        subscription.close()
        assert listeners(backend) == []


def test_a_ledger_closed_after_its_listen_connection_was_terminated_closes_cleanly(backend: Backend) -> None:
    ledger: Ledger = open_ledger(backend.url)
    subscription = ledger.subscribe()
    assert subscription.poll(0.01) == []
    terminate(backend, listeners(backend))
    ledger.close()
    assert subscription.stopped() is True
