"""What `domain.fold.PositionFold` folds into, and the values read from it.

Each (account, symbol) keeps its open cycle as a small mutable list (indices `_LONG` … `_UNVALUED`)
and its closed cycles' totals as another (`_T_REALIZED` … `_T_UNVALUED`); times stay the log's text
until a `Position` or `ClosedPosition` is built. `FoldState` loads a saved start into them and reads
them back as values: positions, totals, a `PositionBook`. It keeps the balances too (when given a start
for them), with the one-item cells the fold's hot loop moves them in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.fee_parts import add_unvalued
from tradeledger.domain.fills import time_shaped, time_text
from tradeledger.domain.positions import (
    ZERO,
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

# An open cycle's values in state order (its unvalued fees as a sorted tuple), and a key's closed totals.
OpenValues = tuple[bool, Decimal, Decimal, Decimal, Decimal, "str | datetime", int, Decimal, int, Decimal, UnvaluedFees]
TotalsValues = tuple[Decimal, Decimal, Decimal, UnvaluedFees]
# A closed cycle as its row stores it: key, long, entered quantity, avg, realized, fees, opened_at,
# opened_seq, closed_at, closed_seq, funding, unvalued fees (times as the log's text or a datetime).
ClosedValues = tuple[
    PositionKey,
    bool,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    "str | datetime",
    int,
    "str | datetime",
    int,
    Decimal,
    UnvaluedFees,
]


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else _FROM_ISO(value)


def stored_time(value: str | datetime) -> str:
    """A fold's time as `time_text` writes it, without the round trip through a datetime when the log's
    text is already that text (it always is: the append stores `time_text`). A text that is not a time
    raises ValueError, as reading it as a datetime does."""
    if type(value) is str and time_shaped(value):
        _FROM_ISO(value)  # that shape may still name no time (month 13, a letter for a digit): refused as before
        return value
    return time_text(_time(value))


def _position(key: PositionKey, values: OpenValues) -> Position:
    long, quantity, avg, realized, fees, opened_at, opened_seq, entered, last_seq, funding, unvalued = values
    side = _LONG_SIDE if long else _SHORT_SIDE
    return Position(
        *key, side, quantity, avg, realized, fees, _time(opened_at), opened_seq, entered, last_seq, funding, unvalued
    )


def _closed_position(values: ClosedValues) -> ClosedPosition:
    key, long, entered, avg, realized, fees, opened_at, opened_seq, closed_at, closed_seq, funding, unvalued = values
    side = _LONG_SIDE if long else _SHORT_SIDE
    opened, closed = _time(opened_at), _time(closed_at)
    return ClosedPosition(
        *key, side, entered, avg, realized, fees, opened, opened_seq, closed, closed_seq, funding, unvalued
    )


def _copy(sums: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
    return None if sums is None else dict(sums)


class FoldedRows(Mapping[PositionKey, tuple[Position | None, Totals]]):
    """The open cycle and closed-cycle totals of keys as a fold held them when it made this, as plain
    values (`stored`): the `Position` and `Totals` of a key are built only when it is read. A rebuild
    hands its snapshots to the projection store this way, which writes the values without them."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[PositionKey, tuple[OpenValues | None, TotalsValues]]) -> None:
        self._values = values

    def __getitem__(self, key: PositionKey) -> tuple[Position | None, Totals]:
        open_values, totals = self._values[key]
        return (None if open_values is None else _position(key, open_values)), Totals(*totals)

    def __iter__(self) -> Iterator[PositionKey]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def stored(self) -> Iterable[tuple[PositionKey, tuple[OpenValues | None, TotalsValues]]]:
        return self._values.items()


