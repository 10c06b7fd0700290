"""The legacy TradeManager's fill-arithmetic pins (reference/legacy-system.md 6.2 and 1.3) under spec 4.

Where the legacy code is kept, the legacy number is asserted. Where we deliberately differ, the test
asserts our behaviour and says why:

* a zero-quantity fill is refused (InvalidFill), not recorded without effect (spec 3: quantity > 0);
* an unknown side is refused, not silently turned into a short (spec 3);
* a flip closes the old cycle into the closed positions and opens a NEW cycle at the fill price,
  with realized PnL starting at 0, not carried over (spec 4, rule 4);
* closing fees count in the cycle's fees (spec 4: fees hold every fee of the cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import BOOKS, T0, EngineBook, executions
from tradeledger.domain.positions import Position, PositionSide
from tradeledger.domain.reference import ReferenceFold

LONG = PositionSide.LONG
new_book: Callable[[], EngineBook | ReferenceFold] = ReferenceFold


@pytest.fixture(autouse=True, params=sorted(BOOKS))
def each_fold(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case runs on the engine and on the reference fold."""
    monkeypatch.setattr(f"{__name__}.new_book", BOOKS[request.param])


SHORT = PositionSide.SHORT
BTC = ("default", "BTC/USD")


def fold(*legs: tuple[str, str, str] | tuple[str, str, str, str]) -> EngineBook | ReferenceFold:
    return new_book().apply_all(executions(*legs))


def btc_position(*legs: tuple[str, str, str] | tuple[str, str, str, str]) -> Position:
    return fold(*legs).open[BTC]


# --- tests/test_trade_manager.py pins that hold unchanged ----------------------------------


def test_cost_basis_of_a_fill_is_quantity_times_price_without_the_fee() -> None:
    # Legacy Trade.total_value: 1.5 @ 50000 (fee 0.001) -> 75000, fees excluded.
    position = btc_position(("buy", "1.5", "50000", "0.001"))

    cost_basis = position.quantity * position.avg_price

    assert (cost_basis, position.fees) == (Decimal(75000), Decimal("0.001"))


def test_unrealized_pnl_of_a_long_is_in_quote_and_in_percent_of_the_cost_basis() -> None:
    position = btc_position(("buy", "1", "50000"))

    pnl, pct = position.unrealized_pnl(Decimal(55000)), position.unrealized_pnl_pct(Decimal(55000))

    assert (pnl, pct) == (Decimal(5000), Decimal("10.0"))


def test_unrealized_pnl_of_a_short_is_negative_when_the_price_rises() -> None:
    # Legacy pins the percentage as roughly -6.67; spec 4 keeps 28 significant digits.
    position = btc_position(("sell", "2", "3000"))

    pnl, pct = position.unrealized_pnl(Decimal(3200)), position.unrealized_pnl_pct(Decimal(3200))

    assert (pnl, pct) == (Decimal(-400), Decimal("-6.666666666666666666666666667"))
    assert pct.quantize(Decimal("0.01")) == Decimal("-6.67")


def test_adding_on_the_same_side_averages_the_entry_price() -> None:
    position = btc_position(("buy", "1", "3000"), ("buy", "1", "3100"))

    assert (position.quantity, position.avg_price) == (Decimal(2), Decimal(3050))


def test_reducing_keeps_the_average_and_realizes_the_gain() -> None:
    position = btc_position(("buy", "2", "50000"), ("sell", "1", "55000"))

    assert (position.quantity, position.avg_price, position.realized_pnl) == (
        Decimal(1),
        Decimal(50000),
        Decimal(5000),
    )


def test_partial_close_after_adding_realizes_against_the_weighted_average() -> None:
    # avg = 152000/3 held to 28 significant digits, so the realized figure is exactly
    # 1999.999999999999999999999995, not 2000: nothing is rounded on the way (spec 4);
    # the legacy pins 50666.67 and ~2000.00 are the display roundings.
    position = btc_position(("buy", "1", "50000"), ("buy", "2", "51000"), ("sell", "1.5", "52000"))

    assert (position.quantity, position.avg_price, position.realized_pnl) == (
        Decimal("1.5"),
        Decimal("50666.66666666666666666666667"),
        Decimal("1999.999999999999999999999995"),
    )
    assert (position.avg_price.quantize(Decimal("0.01")), position.realized_pnl.quantize(Decimal("0.01"))) == (
        Decimal("50666.67"),
        Decimal("2000.00"),
    )


# --- where we deliberately differ from the legacy code -------------------------------------


def test_closing_fees_count_in_the_cycle_fees() -> None:
    # Legacy step 3 keeps fees_paid at 0.2 (closing fees ignored); spec 4 counts every fee.
    position = btc_position(("buy", "1", "100", "0.1"), ("buy", "1", "110", "0.1"), ("sell", "0.5", "120", "0.2"))

    assert (position.realized_pnl, position.fees, position.net_pnl) == (
        Decimal("7.5"),
        Decimal("0.4"),
        Decimal("7.1"),
    )


