"""The canonical texts of domain.fills (decimal_text, time_text), written for speed, are exactly their
plain definitions: the normalized value in fixed-point notation, and the time converted to UTC; a fold's
stored_time (the log's text kept as it is when it is already canonical) is time_text of the time read;
metadata_text is json.dumps with sorted keys, refusing what it refuses with the same error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NoReturn

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tradeledger.domain.fills import LEDGER_CONTEXT, FeeEntry, decimal_text, fees_text, metadata_text, time_text
from tradeledger.domain.fold_state import stored_time


def plain_decimal_text(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(LEDGER_CONTEXT), "f")


def plain_time_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# Every kind of exponent the ledger's amounts take: whole numbers ending in zeros, tiny fractions,
# 28 significant digits, signed zeros with exponents.
amounts = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda value: abs(value.adjusted()) < 40
) | st.builds(Decimal, st.sampled_from(["0", "-0", "0E-8", "0E+3", "1E+2", "-1E+5", "1E-7", "0.000001", "12.3400"]))


@given(amounts)
@example(Decimal("41.15000411500"))
@example(Decimal(1234567890123456789012345678))
@example(Decimal(12345678901234567890123456789))  # 29 digits: normalize rounds them, so must decimal_text
@example(Decimal("-1.234567890123456789012345679"))  # 28 digits and a sign: 30 characters
@example(Decimal("0.1234567890123456789012345"))  # 28 characters, canonical as str writes it
@example(Decimal("-0.000001"))
def test_a_decimal_text_is_the_normalized_value_in_fixed_point(value: Decimal) -> None:
    assert decimal_text(value) == plain_decimal_text(value)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),  # noqa: DTZ001 - naive, zoned below
    st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
@example(datetime(2024, 1, 2, 14, 30), UTC)  # noqa: DTZ001 - zoned by the test
@example(datetime(2024, 1, 2, 14, 30, 0, 1371), timezone(timedelta(hours=-8)))  # noqa: DTZ001 - zoned by the test
def test_a_time_text_is_the_time_in_utc_whatever_its_zone(moment: datetime, zone: timezone) -> None:
    zoned = moment.replace(tzinfo=zone)
    assert time_text(zoned) == plain_time_text(zoned)
    assert time_text(datetime.fromisoformat(time_text(zoned))) == plain_time_text(zoned)


def text_variants(moment: datetime) -> list[str]:
    """Spellings of one time fromisoformat reads: the canonical one and others (offset, precision, separator)."""
    naive = moment.replace(tzinfo=None)
    return [
        time_text(moment),
        moment.isoformat(),
        moment.isoformat(timespec="milliseconds"),
        moment.isoformat(sep=" ", timespec="microseconds"),
        moment.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="microseconds"),
        naive.isoformat(timespec="microseconds") + "Z",
        time_text(moment).replace(".", ","),
    ]


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),  # noqa: DTZ001 - naive, zoned below
    st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
def test_a_folds_stored_time_is_the_time_text_of_what_the_log_holds(moment: datetime, zone: timezone) -> None:
    zoned = moment.replace(tzinfo=zone)
    for text in text_variants(zoned):
        assert stored_time(text) == time_text(datetime.fromisoformat(text))
    assert stored_time(zoned) == time_text(zoned)
    canonical = time_text(zoned)
    assert stored_time(canonical) is canonical  # the log's canonical text is written as it is


@given(st.text(alphabet="0123456789-T:.+x Z\u0661", min_size=32, max_size=32))
@example("2026-13-05T10:00:00.000000+00:00")
@example("2026-02-30T10:00:00.000000+00:00")
@example("2026-01-05T10:00:0a.000000+00:00")
@example("2026-01-05T10:00:00.00000\u0661+00:00")
def test_a_stored_time_refuses_what_fromisoformat_refuses(text: str) -> None:
    try:
        expected = time_text(datetime.fromisoformat(text))
    except ValueError as refused:
        message = str(refused)
    else:
        assert stored_time(text) == expected
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        stored_time(text)


def plain_fees_text(fees: tuple[FeeEntry, ...]) -> str:
    """The fees' canonical JSON by its definition: the entries with an amount, sorted, as json.dumps writes them."""
    kept = sorted(
        (fee.currency or "", fee.amount, "" if fee.quote_value is None else decimal_text(fee.quote_value))
        for fee in fees
        if fee.amount != 0
    )
    entries = [
        {"amount": decimal_text(amount), "currency": currency} | ({"quote_value": value} if value else {})
        for currency, amount, value in kept
    ]
    return json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


fee_entries = st.builds(
    lambda amount, currency, quote_value: FeeEntry.model_construct(
        amount=amount, currency=currency, quote_value=quote_value
    ),
    amounts,
    st.sampled_from(["USDT", "BNB", "\u00e9T", None]),
    st.none() | amounts,
)


@given(st.lists(fee_entries, max_size=3).map(tuple))
@example((FeeEntry.model_construct(amount=Decimal("0.00"), currency="USD", quote_value=None),))
@example((FeeEntry.model_construct(amount=Decimal("1.50"), currency="BNB", quote_value=Decimal("300.10")),))
def test_a_fees_text_is_the_canonical_json_of_the_entries_with_an_amount(fees: tuple[FeeEntry, ...]) -> None:
    assert fees_text(fees) == plain_fees_text(fees)
    assert fees_text(list(fees)) == plain_fees_text(fees)  # any iterable, not only a fill's tuple


def _not_json(value: object) -> NoReturn:
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


def plain_metadata_text(value: dict[Any, Any]) -> str:
    """Metadata's canonical JSON by its definition: json.dumps with sorted keys, compact, UTF-8 as is, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_not_json
    )


def _text_or_refusal(write: Callable[[Any], str | None], value: dict[Any, Any]) -> object:
    try:
        return write(value)
    except (TypeError, ValueError) as error:
        return (type(error), str(error))


# What a caller may put in metadata: JSON values, numbers a float or an int writes, keys json turns into
# text (or refuses to sort with others), and values that are not JSON (refused).
json_keys = st.text(max_size=3) | st.integers(-2, 2) | st.booleans() | st.none() | st.floats(width=16)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from([Decimal("1.5"), frozenset({1}), b"x", '\u00e9\U0001f600\x00\u2028"\\'])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(json_keys, children, max_size=3)
    ),
    max_leaves=12,
)


@given(st.dictionaries(json_keys, json_values, max_size=4))
@example({"b": 1, "a": {"d": [1.5, None, True], "c": "\u00e9"}})
@example({"n": float("nan")})
@example({"b": "x", 1: "y"})
def test_a_metadata_text_is_json_dumps_with_sorted_keys_or_its_refusal(value: dict[Any, Any]) -> None:
    assert _text_or_refusal(metadata_text, value) == _text_or_refusal(plain_metadata_text, value)
