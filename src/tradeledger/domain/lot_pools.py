"""The open lots of one (account, currency, quote) as `domain.lots.LotBook` keeps them, and how a match takes
from them (spec section 11): the next lot by method, a part cut from a lot, the pool tidied after a match.

Lots are kept in acquisition order; a lot taken from the middle (hifo, specific) is left at quantity 0
and skipped, and the lots used up at the head are dropped now and then, never one at a time.

A match finds its lot without a scan of the lots: fifo and lifo take from the ends, hifo from a heap of the
lots' unit costs kept beside the list (`Pool.highest`), and specific finds a named lot by a binary search on
seq (the list is in acquisition order, (`occurred_at`, seq): the lots are folded in the order the events occurred,
and a lot is appended, or dropped at either end; a lot's seq is its id, in the same order unless a fill was recorded
after one that occurred later, a backfill, when `Pool.open_lot` looks through the lots instead).
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from decimal import Decimal, Inexact
from heapq import heapify, heappop, heappush
from operator import attrgetter

from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text
from tradeledger.domain.lot_terms import ZERO, GainRow, LotKey, LotPicks, Method, OpenLot
from tradeledger.domain.positions import EXACT_SUBTRACT, _exact_size
from tradeledger.errors import InvalidArgument, InvalidFill


def rounded_rest(lot_seq: int, held: Decimal, amount: Decimal) -> str | None:
    """What is wrong with naming `amount` of lot `lot_seq`, which holds `held`, when the lot's rest needs more
    digits than the ledger keeps (its size would be rounded, as a position's never is, and the lots would no longer
    add up); None when the rest is exact."""
    try:
        EXACT_SUBTRACT(held, amount)
    except Inexact:
        return f"metadata.lots: {_rounded(lot_seq, held, amount)}"
    return None


def _rounded(lot_seq: int | None, held: Decimal, amount: Decimal) -> str:
    """Why taking `amount` from `held` (lot `lot_seq`'s quantity, or the pool's with None) cannot be matched."""
    subject = "the open lots would be rounded: what is left of them"
    if lot_seq is not None:
        subject = f"lot {lot_seq} would be rounded: what is left of it"
    digits = LEDGER_CONTEXT.prec
    return f"{subject}, {decimal_text(held)} - {decimal_text(amount)} needs more than {digits} significant digits"


class _RoundedLot(ArithmeticError):
    """A match that no named pick checked would leave a lot's rest, or its pool's (`lot_seq` None), rounded: a
    withdrawal that disposes (a fill cannot: its position's size is checked exact when it is recorded). `cut`
    raises it before it changes the lot; `Pool.take` names the event."""

    def __init__(self, lot_seq: int | None, held: Decimal, amount: Decimal) -> None:
        super().__init__(_rounded(lot_seq, held, amount))


def _exact_rest(lot_seq: int | None, held: Decimal, amount: Decimal) -> Decimal:
    """`held - amount` when it is exact in the ledger's digits, else _RoundedLot."""
    try:
        return EXACT_SUBTRACT(held, amount)
    except Inexact:
        raise _RoundedLot(lot_seq, held, amount) from None


def matched_rest(seq: int, lot_seq: int | None, held: Decimal, amount: Decimal) -> Decimal:
    """`held - amount` for a match of event `seq` (what is left of lot `lot_seq`, or of its pool's total with None)
    when it is exact in the ledger's digits, else InvalidArgument naming `seq`, as `Pool.take` refuses it."""
    try:
        return EXACT_SUBTRACT(held, amount)
    except Inexact:
        raise InvalidArgument(f"seq {seq}: {_rounded(lot_seq, held, amount)}") from None


class Lot:
    """One lot: the seq and time (stored text) of the fill that acquired it, its quantity (absolute), its
    basis and unit cost; `when` is `at` as a time, parsed on first use (`acquired`)."""

    __slots__ = ("at", "basis", "quantity", "seq", "unit", "when")

    def __init__(self, seq: int, at: str, quantity: Decimal, basis: Decimal) -> None:
        self.seq, self.at, self.quantity, self.basis = seq, at, quantity, basis
        self.unit = basis / quantity
        self.when: datetime | None = None

    def rest_after(self, seq: int, part: Decimal) -> Decimal:
        """What is left of this lot once event `seq` takes `part`: `matched_rest`."""
        return matched_rest(seq, self.seq, self.quantity, part)

    def acquired(self) -> datetime:
        """`at` as a time, read once."""
        when = self.when
        if when is None:
            when = self.when = datetime.fromisoformat(self.at)
        return when


# A matched part: (the lot, quantity, its basis).
Part = tuple[Lot, Decimal, Decimal]
_seq_of = attrgetter("seq")
_acquisition = attrgetter("at", "seq")


def gain_rows(
    rows: list[GainRow],
    long: timedelta,
    key: LotKey,
    parts: list[Part],
    buy: bool,
    seq: int,
    disposed: datetime,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
) -> None:
    """Add to `rows` the gain rows of the parts a trade of `quantity` (fill `seq`, at `disposed`) matched, each with
    its share of `fee` by quantity (the last part of the whole trade takes what is left of it); `long`: held that
    long or longer is the long term."""
    account, currency, quote = key
    append, row = rows.append, tuple.__new__  # a fold of a busy year: every call counts
    left_fee, left_quantity = fee, quantity
    for lot, part, basis in parts:
        share = ZERO if not fee else left_fee if part == left_quantity else fee * part / quantity
        left_fee -= share
        left_quantity -= part
        if buy:  # a short lot bought back: its sale brought the basis, the buy costs
            signed, proceeds, cost = -part, basis, part * price + share
        else:
            signed, proceeds, cost = part, part * price - share, basis
        acquired = lot.acquired()
        term = "long" if disposed - acquired >= long else "short"
        values = (
            account,
            currency,
            quote,
            signed,
            acquired,
            lot.seq,
            disposed,
            seq,
            proceeds,
            cost,
            proceeds - cost,
            term,
        )
        append(row(GainRow, values))


def position_after(
    seq: int, position: Decimal, entered: Decimal, buy: bool, quantity: Decimal
) -> tuple[Decimal, Decimal]:
    """The signed position size and its cycle's entered total after a trade of `quantity` (rules 1-4 of spec
    section 4), kept exact as the positions keep them: where they would round, the positions' refusal (InvalidFill,
    the same sizes named in the same order) naming fill `seq`. Run in the ledger's context."""
    size = -position if position < 0 else position
    try:
        if position > 0 if buy else position < 0:  # rule 2: the cycle grows
            _exact_size("+", size, quantity)
            entered = _exact_size("+", entered, quantity)
        elif not position:  # rule 1: a cycle opens
            entered = quantity
        elif quantity <= size:  # rule 3: reduced or closed
            _exact_size("-", size, quantity)
        else:  # rule 4: a flip, whose rest opens a cycle
            entered = _exact_size("-", quantity, size)
    except InvalidFill as error:
        raise InvalidFill(f"seq {seq}: {error}") from None
    return (position + quantity if buy else position - quantity), entered


class Pool:
    """The open lots of one key, all long (sign 1) or all short (-1), the position's signed size and what its
    cycle entered (`position_after`).

    After an `average` disposal the lots from `head` to `pooled_end` share one basis (the pool's, less that
    of the lots acquired after it: `pooled()`); their own basis is stale until a disposal by another method
    shares it out again (`share_out`). Lots are consumed from `head` (fifo) or the end (lifo); a lot taken
    from the middle (hifo, specific) is left at quantity 0 and skipped.

    A lot's place is its index in `lots` plus `dropped`, the lots dropped from the head since the pool was last
    empty: it never changes while the lot is listed. `costs`, built by the first hifo match, is a heap of
    (-unit, place) of the lots listed up to place `indexed`; an entry is right while the lot at that place is
    open with that unit (`highest`).
    """

    __slots__ = (
        "basis",
        "costs",
        "dropped",
        "entered",
        "head",
        "indexed",
        "latest",
        "lots",
        "moved",
        "pooled_end",
        "position",
        "quantity",
        "sign",
    )

    def __init__(self) -> None:
        self.lots: list[Lot] = []
        self.head = 0
        self.pooled_end = 0
        self.sign = 0
        self.quantity = ZERO  # Σ open quantity (absolute)
        # Σ basis of the open lots, read only by an average match and the lots it pooled: LotBook's inline
        # path leaves it behind when no year of its plan averages.
        self.basis = ZERO
        self.position = ZERO
        self.entered = ZERO  # what the position's cycle has entered (as the positions keep it, to refuse alike)
        self.dropped = 0
        self.costs: list[tuple[Decimal, int]] | None = None  # hifo's heap of (-unit, place), built on first use
        self.indexed = 0  # the places below it are in `costs`
        # The latest `occurred_at` (stored text) folded into this pool (a fill of its key, a withdrawal of its
        # currency): `domain.lots.LotBook` folds in seq order while no event comes before it (spec section 11).
        self.latest = ""
        # The quantity internal moves brought in less what they took out (`domain.lot_transfers`): the position
        # counts fills only.
        self.moved = ZERO

    def pooled(self) -> tuple[Decimal, Decimal]:
        """(quantity, basis) of the lots whose basis is pooled."""
        fresh = self.lots[max(self.pooled_end, self.head) :]
        return (
            self.quantity - sum((lot.quantity for lot in fresh), ZERO),
            self.basis - sum((lot.basis for lot in fresh), ZERO),
        )

    def share_out(self) -> None:
        """Give each pooled lot its share of the pooled basis again (the last the rest), as its own."""
        if self.pooled_end <= self.head:
            return
        quantity, basis = self.pooled()
        stale = [lot for lot in self.lots[self.head : self.pooled_end] if lot.quantity]
        for index, lot in enumerate(stale):
            share = basis if index == len(stale) - 1 else basis * lot.quantity / quantity
            lot.basis, lot.unit = share, share / lot.quantity
            basis -= share
            quantity -= lot.quantity
        self.pooled_end = 0
        self.costs = None  # the units changed: hifo's heap is built again when next needed

    def reset(self) -> None:
        self.lots, self.head, self.pooled_end, self.sign = [], 0, 0, 0
        self.quantity = self.basis = ZERO
        self.dropped, self.costs, self.indexed = 0, None, 0

    def next_lot(self, method: Method) -> Lot:
        """The lot a match by `method` takes from next (fifo for specific without named lots)."""
        lots = self.lots
        if method is Method.LIFO:
            while not lots[-1].quantity:
                lots.pop()
            if self.costs is not None:  # the places popped go to the lots appended next: hifo's heap lists them then
                self.indexed = min(self.indexed, self.dropped + len(lots))
            return lots[-1]
        if method is Method.HIFO:
            return self.highest()
        while not lots[self.head].quantity:
            self.head += 1
        return lots[self.head]

    def highest(self) -> Lot:
        """The open lot of the highest unit cost, the first listed on a tie (the earliest acquired), from
        `costs`: the lots listed since it last looked are pushed; an entry whose place holds no open lot of
        that unit (used up by any method, dropped, popped, or of another unit since: a base rebate) is popped
        when it comes to the top. The heap is built again when it holds more than twice the lots listed from
        `head` (and 64 more)."""
        lots, dropped, head = self.lots, self.dropped, self.head
        heap = self.costs
        if heap is None or len(heap) > 2 * (len(lots) - head) + 64:
            heap = [(lots[i].unit.copy_negate(), dropped + i) for i in range(head, len(lots)) if lots[i].quantity]
            heapify(heap)
            self.costs = heap
        else:
            for index in range(max(self.indexed - dropped, head), len(lots)):
                lot = lots[index]
                if lot.quantity:
                    heappush(heap, (lot.unit.copy_negate(), dropped + index))
        self.indexed = dropped + len(lots)
        while True:
            cost, place = heap[0]
            index = place - dropped
            if head <= index < len(lots):
                lot = lots[index]
                if lot.quantity and lot.unit == cost.copy_negate():
                    return lot
            heappop(heap)

    def cut(self, lot: Lot, part: Decimal) -> Part:
        """`part` of `lot` taken: the lot's basis for it (all it has left when it is all of it). The pool's quantity is
        `_take`'s to set once, to what is left after the whole match: between two parts its running total can need
        more digits than the ledger keeps when the total after the match does not."""
        basis = lot.basis if part == lot.quantity else part * lot.unit
        lot.quantity = _exact_rest(lot.seq, lot.quantity, part)
        lot.basis -= basis
        self.basis -= basis
        return (lot, part, basis)

    def rest_if_exact(self, quantity: Decimal) -> Decimal | None:
        """The pool's total once a match takes `quantity` from its lots, None when it needs more digits than the
        ledger keeps (computed once for the whole match: see `cut`)."""
        try:
            return EXACT_SUBTRACT(self.quantity, quantity)
        except Inexact:
            return None

    def tidy(self) -> None:
        """After a match: empty when nothing is left, else `head` at the first lot left; the used-up lots
        before it are dropped once they are more than half of the list."""
        if not self.quantity:
            self.reset()
            return
        lots = self.lots
        while not lots[self.head].quantity:
            self.head += 1
        if self.head > 64 and self.head * 2 > len(lots):  # noqa: PLR2004
            self.pooled_end = max(self.pooled_end - self.head, 0)
            del lots[: self.head]
            self.dropped += self.head
            self.head = 0

    def add(self, sign: int, seq: int, at: str, quantity: Decimal, basis: Decimal) -> None:
        """A lot opened by fill `seq` (a base rebate of that fill adds to the lot it opened)."""
        self.sign = sign
        self.quantity += quantity
        self.basis += basis
        last = self.lots[-1] if len(self.lots) > self.head else None
        if last is not None and last.seq == seq and self.pooled_end < len(self.lots):  # a base rebate of this fill
            last.quantity += quantity
            last.basis += basis
            last.unit = last.basis / last.quantity
            if self.costs is not None:  # its entry in hifo's heap, at its unit now (an entry at the old one is stale)
                heappush(self.costs, (last.unit.copy_negate(), self.dropped + len(self.lots) - 1))
            return
        self.lots.append(Lot(seq, at, quantity, basis))

    def receive(self, arriving: list[Lot]) -> None:
        """Long lots moved in from another account (each with its seq, time and basis), listed among the open lots
        by acquisition (`occurred_at`, then seq); the pool is long after it (a short pool was bought back first)."""
        if self.pooled_end > self.head:
            self.share_out()
        kept = [lot for lot in self.lots[self.head :] if lot.quantity]
        self.lots = sorted(kept + arriving, key=_acquisition)
        self.head = self.pooled_end = self.dropped = self.indexed = 0
        self.costs = None  # the places changed: hifo's heap is built again when next needed
        self.sign = 1
        for lot in arriving:
            self.quantity += lot.quantity
            self.basis += lot.basis

    def take(self, quantity: Decimal, method: Method, picks: LotPicks | None, seq: int) -> list[Part]:
        """Take `quantity` (at most the pool's) from the lots by `method` (the lots `picks` names, for event
        `seq`): the parts matched; InvalidArgument naming `seq` when a lot's rest would be rounded."""
        try:
            return self._take(quantity, method, picks, seq)
        except _RoundedLot as rounded:
            raise InvalidArgument(f"seq {seq}: {rounded}") from None

    def _take(self, quantity: Decimal, method: Method, picks: LotPicks | None, seq: int) -> list[Part]:
        if method is Method.AVERAGE:
            return self._take_average(quantity)
        # The lots named are found and checked before anything moves: a refusal leaves the pool as it was.
        picked = None if picks is None else self._picked(quantity, picks, seq)
        rest = self.rest_if_exact(quantity)
        if self.pooled_end > self.head:
            self.share_out()
        parts: list[Part] = []
        if picked is not None:
            parts.extend(self.cut(lot, amount) for lot, amount in picked)
        else:
            left = quantity
            while left:
                lot = self.next_lot(method)
                part = min(left, lot.quantity)
                parts.append(self.cut(lot, part))
                left -= part
        if rest is None:  # every lot's rest is exact (cut), their total is not
            raise _RoundedLot(None, self.quantity, quantity)
        self.quantity = rest
        self.tidy()
        return parts

    def check_picks(self, picks: LotPicks, seq: int) -> None:
        """InvalidArgument naming `seq` unless every lot `picks` names is open here with what is named of it."""
        self._picked(sum((amount for _, amount in picks), ZERO), picks, seq)

    def _picked(self, quantity: Decimal, picks: LotPicks, seq: int) -> list[tuple[Lot, Decimal]]:
        """The open lots `picks` names with the quantity taken from each, or InvalidArgument (nothing moved)."""
        named = sum((amount for _, amount in picks), ZERO)
        if named != quantity:
            raise InvalidArgument(
                f"seq {seq}: metadata.lots: names {decimal_text(named)}, but {decimal_text(quantity)} is matched "
                "against the lots held"
            )
        picked: list[tuple[Lot, Decimal]] = []
        for lot_seq, amount in picks:  # each lot named once (lot_picks): each checked against what it holds
            lot = self.open_lot(lot_seq)
            held = ZERO if lot is None else lot.quantity
            if lot is None or held < amount:
                raise InvalidArgument(
                    f"seq {seq}: metadata.lots: lot {lot_seq} has {decimal_text(held)} open when this disposal is "
                    f"matched (got {decimal_text(amount)}); the methods of earlier years decide what is left of it"
                )
            rounded = rounded_rest(lot_seq, held, amount)
            if rounded is not None:
                raise InvalidArgument(f"seq {seq}: {rounded} (got {decimal_text(amount)})")
            picked.append((lot, amount))
        return picked

    def open_lot(self, seq: int) -> Lot | None:
        """The first open lot acquired by fill `seq` (None when there is none): a binary search of the lots,
        which are in seq order when the log took the fills in the order they occurred (a fill after an average
        disposal can open a second lot of its seq); else, a backfilled lot listed before a later seq, a look through
        them (the lots a disposal names are few, and a backfill in a pool rare)."""
        lots = self.lots
        for index in range(bisect_left(lots, seq, self.head, key=_seq_of), len(lots)):
            lot = lots[index]
            if lot.seq != seq:
                break
            if lot.quantity:
                return lot
        return next((lot for lot in lots[self.head :] if lot.seq == seq and lot.quantity), None)

    def _take_average(self, quantity: Decimal) -> list[Part]:
        """The pool's average cost for `quantity`, the lots consumed first in, first out; every lot left
        shares the pool's basis after it."""
        cost = self.basis if quantity == self.quantity else self.basis * quantity / self.quantity
        consumed: list[tuple[Lot, Decimal]] = []
        left = quantity
        while left:
            lot = self.next_lot(Method.FIFO)
            part = min(left, lot.quantity)
            lot.quantity = _exact_rest(lot.seq, lot.quantity, part)
            consumed.append((lot, part))
            left -= part
        self.quantity = _exact_rest(None, self.quantity, quantity)
        self.basis -= cost
        parts: list[Part] = []
        for index, (lot, part) in enumerate(consumed):
            basis = cost if index == len(consumed) - 1 else cost * part / quantity
            cost -= basis
            quantity -= part
            parts.append((lot, part, basis))
        self.pooled_end = len(self.lots)
        self.tidy()
        return parts

    def open_lots(self, key: LotKey, *, averaged: bool = False) -> list[OpenLot]:
        """The lots still open, by acquisition: each at its unit cost, the pooled ones at the pool's average they
        were pooled at; every one at the pool's average now when `averaged`."""
        if not self.sign:
            return []
        pooled_quantity, pooled_basis = self.pooled() if self.pooled_end > self.head else (ZERO, ZERO)
        average = self.basis / self.quantity if averaged else None
        lots: list[OpenLot] = []
        for index, lot in enumerate(self.lots):
            if index < self.head or not lot.quantity:
                continue
            if average is not None:
                unit = average
            else:
                unit = pooled_basis / pooled_quantity if index < self.pooled_end else lot.unit
            quantity = lot.quantity * self.sign
            lots.append(OpenLot(*key, quantity, unit, datetime.fromisoformat(lot.at), lot.seq))
        return lots
