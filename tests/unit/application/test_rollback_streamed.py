"""A rollback's removed events are read as they are listed, never held all at once (issue 19: a dry run of a rollback
that removes 1,000,000 events held 4.78 GB): a dry run reads them from the log each time they are iterated (and
refuses a log that changed meanwhile), a rollback parses them from its admin record's text one at a time, and that
text is the same bytes the list of every row made."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.records import Checkpoint
from tradeledger.errors import LedgerError


def test_a_dry_run_reads_its_removed_events_from_the_log_each_time_they_are_listed(eight: Ledger) -> None:
    report = eight.rollback(to_seq=5, reason="look", actor="ops", dry_run=True)
    eight.record(fill_fields(symbol="SOL/USD"))  # an append after the dry run: past its head, not listed

    assert len(report.removed) == 3
    assert [fill.seq for fill in report.removed] == [6, 7, 8]
    assert [fill.seq for fill in report.removed] == [6, 7, 8]  # read again, the same events
    assert [fill.hash for fill in report.removed] == [fill.hash for fill in eight.history()[5:8]]


def test_a_dry_run_refuses_to_list_removed_events_of_a_log_rolled_back_since(eight: Ledger) -> None:
    report = eight.rollback(to_seq=5, reason="look", actor="ops", dry_run=True)
    eight.rollback(to_seq=6, reason="undo", actor="ops")
    eight.record_many([fill_fields(symbol="SOL/USD") for _ in range(2)])  # seqs 7 and 8 again, other events

    listed = iter(report.removed)
    assert next(listed).seq == 6
    with pytest.raises(LedgerError, match=r"rollback: the log changed while its removed events were read \(expected 3"):
        list(listed)


def test_a_rollback_lists_its_removed_events_from_its_record_as_they_are_read(eight: Ledger) -> None:
    removed = [fill.hash for fill in eight.history()[5:]]

    report = eight.rollback(to_seq=5, reason="undo", actor="ops")

    assert report.record is not None
    assert len(report.removed) == 3
    assert [fill.hash for fill in report.removed] == removed
    assert [fill.hash for fill in report.removed] == removed  # parsed again from the record's text


def test_the_removed_events_of_a_record_are_parsed_one_at_a_time(eight: Ledger) -> None:
    record = eight.rollback(to_seq=5, reason="undo", actor="ops").record
    assert record is not None
    rows = json.loads(record.removed)
    broken = replace(record, removed=json.dumps([*rows[:2], {"seq": "not an event"}], indent=1))

    events = broken.each_removed_event()
    assert [next(events).seq, next(events).seq] == [6, 7]  # before the third row is reached
    with pytest.raises(TypeError):
        next(events)
    assert [event.as_dict() for event in record.each_removed_event()] == rows
    assert [event.as_dict() for event in replace(record, removed=" [ ] ").each_removed_event()] == []


@pytest.mark.parametrize("text", ["{}", "[1,", '[{"seq": 1} {}]', "[] x", ""])
def test_a_removed_text_that_is_not_a_list_of_rows_is_refused(eight: Ledger, text: str) -> None:
    record = eight.rollback(to_seq=5, reason="undo", actor="ops").record
    assert record is not None

    with pytest.raises((ValueError, TypeError)):
        list(replace(record, removed=text).each_removed_event())


def test_a_records_removed_text_is_the_json_of_the_list_of_every_removed_row(eight: Ledger) -> None:
    tail = eight.history()[5:]

    record = eight.rollback(to_seq=5, reason="undo", actor="ops").record

    assert record is not None
    rows = [event.as_dict() for event in record.removed_events()]
    assert [row["hash"] for row in rows] == [fill.hash for fill in tail]
    assert record.removed == json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record.computed_hash() == record.hash
    assert (
        AdminRecord.rollback(
            record_id=record.id,
            at=record.at,
            actor=record.actor,
            reason=record.reason,
            head=Checkpoint(record.from_epoch, record.from_seq, record.from_hash),
            to=record.head_after,
            removed=iter(record.removed_events()),
            prev_hash=record.prev_hash,
        )
        == record
    )  # the same text and hash from an iterator of the rows
