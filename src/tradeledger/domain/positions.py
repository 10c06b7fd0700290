"""Position accounting (spec section 4): one netting position per (account, symbol), folded from fills."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradeledger.domain.fills import Side

ZERO = Decimal(0)
HUNDRED = Decimal(100)

PositionKey = tuple[str, str]  # (account, symbol)


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


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
        if self.side is PositionSide.LONG:
            return (mark - self.avg_price) * self.quantity
        return (self.avg_price - mark) * self.quantity

    def unrealized_pnl_pct(self, mark: Decimal) -> Decimal:
        """Unrealized PnL in percent of the cost basis |s|·avg."""
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
    """Lifetime realized PnL (gross) and fees, summed over every cycle."""

    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.realized_pnl + other.realized_pnl, self.fees + other.fees)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one fill did to its (account, symbol): the position after it, a closed cycle, the totals delta."""

    position: Position | None
    closed: ClosedPosition | None
    realized_delta: Decimal
    fee_delta: Decimal


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
    if position.side is PositionSide.LONG:
        realized = (execution.price - position.avg_price) * quantity
    else:
        realized = (position.avg_price - execution.price) * quantity
    return Position(
        account=position.account,
        symbol=position.symbol,
        side=position.side,
        quantity=position.quantity - quantity,
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
    """Apply one fill to the open position of its (account, symbol), by the four rules of spec section 4."""
    q, p, f = execution.quantity, execution.price, execution.fee
    if position is None:  # rule 1: flat, a new cycle opens
        return Outcome(_open(execution, q, f), None, ZERO, f)

    same_direction = (position.side is PositionSide.LONG) == (execution.side is Side.BUY)
    if same_direction:  # rule 2: weighted average entry, fees excluded
        size = position.quantity + q
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
            entered_quantity=position.entered_quantity + q,
            last_seq=execution.seq,
        )
        return Outcome(grown, None, ZERO, f)

    if q <= position.quantity:  # rule 3: reduce or close, average unchanged
        reduced = _reduce(position, execution, q, f)
        realized = reduced.realized_pnl - position.realized_pnl
        if reduced.quantity == 0:
            return Outcome(None, _close(reduced, execution), realized, f)
        return Outcome(reduced, None, realized, f)

    # rule 4: a flip; the closing part takes |s|/q of the fee, the opening part the rest
    closing_fee = f * position.quantity / q
    opening_fee = f - closing_fee
    closed = _reduce(position, execution, position.quantity, closing_fee)
    realized = closed.realized_pnl - position.realized_pnl
    reopened = _open(execution, q - position.quantity, opening_fee)
    return Outcome(reopened, _close(closed, execution), realized, f)


@dataclass(slots=True)
class PositionBook:
    """Every position of a ledger, folded from fills in log order: the replay side of the projection."""

    open: dict[PositionKey, Position] = field(default_factory=dict)
    closed: list[ClosedPosition] = field(default_factory=list)
    totals: dict[PositionKey, Totals] = field(default_factory=dict)

    def apply(self, execution: Execution) -> Outcome:
        key = (execution.account, execution.symbol)
        outcome = apply_fill(self.open.get(key), execution)
        if outcome.position is None:
            self.open.pop(key, None)
        else:
            self.open[key] = outcome.position
        if outcome.closed is not None:
            self.closed.append(outcome.closed)
        previous = self.totals.get(key, Totals())
        self.totals[key] = Totals(previous.realized_pnl + outcome.realized_delta, previous.fees + outcome.fee_delta)
        return outcome

    def apply_all(self, executions: Iterable[Execution]) -> PositionBook:
        for execution in executions:
            self.apply(execution)
        return self


def portfolio_totals(totals: Iterable[Totals]) -> Totals:
    result = Totals()
    for item in totals:
        result = result + item
    return result
