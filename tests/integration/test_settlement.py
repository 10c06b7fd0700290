"""The settlement of an expired dated future: the fill that closes the open position (Ledger.record_settlement).

Long 2 BTC/USDT:USDT-261225 @ 90,000, settled at 95,500 with a 0.02% delivery fee: realized (95,500 - 90,000) * 2 =
11,000, fee 95,500 * 2 * 0.0002 = 38.20, the position closed, the USDT balance 11,000 - 38.20 = 10,961.80.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradeledger import Fill, FillConflict, InvalidArgument, InvalidFill, Ledger

FUTURE = "BTC/USDT:USDT-261225"
SETTLED_AT = datetime(2026, 12, 25, 8, 0, tzinfo=UTC)


def opened(ledger: Ledger, side: str = "buy", quantity: str = "2", price: str = "90000", symbol: str = FUTURE) -> None:
    ledger.record(
        {
            "fill_id": f"open-{side}",
            "exchange": "binance",
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "occurred_at": "2026-12-20T10:00:00+00:00",
        }
    )


def test_a_settlement_closes_the_long_position_books_its_pnl_and_the_settle_currency_takes_it(ledger: Ledger) -> None:
    opened(ledger)

    receipt = ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, fee_rate="0.0002")

    assert (receipt.seq, receipt.duplicate, receipt.fill_id) == (2, False, "settlement:BTC/USDT:USDT-261225")
    assert ledger.positions() == ()
    [cycle] = ledger.closed_positions()
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal(11000), Decimal("38.2"), Decimal("10961.8"))
    [balance] = ledger.balances().balances
    assert (balance.exchange, balance.currency, balance.amount) == ("binance", "USDT", Decimal("10961.8"))
    assert ledger.verify().ok
    assert ledger.replay().closed == ledger.state().closed


def test_the_settlement_is_a_fill_of_the_opposite_side_for_the_whole_quantity_marked_in_its_metadata(
    ledger: Ledger,
) -> None:
    opened(ledger)

    ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, fees=[{"amount": "38.2"}])

    [_, settled] = ledger.history()
    assert settled.fill == Fill(
        fill_id="settlement:BTC/USDT:USDT-261225",
        exchange="binance",  # the exchange of the position's last fill
        symbol=FUTURE,
        side="sell",
        quantity=Decimal(2),
        price=Decimal(95500),
        fees=[{"amount": "38.2", "currency": "USDT"}],
        occurred_at=SETTLED_AT,
        metadata={"settlement": True},
    )


def test_a_short_position_is_settled_by_a_buy_and_loses_what_the_price_rose(ledger: Ledger) -> None:
    opened(ledger, side="sell", quantity="0.5", price="98000")

    ledger.record_settlement(FUTURE, price="99000", occurred_at=SETTLED_AT, exchange="binance")

    [cycle] = ledger.closed_positions()
    assert (cycle.side.value, cycle.realized_pnl, cycle.fees) == ("short", Decimal(-500), Decimal(0))
    assert ledger.balances().balances[0].amount == Decimal(-500)


def test_a_settlement_is_refused_when_no_position_is_open_and_nothing_is_written(ledger: Ledger) -> None:
    with pytest.raises(
        InvalidArgument, match=r"^symbol: account 'default' holds no open position in BTC/USDT:USDT-261225"
    ):
        ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT)

    assert ledger.head.seq == 0


def test_a_settlement_of_a_perpetual_is_refused(ledger: Ledger) -> None:
    opened(ledger, symbol="BTC/USDT:USDT")

    with pytest.raises(InvalidArgument, match=r"^symbol: only a dated future .* \(got 'BTC/USDT:USDT'\)"):
        ledger.record_settlement("BTC/USDT:USDT", price="95500", occurred_at=SETTLED_AT)

    assert ledger.head.seq == 1


@pytest.mark.parametrize("day", [datetime(2026, 12, 24, 23, 59, tzinfo=UTC), datetime(2026, 12, 26, tzinfo=UTC)])
def test_a_settlement_off_its_expiry_day_is_refused_naming_occurred_at(ledger: Ledger, day: datetime) -> None:
    opened(ledger)

    with pytest.raises(
        InvalidFill, match=r"^fill 1: occurred_at: the settlement of BTC/USDT:USDT-261225 occurs on its "
    ):
        ledger.record_settlement(FUTURE, price="95500", occurred_at=day)

    assert ledger.head.seq == 1


def test_a_fill_marked_as_a_settlement_on_a_perpetual_is_refused(ledger: Ledger) -> None:
    opened(ledger, symbol="BTC/USDT:USDT")
    fill = {
        "fill_id": "s",
        "exchange": "binance",
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "quantity": "2",
        "price": "1",
        "occurred_at": "2026-12-25T08:00:00+00:00",
        "metadata": {"settlement": True},
    }

    with pytest.raises(InvalidFill, match=r"^fill 1: metadata.settlement: only a dated future"):
        ledger.record(fill)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"price": 95500.0}, r"^price: must be a finite Decimal or decimal string \(got 95500.0\)"),
        ({"price": "NaN"}, r"^price: must be a finite"),
        ({"price": "0"}, r"price: must be greater than 0"),
        ({"fee_rate": "\uff11"}, r"^fee_rate: must be a finite"),
        ({"fee_rate": "0.0002", "fees": [{"amount": "1"}]}, r"^fee_rate: give the delivery fee as fees or as a rate"),
        ({"fee_rate": "0.1234567890123456789"}, r"^fee_rate: .* needs more than 28 digits"),
    ],
)
def test_bad_settlement_terms_are_refused_naming_the_field(
    ledger: Ledger, terms: dict[str, object], message: str
) -> None:
    opened(ledger, quantity="2.000000001")

    with pytest.raises((InvalidArgument, InvalidFill), match=message):
        ledger.record_settlement(FUTURE, **{"price": "95500.123", "occurred_at": SETTLED_AT, **terms})  # type: ignore[arg-type]

    assert ledger.head.seq == 1


def test_a_fill_after_the_settlement_on_a_later_day_is_refused(ledger: Ledger) -> None:
    opened(ledger)
    ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT)

    late = {"fill_id": "late", "exchange": "binance", "symbol": FUTURE, "side": "buy", "quantity": "1", "price": "1"}

    with pytest.raises(InvalidFill, match=r"expired on 2026-12-25"):
        ledger.record({**late, "occurred_at": "2027-01-02T00:00:00+00:00"})


def test_a_settlement_recorded_again_answers_the_original_receipt_as_a_duplicate(ledger: Ledger) -> None:
    opened(ledger)
    first = ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, fee_rate="0.0002")

    again = ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, fee_rate="0.0002")
    named = ledger.record_settlement(
        FUTURE, price="95500", occurred_at=SETTLED_AT, fees=[{"amount": "38.2"}], exchange="binance"
    )

    assert (again.seq, again.hash, again.duplicate) == (named.seq, named.hash, named.duplicate) == (2, first.hash, True)
    assert ledger.head.seq == 2


def test_a_settlement_recorded_again_at_another_price_is_a_conflict_naming_the_field(ledger: Ledger) -> None:
    opened(ledger)
    ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT)

    with pytest.raises(FillConflict, match=r"^fill 'settlement:BTC/USDT:USDT-261225' .* \(fields price\)"):
        ledger.record_settlement(FUTURE, price="95600", occurred_at=SETTLED_AT)

    assert ledger.head.seq == 2
