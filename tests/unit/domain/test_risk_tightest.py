"""domain.risk.tightest: the levels a store keeps when a writer's row meets the stored row (spec section 4)."""

from __future__ import annotations

from decimal import Decimal

from tradeledger.domain.positions import PositionSide
from tradeledger.domain.risk import RiskLevels, tightest


def levels(opened_seq: int, stop: str | None, highest: str, lowest: str, take_profit: str = "150") -> RiskLevels:
    return RiskLevels(
        "default",
        "BTC/USD",
        opened_seq,
        None if stop is None else Decimal(stop),
        Decimal(take_profit),
        Decimal("0.01"),
        Decimal(highest),
        Decimal(lowest),
    )


def test_a_long_keeps_the_higher_stop_and_the_outer_watermarks() -> None:
    kept = tightest(levels(1, "118.8", "120", "100"), levels(1, "99.99", "101", "95"), PositionSide.LONG)

    assert kept == levels(1, "118.8", "120", "95")


def test_a_short_keeps_the_lower_stop() -> None:
    kept = tightest(levels(1, "90.9", "100", "90"), levels(1, "101", "102", "95"), PositionSide.SHORT)

    assert kept == levels(1, "90.9", "102", "90")


def test_a_stop_beats_no_stop_on_either_side() -> None:
    with_stop, without = levels(1, "99", "100", "100"), levels(1, None, "100", "100")

    assert tightest(with_stop, without, PositionSide.LONG).stop_loss_price == Decimal(99)
    assert tightest(without, with_stop, PositionSide.SHORT).stop_loss_price == Decimal(99)


def test_the_writers_take_profit_stays_and_another_cycles_row_is_replaced() -> None:
    mine = levels(1, "99", "100", "100", take_profit="104")

    assert tightest(levels(1, "99", "100", "100", take_profit="150"), mine, PositionSide.LONG).take_profit_price == 104
    assert tightest(levels(7, "500", "600", "1"), levels(9, "99", "100", "100"), PositionSide.LONG) == levels(
        9, "99", "100", "100"
    )
