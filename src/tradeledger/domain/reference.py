"""The reference fold of spec section 4: one frozen `Position` per fill, easy to read and to check.

Nothing writes a projection with it: `domain.fold.PositionFold` does. `verify` replays the log with
`ReferenceFold` and compares, and the property tests hold the two equal on any sequence of fills.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext
from typing import Self

from tradeledger.domain.fills import LEDGER_CONTEXT, Side
from tradeledger.domain.positions import (
    FEE_SHARE_QUANTUM,
    ZERO,
    ClosedPosition,
    Execution,
    Outcome,
    Position,
    PositionBook,
    PositionSide,
    Totals,
    _exact_size,
    pnl,
)


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


class ReferenceFold(PositionBook):
    """A PositionBook folded fill by fill with `apply_fill`."""

    __slots__ = ()

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

    def apply_all(self, executions: Iterable[Execution]) -> Self:
        for execution in executions:
            self.apply(execution)
        return self
