"""The plainest fill's canonical fields written straight from its dict (domain.intake.fast_canonical) are
the model's or nothing: whatever the input, it gives what `Fill.model_validate(data).canonical()` gives,
or None (the model's way then takes it, and names what is wrong)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.property.test_intake_properties import BASE, CHANGES
from tradeledger.domain.fills import Fill, decimal_text
from tradeledger.domain.intake import fast_canonical

PLAIN = BASE
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=0, max_value=10**9)
PLAIN_AMOUNTS = st.one_of(
    DECIMALS.map(decimal_text),
    DECIMALS.map(lambda value: format(value.quantize(Decimal("1E-8")), "f")),  # as an exchange writes it: 8 places
    st.sampled_from(
        [
            "0.00000000000000000000001",  # 24 characters: 1E-23
            "0.000000000000000000000010000",  # the same, 1E-23, in 29
            "0012.500",
            "0.0",
            "00",
            "1." + "0" * 40,  # 42 characters: declined, the model takes it
            "123456789012345678901234",  # 24 digits
            "1234567890123456789012345",  # 25: declined, the model takes it
            "0." + "0" * 23 + "1",  # 1E-24, 26 characters: declined
            "0.1",
            "10",
            "1.05",
        ]
    ),
)
PLAIN_CHANGES: dict[str, st.SearchStrategy[Any]] = CHANGES | {
    "quantity": st.one_of(PLAIN_AMOUNTS, CHANGES["quantity"]),
    "price": st.one_of(PLAIN_AMOUNTS, CHANGES["price"]),
    "fee": st.one_of(PLAIN_AMOUNTS, CHANGES["fee"]),
    "occurred_at": st.one_of(
        CHANGES["occurred_at"],
        # Naive bounds: hypothesis attaches the zone (near 1970 and 9999, some times fall outside the range).
        st.datetimes(
            min_value=datetime(1969, 12, 31),  # noqa: DTZ001
            max_value=datetime(9999, 12, 31),  # noqa: DTZ001
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-3))]),
        ).map(datetime.isoformat),
    ),
    "symbol": st.sampled_from(["ETH/USD", "BTC/USDT:USDT", "BTC/USD:BTC", "btc/usd", "BTC-USD", "", 3]),
    "side": st.sampled_from(["sell", "buy", "SELL", "Buy", 1, None, ["buy"]]),
}


@st.composite
def plain_inputs(draw: st.DrawFn) -> dict[str, Any]:
    data = dict(PLAIN)
    for name in draw(st.lists(st.sampled_from(sorted(PLAIN_CHANGES)), max_size=4, unique=True)):
        data[name] = draw(PLAIN_CHANGES[name])
    for name in draw(st.lists(st.sampled_from(sorted(BASE)), max_size=1)):
        del data[name]
    return data


def assert_canonical_agrees(data: dict[str, Any]) -> dict[str, Any] | None:
    fast = fast_canonical(data)
    try:
        slow = Fill.model_validate(data)
    except ValidationError:
        assert fast is None
        return None
    if fast is not None:
        assert fast == slow.canonical()
        assert list(fast) == list(slow.canonical())
    return fast


@settings(max_examples=800, deadline=None)
@given(plain_inputs())
def test_the_plainest_fills_canonical_fields_are_the_models_or_nothing(data: dict[str, Any]) -> None:
    assert_canonical_agrees(data)


@pytest.mark.parametrize(
    "data",
    [
        PLAIN,
        PLAIN | {"fee": "0.01"},
        PLAIN | {"fee": "0"},
        PLAIN | {"fee": "0.000", "quantity": "0012.500", "price": "4.00000100"},
        PLAIN | {"symbol": "BTC/USDT:USDT", "fee": "12.5", "side": "sell", "price": "100"},
        PLAIN | {"strategy": "grid", "order_id": "o-1", "client_order_id": "c 1", "metadata": None, "type": "fill"},
        PLAIN | {"occurred_at": "2024-03-01T14:00:00.123+02:00", "exchange": ""},
        {key: value for key, value in PLAIN.items() if key != "account"},
    ],
)
def test_a_bots_plainest_fills_take_the_fused_path(data: dict[str, Any]) -> None:
    assert assert_canonical_agrees(data) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": "1e3"},
        {"price": "-1"},
        {"fee": "-0.0"},
        {"quantity": "1" * 25},
        {"quantity": Decimal(1)},
        {"fees": [{"amount": "0.1", "currency": "USDT"}]},
        {"metadata": {"note": "x"}},
        {"account": "caf\u00e9"},
        {"occurred_at": datetime(2024, 1, 1, tzinfo=UTC)},
        {"type": "funding"},
    ],
)
def test_any_other_fill_is_left_to_the_models_way(change: dict[str, Any]) -> None:
    assert fast_canonical(PLAIN | change) is None
