"""Exchange-real events of spec section 9 through both folds: fees in any currency, rebates, funding, transfers.

Every case is folded three ways and the three must agree before any number is checked: the engine
(`PositionFold.apply`, one accounting value at a time, with balances), the engine over the stored rows
(`PositionFold.apply_rows` over `StoredEvent.execution_row()`, as replay reads the log) and the reference
(`ReferenceBalances`, which folds a `ReferenceFold` beside the balances). Expected values are written out
as Decimal literals; where a case comes from `reference/exchange-data.md` section 3 (N1, N2, F1, F2) the
docstring says how the source's numbers map onto ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tests.factories import T0
from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.events import Event, Funding, Transfer
from tradeledger.domain.fills import Fill, time_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import ClosedPosition, Position, PositionSide, Totals, accounting_of
from tradeledger.domain.records import StoredEvent
from tradeledger.domain.reference import ReferenceBalances
from tradeledger.domain.wallet import WalletReplay
from tradeledger.errors import InvalidFill

LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
EXCHANGE = "binance"
ACCOUNT = "default"
SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"
USDT_8DP = Decimal("0.00000001")  # NautilusTrader's USDT Money precision
F64_PRICE = Decimal("0.0000000001")  # NautilusTrader's avg_px_open is an f64: compare to 1E-10


# --- building events -----------------------------------------------------------------------------


def fee(amount: str, currency: str, quote_value: str | None = None) -> dict[str, str]:
    entry = {"amount": amount, "currency": currency}
    if quote_value is not None:
        entry["quote_value"] = quote_value
    return entry


def trade(side: str, quantity: str, price: str, *fees: dict[str, str], symbol: str = SPOT) -> Fill:
    return Fill(
        fill_id=f"T-{side}-{quantity}-{price}-{len(fees)}",
        exchange=EXCHANGE,
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        fees=fees,
        occurred_at=T0,
    )


def buy(quantity: str, price: str, *fees: dict[str, str], symbol: str = SPOT) -> Fill:
    return trade("buy", quantity, price, *fees, symbol=symbol)


def sell(quantity: str, price: str, *fees: dict[str, str], symbol: str = SPOT) -> Fill:
    return trade("sell", quantity, price, *fees, symbol=symbol)


def funding(amount: str, symbol: str = PERP, currency: str = "USDT") -> Funding:
    return Funding(
        funding_id=f"FU-{amount}",
        exchange=EXCHANGE,
        symbol=symbol,
        amount=amount,
        currency=currency,
        occurred_at=T0,
    )


def transfer(kind: str, currency: str, amount: str, fee: str = "0") -> Transfer:
    return Transfer(
        transfer_id=f"TR-{kind}-{currency}",
        exchange=EXCHANGE,
        currency=currency,
        amount=amount,
        fee=fee,
        kind=kind,
        occurred_at=T0,
    )


# --- folding through the engine and the reference ------------------------------------------------


def stored(seq: int, event: Event) -> StoredEvent:
    at = time_text(T0 + timedelta(seconds=seq))
    canonical: dict[str, Any] = {**event.canonical(), "occurred_at": at}
    return StoredEvent.seal(canonical, seq=seq, epoch=1, recorded_at=at, prev_hash="0" * 64)


@dataclass
class Folded:
    """The three folds of one sequence of events, checked equal; numbers are read off the engine."""

    engine: PositionFold

    def position(self, symbol: str = SPOT) -> Position | None:
        return self.engine.position((ACCOUNT, symbol))

    def open(self, symbol: str = SPOT) -> Position:
        position = self.position(symbol)
        assert position is not None
        return position

    @property
    def closed(self) -> list[ClosedPosition]:
        return self.engine.closed

    def totals(self, symbol: str = SPOT) -> Totals:
        return self.engine.totals()[(ACCOUNT, symbol)]

    def balance(self, currency: str) -> Decimal:
        assert self.engine.balances is not None
        return self.engine.balances.get((ACCOUNT, EXCHANGE, currency), Decimal(0))

    @property
    def balances(self) -> dict[BalanceKey, Decimal]:
        assert self.engine.balances is not None
        return self.engine.balances


def fold(*events: Event) -> Folded:
    """Fold `events` (seq 1, 2, ...) through the engine, the engine over stored rows and the reference."""
    engine, reference = PositionFold(balances={}), ReferenceBalances()
    for seq, event in enumerate(events, start=1):
        item = accounting_of(seq, stored(seq, event).event())
        assert engine.apply(item) == reference.apply(item), f"the folds disagree at seq {seq}"
    from_rows = PositionFold(balances={})
    from_rows.apply_rows(stored(seq, event).execution_row() for seq, event in enumerate(events, start=1))
    for other in (engine, from_rows):
        book = other.book()
        assert (book.open, book.closed, book.closed_totals) == (
            reference.book.open,
            reference.book.closed,
            reference.book.closed_totals,
        )
        assert other.totals() == reference.book.totals
        assert other.balances == reference.balances
    return Folded(engine)


def refusals(*events: Event) -> list[str]:
    """The InvalidFill message of the engine, the engine over rows and the reference on the last event."""
    items = [accounting_of(seq, event) for seq, event in enumerate(events, start=1)]
    messages = []
    engine, reference = PositionFold(balances={}), ReferenceBalances()
    engine.apply_all(items[:-1])
    for item in items[:-1]:
        reference.apply(item)
    for apply in (engine.apply, reference.apply):
        with pytest.raises(InvalidFill) as refused:
            apply(items[-1])
        messages.append(str(refused.value))
    rows = PositionFold(balances={})
    with pytest.raises(InvalidFill) as refused:
        rows.apply_rows(stored(seq, event).execution_row() for seq, event in enumerate(events, start=1))
    messages.append(str(refused.value))
    return messages


def usdt(amount: str) -> dict[str, str]:
    return fee(amount, "USDT")


# --- spec section 9: a fee paid in the base currency ---------------------------------------------


def test_a_base_fee_is_a_fee_free_disposal_valued_at_the_fill_price() -> None:
    """Spec 9: buy 1 BTC @ 50000 with fee 0.001 BTC, then sell 0.999 @ 51000 with no fee."""
    bought = fold(buy("1", "50000", fee("0.001", "BTC")))
    position = bought.open()
    assert (position.side, position.quantity, position.avg_price) == (LONG, Decimal("0.999"), Decimal(50000))
    assert (position.fees, position.realized_pnl) == (Decimal(50), Decimal(0))
    assert bought.balance("BTC") == Decimal("0.999")
    assert bought.balance("USDT") == Decimal(-50000)

    closed = fold(buy("1", "50000", fee("0.001", "BTC")), sell("0.999", "51000"))
    assert closed.position() is None
    (cycle,) = closed.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal(999), Decimal(50), Decimal(949))
    assert closed.totals().net_pnl == Decimal(949)
    # Exactly the cash made: 0.999 x 51000 - 50000.
    assert closed.balance("BTC") == Decimal(0)
    assert closed.balance("USDT") == Decimal(949)


# --- N1: NautilusTrader's ETHUSDT example, commission 0.0001 of notional in USDT ------------------


def test_nautilus_n1_realized_minus_fees_equals_nautilus_realized_pnl_after_every_fill() -> None:
    """N1: Nautilus charges each commission into realized_pnl at the fill, so its realized_pnl is our gross
    realized minus fees. Fees are 0.0001 x quantity x price, written out: 0.12, 0.1683, 0.0909, 0.042,
    0.0309. Nautilus rounds USDT to 8 places and keeps avg_px_open as an f64; ours are exact."""
    symbol = "ETH/USDT"
    fills = [
        buy("12", "100.0", usdt("0.12"), symbol=symbol),
        buy("17", "99.0", usdt("0.1683"), symbol=symbol),
        sell("9", "101.0", usdt("0.0909"), symbol=symbol),
        sell("4", "105.0", usdt("0.042"), symbol=symbol),
        buy("3", "103.0", usdt("0.0309"), symbol=symbol),
    ]
    # (quantity, our gross realized, our fees, Nautilus realized_pnl or None where it gives none)
    steps = [
        ("12", "0", "0.12", None),
        ("29", "0", "0.2883", "-0.28830000"),
        ("20", "14.27586206896551724137931032", "0.3792", "13.89666207"),
        ("16", "36.62068965517241379310344824", "0.4212", "36.19948966"),
        ("19", "36.62068965517241379310344824", "0.4521", "36.16858966"),
    ]
    for count, (quantity, realized, fees, nautilus) in enumerate(steps, start=1):
        position = fold(*fills[:count]).open(symbol)
        assert position.quantity == Decimal(quantity)
        assert (position.realized_pnl, position.fees) == (Decimal(realized), Decimal(fees))
        if nautilus is not None:
            assert (position.realized_pnl - position.fees).quantize(USDT_8DP) == Decimal(nautilus)
    after_two, after_five = fold(*fills[:2]).open(symbol), fold(*fills).open(symbol)
    assert after_two.avg_price == Decimal("99.41379310344827586206896552")
    assert after_two.avg_price.quantize(F64_PRICE) == Decimal("99.41379310344827").quantize(F64_PRICE)
    assert after_five.avg_price.quantize(F64_PRICE) == Decimal("99.98003629764065").quantize(F64_PRICE)
    whole = fold(*fills)
    assert whole.balance("ETH") == Decimal(19)
    # -1200 - 1683 + 909 + 420 - 309 and 0.4521 of fees.
    assert whole.balance("USDT") == Decimal("-1863.4521")


# --- N2: NautilusTrader's base-currency commission -----------------------------------------------


def test_nautilus_n2_a_base_commission_on_a_spot_buy_leaves_the_quantity_less_the_fee() -> None:
    position = fold(buy("1.0", "50000", fee("0.001", "BTC"))).open()
    assert (position.side, position.quantity) == (LONG, Decimal("0.999"))


def test_nautilus_n2_a_base_commission_on_a_contract_sell_from_flat_grows_the_short() -> None:
    folded = fold(sell("1.0", "50000", fee("0.001", "BTC"), symbol=PERP))
    position = folded.open(PERP)
    assert position.signed_quantity == Decimal("-1.001")
    assert (position.avg_price, position.fees, position.realized_pnl) == (Decimal(50000), Decimal(50), Decimal(0))
    # A contract moves no base: the fee alone leaves the BTC balance; nothing is realized in USDT.
    assert folded.balances == {(ACCOUNT, EXCHANGE, "BTC"): Decimal("-0.001")}


@pytest.mark.parametrize(
    "events",
    [
        # N2's "sell 1.0 from flat" on spot, from a held 1.0: the fill leaves the position flat, so the
        # 0.001 BTC fee would open a short by rule 1.
        (buy("1.0", "50000"), sell("1.0", "50000", fee("0.001", "BTC"))),
        # A long smaller than its own fee: paying it would turn the long short.
        (buy("0.0005", "50000", fee("0.001", "BTC")),),
    ],
    ids=["sold-to-flat", "long-smaller-than-its-fee"],
)
def test_nautilus_n2_a_base_commission_that_would_turn_a_spot_position_short_is_refused_naming_the_fee(
    events: tuple[Fill, ...],
) -> None:
    messages = refusals(*events)
    assert all(message.startswith("fees[0].amount: a ") and "0.001" in message for message in messages), messages


def test_nautilus_n2_a_base_commission_on_a_spot_sell_from_flat_grows_the_spot_short() -> None:
    """Spec 9 refuses a spot base fee that would turn a long or flat position short, judged on the position
    the fill leaves (base fees are applied after the whole fill): a sell of 1.0 from flat leaves a short,
    which the fee grows to 1.001, as on the contract; the account then holds -1.001 BTC."""
    folded = fold(sell("1.0", "50000", fee("0.001", "BTC")))
    assert folded.open().signed_quantity == Decimal("-1.001")
    assert folded.balance("BTC") == Decimal("-1.001")
    assert folded.balance("USDT") == Decimal(50000)


def test_nautilus_n2_a_quote_commission_leaves_the_quantity_whole() -> None:
    position = fold(buy("1.0", "50000", usdt("50"))).open()
    assert (position.quantity, position.fees, position.net_pnl) == (Decimal("1.0"), Decimal(50), Decimal(-50))


def test_nautilus_n2_funding_with_a_base_commission_is_booked_on_the_contract_cycle() -> None:
    """Nautilus's PositionAdjusted(Funding, +10) gives realized 10.0: it leaves the base commission out of
    PnL, so its 10.0 is our realized + funding; our net_pnl also charges the commission valued at 50."""
    folded = fold(buy("1.0", "50000", fee("0.001", "BTC"), symbol=PERP), funding("10"))
    position = folded.open(PERP)
    assert (position.quantity, position.funding, position.fees) == (Decimal("0.999"), Decimal(10), Decimal(50))
    assert position.realized_pnl + position.funding == Decimal("10.0")
    assert position.net_pnl == Decimal(-40)
    assert folded.totals(PERP).funding == Decimal(10)
    assert folded.balances == {(ACCOUNT, EXCHANGE, "BTC"): Decimal("-0.001"), (ACCOUNT, EXCHANGE, "USDT"): Decimal(10)}


# --- F1: freqtrade's DCA case, fee 0 and fee rate 0.0025 -----------------------------------------

F1_ORDERS = (
    ("buy", "100", "10"),
    ("buy", "100", "15"),
    ("sell", "50", "12"),
    ("sell", "100", "20"),
    ("sell", "50", "5"),
)
# 0.0025 x quantity x price of each order, written out.
F1_FEES = ("2.5", "3.75", "1.5", "5", "0.625")


def f1(count: int, *, fees: bool) -> Folded:
    return fold(
        *(
            trade(side, quantity, price, *([usdt(F1_FEES[index])] if fees else []), symbol="ETH/USDT")
            for index, (side, quantity, price) in enumerate(F1_ORDERS[:count])
        )
    )


def test_freqtrade_f1_without_fees_realizes_freqtrades_realized_profit_after_every_exit() -> None:
    """Fee 0: freqtrade's realized_profit is our gross realized: -25, then 725, then 350 (closed)."""
    assert f1(2, fees=False).open("ETH/USDT").avg_price == Decimal("12.5")
    assert f1(3, fees=False).totals("ETH/USDT").realized_pnl == Decimal(-25)
    assert f1(4, fees=False).totals("ETH/USDT").realized_pnl == Decimal(725)
    closed = f1(5, fees=False)
    assert closed.position("ETH/USDT") is None
    assert (closed.totals("ETH/USDT").realized_pnl, closed.totals("ETH/USDT").net_pnl) == (Decimal(350), Decimal(350))


