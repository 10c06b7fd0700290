"""The engine of spec section 4: `PositionFold`, which writes every position projection.

Appends, replay, rebuild, rollback, copy and import, the compat read models, the wallet replay, the
report and the migration all fold through it. It applies the rules of `domain.reference` (the
reference, which `verify` and the property tests compare it with) with the same Decimal operations
in the same order and context, but each (account, symbol) keeps a small mutable list, the ledger
context is entered once per batch of rows, and times stay text until a `Position` or
`ClosedPosition` is built. Rows are the log's stored text, trusted: the fill model validated them on
append; `verify` re-checks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any, Self

from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import (
    FEE_SHARE_QUANTUM,
    ZERO,
    ClosedPosition,
    Execution,
    Outcome,
    Position,
    PositionBook,
    PositionKey,
    PositionSide,
    Totals,
    _exact_size,
)

# seq, account, symbol, side, quantity, price, fee, occurred_at: one log row's accounting columns as stored
# (or, from `Execution.row()`, with the numbers and the time already parsed).
ExecutionRow = tuple[int, str, str, str, str | Decimal, str | Decimal, str | Decimal, str | datetime]

# Index of each value in an open cycle's state list.
_LONG, _QTY, _AVG, _REALIZED, _FEES, _OPENED_AT, _OPENED_SEQ, _ENTERED, _LAST_SEQ = range(9)
_FROM_ISO = datetime.fromisoformat


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else _FROM_ISO(value)


class PositionFold:
    """Every position of a ledger folded from log rows in seq order, optionally from a saved start.

    `closed` collects the cycles closed since it was last emptied (none when `keep_closed` is false:
    their totals are still kept); `last_seq` is the last row folded.
    """

    __slots__ = ("_open", "_totals", "closed", "keep_closed", "last_seq")

    def __init__(
        self,
        start: Mapping[PositionKey, tuple[Position | None, Totals]] | None = None,
        *,
        keep_closed: bool = True,
        last_seq: int = 0,
    ) -> None:
        self._open: dict[PositionKey, list[Any]] = {}
        self._totals: dict[PositionKey, tuple[Decimal, Decimal]] = {}
        self.closed: list[ClosedPosition] = []
        self.keep_closed = keep_closed
        self.last_seq = last_seq
        for key, (position, totals) in (start or {}).items():
            self._totals[key] = (totals.realized_pnl, totals.fees)
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
                ]

    def apply_rows(self, rows: Iterable[ExecutionRow]) -> None:  # noqa: PLR0915 - one inlined hot loop
        """Fold rows in seq order. Raises InvalidFill (a size that would round) or ValueError (a bad side)."""
        open_cycles, totals, closed, keep = self._open, self._totals, self.closed, self.keep_closed
        exact, zero, dec = _exact_size, ZERO, Decimal
        with localcontext(LEDGER_CONTEXT):
            for seq, account, symbol, side, quantity, price, fee, occurred_at in rows:
                if side == "buy":
                    buy = True
                elif side == "sell":
                    buy = False
                else:
                    raise ValueError(f"seq {seq}: side {side!r} is neither buy nor sell")
                key = (account, symbol)
                q, p = dec(quantity), dec(price)
                f = zero if fee == "0" else dec(fee)
                state = open_cycles.get(key)
                if state is None:  # rule 1: flat, a new cycle opens
                    open_cycles[key] = [buy, q, p, zero, f, occurred_at, seq, q, seq]
                    if key not in totals:
                        totals[key] = (zero, zero)
                    self.last_seq = seq
                    continue
                long = state[_LONG]
                size = state[_QTY]
                if long == buy:  # rule 2: weighted average entry, fees excluded
                    grown = exact("+", size, q)
                    state[_AVG] = (size * state[_AVG] + q * p) / grown
                    state[_QTY] = grown
                    state[_FEES] = state[_FEES] + f
                    state[_ENTERED] = exact("+", state[_ENTERED], q)
                    state[_LAST_SEQ] = seq
                    self.last_seq = seq
                    continue
                avg = state[_AVG]
                if q <= size:  # rule 3: reduce or close, average unchanged
                    realized = (p - avg) * q if long else (avg - p) * q
                    left = exact("-", size, q)
                    state[_QTY] = left
                    state[_REALIZED] = state[_REALIZED] + realized
                    state[_FEES] = state[_FEES] + f
                    state[_LAST_SEQ] = seq
                    if left == 0:
                        del open_cycles[key]
                        self._close(key, state, occurred_at, seq, closed if keep else None)
                    self.last_seq = seq
                    continue
                # rule 4: a flip; the closing part takes |s|/q of the fee, the opening part the rest
                closing_fee = (f * size / q).quantize(FEE_SHARE_QUANTUM)
                opening_fee = f - closing_fee
                realized = (p - avg) * size if long else (avg - p) * size
                state[_QTY] = exact("-", size, size)
                state[_REALIZED] = state[_REALIZED] + realized
                state[_FEES] = state[_FEES] + closing_fee
                state[_LAST_SEQ] = seq
                self._close(key, state, occurred_at, seq, closed if keep else None)
                rest = exact("-", q, size)
                open_cycles[key] = [buy, rest, p, zero, opening_fee, occurred_at, seq, rest, seq]
                self.last_seq = seq

    def apply(self, execution: Execution) -> Outcome:
        """Fold one execution; what it did to its (account, symbol), as the reference's `apply_fill` says it."""
        kept = len(self.closed)
        keep, self.keep_closed = self.keep_closed, True
        try:
            self.apply_rows((execution.row(),))
        finally:
            self.keep_closed = keep
        closed = self.closed[kept] if len(self.closed) > kept else None
        if not keep:
            del self.closed[kept:]
        return Outcome(self.position((execution.account, execution.symbol)), closed)

    def apply_all(self, executions: Iterable[Execution]) -> Self:
        for execution in executions:
            self.apply(execution)
        return self

    def totals(self) -> dict[PositionKey, Totals]:
        """Lifetime totals (closed cycles and the open one) per (account, symbol) folded so far."""
        result = {}
        for key, (realized, fees) in self._totals.items():
            state = self._open.get(key)
            if state is None:
                result[key] = Totals(realized, fees)
            else:
                with localcontext(LEDGER_CONTEXT):
                    result[key] = Totals(realized + state[_REALIZED], fees + state[_FEES])
        return result

    def _close(
        self,
        key: PositionKey,
        state: list[Any],
        occurred_at: str | datetime,
        seq: int,
        closed: list[ClosedPosition] | None,
    ) -> None:
        realized, fees = self._totals[key]
        self._totals[key] = (realized + state[_REALIZED], fees + state[_FEES])
        if closed is not None:
            closed.append(
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
        )

    def positions(self, keys: Iterable[PositionKey] | None = None) -> dict[PositionKey, tuple[Position | None, Totals]]:
        """The open cycle and closed-cycle totals of each key (default: every key folded so far)."""
        wanted = self._totals if keys is None else keys
        return {key: (self.position(key), Totals(*self._totals[key])) for key in wanted}

    def book(self) -> PositionBook:
        """The fold as a PositionBook (open positions, the closed cycles kept, closed totals per key)."""
        return PositionBook(
            open={key: position for key in self._open if (position := self.position(key)) is not None},
            closed=self.closed,
            closed_totals={key: Totals(*totals) for key, totals in self._totals.items()},
        )
