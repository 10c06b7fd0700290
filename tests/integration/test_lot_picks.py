"""Specific lots (spec section 11) through the Ledger: `metadata.lots` checked in the append transaction, and
the gains and open lots folded from the stored log, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import fill_fields
from tests.integration.test_bad_input import assert_unchanged, snapshot
from tradeledger import InvalidArgument, InvalidFill, Ledger

D = Decimal


def named(*lots: tuple[int, str], **fields: Any) -> dict[str, Any]:
    """A sell naming its lots: named((1, "0.5"), (2, "1"), quantity="1.5")."""
    picks = [{"seq": seq, "quantity": quantity} for seq, quantity in lots]
    return fill_fields(side="sell", price="300", metadata={"lots": picks}, **fields)


@pytest.fixture
def bought(ledger: Ledger) -> Ledger:
    """Three BTC lots (seq 1 @ 100, 2 @ 200, 3 @ 300), an ETH lot (4) and another account's BTC lot (5)."""
    ledger.record_many(
        [
            fill_fields(quantity="1", price="100"),
            fill_fields(quantity="2", price="200"),
            fill_fields(quantity="1", price="300"),
            fill_fields(symbol="ETH/USD", quantity="1", price="10"),
            fill_fields(account="other", quantity="1", price="50"),
        ]
    )
    return ledger


def test_a_specific_sale_takes_the_lots_it_names(bought: Ledger) -> None:
    bought.record(named((2, "1.5"), (1, "0.5"), quantity="2"))

    rows = bought.gains("specific").rows
    assert [(r.acquired_seq, r.quantity, r.cost_basis, r.gain) for r in rows] == [
        (2, D("1.5"), D(300), D(150)),
        (1, D("0.5"), D(50), D(100)),
    ]
    assert [
        (lot.acquired_seq, lot.quantity)
        for lot in bought.lots("specific").lots
        if lot.account == "default" and lot.currency == "BTC"
    ] == [
        (1, D("0.5")),
        (2, D("0.5")),
        (3, D(1)),
    ]


def test_under_another_method_the_named_lots_are_not_used(bought: Ledger) -> None:
    bought.record(named((3, "1"), quantity="1"))

    assert [r.acquired_seq for r in bought.gains("fifo").rows] == [1]
    assert [r.acquired_seq for r in bought.gains("specific").rows] == [3]


@pytest.mark.parametrize(
    ("fill", "fragment"),
    [
        (named((1, "1"), quantity="2"), "the lots named sum to 1, not to the quantity disposed 2"),
        (named((99, "1"), quantity="1"), "lot 99 does not exist"),
        (named((4, "1"), quantity="1"), "lot 4 does not exist"),  # ETH, not BTC
        (named((5, "1"), quantity="1"), "lot 5 does not exist"),  # another account's
        # (made before the fixture's lots: a later time given, as a sale that occurred before a lot cannot name it)
        (named((1, "1.5"), quantity="1.5", occurred_at="2027-01-01T00:00:00+00:00"), "lot 1 is used up: it acquired 1"),
        (named((0, "1"), quantity="1"), "seq must be"),
        (named((1, "1"), (2, "1E-30"), quantity="1"), "quantity of lot 2 is out of range"),
        (named((10**23, "1"), quantity="1"), "lot 100000000000000000000000 does not exist"),
        (fill_fields(side="sell", metadata={"lots": "1"}), "must be a list"),
        (fill_fields(side="buy", metadata={"lots": [{"seq": 1, "quantity": "1"}]}), "no sell of BTC/USD"),
        (
            fill_fields(symbol="BTC/USD:USD", side="sell", metadata={"lots": [{"seq": 1, "quantity": "1"}]}),
            "contracts have positions, not lots",
        ),
    ],
)
def test_a_bad_lot_name_is_refused_naming_metadata_lots_and_nothing_is_written(
    bought: Ledger, db_url: str, fill: dict[str, Any], fragment: str
) -> None:
    before = snapshot(bought, db_url)

    with pytest.raises(InvalidFill, match=r"fill 1: metadata\.lots: ") as refused:
        bought.record(fill)

    assert fragment in str(refused.value)
    assert "(got " in str(refused.value)
    assert_unchanged(bought, db_url, before)


