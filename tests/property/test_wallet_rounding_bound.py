"""Property: the paper wallet's rounding bound holds for any history, and its invariant never breaks on one.

For any fills and funding payments with prices of up to 28 significant digits, quantities of up to 8
decimals, fees and rebates (domain.wallet), the two sides of the invariant, computed exactly, are never
further apart than `WalletBook.rounding`, the bound each event raises by 32E-27 times the largest amount
it touched: so no valid history raises InvariantViolation. `domain/wallet.py` says why the bound holds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeledger.domain.fills import Side
from tradeledger.domain.positions import Accounting, Execution, FundingPayment
from tradeledger.domain.wallet import WalletBook, WalletReplay

T0 = datetime(2026, 1, 5, tzinfo=UTC)
SPOT, PERP = "BTC/USD", "ETH/USDT:USDT"


def scaled(digits: int, places: int, *, signed: bool = False) -> st.SearchStrategy[Decimal]:
    """Decimals of up to `digits` significant digits and up to `places` decimals (never zero unless signed)."""
    low = -(10**digits) + 1 if signed else 1
    return st.builds(
        lambda whole, shift: Decimal(whole).scaleb(-shift),
        st.integers(min_value=low, max_value=10**digits - 1),
        st.integers(min_value=0, max_value=places),
    )


def _fill(symbol: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal) -> Accounting:
    return Execution(0, "a", symbol, side, quantity, price, fee, T0)


def _funding(amount: Decimal) -> Accounting:
    return FundingPayment(0, "a", "bybit", PERP, amount, "USDT", T0)


EVENTS = st.one_of(
    st.builds(
        _fill,
        st.sampled_from([SPOT, PERP]),
        st.sampled_from([Side.BUY, Side.SELL]),
        scaled(8, 8),
        scaled(28, 24),
        scaled(10, 12, signed=True),  # negative: a maker rebate
    ),
    st.builds(_funding, scaled(12, 10, signed=True)),
)


def _in_order(events: list[Accounting]) -> list[Accounting]:
    return [replace(event, seq=seq) for seq, event in enumerate(events, start=1)]


histories = st.lists(EVENTS, min_size=1, max_size=300).map(_in_order)


@settings(max_examples=150)
@given(events=histories)
def test_the_two_sides_are_never_further_apart_than_the_rounding_bound(events: list[Accounting]) -> None:
    replay = WalletReplay(Decimal(100000))
    wallet = replay.wallet
    assert isinstance(wallet, WalletBook)
    for event in events:
        replay.apply(event)  # checks the invariant after the event: raises if the bound did not hold
        assert abs(wallet.sides()[3]) <= wallet.rounding