def test_freqtrade_f1_with_a_quote_fee_rate_nets_freqtrades_profit_once_closed() -> None:
    """Fee rate 0.0025: we book each fee on its fill (fees 2.5, 6.25, 7.75, 12.75, 13.375 cumulated);
    freqtrade charges the opening fees to each exit pro rata by quantity. So what is comparable:

    * after the full close, realized - fees = 350 - 13.375 = 336.625, freqtrade's realized_profit exactly;
    * while open, freqtrade's realized_profit = our gross realized - the exit fees so far - the opening
      fees (6.25) x quantity exited / quantity bought (200): -28.0625 after 50 sold, 713.8125 after 150;
    * amount and open_rate (our quantity and fee-free average) after every order: 100 @ 10, 200 @ 12.5,
      150 @ 12.5, 50 @ 12.5.
    """
    for count, quantity, average, fees in ((1, "100", "10", "2.5"), (2, "200", "12.5", "6.25")):
        position = f1(count, fees=True).open("ETH/USDT")
        assert (position.quantity, position.avg_price, position.fees) == (
            Decimal(quantity),
            Decimal(average),
            Decimal(fees),
        )
    opening_fees, bought = Decimal("6.25"), Decimal(200)
    for count, quantity, realized, fees, exit_fees, exited, freqtrade in (
        (3, "150", "-25", "7.75", "1.5", "50", "-28.0625"),
        (4, "50", "725", "12.75", "6.5", "150", "713.8125"),
    ):
        position = f1(count, fees=True).open("ETH/USDT")
        assert (position.quantity, position.avg_price) == (Decimal(quantity), Decimal("12.5"))
        assert (position.realized_pnl, position.fees) == (Decimal(realized), Decimal(fees))
        assert position.fees == opening_fees + Decimal(exit_fees)
        charged = Decimal(exit_fees) + opening_fees * Decimal(exited) / bought
        assert position.realized_pnl - charged == Decimal(freqtrade)
    closed = f1(5, fees=True)
    assert closed.position("ETH/USDT") is None
    (cycle,) = closed.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal(350), Decimal("13.375"), Decimal("336.625"))
    # Spot cash: -1000 - 1500 + 600 + 2000 + 250 and 13.375 of fees.
    assert closed.balance("USDT") == Decimal("336.625")
    assert closed.balance("ETH") == Decimal(0)


