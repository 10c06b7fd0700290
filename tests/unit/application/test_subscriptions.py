"""Subscriptions over the in-memory store (spec section 12): the rules, without processes or servers.

tests/integration/test_subscriptions.py holds them on SQLite and PostgreSQL, across processes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from tests.factories import fill_fields
from tradeledger import EventNotice, Ledger, RollbackNotice
from tradeledger.errors import InvalidArgument


def record(ledger: Ledger, *ids: str) -> None:
    ledger.record_many([fill_fields(fill_id=ident) for ident in ids])


def seqs(notices: Sequence[object]) -> list[int]:
    return [n.seq for n in notices if isinstance(n, EventNotice)]


def test_a_subscription_catches_up_in_seq_order_then_gets_the_new_events(ledger: Ledger) -> None:
    record(ledger, "a", "b")
    subscription = ledger.subscribe()

    first = subscription.poll()
    record(ledger, "c")
    second = subscription.poll()

    assert seqs(first) == [1, 2]
    assert seqs(second) == [3]
    assert subscription.poll() == []
    assert subscription.position == ledger.head


def test_a_poll_waits_for_an_event_another_thread_records(ledger: Ledger) -> None:
    subscription = ledger.subscribe()
    writer = threading.Timer(0.05, record, args=(ledger, "late"))
    writer.start()

    notices = subscription.poll(timeout=30)

    writer.join()
    assert seqs(notices) == [1]


def test_after_a_seq_starts_after_it_and_a_seq_past_the_head_is_refused(ledger: Ledger) -> None:
    record(ledger, "a", "b", "c")

    assert seqs(ledger.subscribe(after=2).poll()) == [3]
    with pytest.raises(InvalidArgument, match="seq 4 is not in the log"):
        ledger.subscribe(after=4)


def test_a_rollback_arrives_as_a_notice_then_the_events_after_it(ledger: Ledger) -> None:
    record(ledger, "a", "b", "c")
    subscription = ledger.subscribe()
    subscription.poll()
    ledger.rollback(to_seq=1, reason="bad fills", actor="ops")
    record(ledger, "d")

    notices = subscription.poll()

    assert isinstance(notices[0], RollbackNotice)
    assert (notices[0].epoch, notices[0].to_seq) == (2, 1)
    assert seqs(notices) == [2]
    assert notices[1].event.event.event_id == "d"  # type: ignore[union-attr]


def test_a_rollback_after_what_the_subscriber_saw_is_no_notice(ledger: Ledger) -> None:
    record(ledger, "a", "b", "c")
    subscription = ledger.subscribe()
    assert seqs(subscription.poll()) == [1, 2, 3]
    position = ledger.subscribe(after=1).position
    ledger.rollback(to_seq=2, reason="r", actor="ops")
    record(ledger, "d")

    resumed = ledger.subscribe(after=position)

    assert seqs(resumed.poll()) == [2, 3]


def test_a_stale_position_gets_the_rollback_notice_first_on_resume(ledger: Ledger) -> None:
    record(ledger, "a", "b", "c")
    seen = ledger.subscribe(after=3).position
    ledger.rollback(to_seq=1, reason="r", actor="ops")
    record(ledger, "x", "y")

    notices = ledger.subscribe(after=seen).poll()

    assert isinstance(notices[0], RollbackNotice)
    assert notices[0].to_seq == 1
    assert seqs(notices) == [2, 3]


def test_a_named_subscriber_resumes_where_it_saved_with_its_entries_in_the_same_transaction(ledger: Ledger) -> None:
    record(ledger, "a", "b")
    reader = ledger.subscribe(name="risk")
    assert seqs(reader.poll()) == [1, 2]
    reader.save(entries={"risk_view": {"count": "2"}})
    record(ledger, "c")

    again = ledger.subscribe(name="risk")

    assert again.position.seq == 2
    assert seqs(again.poll()) == [3]
    with ledger._store.reading() as tx:
        assert tx.projection.entries("risk_view") == {"count": "2"}


def test_only_a_named_subscriber_saves_and_never_into_the_ledgers_own_tables(ledger: Ledger) -> None:
    with pytest.raises(InvalidArgument, match="only a named subscription"):
        ledger.subscribe().save()
    with pytest.raises(InvalidArgument, match="'balances' is a table of the ledger's own"):
        ledger.subscribe(name="x").save(entries={"balances": {"k": "v"}})
    with pytest.raises(InvalidArgument, match="name"):
        ledger.subscribe(name=" ")


def test_iteration_ends_when_stopped(ledger: Ledger) -> None:
    record(ledger, "a", "b")
    subscription = ledger.subscribe()
    seen: list[object] = []

    for notice in subscription:
        seen.append(notice)
        if len(seen) == 2:
            subscription.stop()

    assert seqs(seen) == [1, 2]


def test_follow_reads_the_head_and_the_fills_after_a_seq_in_one_look(ledger: Ledger) -> None:
    record(ledger, "a", "b", "c")

    head, after = ledger.follow(1)

    assert head == ledger.head
    assert [recorded.seq for recorded in after] == [2, 3]
