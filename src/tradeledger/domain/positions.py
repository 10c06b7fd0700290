"""Position accounting's values (spec section 4): executions, open and closed cycles, totals.

The rules that fold executions into them live twice on purpose: `domain.fold.PositionFold` is the
engine every projection is written with; `domain.reference` is the reference, one frozen value per
fill, which `verify` and the property tests hold the engine against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from enum import StrEnum

from tradeledger.domain.events import Event, Funding
from tradeledger.domain.fills import LEDGER_CONTEXT, MAX_DIGITS, Fill, Side, decimal_text
from tradeledger.errors import InvalidFill

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# A flip's closing fee share is rounded to 18 places (far finer than any exchange charges): an
# unending fraction such as 1/3 of a fee would otherwise make every later fee sum round.
FEE_SHARE_QUANTUM = Decimal("1E-18")
# Position sizes must stay exact: a sum that would need more than 28 digits is refused, not rounded.
_EXACT = LEDGER_CONTEXT.copy()
_EXACT.traps[Inexact] = True


# The fold's hot loop calls these directly (an Inexact becomes `size_refused`): a call less per size.
EXACT_ADD = _EXACT.add
EXACT_SUBTRACT = _EXACT.subtract


def size_refused(operation: str, a: Decimal, b: Decimal) -> InvalidFill:
    """The refusal of a position size `a operation b` that would need rounding, each size in canonical text:
    the folds hold one size with other trailing zeros (the lots after a base fee and a rebate, say)."""
    return InvalidFill(
        f"quantity: {decimal_text(a)} {operation} {decimal_text(b)} needs more than {_EXACT.prec} significant digits; "
        "the position size would be rounded"
    )


def _exact_size(operation: str, a: Decimal, b: Decimal) -> Decimal:
    try:
        return EXACT_ADD(a, b) if operation == "+" else EXACT_SUBTRACT(a, b)
    except Inexact:
        raise size_refused(operation, a, b) from None


def fee_shares(fee: Decimal, part: Decimal, whole: Decimal) -> tuple[Decimal, Decimal]:
    """A flip's fee split by quantity (spec section 4, rule 4): the closing part's share `fee·part/whole` to 18
    places and the opening part's the rest, so the two add up to `fee` exactly. When either would need more
    than 28 digits at 18 places (a share of 1E+10 or more, or a rest beside it that is), the share is
    rounded to the fee's own last place (its 28th digit) instead, where both fit and still add up to it."""
    # The folds call it inside LEDGER_CONTEXT (the operators use it): two operations and a call less a flip.
    try:
        closing = (fee * part / whole).quantize(FEE_SHARE_QUANTUM)  # InvalidOperation past 28 digits
        return closing, EXACT_SUBTRACT(fee, closing)  # Inexact when the rest needs more than 28
    except (InvalidOperation, Inexact):
        # |share| <= |fee|, and both are multiples of the fee's last place: so are both parts, in 28 digits.
        share = LEDGER_CONTEXT.divide(LEDGER_CONTEXT.multiply(fee, part), whole)
        closing = share.quantize(Decimal(1).scaleb(fee.adjusted() + 1 - MAX_DIGITS), context=LEDGER_CONTEXT)
        return closing, EXACT_SUBTRACT(fee, closing)


PositionKey = tuple[str, str]  # (account, symbol)
UnvaluedFees = tuple[tuple[str, Decimal], ...]  # (currency, amount), sorted by currency, no zeros


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
    """The part of a recorded fill that position accounting reads (and the balances, `exchange` and `paid`).

    `fee` is the quote value of the fill's valued fees (those in the quote currency, and those in
    another currency that carry a quote_value), `unvalued_fees` the others per currency, `base_fee`
    the fees paid in the base currency (spec section 9); `paid` every fee as (currency, amount), as
    the balances take them.
    """

    seq: int
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    occurred_at: datetime
    unvalued_fees: UnvaluedFees = ()
    base_fee: Decimal = ZERO
    exchange: str = ""
    paid: tuple[tuple[str, Decimal], ...] | None = None  # None: `fee` is one fee in the quote currency

    @classmethod
    def of(cls, seq: int, fill: Fill) -> Execution:
        """The accounting part of `fill`, recorded at `seq`."""
        split = fill.fee_split()
        return cls(
            seq,
            fill.account,
            fill.symbol,
            fill.side,
            fill.quantity,
            fill.price,
            split.valued,
            fill.occurred_at,
            split.unvalued,
            split.base,
            fill.exchange,
            tuple((fee.currency or fill.market.quote, fee.amount) for fee in fill.fees),
        )


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """A funding event as accounting reads it: + received, - paid, in the contract's settle currency."""

    seq: int
    account: str
    exchange: str
    symbol: str
    amount: Decimal
    currency: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TransferMove:
    """A transfer as the balances read it: `amount` in or out of `currency`, and its fee taken on top."""

    seq: int
    account: str
    exchange: str
    currency: str
    amount: Decimal
    fee: Decimal
    occurred_at: datetime


