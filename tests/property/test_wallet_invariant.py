"""Property: the paper wallet's cash over any fills recorded in the ledger (spec section 5).

For any sequence of buy/sell fills over one to three symbols (adds, partial and full reductions and
flips alike), recorded in a real SQLite ledger, the wallet invariant

    cash + Σ_open |s|·avg = B0 + Σ realized - Σ fees

holds after every event, and the wallet's cash equals the cash computed here, independently, as
B0 - Σ opening and adding costs + Σ long-reduce proceeds + Σ short-reduce credits - Σ fees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.conftest import LedgerTemplate
from tradeledger import Fill
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.domain.fills import LEDGER_CONTEXT

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
B0 = Decimal(1000)
SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD")
ZERO = Decimal(0)
# Averages are 28-digit quotients; summing the credits they produce in another order than the wallet
# does may differ in the 28th digit, far below any money unit.
TOLERANCE = Decimal("1E-18")


@dataclass(frozen=True)
class Leg:
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal


def _small(round_values: tuple[str, ...], low: str, high: str) -> st.SearchStrategy[Decimal]:
    # Round values make positions close exactly and flip often; the range covers everything else.
    return st.one_of(
        st.sampled_from([Decimal(value) for value in round_values]),
        st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=2),
    )


@st.composite
def leg_lists(draw: st.DrawFn) -> list[Leg]:
    symbols = SYMBOLS[: draw(st.integers(min_value=1, max_value=3))]
    leg = st.builds(
        Leg,
        symbol=st.sampled_from(symbols),
        side=st.sampled_from(["buy", "sell"]),
        quantity=_small(("0.5", "1", "2"), "0.01", "10"),
        price=_small(("90", "100", "110"), "0.01", "500"),
        fee=st.one_of(st.just(ZERO), st.decimals(min_value=ZERO, max_value=Decimal(1), places=3)),
    )
    return draw(st.lists(leg, min_size=1, max_size=15))


@dataclass
class Cash:
    """The wallet's cash and books, computed here from the spec's rules, apart from the ledger's fold."""

    opening_costs: Decimal = ZERO  # q·p of every opening or adding quantity, longs and shorts alike
    long_proceeds: Decimal = ZERO  # q·p of every quantity reducing a long
    short_credits: Decimal = ZERO  # q·(2·avg - p) of every quantity reducing a short
    fees: Decimal = ZERO
    realized: Decimal = ZERO
    books: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # symbol -> (signed size, avg)

    def apply(self, leg: Leg) -> None:
        with localcontext(LEDGER_CONTEXT):
            size, avg = self.books.get(leg.symbol, (ZERO, ZERO))
            direction = 1 if leg.side == "buy" else -1
            q, p = leg.quantity, leg.price
            reducing = ZERO if size == 0 or (size > 0) == (direction > 0) else min(q, abs(size))
            if reducing:
                if size > 0:
                    self.long_proceeds += reducing * p
                    self.realized += (p - avg) * reducing
                else:
                    self.short_credits += reducing * (2 * avg - p)
                    self.realized += (avg - p) * reducing
            opening = q - reducing
            if opening:
                self.opening_costs += opening * p
                # a flip opens the rest at p; an add averages by quantity, fees excluded
                held = ZERO if reducing else abs(size)
                avg = (held * avg + opening * p) / (held + opening)
            self.fees += leg.fee
            self.books[leg.symbol] = (size + direction * q, avg)

    @property
    def cash(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return B0 - self.opening_costs + self.long_proceeds + self.short_credits - self.fees

    @property
    def at_cost(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return sum((abs(size) * avg for size, avg in self.books.values() if size), ZERO)


def _fill(index: int, leg: Leg) -> Fill:
    return Fill.model_validate(
        {
            "fill_id": f"W-{index:04d}",
            "exchange": "kraken",
            "symbol": leg.symbol,
            "side": leg.side,
            "quantity": leg.quantity,
            "price": leg.price,
            "fee": leg.fee,
            "occurred_at": T0 + timedelta(seconds=index),
        }
    )


@settings(max_examples=50, deadline=None)
@given(legs=leg_lists())
def test_the_wallet_invariant_holds_after_every_fill_and_the_cash_matches_the_spec(
    empty_ledger: LedgerTemplate, legs: list[Leg]
) -> None:
    expected = Cash()
    with empty_ledger.fresh() as ledger:
        wallet = PaperWallet(ledger, B0)
        for index, leg in enumerate(legs, start=1):
            ledger.record(_fill(index, leg))
            expected.apply(leg)

            wallet.check_invariant()  # the fold checked it on this fill too; this re-checks the books
            summary = wallet.get_wallet_summary()
            assert abs(summary["balance"] - expected.cash) <= TOLERANCE
            assert wallet.realized_pnl == expected.realized
            assert abs(summary["total_position_value"] - expected.at_cost) <= TOLERANCE
            with localcontext(LEDGER_CONTEXT):
                left = summary["balance"] + summary["total_position_value"]
                right = B0 + expected.realized - expected.fees
            assert abs(left - right) <= TOLERANCE

        # a wallet built later folds the whole log to the same cash
        assert PaperWallet(ledger, B0).balance == wallet.balance
