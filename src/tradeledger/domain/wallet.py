"""The paper wallet (spec section 5): a cash-secured spot model folded from the same fills as positions.

Opening or adding deducts q·p for longs and shorts alike (a short reserves it); reducing a long
credits the proceeds q·p; reducing a short credits q·(2·avg - p), the reserve plus the PnL; every
fee is deducted; funding is paid into (or out of) the cash. A fee paid in the base currency is the
fill followed by a fee-free disposal of that much base at the fill price whose fee is its quote value
(spec section 9): the proceeds and the fee cancel, so no cash moves for the coins that went. Unvalued
fees (another currency, no quote value) and transfers are not in the wallet's cash. After every event
the invariant

    cash + Σ_open |s|·avg = B0 + Σ realized + Σ funding - Σ fees

must hold, to the rounding the ledger's 28-digit arithmetic has made so far and nothing more. Every add
rounds `avg` to 28 digits, so |s|·avg differs from the cash paid by |s| times that rounding, and the
difference stays when the position is sold down (the realized PnL is taken against the same `avg`): it
grows with the events folded, not with the amounts held now. So the book keeps `rounding`, a bound on it:
each event adds ROUNDING_PER_EVENT times the largest amount the event touched (each of its ~15 rounded
operations moves the two sides by at most half a unit in the 28th digit of a result at most ~4 times
that amount). The check computes both sides exactly and raises when they are further apart than the
bound; nothing is ever clamped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, localcontext
from typing import Self

from tradeledger.domain.fills import LEDGER_CONTEXT, Side, exact_amount, shortened
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import (
    ZERO,
    Accounting,
    Execution,
    FundingPayment,
    Outcome,
    Position,
    PositionKey,
    PositionSide,
    TransferMove,
    pnl,
)
from tradeledger.domain.reference import apply_fill
from tradeledger.errors import InvalidArgument, InvariantViolation

TWO = Decimal(2)
# What one event's 28-digit operations can move the invariant's two sides apart, per unit of the largest
# amount it touched (an upper bound: its rounded operations sum to ~16 units of 10^-27 of that amount).
ROUNDING_PER_EVENT = Decimal("32E-27")
# The running Σ|s|·avg, the two sides of the check and the rounding bound: exact (precision unbounded).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def starting_cash(value: Decimal, name: str = "initial_balance") -> Decimal:
    """B0 as a wallet takes it: a finite amount of 0 or more within a fill's amount limits (at most 28
    significant digits, 1E-24..1E+24; spec section 3), or InvalidArgument naming `name` and why not."""
    if not value.is_finite() or value < 0:
        raise InvalidArgument(f"{name}: must be a finite number of 0 or more (got {shortened(value)})")
    try:
        return exact_amount(value)
    except ValueError as error:
        raise InvalidArgument(f"{name}: {error}") from None


@dataclass(slots=True)
class WalletBook:
    """Cash and counters of one wallet, folded fill by fill alongside the position book."""

    initial_balance: Decimal
    cash: Decimal = field(init=False)
    realized_pnl: Decimal = ZERO  # gross, every cycle
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    cycles_opened: int = 0
    winning_cycles: int = 0  # closed cycles whose net PnL (realized - fees) is above 0
    cost_basis: dict[PositionKey, Decimal] = field(default_factory=dict)  # |s|·avg per open position
    last_seq: int = 0
    # The most the 28-digit rounding of the events folded so far can have moved the invariant's two sides apart
    # (see the module); a book resumed from a checkpoint starts from the difference it has there.
    rounding: Decimal = field(default=ZERO, repr=False, compare=False)
    # Σ cost_basis, exact, kept as fills move it, for the check after each event (summing every open position
    # there made a report of 16,000 open positions sum 256 M terms); `_held_of` is the dict it sums (a
    # checkpoint that assigns another is summed again on the next check).
    _held: Decimal = field(default=ZERO, init=False, repr=False, compare=False)
    _held_of: dict[PositionKey, Decimal] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starting_cash(self.initial_balance)
        self.cash = self.initial_balance

    def apply(self, before: Position | None, execution: Execution, outcome: Outcome) -> None:
        """Book one fill whose effect on positions is `outcome` (from `before`); then check the invariant."""
        with localcontext(LEDGER_CONTEXT):
            self._book(before, execution, outcome)
        self.last_seq = execution.seq
        self.check(execution.seq)

    def _book(self, before: Position | None, execution: Execution, outcome: Outcome) -> None:
        q, p = execution.quantity, execution.price
        cash_before = self.cash
        closing = ZERO
        if before is not None and (before.side is PositionSide.LONG) != (execution.side.direction > 0):
            closing = min(q, before.quantity)
            # A long's close credits the proceeds; a short's its reserve plus the PnL: q·(2·avg - p).
            self.cash += closing * p if before.side is PositionSide.LONG else closing * (TWO * before.avg_price - p)
            self.realized_pnl += pnl(before.side, before.avg_price, p, closing)
        opening = q - closing
        if opening > 0:
            self.cash -= opening * p
        self.cash -= execution.fee
        self.fees += execution.fee
        if outcome.position is not None and (before is None or outcome.position.opened_seq != before.opened_seq):
            self.cycles_opened += 1
        if outcome.closed is not None and outcome.closed.net_pnl > 0:
            self.winning_cycles += 1
        key = (execution.account, execution.symbol)
        cost_before = self.cost_basis.get(key, ZERO)
        if outcome.position is None:
            self.cost_basis.pop(key, None)
            cost_after = ZERO
        else:
            cost_after = self.cost_basis[key] = outcome.position.quantity * outcome.position.avg_price
        if self._held_of is self.cost_basis:
            self._held = _EXACT.add(_EXACT.subtract(self._held, cost_before), cost_after)
        largest = max(
            abs(cash_before), abs(self.cash), abs(self.realized_pnl), abs(self.fees), abs(execution.fee),
            q * p, TWO * cost_before, cost_after,
        )  # fmt: skip
        self.rounding = _EXACT.add(self.rounding, _EXACT.multiply(largest, ROUNDING_PER_EVENT))

    def fund(self, payment: FundingPayment) -> None:
        """Book a funding payment: into (or out of) the cash and the funding total."""
        cash_before = self.cash
        with localcontext(LEDGER_CONTEXT):
            self.cash += payment.amount
            self.funding += payment.amount
            largest = max(abs(cash_before), abs(self.cash), abs(self.funding), abs(payment.amount))
        self.rounding = _EXACT.add(self.rounding, _EXACT.multiply(largest, ROUNDING_PER_EVENT))
        self.last_seq = payment.seq
        self.check(payment.seq)

    def held_at_cost(self) -> Decimal:
        """Σ|s|·avg of the open positions: their exact sum, rounded to the ledger's 28 digits once (what the
        wallet's views show)."""
        return LEDGER_CONTEXT.plus(self._held_exactly())

    def _held_exactly(self) -> Decimal:
        if self._held_of is not self.cost_basis:
            with localcontext(_EXACT):
                self._held = sum(self.cost_basis.values(), ZERO)
            self._held_of = self.cost_basis
        return self._held

    def sides(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """The invariant's terms, exact: Σ|s|·avg, cash + Σ|s|·avg, B0 + Σ realized + Σ funding - Σ fees, and the
        difference of the two sides."""
        held = self._held_exactly()
        left = _EXACT.add(self.cash, held)
        right = _EXACT.subtract(
            _EXACT.add(_EXACT.add(self.initial_balance, self.realized_pnl), self.funding), self.fees
        )
        return held, left, right, _EXACT.subtract(left, right)

    def check(self, seq: int) -> None:
        """Raise InvariantViolation unless cash + Σ|s|·avg = B0 + Σ realized + Σ funding - Σ fees, to the rounding
        of the events folded so far (`rounding`)."""
        held, left, right, difference = self.sides()
        if abs(difference) > self.rounding:
            raise InvariantViolation(
                f"wallet invariant broken after seq {seq}: cash {self.cash} + positions at cost {held} = {left}, "
                f"but initial {self.initial_balance} + realized {self.realized_pnl} + funding {self.funding} "
                f"- fees {self.fees} = {right}: {difference} apart, more than the 28-digit rounding of the events "
                f"folded can make ({self.rounding})"
            )

    def resumed(self) -> None:
        """Called once a book's figures were set from a checkpoint: the rounding it carries is its difference there."""
        self.rounding = abs(self.sides()[3])

    @property
    def win_rate(self) -> Decimal:
        """Winning closed cycles in percent of the cycles opened (0 before the first)."""
        if self.cycles_opened == 0:
            return ZERO
        with localcontext(LEDGER_CONTEXT):
            return Decimal(self.winning_cycles) / Decimal(self.cycles_opened) * 100


@dataclass(frozen=True, slots=True)
class Step:
    """One event folded: the open position of its (account, symbol) before it, and what it did."""

    execution: Accounting
    before: Position | None
    outcome: Outcome


class WalletReplay:
    """Positions (folded by the engine) and, given an initial balance, the paper wallet, one execution at a time."""

    __slots__ = ("positions", "wallet")

    def __init__(self, initial_balance: Decimal | None = None) -> None:
        self.positions = PositionFold()
        self.wallet = None if initial_balance is None else WalletBook(initial_balance)

    def apply(self, event: Accounting) -> Step:
        """Fold one event into the positions and the wallet (whose invariant it checks)."""
        if isinstance(event, FundingPayment):
            before = self.positions.position((event.account, event.symbol))
            outcome = self.positions.apply(event)
            if self.wallet is not None:
                self.wallet.fund(event)
            return Step(event, before, outcome)
        if isinstance(event, TransferMove):
            return Step(event, None, self.positions.apply(event))
        before = self.positions.position((event.account, event.symbol))
        if event.base_fee == 0 or self.wallet is None:
            outcome = self.positions.apply(event)
            if self.wallet is not None:
                self.wallet.apply(before, event, outcome)
            return Step(event, before, outcome)
        # The positions fold the event once, as every fold does (a refused base fee leaves them as they were, and
        # the disposal of a base fee that flips a contract's position puts its whole fee on the cycle it opens).
        # The wallet books the cash of the fill and of its fee's disposal as two trades: the position between
        # them is the fill's trade alone (the reference's pure fold), the cycles after them the positions'.
        outcome = self.positions.apply(event)
        trade = replace(event, base_fee=ZERO)
        phi = event.base_fee
        with localcontext(LEDGER_CONTEXT):
            disposal = replace(
                event,
                side=Side.SELL if phi > 0 else Side.BUY,
                quantity=abs(phi),
                fee=phi * event.price,
                unvalued_fees=(),
                base_fee=ZERO,
            )
        middle = apply_fill(before, trade)
        self.wallet.apply(before, trade, middle)
        # A cycle the disposal closed (one closed by the fill's trade is the middle's, counted once).
        self.wallet.apply(
            middle.position, disposal, Outcome(outcome.position, None if middle.closed else outcome.closed)
        )
        return Step(event, before, outcome)

    def apply_all(self, executions: Iterable[Accounting]) -> Self:
        for execution in executions:
            self.apply(execution)
        return self


def replay_wallet(executions: Iterable[Accounting], initial_balance: Decimal) -> tuple[PositionFold, WalletBook]:
    """Positions and the paper wallet of spec section 5 folded from `executions` (one account's, in log order)."""
    wallet = WalletBook(initial_balance)
    replay = WalletReplay()
    replay.wallet = wallet
    replay.apply_all(executions)
    return replay.positions, wallet
