"""The reference fold's new position after an add or a reduction (rules 2 and 3 of spec section 4) is its old one
with the changed fields only: every other field is carried over, as `dataclasses.replace` would carry it."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

from tests.factories import T0
from tradeledger.domain.fills import Side
from tradeledger.domain.positions import Execution, Position, PositionSide
from tradeledger.domain.reference import apply_fill

OPEN = Position(
    account="desk",
    symbol="BTC/USD",
    side=PositionSide.LONG,
    quantity=Decimal(1),
    avg_price=Decimal(100),
    realized_pnl=Decimal("2.5"),
    fees=Decimal("0.1"),
    opened_at=T0,
    opened_seq=3,
    entered_quantity=Decimal(1),
    last_seq=4,
    funding=Decimal("-1.5"),
    unvalued_fees=(("BNB", Decimal("0.01")),),
)


def execution(side: Side, quantity: str, price: str, fee: str) -> Execution:
    return Execution(
        9, "desk", "BTC/USD", side, Decimal(quantity), Decimal(price), Decimal(fee), T0 + timedelta(hours=1),
        unvalued_fees=(("BNB", Decimal("0.02")),),
    )  # fmt: skip


def test_the_position_has_the_fields_the_reference_folds_moves_name() -> None:
    # reference._reduce and rule 2 of reference._trade name every field: a new one must be carried there too.
    assert [field.name for field in fields(Position)] == [
        "account", "symbol", "side", "quantity", "avg_price", "realized_pnl", "fees", "opened_at", "opened_seq",
        "entered_quantity", "last_seq", "funding", "unvalued_fees",
    ]  # fmt: skip


def test_an_add_changes_the_size_average_fees_and_last_seq_and_keeps_the_rest() -> None:
    # buy 1 @110 on long 1 @100: size 2, average (100 + 110) / 2 = 105
    outcome = apply_fill(OPEN, execution(Side.BUY, "1", "110", "0.2"))

    assert outcome.closed is None
    assert outcome.position == Position(
        account="desk",
        symbol="BTC/USD",
        side=PositionSide.LONG,
        quantity=Decimal(2),
        avg_price=Decimal(105),
        realized_pnl=Decimal("2.5"),
        fees=Decimal("0.3"),
        opened_at=T0,
        opened_seq=3,
        entered_quantity=Decimal(2),
        last_seq=9,
        funding=Decimal("-1.5"),
        unvalued_fees=(("BNB", Decimal("0.03")),),
    )


def test_a_reduction_changes_the_size_realized_fees_and_last_seq_and_keeps_the_rest() -> None:
    # sell 0.25 @120 on long 1 @100: realizes (120 - 100) * 0.25 = 5
    outcome = apply_fill(OPEN, execution(Side.SELL, "0.25", "120", "0.2"))

    assert outcome.closed is None
    assert outcome.position == Position(
        account="desk",
        symbol="BTC/USD",
        side=PositionSide.LONG,
        quantity=Decimal("0.75"),
        avg_price=Decimal(100),
        realized_pnl=Decimal("7.5"),
        fees=Decimal("0.3"),
        opened_at=T0,
        opened_seq=3,
        entered_quantity=Decimal(1),
        last_seq=9,
        funding=Decimal("-1.5"),
        unvalued_fees=(("BNB", Decimal("0.03")),),
    )
