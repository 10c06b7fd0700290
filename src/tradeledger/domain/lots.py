"""Tax lots and cost basis (spec section 11): a second read model of the fills, beside the positions.

Lots are kept per `(account, currency, quote)` of the spot symbols (a contract has a position, not
lots). Every acquisition opens a lot: its quantity, its basis (what it cost in the quote currency,
with the fill's valued fees when fees are in the basis), its time and seq, the lot's id. Every
disposal is matched against the open lots by the method of its own tax year (the calendar year of
its `occurred_at` in UTC): `fifo`, `lifo`, `hifo` (the highest unit cost first, the earlier lot on a
tie), `average` (every open lot is costed at the pool's average, as hledger's AVERAGE; lots are still
consumed first in, first out, so each part keeps its holding period) or `specific` (the lots the
fill or withdrawal names in `metadata.lots`; a disposal that names none, such as a base fee, takes `fifo`,
the order that applies when lots are not identified).

The events are folded in the order they occurred (`occurred_at`, then seq), not the order the log took them: a
disposal is matched against the lots held when it occurred, so a buy a sync backfilled after a later sale is that
sale's lot, with its own date (`domain.lot_order`: the log read in seq order is folded as it streams until a fill
occurred before one folded into its pool, then read again by time). Each disposal is matched once, by its own
year's method: choosing a method for a later year never changes an earlier year's matches.
This is why the lots are computed on demand and not stored: what they hold depends on arguments
(the method of each year, whether fees are in the basis, whether withdrawals dispose), never on the
log alone.

What is a disposal, what is an acquisition:
- a sell disposes of long lots; beyond them it opens a short lot (the position goes short, rule 4 of
  section 4), except for the part the position held long without lots to match (the lots fall behind
  the position when withdrawals dispose, and the coins internal moves brought in count as held, `Pool.moved`):
  that part is a missing acquisition, reported with its quantity, never invented;
- a buy closes short lots first (Beancount's crossover), the rest opens a long lot;
- a fee paid in the base currency is a fee-free disposal of that much base at the fill price right
  after the fill (section 9); a base rebate is an acquisition at the fill price;
- a withdrawal (kind `withdrawal`, its amount and fee) disposes only when asked; it leaves at its cost
  (proceeds = cost basis, gain 0: the coins leave the account, no price is known), from the account's
  lots of that currency in quote order (under `specific`, the lots it names, in the order named, whichever
  quote); what the lots do not hold is a missing acquisition; a currency the account never traded as a base
  (the quote's cash) has no lots and is left alone;
- an internal move (a transfer of kind `internal` whose two sides pair, `domain.lot_transfers`) is no disposal: the
  lots it takes from the source account, as a disposing withdrawal takes them but with no gain row, arrive in the
  other account with their seq, acquisition time and unit cost (a side whose other side is not in the ledger moves
  nothing); its fee leaves like a withdrawal's;
- deposits, funding and contract fills are no lots.

Fees: a fill's valued fees (in the quote currency, another currency's `quote_value`, and a base fee
at the fill price) are shared among its parts pro rata by quantity: they add to an acquisition's basis
and come off a disposal's proceeds (`fees_in_basis`, the default), or are left out. Unvalued fees
(another currency without a quote value) have no quote value and so never enter the basis.

A matched part's gain is `proceeds - cost_basis`; for a short lot bought back the proceeds are what
its sale brought and the cost basis what the buy cost, its quantity negative. The term is `short`
when held less than `long_after_days` days (365 by default), else `long`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, Inexact, localcontext
from typing import Any, cast

from tradeledger.domain.fee_parts import OneFees, base_fee_refusal, fee_parts, remember_one_fee
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_order import OutOfTimeOrder, listed_by_seq
from tradeledger.domain.lot_pools import Lot, Part, Pool, gain_rows, position_after
from tradeledger.domain.lot_terms import (
    LONG_AFTER_DAYS,
    MAX_LONG_AFTER_DAYS,
    ZERO,
    GainRow,
    LotKey,
    LotPicks,
    Method,
    MethodPlan,
    MissingAcquisition,
    OpenLot,
    picks_of,
)
from tradeledger.domain.lot_transfers import MoveSide, Sent, TransferLots
from tradeledger.domain.markets import market
from tradeledger.domain.stored_rows import UNREADABLE, other_amounts, refuse_unreadable, unreadable
from tradeledger.errors import InvalidArgument, InvalidFill, LedgerError


@dataclass(slots=True)
class LotBook(TransferLots):
    """The lots folded from the log in the order the events occurred, each disposal matched by its own year's method.

    Rows given in seq order are folded while none occurred before an event folded into its pool (else
    OutOfTimeOrder); `in_time_order` is set for rows given sorted by (`occurred_at`, seq), whose fold does not ask the
    positions' log-order refusal of a base fee.

    `year` keeps only the rows and missing acquisitions of disposals in that tax year (all when None; none when
    NO_TAX_YEAR, as the open lots need); the open lots are those after every event folded, `years` all years.
    """

    plan: MethodPlan
    fees_in_basis: bool = True
    withdrawals_dispose: bool = False
    long_after_days: int = LONG_AFTER_DAYS
    year: int | None = None
    in_time_order: bool = False
    rows: list[GainRow] = field(default_factory=list)
    missing: list[MissingAcquisition] = field(default_factory=list)
    years: set[int] = field(default_factory=set)  # the tax years with a disposal (matched or missing)
    last_seq: int = 0  # the last row folded
    last_at: str = ""  # its time (stored text): the open lots are costed by the method of its tax year
    _pools: dict[LotKey, Pool] = field(default_factory=dict)
    _methods: dict[str, tuple[int, Method]] = field(default_factory=dict)
    _long: timedelta = timedelta(days=LONG_AFTER_DAYS)
    # What the hot loop keeps per (account, symbol): the key, the pool and the quote (None: a contract).
    _slots: dict[tuple[str, str], tuple[LotKey, Pool, str] | None] = field(default_factory=dict)
    _one_fees: OneFees = field(default_factory=dict)
    # The latest time of a disposing withdrawal or an internal move per (account, currency): a pool made after it
    # starts from it.
    _withdrawn_at: dict[tuple[str, str], str] = field(default_factory=dict)
    transfers: list[int] = field(default_factory=list)  # the seqs of the transfers folded
    late: set[int] = field(default_factory=set)  # ... that occurred before an event folded into their pools
    _transit: dict[int, Sent | None] = field(default_factory=dict)  # by out side: lots moved, not yet arrived
    _arrived: set[int] = field(default_factory=set)  # the out sides whose in side was folded first
    # Per (account, lot seq): the quantity of the lot internal moves brought into the account less what they took out.
    moved_lots: dict[tuple[str, int], Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.long_after_days <= MAX_LONG_AFTER_DAYS:
            raise InvalidArgument(
                f"long_after_days: must be from 1 to {MAX_LONG_AFTER_DAYS} days (got {self.long_after_days})"
            )
        self._long = timedelta(days=self.long_after_days)

    # --- the events ------------------------------------------------------------------------

    def apply_rows(  # noqa: C901, PLR0912, PLR0915 - inlined: the hot loop
        self,
        rows: Iterable[ExecutionRow],
        metadata: Mapping[int, Any] | None = None,
        kinds: Mapping[int, str] | None = None,
        moves: Mapping[int, MoveSide] | None = None,
    ) -> None:
        """Fold log rows (as stored text) in seq order, or sorted by (`occurred_at`, seq) when `in_time_order`;
        OutOfTimeOrder when a fill (or a disposing withdrawal) occurred before an event already folded into its pool
        (the book is then left half folded: fold the rows again, sorted, into a new book). `metadata` the parsed
        metadata of the fills and transfers that name lots (by seq), `kinds` the kind of each transfer (by seq) when
        withdrawals dispose, `moves` the sides of the internal moves that pair (`lot_transfers.paired_moves`); the
        seqs of the transfers folded are listed in `transfers`.

        The common fill (spot, naming no lots, with a v1 fee, no fee, or one fee in the quote currency or
        unvalued) is folded inline, as `domain.fold` folds the positions: an acquisition that opens a lot (no
        missing acquisition), and, in a year matched oldest lot first (fifo, or specific for a fill naming
        none), a disposal that the pool's lots cover (no pooled average to share out). The same operations
        in the same order as `_fill`, `_trade`, `Pool.take`, `Pool.cut`, `_rows_of` and `Pool.add`, less
        what is never read again (a used-up lot's basis; the pools' basis when no year averages). Every
        other row goes through `_fill` or `_withdrawal`; tests/integration/test_lots_golden.py pins the
        figures of both paths.

        A fill is refused (InvalidArgument: its `metadata.lots`; InvalidFill: a size that would round or a base
        fee, as the positions refuse them; StorageError: a row no event holds) before it moves anything."""
        slots, one_fees = self._slots, self._one_fees
        in_basis, only_year, years, long = self.fees_in_basis, self.year, self.years, self._long
        append, gain_row, parse = self.rows.append, tuple.__new__, datetime.fromisoformat
        dec, zero, fifo, specific = Decimal, ZERO, Method.FIFO, Method.SPECIFIC
        inexact = Inexact
        averages = Method.AVERAGE in self.plan.uses  # else no pool's basis is ever read (Pool.basis)
        last, last_at, made, row = self.last_seq, self.last_at, -1, None  # made: the row a new slot was made for
        year_from, year_to, year, method = "", "", 0, fifo  # the tax year of the last fill: at[:4] in [from, to)
        try:
            with localcontext(LEDGER_CONTEXT) as context:
                flags = context.flags  # a size is exact when its sums leave Inexact unset (cheaper than a call)
                for row in cast("Iterable[tuple[Any, ...]]", rows):
                    seq, account, _, symbol, side, quantity, price, fee, at, kind, fees, amount, currency = row
                    if kind != "fill":
                        moved, fee_paid = other_amounts(kind, symbol, amount, fee, currency, at)  # or refused
                        if kind == "transfer":
                            self.transfers.append(seq)
                            if moves is not None and seq in moves:
                                self._move(seq, account, currency, moved, fee_paid, at, moves[seq])
                            elif moves is None and (not kinds or kinds.get(seq) == "internal"):
                                self._note_late(seq, account, currency, at)  # a move, perhaps (`late_moves`)
                            elif self.withdrawals_dispose and kinds is not None and kinds.get(seq) == "withdrawal":
                                named = None if metadata is None else metadata.get(seq)
                                self._withdrawal(seq, account, currency, fee_paid - moved, at, named)
                        last, last_at = seq, at  # folded (each path sets it once, after the row: a refused row is not)
                        continue
                    buy = side == "buy"
                    if (not buy and side != "sell") or len(at) != 32 or not at.endswith("+00:00"):  # noqa: PLR2004
                        raise ValueError(side, at)  # not a side, or not a time as `time_text` writes it
                    parse(at)  # that shape may still name no time (month 13): ValueError
                    slot = slots.get((account, symbol))
                    if slot is None:
                        if (account, symbol) not in slots:
                            slot, made = self._slot(account, symbol), seq
                        if slot is None:  # a contract: positions, not lots (its row read whole, as they read it)
                            refuse_unreadable(row)
                            last, last_at = seq, at
                            continue
                    key, pool, quote = slot
                    if at < pool.latest:  # a backfill: this fill occurred before one folded into its pool
                        raise OutOfTimeOrder(seq)
                    pool.latest = at
                    q, p = dec(quantity), dec(price)
                    if not (q > zero and p > zero and q.is_finite() and p.is_finite()):  # NaN traps as it compares
                        raise ValueError(quantity, price)
                    if fees is None:  # a v1 fill: one fee, in the quote currency
                        if (valued := dec(fee)) < zero or not valued.is_finite():
                            raise ValueError(fee)
                    elif fees == "[]":
                        valued = zero
                    else:
                        paid = one_fees.get(fees)
                        if paid is None:
                            paid = remember_one_fee(one_fees, fees)
                        if paid and paid[0] == quote:
                            valued = paid[1]
                        elif paid and paid[0] != key[1]:  # one unvalued fee: no quote value, not base
                            valued = zero
                        else:
                            self._fill(seq, key, pool, symbol, buy, q, p, at, fees, metadata)
                            last, last_at = seq, at
                            continue
                    if metadata is not None and seq in metadata:
                        self._fill(seq, key, pool, symbol, buy, q, p, at, fees, metadata, valued)
                        last, last_at = seq, at
                        continue
                    if not year_from <= at < year_to:  # another tax year than the last row's: its method
                        year, method = self.method_named(at)
                        year_from, year_to = at[:4], str(year + 1)
                    # The position's size and its cycle's entered total, exact as the positions keep them, before
                    # anything moves (`position_after` names a refusal).
                    position = pool.position
                    grows = position > zero if buy else position < zero  # rule 2
                    flags[inexact] = False
                    moved = position + q if buy else position - q
                    if grows:
                        entered = pool.entered + q
                    elif moved > zero if buy else moved < zero:  # rule 1 or 4: a cycle opens with what is left
                        entered = moved if buy else -moved
                    else:  # rule 3
                        entered = pool.entered
                    if flags[inexact]:
                        moved, entered = position_after(seq, position, pool.entered, buy, q)
                    fee_in = valued if in_basis else zero
                    if pool.sign == (-1 if buy else 1):  # a disposal
                        rest = pool.rest_if_exact(q)  # set once, after the whole match (Pool.cut)
                        if (
                            (method is not fifo and method is not specific)
                            or q > pool.quantity
                            or pool.pooled_end > pool.head
                            or rest is None
                        ):
                            self._trade(key, pool, seq, at, buy, q, p, fee_in, None)
                        else:
                            years.add(year)
                            kept = only_year is None or year == only_year
                            if kept:
                                disposed = parse(at)
                                owner, base, quoted = key
                            lots, head, left_fee, left = pool.lots, pool.head, fee_in, q
                            while True:
                                lot = lots[head]
                                held = lot.quantity
                                if not held:
                                    head += 1
                                    continue
                                # `min(left, held)`, cut: a lot used up is never read again (before `head`)
                                if held < left:
                                    part, basis, end = held, lot.basis, False
                                    lot.quantity = zero
                                else:
                                    part, end = left, True
                                    if left == held:
                                        basis = lot.basis
                                        lot.quantity = zero
                                    else:
                                        basis = left * lot.unit
                                        lot.quantity = lot.rest_after(seq, left)
                                        lot.basis -= basis
                                if averages:
                                    pool.basis -= basis
                                if kept:  # the row of `_rows_of`: the last part takes what is left of the fee
                                    if not fee_in:
                                        share = zero
                                    elif end:
                                        share = left_fee
                                    else:
                                        share = fee_in * part / q
                                        left_fee -= share
                                    if buy:  # a short lot bought back: its sale brought the basis, the buy costs
                                        signed, proceeds, cost = -part, basis, part * p + share
                                    else:
                                        signed, proceeds, cost = part, part * p - share, basis
                                    acquired = lot.when or lot.acquired()
                                    term = "long" if disposed - acquired >= long else "short"
                                    values = (
                                        owner,
                                        base,
                                        quoted,
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
                                    append(gain_row(GainRow, values))
                                if end:
                                    break
                                left -= part
                                head += 1
                            pool.head, pool.quantity = head, rest
                            if not lot.quantity or not pool.quantity or head > 64:  # noqa: PLR2004 - as Pool.tidy
                                pool.tidy()
                    else:  # an acquisition: a lot opens unless the position held on the other side is missing
                        # `max(held - 0, 0)` for the size held on the side this trade reduces (none when it grows)
                        missing = zero if grows else min(q, max((-position if buy else position) - zero, zero))
                        opening = q - missing
                        if missing or not opening or pool.moved:  # moved: coins of internal moves (_trade)
                            self._trade(key, pool, seq, at, buy, q, p, fee_in, None)
                        else:
                            basis = opening * p + (fee_in if buy else -fee_in)
                            pool.sign = 1 if buy else -1
                            pool.quantity += opening
                            if averages:
                                pool.basis += basis
                            pool.lots.append(Lot(seq, at, opening, basis))
                    pool.position, pool.entered = moved, entered
                    last, last_at = seq, at
        except UNREADABLE as error:  # a refused fill moved nothing; a slot and pool made for it go too
            if made > last:  # the slot was made for the row being folded (not one already folded)
                self._unmake(account, symbol)
            if isinstance(error, LedgerError) or row is None:  # InvalidArgument, InvalidFill: refusals
                raise
            raise unreadable(row, error) from None  # a stored text that does not read: a row edited
        finally:
            self.last_seq, self.last_at = last, last_at

    def _slot(self, account: str, symbol: str) -> tuple[LotKey, Pool, str] | None:
        """The key, pool and quote of a spot symbol's fills in `account` (None for a contract), remembered."""
        traded = market(symbol)
        slot = None
        if traded.settle is None:
            key = (account, traded.base, traded.quote)
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = Pool()
                pool.latest = self._withdrawn_at.get(key[:2], "")
            slot = (key, pool, traded.quote)
        self._slots[account, symbol] = slot
        return slot

    def _unmake(self, account: str, symbol: str) -> None:
        """Forget the slot `_slot` made for a fill then refused, and its pool (untouched: a refusal moves nothing)."""
        slot = self._slots.pop((account, symbol))
        if slot is not None:
            del self._pools[slot[0]]

    def _fill(
        self,
        seq: int,
        key: LotKey,
        pool: Pool,
        symbol: str,
        buy: bool,
        q: Decimal,
        p: Decimal,
        at: str,
        fees: str | None,
        metadata: Mapping[int, Any] | None,
        valued: Decimal | None = None,
    ) -> None:
        """A spot fill, any fees (`valued`: the valued fees when the caller read them and they hold no base
        fee), naming lots or not. A size or a base fee the positions refuse is refused here too."""
        if valued is None:
            assert fees is not None
            parts = fee_parts(symbol, fees)
            valued, base_fee, base_index = parts[0], parts[2], parts[3]
        else:
            base_fee, base_index = ZERO, -1
        # Refused as the positions refuse it (a size, a base fee), before anything moves.
        before = pool.position
        after, entered = position_after(seq, before, pool.entered, buy, q)
        if base_fee:
            flipped = bool(before) and bool(after) and (before > 0) != (after > 0)
            # Asked in the log's order, as the positions ask it: a fold in time order does not (a fee that turns the
            # position short there is a fee-free disposal like another, beyond the lots a short lot).
            refusal = None if self.in_time_order else base_fee_refusal(symbol, base_fee, base_index, after, flipped)
            if refusal is not None:
                raise InvalidFill(f"seq {seq}: {refusal}")
            disposed = position_after(seq, after, entered, base_fee < 0, abs(base_fee))
        picks = None if metadata is None else picks_of(seq, metadata.get(seq), q)
        fee_in = (valued + base_fee * p if base_fee else valued) if self.fees_in_basis else ZERO
        self._trade(key, pool, seq, at, buy, q, p, fee_in, picks)
        pool.position, pool.entered = after, entered
        if base_fee:  # a base fee: a fee-free disposal at the fill price right after the fill
            self._trade(key, pool, seq, at, base_fee < 0, abs(base_fee), p, ZERO, None)
            pool.position, pool.entered = disposed

    def method_named(self, at: str) -> tuple[int, Method]:
        """The tax year of a time (stored text, UTC: its first four characters) and that year's method."""
        found = self._methods.get(at[:4])
        if found is None:
            year = int(at[:4])
            found = self._methods[at[:4]] = (year, self.plan.method_of(year))
        return found

    def _trade(
        self,
        key: LotKey,
        pool: Pool,
        seq: int,
        at: str,
        buy: bool,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        picks: LotPicks | None,
    ) -> None:
        sign = 1 if buy else -1
        year, method = self.method_named(at)
        if pool.sign == -sign:
            matched = min(quantity, pool.quantity)
            parts = pool.take(matched, method, picks if method is Method.SPECIFIC else None, seq)
            self._rows_of(key, parts, buy, seq, at, year, quantity, price, fee)
            if matched == quantity:
                return
            excess = quantity - matched
            # The fee left for the rest: what the parts did not take.
            fee -= sum((fee * part / quantity for _, part, _ in parts), ZERO) if fee else ZERO
        else:
            if picks is not None and method is Method.SPECIFIC:
                raise InvalidArgument(
                    f"seq {seq}: metadata.lots: names lots, but {key[0]} holds no {'short' if buy else 'long'} "
                    f"lots of {key[1]}/{key[2]} to match"
                )
            matched, excess = ZERO, quantity
        position = pool.position + pool.moved  # what the fills left, and internal moves in less out
        held = position if not buy else -position  # the position's size on the side this trade reduces
        lots_held = matched + (pool.quantity if pool.sign == -sign else ZERO)
        missing = min(excess, max(held - lots_held, ZERO))
        opening = excess - missing
        if missing:
            share = fee if missing == excess else fee * missing / excess
            fee -= share
            self._missing(key, missing, seq, at)
        if opening:
            pool.add(sign, seq, at, opening, opening * price + (fee if buy else -fee))

    def _rows_of(
        self,
        key: LotKey,
        parts: list[Part],
        buy: bool,
        seq: int,
        at: str,
        year: int,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
    ) -> None:
        """The gain rows of the parts a trade of `quantity` matched, each with its share of `fee` by quantity
        (the last part of the whole trade takes what is left of it)."""
        self.years.add(year)
        if self.year is not None and year != self.year:
            return
        gain_rows(self.rows, self._long, key, parts, buy, seq, datetime.fromisoformat(at), quantity, price, fee)

    # --- what it gives -------------------------------------------------------------------------

    def _missing(self, key: LotKey, quantity: Decimal, seq: int, at: str) -> None:
        year = int(at[:4])
        self.years.add(year)
        if self.year is None or year == self.year:
            self.missing.append(MissingAcquisition(key[0], key[1], key[2], quantity, seq, datetime.fromisoformat(at)))

    def latest_at(self) -> str:
        """The latest time folded (stored text; "" when none): the last row's, or a later fill's of a pool."""
        return max((self.last_at, *(pool.latest for pool in self._pools.values())))

    def by_seq(self) -> None:
        """The rows and missing acquisitions of a fold in time order listed as a fold in seq order lists them."""
        listed_by_seq(self.rows, self.missing)

    def open_lots(self) -> list[OpenLot]:
        """The lots still open, by (account, currency, quote) and then acquisition; when the method of the latest
        event's tax year is `average`, each at its pool's average (hledger's AVERAGE rewrites it into every lot)."""
        latest = self.latest_at()
        averaged = bool(latest) and self.method_named(latest)[1] is Method.AVERAGE
        with localcontext(LEDGER_CONTEXT):
            return [lot for key in sorted(self._pools) for lot in self._pools[key].open_lots(key, averaged=averaged)]

    def positions(self) -> dict[LotKey, Decimal]:
        """The position size each key's fills left (signed), as the lots followed it."""
        return {key: pool.position for key, pool in self._pools.items()}
