"""The canonical texts of domain.fills (decimal_text, time_text), written for speed, are exactly their
plain definitions: the normalized value in fixed-point notation, and the time converted to UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, time_text


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
def test_a_decimal_text_is_the_normalized_value_in_fixed_point(value: Decimal) -> None:
    assert decimal_text(value) == plain_decimal_text(value)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),  # noqa: DTZ001 - naive, zoned below
    st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
def test_a_time_text_is_the_time_in_utc_whatever_its_zone(moment: datetime, zone: timezone) -> None:
    zoned = moment.replace(tzinfo=zone)
    assert time_text(zoned) == plain_time_text(zoned)
    assert time_text(datetime.fromisoformat(time_text(zoned))) == plain_time_text(zoned)