# --- F2: funding's sign ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opening", "closing", "paid", "freqtrade_close_value", "net"),
    [
        ("buy", "sell", "1", "75.8125", "0.8125"),
        ("buy", "sell", "-1", "73.8125", "-1.1875"),
        ("sell", "buy", "1", "74.1875", "0.8125"),
        ("sell", "buy", "-1", "76.1875", "-1.1875"),
    ],
    ids=["long-received", "long-paid", "short-received", "short-paid"],
)
def test_freqtrade_f2_positive_funding_is_money_received_long_or_short(
    opening: str, closing: str, paid: str, freqtrade_close_value: str, net: str
) -> None:
    """F2: amount 30, open and close at 2.5 (notional 75), close fee 0.0025 x 75 = 0.1875. freqtrade's close
    value is what the long receives (75 - fee + funding) or the short pays (75 + fee - funding) on the
    close, so our net_pnl is close value - 75 for a long and 75 - close value for a short."""
    symbol = "ETH/USDT:USDT"
    folded = fold(
        trade(opening, "30", "2.5", symbol=symbol),
        funding(paid, symbol=symbol),
        trade(closing, "30", "2.5", usdt("0.1875"), symbol=symbol),
    )
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.funding, cycle.fees) == (Decimal(0), Decimal(paid), Decimal("0.1875"))
    assert cycle.net_pnl == Decimal(net)
    notional = Decimal(75)
    if opening == "buy":
        assert cycle.net_pnl == Decimal(freqtrade_close_value) - notional
    else:
        assert cycle.net_pnl == notional - Decimal(freqtrade_close_value)
    # The settle balance moves by the funding and the fee (nothing realized): the net PnL.
    assert folded.balance("USDT") == Decimal(net)


