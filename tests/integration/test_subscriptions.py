"""Subscriptions (spec section 12): every event after a position, exactly once, in seq order.

Contract tests: each runs on SQLite and on PostgreSQL. A subscriber here builds a view from its
notices (the events it holds by seq, every seq delivered, the rollbacks it got) and the tests hold
that view to the log (`ledger.history()`) and to a replay (`ledger.replay()`). Writers are other
`Ledger` instances or other processes, never the subscriber's own. Time bounds are hang guards only.
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.factories import fill_fields
from tests.processes import run_together
from tradeledger import Fill, Ledger, open_ledger
from tradeledger.application.subscribing import EventNotice, Notice, RollbackNotice, Subscription
from tradeledger.domain.records import Checkpoint, RecordedFill

HANG_GUARD_S = 120  # a bound on a hung subscriber or worker, never an assertion on speed
SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD")
ACCOUNTS = ("alpha", "beta")

T = TypeVar("T")


def fills(count: int, *, start: int = 0, prefix: str = "F") -> list[dict[str, Any]]:
    """`count` distinct fills over two accounts and three symbols; every third sells half of what a buy adds."""
    made = []
    for n in range(start, start + count):
        selling = n % 3 == 2
        made.append(
            fill_fields(
                fill_id=f"{prefix}-{n:05d}",
                account=ACCOUNTS[n % 2],
                symbol=SYMBOLS[n % 3],
                side="sell" if selling else "buy",
                quantity="0.5" if selling else "1",
                price=str(100 + n % 7),
                fee="0.01",
            )
        )
    return made


def quantities(events: Iterable[RecordedFill]) -> dict[tuple[str, str], Decimal]:
    """Signed quantity per (account, symbol), folded from fills; flat ones left out."""
    totals: dict[tuple[str, str], Decimal] = {}
    for recorded in events:
        fill = recorded.event
        assert fill.type == "fill"
        sign = 1 if fill.side == "buy" else -1
        key = (fill.account, fill.symbol)
        totals[key] = totals.get(key, Decimal(0)) + sign * fill.quantity
    return {key: quantity for key, quantity in totals.items() if quantity != 0}


def replayed(ledger: Ledger) -> dict[tuple[str, str], Decimal]:
    return {position.key: position.signed_quantity for position in ledger.replay().open}


@dataclass
class View:
    """What a subscriber builds from its notices."""

    events: dict[int, EventNotice] = field(default_factory=dict)  # what it holds now, by seq
    delivered: list[int] = field(default_factory=list)  # the seq of every event notice, in arrival order
    rollbacks: list[RollbackNotice] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # "rollback" or the seq, in arrival order

    def apply(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            if isinstance(notice, RollbackNotice):
                self.rollbacks.append(notice)
                self.order.append("rollback")
                for seq in [seq for seq in self.events if seq > notice.to_seq]:
                    del self.events[seq]
            else:
                self.events[notice.seq] = notice
                self.delivered.append(notice.seq)
                self.order.append(str(notice.seq))

    @property
    def last(self) -> int:
        return max(self.events, default=0)

    def chain(self) -> list[tuple[int, int, str]]:
        return [(n.seq, n.epoch, n.hash) for n in sorted(self.events.values(), key=lambda n: n.seq)]

    def quantities(self) -> dict[tuple[str, str], Decimal]:
        return quantities(n.event for n in sorted(self.events.values(), key=lambda n: n.seq))


def fill_id(notice: EventNotice) -> str:
    fill = notice.event.event
    assert isinstance(fill, Fill)
    return fill.fill_id


def log_chain(ledger: Ledger) -> list[tuple[int, int, str]]:
    return [(event.seq, event.epoch, event.hash) for event in ledger.history()]


def collect(subscription: Subscription, view: View, *, until_seq: int, background: Future[Any] | None = None) -> View:
    """Poll until the view holds seq `until_seq`; fails (never hangs) on a hung subscription or a failed writer."""
    deadline = time.monotonic() + HANG_GUARD_S
    while view.last < until_seq:
        if background is not None and background.done() and background.exception() is not None:
            background.result()  # raises the writer's failure
        if time.monotonic() > deadline:
            pytest.fail(f"hang guard: the subscriber holds seq {view.last} of {until_seq}")
        view.apply(subscription.poll(timeout=1.0))
    return view


@contextmanager
def in_background(work: Callable[[], T]) -> Iterator[Future[T]]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        yield future
        future.result(timeout=HANG_GUARD_S)


def record_all(url: str, batch: list[dict[str, Any]]) -> None:
    """Record each fill in its own transaction through another Ledger instance (another writer)."""
    with open_ledger(url) as writer:
        for one in batch:
            writer.record(one)


# --- catch-up, then live ----------------------------------------------------------------------------


def test_a_subscriber_gets_the_log_then_each_new_event_once_in_seq_order(ledger: Ledger, db_url: str) -> None:
    for one in fills(5):
        ledger.record(one)
    subscription = ledger.subscribe()
    view = View()
    view.apply(subscription.poll())
    assert view.delivered == [1, 2, 3, 4, 5]  # the catch-up, without waiting

    with in_background(lambda: record_all(db_url, fills(20, start=5))) as writing:
        collect(subscription, view, until_seq=25, background=writing)
    subscription.close()

    assert view.delivered == list(range(1, 26))
    assert view.chain() == log_chain(ledger)
    assert view.quantities() == replayed(ledger)
    assert subscription.position == ledger.head


def test_a_subscriber_far_behind_catches_up_in_batches_each_event_once(ledger: Ledger) -> None:
    ledger.record_many(fills(2500))  # more than one read's batch (subscribing.BATCH)
    subscription = ledger.subscribe()
    view = View()
    sizes = []
    while view.last < 2500:
        notices = subscription.poll()
        assert notices, "a poll with events still to read returned nothing"
        sizes.append(len(notices))
        view.apply(notices)
    subscription.close()

    assert len(sizes) > 1
    assert view.delivered == list(range(1, 2501))
    assert view.chain() == log_chain(ledger)


def test_a_poll_with_nothing_new_returns_nothing_and_keeps_the_position(ledger: Ledger) -> None:
    for one in fills(2):
        ledger.record(one)
    subscription = ledger.subscribe()
    assert [n.seq for n in subscription.poll() if isinstance(n, EventNotice)] == [1, 2]

    assert subscription.poll() == []
    assert subscription.poll(timeout=0.05) == []
    assert subscription.position == ledger.head
    subscription.close()


def test_a_subscription_from_a_kept_position_resumes_with_no_gap_and_no_repeat(ledger: Ledger, db_url: str) -> None:
    for one in fills(4):
        ledger.record(one)
    first = ledger.subscribe()
    seen = View()
    seen.apply(first.poll())
    kept = first.position
    first.close()
    assert kept == ledger.head
    assert kept.seq == 4

    record_all(db_url, fills(3, start=4))
    resumed = View()
    again = ledger.subscribe(after=kept)
    resumed.apply(again.poll())
    again.close()
    by_seq = View()
    from_seq = ledger.subscribe(after=4)
    by_seq.apply(from_seq.poll())
    from_seq.close()

    assert resumed.delivered == [5, 6, 7]
    assert by_seq.delivered == [5, 6, 7]
    assert seen.delivered + resumed.delivered == list(range(1, 8))


def test_a_named_subscriber_resumes_from_its_stored_position_after_a_restart(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        for one in fills(4):
            ledger.record(one)
        subscription = ledger.subscribe(name="auditor")
        before = View()
        before.apply(subscription.poll())
        subscription.save()
        saved = subscription.position
        subscription.close()
    record_all(db_url, fills(3, start=4))

    with open_ledger(db_url) as restarted:
        subscription = restarted.subscribe(name="auditor")
        assert subscription.position == saved
        after = View()
        after.apply(subscription.poll())
        subscription.close()
        other = restarted.subscribe(name="dashboard")  # a name with no stored position starts at the beginning
        fresh = View()
        fresh.apply(other.poll())
        other.close()
        head = restarted.head

    assert before.delivered == [1, 2, 3, 4]
    assert after.delivered == [5, 6, 7]
    assert fresh.delivered == [1, 2, 3, 4, 5, 6, 7]
    assert head.seq == 7


def test_a_named_subscriber_saves_its_entries_with_its_position(ledger: Ledger) -> None:
    for one in fills(3):
        ledger.record(one)
    subscription = ledger.subscribe(name="risk")
    notices = [n for n in subscription.poll() if isinstance(n, EventNotice)]
    subscription.save(entries={"risk_seen": {f"{n.seq:08d}": n.hash for n in notices}})
    subscription.save(entries={"risk_seen": {"00000001": None}})  # None removes an entry
    subscription.close()

    with ledger._store.reading() as tx:
        seen = tx.projection.entries("risk_seen")
        stored = json.loads(tx.projection.entries("subscribers", ["risk"])["risk"])
    assert seen == {f"{n.seq:08d}": n.hash for n in notices[1:]}
    assert Checkpoint(stored["epoch"], stored["seq"], stored["hash"]) == ledger.head


# --- the change signal ------------------------------------------------------------------------------


def test_a_commit_or_a_rollback_by_another_ledger_wakes_the_change_signal(ledger: Ledger, db_url: str) -> None:
    # LISTEN/NOTIFY on PostgreSQL, PRAGMA data_version on SQLite. A broken signal would only wait out the
    # hang guard and answer False: a subscription would still get every event, a heartbeat later.
    for one in fills(3):
        ledger.record(one)
    signal_ = ledger._store.changes()
    try:
        assert signal_.wait(0.0) is False  # nothing since it was made
        record_all(db_url, fills(1, start=3))
        assert signal_.wait(HANG_GUARD_S) is True
        with open_ledger(db_url) as other:
            other.rollback(to_seq=2, reason="undo", actor="tests")
        assert signal_.wait(HANG_GUARD_S) is True
    finally:
        signal_.close()


def test_a_rebuild_of_the_projection_keeps_named_subscribers_positions_and_entries(ledger: Ledger) -> None:
    for one in fills(4):
        ledger.record(one)
    subscription = ledger.subscribe(name="keeper")
    subscription.poll()
    subscription.save(entries={"keeper_notes": {"last": "4"}})
    subscription.close()

    ledger.rebuild()

    again = ledger.subscribe(name="keeper")
    assert again.position == ledger.head
    assert again.poll() == []
    again.close()
    with ledger._store.reading() as tx:
        assert tx.projection.entries("keeper_notes") == {"last": "4"}


# --- rollbacks ---------------------------------------------------------------------------------------


def test_a_rollback_arrives_as_a_notice_then_the_new_events_and_the_view_equals_a_replay(
    ledger: Ledger, db_url: str
) -> None:
    for one in fills(8):
        ledger.record(one)
    subscription = ledger.subscribe()
    view = View()
    view.apply(subscription.poll())
    assert view.delivered == list(range(1, 9))

    ledger.rollback(to_seq=5, reason="a bad import", actor="tests")
    record_all(db_url, fills(3, start=100))
    view.apply(subscription.poll())
    subscription.close()

    assert view.order[8:] == ["rollback", "6", "7", "8"]
    [notice] = view.rollbacks
    assert (notice.epoch, notice.to_seq, notice.head_hash) == (2, 5, ledger.head.hash)
    assert view.chain() == log_chain(ledger)
    assert {fill_id(n) for n in view.events.values() if n.seq > 5} == {"F-00100", "F-00101", "F-00102"}
    assert view.quantities() == replayed(ledger)
    assert subscription.position == ledger.head


def test_a_rollback_before_the_next_read_with_nothing_new_rewinds_to_the_new_head(ledger: Ledger) -> None:
    for one in fills(6):
        ledger.record(one)
    subscription = ledger.subscribe()
    view = View()
    view.apply(subscription.poll())

    ledger.rollback(to_seq=2, reason="undo", actor="tests")
    view.apply(subscription.poll())
    subscription.close()

    assert view.order[6:] == ["rollback"]
    assert (view.rollbacks[0].to_seq, view.rollbacks[0].epoch) == (2, 2)
    assert view.rollbacks[0].head_hash == ledger.head.hash
    assert view.chain() == log_chain(ledger)
    assert view.quantities() == replayed(ledger)


def test_a_rollback_after_what_a_subscriber_saw_sends_no_notice(ledger: Ledger, db_url: str) -> None:
    for one in fills(4):
        ledger.record(one)
    subscription = ledger.subscribe()
    view = View()
    view.apply(subscription.poll())
    record_all(db_url, fills(4, start=4))

    ledger.rollback(to_seq=6, reason="undo the last two", actor="tests")  # the subscriber saw up to 4
    record_all(db_url, fills(2, start=200))
    view.apply(subscription.poll())
    subscription.close()

    assert view.rollbacks == []
    assert view.delivered == list(range(1, 9))
    assert view.chain() == log_chain(ledger)
    assert view.quantities() == replayed(ledger)


def test_a_stale_kept_position_gets_the_rollback_notice_first(ledger: Ledger, db_url: str) -> None:
    for one in fills(8):
        ledger.record(one)
    kept = ledger.head
    ledger.rollback(to_seq=5, reason="undo", actor="tests")
    record_all(db_url, fills(4, start=300))  # seq 8 exists again, with another hash
    assert ledger.head.seq == 9

    view = View()
    view.events = {e.seq: EventNotice(e.epoch, e.seq, e.hash, e) for e in ledger.history() if e.seq <= 5}
    subscription = ledger.subscribe(after=kept)
    view.apply(subscription.poll())
    subscription.close()

    assert view.order == ["rollback", "6", "7", "8", "9"]
    assert (view.rollbacks[0].epoch, view.rollbacks[0].to_seq) == (2, 5)
    assert view.chain() == log_chain(ledger)


def test_a_named_subscriber_whose_stored_seq_has_another_hash_gets_the_rollback_notice_first(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        for one in fills(8):
            ledger.record(one)
        subscription = ledger.subscribe(name="books")
        view = View()
        view.apply(subscription.poll())
        subscription.save()
        subscription.close()
        ledger.rollback(to_seq=3, reason="undo", actor="tests")
    record_all(db_url, fills(6, start=400))

    with open_ledger(db_url) as restarted:
        subscription = restarted.subscribe(name="books")
        view.apply(subscription.poll())
        subscription.save()
        subscription.close()
        assert view.order[8:] == ["rollback", "4", "5", "6", "7", "8", "9"]
        assert view.rollbacks[0].to_seq == 3
        assert view.chain() == log_chain(restarted)
        assert view.quantities() == replayed(restarted)
        again = restarted.subscribe(name="books")
        assert again.poll() == []  # the saved position after the rewind is current
        again.close()


def test_two_rollbacks_rewind_a_resumed_subscriber_to_the_earliest_cut(ledger: Ledger, db_url: str) -> None:
    for one in fills(8):
        ledger.record(one)
    kept = ledger.head
    ledger.rollback(to_seq=6, reason="first", actor="tests")
    ledger.rollback(to_seq=3, reason="second", actor="tests")
    record_all(db_url, fills(6, start=500))  # back past seq 8

    view = View()
    subscription = ledger.subscribe(after=kept)
    view.apply(subscription.poll())
    subscription.close()

    assert view.order == ["rollback", "4", "5", "6", "7", "8", "9"]
    assert (view.rollbacks[0].epoch, view.rollbacks[0].to_seq) == (3, 3)


# --- many writers ------------------------------------------------------------------------------------

# argv: url name count. Each fill is its own ledger.record call (its own write transaction).
WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta

from tradeledger import open_ledger

url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
with open_ledger(url) as ledger:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    for n in range(count):
        ledger.record({
            "fill_id": f"{name}-{n:05d}",
            "account": name,
            "exchange": "kraken",
            "symbol": ("BTC/USD", "ETH/USD")[n % 2],
            "side": "sell" if n % 3 == 2 else "buy",
            "quantity": "0.5" if n % 3 == 2 else "1",
            "price": str(100 + n % 7),
            "fee": "0.01",
            "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
        })
"""


