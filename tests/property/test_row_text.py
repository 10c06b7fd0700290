"""The canonical texts of domain.fills (decimal_text, time_text), written for speed, are exactly their
plain definitions: the normalized value in fixed-point notation, and the time converted to UTC; a fold's
stored_time (the log's text kept as it is when it is already canonical) is time_text of the time read."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tradeledger.domain.fills import LEDGER_CONTEXT, FeeEntry, decimal_text, fees_text, time_text
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