def test_positive_funding_raises_net_pnl_and_the_settle_balance() -> None:
    before = fold(buy("1", "50000", symbol=PERP))
    after = fold(buy("1", "50000", symbol=PERP), funding("2.5"))
    assert after.open(PERP).net_pnl - before.open(PERP).net_pnl == Decimal("2.5")
    assert after.balance("USDT") - before.balance("USDT") == Decimal("2.5")


# --- fees in a third currency, rebates ------------------------------------------------------------


def test_a_bnb_fee_with_a_quote_value_counts_in_fees_and_net_pnl() -> None:
    folded = fold(buy("1", "50000", fee("0.05", "BNB", quote_value="15")), sell("1", "51000"))
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.unvalued_fees) == (Decimal(1000), Decimal(15), ())
    assert cycle.net_pnl == Decimal(985)
    assert folded.balance("BNB") == Decimal("-0.05")
    assert folded.balance("USDT") == Decimal(1000)


def test_a_bnb_fee_without_a_quote_value_is_kept_unvalued_and_left_out_of_net_pnl() -> None:
    opened = fold(buy("1", "50000", fee("0.05", "BNB")))
    position = opened.open()
    assert (position.quantity, position.fees, position.net_pnl) == (Decimal(1), Decimal(0), Decimal(0))
    assert position.unvalued_fees == (("BNB", Decimal("0.05")),)

    folded = fold(buy("1", "50000", fee("0.05", "BNB")), sell("1", "51000", fee("0.05", "BNB")))
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal(1000), Decimal(0), Decimal(1000))
    assert cycle.unvalued_fees == (("BNB", Decimal("0.10")),)
    assert folded.totals().unvalued_fees == (("BNB", Decimal("0.1")),)
    assert folded.totals().net_pnl == Decimal(1000)
    assert folded.balance("BNB") == Decimal("-0.1")
    assert folded.balance("USDT") == Decimal(1000)