@pytest.mark.slow
def test_a_subscriber_sees_each_event_once_while_four_writer_processes_append(ledger: Ledger, db_url: str) -> None:
    names, each = ("w1", "w2", "w3", "w4"), 100
    total = len(names) * each
    subscription = ledger.subscribe()
    view = View()
    view.apply(subscription.poll())  # nothing yet: the subscriber is live before the writers start
    assert view.delivered == []

    with in_background(lambda: run_together(WRITER, {name: [db_url, name, str(each)] for name in names})) as writing:
        collect(subscription, view, until_seq=total, background=writing)
    view.apply(subscription.poll())  # nothing after the last
    subscription.close()

    assert view.delivered == list(range(1, total + 1))
    assert view.rollbacks == []
    assert {fill_id(n) for n in view.events.values()} == {f"{w}-{i:05d}" for w in names for i in range(each)}
    assert view.chain() == log_chain(ledger)
    assert view.quantities() == replayed(ledger)


def test_a_named_subscriber_that_saves_after_each_iterated_notice_resumes_after_the_last_one_it_saved(
    ledger: Ledger,
) -> None:
    for one in fills(5):
        ledger.record(one)
    subscription = ledger.subscribe(name="per-event")
    first = next(iter(subscription))
    assert isinstance(first, EventNotice)
    subscription.save(entries={"per_event_seen": {f"{first.seq:08d}": first.hash}})
    subscription.close()  # the process ends here, as if killed, before it handles seq 2

    restarted = ledger.subscribe(name="per-event")
    resumed = View()
    resumed.apply(restarted.poll())
    restarted.close()

    assert resumed.delivered == [2, 3, 4, 5]


