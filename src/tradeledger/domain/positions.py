"""Position accounting (spec section 4): one netting position per (account, symbol), folded from fills."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum

from tradeledger.domain.fills import LEDGER_CONTEXT, Side
from tradeledger.errors import InvalidFill

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# A flip's closing fee share is rounded to 18 places (far finer than any exchange charges): an
# unending fraction such as 1/3 of a fee would otherwise make every later fee sum round.
FEE_SHARE_QUANTUM = Decimal("1E-18")
# Position sizes must stay exact: a sum that would need more than 28 digits is refused, not rounded.
_EXACT = LEDGER_CONTEXT.copy()
_EXACT.traps[Inexact] = True


def _exact_size(operation: str, a: Decimal, b: Decimal) -> Decimal:
    try:
        return _EXACT.add(a, b) if operation == "+" else _EXACT.subtract(a, b)
    except Inexact:
        raise InvalidFill(
            f"quantity: {a} {operation} {b} needs more than {_EXACT.prec} significant digits; "
            "the position size would be rounded"
        ) from None


PositionKey = tuple[str, str]  # (account, symbol)


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


def pnl(side: PositionSide, avg_price: Decimal, price: Decimal, quantity: Decimal) -> Decimal:
    """Gross PnL of `quantity` at `price` against `avg_price` (spec 4): (p - avg)·q long, (avg - p)·q short.

    Realized on a reduction, unrealized at a mark. Callers run it in LEDGER_CONTEXT.
    """
    if side is PositionSide.LONG:
        return (price - avg_price) * quantity
    return (avg_price - price) * quantity


@dataclass(frozen=True, slots=True)
class Execution:
    """The part of a recorded fill that position accounting reads."""

    seq: int
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """An open position cycle. `quantity` is the absolute size; direction lives in `side`."""

    account: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    avg_price: Decimal  # average entry price, fees excluded
    realized_pnl: Decimal  # gross, this cycle
    fees: Decimal  # every fee of this cycle, opening and closing fills alike
    opened_at: datetime
    opened_seq: int
    entered_quantity: Decimal  # total quantity opened or added in this cycle
    last_seq: int

    @property
    def key(self) -> PositionKey:
        return (self.account, self.symbol)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is PositionSide.LONG else -self.quantity

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """(m - avg)·|s| for a long, (avg - m)·|s| for a short."""
        with localcontext(LEDGER_CONTEXT):
            return pnl(self.side, self.avg_price, mark, self.quantity)

    def unrealized_pnl_pct(self, mark: Decimal) -> Decimal:
        """Unrealized PnL in percent of the cost basis |s|·avg."""
        with localcontext(LEDGER_CONTEXT):
            return self.unrealized_pnl(mark) / (self.quantity * self.avg_price) * HUNDRED


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """A finished position cycle. `quantity` is the total opened (and so closed) in the cycle."""

    account: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    opened_at: datetime
    opened_seq: int
    closed_at: datetime
    closed_seq: int

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees


@dataclass(frozen=True, slots=True)
class Totals:
    """Realized PnL (gross) and fees summed over cycles."""

    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    @property
    def net_pnl(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return self.realized_pnl - self.fees

    def plus(self, realized_pnl: Decimal, fees: Decimal) -> Totals:
        with localcontext(LEDGER_CONTEXT):
            return Totals(self.realized_pnl + realized_pnl, self.fees + fees)


def lifetime(closed_cycles: Totals, position: Position | None) -> Totals:
    """Lifetime totals of one (account, symbol): its closed cycles plus the open cycle, as spec section 4 defines."""
    return closed_cycles if position is None else closed_cycles.plus(position.realized_pnl, position.fees)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one fill did to its (account, symbol): the open position after it and the cycle it closed."""

    position: Position | None
    closed: ClosedPosition | None


def _open(execution: Execution, quantity: Decimal, fee: Decimal) -> Position:
    return Position(
        account=execution.account,
        symbol=execution.symbol,
        side=PositionSide.LONG if execution.side is Side.BUY else PositionSide.SHORT,
        quantity=quantity,
        avg_price=execution.price,
        realized_pnl=ZERO,
        fees=fee,
        opened_at=execution.occurred_at,
        opened_seq=execution.seq,
        entered_quantity=quantity,
        last_seq=execution.seq,
    )