def test_an_unvalued_fee_that_sums_to_zero_leaves_no_entry_so_every_fold_writes_the_same_digits() -> None:
    # 0.015 BNB, a 0.015 BNB rebate, then 0.02 BNB in one cycle. A stored position (and the paper wallet's
    # checkpoint) holds no zero sum, so a fold resumed from one writes 0.02; the fold from the first event
    # must not carry 0.000 on and write 0.020.
    fills = [buy("1", "100", fee(amount, "BNB")) for amount in ("0.015", "-0.015", "0.02")]
    closing = sell("3", "100", fee("-0.02", "BNB"))

    opened = fold(*fills)
    closed = fold(*fills, closing, buy("1", "100", fee("0.02", "BNB")), sell("1", "100"))

    assert [(currency, str(amount)) for currency, amount in opened.open().unvalued_fees] == [("BNB", "0.02")]
    assert [cycle.unvalued_fees for cycle in closed.closed] == [(), (("BNB", Decimal("0.02")),)]
    assert [(currency, str(amount)) for currency, amount in closed.totals().unvalued_fees] == [("BNB", "0.02")]


def test_a_rebate_is_a_negative_fee_that_raises_net_pnl() -> None:
    folded = fold(buy("1", "50000", usdt("-5")), sell("1", "50100", usdt("10")))
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal(100), Decimal(5), Decimal(95))
    rebated = fold(buy("1", "50000", usdt("-5"))).open()
    assert (rebated.fees, rebated.net_pnl) == (Decimal(-5), Decimal(5))
    assert folded.balance("USDT") == Decimal(95)


# --- flips ----------------------------------------------------------------------------------------


