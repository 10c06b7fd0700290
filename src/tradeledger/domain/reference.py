"""The reference fold of spec sections 4 and 9: one frozen `Position` per event, easy to read and to check.

Nothing writes a projection with it: `domain.fold.PositionFold` does. `verify` replays the log with
`ReferenceFold` and compares, and the property tests hold the two equal on any sequence of events.
`reference_balances` is the balances of section 9 folded the same plain way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal, localcontext
from typing import Self

from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.fee_parts import base_fee_refusal
from tradeledger.domain.fills import LEDGER_CONTEXT, Side
from tradeledger.domain.markets import market
from tradeledger.domain.positions import (
    ZERO,
    Accounting,
    ClosedPosition,
    Execution,
    FundingPayment,
    Outcome,
    Position,
    PositionBook,
    PositionSide,
    Totals,
    UnvaluedFees,
    _exact_size,
    fee_shares,
    merged_unvalued,
    pnl,
)
from tradeledger.errors import InvalidFill


def _open(execution: Execution, side: Side, quantity: Decimal, fee: Decimal, unvalued: UnvaluedFees) -> Position:
    return Position(
        account=execution.account,
        symbol=execution.symbol,
        side=PositionSide.LONG if side is Side.BUY else PositionSide.SHORT,
        quantity=quantity,
        avg_price=execution.price,
        realized_pnl=ZERO,
        fees=fee,
        opened_at=execution.occurred_at,
        opened_seq=execution.seq,
        entered_quantity=quantity,
        last_seq=execution.seq,
        unvalued_fees=unvalued,
    )


def _reduce(
    position: Position, execution: Execution, quantity: Decimal, fee: Decimal, unvalued: UnvaluedFees
) -> Position:
    realized = pnl(position.side, position.avg_price, execution.price, quantity)
    # `replace(position, quantity=..., realized_pnl=..., fees=..., unvalued_fees=..., last_seq=...)`, every
    # field named (replace costs about twice this; verify folds every event through here).
    return Position(
        account=position.account,
        symbol=position.symbol,
        side=position.side,
        avg_price=position.avg_price,
        opened_at=position.opened_at,
        opened_seq=position.opened_seq,
        entered_quantity=position.entered_quantity,
        funding=position.funding,
        quantity=_exact_size("-", position.quantity, quantity),
        realized_pnl=position.realized_pnl + realized,
        fees=position.fees + fee,
        unvalued_fees=merged_unvalued(position.unvalued_fees, unvalued),
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
        funding=position.funding,
        unvalued_fees=position.unvalued_fees,
    )


def _share(unvalued: UnvaluedFees, part: Decimal, whole: Decimal) -> tuple[UnvaluedFees, UnvaluedFees]:
    shares = [(c, fee_shares(a, part, whole)) for c, a in unvalued]
    closing = tuple((c, closing) for c, (closing, _) in shares)
    opening = tuple((c, opening) for c, (_, opening) in shares)
    return merged_unvalued(closing), merged_unvalued(opening)


def _trade(
    position: Position | None,
    execution: Execution,
    side: Side,
    q: Decimal,
    f: Decimal,
    unvalued: UnvaluedFees,
    *,
    fee_to_opening: bool,
) -> Outcome:
    """Rules 1-4 of spec section 4 for one trade of `q` at the execution's price."""
    p = execution.price
    if position is None:  # rule 1: flat, a new cycle opens
        return Outcome(_open(execution, side, q, f, unvalued), None)

    if (position.side is PositionSide.LONG) == (side is Side.BUY):  # rule 2: weighted average entry, fees excluded
        size = _exact_size("+", position.quantity, q)
        grown = Position(  # `replace(position, ...)` of the six after `funding`, every field named as in _reduce
            account=position.account,
            symbol=position.symbol,
            side=position.side,
            realized_pnl=position.realized_pnl,
            opened_at=position.opened_at,
            opened_seq=position.opened_seq,
            funding=position.funding,
            quantity=size,
            avg_price=(position.quantity * position.avg_price + q * p) / size,
            fees=position.fees + f,
            unvalued_fees=merged_unvalued(position.unvalued_fees, unvalued),
            entered_quantity=_exact_size("+", position.entered_quantity, q),
            last_seq=execution.seq,
        )
        return Outcome(grown, None)

    if q <= position.quantity:  # rule 3: reduce or close, average unchanged
        reduced = _reduce(position, execution, q, f, unvalued)
        if reduced.quantity == 0:
            return Outcome(None, _close(reduced, execution))
        return Outcome(reduced, None)

    # rule 4: a flip; the closing part takes |s|/q of each fee not in the base currency (in its own
    # currency), the opening part the rest, so the two always add up to the fill's fee exactly. The
    # disposal of a base fee puts all of its fee on the cycle it leaves open.
    closing_unvalued: UnvaluedFees = ()
    opening_unvalued: UnvaluedFees = unvalued
    if fee_to_opening:
        closing_fee, opening_fee = ZERO, f
    else:
        closing_fee, opening_fee = fee_shares(f, position.quantity, q)
        closing_unvalued, opening_unvalued = _share(unvalued, position.quantity, q)
    closed = _reduce(position, execution, position.quantity, closing_fee, closing_unvalued)
    reopened = _open(execution, side, _exact_size("-", q, position.quantity), opening_fee, opening_unvalued)
    return Outcome(reopened, _close(closed, execution))


