"""The paper wallet's invariant over long histories: the 28-digit rounding it allows, and nothing more (spec §5).

Every add to a position rounds its average `avg = (|s|·avg + q·p) / (|s| + q)` to 28 digits, and the
position's cost |s|·avg then differs from the cash paid by |s| times that rounding. The difference stays
in the books when the position is sold down (the realized PnL is taken against the same `avg`), so it
grows with the adds a history made, not with the amounts the wallet holds at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context, Decimal, localcontext

import pytest

from tradeledger.domain.fills import LEDGER_CONTEXT, Side
from tradeledger.domain.positions import Execution
from tradeledger.domain.wallet import WalletBook, replay_wallet
from tradeledger.errors import InvalidArgument, InvariantViolation

T0 = datetime(2026, 1, 5, tzinfo=UTC)
B0 = Decimal(1000)
ADDS = 400
_WIDE = Context(prec=80)  # the averages' quotients to 80 digits: what the 28-digit ones are compared with


def upward_prices(count: int) -> list[Decimal]:
    """Prices of `count` one-unit buys, each chosen (among 100..139) so that the new 28-digit average rounds
    up by as much as it can: the rounding of every add then goes the same way."""
    size, avg, prices = Decimal(0), Decimal(0), []
    for _ in range(count):
        best: tuple[Decimal, Decimal, Decimal] | None = None
        for whole in range(100, 140):
            price = Decimal(whole)
            with localcontext(LEDGER_CONTEXT):
                rounded = (size * avg + price) / (size + 1)
            up = rounded - _WIDE.divide(size * avg + price, size + 1)
            if best is None or up > best[0]:
                best = (up, price, rounded)
        assert best is not None
        _, price, avg = best
        prices.append(price)
        size += 1
    return prices


def history(adds: int) -> list[Execution]:
    """`adds` one-unit buys at `upward_prices`, then all but one unit sold at 120."""
    buys = [
        Execution(i, "a", "BTC/USD", Side.BUY, Decimal(1), p, Decimal(0), T0)
        for i, p in enumerate(upward_prices(adds), 1)
    ]
    sells = [
        Execution(adds + i, "a", "BTC/USD", Side.SELL, Decimal(1), Decimal(120), Decimal(0), T0) for i in range(1, adds)
    ]
    return buys + sells


def test_the_invariant_holds_through_hundreds_of_adds_whose_averages_all_round_up() -> None:
    positions, wallet = replay_wallet(history(ADDS), B0)

    position = positions.position(("a", "BTC/USD"))
    assert position is not None
    assert position.quantity == 1
    assert wallet.cash == B0 - sum(upward_prices(ADDS)) + (ADDS - 1) * 120  # every q·p exact: 1 unit, whole prices
    with localcontext(Context(prec=100)):
        drift = wallet.cash + position.avg_price - (B0 + wallet.realized_pnl)
    assert drift != 0  # the averages' rounding is in the books: the case this test is about


def test_after_that_history_a_cash_off_by_a_trillionth_of_a_cent_still_breaks_the_invariant() -> None:
    _, wallet = replay_wallet(history(ADDS), B0)
    # the bound: 799 events, each 32E-27 times its largest amount (here at most 400 units at cost, < 60,000)
    assert 0 < wallet.rounding < Decimal("2E-18")
    wallet.check(2 * ADDS - 1)

    wallet.cash += Decimal("1E-14")  # a fold bug, simulated

    with pytest.raises(
        InvariantViolation, match=r"after seq 799: cash 2614\.00000000000001 .*: 1\.00000036924E-14 apart, more than"
    ):
        wallet.check(2 * ADDS - 1)


def test_a_history_without_rounding_has_sides_exactly_equal() -> None:
    # buy 2@50, sell 1@55, sell 1@60 (spec §5's legacy case): every amount exact, so the two sides are equal
    executions = [
        Execution(1, "a", "BTC/USD", Side.BUY, Decimal(2), Decimal(50), Decimal(0), T0),
        Execution(2, "a", "BTC/USD", Side.SELL, Decimal(1), Decimal(55), Decimal(0), T0),
        Execution(3, "a", "BTC/USD", Side.SELL, Decimal(1), Decimal(60), Decimal(0), T0),
    ]
    _, wallet = replay_wallet(executions[:2], Decimal(1000))
    assert wallet.sides() == (Decimal(50), Decimal(1005), Decimal(1005), Decimal(0))
    _, wallet = replay_wallet(executions, Decimal(1000))
    assert (wallet.cash, wallet.sides()) == (Decimal(1015), (Decimal(0), Decimal(1015), Decimal(1015), Decimal(0)))


@pytest.mark.parametrize(
    ("balance", "reason"),
    [
        ("-1", r"must be a finite number of 0 or more \(got -1\)"),
        ("NaN", r"must be a finite number of 0 or more \(got NaN\)"),
        ("1" * 29, r"has 29 significant digits; at most 28 are kept exactly"),
        ("1E+5000", r"is out of range 1E-24\.\.1E\+24 \(got 1E\+5000\)"),
        ("1E-40", r"is out of range 1E-24\.\.1E\+24 \(got 1E-40\)"),
    ],
)
def test_a_starting_balance_outside_a_fills_amount_limits_is_refused_naming_it(balance: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"^initial_balance: {reason}"):
        WalletBook(Decimal(balance))
