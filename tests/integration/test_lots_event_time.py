"""The lots follow the time the events occurred (spec section 11), not the order the log took them: a fill that a
sync backfilled after a later sale is a lot that sale can dispose of, with its own acquisition date, for every
method, in `gains`, `lots` and the check of `metadata.lots` at record time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidFill, Ledger

D = Decimal
TRANSFER_IDS = itertools.count(1)
SALE_AT = "2024-03-01T00:00:00+00:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def backfilled(ledger: Ledger) -> Ledger:
    """A buy of 1 @ 100 (2023-06-01), a sale of 1 @ 300 (2024-03-01), then, backfilled after the sale, a buy of
    1 @ 50 that occurred before both (2022-12-01): seq 3 is the oldest lot."""
    ledger.record_many(
        [
            fill_fields(quantity="1", price="100", occurred_at="2023-06-01T00:00:00+00:00"),
            fill_fields(side="sell", quantity="1", price="300", occurred_at=SALE_AT),
        ]
    )
    ledger.record(fill_fields(quantity="1", price="50", occurred_at="2022-12-01T00:00:00+00:00"))
    return ledger


def test_fifo_sells_the_backfilled_older_lot_with_its_acquisition_date_and_a_long_term(backfilled: Ledger) -> None:
    rows = backfilled.gains("fifo", year=2024).rows

    assert [
        (r.quantity, r.acquired_seq, r.acquired_at, r.disposed_seq, r.proceeds, r.cost_basis, r.gain, r.term)
        for r in rows
    ] == [(D(1), 3, at("2022-12-01T00:00:00+00:00"), 2, D(300), D(50), D(250), "long")]
    assert [(lot.acquired_seq, lot.quantity, lot.unit_cost) for lot in backfilled.lots("fifo").lots] == [
        (1, D(1), D(100))
    ]


def test_the_lots_open_at_a_time_are_listed_by_acquisition_time_whatever_their_seq(backfilled: Ledger) -> None:
    report = backfilled.lots("fifo", until_time=at("2024-01-01T00:00:00+00:00"))

    assert [(lot.acquired_seq, lot.acquired_at, lot.quantity) for lot in report.lots] == [
        (3, at("2022-12-01T00:00:00+00:00"), D(1)),
        (1, at("2023-06-01T00:00:00+00:00"), D(1)),
    ]
    assert report.seq == 3  # the last event folded


@pytest.fixture
def sale_before_its_buy(ledger: Ledger) -> Ledger:
    """A sale of 1 @ 300 (2024-03-01) recorded while the buy of 1 @ 200 that preceded it (2023-01-10) was missing;
    the buy backfilled after it (seq 2)."""
    ledger.record(fill_fields(side="sell", quantity="1", price="300", occurred_at=SALE_AT))
    ledger.record(fill_fields(quantity="1", price="200", occurred_at="2023-01-10T00:00:00+00:00"))
    return ledger


def test_a_sale_recorded_before_its_backfilled_buy_is_a_long_lot_sold_in_the_year_of_the_sale(
    sale_before_its_buy: Ledger,
) -> None:
    report = sale_before_its_buy.gains("fifo")

    assert [
        (r.quantity, r.acquired_seq, r.acquired_at, r.disposed_seq, r.disposed_at, r.gain, r.term) for r in report.rows
    ] == [(D(1), 2, at("2023-01-10T00:00:00+00:00"), 1, at(SALE_AT), D(100), "long")]
    assert report.missing == ()
    assert sale_before_its_buy.gains("fifo", year=2023).rows == ()
    assert sale_before_its_buy.lots("fifo").lots == ()


@pytest.mark.parametrize(
    ("method", "acquired_seq", "cost_basis"),
    [
        ("fifo", 1, D(100)),  # the oldest lot is the same in either order
        ("lifo", 3, D(200)),
        ("hifo", 3, D(200)),
        ("average", 1, D(150)),  # the average of both, the parts first in, first out
    ],
)
def test_every_method_matches_a_sale_against_the_lots_held_when_it_occurred(
    ledger: Ledger, method: str, acquired_seq: int, cost_basis: Decimal
) -> None:
    # 1 @ 100 (January), the sale (March), and 1 @ 200 of February backfilled after it.
    ledger.record(fill_fields(quantity="1", price="100", occurred_at="2024-01-01T00:00:00+00:00"))
    ledger.record(fill_fields(side="sell", quantity="1", price="300", occurred_at=SALE_AT))
    ledger.record(fill_fields(quantity="1", price="200", occurred_at="2024-02-01T00:00:00+00:00"))

    rows = ledger.gains(method).rows

    assert [(r.acquired_seq, r.disposed_seq, r.cost_basis, r.gain) for r in rows] == [
        (acquired_seq, 2, cost_basis, D(300) - cost_basis)
    ]


def test_a_sale_may_name_a_lot_recorded_after_it_in_its_batch_that_occurred_before_it(ledger: Ledger) -> None:
    ledger.record_many(
        [
            fill_fields(
                side="sell",
                quantity="1",
                price="300",
                occurred_at=SALE_AT,
                metadata={"lots": [{"seq": 2, "quantity": "1"}]},
            ),
            fill_fields(quantity="1", price="200", occurred_at="2024-02-01T00:00:00+00:00"),
        ]
    )

    rows = ledger.gains("specific").rows

    assert [(r.acquired_seq, r.disposed_seq, r.gain) for r in rows] == [(2, 1, D(100))]


def test_a_sale_naming_a_lot_that_occurred_after_it_is_refused_at_record_time(ledger: Ledger) -> None:
    ledger.record(fill_fields(quantity="1", price="200", occurred_at="2024-05-01T00:00:00+00:00"))

    with pytest.raises(
        InvalidFill,
        match=r"metadata\.lots: lot 1 occurred at 2024-05-01T00:00:00\+00:00, after this fill "
        r"\(2024-03-01T00:00:00\+00:00\)",
    ):
        ledger.record(
            fill_fields(
                side="sell",
                quantity="1",
                price="300",
                occurred_at=SALE_AT,
                metadata={"lots": [{"seq": 1, "quantity": "1"}]},
            )
        )


def withdrawal(**fields: Any) -> dict[str, Any]:
    return {
        "type": "transfer",
        "transfer_id": f"w-{next(TRANSFER_IDS)}",
        "exchange": "kraken",
        "currency": "BTC",
        "amount": "-1",
        "kind": "withdrawal",
        **fields,
    }


def test_a_withdrawal_disposes_of_a_buy_backfilled_after_it_that_occurred_before_it(ledger: Ledger) -> None:
    ledger.record(withdrawal(occurred_at=SALE_AT))
    ledger.record(fill_fields(quantity="1", price="200", occurred_at="2024-02-01T00:00:00+00:00"))

    report = ledger.gains("fifo", withdrawals_dispose=True)

    assert [(r.quantity, r.acquired_seq, r.disposed_seq, r.proceeds, r.cost_basis, r.gain) for r in report.rows] == [
        (D(1), 2, 1, D(200), D(200), D(0))
    ]
    assert report.missing == ()
    assert ledger.lots("fifo", withdrawals_dispose=True).lots == ()


def test_a_base_fee_of_a_sale_disposes_of_the_lots_held_when_the_sale_occurred(ledger: Ledger) -> None:
    ledger.record(fill_fields(quantity="2", price="100", occurred_at="2024-01-01T00:00:00+00:00"))
    sale = fill_fields(side="sell", quantity="1", price="300", fees=[{"amount": "0.1", "currency": "BTC"}])
    del sale["fee"]
    ledger.record({**sale, "occurred_at": SALE_AT})
    ledger.record(fill_fields(quantity="1", price="50", occurred_at="2023-12-01T00:00:00+00:00"))

    rows = ledger.gains("fifo").rows

    # The sale takes the backfilled lot of December (its proceeds less the fee of 0.1 BTC at 300), the fee then
    # 0.1 of January's lot at the fill price.
    assert [(r.quantity, r.acquired_seq, r.proceeds, r.cost_basis, r.gain) for r in rows] == [
        (D(1), 3, D(270), D(50), D(220)),
        (D("0.1"), 1, D(30), D(10), D(20)),
    ]
    assert [(lot.acquired_seq, lot.quantity) for lot in ledger.lots("fifo").lots] == [(1, D("1.9"))]


def test_a_base_fee_the_lots_held_when_it_occurred_cannot_pay_opens_a_short_lot_and_is_not_refused(
    ledger: Ledger,
) -> None:
    # In log order the fee of 0.07 BTC is paid out of the 0.1 left (1 + 0.05 - 0.95); when it occurred, the buy of
    # March had not yet come: 0.05 was left, and the fee's other 0.02 is a short lot that March's buy buys back.
    ledger.record(fill_fields(quantity="1", price="100", occurred_at="2024-01-01T00:00:00+00:00"))
    ledger.record(fill_fields(quantity="0.05", price="200", occurred_at="2024-03-01T00:00:00+00:00"))
    sale = fill_fields(side="sell", quantity="0.95", price="300", fees=[{"amount": "0.07", "currency": "BTC"}])
    del sale["fee"]
    ledger.record({**sale, "occurred_at": "2024-02-01T00:00:00+00:00"})

    rows = ledger.gains("fifo").rows

    assert [(r.disposed_seq, r.quantity, r.acquired_seq, r.proceeds, r.cost_basis, r.gain) for r in rows] == [
        (2, D("-0.02"), 3, D(6), D(4), D(2)),  # March's buy: the short lot of the fee bought back at 200
        (3, D("0.95"), 1, D(264), D(95), D(169)),  # the sale, less the fee's 0.07 at 300
        (3, D("0.05"), 1, D(15), D(5), D(10)),  # the fee, what January's lot had left
    ]
    assert [(lot.acquired_seq, lot.quantity, lot.unit_cost) for lot in ledger.lots("fifo").lots] == [
        (2, D("0.03"), D(200))
    ]
    assert ledger.state().open[0].signed_quantity == D("0.03")


def test_a_lot_that_occurred_at_the_sales_time_but_later_in_its_batch_is_refused(ledger: Ledger) -> None:
    # On a tie of times the seq orders them: the buy comes after the sale that names it.
    with pytest.raises(
        InvalidFill,
        match=r"fill 1: metadata\.lots: lot 2 occurred at 2024-03-01T00:00:00\+00:00, at the time of this fill, "
        r"recorded after it \(2024-03-01T00:00:00\+00:00\)",
    ):
        ledger.record_many(
            [
                fill_fields(
                    side="sell",
                    quantity="1",
                    price="300",
                    occurred_at=SALE_AT,
                    metadata={"lots": [{"seq": 2, "quantity": "1"}]},
                ),
                fill_fields(quantity="1", price="200", occurred_at=SALE_AT),
            ]
        )

    assert ledger.head.seq == 0
