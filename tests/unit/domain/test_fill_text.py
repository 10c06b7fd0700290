"""Fills are stored and hashed as canonical text: exact, and the same for equal values."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import T0, fill_fields, make_fill
from tradeledger.application.appending import validate_fill
from tradeledger.domain.chain import GENESIS_HASH, HASHED_FIELDS_BY_TYPE, event_hash
from tradeledger.domain.events import Event, Funding, Transfer
from tradeledger.domain.fills import MAX_METADATA_BYTES, MAX_METADATA_DEPTH, decimal_text, time_text
from tradeledger.domain.records import Receipt, StoredEvent, receipt
from tradeledger.errors import InvalidFill


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


SEALED_KINDS = [
    make_fill(fill_id="F", strategy="trend", metadata={"note": "caf\u00e9"}, fee="0.5"),
    Funding(
        funding_id="FU", exchange="binance", symbol="BTC/USDT:USDT", amount="-1.25", currency="USDT", occurred_at=T0
    ),
    Transfer(
        transfer_id="TR", exchange="binance", currency="USDT", amount="-100", fee="1", kind="withdrawal", occurred_at=T0
    ),
]


@pytest.mark.parametrize("event", SEALED_KINDS, ids=["fill", "funding", "transfer"])
def test_a_sealed_event_is_the_event_its_fields_and_their_hash_make(event: Event) -> None:
    content = event.canonical()
    place: dict[str, Any] = {"seq": 7, "epoch": 2, "recorded_at": "2026-01-05T12:00:00.000000+00:00"}

    sealed = StoredEvent.seal(content, prev_hash="a" * 64, **place)

    merged = {**content, **place}
    assert sealed == StoredEvent(**merged, prev_hash="a" * 64, hash=event_hash("a" * 64, merged))
    assert sealed.hash == sealed.computed_hash()


def test_a_stored_event_of_a_format_the_ledger_does_not_know_has_no_hash_to_recompute() -> None:
    sealed = StoredEvent.seal(make_fill().canonical(), seq=1, epoch=1, recorded_at="x", prev_hash=GENESIS_HASH)
    unknown = dataclasses.replace(sealed, version=9)

    with pytest.raises(ValueError, match=r"^type 'fill' version 9 is not an event format this ledger knows$"):
        unknown.computed_hash()
    with pytest.raises(ValueError, match=r"^type 'fill' version 9 is not an event format this ledger knows$"):
        event_hash(unknown.prev_hash, unknown.as_dict())


def test_a_mapping_that_is_not_a_canonical_form_is_sealed_as_its_fields_say() -> None:
    content = {name: value for name, value in make_fill().canonical().items() if name not in ("type", "version")}

    sealed = StoredEvent.seal(content, seq=1, epoch=1, recorded_at="x", prev_hash=GENESIS_HASH)

    assert (sealed.type, sealed.version) == ("fill", 1)  # the defaults: a v1 fill, hashed as one
    assert sealed.hash == sealed.computed_hash()
    with pytest.raises(TypeError, match="unexpected keyword argument 'extra'"):
        StoredEvent.seal({**content, "extra": 1}, seq=1, epoch=1, recorded_at="x", prev_hash=GENESIS_HASH)


def test_a_batchs_receipt_is_the_frozen_receipt_its_fields_make() -> None:
    built = receipt(3, 2, "a" * 64, duplicate=True, fill_id="F")

    assert built == Receipt(3, 2, "a" * 64, duplicate=True, fill_id="F")
    assert hash(built) == hash(Receipt(3, 2, "a" * 64, duplicate=True, fill_id="F"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.seq = 4  # type: ignore[misc]


def test_every_event_format_hashes_its_place_in_the_log_first() -> None:
    # What StoredEvent.seal's hash (chain.sealed_hash) takes for granted.
    assert {fields[:3] for fields in HASHED_FIELDS_BY_TYPE.values()} == {("seq", "epoch", "recorded_at")}


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


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "\uff11\uff10\uff10", "price: must be written with ASCII digits"),  # fullwidth 100
        ("quantity", "\u0661\u0660\u0660", "quantity: must be written with ASCII digits"),  # Arabic-Indic 100
        ("fee", "\uff10", "fee: must be written with ASCII digits"),
    ],
    ids=["fullwidth price", "arabic-indic quantity", "fullwidth fee"],
)
def test_amounts_written_with_digits_other_than_ascii_are_refused_naming_the_field(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidFill, match=message):
        validate_fill(fill_fields(**{field: value}))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("fill_id", "a\u00a0b", "fill_id: must not contain blanks other than the ASCII space .* U\\+00A0"),
        ("account", "main\u3000desk", "account: must not contain blanks other than the ASCII space .* U\\+3000"),
        ("exchange", "kra\u2009ken", "exchange: must not contain blanks other than the ASCII space .* U\\+2009"),
        ("fill_id", "cafe\u0301-1", "fill_id: must be in Unicode NFC"),
        ("strategy", "re\u0301sume\u0301", "strategy: must be in Unicode NFC"),
    ],
    ids=["no-break space", "ideographic space", "thin space", "NFD id", "NFD strategy"],
)
def test_ids_with_look_alike_blanks_or_not_in_nfc_are_refused_naming_the_field(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidFill, match=message):
        validate_fill(fill_fields(**{field: value}))


def test_an_id_in_nfc_with_an_ascii_space_is_accepted() -> None:
    fill = validate_fill(fill_fields(fill_id="caf\u00e9 1", strategy="r\u00e9sum\u00e9"))

    assert fill.fill_id == "caf\u00e9 1"


def nested(depth: int) -> dict[str, Any]:
    """{"a": {"a": ... 1}} with `depth` objects, built without recursion."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[no-any-return]


