"""Two OS processes appending to one SQLite ledger at the same time (spec section 2, the log).

Each worker is a fresh interpreter (`sys.executable -c WORKER`). Both open the ledger, report
"ready" on stdout and then block on stdin; the test releases them together by writing "go" to
both, so their appends overlap. Every fill is its own `ledger.record(...)` call, i.e. its own
write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from tests.processes import run_together as start_together
from tradeledger import open_ledger

pytestmark = pytest.mark.slow

# argv: url synchronous name own_count shared_count
WORKER = r"""
import json
import sys
from datetime import UTC, datetime, timedelta

from tradeledger import open_ledger

url, synchronous, name = sys.argv[1], sys.argv[2], sys.argv[3]
own_count, shared_count = int(sys.argv[4]), int(sys.argv[5])
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

receipts = {}
with open_ledger(url, synchronous=synchronous) as ledger:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    for one in fills:
        receipt = ledger.record(one)
        receipts[receipt.fill_id] = [receipt.seq, receipt.hash, receipt.duplicate]
print(json.dumps(receipts), flush=True)
"""


@dataclass(frozen=True)
class Receipt:
    seq: int
    hash: str
    duplicate: bool


def run_together(url: str, *, synchronous: str, own: int, shared: int) -> dict[str, dict[str, Receipt]]:
    """Start workers "A" and "B", release them at once, return each one's receipts by fill_id."""
    outputs = start_together(WORKER, {name: [url, synchronous, name, str(own), str(shared)] for name in ("A", "B")})
    results: dict[str, dict[str, Receipt]] = {}
    for name, out in outputs.items():
        raw: dict[str, list[Any]] = json.loads(out)
        results[name] = {fill_id: Receipt(*values) for fill_id, values in raw.items()}
    return results


def stored_events(url: str) -> list[tuple[int, str, str]]:
    """(seq, fill_id, hash) of every stored event, read with sqlite3 directly, in seq order."""
    path = sa.make_url(url).database
    assert path is not None
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT seq, fill_id, hash FROM ledger_events ORDER BY seq").fetchall()


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


def test_two_processes_appending_at_once_get_a_gapless_log_with_every_fill_once(
    db_url: str,
) -> None:
    # synchronous="normal" (WAL) for speed: 2,000 fsyncs under FULL would dominate the run. The
    # durable default is covered by the next test with fewer fills.
    with open_ledger(db_url):
        pass  # the schema exists before the race; a racing first open is tested in test_schema
    receipts = run_together(db_url, synchronous="normal", own=1000, shared=0)

    assert_log_is_whole(db_url, own_ids("A", 1000) | own_ids("B", 1000))
    for name in ("A", "B"):
        assert len(receipts[name]) == 1000
        assert not any(r.duplicate for r in receipts[name].values())
        assert_receipts_match_the_log(db_url, receipts[name])
    assert_projection_equals_replay(db_url)


def test_two_durable_processes_appending_at_once_get_a_gapless_log_with_every_fill_once(
    db_url: str,
) -> None:
    # The default synchronous=FULL: one fsync per commit, so fewer fills.
    with open_ledger(db_url):
        pass
    receipts = run_together(db_url, synchronous="full", own=200, shared=0)

    assert_log_is_whole(db_url, own_ids("A", 200) | own_ids("B", 200))
    for name in ("A", "B"):
        assert not any(r.duplicate for r in receipts[name].values())
        assert_receipts_match_the_log(db_url, receipts[name])
    assert_projection_equals_replay(db_url)


def test_two_processes_sending_the_same_fills_at_once_record_each_distinct_fill_once(
    db_url: str,
) -> None:
    # synchronous="normal" for speed, as above.
    with open_ledger(db_url):
        pass
    receipts = run_together(db_url, synchronous="normal", own=300, shared=200)

    assert_log_is_whole(db_url, shared_ids(200) | own_ids("A", 300) | own_ids("B", 300))
    a, b = receipts["A"], receipts["B"]
    for fill_id in shared_ids(200):
        # Both senders get the one original event; exactly one of them appended it.
        assert (a[fill_id].seq, a[fill_id].hash) == (b[fill_id].seq, b[fill_id].hash), fill_id
        assert sorted([a[fill_id].duplicate, b[fill_id].duplicate]) == [False, True], fill_id
    for name, ids in (("A", own_ids("A", 300)), ("B", own_ids("B", 300))):
        assert not any(receipts[name][fill_id].duplicate for fill_id in ids)
        assert_receipts_match_the_log(db_url, receipts[name])
    assert_projection_equals_replay(db_url)