def test_a_flip_opens_a_new_cycle_at_the_fill_price_without_carrying_realized_over() -> None:
    # Legacy step 4 replaces the position with short 1 @ 130 carrying realized 45 and only this
    # trade's fee 0.3 (the old fees are lost). Spec 4 rule 4: the old cycle closes with its own
    # realized and its share of the fee; the new cycle starts at 0 with the rest of the fee.
    book = fold(
        ("buy", "1", "100", "0.1"),
        ("buy", "1", "110", "0.1"),
        ("sell", "0.5", "120", "0.2"),
        ("sell", "2.5", "130", "0.3"),
    )

    (closed,) = book.closed
    reopened = book.open[BTC]

    assert (closed.side, closed.quantity, closed.avg_price, closed.realized_pnl, closed.fees) == (
        LONG,
        Decimal(2),
        Decimal(105),
        Decimal(45),
        Decimal("0.58"),  # 0.4 + 1.5/2.5 of 0.3
    )
    assert (reopened.side, reopened.quantity, reopened.avg_price, reopened.realized_pnl, reopened.fees) == (
        SHORT,
        Decimal(1),
        Decimal(130),
        Decimal(0),
        Decimal("0.12"),  # 1/2.5 of 0.3
    )


# --- section 1.3's six-step example under our rules ------------------------------------------

SIX_STEPS = (
    ("buy", "1", "100", "0.1"),
    ("buy", "1", "110", "0.1"),
    ("sell", "0.5", "120", "0.2"),
    ("sell", "2.5", "130", "0.3"),
    ("buy", "1", "125"),
    ("sell", "1", "200"),
)

OpenRow = tuple[PositionSide, Decimal, Decimal, Decimal, Decimal]  # side, quantity, avg, realized, fees


def open_row(side: PositionSide, quantity: str, avg: str, realized: str, fees: str) -> OpenRow:
    return (side, Decimal(quantity), Decimal(avg), Decimal(realized), Decimal(fees))


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # legacy: long 1 @ 100, fees 0.1 (same)
        pytest.param(1, open_row(LONG, "1", "100", "0", "0.1"), id="step1"),
        # legacy: long 2 @ 105, fees 0.2 (same; legacy also drops the trade from position.trades)
        pytest.param(2, open_row(LONG, "2", "105", "0", "0.2"), id="step2"),
        # legacy: fees still 0.2; we count the closing fee
        pytest.param(3, open_row(LONG, "1.5", "105", "7.5", "0.4"), id="step3"),
        # legacy: short 1 @ 130, realized 45 carried over, fees 0.3; we start a new cycle
        pytest.param(4, open_row(SHORT, "1", "130", "0", "0.12"), id="step4"),
        # legacy: amount 0 kept in positions with realized 50; we are flat, the cycle is closed
        pytest.param(5, None, id="step5"),
        # legacy: short 1 @ 200 with realized 50 and the step-4 entry time; we open cycle 3
        pytest.param(6, open_row(SHORT, "1", "200", "0", "0"), id="step6"),
    ],
)
def test_six_step_example_follows_spec_rules(steps: int, expected: OpenRow | None) -> None:
    position = fold(*SIX_STEPS[:steps]).open.get(BTC)

    observed = (
        None
        if position is None
        else (position.side, position.quantity, position.avg_price, position.realized_pnl, position.fees)
    )

    assert observed == expected


def test_six_step_example_closes_two_cycles_and_reopens_at_the_last_fill() -> None:
    book = fold(*SIX_STEPS)

    cycles = [
        (c.side, c.quantity, c.avg_price, c.realized_pnl, c.fees, c.net_pnl, c.opened_seq, c.closed_seq)
        for c in book.closed
    ]
    reopened = book.open[BTC]

    assert cycles == [
        (LONG, Decimal(2), Decimal(105), Decimal(45), Decimal("0.58"), Decimal("44.42"), 1, 4),
        (SHORT, Decimal(1), Decimal(130), Decimal(5), Decimal("0.12"), Decimal("4.88"), 4, 5),
    ]
    # Legacy keeps the step-4 entry_time; the new cycle opens at the step-6 fill.
    assert (reopened.opened_seq, reopened.opened_at) == (6, T0 + timedelta(seconds=6))


def test_six_step_example_lifetime_totals_match_legacy_statistics() -> None:
    # Legacy statistics: total_realized_pnl 50.0 (gross) and total_fees 0.7 (every fee, counted
    # per trade). Our lifetime totals agree; net is 49.3. total_volume 920.0 is not a position figure.
    book = fold(*SIX_STEPS)

    totals = book.totals[BTC]

    assert (totals.realized_pnl, totals.fees, totals.net_pnl) == (Decimal(50), Decimal("0.7"), Decimal("49.3"))
