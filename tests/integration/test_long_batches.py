"""A batch longer than a chunk (application/bulk.py): appended a chunk at a time in its one transaction, on
SQLite and PostgreSQL; every event lands or none does, and the result is that of one chunk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tests.integration.test_bad_input import assert_unchanged, snapshot
from tradeledger import EventText, FillConflict, InvalidFill, Ledger, open_ledger
from tradeledger.application import bulk

CHUNK = 3


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)


def fills(count: int, prefix: str) -> list[dict[str, Any]]:
    """`count` fills moving two positions back and forth (cycles close and open again along the batch)."""
    sides = ["buy", "buy", "sell", "sell", "sell", "buy"]
    return [
        fill_fields(fill_id=f"{prefix}-{n}", symbol=("BTC/USD", "ETH/USD")[n % 2], side=sides[n % 6], fee="0.1")
        for n in range(count)
    ]


def generated(events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from events


def test_a_batch_over_several_chunks_gives_what_one_chunk_gives(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    batch = fills(11, "L")
    batch.insert(7, dict(batch[2]))  # a duplicate of an event in an earlier chunk

    receipts = ledger.record_many(generated(batch))

    monkeypatch.setattr(bulk, "CHUNK", 1_000)
    with open_ledger(f"sqlite:///{tmp_path / 'one-chunk.db'}", clock=lambda: RECORDED_AT) as whole:
        assert whole.record_many(batch) == receipts
        assert ledger.state() == whole.state()
        assert ledger.balances() == whole.balances()
    assert [r.seq for r in receipts] == [*range(1, 8), 3, *range(8, 12)]
    assert receipts[7].duplicate
    assert ledger.verify().ok  # the projection and its snapshots are those of a replay


def test_a_conflict_with_the_log_in_the_last_chunk_undoes_the_earlier_chunks(ledger: Ledger, db_url: str) -> None:
    ledger.record_many(fills(4, "A"))
    before = snapshot(ledger, db_url)
    batch = [*fills(2 * CHUNK + 1, "B"), {**fills(1, "A")[0], "fill_id": "A-0", "price": "101"}]

    with pytest.raises(FillConflict, match=r"'A-0'.* is already recorded"):
        ledger.record_many(generated(batch))

    assert_unchanged(ledger, db_url, before)
    assert ledger.record_many(batch[:-1])[-1].seq == before.head.seq + len(batch) - 1


def test_a_conflict_with_an_earlier_chunk_of_the_batch_is_named_so_and_nothing_lands(
    ledger: Ledger, db_url: str
) -> None:
    before = snapshot(ledger, db_url)
    batch = fills(2 * CHUNK, "C")
    batch.append({**batch[0], "quantity": "2"})

    with pytest.raises(FillConflict, match=r"'C-0'.* appears twice in this batch"):
        ledger.record_many(generated(batch))

    assert_unchanged(ledger, db_url, before)


def test_a_refusal_in_a_later_chunk_names_the_event_by_its_place_in_the_batch(ledger: Ledger, db_url: str) -> None:
    before = snapshot(ledger, db_url)
    batch = fills(2 * CHUNK, "D")
    batch.append(fill_fields(fill_id="D-bad", price="0"))  # refused by validation, once the chunks before landed
    batch.append(fill_fields(fill_id="D-lots", side="sell", metadata={"lots": [{"seq": 1, "quantity": "2"}]}))

    with pytest.raises(InvalidFill, match=r"^fill 7: price"):
        ledger.record_many(generated(batch))
    with pytest.raises(InvalidFill, match=r"^fill 7: metadata.lots: the lots named sum to 2"):
        ledger.record_many(generated([*batch[:6], batch[7]]))

    assert_unchanged(ledger, db_url, before)


def test_texts_over_several_chunks_are_counted_and_all_or_nothing(ledger: Ledger, db_url: str) -> None:
    recorded = fills(2, "E")
    ledger.record_many(recorded)
    texts = [EventText(fields) for fields in [*recorded, *fills(2 * CHUNK, "F")]]

    appended = ledger.append_texts(iter(texts))

    assert (appended.appended, appended.duplicates, appended.head) == (2 * CHUNK, 2, ledger.head)
    assert appended.head.seq == 2 + 2 * CHUNK
    before = snapshot(ledger, db_url)
    clash = EventText({**fills(1, "F")[0], "fill_id": "F-1", "quantity": "3"})
    with pytest.raises(FillConflict, match=r"'F-1'.* is already recorded"):
        ledger.append_texts([EventText(fields) for fields in fills(2 * CHUNK, "G")] + [clash])
    assert_unchanged(ledger, db_url, before)
    assert ledger.verify().ok


def test_a_slow_source_does_not_hold_the_write_lock_while_it_yields(tmp_path: Any) -> None:
    # Another bot records on the same file while a long batch's source is still fetching its next page: the
    # caller's iterable is read whole before the write lock is taken (found in review: chunking had moved
    # it under the lock, and the other writer got "database is locked").
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with (
        open_ledger(url, clock=lambda: RECORDED_AT) as ledger,
        open_ledger(url, clock=lambda: RECORDED_AT, busy_timeout_s=0.2) as other,
    ):
        ledger.record(fill_fields(fill_id="first"))

        def paged() -> Iterator[dict[str, Any]]:
            for n, fields in enumerate(fills(2 * CHUNK, "P")):
                if n == CHUNK:  # the next page is fetched while another bot records
                    other.record(fill_fields(fill_id="other-bot"))
                yield fields

        ledger.record_many(paged())

        assert ledger.head.seq == 2 + 2 * CHUNK
        assert ledger.verify().ok


def nested_lists(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "grown",
    ["x" * 70_000, float("nan"), nested_lists(40)],
    ids=["past 64 KiB", "not JSON", "past 32 levels"],
)
def test_a_source_that_changes_a_fills_metadata_while_yielding_the_next_stores_it_as_it_was_when_given(
    ledger: Ledger, grown: object
) -> None:
    # A bot's generator reuses one nested dict for each fill's metadata, as it reuses a row dict (which the
    # fill's own fields are copied from): the first fill is read and checked, then the generator changes the
    # shared dict into what the first fill's check would have refused before yielding the second. Each fill
    # is stored as it was when given: never an event the model refuses to read back.
    shared: dict[str, Any] = {"note": "short"}

    def source() -> Iterator[dict[str, Any]]:
        yield {**fill_fields(fill_id="M-1"), "metadata": {"signal": shared}}
        shared["note"] = grown
        yield {**fill_fields(fill_id="M-2"), "metadata": {"signal": {"note": "second"}}}

    receipts = ledger.record_many(source())

    assert [receipt.seq for receipt in receipts] == [1, 2]
    assert [event.fill.metadata for event in ledger.history()] == [
        {"signal": {"note": "short"}},
        {"signal": {"note": "second"}},
    ]
    assert ledger.verify().ok
