"""A contract settles once per account: positions net across an account's exchanges (spec section 4), so after its
settlement in account 'default' (stored under the exchange it was settled on, `settlement:SYMBOL`) nothing more is
filled or funded on the contract in that account, on any exchange, and there is nothing left to settle elsewhere.

Account 'default' bought 1 BTC/USDT:USDT-261225 @ 90,000 on binance and 1 @ 91,000 on okx: long 2, one position.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradeledger import InvalidArgument, InvalidFill, Ledger

FUTURE = "BTC/USDT:USDT-261225"
SETTLED_AT = datetime(2026, 12, 25, 8, tzinfo=UTC)


def fill(fill_id: str, exchange: str, side: str, quantity: str = "1", **more: object) -> dict[str, object]:
    return {
        "fill_id": fill_id,
        "exchange": exchange,
        "symbol": FUTURE,
        "side": side,
        "quantity": quantity,
        "price": "91000",
        "occurred_at": "2026-12-25T06:00:00+00:00",
        **more,
    }


def settled_on_binance(ledger: Ledger) -> None:
    ledger.record_many(
        [
            fill("b1", "binance", "buy", price="90000", occurred_at="2026-12-20T10:00:00+00:00"),
            fill("o1", "okx", "buy", occurred_at="2026-12-21T10:00:00+00:00"),
        ]
    )
    ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, exchange="binance")


def test_a_fill_on_another_exchange_after_the_accounts_settlement_is_refused_naming_the_settlement(
    ledger: Ledger,
) -> None:
    settled_on_binance(ledger)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(fill("o2", "okx", "buy"))

    assert str(refused.value) == (
        "fill 1: symbol: account 'default' settled BTC/USDT:USDT-261225 on 'binance' at seq 3; a fill after its "
        "settlement is refused: roll the settlement back, record the fill, then settle again "
        "(got BTC/USDT:USDT-261225)"
    )
    assert ledger.head.seq == 3
    assert ledger.positions() == ()


def test_funding_on_another_exchange_after_the_accounts_settlement_is_refused(ledger: Ledger) -> None:
    settled_on_binance(ledger)
    funding = {"type": "funding", "funding_id": "f1", "exchange": "okx", "symbol": FUTURE, "amount": "-2",
               "currency": "USDT", "occurred_at": "2026-12-25T16:00:00+00:00"}  # fmt: skip

    with pytest.raises(InvalidFill, match=r"^funding 1: symbol: account 'default' settled .* on 'binance' at seq 3;"):
        ledger.record(funding)

    assert ledger.state().totals.funding == Decimal(0)


def test_a_fill_on_another_exchange_after_a_settlement_earlier_in_its_batch_is_refused(ledger: Ledger) -> None:
    ledger.record_many([fill("b1", "binance", "buy", occurred_at="2026-12-20T10:00:00+00:00")])
    settlement = fill(f"settlement:{FUTURE}", "binance", "sell", occurred_at="2026-12-25T08:00:00+00:00",
                      metadata={"settlement": True})  # fmt: skip

    with pytest.raises(InvalidFill, match=r"^fill 2: symbol: account 'default' settled .* earlier in this batch;"):
        ledger.record_many([settlement, fill("o2", "okx", "buy")])

    assert ledger.head.seq == 1


def test_a_second_settlement_on_another_exchange_is_refused_naming_the_first(ledger: Ledger) -> None:
    settled_on_binance(ledger)

    with pytest.raises(InvalidArgument) as refused:
        ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, exchange="okx")

    assert str(refused.value) == (
        "exchange: account 'default' settled BTC/USDT:USDT-261225 on 'binance' at seq 3 (a contract settles once per "
        "account, whichever of its exchanges it was filled on); nothing is open to settle on the exchange named "
        "(got 'okx')"
    )
    assert ledger.head.seq == 3


def test_the_settlement_closes_the_position_netted_across_exchanges_and_another_account_fills_on(
    ledger: Ledger,
) -> None:
    settled_on_binance(ledger)

    [cycle] = ledger.state().closed
    assert (cycle.quantity, cycle.realized_pnl) == (Decimal(2), Decimal(10000))
    assert ledger.record(fill("o2", "okx", "buy", account="other")).seq == 4
    with pytest.raises(InvalidFill, match="none is open"):  # a settlement marked so on okx: nothing is open
        ledger.record(fill(f"settlement:{FUTURE}", "okx", "sell", "2", occurred_at="2026-12-25T08:00:00+00:00",
                           metadata={"settlement": True}))  # fmt: skip


HOSTILE = "it's [bold] 'okx', on binance"  # spaces, both quotes, a comma and Rich markup: a name, as given


def settled_on(ledger: Ledger, exchange: str) -> None:
    ledger.record_many([fill("b1", exchange, "buy", price="90000", occurred_at="2026-12-20T10:00:00+00:00")])
    ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, exchange=exchange)


def test_a_fill_after_a_settlement_quotes_the_exchange_it_was_settled_on(ledger: Ledger) -> None:
    settled_on(ledger, HOSTILE)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(fill("o2", "okx", "buy"))

    assert str(refused.value).startswith(
        "fill 1: symbol: account 'default' settled BTC/USDT:USDT-261225 on \"it's [bold] 'okx', on binance\" at seq 2;"
    )


def test_funding_dated_after_a_settlement_later_in_its_batch_quotes_the_settlements_exchange(ledger: Ledger) -> None:
    ledger.record_many([fill("b1", HOSTILE, "buy", price="90000", occurred_at="2026-12-20T10:00:00+00:00")])
    funding = {"type": "funding", "funding_id": "f1", "exchange": HOSTILE, "symbol": FUTURE, "amount": "-2",
               "currency": "USDT", "occurred_at": "2026-12-25T16:00:00+00:00"}  # fmt: skip
    settlement = fill(f"settlement:{FUTURE}", HOSTILE, "sell", occurred_at="2026-12-25T08:00:00+00:00",
                      metadata={"settlement": True})  # fmt: skip

    with pytest.raises(InvalidFill) as refused:
        ledger.record_many([funding, settlement])

    assert str(refused.value).startswith(
        "funding 1: occurred_at: account 'default' settles BTC/USDT:USDT-261225 on \"it's [bold] 'okx', on binance\" "
        "at 2026-12-25T08:00:00.000000+00:00 later in this batch;"
    )
    assert ledger.head.seq == 1


def test_a_second_settlement_on_another_exchange_quotes_both_exchanges(ledger: Ledger) -> None:
    settled_on(ledger, HOSTILE)

    with pytest.raises(InvalidArgument) as refused:
        ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, exchange="okx on binance")

    assert str(refused.value) == (
        "exchange: account 'default' settled BTC/USDT:USDT-261225 on \"it's [bold] 'okx', on binance\" at seq 2 (a "
        "contract settles once per account, whichever of its exchanges it was filled on); nothing is open to settle "
        "on the exchange named (got 'okx on binance')"
    )
