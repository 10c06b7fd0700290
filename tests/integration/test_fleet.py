"""A fleet on one ledger (issue 18, spec section 12): writer processes and subscriber processes at once.

Six writer processes append their own fills (every tenth call re-sends an earlier fill, which must
come back as a duplicate with the first receipt) while two subscriber processes, each a named
subscription, keep their own read model in the ledger's keyed tables: a signed quantity per
(account, symbol) and a count of the events they applied, saved with their position in one
transaction per batch. All are released at once (tests/processes.py). At the end each read model
equals a replay of the log and each subscriber was handed seq 1..N exactly once.

On PostgreSQL: 6 writers x 500 fills, as the issue asks. On SQLite (one writer at a time by design)
a smaller run, 6 x 30, keeps the suite's time reasonable.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.backends import Backend
from tests.processes import run_together
from tradeledger import Fill, RecordedFill, open_ledger

pytestmark = [pytest.mark.slow]

WRITERS = ("w1", "w2", "w3", "w4", "w5", "w6")
SUBSCRIBERS = ("dashboard", "risk")
FILLS_PER_WRITER = {"postgresql": 500, "sqlite": 30}
RESEND_EVERY = 10

# argv: url name count. Prints {"sent_twice": n} after checking each re-sent fill's receipt.
WRITER = r"""
import json
import sys
from datetime import UTC, datetime, timedelta

from tradeledger import Fill, RecordedFill, open_ledger

url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
resend_every = int(sys.argv[4])
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def fill(n):
    selling = n % 3 == 2
    return {
        "fill_id": f"{name}-{n:05d}",
        "account": ("alpha", "beta")[n % 2],
        "exchange": "kraken",
        "symbol": ("BTC/USD", "ETH/USD", "SOL/USD")[n % 3],
        "side": "sell" if selling else "buy",
        "quantity": "0.25" if selling else "1",
        "price": str(100 + n % 7),
        "fee": "0.01",
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
    }


receipts = {}
sent_twice = 0
with open_ledger(url) as ledger:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    for n in range(count):
        receipt = ledger.record(fill(n))
        receipts[n] = receipt
        if n % resend_every == resend_every - 1:
            again_n = n - resend_every // 2
            again = ledger.record(fill(again_n))  # a retry after a lost acknowledgement
            first = receipts[again_n]
            if not again.duplicate or (again.seq, again.hash) != (first.seq, first.hash):
                sys.exit(f"a re-sent fill got another receipt: {again} after {first}")
            sent_twice += 1
print(json.dumps({"sent_twice": sent_twice}), flush=True)
"""

# argv: url name total. Applies each batch to its own keyed tables and saves them with its position.
SUBSCRIBER = r"""
import json
import sys
from decimal import Decimal

from tradeledger import Fill, RecordedFill, open_ledger
from tradeledger.application.subscribing import EventNotice

url, name, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
POSITIONS, COUNT = f"{name}_positions", f"{name}_count"
with open_ledger(url) as ledger:
    with ledger._store.reading() as tx:
        quantities = {key: Decimal(text) for key, text in tx.projection.entries(POSITIONS).items()}
        applied = int(tx.projection.entries(COUNT, ["applied"]).get("applied", "0"))
    subscription = ledger.subscribe(name=name)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    seqs = []
    while subscription.position.seq < total:
        changed = {}
        for notice in subscription.poll(timeout=1.0):
            if not isinstance(notice, EventNotice):
                sys.exit(f"{name}: a notice no writer caused: {notice}")
            seqs.append(notice.seq)
            fill = notice.event.event
            key = f"{fill.account}|{fill.symbol}"
            sign = 1 if fill.side == "buy" else -1
            quantities[key] = quantities.get(key, Decimal(0)) + sign * fill.quantity
            changed[key] = str(quantities[key])
            applied += 1
        if changed:
            subscription.save(entries={POSITIONS: changed, COUNT: {"applied": str(applied)}})
    subscription.close()
print(json.dumps({"seqs": seqs}), flush=True)
"""

# argv: role (writer or subscriber), then that script's own.
FLEET = f"import sys\nexec({{'writer': {WRITER!r}, 'subscriber': {SUBSCRIBER!r}}}[sys.argv.pop(1)])\n"


def fill_ids(history: list[RecordedFill]) -> set[str]:
    return {event.event.fill_id for event in history if isinstance(event.event, Fill)}


def test_a_fleet_of_writers_and_subscriber_processes_ends_with_each_read_model_equal_to_a_replay(
    backend: Backend,
) -> None:
    url, each = backend.url, FILLS_PER_WRITER[backend.name]
    total = len(WRITERS) * each
    with open_ledger(url) as ledger:
        assert ledger.head.seq == 0  # the schema exists before anyone starts

    argv = {name: ["writer", url, name, str(each), str(RESEND_EVERY)] for name in WRITERS}
    argv.update({name: ["subscriber", url, name, str(total)] for name in SUBSCRIBERS})
    outputs = {name: json.loads(out) for name, out in run_together(FLEET, argv).items()}

    for name in WRITERS:
        assert outputs[name]["sent_twice"] == each // RESEND_EVERY
    with open_ledger(url) as ledger:
        history = ledger.history()
        report = ledger.verify()
        assert report.ok, report.problems
        assert [event.seq for event in history] == list(range(1, total + 1))
        assert fill_ids(history) == {f"{w}-{n:05d}" for w in WRITERS for n in range(each)}
        replay = {f"{p.account}|{p.symbol}": p.signed_quantity for p in ledger.replay().open}
        projected = {f"{p.account}|{p.symbol}": p.signed_quantity for p in ledger.state().open}
        assert projected == replay
        with ledger._store.reading() as tx:
            tables = {
                name: (tx.projection.entries(f"{name}_positions"), tx.projection.entries(f"{name}_count"))
                for name in SUBSCRIBERS
            }
        for name in SUBSCRIBERS:
            positions, count = tables[name]
            stored = ledger.subscribe(name=name)
            assert stored.position == ledger.head
            stored.close()
            assert outputs[name]["seqs"] == list(range(1, total + 1)), f"{name} saw a gap or a repeat"
            assert count == {"applied": str(total)}
            held = {key: Decimal(text) for key, text in positions.items() if Decimal(text) != 0}
            assert held == replay, name
