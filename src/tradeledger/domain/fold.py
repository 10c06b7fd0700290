"""The engine of spec sections 4 and 9: `PositionFold`, which writes every position projection.

Appends, replay, rebuild, rollback, copy and import, the compat read models, the wallet replay, the
report and the migration all fold through it. It applies the rules of `domain.reference` (the
reference, which `verify` and the property tests compare it with) with the same Decimal operations
in the same order and context, but each (account, symbol) keeps a small mutable list, the ledger
context is entered once per batch of rows, and times stay text until a `Position` or
`ClosedPosition` is built. Rows are the log's stored text, trusted: the event models validated them
on append; `verify` re-checks them.

Every type of event passes through it: a fill moves its position (and a fee paid in the base
currency is a fee-free disposal right after it), a funding payment adds to the open cycle's funding
(or, with none open, to the totals' only), a transfer moves balances only. With `balances` given, the
fold also keeps the amount held per (account, exchange, currency) (spec section 9).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any, Self, cast

from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.fee_parts import NO_FEES, FeeParts, add_unvalued, fee_parts
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.markets import market
from tradeledger.domain.positions import (
    FEE_SHARE_QUANTUM,
    ZERO,
    Accounting,
    ClosedPosition,
    Execution,
    FundingPayment,
    Outcome,
    Position,
    PositionBook,
    PositionKey,
    PositionSide,
    Totals,
    UnvaluedFees,
    _exact_size,
)
from tradeledger.errors import InvalidFill

# One log row's accounting columns as stored (the numbers and times as text):
# seq, account, exchange, symbol, side, quantity, price, fee, occurred_at, type, fees, amount, currency.
# A v1 fill has `fee` and no `fees`; a v2 fill `fees` (canonical JSON) and no `fee`; a funding payment
# symbol, amount and currency; a transfer amount, currency and its fee in `fee`.
ExecutionRow = tuple[
    int,
    str,
    str,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str,
    str,
    str | None,
    str | None,
    str | None,
]

# Index of each value in an open cycle's state list, and in a key's closed totals list.
_LONG, _QTY, _AVG, _REALIZED, _FEES, _OPENED_AT, _OPENED_SEQ, _ENTERED, _LAST_SEQ, _FUNDING, _UNVALUED = range(11)
_T_REALIZED, _T_FEES, _T_FUNDING, _T_UNVALUED = range(4)
_FROM_ISO = datetime.fromisoformat


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else _FROM_ISO(value)


def _unvalued(sums: dict[str, Decimal] | None) -> UnvaluedFees:
    if not sums:
        return ()
    return tuple(sorted((currency, amount) for currency, amount in sums.items() if amount != 0))


class PositionFold:
    """Every position of a ledger folded from log rows in seq order, optionally from a saved start.

    `closed` collects the cycles closed since it was last emptied (none when `keep_closed` is false:
    their totals are still kept); `last_seq` is the last row folded; `balances` the amount held per
    (account, exchange, currency) when the fold was given a start for them (None: not kept).
    """

    __slots__ = ("_closes", "_open", "_totals", "balances", "closed", "keep_closed", "last_seq")

    def __init__(
        self,
        start: Mapping[PositionKey, tuple[Position | None, Totals]] | None = None,
        *,
        keep_closed: bool = True,
        last_seq: int = 0,
        balances: Mapping[BalanceKey, Decimal] | None = None,
    ) -> None:
        self._open: dict[PositionKey, list[Any]] = {}
        self._totals: dict[PositionKey, list[Any]] = {}
        self._closes = 0
        self.closed: list[ClosedPosition] = []
        self.keep_closed = keep_closed
        self.last_seq = last_seq
        self.balances: dict[BalanceKey, Decimal] | None = None if balances is None else dict(balances)
        for key, (position, totals) in (start or {}).items():
            self._totals[key] = [totals.realized_pnl, totals.fees, totals.funding, dict(totals.unvalued_fees) or None]
            if position is not None:
                self._open[key] = [
                    position.side is PositionSide.LONG,
                    position.quantity,
                    position.avg_price,
                    position.realized_pnl,
                    position.fees,
                    position.opened_at,
                    position.opened_seq,
                    position.entered_quantity,
                    position.last_seq,
                    position.funding,
                    dict(position.unvalued_fees) or None,
                ]

    def apply_rows(self, rows: Iterable[ExecutionRow]) -> None:
        """Fold rows in seq order. Raises InvalidFill (a size that would round, a base fee a spot position
        cannot pay) or ValueError (a row no event model could have written)."""
        dec, zero = Decimal, ZERO
        with localcontext(LEDGER_CONTEXT):
            for (
                seq,
                account,
                exchange,
                symbol,
                side,
                quantity,
                price,
                fee,
                occurred_at,
                kind,
                fees,
                amount,
                currency,
            ) in cast("Iterable[tuple[Any, ...]]", rows):
                if kind == "fill":
                    if side == "buy":
                        buy = True
                    elif side == "sell":
                        buy = False
                    else:
                        raise ValueError(f"seq {seq}: side {side!r} is neither buy nor sell")
                    if fees is None:  # a v1 fill: one fee, in the quote currency
                        parts: FeeParts = (zero if fee == "0" else dec(fee), None, zero, -1, None)
                    elif fees == "[]":
                        parts = NO_FEES
                    else:
                        parts = fee_parts(symbol, fees)
                    self._fill((account, symbol), exchange, buy, dec(quantity), dec(price), *parts, seq, occurred_at)
                elif kind == "funding":
                    self._funding((account, symbol), exchange, dec(amount), currency)
                elif kind == "transfer":
                    self._move(account, exchange, currency, dec(amount) - dec(fee))
                else:
                    raise ValueError(f"seq {seq}: type {kind!r} is not an event type this ledger knows")
                self.last_seq = seq

    def _move(self, account: str, exchange: str, currency: str, amount: Decimal) -> None:
        balances = self.balances
        if balances is not None and amount != 0:
            key = (account, exchange, currency)
            balances[key] = balances.get(key, ZERO) + amount

    def _fill(
        self,
        key: PositionKey,
        exchange: str,
        buy: bool,
        q: Decimal,
        p: Decimal,
        f: Decimal,
        unvalued: Mapping[str, Decimal] | None,
        base: Decimal,
        base_index: int,
        paid: Iterable[tuple[str, Decimal]] | None,
        seq: int,
        occurred_at: str | datetime,
    ) -> None:
        closes = self._closes
        realized = self._trade(key, buy, q, p, f, unvalued, seq, occurred_at, fee_to_opening=False)
        if base != 0:
            traded = market(key[1])
            state = self._open.get(key)
            if traded.settle is None and base > 0 and (state is None or (state[_LONG] and state[_QTY] < base)):
                held = ZERO if state is None else state[_QTY]
                raise InvalidFill(
                    f"fees[{base_index}].amount: a fee of {base} {traded.base} is more than the {held} {traded.base} "
                    f"the fill leaves held on the spot market {key[1]}; it would turn the position short"
                )
            if (
                state is not None
                and self._closes > closes
                and (state[_LONG] != (base < 0))
                and abs(base) >= state[_QTY]
            ):
                raise InvalidFill(
                    f"fees[{base_index}].amount: a fee of {base} {traded.base} would close the cycle the same fill "
                    f"opened on {key[1]}, which already closed one"
                )
            realized += self._trade(key, base < 0, abs(base), p, base * p, None, seq, occurred_at, fee_to_opening=True)
        balances = self.balances
        if balances is None:
            return
        account, symbol = key
        traded = market(symbol)
        # The moves of spec section 9, inlined (the rebuild's hot path); a zero move adds no key, as _move.
        if traded.settle is None:
            held = (account, exchange, traded.base)
            balances[held] = balances.get(held, ZERO) + (q if buy else -q)
            cash = (account, exchange, traded.quote)
            balances[cash] = balances.get(cash, ZERO) + (-(q * p) if buy else q * p)
        elif realized != 0:
            settle = (account, exchange, traded.settle)
            balances[settle] = balances.get(settle, ZERO) + realized
        if paid is None:  # a v1 fill: its fee in the quote currency
            paid = ((traded.quote, f),)
        for currency, amount in paid:
            if amount != 0:
                where = (account, exchange, currency)
                balances[where] = balances.get(where, ZERO) - amount

    def _funding(self, key: PositionKey, exchange: str, amount: Decimal, currency: str) -> None:
        state = self._open.get(key)
        if state is not None:
            state[_FUNDING] = state[_FUNDING] + amount
        else:
            totals = self._totals.get(key)
            if totals is None:
                self._totals[key] = [ZERO, ZERO, amount, None]
            else:
                totals[_T_FUNDING] = totals[_T_FUNDING] + amount
        self._move(key[0], exchange, currency, amount)

    def _trade(
        self,
        key: PositionKey,
        buy: bool,
        q: Decimal,
        p: Decimal,
        f: Decimal,
        unvalued: Mapping[str, Decimal] | None,
        seq: int,
        occurred_at: str | datetime,
        *,
        fee_to_opening: bool,
    ) -> Decimal:
        """Rules 1-4 of spec section 4 for one trade; the realized PnL it booked."""
        open_cycles = self._open
        state = open_cycles.get(key)
        if state is None:  # rule 1: flat, a new cycle opens
            open_cycles[key] = [buy, q, p, ZERO, f, occurred_at, seq, q, seq, ZERO, add_unvalued(None, unvalued)]
            if key not in self._totals:
                self._totals[key] = [ZERO, ZERO, ZERO, None]
            return ZERO
        long = state[_LONG]
        size = state[_QTY]
        if long == buy:  # rule 2: weighted average entry, fees excluded
            grown = _exact_size("+", size, q)
            state[_AVG] = (size * state[_AVG] + q * p) / grown
            state[_QTY] = grown
            state[_FEES] = state[_FEES] + f
            state[_UNVALUED] = add_unvalued(state[_UNVALUED], unvalued)
            state[_ENTERED] = _exact_size("+", state[_ENTERED], q)
            state[_LAST_SEQ] = seq
            return ZERO
        avg = state[_AVG]
        if q <= size:  # rule 3: reduce or close, average unchanged
            realized: Decimal = (p - avg) * q if long else (avg - p) * q
            left = _exact_size("-", size, q)
            state[_QTY] = left
            state[_REALIZED] = state[_REALIZED] + realized
            state[_FEES] = state[_FEES] + f
            state[_UNVALUED] = add_unvalued(state[_UNVALUED], unvalued)
            state[_LAST_SEQ] = seq
            if left == 0:
                del open_cycles[key]
                self._close(key, state, occurred_at, seq)
            return realized
        # rule 4: a flip; the closing part takes |s|/q of every fee not in the base currency (in its own
        # currency), the opening part the rest. A base fee's disposal puts all of its fee on the opening part.
        if fee_to_opening:
            closing_fee, opening_fee, closing_unvalued, opening_unvalued = ZERO, f, None, unvalued
        else:
            closing_fee = (f * size / q).quantize(FEE_SHARE_QUANTUM)
            opening_fee = f - closing_fee
            closing_unvalued = opening_unvalued = None
            if unvalued:
                closing_unvalued = {c: (a * size / q).quantize(FEE_SHARE_QUANTUM) for c, a in unvalued.items()}
                opening_unvalued = {c: a - closing_unvalued[c] for c, a in unvalued.items()}
        flipped: Decimal = (p - avg) * size if long else (avg - p) * size
        state[_QTY] = _exact_size("-", size, size)
        state[_REALIZED] = state[_REALIZED] + flipped
        state[_FEES] = state[_FEES] + closing_fee
        state[_UNVALUED] = add_unvalued(state[_UNVALUED], closing_unvalued)
        state[_LAST_SEQ] = seq
        self._close(key, state, occurred_at, seq)
        rest = _exact_size("-", q, size)
        open_cycles[key] = [
            buy,
            rest,
            p,
            ZERO,
            opening_fee,
            occurred_at,
            seq,
            rest,
            seq,
            ZERO,
            add_unvalued(None, opening_unvalued),
        ]
        return flipped

    def apply(self, event: Accounting) -> Outcome:
        """Fold one event; what it did to its (account, symbol), as the reference's `apply_fill` says it
        (a transfer touches no position: its outcome is empty)."""
        kept = len(self.closed)
        keep, self.keep_closed = self.keep_closed, True
        try:
            with localcontext(LEDGER_CONTEXT):
                self._apply(event)
        finally:
            self.keep_closed = keep
        self.last_seq = event.seq
        closed = self.closed[kept] if len(self.closed) > kept else None
        if not keep:
            del self.closed[kept:]
        if not isinstance(event, Execution | FundingPayment):
            return Outcome(None, None)
        return Outcome(self.position((event.account, event.symbol)), closed)

    def _apply(self, event: Accounting) -> None:
        if isinstance(event, Execution):
            paid = event.paid
            base_index = -1
            if event.base_fee != 0 and paid is not None:
                quote = market(event.symbol).base
                base_index = next((i for i, (currency, _) in enumerate(paid) if currency == quote), -1)
            self._fill(
                (event.account, event.symbol),
                event.exchange,
                event.side.value == "buy",
                event.quantity,
                event.price,
                event.fee,
                dict(event.unvalued_fees) or None,
                event.base_fee,
                base_index,
                paid,
                event.seq,
                event.occurred_at,
            )
        elif isinstance(event, FundingPayment):
            self._funding((event.account, event.symbol), event.exchange, event.amount, event.currency)
        else:
            self._move(event.account, event.exchange, event.currency, event.amount - event.fee)

    def apply_all(self, events: Iterable[Accounting]) -> Self:
        for event in events:
            self.apply(event)
        return self

    def _totals_of(self, key: PositionKey) -> Totals:
        realized, fees, funding, unvalued = self._totals[key]
        return Totals(realized, fees, funding, _unvalued(unvalued))

    def totals(self) -> dict[PositionKey, Totals]:
        """Lifetime totals (closed cycles and the open one) per (account, symbol) folded so far."""
        result = {}
        for key in self._totals:
            closed = self._totals_of(key)
            position = self.position(key)
            result[key] = closed if position is None else closed.plus_cycle(position)
        return result

    def _close(self, key: PositionKey, state: list[Any], occurred_at: str | datetime, seq: int) -> None:
        self._closes += 1
        totals = self._totals[key]
        totals[_T_REALIZED] = totals[_T_REALIZED] + state[_REALIZED]
        totals[_T_FEES] = totals[_T_FEES] + state[_FEES]
        totals[_T_FUNDING] = totals[_T_FUNDING] + state[_FUNDING]
        totals[_T_UNVALUED] = add_unvalued(totals[_T_UNVALUED], state[_UNVALUED])
        if self.keep_closed:
            self.closed.append(
                ClosedPosition(
                    account=key[0],
                    symbol=key[1],
                    side=PositionSide.LONG if state[_LONG] else PositionSide.SHORT,
                    quantity=state[_ENTERED],
                    avg_price=state[_AVG],
                    realized_pnl=state[_REALIZED],
                    fees=state[_FEES],
                    opened_at=_time(state[_OPENED_AT]),
                    opened_seq=state[_OPENED_SEQ],
                    closed_at=_time(occurred_at),
                    closed_seq=seq,
                    funding=state[_FUNDING],
                    unvalued_fees=_unvalued(state[_UNVALUED]),
                )
            )

    def position(self, key: PositionKey) -> Position | None:
        state = self._open.get(key)
        if state is None:
            return None
        return Position(
            account=key[0],
            symbol=key[1],
            side=PositionSide.LONG if state[_LONG] else PositionSide.SHORT,
            quantity=state[_QTY],
            avg_price=state[_AVG],
            realized_pnl=state[_REALIZED],
            fees=state[_FEES],
            opened_at=_time(state[_OPENED_AT]),
            opened_seq=state[_OPENED_SEQ],
            entered_quantity=state[_ENTERED],
            last_seq=state[_LAST_SEQ],
            funding=state[_FUNDING],
            unvalued_fees=_unvalued(state[_UNVALUED]),
        )

    def positions(self, keys: Iterable[PositionKey] | None = None) -> dict[PositionKey, tuple[Position | None, Totals]]:
        """The open cycle and closed-cycle totals of each key (default: every key folded so far)."""
        wanted = self._totals if keys is None else keys
        return {key: (self.position(key), self._totals_of(key)) for key in wanted}

    def book(self) -> PositionBook:
        """The fold as a PositionBook (open positions, the closed cycles kept, closed totals per key)."""
        return PositionBook(
            open={key: position for key in self._open if (position := self.position(key)) is not None},
            closed=self.closed,
            closed_totals={key: self._totals_of(key) for key in self._totals},
        )
