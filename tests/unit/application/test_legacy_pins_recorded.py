"""The legacy TradeManager's pins (reference/legacy-system.md 6.2) that go through the Ledger: a summary of
recorded fills, and fills the legacy code recorded that the ledger refuses (spec 3), writing nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidFill, Ledger


def test_portfolio_summary_counts_fills_and_open_and_closed_positions(ledger: Ledger) -> None:
    ledger.record_many(
        [
            fill_fields(symbol="BTC/USD", side="buy", quantity="1", price="50000"),
            fill_fields(symbol="ETH/USD", side="buy", quantity="2", price="3000"),
            fill_fields(symbol="BTC/USD", side="sell", quantity="0.5", price="55000"),
        ]
    )

    state = ledger.state()

    # Legacy summary: total_trades 3, open 2, closed 0, BTC total_amount 0.5.
    assert (state.seq, len(state.open), len(state.closed)) == (3, 2, 0)
    assert [(p.symbol, p.quantity) for p in state.open] == [("BTC/USD", Decimal("0.5")), ("ETH/USD", Decimal(2))]


def test_a_zero_quantity_fill_is_refused_and_nothing_is_recorded(ledger: Ledger) -> None:
    # Legacy records a zero-amount trade in history and stats; spec 3 requires quantity > 0.
    with pytest.raises(InvalidFill, match="quantity"):
        ledger.record(fill_fields(quantity="0"))

    state = ledger.state()
    assert (state.seq, state.open, state.closed) == (0, (), ())


@pytest.mark.parametrize("side", ["short", "hold", "BUY", pytest.param("", id="empty")])
def test_an_unknown_side_is_refused_instead_of_becoming_a_short(ledger: Ledger, side: str) -> None:
    # Legacy treats every side other than "buy" as a short; spec 3 accepts only buy and sell.
    with pytest.raises(InvalidFill, match="side"):
        ledger.record(fill_fields(side=side))

    state = ledger.state()
    assert (state.seq, state.open, state.closed) == (0, (), ())