def test_metadata_nested_32_deep_is_kept() -> None:
    assert validate_fill(fill_fields(metadata=nested(MAX_METADATA_DEPTH))).metadata == nested(32)


@pytest.mark.parametrize("depth", [33, 950, 10_000])
def test_metadata_nested_deeper_than_32_is_refused_naming_the_field(depth: int) -> None:
    with pytest.raises(InvalidFill, match="metadata: is nested more than 32 levels deep"):
        validate_fill(fill_fields(metadata=nested(depth)))


def test_metadata_of_more_than_64_kib_of_canonical_json_is_refused_naming_its_size() -> None:
    assert MAX_METADATA_BYTES == 65_536
    fits = {"a": "x" * (65_536 - len('{"a":""}'))}
    validate_fill(fill_fields(metadata=fits))

    with pytest.raises(InvalidFill, match="metadata: is 65537 bytes of canonical JSON; at most 65536 are kept"):
        validate_fill(fill_fields(metadata={"a": "x" * (65_537 - len('{"a":""}'))}))


def test_metadata_size_is_counted_in_utf_8_bytes_not_characters() -> None:
    two_bytes = "\u00e9"  # é: one character, two bytes in UTF-8
    fits = {"a": two_bytes * ((65_536 - len('{"a":""}')) // 2)}
    validate_fill(fill_fields(metadata=fits))

    with pytest.raises(InvalidFill, match="metadata: is 65538 bytes of canonical JSON; at most 65536 are kept"):
        validate_fill(fill_fields(metadata={"a": two_bytes * ((65_536 - len('{"a":""}')) // 2 + 1)}))


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ({"n": float("nan")}, "is not JSON: Out of range float values are not JSON compliant"),
        ({"s": {1}}, "is not JSON: set {1} is not a JSON value"),
        ({"d": Decimal("1.5")}, "is not JSON: Decimal Decimal('1.5') is not a JSON value"),
        ({"b": "x", 1: "y"}, "is not JSON: '<' not supported between instances of 'int' and 'str'"),
        ({"info": {"z": 1, 2: 3}}, "is not JSON: '<' not supported between instances of 'int' and 'str'"),
    ],
)
def test_metadata_that_is_not_json_is_refused_saying_why(metadata: dict[Any, Any], why: str) -> None:
    with pytest.raises(InvalidFill, match=re.escape(f"fill: metadata: {why}")):
        validate_fill(fill_fields(metadata=metadata))


def test_metadata_that_contains_itself_is_refused_as_nested_too_deep() -> None:
    metadata: dict[str, Any] = {}
    metadata["self"] = metadata

    with pytest.raises(InvalidFill, match="fill: metadata: is nested more than 32 levels deep; at most 32 are kept"):
        validate_fill(fill_fields(metadata=metadata))


def test_metadata_refused_midway_and_then_corrected_is_kept_as_its_json() -> None:
    info: dict[str, Any] = {"id": "1", "price": float("nan")}
    metadata = {"info": info}
    with pytest.raises(InvalidFill, match="metadata: is not JSON"):
        validate_fill(fill_fields(metadata=metadata))

    info["price"] = 1.5  # the same dicts, encoded again: no trace of the refusal (not a "circular reference")

    assert validate_fill(fill_fields(metadata=metadata)).canonical()["metadata"] == '{"info":{"id":"1","price":1.5}}'


def test_an_integer_too_long_to_print_in_metadata_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidFill, match="metadata: is not JSON"):
        validate_fill(fill_fields(metadata={"n": 10**5000}))


def test_a_quantity_with_4301_digits_is_refused_naming_the_field_without_printing_them_all() -> None:
    with pytest.raises(InvalidFill, match=r"quantity: .*\(4301 characters\)") as refused:
        validate_fill(fill_fields(quantity="9" * 4301))

    assert len(str(refused.value)) < 300