# --- asyncio -----------------------------------------------------------------------------------------


def test_the_async_variant_gets_the_log_then_live_events_while_the_event_loop_keeps_running(
    ledger: Ledger, db_url: str
) -> None:
    for one in fills(3):
        ledger.record(one)

    async def subscriber_and_writer() -> View:
        view = View()
        subscription = ledger.subscribe()

        async def write() -> None:
            # A task on the same loop: it runs only while the subscriber's waits leave the loop free.
            with open_ledger(db_url) as writer:
                for one in fills(5, start=3):
                    writer.record(one)
                    await asyncio.sleep(0)

        async def read() -> None:
            async for notice in subscription.notices():
                view.apply([notice])
                if view.last >= 8:
                    subscription.stop()  # the iteration ends after this batch

        writing = asyncio.create_task(write())
        try:
            await asyncio.wait_for(asyncio.gather(read(), writing), HANG_GUARD_S)
        finally:
            subscription.close()
        return view

    view = asyncio.run(subscriber_and_writer())

    assert view.delivered == list(range(1, 9))
    assert view.chain() == log_chain(ledger)
    assert view.quantities() == replayed(ledger)


def test_the_async_variant_ends_when_the_subscription_is_stopped(ledger: Ledger) -> None:
    ledger.record(fills(1)[0])

    async def until_stopped() -> list[Notice]:
        subscription = ledger.subscribe()
        got: list[Notice] = []

        async def read() -> None:
            async for notice in subscription.notices():
                got.append(notice)
                subscription.stop()  # ends the iteration once this batch is handed over

        await asyncio.wait_for(read(), HANG_GUARD_S)
        subscription.close()
        return got

    assert [n.seq for n in asyncio.run(until_stopped()) if isinstance(n, EventNotice)] == [1]


