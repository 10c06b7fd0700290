"""The engine of spec sections 4 and 9: `PositionFold`, which writes every position projection.

Appends, replay, rebuild, rollback, copy and import, the compat read models, the wallet replay, the
report and the migration all fold through it. It applies the rules of `domain.reference` (the
reference, which `verify` and the property tests compare it with) with the same Decimal operations
in the same order and context (where it subtracts instead of adding a negation, the value is the
same), but each (account, symbol) keeps a small mutable list, the ledger context is entered once per
batch of rows, and times stay text until a `Position` or `ClosedPosition` is built. Rows are the
log's stored text, trusted: the event models validated them on append; `verify` re-checks them. What an
edited row could fold into figures that look right (a side, a quantity or price not above zero, a negative
fee, an amount not finite, a time not as `time_text` writes it) is checked here, and any row that does not
read is refused naming its seq and field (`domain.stored_rows`).

Every type of event passes through it: a fill moves its position (and a fee paid in the base
currency is a fee-free disposal right after it), a funding payment adds to the open cycle's funding
(or, with none open, to the totals' only), a transfer moves balances only. With `balances` given, the
fold also keeps the amount held per (account, exchange, currency) (spec section 9).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, Inexact, localcontext
from typing import Any, Self, cast

from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.fee_parts import OneFees, add_unvalued, base_fee_refusal, fee_parts, remember_one_fee
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.fold_state import (
    _AVG,
    _ENTERED,
    _FEES,
    _FUNDING,
    _LAST_SEQ,
    _LONG,
    _QTY,
    _REALIZED,
    _T_FUNDING,
    _UNVALUED,
    ExecutionRow,
    FoldState,
)
from tradeledger.domain.markets import market
from tradeledger.domain.positions import (
    EXACT_ADD,
    EXACT_SUBTRACT,
    ZERO,
    Accounting,
    Execution,
    FundingPayment,
    Outcome,
    Position,
    PositionKey,
    Totals,
    _exact_size,
    fee_shares,
    size_refused,
)
from tradeledger.domain.stored_rows import UNREADABLE, other_amounts, unreadable
from tradeledger.errors import InvalidFill, LedgerError

_SIDES = {"buy": True, "sell": False}


# What the hot loop keeps per (account, exchange, symbol): see `PositionFold._slot`.
_Slot = tuple[PositionKey, bool, str, list[Decimal | None], list[Decimal | None]]


class PositionFold(FoldState):
    """Every position of a ledger folded from log rows in seq order, optionally from a saved start.

    `closed` collects the cycles closed since it was last emptied (none when `keep_closed` is false:
    their totals are still kept); `last_seq` is the last row folded; `balances` the amount held per
    (account, exchange, currency) when the fold was given a start for them (None: not kept), current
    whenever no fold call is running (the fold owns it: a change made to it from outside is lost).
    """

    __slots__ = ("_one_fees", "_slots", "last_seq")

    def __init__(
        self,
        start: Mapping[PositionKey, tuple[Position | None, Totals]] | None = None,
        *,
        keep_closed: bool = True,
        last_seq: int = 0,
        balances: Mapping[BalanceKey, Decimal] | None = None,
    ) -> None:
        super().__init__(start, keep_closed=keep_closed, balances=balances)
        self._slots: dict[tuple[str, str, str], _Slot] = {}
        self._one_fees: OneFees = {}
        self.last_seq = last_seq

    def apply_rows(self, rows: Iterable[ExecutionRow]) -> None:  # noqa: C901, PLR0912, PLR0915 - inlined: the hot loop
        """Fold rows in seq order. Raises InvalidFill (a size that would round, a base fee a spot position
        cannot pay) or StorageError naming the seq and the field (a row no event model could have written).

        The common fill (a v1 fill, no fee, or one fee in the quote currency) is folded inline: rules 1-3
        of `_trade` and the moves of `_fill`, the same operations in the same order. Every other row
        (another fee, a flip, funding, a transfer) goes through `_fill`, `_trade`, `_funding`, `_move`.
        """
        dec, zero, inexact, parse = Decimal, ZERO, Inexact, datetime.fromisoformat
        exact_add, exact_subtract = EXACT_ADD, EXACT_SUBTRACT
        open_cycles, all_totals, balances = self._open, self._totals, self.balances
        slots, one_fees = self._slots, self._one_fees
        last, row = self.last_seq, None
        try:
            with localcontext(LEDGER_CONTEXT):
                for row in cast("Iterable[tuple[Any, ...]]", rows):
                    (
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
                    ) = row
                    if kind != "fill":
                        self._other(account, exchange, symbol, kind, fee, amount, currency, occurred_at)
                        last = seq
                        continue
                    if side == "buy":
                        buy = True
                    elif side == "sell":
                        buy = False
                    else:
                        raise unreadable(row)
                    if len(occurred_at) != 32 or not occurred_at.endswith("+00:00"):  # noqa: PLR2004 - time_text's
                        raise unreadable(row)
                    parse(occurred_at)  # that shape may still name no time (month 13): ValueError
                    slot = slots.get((account, exchange, symbol))
                    if slot is None:
                        slot = self._slot(account, exchange, symbol)
                    key, spot, quote, held, cash = slot
                    q, p = dec(quantity), dec(price)
                    if not (q > zero and p > zero and q.is_finite() and p.is_finite()):  # NaN traps as it compares
                        raise unreadable(row)
                    if fees is None:  # a v1 fill: one fee, in the quote currency
                        if fee == "0":
                            f = zero
                        elif (f := dec(fee)) < zero or not f.is_finite():
                            raise unreadable(row)
                    elif fees == "[]":
                        f = zero
                    else:
                        paid = one_fees.get(fees)
                        if paid is None:
                            paid = remember_one_fee(one_fees, fees)
                        if paid and paid[0] == quote:  # one fee, in the quote currency
                            f = paid[1]
                        else:
                            parts = fee_parts(symbol, fees)
                            self._fill(key, exchange, buy, q, p, *parts, seq, occurred_at)
                            last = seq
                            continue
                    state = open_cycles.get(key)
                    realized = zero
                    qp = None  # q * p, once: rule 2 and a spot fill's quote move both take it
                    if state is None:  # rule 1: flat, a new cycle opens
                        open_cycles[key] = [buy, q, p, zero, f, occurred_at, seq, q, seq, zero, None]
                        if key not in all_totals:
                            all_totals[key] = [zero, zero, zero, None]
                    elif state[_LONG] == buy:  # rule 2: weighted average entry, fees excluded
                        size = state[_QTY]
                        try:
                            grown = exact_add(size, q)
                        except inexact:
                            raise size_refused("+", size, q) from None
                        entered = state[_ENTERED]
                        try:  # both sizes checked before the cycle moves: a refusal leaves it as it was
                            entered = exact_add(entered, q)
                        except inexact:
                            raise size_refused("+", entered, q) from None
                        qp = q * p
                        state[_AVG] = (size * state[_AVG] + qp) / grown
                        state[_QTY] = grown
                        state[_FEES] = state[_FEES] + f
                        state[_ENTERED] = entered
                        state[_LAST_SEQ] = seq
                    elif q <= (size := state[_QTY]):  # rule 3: reduce or close, average unchanged
                        avg = state[_AVG]
                        realized = (p - avg) * q if state[_LONG] else (avg - p) * q
                        try:
                            left = exact_subtract(size, q)
                        except inexact:
                            raise size_refused("-", size, q) from None
                        state[_QTY] = left
                        state[_REALIZED] = state[_REALIZED] + realized
                        state[_FEES] = state[_FEES] + f
                        state[_LAST_SEQ] = seq
                        if not left:
                            del open_cycles[key]
                            self._close(key, state, occurred_at, seq)
                    else:  # rule 4: a flip
                        realized = self._trade(key, buy, q, p, f, None, seq, occurred_at, fee_to_opening=False)
                    if balances is not None:  # the moves of `_fill`, in its order (its fee last)
                        if spot:  # x - y is x + (-y) exactly: a buy's moves need no negation
                            moved = held[0]
                            if moved is None:
                                moved = zero
                            held[0] = moved + q if buy else moved - q
                            if qp is None:
                                qp = q * p
                            moved = cash[0]
                            if moved is None:
                                moved = zero
                            moved = moved - qp if buy else moved + qp
                            cash[0] = moved - f if f else moved
                        elif realized:
                            moved = cash[0]
                            moved = (zero if moved is None else moved) + realized
                            cash[0] = moved - f if f else moved
                        elif f:
                            moved = cash[0]
                            cash[0] = (zero if moved is None else moved) - f
                    last = seq
        except LedgerError:
            raise
        except UNREADABLE as error:  # a stored text that does not read: a row edited behind the ledger's back
            if row is None:
                raise
            raise unreadable(row, error) from None
        finally:
            self.last_seq = last
            self._flush()

    def _slot(self, account: str, exchange: str, symbol: str) -> _Slot:
        """What the hot loop keeps of (account, exchange, symbol): the position key, whether the market is
        spot, its quote (a linear contract's settle currency too: `market` refuses any other), and the
        balance cells of its base (a contract's, which moves none, is no cell: a later chunk reads it) and quote."""
        traded = market(symbol)
        slot: _Slot = (
            (account, symbol),
            traded.settle is None,
            traded.quote,
            self._cell((account, exchange, traded.base)) if traded.settle is None else [None],
            self._cell((account, exchange, traded.quote)),
        )
        self._slots[account, exchange, symbol] = slot
        return slot

    def drop_cells(self) -> None:
        """Forget the hot loop's cells and slots (every call leaves their amounts in `balances`): a fold kept
        from one batch to the next then writes back only the cells the next one moves."""
        self._cells.clear()
        self._slots.clear()

    def _other(
        self,
        account: str,
        exchange: str,
        symbol: str | None,
        kind: str,
        fee: str | None,
        amount: str | None,
        currency: str | None,
        at: str,
    ) -> None:
        """A row that is not a fill: funding (symbol, amount, currency) or a transfer (currency, amount and
        its fee in `fee`); ValueError for any other type, or values no such event holds (`other_amounts`)."""
        moved, fee_paid = other_amounts(kind, symbol, amount, fee, currency, at)
        if kind == "funding":
            self._funding((account, cast("str", symbol)), exchange, moved, cast("str", currency))
        else:
            self._move(account, exchange, cast("str", currency), moved - fee_paid)

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
        before = self._saved(key) if base != 0 else None  # a refused base fee leaves the fold as it was
        realized = self._trade(key, buy, q, p, f, unvalued, seq, occurred_at, fee_to_opening=False)
        if before is not None:
            refusal = self._base_fee_refused(key, base, base_index, closes)
            if refusal is not None:
                self._restore(key, before)
                raise InvalidFill(refusal)
            try:  # a size the disposal cannot keep exact
                realized += self._trade(
                    key, base < 0, abs(base), p, base * p, None, seq, occurred_at, fee_to_opening=True
                )
            except InvalidFill:
                self._restore(key, before)
                raise
        if self.balances is None:
            return
        account, symbol = key
        traded = market(symbol)
        # The moves of spec section 9; a zero move adds no key, as _move.
        if traded.settle is None:
            self._add((account, exchange, traded.base), q if buy else -q)
            self._add((account, exchange, traded.quote), -(q * p) if buy else q * p)
        elif realized != 0:
            self._add((account, exchange, traded.settle), realized)
        if paid is None:  # a v1 fill: its fee in the quote currency
            paid = ((traded.quote, f),)
        for currency, amount in sorted(paid):  # as a stored fill orders its fees, whatever order they came in
            if amount != 0:
                self._add((account, exchange, currency), -amount)

    def _base_fee_refused(self, key: PositionKey, base: Decimal, base_index: int, closes: int) -> str | None:
        """Why the base fee of the trade just folded on `key` is refused (None: it is not)."""
        state = self._open.get(key)
        after = ZERO if state is None else state[_QTY] if state[_LONG] else -state[_QTY]
        return base_fee_refusal(key[1], base, base_index, after, self._closes > closes and state is not None)

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
            entered = _exact_size("+", state[_ENTERED], q)  # before the cycle moves: a refusal leaves it
            state[_AVG] = (size * state[_AVG] + q * p) / grown
            state[_QTY] = grown
            state[_FEES] = state[_FEES] + f
            state[_UNVALUED] = add_unvalued(state[_UNVALUED], unvalued)
            state[_ENTERED] = entered
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
            closing_fee, opening_fee = fee_shares(f, size, q)
            closing_unvalued = opening_unvalued = None
            if unvalued:
                shares = {c: fee_shares(a, size, q) for c, a in unvalued.items()}
                closing_unvalued = {c: closing for c, (closing, _) in shares.items()}
                opening_unvalued = {c: opening for c, (_, opening) in shares.items()}
        rest = _exact_size("-", q, size)  # before the cycle closes: a refusal leaves it open, as it was
        flipped: Decimal = (p - avg) * size if long else (avg - p) * size
        state[_QTY] = _exact_size("-", size, size)
        state[_REALIZED] = state[_REALIZED] + flipped
        state[_FEES] = state[_FEES] + closing_fee
        state[_UNVALUED] = add_unvalued(state[_UNVALUED], closing_unvalued)
        state[_LAST_SEQ] = seq
        self._close(key, state, occurred_at, seq)
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
            self._flush()
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
