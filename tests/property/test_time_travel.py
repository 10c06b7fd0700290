"""Time travel over a log with rollbacks (spec sections 4, 6 and 9): after any history of mixed batches (fills
of spot and contract symbols with flips, base, quote and other-currency fees, funding, transfers; events
occurring out of order and at equal times), audited rollbacks by seq or by recorded time (dry runs too), and
removed events appended again, and rebuilds, with a snapshot every few events:

- the state as of every seq, with and without the closed cycles (the latter from a snapshot), is the reference
  fold of the log's prefix, with that event's checkpoint;
- the state until a time is the reference fold of the events that occurred by then, in log order, at the last
  one included (refused, InvalidArgument, when that subset of the log does not fold: an event reported late);
- the paper wallet as of a seq or a time is the wallet fold of that account's events up to there (so refused);
- after each rollback the stored projection and the balances are those of the kept events, the dry run foretold
  the state the rollback left, and verify is ok."""

from __future__ import annotations

import contextlib
import random
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.backends import PostgresServer
from tests.property.test_kept_fold_interleavings import event
from tradeledger import FillConflict, InvalidArgument, InvalidFill, Ledger, LedgerState, open_ledger
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import time_text
from tradeledger.domain.records import Checkpoint, StoredEvent
from tradeledger.domain.reference import ReferenceFold, reference_balances
from tradeledger.domain.wallet import replay_wallet

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OCCURRED = [T0 + timedelta(minutes=m) for m in range(4)]  # few times: equal ones, and out of log order
START = Decimal(1_000_000)

OPS = st.lists(
    st.tuples(
        st.sampled_from(["append", "append", "append", "again", "rollback", "rollback time", "dry run", "rebuild"]),
        st.integers(0, 2**32),
    ),
    min_size=1,
    max_size=10,
)


