"""The import's text of a line (application.bulk.EventText) is made with the texts the fast path's checks
made (domain.intake.fast_canonical: metadata's JSON, a time already written as time_text writes it), not
written a second time: whatever the input, it is the canonical form the model's Fill gives, or nothing."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.property.test_intake_properties import BASE, fill_inputs
from tests.property.test_row_text import json_values, text_variants
from tradeledger.application.appending import validate_event
from tradeledger.application.bulk import EventText
from tradeledger.domain.fills import EVENT_FIELDS, Fill, time_shaped, time_text
from tradeledger.domain.intake import fast_canonical, fast_fill
from tradeledger.errors import InvalidFill

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
)
MOMENTS = st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(9999, 12, 31))  # noqa: DTZ001 - zoned below
# Texts of the canonical shape that may name no time, or one out of range (years 0001 and 9999 at its end).
SHAPED = st.text(alphabet="0123456789", min_size=20, max_size=20).map(
    lambda d: f"{d[:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}.{d[14:20]}+00:00"
)


@st.composite
def times(draw: st.DrawFn) -> object:
    """A fill's time as a file or a bot gives it: each spelling fromisoformat reads (canonical or not), in any
    zone, a shaped text of digits, or a datetime."""
    moment = draw(MOMENTS).replace(tzinfo=draw(ZONES))
    return draw(st.sampled_from([*text_variants(moment), draw(SHAPED), moment, moment.isoformat() + " "]))


METADATA = st.one_of(st.none(), st.dictionaries(st.text(max_size=3), json_values, max_size=4))


@st.composite
def lines(draw: st.DrawFn) -> dict[str, Any]:
    """The fields of an NDJSON line or a bot's dict: any fill input, with odd times and metadata."""
    data = draw(fill_inputs())
    if draw(st.booleans()):
        data["occurred_at"] = draw(times())
    if draw(st.booleans()):
        data["metadata"] = draw(METADATA)
    return data


def models_text(data: dict[str, Any]) -> dict[str, Any] | None:
    """The canonical form as it was made before: the fast path's Fill, written whole by canonical()."""
    fill = fast_fill(copy.deepcopy(data), remember=False)
    return None if fill is None else fill.canonical()


@settings(max_examples=800, deadline=None)
@given(lines())
@example({**BASE, "occurred_at": "2024-01-02T14:30:00.001371+00:00", "metadata": {"b": 1.5, "a": ["\u00e9"]}})
@example({**BASE, "occurred_at": "2024-01-02T14:30:00.000000+00:00"})
@example({**BASE, "occurred_at": "2024-01-02T14:30:00+00:00"})
@example({**BASE, "occurred_at": "2024-01-02T15:30:00.000000+01:00"})
@example({**BASE, "occurred_at": "0001-01-01T00:00:00.000000+00:00"})
@example({**BASE, "occurred_at": "2024-02-30T14:30:00.000000+00:00"})
@example({**BASE, "occurred_at": "2024-01-02T14:30:00,001371+00:00"})
@example({**BASE, "occurred_at": "2024-01-02T24:00:00.000000+00:00"})  # a Python whose fromisoformat took it
@example({**BASE, "occurred_at": "2024-01-02T23:59:60.000000+00:00"})  # would normalize it: shaped, not canonical
def test_the_fast_canonical_form_is_the_fast_paths_fill_written_whole(data: dict[str, Any]) -> None:
    assert fast_canonical(data) == models_text(data)


@settings(max_examples=300, deadline=None)
@given(lines())
def test_an_imported_lines_text_is_its_models_canonical_form_or_the_models_refusal(data: dict[str, Any]) -> None:
    try:
        expected = validate_event(copy.deepcopy(data), where="line 1").canonical()
    except InvalidFill as refusal:
        with pytest.raises(InvalidFill, match=f"^{re.escape(str(refusal))}$"):
            EventText(data, where="line 1")
        return
    assert EventText(data, where="line 1").content() == expected
    assert list(expected) == list(EVENT_FIELDS)


@given(MOMENTS, ZONES)
def test_a_time_of_the_canonical_shape_that_reads_as_a_time_is_its_own_time_text(
    moment: datetime, zone: timezone
) -> None:
    for text in text_variants(moment.replace(tzinfo=zone)):
        if time_shaped(text):
            assert time_text(datetime.fromisoformat(text)) == text


def test_a_canonical_time_and_metadata_text_are_stored_as_they_were_checked() -> None:
    data = {**BASE, "occurred_at": "2024-01-02T14:30:00.001371+00:00", "metadata": {"z": [1.5, {"y": None}], "a": 2}}
    content = fast_canonical(data)
    assert content is not None
    assert content["occurred_at"] == "2024-01-02T14:30:00.001371+00:00"
    assert content["metadata"] == '{"a":2,"z":[1.5,{"y":null}]}'
    assert Fill.model_validate(data).canonical() == content


def test_a_time_written_otherwise_is_stored_as_time_text_writes_it() -> None:
    for given_as, stored in [
        ("2024-01-02T14:30:00+00:00", "2024-01-02T14:30:00.000000+00:00"),
        ("2024-01-02T14:30:00.001371Z", "2024-01-02T14:30:00.001371+00:00"),
        ("2024-01-02T15:30:00.001371+01:00", "2024-01-02T14:30:00.001371+00:00"),
        ("2024-01-02 14:30:00.001371+00:00", "2024-01-02T14:30:00.001371+00:00"),
    ]:
        content = fast_canonical({**BASE, "occurred_at": given_as})
        assert content is not None
        assert content["occurred_at"] == stored


def test_a_line_the_model_refuses_gets_no_fast_canonical_form() -> None:
    for data in [{**BASE, "occurred_at": "2024-02-30T14:30:00.000000+00:00"}, {**BASE, "quantity": Decimal("NaN")}]:
        assert fast_canonical(data) is None
        try:
            Fill.model_validate(data)
        except ValidationError:
            continue
        raise AssertionError(f"the model took {data!r}")