class ClosedCycles(Collection[ClosedPosition]):
    """Closed cycles as the values their rows store (`stored`), each `ClosedPosition` built only when
    read: how a rebuild hands a fold's closed cycles to the projection store."""

    __slots__ = ("_values",)

    def __init__(self, values: list[ClosedValues]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[ClosedPosition]:
        return map(_closed_position, self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, item: object) -> bool:
        return any(cycle == item for cycle in self)

    def stored(self) -> list[ClosedValues]:
        return self._values


def _unvalued(sums: dict[str, Decimal] | None) -> UnvaluedFees:
    if not sums:
        return ()
    return tuple(sorted((currency, amount) for currency, amount in sums.items() if amount != 0))


class FoldState:
    """The open cycle and the closed cycles' totals of every (account, symbol) folded so far; `closed`
    the cycles closed since it was last emptied (none kept when `keep_closed` is false); `balances` the
    amount held per (account, exchange, currency) when given a start for them (None: not kept)."""

    __slots__ = ("_cells", "_closed_values", "_closes", "_open", "_totals", "balances", "closed", "keep_closed")

    def __init__(
        self,
        start: Mapping[PositionKey, tuple[Position | None, Totals]] | None,
        *,
        keep_closed: bool,
        balances: Mapping[BalanceKey, Decimal] | None = None,
    ) -> None:
        self._open: dict[PositionKey, list[Any]] = {}
        self._totals: dict[PositionKey, list[Any]] = {}
        self._closes = 0  # cycles closed so far
        self.closed: list[ClosedPosition] = []
        self.keep_closed = keep_closed
        self._closed_values: list[ClosedValues] | None = None  # see keep_closed_values
        self.balances: dict[BalanceKey, Decimal] | None = None if balances is None else dict(balances)
        # The balances the hot loop moves, each in a one-item list (None: no amount yet), written back to
        # `balances` when a fold call returns (`_flush`); the other paths move them through `_add`.
        self._cells: dict[BalanceKey, list[Decimal | None]] = {}
        self.add_start(start or {})

    def add_start(self, start: Mapping[PositionKey, tuple[Position | None, Totals]]) -> None:
        """Start (account, symbol)s from saved positions and totals: keys this fold has not folded yet (a
        batch meets more of them chunk after chunk)."""
        for key, (position, totals) in start.items():
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

    # --- the balances ------------------------------------------------------------------------

    def _cell(self, key: BalanceKey) -> list[Decimal | None]:
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [None if self.balances is None else self.balances.get(key)]
        return cell

    def _add(self, key: BalanceKey, amount: Decimal) -> None:
        """Move a balance (kept) by `amount`, in its cell when the hot loop has one for it."""
        cell = self._cells.get(key)
        if cell is not None:
            cell[0] = (ZERO if cell[0] is None else cell[0]) + amount
        elif self.balances is not None:
            self.balances[key] = self.balances.get(key, ZERO) + amount

    def _move(self, account: str, exchange: str, currency: str, amount: Decimal) -> None:
        if self.balances is not None and amount != 0:
            self._add((account, exchange, currency), amount)

    def _flush(self) -> None:
        """Write the cells' amounts back to `balances` (a key no move reached stays absent)."""
        balances = self.balances
        if balances is not None:
            for key, (amount,) in self._cells.items():
                if amount is not None:
                    balances[key] = amount

    # --- the cycles ----------------------------------------------------------------------------

    def _close(self, key: PositionKey, state: list[Any], occurred_at: str | datetime, seq: int) -> None:
        self._closes += 1
        totals = self._totals[key]
        totals[_T_REALIZED] = totals[_T_REALIZED] + state[_REALIZED]
        totals[_T_FEES] = totals[_T_FEES] + state[_FEES]
        totals[_T_FUNDING] = totals[_T_FUNDING] + state[_FUNDING]
        totals[_T_UNVALUED] = add_unvalued(totals[_T_UNVALUED], state[_UNVALUED])
        kept = self._closed_values
        if kept is not None:
            kept.append(
                (
                    key,
                    state[_LONG],
                    state[_ENTERED],
                    state[_AVG],
                    state[_REALIZED],
                    state[_FEES],
                    state[_OPENED_AT],
                    state[_OPENED_SEQ],
                    occurred_at,
                    seq,
                    state[_FUNDING],
                    _unvalued(state[_UNVALUED]),
                )
            )
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

    def _saved(self, key: PositionKey) -> tuple[list[Any] | None, list[Any] | None, int, int, int]:
        """What a trade on `key` can change (its open cycle and totals, copied, and the closed cycles' counts)."""
        state, totals = self._open.get(key), self._totals.get(key)
        kept = self._closed_values
        return (
            None if state is None else [*state[:_UNVALUED], _copy(state[_UNVALUED])],
            None if totals is None else [*totals[:_T_UNVALUED], _copy(totals[_T_UNVALUED])],
            self._closes,
            len(self.closed),
            0 if kept is None else len(kept),
        )

    def _restore(self, key: PositionKey, saved: tuple[list[Any] | None, list[Any] | None, int, int, int]) -> None:
        state, totals, self._closes, closed, kept = saved
        for found, values in ((self._open, state), (self._totals, totals)):
            if values is None:
                found.pop(key, None)
            else:
                found[key] = values
        del self.closed[closed:]
        if self._closed_values is not None:
            del self._closed_values[kept:]

    def keep_closed_values(self) -> None:
        """From now on keep every cycle a fold closes as plain values too, until `take_closed_values`."""
        self._closed_values = []

    def take_closed_values(self) -> ClosedCycles:
        """The cycles closed since `keep_closed_values` or the last call, as `ClosedCycles` (in close order)."""
        kept = self._closed_values
        if kept is None:
            raise RuntimeError("take_closed_values: keep_closed_values was not called")
        self._closed_values = []
        return ClosedCycles(kept)

    def folded(self, keys: Iterable[PositionKey] | None = None) -> FoldedRows:
        """What `positions(keys)` gives (default: every key folded so far), as `FoldedRows` (plain values,
        copied)."""
        open_cycles, all_totals = self._open, self._totals
        values: dict[PositionKey, tuple[OpenValues | None, TotalsValues]] = {}
        for key in all_totals if keys is None else keys:
            totals = all_totals[key]
            state = open_cycles.get(key)
            values[key] = (
                None if state is None else (*state[:_UNVALUED], _unvalued(state[_UNVALUED])),
                (totals[_T_REALIZED], totals[_T_FEES], totals[_T_FUNDING], _unvalued(totals[_T_UNVALUED])),
            )
        return FoldedRows(values)

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
