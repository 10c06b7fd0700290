"""The lots a specific disposal names (spec section 11) are checked when it is recorded as `gains --method specific`
matches them: a disposal that names no lots (and a base fee) takes the oldest lots first, so what it took is no longer
there to name. A fill the check lets through never makes the reports refuse the log (which is immutable: only a
rollback would mend it); one it refuses writes nothing, naming `metadata.lots`, the lot and what is left of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.factories import fill_fields
from tests.integration.test_bad_input import assert_unchanged, snapshot
from tests.integration.test_lot_picks import named, paying, withdrawing
from tradeledger import InvalidFill, Ledger

D = Decimal


def at(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00+00:00"


def buy(day: int, quantity: str = "1", price: str = "100", **fields: Any) -> dict[str, Any]:
    return fill_fields(quantity=quantity, price=price, occurred_at=at(day), **fields)


def sell(day: int, quantity: str = "1", **fields: Any) -> dict[str, Any]:
    return fill_fields(side="sell", quantity=quantity, price="300", occurred_at=at(day), **fields)


def specific_rows(ledger: Ledger, **options: Any) -> list[tuple[int, int, Decimal]]:
    """(disposed seq, acquired seq, quantity) of each row of `gains --method specific`."""
    return [(r.disposed_seq, r.acquired_seq, r.quantity) for r in ledger.gains("specific", **options).rows]


def test_a_sale_naming_the_lot_an_earlier_sale_naming_none_took_first_in_first_out_is_refused(
    ledger: Ledger, db_url: str
) -> None:
    ledger.record_many([buy(1, price="100"), buy(2, price="200"), sell(3)])  # seq 3 takes lot 1 (fifo)
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(named((1, "1"), quantity="1", occurred_at=at(4)))

    assert str(refused.value).startswith(
        "fill 1: metadata.lots: lot 1 has 0 left in account 'default' when this fill is matched under specific"
    )
    assert str(refused.value).endswith('(got [{"quantity": "1", "seq": 1}])')
    assert_unchanged(ledger, db_url, before)
    ledger.record(named((2, "1"), quantity="1", occurred_at=at(4)))
    assert specific_rows(ledger) == [(3, 1, D(1)), (4, 2, D(1))]


def test_a_batch_whose_sale_names_a_lot_its_earlier_sale_took_first_in_first_out_writes_nothing(
    ledger: Ledger, db_url: str
) -> None:
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill, match=r"^fill 4: metadata\.lots: lot 1 has 0\.5 left in account 'default'"):
        ledger.record_many([buy(1), buy(2), sell(3, quantity="0.5"), named((1, "1"), quantity="1", occurred_at=at(4))])

    assert_unchanged(ledger, db_url, before)


def test_a_sale_naming_what_a_base_fee_took_first_in_first_out_is_refused(ledger: Ledger, db_url: str) -> None:
    # The sale of seq 3 names lot 2; its fee of 0.5 BTC is a disposal naming no lots: 0.5 of lot 1.
    fee = [{"amount": "0.5", "currency": "BTC"}]
    lots = {"lots": [{"seq": 2, "quantity": "0.5"}]}
    ledger.record_many([buy(1), buy(2), paying(fee, side="sell", quantity="0.5", occurred_at=at(3), metadata=lots)])
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: lot 1 has 0\.5 left in account 'default'"):
        ledger.record(named((1, "1"), quantity="1", occurred_at=at(4)))

    assert_unchanged(ledger, db_url, before)
    ledger.record(named((1, "0.5"), quantity="0.5", occurred_at=at(4)))
    assert specific_rows(ledger) == [(3, 2, D("0.5")), (3, 1, D("0.5")), (4, 1, D("0.5"))]


def test_a_buy_naming_the_short_lot_an_earlier_buy_naming_none_closed_is_refused(ledger: Ledger, db_url: str) -> None:
    ledger.record_many([sell(1), sell(2), buy(3)])  # seq 3 buys back short lot 1 (fifo)
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: lot 1 has 0 left in account 'default'"):
        ledger.record(buy(4, metadata={"lots": [{"seq": 1, "quantity": "1"}]}))

    assert_unchanged(ledger, db_url, before)


def test_a_withdrawal_naming_the_lot_an_earlier_withdrawal_naming_none_took_is_refused(
    ledger: Ledger, db_url: str
) -> None:
    unnamed = {**withdrawing(amount="-1", occurred_at=at(3)), "metadata": None}
    ledger.record_many([buy(1), buy(2), unnamed])  # when withdrawals dispose, seq 3 takes lot 1 (fifo)
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill, match=r"^transfer 1: metadata\.lots: lot 1 has 0 left in account 'default'"):
        ledger.record(withdrawing((1, "1"), amount="-1", occurred_at=at(4)))

    assert_unchanged(ledger, db_url, before)
    ledger.record(withdrawing((2, "1"), amount="-1", occurred_at=at(4)))
    assert specific_rows(ledger, withdrawals_dispose=True) == [(3, 1, D(1)), (4, 2, D(1))]


def test_a_batch_whose_earlier_sale_takes_the_lot_a_recorded_later_sale_names_writes_nothing(
    ledger: Ledger, db_url: str
) -> None:
    ledger.record_many([buy(1), buy(2), named((1, "1"), quantity="1", occurred_at=at(5))])
    before = snapshot(ledger, db_url)

    # A backfill: a sale naming no lots that occurred before seq 3 takes lot 1 first, which seq 3 names.
    with pytest.raises(
        InvalidFill,
        match=r"^fill 1: metadata\.lots: the fill at seq 3, which occurred after this one, names 1 of lot 1; with "
        r"this batch, lot 1 has 0 left in account 'default' when seq 3 is matched under specific",
    ):
        ledger.record_many([sell(3), named((2, "1"), quantity="1", occurred_at=at(6))])

    assert_unchanged(ledger, db_url, before)


def test_a_sale_naming_no_lots_backfilled_before_a_recorded_sale_naming_the_lot_it_would_take_is_refused(
    ledger: Ledger, db_url: str
) -> None:
    ledger.record_many([buy(1), buy(2), named((1, "1"), quantity="1", occurred_at=at(5))])
    before = snapshot(ledger, db_url)

    with pytest.raises(
        InvalidFill,
        match=r"^fill 1: metadata\.lots: the fill at seq 3, which occurred after this one, names 1 of lot 1; with "
        r"this batch, lot 1 has 0 left in account 'default' when seq 3 is matched under specific",
    ):
        ledger.record(sell(3))

    assert_unchanged(ledger, db_url, before)
    ledger.record(sell(6))  # after it: takes lot 2, the one left
    assert specific_rows(ledger) == [(3, 1, D(1)), (4, 2, D(1))]


def test_a_sale_naming_no_lots_backfilled_before_a_sale_naming_another_lot_is_recorded(ledger: Ledger) -> None:
    ledger.record_many([buy(1), buy(2), named((2, "1"), quantity="1", occurred_at=at(5))])

    ledger.record(sell(3))  # takes lot 1 first in, first out: lot 2 is the recorded sale's

    assert specific_rows(ledger) == [(3, 2, D(1)), (4, 1, D(1))]


def test_a_buy_backfilled_before_a_recorded_sale_naming_a_lot_is_recorded(ledger: Ledger) -> None:
    ledger.record_many([buy(2), named((1, "1"), quantity="1", occurred_at=at(5))])

    ledger.record(buy(1))

    assert specific_rows(ledger) == [(2, 1, D(1))]


def test_a_sale_backfilled_before_a_recorded_withdrawal_naming_the_lot_it_would_take_is_refused(
    ledger: Ledger, db_url: str
) -> None:
    ledger.record_many([buy(1), buy(2), withdrawing((1, "1"), amount="-1", occurred_at=at(5))])
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: the withdrawal at seq 3, which occurred after"):
        ledger.record(sell(3))

    assert_unchanged(ledger, db_url, before)


def test_a_backfill_into_another_account_than_the_one_naming_lots_is_recorded(ledger: Ledger) -> None:
    ledger.record_many([buy(1), buy(2), named((1, "1"), quantity="1", occurred_at=at(5))])

    ledger.record_many([buy(3, account="other"), sell(4, account="other")])

    assert specific_rows(ledger) == [(3, 1, D(1)), (5, 4, D(1))]


def test_after_a_rollback_of_the_sale_naming_a_lot_a_sale_backfilled_before_it_takes_that_lot(ledger: Ledger) -> None:
    ledger.record_many([buy(1), buy(2)])
    ledger.record(named((1, "1"), quantity="1", occurred_at=at(5)))
    ledger.rollback(to_seq=2, reason="named the wrong lot", actor="ops")

    ledger.record(sell(3))

    assert specific_rows(ledger) == [(3, 1, D(1))]


def test_the_fold_starts_where_the_position_was_flat_in_the_order_the_fills_occurred(ledger: Ledger) -> None:
    ledger.record_many([buy(1), sell(2)])  # flat after seq 2
    ledger.record(buy(4))  # the position open at the head opened here (seq 3) ...
    ledger.record(buy(3))  # ... but a backfill (seq 4) occurred before it: it was not flat there in time order
    ledger.record(sell(5))  # takes lot 4, the oldest open

    with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: lot 4 has 0 left in account 'default'"):
        ledger.record(named((4, "1"), quantity="1", occurred_at=at(6)))
    ledger.record(named((3, "1"), quantity="1", occurred_at=at(6)))

    assert specific_rows(ledger) == [(2, 1, D(1)), (5, 4, D(1)), (6, 3, D(1))]


def test_a_base_fee_moves_the_position_the_fold_starts_from(ledger: Ledger) -> None:
    fee = [{"amount": "0.5", "currency": "BTC"}]
    ledger.record_many([buy(1, quantity="1.5"), paying(fee, side="sell", quantity="1", occurred_at=at(2))])  # flat
    ledger.record_many([buy(3), sell(4, quantity="0.5")])  # the sale takes 0.5 of lot 3

    with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: lot 3 has 0\.5 left in account 'default'"):
        ledger.record(named((3, "1"), quantity="1", occurred_at=at(5)))
    ledger.record(named((3, "0.5"), quantity="0.5", occurred_at=at(5)))

    assert specific_rows(ledger) == [(2, 1, D(1)), (2, 1, D("0.5")), (4, 3, D("0.5")), (5, 3, D("0.5"))]