Accounting = Execution | FundingPayment | TransferMove


def accounting_of(seq: int, event: Event) -> Accounting:
    """What accounting reads of `event`, recorded at `seq`."""
    if isinstance(event, Fill):
        return Execution.of(seq, event)
    if isinstance(event, Funding):
        return FundingPayment(
            seq, event.account, event.exchange, event.symbol, event.amount, event.currency, event.occurred_at
        )
    return TransferMove(seq, event.account, event.exchange, event.currency, event.amount, event.fee, event.occurred_at)


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
    funding: Decimal = ZERO  # funding received (+) or paid (-) while this cycle was open
    unvalued_fees: UnvaluedFees = ()  # fees in other currencies without a quote value, per currency

    @property
    def key(self) -> PositionKey:
        return (self.account, self.symbol)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is PositionSide.LONG else -self.quantity

    @property
    def net_pnl(self) -> Decimal:
        """realized + funding - fees (spec section 9); unvalued fees are not in it."""
        with localcontext(LEDGER_CONTEXT):
            return self.realized_pnl + self.funding - self.fees

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
    funding: Decimal = ZERO
    unvalued_fees: UnvaluedFees = ()

    @property
    def net_pnl(self) -> Decimal:
        """realized + funding - fees (spec section 9); unvalued fees are not in it."""
        with localcontext(LEDGER_CONTEXT):
            return self.realized_pnl + self.funding - self.fees


@dataclass(frozen=True, slots=True)
class Totals:
    """Realized PnL (gross), valued fees, funding and unvalued fees summed over cycles.

    Of an (account, symbol), `funding` also holds the funding booked while no cycle was open.
    """

    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    unvalued_fees: UnvaluedFees = ()

    @property
    def net_pnl(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return self.realized_pnl + self.funding - self.fees

    def plus(
        self, realized_pnl: Decimal, fees: Decimal, funding: Decimal = ZERO, unvalued_fees: UnvaluedFees = ()
    ) -> Totals:
        with localcontext(LEDGER_CONTEXT):
            return Totals(
                self.realized_pnl + realized_pnl,
                self.fees + fees,
                self.funding + funding,
                merged_unvalued(self.unvalued_fees, unvalued_fees),
            )

    def plus_cycle(self, cycle: Position | ClosedPosition) -> Totals:
        return self.plus(cycle.realized_pnl, cycle.fees, cycle.funding, cycle.unvalued_fees)


def merged_unvalued(*parts: Iterable[tuple[str, Decimal]]) -> UnvaluedFees:
    """Unvalued fees summed per currency: sorted by currency, zeros left out."""
    sums: dict[str, Decimal] = {}
    with localcontext(LEDGER_CONTEXT):
        for part in parts:
            for currency, amount in part:
                sums[currency] = sums.get(currency, ZERO) + amount
    return tuple(sorted((c, a) for c, a in sums.items() if a != 0))


def lifetime(closed_cycles: Totals, position: Position | None) -> Totals:
    """Lifetime totals of one (account, symbol): its closed cycles plus the open cycle, as spec section 4 defines."""
    return closed_cycles if position is None else closed_cycles.plus_cycle(position)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one fill did to its (account, symbol): the open position after it and the cycle it closed."""

    position: Position | None
    closed: ClosedPosition | None


@dataclass(slots=True)
class PositionBook:
    """Every position of a ledger as of one point of its log: open cycles, closed cycles, closed totals."""

    open: dict[PositionKey, Position] = field(default_factory=dict)
    closed: list[ClosedPosition] = field(default_factory=list)
    closed_totals: dict[PositionKey, Totals] = field(default_factory=dict)  # per key, over closed cycles

    @property
    def totals(self) -> dict[PositionKey, Totals]:
        """Lifetime totals per (account, symbol) ever traded."""
        return {key: lifetime(closed, self.open.get(key)) for key, closed in self.closed_totals.items()}


def unrealized_at(positions: Iterable[Position], marks: Mapping[str, Decimal]) -> tuple[Decimal, Decimal]:
    """(Σ unrealized PnL, Σ cost basis |s|·avg) of the open positions whose symbol has a mark; the others
    are left out of both sums."""
    gain, basis = ZERO, ZERO
    with localcontext(LEDGER_CONTEXT):
        for position in positions:
            mark = marks.get(position.symbol)
            if mark is not None:
                gain += pnl(position.side, position.avg_price, mark, position.quantity)
                basis += position.quantity * position.avg_price
    return gain, basis


def portfolio_totals(totals: Iterable[Totals]) -> Totals:
    result = Totals()
    for item in totals:
        result = result.plus(item.realized_pnl, item.fees, item.funding, item.unvalued_fees)
    return result
