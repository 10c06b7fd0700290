"""The anchor cases of reference/accounting-anchors.md through the stored projection: recorded fill by fill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.factories import fill_fields
from tests.unit.domain.test_accounting_anchors import (
    F64_PRICE,
    LEGS,
    LONG,
    SHORT,
    USDT,
    Cycle,
    Row,
    at_quantum,
    key,
    symbol_of,
)
from tradeledger import Ledger
from tradeledger.domain.positions import PositionSide


@dataclass(frozen=True)
class StoredAnchor:
    open: tuple[tuple[PositionSide, str, str, str, str], ...]  # side, signed qty, avg, net, fees
    closed: tuple[Cycle, ...]
    lifetime_net: str
    lifetime_fees: str
    money_quantum: str | None = None
    price_quantum: str | None = None

    def rows(self, rows: Sequence[tuple[PositionSide, str, str, str, str]]) -> list[Row]:
        return [
            (
                side,
                Decimal(quantity),
                at_quantum(Decimal(avg), self.price_quantum),
                at_quantum(Decimal(net), self.money_quantum),
                Decimal(fees),
            )
            for side, quantity, avg, net, fees in rows
        ]


STORED_ANCHORS = [
    pytest.param(
        "A9",
        StoredAnchor(
            open=((LONG, "19", "99.98003629764065", "36.16858966", "0.4521"),),
            closed=(),
            lifetime_net="36.16858966",
            lifetime_fees="0.4521",
            money_quantum=USDT,
            price_quantum=F64_PRICE,
        ),
        id="A9",
    ),
    pytest.param(
        "A17",
        StoredAnchor(
            open=(),
            closed=(
                (LONG, "100000", "0.70000", "7.20", "2.80"),
                (LONG, "150000", "0.70020", "-11.70", "4.20"),
                (SHORT, "200000", "0.70025", "10.40", "5.60"),
            ),
            lifetime_net="5.90",
            lifetime_fees="12.60",
        ),
        id="A17",
    ),
    pytest.param(
        "B8",
        StoredAnchor(
            open=((SHORT, "-50000", "0.75020", "-1.00", "1.00"),),
            closed=((LONG, "100000", "0.75000", "16.50", "3.50"),),
            lifetime_net="15.50",
            lifetime_fees="4.50",
        ),
        id="B8",
    ),
    pytest.param(
        "D5",
        StoredAnchor(
            open=(),
            closed=((LONG, "350", "10.0", "950", "0"),),
            lifetime_net="950",
            lifetime_fees="0",
        ),
        id="D5",
    ),
]


@pytest.mark.parametrize(("case_id", "anchor"), STORED_ANCHORS)
def test_stored_projection_gives_the_anchor_numbers(ledger: Ledger, case_id: str, anchor: StoredAnchor) -> None:
    symbol = symbol_of(case_id)
    for side, quantity, price, fee in LEGS[case_id]:  # one transaction per fill
        ledger.record(fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, fee=fee))

    state = ledger.state()

    money, price_q = anchor.money_quantum, anchor.price_quantum
    assert [
        (p.side, p.signed_quantity, at_quantum(p.avg_price, price_q), at_quantum(p.net_pnl, money), p.fees)
        for p in state.open
    ] == anchor.rows(anchor.open)
    assert [
        (c.side, c.quantity, at_quantum(c.avg_price, price_q), at_quantum(c.net_pnl, money), c.fees)
        for c in state.closed
    ] == anchor.rows(anchor.closed)
    totals = state.symbol_totals[key(symbol)]
    assert (at_quantum(totals.net_pnl, money), totals.fees) == (
        Decimal(anchor.lifetime_net),
        Decimal(anchor.lifetime_fees),
    )