class Clock:
    """The recorded time: moves on by 0 or 1 s per operation, so several batches share a recorded time."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now


def _events(ledger: Ledger) -> list[StoredEvent]:
    with ledger._store.reading() as tx:
        return list(tx.log.read())


def _expected(events: list[StoredEvent], at: Checkpoint, *, closed: bool = True) -> LedgerState:
    state = LedgerState.from_book(ReferenceFold().apply_all(e.accounting() for e in events), at)
    return state if closed else LedgerState(state.seq, state.epoch, state.hash, state.open, (), state.symbol_totals)


def _check_time_travel(ledger: Ledger, step: object) -> None:
    events = _events(ledger)
    head = ledger.head
    checkpoints = [Checkpoint(head.epoch, 0, GENESIS_HASH), *(e.checkpoint for e in events)]
    for k in range(len(events) + 1):
        assert ledger.replay(until_seq=k) == _expected(events[:k], checkpoints[k]), (step, k)
        assert ledger.replay(until_seq=k, closed=False) == _expected(events[:k], checkpoints[k], closed=False), (
            step,
            k,
        )
        for account in ("default", "b"):
            _, wallet = replay_wallet((e.accounting() for e in events[:k] if e.account == account), START)
            assert ledger.replay_wallet(START, account=account, until_seq=k) == wallet, (step, k, account)
    for when in [T0 - timedelta(seconds=1), *OCCURRED, *(t + timedelta(seconds=30) for t in OCCURRED)]:
        kept = [e for e in events if e.occurred_at <= time_text(when)]
        at = kept[-1].checkpoint if kept else checkpoints[0]
        try:
            expected = _expected(kept, at)
        except InvalidFill:  # a subset of the log that does not fold in log order (an event reported late)
            with pytest.raises(InvalidArgument, match="do not fold in log order"):
                ledger.replay(until_time=when)
        else:
            assert ledger.replay(until_time=when) == expected, (step, when)
        for account in ("default", "b"):
            try:
                _, wallet = replay_wallet((e.accounting() for e in kept if e.account == account), START)
            except InvalidFill:
                with pytest.raises(InvalidArgument, match="do not fold in log order"):
                    ledger.replay_wallet(START, account=account, until_time=when)
            else:
                assert ledger.replay_wallet(START, account=account, until_time=when) == wallet, (step, when, account)
    # The stored projection's checkpoint is the head, in the log's epoch (a replay's, its last event's).
    assert ledger.state() == _expected(events, Checkpoint(head.epoch, head.seq, head.hash)), step
    held = ledger.balances().balances  # a currency once held and now 0 keeps its row
    assert {(b.account, b.exchange, b.currency): b.amount for b in held if b.amount != 0} == {
        key: amount for key, amount in reference_balances(e.accounting() for e in events).items() if amount != 0
    }, step


def _rollback(ledger: Ledger, op: str, draw: random.Random) -> list[StoredEvent]:
    """A rollback (by seq or by a recorded time; a dry run first, held to what the rollback then does); the
    removed events."""
    events, head = _events(ledger), ledger.head
    if op == "rollback time":
        when = draw.choice([e.recorded_at for e in events])
        when_time = datetime.fromisoformat(when) + draw.choice([timedelta(0), timedelta(milliseconds=500)])
        target = max(e.seq for e in events if e.recorded_at <= time_text(when_time))
        if target == len(events):
            return []
        by: dict[str, Any] = {"to_time": when_time}
    else:
        target = draw.randrange(len(events))
        by = {"to_seq": target}
    dry = ledger.rollback(reason="test", actor="test", dry_run=True, **by)
    assert [fill.seq for fill in dry.removed] == [e.seq for e in events[target:]]
    if op == "dry run":
        assert ledger.head == head  # nothing changed
        return []
    report = ledger.rollback(reason="test", actor="test", **by)
    assert report.head_after == dry.head_after
    assert report.state == dry.state
    assert ledger.head == Checkpoint(head.epoch + 1, target, events[target - 1].hash if target else GENESIS_HASH)
    verified = ledger.verify()
    assert verified.ok, verified.problems
    return events[target:]


def _played(ledger: Ledger, clock: Clock, ops: list[tuple[str, int]]) -> None:
    removed: list[StoredEvent] = []
    for step, (op, seed) in enumerate(ops):
        draw = random.Random(seed)
        clock.now += timedelta(seconds=draw.choice([0, 1]))
        if op == "rebuild":  # leaves the projection as it was: what the check below holds it to
            ledger.rebuild()
            _check_time_travel(ledger, (step, op))
            continue
        if op.startswith(("rollback", "dry")):
            if ledger.head.seq:
                removed += _rollback(ledger, op, draw)
                _check_time_travel(ledger, (step, op))
            continue
        if op == "again" and removed:  # a removed event appended again, as it was
            batch = [draw.choice(removed).event().model_dump(mode="json")]
        else:
            batch = [
                {**event(draw, f"{step}-{n}"), "occurred_at": draw.choice(OCCURRED).isoformat()}
                for n in range(draw.randint(1, 6))
            ]
        with contextlib.suppress(InvalidFill, FillConflict):  # refused whole: nothing written
            ledger.record_many(batch)
    _check_time_travel(ledger, "end")


@settings(max_examples=40, deadline=None)
@given(ops=OPS, every=st.sampled_from([1, 2, 3, 5]))
def test_the_state_as_of_every_seq_and_time_is_the_reference_fold_of_the_log_through_rollbacks(
    ops: list[tuple[str, int]], every: int
) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'ledger.db'}"
        with open_ledger(url, clock=clock, snapshot_every=every, synchronous="off") as ledger:
            _played(ledger, clock, ops)


@settings(max_examples=8, deadline=None)
@given(ops=OPS, every=st.sampled_from([1, 2, 3]))
def test_on_postgresql_the_state_as_of_every_seq_and_time_is_the_reference_fold_of_the_log_through_rollbacks(
    postgres_server: PostgresServer, ops: list[tuple[str, int]], every: int
) -> None:
    clock = Clock()
    with (
        postgres_server.fresh_database() as backend,
        open_ledger(backend.url, clock=clock, snapshot_every=every) as ledger,
    ):
        _played(ledger, clock, ops)
