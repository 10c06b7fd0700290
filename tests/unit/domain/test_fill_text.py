"""Fills are stored and hashed as canonical text: exact, and the same for equal values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.factories import make_fill
from tradeledger.domain.chain import GENESIS_HASH, event_hash
from tradeledger.domain.fills import decimal_text, time_text
from tradeledger.domain.records import StoredEvent


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1.50"), "1.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("0E-8"), "0"),
        (Decimal("99.41379310344827586206896552"), "99.41379310344827586206896552"),
    ],
)
def test_decimals_are_written_without_exponent_or_trailing_zeros(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text


def test_times_are_written_in_utc_with_microseconds() -> None:
    paris = timezone(timedelta(hours=1))

    assert time_text(datetime(2026, 1, 5, 11, 3, tzinfo=paris)) == "2026-01-05T10:03:00.000000+00:00"


def test_equal_amounts_written_differently_are_the_same_content() -> None:
    a = make_fill(fill_id="A", quantity="1.50", price="100", occurred_at="2026-01-05T10:00:00Z")
    b = make_fill(fill_id="A", quantity="1.5", price="1E+2", occurred_at="2026-01-05T11:00:00+01:00")

    assert a.canonical() == b.canonical()


def seal(fill_id: str, prev_hash: str = GENESIS_HASH) -> StoredEvent:
    content = make_fill(fill_id=fill_id, occurred_at="2026-01-05T10:00:00Z").canonical()
    return StoredEvent.seal(
        content, seq=1, epoch=1, recorded_at="2026-01-05T12:00:00.000000+00:00", prev_hash=prev_hash
    )


def test_the_hash_covers_content_position_and_the_previous_hash() -> None:
    event = seal("A")

    assert event.hash == event.computed_hash()
    assert seal("A").hash == event.hash
    assert seal("B").hash != event.hash
    assert seal("A", prev_hash="f" * 64).hash != event.hash
    moved = {**event.as_dict(), "seq": 2}
    assert event_hash(event.prev_hash, moved) != event.hash


def test_the_first_event_links_to_the_genesis_hash() -> None:
    assert seal("A").prev_hash == "0" * 64


def test_a_stored_event_reads_back_as_the_fill_it_was() -> None:
    fill = make_fill(metadata={"signal": "rsi", "levels": [1, 2.5]}, strategy="trend", occurred_at=datetime.now(UTC))
    event = StoredEvent.seal(
        fill.canonical(), seq=1, epoch=1, recorded_at="2026-01-05T12:00:00.000000+00:00", prev_hash=GENESIS_HASH
    )

    recorded = event.recorded_fill()

    assert recorded.fill.canonical() == fill.canonical()
    assert recorded.fill.metadata == {"signal": "rsi", "levels": [1, 2.5]}


def test_a_stored_event_holds_exactly_the_fields_of_a_fills_canonical_form() -> None:
    fill = make_fill(strategy="trend", metadata={"a": 1})

    event = StoredEvent.seal(fill.canonical(), seq=1, epoch=1, recorded_at="x", prev_hash=GENESIS_HASH)

    assert event.content() == fill.canonical()
