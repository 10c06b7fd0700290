"""Snapshots of the projection: a replay cache for the state as of any seq, checked by verify."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.backends import Backend
from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import Ledger, open_ledger
from tradeledger.domain.records import LedgerState

EVERY = 4
LEGS = [  # (symbol, side, quantity, price): opens, adds, partial closes, flips and full closes
    ("BTC/USD", "buy", "1", "100"),
    ("ETH/USD", "sell", "2", "50"),
    ("BTC/USD", "buy", "2", "110"),
    ("BTC/USD", "sell", "1.5", "120"),
    ("ETH/USD", "buy", "3", "45"),  # flip to long 1
    ("BTC/USD", "sell", "3", "90"),  # flip to short 1.5
    ("ETH/USD", "sell", "1", "47"),  # close
    ("SOL/USD", "buy", "10", "20"),
    ("BTC/USD", "buy", "1.5", "95"),  # close
    ("SOL/USD", "sell", "4", "21"),
    ("ETH/USD", "buy", "0.5", "48"),
]


@pytest.fixture
def snapshotting(db_url: str) -> Iterator[Ledger]:
    with open_ledger(db_url, clock=lambda: RECORDED_AT, snapshot_every=EVERY) as opened:
        for symbol, side, quantity, price in LEGS:
            opened.record(fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, fee="0.1"))
        yield opened


def without_closed(state: LedgerState) -> LedgerState:
    return replace(state, closed=())


def snapshot_seqs(backend: Backend) -> list[int]:
    return [row[0] for row in backend.sql("SELECT DISTINCT seq FROM position_snapshots ORDER BY seq")]


def test_appends_take_a_snapshot_every_n_events(snapshotting: Ledger, backend: Backend) -> None:
    assert snapshot_seqs(backend) == [4, 8]
    assert snapshotting.verify().ok


def test_a_batch_that_crosses_multiples_is_snapshotted_at_each_so_a_replay_folds_at_most_n_events(
    db_url: str, backend: Backend
) -> None:
    # An import of 40,000 fills left one snapshot, at 40,000: replay(until_seq=39,993, closed=False) folded
    # 39,993 events (0.38 s of CPU; 0.07 s once a rebuild wrote the snapshots at 10,000, 20,000 and 30,000).
    with open_ledger(db_url, snapshot_every=EVERY) as ledger:
        ledger.record_many([fill_fields() for _ in range(3)])
        ledger.record_many([fill_fields() for _ in range(6)])  # seq 4..9 crosses 4 and 8
        assert snapshot_seqs(backend) == [4, 8, 9]
        assert ledger.verify().ok
        assert ledger.replay(until_seq=7, closed=False) == without_closed(ledger.replay(until_seq=7))


def test_the_state_as_of_any_seq_without_closed_cycles_equals_a_full_replay(snapshotting: Ledger) -> None:
    for seq in range(len(LEGS) + 3):
        assert snapshotting.replay(until_seq=seq, closed=False) == without_closed(snapshotting.replay(until_seq=seq))
    assert snapshotting.replay(closed=False) == without_closed(snapshotting.state())


def test_verify_names_a_snapshot_that_disagrees_with_the_replay(snapshotting: Ledger, backend: Backend) -> None:
    backend.sql("UPDATE position_snapshots SET closed_fees = '999' WHERE seq = 8 AND symbol = 'ETH/USD'")

    report = snapshotting.verify()

    assert not report.ok
    assert [(problem.seq, problem.check) for problem in report.problems] == [(8, "snapshot")]
    assert "ETH/USD" in report.problems[0].detail


def test_verify_names_a_snapshot_beyond_the_log(snapshotting: Ledger, backend: Backend) -> None:
    backend.sql(
        "INSERT INTO position_snapshots (seq, account, symbol, epoch, closed_realized_pnl, closed_fees) "
        "VALUES (50, 'default', 'BTC/USD', 1, '0', '0')"
    )

    problems = snapshotting.verify().problems

    assert [(problem.seq, problem.check) for problem in problems] == [(50, "snapshot")]


def test_rebuild_rewrites_the_snapshots_at_every_multiple(snapshotting: Ledger, backend: Backend) -> None:
    backend.sql("DELETE FROM position_snapshots")
    snapshotting.rebuild()

    assert snapshot_seqs(backend) == [4, 8]
    assert snapshotting.verify().ok
    assert snapshotting.replay(until_seq=9, closed=False) == without_closed(snapshotting.replay(until_seq=9))


def test_a_snapshot_of_another_epoch_is_not_used(snapshotting: Ledger, backend: Backend) -> None:
    expected = without_closed(snapshotting.replay(until_seq=10))
    backend.sql("UPDATE position_snapshots SET epoch = 7, closed_fees = '999' WHERE seq = 8")

    assert snapshotting.replay(until_seq=10, closed=False) == expected
