"""A fill marked `{"settlement": true}` is checked when it is recorded, whoever sends it (`record`, `record_many`, an
import, an ingest): it must be exactly the fill record-settlement writes, the closing fill of the whole open position
of its contract in its account (the opposite side, the open quantity), under the id `settlement:SYMBOL`, with no fee
in the base currency (whose fee-free disposal would open the position again). Funding on a dated future follows the
expiry rule fills follow, and nothing more is filled on a contract once its settlement is in the log.

Long 2 BTC/USDT:USDT-261225 @ 90,000 on binance in account 'default', opened on 2026-12-20; it expires on
2026-12-25 (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradeledger import Fill, InvalidFill, Ledger
from tradeledger.application import bulk
from tradeledger.application.bulk import EventText

FUTURE = "BTC/USDT:USDT-261225"
SETTLED = f"settlement:{FUTURE}"
SETTLED_AT = "2026-12-25T08:00:00+00:00"


def fill(fill_id: str, side: str, quantity: str, price: str = "90000", **more: object) -> dict[str, object]:
    return {
        "fill_id": fill_id,
        "exchange": "binance",
        "symbol": FUTURE,
        "side": side,
        "quantity": quantity,
        "price": price,
        "occurred_at": "2026-12-20T10:00:00+00:00",
        **more,
    }


def settlement(side: str = "sell", quantity: str = "2", **more: object) -> dict[str, object]:
    return fill(SETTLED, side, quantity, "95500", occurred_at=SETTLED_AT, metadata={"settlement": True}, **more)


def funding(funding_id: str, occurred_at: str, amount: str = "-3") -> dict[str, object]:
    return {
        "type": "funding",
        "funding_id": funding_id,
        "exchange": "binance",
        "symbol": FUTURE,
        "amount": amount,
        "currency": "USDT",
        "occurred_at": occurred_at,
    }


def long_two(ledger: Ledger) -> None:
    ledger.record(fill("b1", "buy", "2"))


AFTER_SETTLEMENT = "a fill recorded after its contract's settlement left a position no one could settle"
DEFECT = "a fill marked as a settlement was not checked against the open position when recorded"


def test_a_settlement_that_leaves_part_of_the_position_open_is_refused_naming_quantity_and_what_is_open(
    ledger: Ledger,
) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(settlement(quantity="1.5"))

    assert str(refused.value) == (
        "fill 1: quantity: a settlement closes the whole open position of BTC/USDT:USDT-261225 in account 'default' "
        "(long 2: a sell of 2) (got 1.5)"
    )
    assert ledger.head.seq == 1
    [position] = ledger.positions()
    assert position.quantity == Decimal(2)


def test_a_settlement_that_would_flip_the_position_is_refused_naming_quantity(ledger: Ledger) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill, match=r"^fill 1: quantity: .* \(long 2: a sell of 2\) \(got 3\)$"):
        ledger.record(settlement(quantity="3"))

    assert ledger.head.seq == 1


def test_a_settlement_on_the_side_of_the_position_is_refused_naming_side(ledger: Ledger) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(settlement(side="buy"))

    assert str(refused.value) == (
        "fill 1: side: a settlement closes the whole open position of BTC/USDT:USDT-261225 in account 'default' "
        "(long 2: a sell of 2) (got buy)"
    )
    assert ledger.head.seq == 1


def test_a_settlement_with_nothing_open_is_refused_naming_metadata_settlement(ledger: Ledger) -> None:
    ledger.record(fill("b1", "buy", "2", account="other"))  # open in another account only

    with pytest.raises(InvalidFill) as refused:
        ledger.record(settlement())

    assert str(refused.value) == (
        "fill 1: metadata.settlement: a settlement closes the whole open position of BTC/USDT:USDT-261225 in account "
        "'default'; none is open (got a sell of 2 marked settlement: true)"
    )
    assert ledger.head.seq == 1


def test_a_settlement_under_another_id_is_refused_naming_fill_id(ledger: Ledger) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill) as refused:
        ledger.record({**settlement(), "fill_id": "expiry-1"})

    assert str(refused.value) == (
        "fill 1: fill_id: a settlement of BTC/USDT:USDT-261225 is named settlement:BTC/USDT:USDT-261225 (one per "
        "account, whoever records it) (got 'expiry-1')"
    )
    assert ledger.head.seq == 1


def test_a_settlement_with_a_fee_in_the_base_currency_is_refused_since_it_would_open_the_position_again(
    ledger: Ledger,
) -> None:
    long_two(ledger)
    fees = [{"amount": "1", "currency": "USDT"}, {"amount": "0.001", "currency": "BTC"}]

    with pytest.raises(InvalidFill) as refused:
        ledger.record(settlement(fees=fees))

    assert str(refused.value) == (
        "fill 1: fees[1].currency: a settlement closes the position whole; a fee in its base currency BTC (a disposal "
        "after the fill) would open it again: give the delivery fee in USDT (got 'BTC')"
    )
    assert ledger.head.seq == 1


def test_a_settlement_that_closes_the_whole_position_is_recorded_by_a_plain_record(ledger: Ledger) -> None:
    long_two(ledger)

    receipt = ledger.record(settlement(fees=[{"amount": "38.2", "currency": "USDT"}]))

    assert (receipt.seq, receipt.fill_id) == (2, SETTLED)
    assert ledger.positions() == ()
    again = ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC),
                                     fees=[{"amount": "38.2"}])  # fmt: skip
    assert (again.seq, again.duplicate) == (2, True)


def test_a_settlement_in_a_batch_is_held_to_the_position_the_earlier_fills_of_the_batch_leave(ledger: Ledger) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill, match=r"^fill 2: quantity: .* \(long 3: a sell of 3\) \(got 2\)$"):
        ledger.record_many([fill("b2", "buy", "1"), settlement()])
    assert ledger.head.seq == 1

    receipts = ledger.record_many([fill("b2", "buy", "1"), fill("s2", "sell", "0.5"), settlement(quantity="2.5")])

    assert [r.seq for r in receipts] == [2, 3, 4]
    assert ledger.positions() == ()


def test_an_import_refuses_a_partial_settlement_among_its_texts_and_appends_none(ledger: Ledger) -> None:
    lines = [fill("b1", "buy", "2"), settlement(quantity="1")]

    with pytest.raises(InvalidFill, match=r"^fill 2: quantity: a settlement closes the whole open position"):
        ledger.append_texts([EventText(line) for line in lines])

    assert ledger.head.seq == 0


def test_funding_after_its_contracts_expiry_day_is_refused_naming_the_funding_and_occurred_at(ledger: Ledger) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(funding("f1", "2026-12-26T00:00:00+00:00"))

    assert str(refused.value) == (
        "funding 1: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25 (its expiry 261225); funding after the end "
        "of its expiry day (UTC) is refused (got 2026-12-26T00:00:00.000000+00:00)"
    )
    assert ledger.head.seq == 1


def test_funding_after_expiry_in_a_batch_or_an_import_refuses_it_whole_naming_it_funding(ledger: Ledger) -> None:
    late = [fill("b1", "buy", "2"), funding("f1", "2026-12-25T23:00:00-01:00")]  # 2026-12-26 00:00 UTC

    with pytest.raises(InvalidFill, match=r"^funding 2: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25"):
        ledger.record_many(late)
    with pytest.raises(InvalidFill, match=r"^funding 2: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25"):
        ledger.append_texts([EventText(line) for line in late])

    assert ledger.head.seq == 0


def test_funding_on_the_expiry_day_is_recorded(ledger: Ledger) -> None:
    long_two(ledger)

    receipt = ledger.record(funding("f1", "2026-12-25T23:59:59.999999+00:00", amount="1.5"))

    assert receipt.seq == 2
    [position] = ledger.positions()
    assert position.funding == Decimal("1.5")


def test_a_log_that_holds_funding_after_expiry_still_verifies_and_takes_it_again_as_a_duplicate(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = funding("f1", "2027-01-10T00:00:00+00:00")
    with monkeypatch.context() as before:  # a log written before the check existed
        before.setattr(bulk, "refuse_past_expiry", lambda *_, **__: None)
        before.setattr(bulk, "refuse_out_of_bounds", lambda *_, **__: None)  # 2027-01-10: after the test's clock
        ledger.record_many([fill("b1", "buy", "2"), late])

    assert ledger.verify().ok
    assert ledger.record(late).duplicate


def test_a_fill_recorded_after_the_contracts_settlement_is_refused_naming_the_settlement(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record(settlement())

    # Earlier on the expiry day than the settlement, but after it in the log.
    with pytest.raises(InvalidFill) as refused:
        ledger.record(fill("late", "buy", "1", occurred_at="2026-12-25T06:00:00+00:00"))

    assert str(refused.value) == (
        "fill 1: symbol: account 'default' settled BTC/USDT:USDT-261225 on 'binance' at seq 2; a fill after its "
        "settlement is refused: roll the settlement back, record the fill, then settle again "
        "(got BTC/USDT:USDT-261225)"
    )
    assert ledger.head.seq == 2
    assert ledger.positions() == ()


def test_a_fill_after_a_settlement_earlier_in_its_batch_is_refused(ledger: Ledger) -> None:
    long_two(ledger)

    with pytest.raises(InvalidFill, match=r"^fill 2: symbol: account 'default' settled .* earlier in this batch;"):
        ledger.record_many([settlement(), fill("late", "sell", "1", occurred_at="2026-12-25T06:00:00+00:00")])

    assert ledger.head.seq == 1


def test_a_fill_before_the_settlement_in_its_batch_is_recorded(ledger: Ledger) -> None:
    long_two(ledger)

    ledger.record_many([fill("s1", "sell", "1", occurred_at="2026-12-25T06:00:00+00:00"), settlement(quantity="1")])

    assert ledger.positions() == ()
    assert ledger.head.seq == 3


def test_a_settlement_rolled_back_can_be_settled_again_after_the_missing_fill(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC))

    ledger.rollback(to_seq=1, reason="a fill of the expiry day was missing", actor="ops")
    ledger.record(fill("s1", "sell", "0.5", occurred_at="2026-12-25T06:00:00+00:00"))
    again = ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC))

    assert (again.seq, again.duplicate) == (3, False)
    settled = ledger.history()[-1].fill
    assert isinstance(settled, Fill)
    assert (settled.fill_id, settled.side, settled.quantity) == (SETTLED, "sell", Decimal("1.5"))
    assert ledger.positions() == ()
    assert ledger.verify().ok


def test_a_settlement_that_occurred_before_a_fill_it_closes_is_refused_naming_occurred_at(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record(fill("b2", "buy", "1", occurred_at="2026-12-25T10:00:00+00:00"))

    with pytest.raises(InvalidFill) as refused:
        ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC))

    assert str(refused.value) == (
        "fill 1: occurred_at: the settlement of BTC/USDT:USDT-261225 in account 'default' occurs after every fill of "
        "it; seq 2 occurred at 2026-12-25T10:00:00.000000+00:00 (got 2026-12-25T08:00:00.000000+00:00)"
    )
    assert ledger.head.seq == 2


def test_a_settlement_before_a_fill_earlier_in_its_batch_is_refused(ledger: Ledger) -> None:
    long_two(ledger)
    late = fill("b2", "buy", "1", occurred_at="2026-12-25T10:00:00+00:00")

    with pytest.raises(InvalidFill, match=r"^fill 2: occurred_at: the settlement .* earlier in this batch occurred at"):
        ledger.record_many([late, settlement(quantity="3")])

    assert ledger.head.seq == 1


def test_a_settlement_at_the_time_of_the_last_fill_is_recorded(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record(fill("b2", "buy", "1", occurred_at=SETTLED_AT))

    assert ledger.record(settlement(quantity="3")).seq == 3
    assert ledger.positions() == ()


AFTER_TEXT = "2026-12-25T16:00:00+00:00"  # the expiry day, after the settlement's 08:00


def test_funding_after_the_settlement_on_the_expiry_day_is_refused_naming_the_settlement(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record(settlement())

    with pytest.raises(InvalidFill) as refused:
        ledger.record(funding("f1", AFTER_TEXT))

    assert str(refused.value) == (
        "funding 1: symbol: account 'default' settled BTC/USDT:USDT-261225 on 'binance' at seq 2; funding after its "
        "settlement is refused: roll the settlement back, record the funding, then settle again "
        "(got BTC/USDT:USDT-261225)"
    )
    assert ledger.head.seq == 2
    assert ledger.state().totals.funding == Decimal(0)


def test_funding_recorded_after_the_settlement_but_dated_before_it_is_refused_as_a_late_fill_is(
    ledger: Ledger,
) -> None:
    long_two(ledger)
    ledger.record(settlement())

    # In log order it would count in the totals only, not in the cycle the settlement closed.
    with pytest.raises(InvalidFill, match=r"^funding 1: symbol: account 'default' settled .* at seq 2; funding after"):
        ledger.record(funding("f1", "2026-12-25T06:00:00+00:00"))

    assert ledger.head.seq == 2


def test_funding_after_a_settlement_earlier_in_its_batch_or_import_is_refused(ledger: Ledger) -> None:
    long_two(ledger)
    late = [settlement(), funding("f1", AFTER_TEXT)]

    pattern = r"^funding 2: symbol: account 'default' settled .* earlier in this batch; funding after its settlement"
    with pytest.raises(InvalidFill, match=pattern):
        ledger.record_many(late)
    with pytest.raises(InvalidFill, match=pattern):
        ledger.append_texts([EventText(line) for line in late])

    assert ledger.head.seq == 1


def test_funding_dated_after_a_settlement_later_in_its_batch_is_refused_in_time_order(ledger: Ledger) -> None:
    long_two(ledger)

    # Before the settlement in the log, after it in time: read in time order it follows the settlement.
    with pytest.raises(InvalidFill) as refused:
        ledger.record_many([funding("f1", AFTER_TEXT), settlement()])

    assert str(refused.value) == (
        "funding 1: occurred_at: account 'default' settles BTC/USDT:USDT-261225 on 'binance' at "
        "2026-12-25T08:00:00.000000+00:00 later in this batch; funding after its settlement is refused: roll the "
        "settlement back, record the funding, then settle again (got 2026-12-25T16:00:00.000000+00:00)"
    )
    assert ledger.head.seq == 1


def test_a_settlement_that_occurred_before_recorded_funding_is_refused_naming_the_funding(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record(funding("f1", AFTER_TEXT))

    with pytest.raises(InvalidFill) as refused:
        ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC))

    assert str(refused.value) == (
        "fill 1: occurred_at: the settlement of BTC/USDT:USDT-261225 in account 'default' occurs after every fill "
        "and funding payment of it; funding at seq 2 occurred at 2026-12-25T16:00:00.000000+00:00 (got "
        "2026-12-25T08:00:00.000000+00:00)"
    )
    assert ledger.head.seq == 2


def test_funding_before_the_settlement_in_the_log_and_in_time_goes_to_the_settled_cycle(ledger: Ledger) -> None:
    long_two(ledger)

    ledger.record_many(
        [funding("f1", "2026-12-25T06:00:00+00:00", amount="-3"), funding("f2", SETTLED_AT), settlement()]
    )

    [cycle] = ledger.state().closed
    assert cycle.funding == Decimal(-6)
    assert ledger.state().totals.funding == Decimal(-6)


def test_a_settlement_rolled_back_for_late_funding_settles_again_with_the_funding_on_its_cycle(ledger: Ledger) -> None:
    long_two(ledger)
    ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC))

    ledger.rollback(to_seq=1, reason="a funding payment of the expiry day was missing", actor="ops")
    ledger.record(funding("f1", "2026-12-25T00:00:00+00:00", amount="-3"))
    again = ledger.record_settlement(FUTURE, price="95500", occurred_at=datetime(2026, 12, 25, 8, tzinfo=UTC))

    assert again.seq == 3
    [cycle] = ledger.state().closed
    assert (cycle.realized_pnl, cycle.funding) == (Decimal(11000), Decimal(-3))
    assert ledger.verify().ok
