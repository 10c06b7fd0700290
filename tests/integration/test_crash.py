"""A writer killed with SIGKILL at random moments loses nothing it acknowledged (spec section 2).

A worker process appends in a loop (single fills and batches of three) and prints an acknowledgement
line after each call returns. The test kills it with SIGKILL after a random number of
acknowledgements plus a random sub-millisecond to few-millisecond pause, so kills land before,
inside and after transactions. After every kill the ledger is reopened and must hold every
acknowledged fill at its acknowledged seq and hash, no part of a batch without the rest, a gapless
intact chain, and positions equal to a replay. The same ledger is appended to again by the next
worker, so later rounds also check that a kill leaves nothing that blocks the next writer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
import pytest

from tests.backends import Backend
from tests.figures import record_figures
from tradeledger import open_ledger
from tradeledger.compat import TradeManager, create_trade

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

KILLS = 20
SEED = 20261125
HANG_GUARD_S = 120  # a bound on a hung worker, never an assertion on speed

# argv: url round. Prints one JSON line per acknowledged call: [[fill_id, seq, hash], ...].
WRITER = r"""
import json
import sys
from datetime import UTC, datetime, timedelta

from tradeledger import open_ledger

url, round_ = sys.argv[1], int(sys.argv[2])
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD")


def fill(fill_id, n):
    selling = n % 3 == 2
    return {
        "fill_id": fill_id,
        "exchange": "kraken",
        "symbol": SYMBOLS[n % len(SYMBOLS)],
        "side": "sell" if selling else "buy",
        "quantity": "0.4" if selling else "1",
        "price": str(100 + n % 13),
        "fee": "0.01",
        "occurred_at": (T0 + timedelta(seconds=round_ * 100_000 + n)).isoformat(),
    }


with open_ledger(url) as ledger:
    print("ready", flush=True)
    n = 0
    while True:
        if n % 4 == 3:  # every fourth call: a batch of three, which lands whole or not at all
            fills = [fill(f"r{round_}-b{n}-{part}", n * 3 + part) for part in range(3)]
            receipts = ledger.record_many(fills)
        else:
            receipts = [ledger.record(fill(f"r{round_}-s{n}", n * 3))]
        print(json.dumps([[r.fill_id, r.seq, r.hash] for r in receipts]), flush=True)
        n += 1
"""


@dataclass
class Acknowledged:
    """What killed writers acknowledged (fill_id -> (seq, hash)), and the batches they started."""

    receipts: dict[str, tuple[int, str]] = field(default_factory=dict)
    kills: int = 0
    mid_run_acks: list[int] = field(default_factory=list)


def _lines(stream: object) -> Iterator[str]:
    assert hasattr(stream, "readline")
    while line := stream.readline():
        yield line


def kill_a_writer(url: str, round_: int, rng: random.Random, acknowledged: Acknowledged) -> None:
    """Start a writer, let it acknowledge a random number of calls, SIGKILL it at a random moment."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(round_)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    guard = threading.Timer(HANG_GUARD_S, writer.kill)
    guard.start()
    try:
        lines = _lines(writer.stdout)
        assert next(lines, "").strip() == "ready", writer.stderr.read() if writer.stderr else ""
        wait_for = rng.randint(1, 40)
        acks = 0
        for line in lines:
            for fill_id, seq, hash_ in json.loads(line):
                acknowledged.receipts[fill_id] = (seq, hash_)
            acks += 1
            if acks == wait_for:
                break
        time.sleep(rng.uniform(0, 0.004))  # a random moment: before, inside or after the next commit
        os.kill(writer.pid, signal.SIGKILL)
        # Everything the writer printed before it died was acknowledged to its caller.
        for line in lines:
            for fill_id, seq, hash_ in json.loads(line):
                acknowledged.receipts[fill_id] = (seq, hash_)
        writer.wait()
    finally:
        guard.cancel()
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        writer.stdout.close()
        if writer.stderr is not None:
            writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL, f"the writer ended on its own ({writer.returncode})"
    acknowledged.kills += 1
    acknowledged.mid_run_acks.append(acks)


def wait_until_the_killed_session_ended(url: str) -> None:
    """PostgreSQL: the killed writer's server session may still be running what it was sent (a unit of
    work's writes travel with their COMMIT, storage/sql/batching.py) and commit it after its client died,
    as any session that got its COMMIT does. Wait until the server ended it, so the checks read one
    settled log instead of a head that moves between two of their reads."""
    if not url.startswith("postgresql"):
        return
    database = url.rsplit("/", 1)[1]
    deadline = time.monotonic() + HANG_GUARD_S
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as connection:
        while True:
            (others,) = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
            ).fetchone() or (0,)
            if others == 0:
                return
            assert time.monotonic() < deadline, f"the killed writer's session is still open after {HANG_GUARD_S} s"
            time.sleep(0.01)


def assert_nothing_acknowledged_was_lost(url: str, acknowledged: Acknowledged) -> None:
    wait_until_the_killed_session_ended(url)
    with open_ledger(url) as ledger:
        history = ledger.history()
        report = ledger.verify()
        state, replayed, head = ledger.state(), ledger.replay(), ledger.head
    logged = {recorded.fill.event_id: (recorded.seq, recorded.hash) for recorded in history}
    lost = {fill_id: at for fill_id, at in acknowledged.receipts.items() if logged.get(fill_id) != at}
    assert lost == {}
    assert [recorded.seq for recorded in history] == list(range(1, len(history) + 1))
    assert head.seq == len(history)
    # A batch is three fills: none of it, or all of it.
    batches = Counter(fill_id.rsplit("-", 1)[0] for fill_id in logged if "-b" in fill_id)
    assert {name: parts for name, parts in batches.items() if parts != 3} == {}
    assert report.ok, report.problems
    assert state == replayed


