"""OS processes appending to one ledger at the same time, on SQLite and PostgreSQL (spec section 2).

Each worker is a fresh interpreter (`sys.executable -c WORKER`). All open the ledger, report
"ready" on stdout and then block on stdin; the test releases them together by writing "go" to
each, so their appends overlap. Every fill is its own `ledger.record(...)` call, i.e. its own
write transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend
from tests.factories import fill_fields
from tests.figures import record_figures
from tests.processes import run_together as start_together
from tradeledger import StorageError, open_ledger

RECORDED_AT = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)  # after every fill (a fill 5 minutes past the clock is refused)

pytestmark = [pytest.mark.slow, pytest.mark.reliability]
HANG_GUARD_S = 30  # how long a test waits for an append stuck behind a lock before it says so

# argv: url synchronous name own_count shared_count resend_every (0: no own fill is sent twice)
WORKER = r"""
import json
import sys
from datetime import UTC, datetime, timedelta

from tradeledger import open_ledger

url, synchronous, name = sys.argv[1], sys.argv[2], sys.argv[3]
own_count, shared_count, resend_every = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD")


def fill(fill_id, n):
    selling = n % 4 == 3
    return {
        "fill_id": fill_id,
        "exchange": "kraken",
        "symbol": SYMBOLS[n % len(SYMBOLS)],
        "side": "sell" if selling else "buy",
        "quantity": "0.5" if selling else "1",
        "price": str(100 + n % 17),
        "fee": "0.01",
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
    }