def test_a_flip_paid_in_base_on_a_contract_puts_the_whole_base_fee_on_the_new_cycle() -> None:
    """Long 1 @ 50000, then sell 3 @ 51000 with 0.003 BTC: the close realizes 1000 with no fee; the short
    of 2 grows by the disposal to 2.003 at 51000 with fees 0.003 x 51000 = 153. Buying 2.003 back at
    50000 realizes 2003."""
    opened = fold(buy("1", "50000", symbol=PERP), sell("3", "51000", fee("0.003", "BTC"), symbol=PERP))
    (first,) = opened.closed
    assert (first.side, first.quantity, first.realized_pnl, first.fees) == (LONG, Decimal(1), Decimal(1000), Decimal(0))
    short = opened.open(PERP)
    assert (short.side, short.quantity, short.avg_price) == (SHORT, Decimal("2.003"), Decimal(51000))
    assert (short.fees, short.realized_pnl) == (Decimal(153), Decimal(0))
    assert opened.balances == {
        (ACCOUNT, EXCHANGE, "USDT"): Decimal(1000),
        (ACCOUNT, EXCHANGE, "BTC"): Decimal("-0.003"),
    }

    closed = fold(
        buy("1", "50000", symbol=PERP),
        sell("3", "51000", fee("0.003", "BTC"), symbol=PERP),
        buy("2.003", "50000", symbol=PERP),
    )
    second = closed.closed[1]
    assert (second.realized_pnl, second.fees, second.net_pnl) == (Decimal(2003), Decimal(153), Decimal(1850))
    assert closed.totals(PERP).net_pnl == Decimal(2850)
    assert closed.balance("USDT") == Decimal(3003)


def test_the_paper_wallets_replay_books_a_base_fee_whose_disposal_flips_a_contract_as_the_positions_do() -> None:
    """Long 1 @ 100, then sell 0.9995 @ 110 paying 1 USDT and 0.001 BTC: the sell leaves long 0.0005, and the
    fee's disposal closes it (realized 10 in all, fees 1, net 9) and opens a short of 0.0005 at 110 whose fees
    are the whole 0.001 x 110 = 0.11, as the positions book it. The paper wallet's replay (the report's and
    PaperWallet's fold) keeps the same cycles; its cash is 1000 - 100 + 109.945 - 1 + 0.055 - 0.055 - 0.11."""
    events = [buy("1", "100", symbol=PERP), sell("0.9995", "110", usdt("1"), fee("0.001", "BTC"), symbol=PERP)]
    folded = fold(*events)
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal(10), Decimal(1), Decimal(9))
    short = folded.open(PERP)
    assert (short.signed_quantity, short.avg_price, short.fees) == (Decimal("-0.0005"), Decimal(110), Decimal("0.11"))

    replay = WalletReplay(Decimal(1000))
    replay.apply_all(accounting_of(seq, stored(seq, event).event()) for seq, event in enumerate(events, start=1))

    book = replay.positions.book()
    assert book.closed == [cycle]
    assert book.open == {(ACCOUNT, PERP): short}
    wallet = replay.wallet
    assert wallet is not None
    assert (wallet.cash, wallet.fees, wallet.realized_pnl) == (Decimal("1008.835"), Decimal("1.11"), Decimal(10))
    assert (wallet.cycles_opened, wallet.winning_cycles) == (2, 1)


def test_a_flip_splits_a_quote_and_an_unvalued_bnb_fee_pro_rata_each_in_its_own_currency() -> None:
    """Long 1 @ 2000, then sell 4 @ 2100 with 2 USDT and 0.004 BNB: the close takes 1/4 of each
    (0.5 USDT, 0.001 BNB), the new short of 3 the rest (1.5 USDT, 0.003 BNB)."""
    symbol = "ETH/USDT:USDT"
    folded = fold(
        buy("1", "2000", symbol=symbol),
        sell("4", "2100", usdt("2"), fee("0.004", "BNB"), symbol=symbol),
    )
    (closed,) = folded.closed
    assert (closed.realized_pnl, closed.fees, closed.net_pnl) == (Decimal(100), Decimal("0.5"), Decimal("99.5"))
    assert closed.unvalued_fees == (("BNB", Decimal("0.001")),)
    short = folded.open(symbol)
    assert (short.side, short.quantity, short.avg_price) == (SHORT, Decimal(3), Decimal(2100))
    assert (short.fees, short.unvalued_fees) == (Decimal("1.5"), (("BNB", Decimal("0.003")),))
    totals = folded.totals(symbol)
    assert (totals.realized_pnl, totals.fees, totals.unvalued_fees) == (
        Decimal(100),
        Decimal(2),
        (("BNB", Decimal("0.004")),),
    )
    assert folded.balances == {(ACCOUNT, EXCHANGE, "USDT"): Decimal(98), (ACCOUNT, EXCHANGE, "BNB"): Decimal("-0.004")}