def apply_fill(position: Position | None, execution: Execution) -> Outcome:
    """Apply one fill to the open position of its (account, symbol): the four rules of spec section 4,
    then a fee paid in the base currency as a fee-free disposal at the fill price (section 9).

    Raises InvalidFill when the position's size could not be kept exactly, or a spot position cannot
    pay its base fee.
    """
    with localcontext(LEDGER_CONTEXT):
        traded = _trade(
            position,
            execution,
            execution.side,
            execution.quantity,
            execution.fee,
            execution.unvalued_fees,
            fee_to_opening=False,
        )
        phi = execution.base_fee
        if phi == 0:
            return traded
        after = traded.position
        # The field named in a refusal, as spec section 9 asks: the first fee paid in the base currency.
        base = market(execution.symbol).base
        index = next((i for i, (c, _) in enumerate(execution.paid or ()) if c == base), 0)
        held = ZERO if after is None else after.signed_quantity
        refusal = base_fee_refusal(execution.symbol, phi, index, held, traded.closed is not None and after is not None)
        if refusal is not None:  # before the disposal: a fee that is refused is named, whatever its size would do
            raise InvalidFill(refusal)
        disposal_side = Side.SELL if phi > 0 else Side.BUY
        disposed = _trade(after, execution, disposal_side, abs(phi), phi * execution.price, (), fee_to_opening=True)
        return Outcome(disposed.position, traded.closed or disposed.closed)


def _realized(position: Position | None, side: Side, quantity: Decimal, price: Decimal) -> Decimal:
    """The PnL a trade of `quantity` at `price` realizes against `position` (0 when it opens or adds)."""
    if position is None or (position.side is PositionSide.LONG) == (side is Side.BUY):
        return ZERO
    return pnl(position.side, position.avg_price, price, min(quantity, position.quantity))


def realized_by(position: Position | None, execution: Execution) -> Decimal:
    """The PnL one fill realizes against the open `position` before it: its closing part's, then its base
    fee disposal's (what a contract's settle currency gains, spec section 9), each as the fill books it."""
    with localcontext(LEDGER_CONTEXT):
        realized = _realized(position, execution.side, execution.quantity, execution.price)
        phi = execution.base_fee
        if phi == 0:
            return realized
        after = _trade(
            position,
            execution,
            execution.side,
            execution.quantity,
            execution.fee,
            execution.unvalued_fees,
            fee_to_opening=False,
        ).position
        return realized + _realized(after, Side.SELL if phi > 0 else Side.BUY, abs(phi), execution.price)


class ReferenceFold(PositionBook):
    """A PositionBook folded event by event with `apply_fill` (and funding booked as section 9 says)."""

    __slots__ = ()

    def apply(self, event: Accounting) -> Outcome:
        if not isinstance(event, Execution | FundingPayment):
            return Outcome(None, None)  # a transfer moves balances only
        key = (event.account, event.symbol)
        totals = self.closed_totals.get(key, Totals())
        if isinstance(event, FundingPayment):
            position = self.open.get(key)
            with localcontext(LEDGER_CONTEXT):
                if position is None:
                    self.closed_totals[key] = totals.plus(ZERO, ZERO, event.amount)
                    return Outcome(None, None)
                funded = replace(position, funding=position.funding + event.amount)
            self.open[key] = funded
            self.closed_totals[key] = totals
            return Outcome(funded, None)
        outcome = apply_fill(self.open.get(key), event)
        if outcome.position is None:
            self.open.pop(key, None)
        else:
            self.open[key] = outcome.position
        if outcome.closed is not None:
            self.closed.append(outcome.closed)
            totals = totals.plus_cycle(outcome.closed)
        self.closed_totals[key] = totals
        return outcome

    def apply_all(self, events: Iterable[Accounting]) -> Self:
        for event in events:
            self.apply(event)
        return self


class ReferenceBalances:
    """The amount held per (account, exchange, currency) (spec section 9), folded plainly beside a
    ReferenceFold (`book`): a spot fill moves base and quote, a contract's settle currency takes the PnL
    each fill realizes, every fee leaves in its own currency, funding and transfers add their amounts."""

    __slots__ = ("balances", "book")

    def __init__(self, book: ReferenceFold | None = None) -> None:
        self.book = ReferenceFold() if book is None else book
        self.balances: dict[BalanceKey, Decimal] = {}

    def _move(self, account: str, exchange: str, currency: str, amount: Decimal) -> None:
        if amount != 0:
            key = (account, exchange, currency)
            self.balances[key] = self.balances.get(key, ZERO) + amount

    def apply(self, event: Accounting) -> Outcome:
        """Fold `event` into the book and the balances; the book's outcome."""
        with localcontext(LEDGER_CONTEXT):
            if isinstance(event, FundingPayment):
                outcome = self.book.apply(event)
                self._move(event.account, event.exchange, event.currency, event.amount)
                return outcome
            if not isinstance(event, Execution):
                self._move(event.account, event.exchange, event.currency, event.amount - event.fee)
                return Outcome(None, None)
            before = self.book.open.get((event.account, event.symbol))
            outcome = self.book.apply(event)
            traded = market(event.symbol)
            signed = event.quantity if event.side is Side.BUY else -event.quantity
            if traded.settle is None:
                self._move(event.account, event.exchange, traded.base, signed)
                self._move(event.account, event.exchange, traded.quote, -(signed * event.price))
            else:
                # The PnL each reduction realizes, added as the fill books it: a difference of the running
                # lifetime totals would round differently once those sums need more than 28 digits.
                self._move(event.account, event.exchange, traded.settle, realized_by(before, event))
            paid = ((traded.quote, event.fee),) if event.paid is None else event.paid
            for currency, amount in sorted(paid):  # as a stored fill orders its fees (a sum may round)
                self._move(event.account, event.exchange, currency, -amount)
            return outcome


def reference_balances(events: Iterable[Accounting]) -> dict[BalanceKey, Decimal]:
    """The balances after `events`, folded by ReferenceBalances."""
    folded = ReferenceBalances()
    for event in events:
        folded.apply(event)
    return folded.balances