own = [fill(f"{name}-{i:05d}", 100_000 + i) for i in range(own_count)]
shared = [fill(f"S-{i:05d}", i) for i in range(shared_count)]
fills = []
for i in range(max(own_count, shared_count)):
    if i < shared_count:
        fills.append(shared[i])
    if i < own_count:
        fills.append(own[i])
    if resend_every and i % resend_every == resend_every - 1:
        fills.append(own[i - resend_every // 2])  # a retry after a lost acknowledgement

sent_twice = set()

receipts = {}
with open_ledger(url, synchronous=synchronous) as ledger:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    for one in fills:
        receipt = ledger.record(one)
        if receipt.fill_id in receipts:
            first = receipts[receipt.fill_id]
            if [receipt.seq, receipt.hash] != first[:2] or not receipt.duplicate:
                sys.exit(f"a re-sent fill got another receipt: {receipt} after {first}")
            sent_twice.add(receipt.fill_id)
            continue
        receipts[receipt.fill_id] = [receipt.seq, receipt.hash, receipt.duplicate]
print(json.dumps({"receipts": receipts, "sent_twice": sorted(sent_twice)}), flush=True)
"""


@dataclass(frozen=True)
class Receipt:
    seq: int
    hash: str
    duplicate: bool


@dataclass(frozen=True)
class WorkerResult:
    receipts: dict[str, Receipt]  # the first receipt of each fill_id the worker sent
    sent_twice: set[str]  # fill_ids it sent again, each answered with the same receipt (checked in the worker)


def run_together(
    url: str, *, synchronous: str, own: int, shared: int, names: tuple[str, ...] = ("A", "B"), resend_every: int = 0
) -> dict[str, WorkerResult]:
    """Start one worker per name, release them at once, return each one's receipts by fill_id."""
    argv = {name: [url, synchronous, name, str(own), str(shared), str(resend_every)] for name in names}
    outputs = start_together(WORKER, argv)
    results: dict[str, WorkerResult] = {}
    for name, out in outputs.items():
        raw: dict[str, Any] = json.loads(out)
        receipts = {fill_id: Receipt(*values) for fill_id, values in raw["receipts"].items()}
        results[name] = WorkerResult(receipts, set(raw["sent_twice"]))
    return results


def stored_events(url: str) -> list[tuple[int, str, str]]:
    """(seq, fill_id, hash) of every stored event, read with plain SQL around tradeledger, in seq order."""
    backend = Backend("postgresql" if url.startswith("postgresql") else "sqlite", url)
    try:
        return backend.sql("SELECT seq, fill_id, hash FROM ledger_events ORDER BY seq")
    finally:
        backend.close()


def own_ids(name: str, count: int) -> set[str]:
    return {f"{name}-{i:05d}" for i in range(count)}


def shared_ids(count: int) -> set[str]:
    return {f"S-{i:05d}" for i in range(count)}


def assert_log_is_whole(url: str, expected_fill_ids: set[str]) -> None:
    """Exactly the expected fills at seq 1..n with no gap, an intact chain, a projection at the head."""
    rows = stored_events(url)
    assert [seq for seq, _, _ in rows] == list(range(1, len(expected_fill_ids) + 1))
    counts = Counter(fill_id for _, fill_id, _ in rows)
    assert set(counts) == expected_fill_ids
    assert [fill_id for fill_id, n in counts.items() if n != 1] == []
    with open_ledger(url) as ledger:
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.events == len(expected_fill_ids)
        assert ledger.head.seq == len(expected_fill_ids)
        state = ledger.state()
        assert state.seq == len(expected_fill_ids)
        assert state.open, "the fills leave open positions, so the comparison with a replay means something"


def assert_projection_equals_replay(url: str) -> None:
    # Checked last in each test, so a failure here cannot hide the checks on the log itself.
    with open_ledger(url) as ledger:
        assert ledger.state() == ledger.replay()


def assert_receipts_match_the_log(url: str, receipts: dict[str, Receipt]) -> None:
    where = {fill_id: (seq, hash_) for seq, fill_id, hash_ in stored_events(url)}
    wrong = {fill_id: r for fill_id, r in receipts.items() if where.get(fill_id) != (r.seq, r.hash)}
    assert wrong == {}


def assert_positions_equal_a_single_process_replay(url: str, folder: Path) -> None:
    """Recording the log's fills again, in its order, by one process on a fresh file gives the same positions."""
    with open_ledger(url) as ledger:
        fills = [recorded.fill for recorded in ledger.history()]
        state = ledger.state()
    with open_ledger(f"sqlite:///{folder / 'single-process.db'}", clock=lambda: RECORDED_AT) as alone:
        receipts = alone.record_many(fills)
        replayed = alone.state()
    assert [r.seq for r in receipts] == list(range(1, len(fills) + 1))
    assert (replayed.open, replayed.closed, replayed.totals) == (state.open, state.closed, state.totals)


def test_four_processes_with_repeated_fills_record_exactly_the_distinct_fills_at_seq_1_to_n(
    db_url: str, tmp_path: Path
) -> None:
    # 4 workers x 500 own fills, plus 100 fills every worker sends, plus every 10th own fill sent
    # again: 2,000 + 100 distinct fills from 2,600 appends. synchronous="normal" (WAL) for speed on
    # SQLite: 2,600 fsyncs under FULL would dominate the run; the durable default is the next test.
    names = ("A", "B", "C", "D")
    with open_ledger(db_url):
        pass  # the schema exists before the race; a racing first open is tested in test_schema
    results = run_together(db_url, synchronous="normal", own=500, shared=100, names=names, resend_every=10)

    expected = shared_ids(100).union(*(own_ids(name, 500) for name in names))
    assert len(expected) == 2100
    assert_log_is_whole(db_url, expected)
    for name in names:
        receipts = results[name].receipts
        assert len(receipts) == 600
        assert len(results[name].sent_twice) == 50
        assert not any(receipts[fill_id].duplicate for fill_id in own_ids(name, 500))
        assert_receipts_match_the_log(db_url, receipts)
    for fill_id in shared_ids(100):
        # Every sender gets the one original event; exactly one of them appended it.
        answers = {(results[name].receipts[fill_id].seq, results[name].receipts[fill_id].hash) for name in names}
        assert len(answers) == 1, fill_id
        assert sorted(results[name].receipts[fill_id].duplicate for name in names) == [False, True, True, True]
    assert_projection_equals_replay(db_url)
    assert_positions_equal_a_single_process_replay(db_url, tmp_path)
    record_figures("concurrency", backend=db_url.split(":", 1)[0], workers=4, appends=2600, distinct=len(expected))


def test_two_durable_processes_appending_at_once_get_a_gapless_log_with_every_fill_once(
    db_url: str,
) -> None:
    # The default synchronous=FULL: one fsync per commit, so fewer fills.
    with open_ledger(db_url):
        pass
    results = run_together(db_url, synchronous="full", own=200, shared=0)

    assert_log_is_whole(db_url, own_ids("A", 200) | own_ids("B", 200))
    for name in ("A", "B"):
        assert not any(r.duplicate for r in results[name].receipts.values())
        assert_receipts_match_the_log(db_url, results[name].receipts)
    assert_projection_equals_replay(db_url)


@contextmanager
def write_lock_held(backend: Backend) -> Iterator[None]:
    """What a writer stopped in the middle of an append holds (SIGSTOP, a paused VM, a network cut with no reset):
    SQLite's write lock (BEGIN IMMEDIATE), PostgreSQL's lock on the head row (SELECT … FOR UPDATE)."""
    if backend.path is not None:
        holder = sqlite3.connect(backend.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with backend.engine.connect() as connection:
        connection.exec_driver_sql("BEGIN")
        connection.exec_driver_sql("SELECT * FROM ledger_head FOR UPDATE")
        try:
            yield
        finally:
            connection.exec_driver_sql("ROLLBACK")


def test_an_append_behind_a_writer_stopped_holding_the_write_lock_is_refused_after_the_busy_timeout(
    backend: Backend,
) -> None:
    # A fleet's writer frozen in the middle of an append holds the ledger's write lock until its connection ends (on
    # PostgreSQL: hours, when a network cut leaves no reset). Every other writer waits for it up to the busy timeout,
    # then its call is refused naming the lock and nothing of it is written, on SQLite and on PostgreSQL alike:
    # never a bot hung on an append without an error.
    with open_ledger(backend.url, clock=lambda: RECORDED_AT, busy_timeout_s=1) as ledger:
        ledger.record(fill_fields(fill_id="before"))
        outcome: list[BaseException | int] = []

        def append() -> None:
            try:
                outcome.append(ledger.record(fill_fields(fill_id="behind")).seq)
            except StorageError as error:
                outcome.append(error)

        with write_lock_held(backend):
            waiting = threading.Thread(target=append)
            waiting.start()
            waiting.join(HANG_GUARD_S)  # a bound on the hang, never an assertion on speed
            still_waiting = waiting.is_alive()
        waiting.join()

        assert not still_waiting, f"the append still waited for the lock after {HANG_GUARD_S} s"
        (refused,) = outcome
        assert isinstance(refused, StorageError)
        assert "lock" in str(refused)
        assert "TRADELEDGER_BUSY_TIMEOUT_S" in str(refused)
        assert ledger.head.seq == 1
        assert ledger.record(fill_fields(fill_id="behind")).seq == 2  # the lock released, the next append lands
