"""Spec section 9 on numbers: fees in the base or a third currency, rebates, funding, transfers and the
balances, each case folded by the engine and by the reference, which must agree.

Cases from reference/exchange-data.md section 3 (N1, N2, F1, F2) and the worked example of spec section 9;
expected values are written out, never recomputed with the code's formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.events import Event, Funding, Transfer
from tradeledger.domain.fills import Fill
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import ClosedPosition, Position, Totals, accounting_of
from tradeledger.domain.reference import ReferenceBalances
from tradeledger.errors import InvalidFill

T0 = datetime(2025, 1, 1, tzinfo=UTC)
D = Decimal


def fill(side: str, quantity: str, price: str, *fees: tuple[str, str] | tuple[str, str, str], symbol: str) -> Fill:
    entries: list[dict[str, Any]] = [
        {"amount": fee[0], "currency": fee[1], **({"quote_value": fee[2]} if len(fee) > 2 else {})} for fee in fees
    ]
    return Fill(fill_id="x", exchange="ex", symbol=symbol, side=side, quantity=quantity, price=price,
                fees=entries, occurred_at=T0)  # fmt: skip


def funding(amount: str, symbol: str = "BTC/USDT:USDT", currency: str = "USDT") -> Funding:
    return Funding(funding_id="f", exchange="ex", symbol=symbol, amount=amount, currency=currency, occurred_at=T0)


def transfer(amount: str, kind: str, currency: str = "USDT", fee: str = "0") -> Transfer:
    return Transfer(transfer_id="t", exchange="ex", currency=currency, amount=amount, fee=fee, kind=kind,
                    occurred_at=T0)  # fmt: skip


@dataclass
class Folded:
    open: dict[str, Position]
    closed: list[ClosedPosition]
    totals: dict[str, Totals]
    balances: dict[str, Decimal]  # by currency (one account, one exchange)


def folded(*events: Event) -> Folded:
    """The events folded by the engine and by the reference, which must agree on every number."""
    accounting = [accounting_of(seq, event) for seq, event in enumerate(events, start=1)]
    engine = PositionFold(balances={}).apply_all(accounting)
    reference = ReferenceBalances()
    for item in accounting:
        reference.apply(item)
    book = engine.book()
    assert (book.open, book.closed, engine.totals()) == (
        reference.book.open,
        reference.book.closed,
        reference.book.totals,
    )
    assert engine.balances == reference.balances
    return Folded(
        {key[1]: position for key, position in book.open.items()},
        list(book.closed),
        {key[1]: totals for key, totals in engine.totals().items()},
        {currency: amount for (_, _, currency), amount in _balances(engine).items()},
    )


def _balances(engine: PositionFold) -> dict[BalanceKey, Decimal]:
    assert engine.balances is not None
    return engine.balances


def test_the_base_fee_example_of_spec_9_nets_exactly_the_cash_made() -> None:
    result = folded(
        fill("buy", "1", "50000", ("0.001", "BTC"), symbol="BTC/USDT"),
        fill("sell", "0.999", "51000", symbol="BTC/USDT"),
    )

    [cycle] = result.closed
    assert (cycle.quantity, cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (D(1), D(999), D(50), D(949))
    assert result.balances == {"BTC": D(0), "USDT": D(949)}  # 0.999 x 51000 - 50000


def test_a_base_fee_leaves_the_long_smaller_at_the_same_average_and_realizes_nothing_at_the_fill_price() -> None:
    result = folded(fill("buy", "1", "50000", ("0.001", "BTC"), symbol="BTC/USDT"))

    position = result.open["BTC/USDT"]
    assert (position.quantity, position.avg_price, position.realized_pnl, position.fees) == (
        D("0.999"),
        D(50000),
        D(0),
        D(50),
    )


def test_n2_a_base_fee_on_a_contract_sold_from_flat_grows_the_short_to_1_001() -> None:
    result = folded(fill("sell", "1.0", "50000", ("0.001", "BTC"), symbol="BTC/USDT:USDT"))

    position = result.open["BTC/USDT:USDT"]
    assert (position.signed_quantity, position.fees) == (D("-1.001"), D(50))
    assert result.balances == {"BTC": D("-0.001")}  # the coin the fee took; the contract moved no base


def test_on_a_spot_market_a_base_fee_larger_than_the_long_left_is_refused() -> None:
    engine = PositionFold()
    engine.apply(accounting_of(1, fill("buy", "1", "50000", symbol="BTC/USDT")))
    sold = fill("sell", "0.9995", "50000", ("0.001", "BTC"), symbol="BTC/USDT")  # leaves 0.0005 BTC

    with pytest.raises(InvalidFill, match=r"fees\[0\]\.amount: a fee of 0.001 BTC is more than the 0.0005 BTC"):
        engine.apply(accounting_of(2, sold))


def test_on_a_spot_market_a_base_fee_that_closes_the_long_exactly_is_taken() -> None:
    result = folded(
        fill("buy", "1", "50000", symbol="BTC/USDT"),
        fill("sell", "0.999", "51000", ("0.001", "BTC"), symbol="BTC/USDT"),
    )

    [cycle] = result.closed
    assert (result.open, cycle.realized_pnl, cycle.fees, cycle.net_pnl) == ({}, D("1000"), D(51), D(949))


def test_n2_a_fee_in_the_quote_leaves_the_quantity_whole() -> None:
    result = folded(fill("buy", "1.0", "50000", ("50", "USDT"), symbol="BTC/USDT"))

    assert result.open["BTC/USDT"].quantity == D("1.0")


def test_n2_funding_with_the_commission_in_base_adds_to_the_cycle_and_the_settle_balance() -> None:
    result = folded(
        fill("buy", "1.0", "50000", ("0.001", "BTC"), symbol="BTC/USDT:USDT"),
        funding("10"),
    )

    position = result.open["BTC/USDT:USDT"]
    assert (position.quantity, position.funding, position.fees, position.net_pnl) == (
        D("0.999"),
        D(10),
        D(50),
        D(-40),
    )
    assert result.balances == {"BTC": D("-0.001"), "USDT": D(10)}


def test_n1_nautilus_realized_equals_our_gross_realized_minus_fees() -> None:
    # ETHUSDT, commission 0.0001 of the notional on each fill, in USDT (written out per fill).
    legs = [
        ("buy", "12", "100.0", "0.12"),
        ("buy", "17", "99.0", "0.1683"),
        ("sell", "9", "101.0", "0.0909"),
        ("sell", "4", "105.0", "0.042"),
        ("buy", "3", "103.0", "0.0309"),
    ]
    nautilus = [None, D("-0.28830000"), D("13.89666207"), D("36.19948966"), D("36.16858966")]
    events: list[Event] = []
    for (side, quantity, price, fee), expected in zip(legs, nautilus, strict=True):
        events.append(fill(side, quantity, price, (fee, "USDT"), symbol="ETH/USDT"))
        position = folded(*events).open["ETH/USDT"]
        if expected is not None:
            assert (position.realized_pnl - position.fees).quantize(D("0.00000001")) == expected

    final = folded(*events).open["ETH/USDT"]
    assert final.quantity == D(19)
    assert final.avg_price.quantize(D("1E-10")) == D("99.9800362976")  # Nautilus: 99.98003629764065
    # Gross realized after the two sells (derived): (101 - 2883/29) x 9 + (105 - 2883/29) x 4; minus the fees
    # of the first four fills (0.4212) it is Nautilus's 36.19948966.
    assert final.realized_pnl.quantize(D("0.00000001")) == D("36.62068966")
    assert final.fees == D("0.4521")


def test_f1_freqtrade_dca_with_fee_0_realizes_exactly_freqtrades_profit() -> None:
    legs = [
        ("buy", "100", "10"),
        ("buy", "100", "15"),
        ("sell", "50", "12"),
        ("sell", "100", "20"),
        ("sell", "50", "5"),
    ]
    profits = [D(0), D(0), D(-25), D(725), D(350)]  # freqtrade's realized_profit after each order
    events: list[Event] = []
    for (side, quantity, price), profit in zip(legs, profits, strict=True):
        events.append(fill(side, quantity, price, symbol="ETH/USDT"))
        assert folded(*events).totals["ETH/USDT"].realized_pnl == profit


def test_f1_with_fees_in_quote_the_gross_is_the_same_and_the_fees_are_every_fills_fee() -> None:
    # Fee rate 0.0025 on each side, in USDT: 2.5, 3.75, 1.5, 5, 0.625 (the notional x 0.0025).
    legs = [
        ("buy", "100", "10", "2.5"),
        ("buy", "100", "15", "3.75"),
        ("sell", "50", "12", "1.5"),
        ("sell", "100", "20", "5"),
        ("sell", "50", "5", "0.625"),
    ]
    result = folded(*(fill(s, q, p, (f, "USDT"), symbol="ETH/USDT") for s, q, p, f in legs))

    [cycle] = result.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (D(350), D("13.375"), D("336.625"))
    # freqtrade's final realized_profit with fees: 336.625, the same net.


def test_f2_positive_funding_is_money_received_and_negative_money_paid() -> None:
    received = folded(fill("buy", "30", "2.5", symbol="XRP/USDT:USDT"), funding("1", symbol="XRP/USDT:USDT"))
    paid = folded(fill("sell", "30", "2.5", symbol="XRP/USDT:USDT"), funding("-1", symbol="XRP/USDT:USDT"))

    assert (received.open["XRP/USDT:USDT"].net_pnl, received.balances) == (D(1), {"USDT": D(1)})
    assert (paid.open["XRP/USDT:USDT"].net_pnl, paid.balances) == (D(-1), {"USDT": D(-1)})


def test_a_bnb_fee_with_a_quote_value_is_a_fee_and_without_one_is_kept_unvalued() -> None:
    valued = folded(fill("buy", "1", "100", ("0.01", "BNB", "6"), symbol="ETH/USDT"))
    unvalued = folded(fill("buy", "1", "100", ("0.01", "BNB"), symbol="ETH/USDT"))

    with_value, without = valued.open["ETH/USDT"], unvalued.open["ETH/USDT"]
    assert (with_value.fees, with_value.unvalued_fees, with_value.net_pnl) == (D(6), (), D(-6))
    assert (without.fees, without.unvalued_fees, without.net_pnl) == (D(0), (("BNB", D("0.01")),), D(0))
    assert valued.balances == unvalued.balances == {"ETH": D(1), "USDT": D(-100), "BNB": D("-0.01")}


def test_a_rebate_raises_the_net_and_the_quote_balance() -> None:
    result = folded(fill("buy", "1", "100", ("-0.05", "USDT"), symbol="BTC/USDT"))

    position = result.open["BTC/USDT"]
    assert (position.fees, position.net_pnl) == (D("-0.05"), D("0.05"))
    assert result.balances == {"BTC": D(1), "USDT": D("-99.95")}


def test_a_flip_splits_each_non_base_fee_pro_rata_in_its_own_currency() -> None:
    result = folded(
        fill("buy", "1", "100", symbol="ETH/USDT"),
        fill("sell", "4", "110", ("0.4", "USDT"), ("0.02", "BNB"), symbol="ETH/USDT"),
    )

    [closed] = result.closed
    short = result.open["ETH/USDT"]
    assert (closed.fees, closed.unvalued_fees) == (D("0.1"), (("BNB", D("0.005")),))
    assert (short.quantity, short.fees, short.unvalued_fees) == (D(3), D("0.3"), (("BNB", D("0.015")),))


def test_a_flip_paid_in_base_puts_all_of_the_base_fee_on_the_cycle_it_leaves_open() -> None:
    result = folded(
        fill("buy", "1", "100", symbol="ETH/USDT:USDT"),
        fill("sell", "3", "110", ("0.01", "ETH"), symbol="ETH/USDT:USDT"),
    )

    [closed] = result.closed
    short = result.open["ETH/USDT:USDT"]
    assert (closed.realized_pnl, closed.fees) == (D(10), D(0))
    assert (short.signed_quantity, short.avg_price, short.fees) == (D("-2.01"), D(110), D("1.1"))  # 0.01 x 110
    assert result.balances == {"USDT": D(10), "ETH": D("-0.01")}


def test_funding_through_a_flip_stays_with_the_cycle_open_when_it_was_paid() -> None:
    result = folded(
        fill("buy", "1", "100", symbol="BTC/USDT:USDT"),
        funding("-2"),
        fill("sell", "2", "100", symbol="BTC/USDT:USDT"),
        funding("3"),
    )

    [closed] = result.closed
    short = result.open["BTC/USDT:USDT"]
    assert (closed.funding, closed.net_pnl) == (D(-2), D(-2))
    assert (short.funding, short.net_pnl) == (D(3), D(3))
    assert result.totals["BTC/USDT:USDT"].funding == D(1)


def test_funding_with_no_cycle_open_counts_only_in_the_totals() -> None:
    result = folded(
        fill("buy", "1", "100", symbol="BTC/USDT:USDT"),
        fill("sell", "1", "100", symbol="BTC/USDT:USDT"),
        funding("-0.5"),
    )

    [closed] = result.closed
    assert (closed.funding, result.open) == (D(0), {})
    assert (result.totals["BTC/USDT:USDT"].funding, result.totals["BTC/USDT:USDT"].net_pnl) == (D("-0.5"), D("-0.5"))


def test_a_deposit_and_a_withdrawal_move_the_balance_and_leave_pnl_unchanged() -> None:
    traded = fill("buy", "1", "100", ("0.1", "USDT"), symbol="BTC/USDT")
    without = folded(traded)
    result = folded(transfer("1000", "deposit"), traded, transfer("-200", "withdrawal", fee="1"))

    assert result.totals == without.totals
    assert result.balances == {"USDT": D("698.9"), "BTC": D(1)}  # 1000 - 100.1 - 200 - 1