def test_a_lot_named_by_an_earlier_sale_is_used_up_by_what_it_named(bought: Ledger, db_url: str) -> None:
    bought.record(named((2, "1.5"), quantity="1.5"))
    before = snapshot(bought, db_url)

    with pytest.raises(
        InvalidFill, match=r"lot 2 is used up: it acquired 2, earlier disposals named 1\.5, 0\.5 is left"
    ):
        bought.record(named((2, "1"), quantity="1"))

    assert_unchanged(bought, db_url, before)
    bought.record(named((2, "0.5"), quantity="0.5"))


def test_a_batch_whose_later_fill_overdraws_a_lot_writes_nothing(bought: Ledger, db_url: str) -> None:
    before = snapshot(bought, db_url)

    with pytest.raises(InvalidFill, match=r"fill 2: metadata\.lots: lot 3 is used up"):
        bought.record_many([named((3, "1"), quantity="1"), named((3, "1"), quantity="1")])

    assert_unchanged(bought, db_url, before)


def test_a_lot_acquired_earlier_in_the_same_batch_can_be_named(ledger: Ledger) -> None:
    ledger.record_many([fill_fields(quantity="1", price="100"), named((1, "1"), quantity="1")])

    assert [r.acquired_seq for r in ledger.gains("specific").rows] == [1]


def test_gains_refuses_a_named_lot_that_an_earlier_years_method_used_up(ledger: Ledger) -> None:
    ledger.record_many(
        [
            fill_fields(quantity="1", price="100", occurred_at="2024-01-01T00:00:00+00:00"),
            fill_fields(quantity="1", price="200", occurred_at="2024-01-02T00:00:00+00:00"),
        ]
    )
    ledger.record(named((2, "1"), quantity="1", occurred_at="2024-06-01T00:00:00+00:00"))
    ledger.record(named((1, "1"), quantity="1", occurred_at="2025-06-01T00:00:00+00:00"))

    assert [r.acquired_seq for r in ledger.gains("specific", year=2025).rows] == [1]
    with pytest.raises(InvalidArgument, match=r"seq 4: metadata\.lots: lot 1 has 0 open"):
        ledger.gains(["fifo", "2025=specific"], year=2025)


def test_gains_by_year_and_account_and_their_methods(bought: Ledger) -> None:
    bought.record(fill_fields(side="sell", quantity="1", price="400", occurred_at="2026-03-01T00:00:00+00:00"))
    bought.record(fill_fields(account="other", side="sell", quantity="1", price="60"))

    report = bought.gains(["lifo", "2027=hifo"], year=2026, account="default")

    assert [(r.account, r.acquired_seq, r.gain) for r in report.rows] == [("default", 3, D(100))]
    assert report.plan.method_of(2026).value == "lifo"
    assert bought.gains("fifo").methods() == {"2026": "fifo"}
    assert bought.gains(["fifo", "2030=hifo"]).methods() == {"2026": "fifo", "2030": "hifo"}


def test_a_year_out_of_range_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidArgument, match="year: must be a year from 1970 to 9999 \\(got 10000\\)"):
        ledger.gains("fifo", year=10_000)


def test_a_sale_naming_lots_whose_rest_would_need_more_than_28_digits_is_refused(ledger: Ledger, db_url: str) -> None:
    ledger.record_many([fill_fields(quantity="50000", price="1"), fill_fields(quantity="50000", price="2")])
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill, match=r"fill 1: metadata\.lots: lot 1 ") as refused:
        ledger.record(named((1, "0.999999999999999999999999"), (2, "0.000000000000000000000001"), quantity="1"))

    assert "50000 - 0.999999999999999999999999 needs more than 28 significant digits" in str(refused.value)
    assert_unchanged(ledger, db_url, before)