def test_a_flip_split_into_thirds_adds_up_to_the_fee_exactly() -> None:
    """Long 1, sell 3 with 1 USDT: the close takes 1/3 to 18 places, the new cycle the exact rest."""
    folded = fold(buy("1", "100", symbol=PERP), sell("3", "100", usdt("1"), fee("1", "BNB"), symbol=PERP))
    (closed,) = folded.closed
    short = folded.open(PERP)
    assert (closed.fees, short.fees) == (Decimal("0.333333333333333333"), Decimal("0.666666666666666667"))
    assert closed.unvalued_fees == (("BNB", Decimal("0.333333333333333333")),)
    assert short.unvalued_fees == (("BNB", Decimal("0.666666666666666667")),)
    assert folded.totals(PERP).fees == Decimal(1)
    assert folded.totals(PERP).unvalued_fees == (("BNB", Decimal(1)),)


# --- funding through a flip -----------------------------------------------------------------------


def test_funding_goes_to_the_cycle_open_when_it_is_booked_and_with_none_open_to_the_totals_only() -> None:
    """Funding -4 while flat (totals only); buy 2 @ 2000; +5 (the long); sell 3 @ 2100 (the long closes
    with realized 200, a short of 1 opens); -2 (the short)."""
    symbol = "ETH/USDT:USDT"
    flat = fold(funding("-4", symbol=symbol))
    assert flat.position(symbol) is None
    assert flat.closed == []
    assert flat.totals(symbol) == Totals(funding=Decimal(-4))
    folded = fold(
        funding("-4", symbol=symbol),
        buy("2", "2000", symbol=symbol),
        funding("5", symbol=symbol),
        sell("3", "2100", symbol=symbol),
        funding("-2", symbol=symbol),
    )
    (long,) = folded.closed
    assert (long.side, long.realized_pnl, long.funding, long.net_pnl) == (LONG, Decimal(200), Decimal(5), Decimal(205))
    short = folded.open(symbol)
    assert (short.side, short.quantity, short.funding, short.net_pnl) == (SHORT, Decimal(1), Decimal(-2), Decimal(-2))
    totals = folded.totals(symbol)
    assert (totals.realized_pnl, totals.funding, totals.net_pnl) == (Decimal(200), Decimal(-1), Decimal(199))
    assert folded.balance("USDT") == Decimal(199)


def test_funding_on_a_spot_symbol_or_in_another_currency_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="symbol: funding is paid on a perpetual"):
        funding("1", symbol=SPOT)
    with pytest.raises(ValidationError, match="currency: funding on BTC/USDT:USDT is paid in its settle"):
        funding("1", currency="BTC")


# --- transfers ------------------------------------------------------------------------------------


def test_a_deposit_and_a_withdrawal_move_only_balances_and_the_withdrawal_fee_is_taken_on_top() -> None:
    trades: Sequence[Event] = (buy("0.01", "50000", usdt("0.5")), sell("0.004", "51000"))
    without = fold(*trades)
    folded = fold(
        transfer("deposit", "USDT", "1000"),
        trades[0],
        transfer("withdrawal", "BTC", "-0.005", fee="0.0001"),
        trades[1],
    )
    assert folded.engine.totals() == without.engine.totals()
    position, plain = folded.open(), without.open()
    assert (position.quantity, position.avg_price, position.realized_pnl, position.fees, position.funding) == (
        plain.quantity,
        plain.avg_price,
        plain.realized_pnl,
        plain.fees,
        plain.funding,
    )
    assert (position.quantity, position.realized_pnl, position.fees) == (Decimal("0.006"), Decimal(4), Decimal("0.5"))
    # USDT: 1000 - 500 - 0.5 + 204; BTC: 0.01 - 0.005 - 0.0001 - 0.004.
    assert folded.balance("USDT") == Decimal("703.5")
    assert folded.balance("BTC") == Decimal("0.0009")
    assert folded.balance("USDT") - without.balance("USDT") == Decimal(1000)
    assert folded.balance("BTC") - without.balance("BTC") == Decimal("-0.0051")