def test_a_writer_killed_at_random_moments_loses_no_acknowledged_fill_and_leaves_no_partial_event(
    backend: Backend,
) -> None:
    rng = random.Random(f"{SEED}-{backend.name}")
    with open_ledger(backend.url):
        pass
    acknowledged = Acknowledged()

    for round_ in range(KILLS):
        kill_a_writer(backend.url, round_, rng, acknowledged)
        assert_nothing_acknowledged_was_lost(backend.url, acknowledged)

    assert acknowledged.kills == KILLS
    assert len(acknowledged.receipts) >= KILLS
    with open_ledger(backend.url) as ledger:
        logged = ledger.head.seq
    summary = {
        "backend": backend.name,
        "kills": acknowledged.kills,
        "acknowledged_fills": len(acknowledged.receipts),
        "fills_in_log": logged,
        "committed_but_unacknowledged": logged - len(acknowledged.receipts),
    }
    record_figures("crash", **summary)


# --- risk levels: a ratchet update_price returned survives a SIGKILL; a stale writer never loosens it ---

# The bot's config as its JSON file gives it (numbers are floats there; the ledger reads them as decimals).
EXIT_1PCT_TRAIL = {"exit_strategy": {"trailing_stop_pct": 0.01, "stop_loss_pct": 0.02, "take_profit_pct": 0.5}}

# argv: url. Buys 1 BTC at 100, marks 120 (trailing 1 %: stop 118.80), prints the stop, waits to be killed.
RATCHETER = r"""
import sys

from tradeledger import open_ledger
from tradeledger.compat import TradeManager, create_trade

config = {"exit_strategy": {"trailing_stop_pct": 0.01, "stop_loss_pct": 0.02, "take_profit_pct": 0.5}}
manager = TradeManager(open_ledger(sys.argv[1]), config=config)
manager.record_trade(create_trade("BTC/USD", "buy", 1, 100))
manager.update_price("BTC/USD", 120)
print(manager.get_position("BTC/USD").stop_loss_price, flush=True)
sys.stdin.readline()  # no further tick, no close: the parent kills us here
"""

# argv: url. Opens a TradeManager, says "ready", and on "go" marks 101 (its own ratchet: stop 99.99),
# prints the stop it then holds and closes.
STALE_TICKER = r"""
import sys

from tradeledger import open_ledger
from tradeledger.compat import TradeManager

config = {"exit_strategy": {"trailing_stop_pct": 0.01, "stop_loss_pct": 0.02, "take_profit_pct": 0.5}}
manager = TradeManager(open_ledger(sys.argv[1]), config=config)
print(manager.get_position("BTC/USD").stop_loss_price, flush=True)
sys.stdin.readline()
manager.update_price("BTC/USD", 101)
print(manager.get_position("BTC/USD").stop_loss_price, flush=True)
manager.close()
"""


def _stored_stop(url: str) -> Decimal | None:
    with open_ledger(url) as ledger:
        return ledger.marks().levels[("default", "BTC/USD")].stop_loss_price


@contextmanager
def python_child(script: str, url: str) -> Iterator[subprocess.Popen[str]]:
    """`script` in a child interpreter on `url`, with pipes; killed and closed however the test ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def test_a_ratcheted_stop_survives_a_sigkill_right_after_update_price_returned(backend: Backend) -> None:
    with python_child(RATCHETER, backend.url) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        returned = child.stdout.readline()  # update_price has returned with this stop
        assert returned.strip() == "118.80", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=HANG_GUARD_S)
    assert child.returncode == -signal.SIGKILL

    with open_ledger(backend.url) as ledger:
        restarted = TradeManager(ledger, config=EXIT_1PCT_TRAIL)
        position = restarted.get_position("BTC/USD")

    assert position is not None
    assert (position.stop_loss_price, position.highest_price) == (Decimal("118.8"), Decimal(120))


def test_a_stale_trade_manager_in_another_process_leaves_the_tighter_stop_stored(backend: Backend) -> None:
    with open_ledger(backend.url) as ledger:
        TradeManager(ledger, config=EXIT_1PCT_TRAIL).record_trade(create_trade("BTC/USD", "buy", 1, 100))
    with python_child(STALE_TICKER, backend.url) as stale:
        assert stale.stdout is not None
        assert stale.stdin is not None
        assert Decimal(stale.stdout.readline()) == Decimal(98)  # opened before the ratchet: 100 x 0.98
        with open_ledger(backend.url) as ledger:
            ahead = TradeManager(ledger, config=EXIT_1PCT_TRAIL)
            ahead.update_price("BTC/USD", 120)
            ahead.close()
        assert _stored_stop(backend.url) == Decimal("118.8")
        stale.stdin.write("go\n")
        stale.stdin.flush()
        out, err = stale.communicate(timeout=HANG_GUARD_S)
    assert stale.returncode == 0, err

    assert [Decimal(stop) for stop in out.split()] == [
        Decimal("118.8")
    ]  # the stale process adopted the stored stop instead of its 99.99
    assert _stored_stop(backend.url) == Decimal("118.8")
