"""Rollback (spec section 6) as a use case, over the in-memory store: the log's tail removed, audited,
in a new epoch, every projection rewound. What the databases add (triggers, locks, snapshots in tables)
is in tests/integration/test_rollback.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.factories import fill_fields
from tests.integration.test_rollback import T0
from tradeledger import Ledger
from tradeledger.domain.risk import PriceMark, RiskLevels


def test_a_rollback_removes_the_tail_in_a_new_epoch_and_rewinds_the_positions(eight: Ledger) -> None:
    expected = eight.replay(until_seq=5)
    removed_hashes = [fill.hash for fill in eight.history()[5:]]

    report = eight.rollback(to_seq=5, reason="fills from a broken feed", actor="ops@desk")

    assert (report.head_before.epoch, report.head_before.seq) == (1, 8)
    assert (report.head_after.epoch, report.head_after.seq) == (2, 5)
    assert [fill.seq for fill in report.removed] == [6, 7, 8]
    assert [fill.hash for fill in report.removed] == removed_hashes
    assert eight.head == report.head_after
    state = eight.state()
    assert (state.open, state.closed, state.symbol_totals) == (expected.open, expected.closed, expected.symbol_totals)
    assert [(p.symbol, p.quantity) for p in state.open] == [("ETH/USD", Decimal(1))]  # BTC's reopening at 6 is gone
    assert len(eight.history()) == 5


def test_appends_after_a_rollback_continue_at_the_next_seq_in_the_new_epoch(eight: Ledger) -> None:
    head = eight.rollback(to_seq=5, reason="undo", actor="ops").head_after

    receipt = eight.record(fill_fields(symbol="SOL/USD", quantity="3", price="20"))

    assert (receipt.seq, receipt.epoch) == (6, 2)
    assert eight.history()[-1].prev_hash == head.hash
    report = eight.verify()
    assert report.ok, report.problems
    assert [(r.from_seq, r.to_seq, r.to_epoch, r.reason, r.actor) for r in report.rollbacks] == [
        (8, 5, 2, "undo", "ops")
    ]


def test_the_admin_record_keeps_every_removed_event_whole_and_chains(eight: Ledger) -> None:
    gone = eight.history()[5:]

    record = eight.rollback(to_seq=5, reason="undo", actor="ops").record

    assert record is not None
    assert (record.id, record.prev_hash) == (1, "0" * 64)
    assert record.computed_hash() == record.hash
    kept = record.removed_events()
    assert [(e.seq, e.fill_id, e.hash) for e in kept] == [(f.seq, f.fill.event_id, f.hash) for f in gone]
    assert all(e.computed_hash() == e.hash for e in kept)
    assert eight.admin_log() == (record,)


def test_two_rollbacks_across_epochs_keep_verify_clean(eight: Ledger) -> None:
    eight.rollback(to_seq=6, reason="first", actor="ops")
    eight.record(fill_fields(symbol="SOL/USD", quantity="1", price="20"))  # seq 7, epoch 2
    eight.rollback(to_seq=3, reason="second", actor="ops")  # removes epoch-1 events 4..6 and epoch-2 event 7
    receipt = eight.record(fill_fields(symbol="SOL/USD", quantity="2", price="21"))

    assert (receipt.seq, receipt.epoch) == (4, 3)
    report = eight.verify()
    assert report.ok, report.problems
    assert [(r.from_epoch, r.from_seq, r.to_seq) for r in report.rollbacks] == [(1, 8, 6), (2, 7, 3)]
    assert [e.epoch for e in report.rollbacks[1].removed_events()] == [1, 1, 1, 2]


def test_a_rollback_with_no_appends_after_it_verifies_with_the_head_in_the_new_epoch(eight: Ledger) -> None:
    eight.rollback(to_seq=8 - 1, reason="last fill was a test", actor="ops")

    report = eight.verify()

    assert report.ok, report.problems
    assert (report.head.epoch, report.head.seq) == (2, 7)


def test_rolling_back_to_zero_empties_the_log_and_appends_start_at_seq_1(eight: Ledger) -> None:
    eight.rollback(to_seq=0, reason="start over", actor="ops")
    receipt = eight.record(fill_fields())

    assert (receipt.seq, receipt.epoch, eight.history()[0].prev_hash) == (1, 2, "0" * 64)
    assert eight.verify().ok


def test_to_time_removes_the_events_recorded_after_it(eight: Ledger) -> None:
    # recorded_at is 09:01 for seq 1 … 09:08 for seq 8.
    report = eight.rollback(to_time=T0 + timedelta(minutes=6, seconds=30), reason="after 09:06", actor="ops")

    assert [fill.seq for fill in report.removed] == [7, 8]
    assert eight.head.seq == 6


def test_risk_levels_of_removed_cycles_go_and_price_marks_stay(eight: Ledger) -> None:
    marked = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    eight.save_marks(
        [PriceMark("BTC/USD", Decimal(122), marked)],
        [
            RiskLevels("default", "BTC/USD", 6, Decimal(120), Decimal(130), None, Decimal(125), Decimal(121)),
            RiskLevels("default", "ETH/USD", 3, Decimal(9), Decimal(12), None, Decimal(12), Decimal(10)),
        ],
    )

    eight.rollback(to_seq=5, reason="undo", actor="ops")

    marks = eight.marks()
    assert list(marks.prices) == ["BTC/USD"]
    assert list(marks.levels) == [("default", "ETH/USD")]  # the BTC cycle opened at seq 6 is gone


def test_a_removed_fill_can_be_recorded_again(eight: Ledger) -> None:
    gone = eight.history()[-1].fill
    eight.rollback(to_seq=7, reason="undo", actor="ops")

    receipt = eight.record(gone)

    assert (receipt.seq, receipt.epoch, receipt.duplicate) == (8, 2, False)