# Every lot `lots` lists can be named: a base rebate is coins acquired at the fill price, a base fee on a short grows
# the short at the fill price (spec section 9), and the lot they open carries the seq of the fill that paid the fee.
REBATE = [{"amount": "-0.01", "currency": "BTC"}]


def paying(fees: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    """A fill's fields with `fees` in place of the legacy fee."""
    made = fill_fields(**fields)
    del made["fee"]
    return {**made, "fees": fees}


def parts(ledger: Ledger) -> list[tuple[int, int, Decimal, Decimal, Decimal, Decimal]]:
    """(disposed seq, acquired seq, quantity, proceeds, cost basis, gain) of each row of `gains --method specific`."""
    return [
        (r.disposed_seq, r.acquired_seq, r.quantity, r.proceeds, r.cost_basis, r.gain)
        for r in ledger.gains("specific").rows
    ]


def test_the_lot_a_sales_base_rebate_acquired_can_be_named_by_a_specific_sale(ledger: Ledger) -> None:
    ledger.record(fill_fields(quantity="1", price="100"))
    ledger.record(paying(REBATE, side="sell", quantity="0.5", price="200"))  # 0.01 acquired at 200: lot 2
    assert [(lot.acquired_seq, lot.quantity) for lot in ledger.lots("fifo").lots] == [(1, D("0.5")), (2, D("0.01"))]

    ledger.record(named((2, "0.01"), quantity="0.01"))

    # The sale of seq 2 brought 100 and 0.01 BTC worth 2 (its rebate, in the proceeds): 102 for a cost of 50.
    # Then 0.01 of lot 2 (cost 2) sold at 300: proceeds 3, gain 1.
    assert parts(ledger) == [(2, 1, D("0.5"), D(102), D(50), D(52)), (3, 2, D("0.01"), D(3), D(2), D(1))]


def test_all_a_buy_with_a_base_rebate_acquired_can_be_named_by_a_specific_sale(ledger: Ledger) -> None:
    ledger.record(paying(REBATE, quantity="1", price="100"))  # 1.01 acquired for 100
    assert [(lot.acquired_seq, lot.quantity) for lot in ledger.lots("fifo").lots] == [(1, D("1.01"))]

    ledger.record(named((1, "1.01"), quantity="1.01"))

    assert parts(ledger) == [(2, 1, D("1.01"), D("303"), D(100), D(203))]


def test_the_short_lot_a_buys_base_fee_opened_can_be_named_by_a_specific_buy(ledger: Ledger) -> None:
    ledger.record(fill_fields(side="sell", quantity="1", price="100"))  # a short lot of 1 @ 100
    # Covers 0.5 of it; its fee of 0.01 BTC is a sale of 0.01 at 90 that grows the short: lot 2, 0.01 @ 90.
    ledger.record(paying([{"amount": "0.01", "currency": "BTC"}], quantity="0.5", price="90"))
    assert [(lot.acquired_seq, lot.quantity) for lot in ledger.lots("fifo").lots] == [(1, D("-0.5")), (2, D("-0.01"))]

    cover = fill_fields(quantity="0.01", price="80", metadata={"lots": [{"seq": 2, "quantity": "0.01"}]})
    ledger.record(cover)

    # The buy of seq 2 closed 0.5 of lot 1 (sold for 50) for 45 and its fee 0.9; lot 2 (sold for 0.9) closed for 0.8.
    assert parts(ledger) == [
        (2, 1, D("-0.5"), D(50), D("45.9"), D("4.1")),
        (3, 2, D("-0.01"), D("0.9"), D("0.8"), D("0.1")),
    ]


TRANSFER_IDS = itertools.count(1)


def withdrawing(*lots: tuple[int, str], kind: str = "withdrawal", **fields: Any) -> dict[str, Any]:
    """A transfer of BTC out of `default` naming lots: withdrawing((1, "0.5"), amount="-0.5")."""
    picks = [{"seq": seq, "quantity": quantity} for seq, quantity in lots]
    return {
        "type": "transfer",
        "transfer_id": f"w-{next(TRANSFER_IDS)}",
        "exchange": "kraken",
        "currency": "BTC",
        "amount": "-1",
        "kind": kind,
        "occurred_at": "2026-02-01T00:00:00+00:00",
        "metadata": {"lots": picks},
        **fields,
    }


@pytest.mark.parametrize(
    ("transfer", "fragment"),
    [
        (withdrawing((1, "1"), amount="-2"), "the lots named sum to 1, not to the quantity disposed 2"),
        (withdrawing((1, "0.5"), amount="-0.4", fee="0.2"), "sum to 0.5, not to the quantity disposed 0.6"),
        (withdrawing((4, "1")), "lot 4 does not exist"),  # ETH, not BTC
        (withdrawing((5, "1")), "lot 5 does not exist"),  # another account's
        (withdrawing((1, "1.5"), amount="-1.5"), "lot 1 is used up: it acquired 1"),
        (withdrawing((1, "1"), kind="deposit", amount="1"), "a deposit disposes of no lots"),
        (withdrawing((1, "1"), kind="internal"), "an internal move disposes of no lots"),
        ({**withdrawing(), "metadata": {"lots": "1"}}, "must be a list"),
    ],
)
def test_a_transfer_naming_lots_badly_is_refused_naming_metadata_lots_and_nothing_is_written(
    bought: Ledger, db_url: str, transfer: dict[str, Any], fragment: str
) -> None:
    before = snapshot(bought, db_url)

    with pytest.raises(InvalidFill, match=r"^transfer 1: metadata\.lots: ") as refused:
        bought.record(transfer)

    assert fragment in str(refused.value)
    assert_unchanged(bought, db_url, before)


def test_a_withdrawal_counts_what_sales_and_withdrawals_named_before_it_and_a_sale_what_sales_named(
    bought: Ledger,
) -> None:
    bought.record(named((2, "1.5"), quantity="1.5"))
    bought.record(withdrawing((2, "0.5"), amount="-0.5"))

    with pytest.raises(InvalidFill, match=r"lot 2 is used up: it acquired 2, earlier disposals named 2, 0 is left"):
        bought.record(withdrawing((2, "0.1"), amount="-0.1"))
    # A withdrawal disposes only when a report asks: what it named is not used up for a sale.
    bought.record(named((2, "0.5"), quantity="0.5"))


def test_a_withdrawal_naming_its_lots_takes_them_when_withdrawals_dispose_under_specific(bought: Ledger) -> None:
    bought.record(withdrawing((3, "0.5"), (2, "0.5")))

    rows = bought.gains("specific", withdrawals_dispose=True, account="default").rows
    fifo = bought.gains("fifo", withdrawals_dispose=True, account="default").rows

    assert [(r.acquired_seq, r.quantity, r.proceeds, r.cost_basis) for r in rows] == [
        (3, D("0.5"), D(150), D(150)),
        (2, D("0.5"), D(100), D(100)),
    ]
    assert [(r.acquired_seq, r.quantity) for r in fifo] == [(1, D(1))]


def test_a_withdrawal_in_a_batch_counts_what_the_fills_before_it_in_the_batch_named(
    ledger: Ledger, db_url: str
) -> None:
    before = snapshot(ledger, db_url)

    with pytest.raises(
        InvalidFill,
        match=r"^transfer 3: metadata\.lots: lot 1 is used up: it acquired 1, earlier disposals named 0\.6, 0\.4 is",
    ):
        ledger.record_many(
            [
                fill_fields(quantity="1", price="100"),
                named((1, "0.6"), quantity="0.6"),
                withdrawing((1, "0.5"), amount="-0.5"),
            ]
        )

    assert_unchanged(ledger, db_url, before)
    ledger.record_many(
        [
            fill_fields(quantity="1", price="100"),
            named((1, "0.6"), quantity="0.6"),
            withdrawing((1, "0.4"), amount="-0.4"),
        ]
    )
    assert [(r.disposed_seq, r.quantity) for r in ledger.gains("specific", withdrawals_dispose=True).rows] == [
        (2, D("0.6")),
        (3, D("0.4")),
    ]
