"""What `domain.fold.PositionFold` folds into, and the values read from it.

Each (account, symbol) keeps its open cycle as a small mutable list (indices `_LONG` … `_UNVALUED`)
and its closed cycles' totals as another (`_T_REALIZED` … `_T_UNVALUED`); times stay the log's text
until a `Position` or `ClosedPosition` is built. `FoldState` loads a saved start into them and reads
them back as values: positions, totals, a `PositionBook`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradeledger.domain.fee_parts import add_unvalued
from tradeledger.domain.positions import (
    ClosedPosition,
    Position,
    PositionBook,
    PositionKey,
    PositionSide,
    Totals,
    UnvaluedFees,
)

# Index of each value in an open cycle's state list, and in a key's closed totals list.
_LONG, _QTY, _AVG, _REALIZED, _FEES, _OPENED_AT, _OPENED_SEQ, _ENTERED, _LAST_SEQ, _FUNDING, _UNVALUED = range(11)
_T_REALIZED, _T_FEES, _T_FUNDING, _T_UNVALUED = range(4)
_FROM_ISO = datetime.fromisoformat
_LONG_SIDE, _SHORT_SIDE = PositionSide.LONG, PositionSide.SHORT


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else _FROM_ISO(value)


def _unvalued(sums: dict[str, Decimal] | None) -> UnvaluedFees:
    if not sums:
        return ()
    return tuple(sorted((currency, amount) for currency, amount in sums.items() if amount != 0))


class FoldState:
    """The open cycle and the closed cycles' totals of every (account, symbol) folded so far; `closed`
    the cycles closed since it was last emptied (none kept when `keep_closed` is false)."""

    __slots__ = ("_closes", "_open", "_totals", "closed", "keep_closed")

    def __init__(
        self, start: Mapping[PositionKey, tuple[Position | None, Totals]] | None, *, keep_closed: bool
    ) -> None:
        self._open: dict[PositionKey, list[Any]] = {}
        self._totals: dict[PositionKey, list[Any]] = {}
        self._closes = 0  # cycles closed so far
        self.closed: list[ClosedPosition] = []
        self.keep_closed = keep_closed
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

    def position(self, key: PositionKey) -> Position | None:
        state = self._open.get(key)
        if state is None:
            return None
        opened_at = state[_OPENED_AT]
        if not isinstance(opened_at, datetime):  # read once per cycle, not once per snapshot
            opened_at = state[_OPENED_AT] = _FROM_ISO(opened_at)
        return Position(
            key[0],
            key[1],
            _LONG_SIDE if state[_LONG] else _SHORT_SIDE,
            state[_QTY],
            state[_AVG],
            state[_REALIZED],
            state[_FEES],
            opened_at,
            state[_OPENED_SEQ],
            state[_ENTERED],
            state[_LAST_SEQ],
            state[_FUNDING],
            _unvalued(state[_UNVALUED]),
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
