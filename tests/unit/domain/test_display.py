"""The display rule (domain.display): ordinary amounts to a fixed number of places as before; a nonzero amount
that would round to 0 to its first 4 significant digits; never "0" for a nonzero amount, never "-0"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeledger.domain.display import display_text


@pytest.mark.parametrize(
    ("value", "places", "keep_places", "commas", "shown"),
    [
        # ordinary values: what the tables printed before (8 places, trailing zeros dropped; money to the cent)
        ("99.999999967000000011", 8, 0, False, "99.99999997"),
        ("3.000000001", 8, 0, False, "3"),
        ("100", 8, 0, False, "100"),
        ("1E+2", 8, 0, False, "100"),
        ("0.00000001", 8, 0, False, "0.00000001"),
        ("0.000000005", 8, 0, False, "0.000000005"),  # half-even would make it 0: four digits instead
        ("0.000000015", 8, 0, False, "0.00000002"),
        ("12.345", 2, 2, True, "12.34"),
        ("1234567.5", 2, 2, True, "1,234,567.50"),
        ("-3.4271", 2, 2, True, "-3.43"),
        ("0", 2, 2, True, "0.00"),
        ("-0", 2, 2, True, "0.00"),
        ("-0", 8, 0, False, "0"),
        ("50000000000000000000.1234567", 8, 0, False, "50000000000000000000.1234567"),
        ("1000000000000000000000001", 2, 2, True, "1,000,000,000,000,000,000,000,001.00"),
        # tiny values: their first four significant digits, half-even, trailing zeros dropped
        ("3.1E-10", 8, 0, False, "0.00000000031"),
        ("3.1E-10", 8, 2, True, "0.00000000031"),
        ("1E-12", 2, 2, True, "0.000000000001"),
        ("-1E-12", 8, 0, False, "-0.000000000001"),
        ("-0.001", 2, 2, True, "-0.001"),
        ("0.000199999998", 2, 2, True, "0.0002"),
        ("0.000000001234567", 8, 0, False, "0.000000001235"),
        ("1E-24", 8, 0, False, "0.000000000000000000000001"),
        ("-0.0000001", 2, 2, False, "-0.0000001"),
    ],
)
def test_display_text(value: str, places: int, keep_places: int, commas: bool, shown: str) -> None:
    assert display_text(Decimal(value), places, keep_places=keep_places, commas=commas) == shown


def test_an_amount_past_a_hundred_digits_is_rounded_without_an_error() -> None:
    value = Decimal("1.5E+120")

    assert display_text(value, 2, keep_places=2) == "15" + "0" * 119 + ".00"


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1E+30"), max_value=Decimal("1E+30")),
    st.sampled_from([2, 8]),
)
def test_a_nonzero_amount_never_reads_as_zero_and_keeps_its_sign(value: Decimal, places: int) -> None:
    shown = display_text(value, places)

    assert (Decimal(shown) == 0) == (value == 0)
    assert shown.startswith("-") == (value < 0)
    assert abs(Decimal(shown) - value) <= max(Decimal(1).scaleb(-places) / 2, abs(value) / 1000)