def _reduce(position: Position, execution: Execution, quantity: Decimal, fee: Decimal) -> Position:
    realized = pnl(position.side, position.avg_price, execution.price, quantity)
    return Position(
        account=position.account,
        symbol=position.symbol,
        side=position.side,
        quantity=_exact_size("-", position.quantity, quantity),
        avg_price=position.avg_price,
        realized_pnl=position.realized_pnl + realized,
        fees=position.fees + fee,
        opened_at=position.opened_at,
        opened_seq=position.opened_seq,
        entered_quantity=position.entered_quantity,
        last_seq=execution.seq,
    )


def _close(position: Position, execution: Execution) -> ClosedPosition:
    return ClosedPosition(
        account=position.account,
        symbol=position.symbol,
        side=position.side,
        quantity=position.entered_quantity,
        avg_price=position.avg_price,
        realized_pnl=position.realized_pnl,
        fees=position.fees,
        opened_at=position.opened_at,
        opened_seq=position.opened_seq,
        closed_at=execution.occurred_at,
        closed_seq=execution.seq,
    )


def apply_fill(position: Position | None, execution: Execution) -> Outcome:
    """Apply one fill to the open position of its (account, symbol), by the four rules of spec section 4.

    Raises InvalidFill when the position's size could not be kept exactly.
    """
    with localcontext(LEDGER_CONTEXT):
        return _apply(position, execution)


def _apply(position: Position | None, execution: Execution) -> Outcome:
    q, p, f = execution.quantity, execution.price, execution.fee
    if position is None:  # rule 1: flat, a new cycle opens
        return Outcome(_open(execution, q, f), None)

    same_direction = (position.side is PositionSide.LONG) == (execution.side is Side.BUY)
    if same_direction:  # rule 2: weighted average entry, fees excluded
        size = _exact_size("+", position.quantity, q)
        grown = Position(
            account=position.account,
            symbol=position.symbol,
            side=position.side,
            quantity=size,
            avg_price=(position.quantity * position.avg_price + q * p) / size,
            realized_pnl=position.realized_pnl,
            fees=position.fees + f,
            opened_at=position.opened_at,
            opened_seq=position.opened_seq,
            entered_quantity=_exact_size("+", position.entered_quantity, q),
            last_seq=execution.seq,
        )
        return Outcome(grown, None)

    if q <= position.quantity:  # rule 3: reduce or close, average unchanged
        reduced = _reduce(position, execution, q, f)
        if reduced.quantity == 0:
            return Outcome(None, _close(reduced, execution))
        return Outcome(reduced, None)

    # rule 4: a flip; the closing part takes |s|/q of the fee, the opening part the rest, so the
    # two always add up to the fill's fee exactly
    closing_fee = (f * position.quantity / q).quantize(FEE_SHARE_QUANTUM)
    opening_fee = f - closing_fee
    closed = _reduce(position, execution, position.quantity, closing_fee)
    reopened = _open(execution, _exact_size("-", q, position.quantity), opening_fee)
    return Outcome(reopened, _close(closed, execution))


@dataclass(slots=True)
class PositionBook:
    """Every position of a ledger, folded from fills in log order: the replay side of the projection."""

    open: dict[PositionKey, Position] = field(default_factory=dict)
    closed: list[ClosedPosition] = field(default_factory=list)
    closed_totals: dict[PositionKey, Totals] = field(default_factory=dict)  # per key, over closed cycles

    def apply(self, execution: Execution) -> Outcome:
        key = (execution.account, execution.symbol)
        outcome = apply_fill(self.open.get(key), execution)
        if outcome.position is None:
            self.open.pop(key, None)
        else:
            self.open[key] = outcome.position
        totals = self.closed_totals.get(key, Totals())
        if outcome.closed is not None:
            self.closed.append(outcome.closed)
            totals = totals.plus(outcome.closed.realized_pnl, outcome.closed.fees)
        self.closed_totals[key] = totals
        return outcome

    @property
    def totals(self) -> dict[PositionKey, Totals]:
        """Lifetime totals per (account, symbol) ever traded."""
        return {key: lifetime(closed, self.open.get(key)) for key, closed in self.closed_totals.items()}

    def apply_all(self, executions: Iterable[Execution]) -> PositionBook:
        for execution in executions:
            self.apply(execution)
        return self


def portfolio_totals(totals: Iterable[Totals]) -> Totals:
    result = Totals()
    for item in totals:
        result = result.plus(item.realized_pnl, item.fees)
    return result