def test_a_contract_settle_balance_gains_each_reductions_realized_pnl_to_the_last_digit() -> None:
    """Short 2 @ 7 (fee 1), buy 3 @ 0.3 (realizes 13.4, a long of 1 opens), add 3 @ 7 and 2 @ 7 (fee 1):
    long 6 @ 35.3/6. Selling 1 @ 3 realizes 3 - 5.883333333333333333333333333 and the balance of 11.4
    gains exactly that. (The reference once took the difference of the lifetime realized before and after,
    13.4 and 10.51666666666666666666666667, which is one digit short: 8.51666666666666666666666667.)"""
    symbol = "ETH/USDT:USDT"
    folded = fold(
        sell("2", "7", usdt("1"), symbol=symbol),
        buy("3", "0.3", symbol=symbol),
        buy("3", "7", symbol=symbol),
        buy("2", "7", usdt("1"), symbol=symbol),
        sell("1", "3", symbol=symbol),
    )
    position = folded.open(symbol)
    assert (position.quantity, position.avg_price) == (Decimal(5), Decimal("5.883333333333333333333333333"))
    assert position.realized_pnl == Decimal("-2.883333333333333333333333333")
    assert folded.balance("USDT") == Decimal("8.516666666666666666666666667")


# --- accounting-anchors.md group C: NautilusTrader's base-currency commissions --------------------


def test_nautilus_c1_a_spot_round_trip_with_a_base_then_a_quote_commission_closes_flat() -> None:
    """C1: Nautilus realizes 97.90 = 0.999 x 100 - 2 (the quote commission only); we also value the
    0.001 ETH at 2000 into fees, so our realized - (fees - 2) is Nautilus's and our net is the cash made."""
    symbol = "ETH/USDT"
    bought = fold(buy("1.00000", "2000.00", fee("0.001", "ETH"), symbol=symbol)).open(symbol)
    assert (bought.quantity, bought.avg_price, bought.fees) == (Decimal("0.999"), Decimal(2000), Decimal(2))
    folded = fold(
        buy("1.00000", "2000.00", fee("0.001", "ETH"), symbol=symbol),
        sell("0.99900", "2100.00", usdt("2.0"), symbol=symbol),
    )
    assert folded.position(symbol) is None
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.fees, cycle.net_pnl) == (Decimal("99.9"), Decimal(4), Decimal("95.9"))
    assert cycle.realized_pnl - (cycle.fees - Decimal(2)) == Decimal("97.90")
    assert (folded.balance("ETH"), folded.balance("USDT")) == (Decimal(0), Decimal("95.9"))


def test_nautilus_c2_a_base_commission_on_the_close_opens_a_short_on_a_contract_and_is_refused_on_spot() -> None:
    """C2: buy 1.0 @ 50000 fee 0.001 BTC, sell 0.999 @ 50100 fee 0.000999 BTC. Nautilus ends short
    -0.000999 with realized +99.90 (derived). On a contract we do the same: the sell closes the cycle
    (realized 99.9, fees 50) and the fee's disposal opens a short of 0.000999 at 50100 (fees 50.0499).
    On spot that fee would turn a flat position short: refused (spec 9)."""
    folded = fold(
        buy("1.0", "50000", fee("0.001", "BTC"), symbol=PERP),
        sell("0.999", "50100", fee("0.000999", "BTC"), symbol=PERP),
    )
    (cycle,) = folded.closed
    assert (cycle.realized_pnl, cycle.fees) == (Decimal("99.90"), Decimal(50))
    short = folded.open(PERP)
    assert (short.signed_quantity, short.avg_price, short.fees) == (
        Decimal("-0.000999"),
        Decimal(50100),
        Decimal("50.0499"),
    )
    assert folded.balances == {
        (ACCOUNT, EXCHANGE, "BTC"): Decimal("-0.001999"),
        (ACCOUNT, EXCHANGE, "USDT"): Decimal("99.9"),
    }
    messages = refusals(buy("1.0", "50000", fee("0.001", "BTC")), sell("0.999", "50100", fee("0.000999", "BTC")))
    assert all(message.startswith("fees[0].amount: a ") for message in messages), messages


def test_nautilus_c3_partial_buys_each_paying_a_base_commission() -> None:
    """C3 (GitHub #3546): 0.0035, 0.0035, 0.003 ETH @ 2042.69, each with 0.00001 ETH of commission."""
    symbol = "ETH/USDT"
    fills = [
        buy(quantity, "2042.69", fee("0.00001", "ETH"), symbol=symbol) for quantity in ("0.00350", "0.0035", "0.003")
    ]
    for count, quantity in ((1, "0.00349"), (2, "0.00698"), (3, "0.00997")):
        assert fold(*fills[:count]).open(symbol).quantity == Decimal(quantity)
    position = fold(*fills).open(symbol)
    assert (position.avg_price, position.fees) == (Decimal("2042.69"), Decimal("0.0612807"))
