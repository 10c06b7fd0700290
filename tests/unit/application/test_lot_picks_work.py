"""How much of the log the check of `metadata.lots` reads (spec section 11): what earlier disposals named of
the lots a sale names is read in one pass over the history that occurred from the first of them, however many lots it
names (a read per lot made a sale naming 1,000 lots of an 8,000-fill history take 86 s); the reports' fold of the
lots named reads from where the position was last flat, not the whole history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidFill, Ledger
from tradeledger.domain.records import StoredEvent
from tradeledger.storage.memory import MemoryEventLog


def named(*lots: tuple[int, str], **fields: Any) -> dict[str, Any]:
    picks = [{"seq": seq, "quantity": quantity} for seq, quantity in lots]
    return fill_fields(side="sell", price="300", metadata={"lots": picks}, **fields)


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seqs the log yields to reads of a symbol's history (the check's scans), in order."""
    seqs: list[int] = []
    read = MemoryEventLog.read

    def counting(self: MemoryEventLog, **kwargs: Any) -> Iterator[StoredEvent]:
        for event in read(self, **kwargs):
            if kwargs.get("symbol") is not None:
                seqs.append(event.seq)
            yield event

    monkeypatch.setattr(MemoryEventLog, "read", counting)
    return seqs


def test_a_sale_naming_50_lots_reads_the_history_from_the_first_once_and_from_where_it_was_flat_once(
    ledger: Ledger, scanned: list[int]
) -> None:
    ledger.record_many([fill_fields(fill_id=f"b{i}", quantity="1", price="100") for i in range(50)])
    scanned.clear()

    ledger.record(named(*((seq, "1") for seq in range(1, 51)), fill_id="s", quantity="50"))

    # What earlier sales named (a read per lot yielded 49 + 48 + ... + 0 = 1,225 events), then the reports' fold of
    # the position open since seq 1 (application/lot_pick_fold.py).
    assert scanned == [*range(1, 51), *range(1, 51)]


def test_the_fold_of_a_sale_naming_lots_reads_from_where_its_position_was_last_flat(
    ledger: Ledger, scanned: list[int]
) -> None:
    ledger.record_many([fill_fields(fill_id="b1", quantity="1"), fill_fields(fill_id="s1", side="sell", quantity="1")])
    ledger.record_many([fill_fields(fill_id="b2", quantity="1"), fill_fields(fill_id="b3", quantity="1")])
    scanned.clear()

    ledger.record(named((4, "1"), fill_id="s2", quantity="1"))

    assert scanned == [4, 3, 4]  # the count from lot 4; the fold from the position opened at seq 3, not from seq 1
    assert [(r.disposed_seq, r.acquired_seq) for r in ledger.gains("specific").rows] == [(2, 1), (5, 4)]


def test_what_earlier_sales_named_counts_once_per_lot_across_a_batch(ledger: Ledger) -> None:
    ledger.record_many(
        [
            fill_fields(fill_id="b1", quantity="2", price="100"),
            fill_fields(fill_id="b2", quantity="2", price="100"),
            named((1, "1"), (2, "0.5"), fill_id="s1", quantity="1.5"),
        ]
    )
    ledger.record_many([named((2, "1.5"), fill_id="s2", quantity="1.5"), named((1, "1"), fill_id="s3", quantity="1")])

    with pytest.raises(InvalidFill, match=r"lot 1 is used up: it acquired 2, earlier disposals named 2, 0 is left"):
        ledger.record(named((1, "0.1"), fill_id="s4", quantity="0.1"))
    with pytest.raises(InvalidFill, match=r"lot 2 is used up: it acquired 2, earlier disposals named 2, 0 is left"):
        ledger.record(named((2, "0.1"), fill_id="s5", quantity="0.1"))