CLOSING_WHILE_WAITING = """
import sys, threading
from concurrent.futures import ThreadPoolExecutor
from tradeledger import open_ledger
from tradeledger.application.subscribing import EventNotice
from tradeledger.storage.sql.changes import PostgresChangeSignal, SqliteChangeSignal

url, closing = sys.argv[1:]
waiting = threading.Event()
for kind in (SqliteChangeSignal, PostgresChangeSignal):
    def wait(self, timeout, original=kind.wait):
        waiting.set()  # the subscriber found nothing new and waits on its signal now
        return original(self, timeout)
    kind.wait = wait
ledger = open_ledger(url)
ledger.record({"fill_id": "F-1", "exchange": "kraken", "symbol": "BTC/USD", "side": "buy", "quantity": "1",
               "price": "100", "occurred_at": "2026-01-05T12:00:00+00:00"})
subscription = ledger.subscribe()
with ThreadPoolExecutor(1) as pool:
    iterating = pool.submit(lambda: [n.seq if isinstance(n, EventNotice) else -1 for n in subscription])
    assert waiting.wait(60)
    subscription.close() if closing == "subscription" else ledger.close()
    print(iterating.result(60))
print(subscription.stopped(), subscription.poll(0.01))
ledger.close()
"""


@pytest.mark.parametrize("closing", ["subscription", "ledger"])
def test_a_subscriber_waiting_in_another_thread_ends_its_iteration_when_closed(db_url: str, closing: str) -> None:
    # In a process of its own: a close racing with the signal's own connection may crash the process.
    done = subprocess.run(
        [sys.executable, "-c", CLOSING_WHILE_WAITING, db_url, closing],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[1]\nTrue []\n", "")


# --- tradeledger watch --json ------------------------------------------------------------------------

TRADELEDGER = str(Path(sys.executable).parent / "tradeledger")
EVENT_KEYS = ["kind", "epoch", "seq", "hash", "type", "event"]
ROLLBACK_KEYS = ["kind", "epoch", "to_seq", "head_hash"]
NOT_IN_EVENT = {"seq", "epoch", "recorded_at", "prev_hash", "hash"}  # history's fields of the event's place


class Lines:
    """A process's stdout lines, read by a thread, so a test waits for each with a hang guard."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            with stdout:
                for line in stdout:
                    self._lines.put(line)
            self._lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def next(self) -> str:
        try:
            line = self._lines.get(timeout=HANG_GUARD_S)
        except queue.Empty:
            pytest.fail("hang guard: no line from the process")
        if line is None:
            pytest.fail("the process ended its output early")
        return line


def ended(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for a process whose stdout a `Lines` reads: its exit status and its stderr."""
    returncode = process.wait(timeout=HANG_GUARD_S)
    assert process.stderr is not None
    with process.stderr:
        return returncode, process.stderr.read()


def history_json(db_url: str) -> dict[int, dict[str, Any]]:
    done = subprocess.run(
        [TRADELEDGER, "--db", db_url, "history", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 0, done.stderr
    return {entry["seq"]: entry for entry in json.loads(done.stdout)}


def assert_event_line(line: dict[str, Any], entry: dict[str, Any]) -> None:
    """One event line of `watch --json` in the shape of spec section 12, for the event history shows."""
    assert list(line) == EVENT_KEYS
    assert line["kind"] == "event"
    assert (line["epoch"], line["seq"], line["hash"], line["type"]) == (
        entry["epoch"],
        entry["seq"],
        entry["hash"],
        entry["type"],
    )
    assert line["event"] == {key: value for key, value in entry.items() if key not in NOT_IN_EVENT}


@pytest.mark.slow
def test_watch_json_prints_each_event_then_a_rollback_line_then_the_new_events(ledger: Ledger, db_url: str) -> None:
    for one in fills(3):
        ledger.record(one)
    before = history_json(db_url)
    watcher = subprocess.Popen(
        [TRADELEDGER, "--db", db_url, "watch", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = Lines(watcher)
        first = [json.loads(lines.next()) for _ in range(3)]
        ledger.rollback(to_seq=1, reason="a bad fill", actor="tests")
        record_all(db_url, fills(3, start=600))
        rest = [json.loads(lines.next()) for _ in range(4)]
        watcher.send_signal(signal.SIGTERM)
    finally:
        if watcher.poll() is None:
            watcher.send_signal(signal.SIGTERM)
        returncode, err = ended(watcher)
    after = history_json(db_url)

    assert returncode == 0, err  # SIGTERM ends it cleanly
    for line, seq in zip(first, (1, 2, 3), strict=True):
        assert_event_line(line, before[seq])
    rollback, *new = rest
    assert list(rollback) == ROLLBACK_KEYS
    assert rollback["kind"] == "rollback"
    assert (rollback["epoch"], rollback["to_seq"]) == (2, 1)
    assert rollback["head_hash"] in {after[seq]["hash"] for seq in (1, 2, 3, 4)}  # the head when watch read it
    for line, seq in zip(new, (2, 3, 4), strict=True):
        assert_event_line(line, after[seq])
    assert [line["event"]["fill_id"] for line in new] == ["F-00600", "F-00601", "F-00602"]


# --- a named subscriber killed with SIGKILL ------------------------------------------------------

KILLS = 6
SEED = 20261205

# argv: url name stop_at (0: run until killed). Applies each batch poll() returns to its own keyed
# entries (an entry per seq, and a running count) and saves them with its position in one
# transaction, then prints "saved SEQ". A gap or a repeat in what it is handed exits non-zero.
NAMED_SUBSCRIBER = r"""
import sys

from tradeledger import open_ledger
from tradeledger.application.subscribing import EventNotice

url, name, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
SEEN, COUNT = f"{name}_seen", f"{name}_count"
with open_ledger(url) as ledger:
    with ledger._store.reading() as tx:
        applied = int(tx.projection.entries(COUNT, ["applied"]).get("applied", "0"))
    subscription = ledger.subscribe(name=name)
    print("ready", flush=True)
    while stop_at == 0 or subscription.position.seq < stop_at:
        before = subscription.position.seq
        notices = subscription.poll(timeout=1.0)
        seen = {}
        for offset, notice in enumerate(notices, start=1):
            if not isinstance(notice, EventNotice) or notice.seq != before + offset:
                sys.exit(f"after seq {before} the subscriber was handed {notice}")
            seen[f"{notice.seq:08d}"] = notice.hash
        if seen:
            applied += len(seen)
            subscription.save(entries={SEEN: seen, COUNT: {"applied": str(applied)}})
            print(f"saved {subscription.position.seq}", flush=True)
    subscription.close()
print("done", flush=True)
"""


def start_named_subscriber(db_url: str, name: str, stop_at: int) -> tuple[subprocess.Popen[str], Lines]:
    process = subprocess.Popen(
        [sys.executable, "-c", NAMED_SUBSCRIBER, db_url, name, str(stop_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = Lines(process)
    assert lines.next().strip() == "ready"
    return process, lines


@pytest.mark.slow
@pytest.mark.reliability
def test_a_named_subscriber_killed_mid_stream_resumes_with_no_gap_and_no_repeat(ledger: Ledger, db_url: str) -> None:
    rng = random.Random(SEED)
    for one in fills(40):
        ledger.record(one)
    recorded = 40
    for _ in range(KILLS):
        process, lines = start_named_subscriber(db_url, "killed", 0)
        try:
            # New events while it runs, each its own transaction, so it catches up in batches of any size;
            # it is killed at a random moment after it saved a random seq of this round.
            burst = rng.randint(5, 40)
            target = rng.randint(recorded - 10, recorded + burst)
            batch = fills(burst, start=recorded)
            with in_background(partial(record_all, db_url, batch)):
                while True:
                    line = lines.next()
                    assert line.startswith("saved "), line
                    if int(line.split()[1]) >= target:
                        break
                time.sleep(rng.uniform(0, 0.004))
                process.send_signal(signal.SIGKILL)
            recorded += burst
        finally:
            process.send_signal(signal.SIGKILL)
            returncode, err = ended(process)
        assert returncode == -signal.SIGKILL, err
    final, lines = start_named_subscriber(db_url, "killed", recorded)
    while (line := lines.next()).startswith("saved "):
        pass
    returncode, err = ended(final)
    assert returncode == 0, err
    assert line.strip() == "done"

    with ledger._store.reading() as tx:
        seen = tx.projection.entries("killed_seen")
        applied = tx.projection.entries("killed_count")["applied"]
    history = ledger.history()
    assert len(history) == recorded
    assert seen == {f"{event.seq:08d}": event.hash for event in history}  # no gap
    assert int(applied) == recorded  # no repeat: each event applied once across every restart
    stored = ledger.subscribe(name="killed")
    assert stored.position == ledger.head
    stored.close()


@pytest.mark.slow
def test_watch_json_from_a_seq_until_a_seq_prints_just_those_events_and_ends(ledger: Ledger, db_url: str) -> None:
    for one in fills(6):
        ledger.record(one)
    done = subprocess.run(
        [TRADELEDGER, "--db", db_url, "watch", "--json", "--from-seq", "2", "--until-seq", "4"],
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 0, done.stderr
    entries = history_json(db_url)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [3, 4]
    for line in lines:
        assert_event_line(line, entries[line["seq"]])
