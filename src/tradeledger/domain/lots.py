"""Tax lots and cost basis (spec section 11): a second read model of the fills, beside the positions.

Lots are kept per `(account, currency, quote)` of the spot symbols (a contract has a position, not
lots). Every acquisition opens a lot: its quantity, its basis (what it cost in the quote currency,
with the fill's valued fees when fees are in the basis), its time and seq, the lot's id. Every
disposal is matched against the open lots by the method of its own tax year (the calendar year of
its `occurred_at` in UTC): `fifo`, `lifo`, `hifo` (the highest unit cost first, the earlier lot on a
tie), `average` (every open lot is costed at the pool's average, as hledger's AVERAGE; lots are still
consumed first in, first out, so each part keeps its holding period) or `specific` (the lots the
fill names in `metadata.lots`; a disposal that names none, a base fee or a withdrawal, takes `fifo`,
the order that applies when lots are not identified).

The log is folded in seq order, the order the positions take too, and each disposal is matched once,
by its own year's method: choosing a method for a later year never changes an earlier year's matches.
This is why the lots are computed on demand and not stored: what they hold depends on arguments
(the method of each year, whether fees are in the basis, whether withdrawals dispose), never on the
log alone.

What is a disposal, what is an acquisition:
- a sell disposes of long lots; beyond them it opens a short lot (the position goes short, rule 4 of
  section 4), except for the part the position held long without lots to match (the lots fall behind
  the position only when withdrawals dispose): that part is a missing acquisition, reported with its
  quantity, never invented;
- a buy closes short lots first (Beancount's crossover), the rest opens a long lot;
- a fee paid in the base currency is a fee-free disposal of that much base at the fill price right
  after the fill (section 9); a base rebate is an acquisition at the fill price;
- a withdrawal (kind `withdrawal`, its amount and fee) disposes only when asked; it leaves at its cost
  (proceeds = cost basis, gain 0: the coins leave the account, no price is known), from the account's
  lots of that currency in quote order; what the lots do not hold is a missing acquisition; a currency
  the account never traded as a base (the quote's cash) has no lots and is left alone;
- deposits, internal moves, funding and contract fills are no lots.

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
from decimal import Decimal, localcontext
from typing import Any

from tradeledger.domain.fee_parts import fee_parts
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text
from tradeledger.domain.fold import ExecutionRow
from tradeledger.domain.lot_terms import (
    LONG_AFTER_DAYS,
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
from tradeledger.domain.markets import market
from tradeledger.errors import InvalidArgument, InvalidFill


class _Lot:
    __slots__ = ("_when", "at", "basis", "quantity", "seq", "unit")

    def __init__(self, seq: int, at: str, quantity: Decimal, basis: Decimal) -> None:
        self.seq, self.at, self.quantity, self.basis = seq, at, quantity, basis
        self.unit = basis / quantity
        self._when: datetime | None = None

    @property
    def when(self) -> datetime:
        """`at` as a time, read once."""
        if self._when is None:
            self._when = datetime.fromisoformat(self.at)
        return self._when


class _Pool:
    """The open lots of one key, all long (sign 1) or all short (-1), and the position's signed size.

    After an `average` disposal the lots from `head` to `pooled_end` share one basis (the pool's, less that
    of the lots acquired after it: `pooled()`); their own basis is stale until a disposal by another method
    shares it out again (`share_out`). Lots are consumed from `head` (fifo) or the end (lifo); a lot taken
    from the middle (hifo, specific) is left at quantity 0 and skipped.
    """

    __slots__ = ("basis", "head", "lots", "pooled_end", "position", "quantity", "sign")

    def __init__(self) -> None:
        self.lots: list[_Lot] = []
        self.head = 0
        self.pooled_end = 0
        self.sign = 0
        self.quantity = ZERO  # Σ open quantity (absolute)
        self.basis = ZERO  # Σ basis of the open lots
        self.position = ZERO

    def live(self) -> Iterable[_Lot]:
        return (lot for lot in self.lots[self.head :] if lot.quantity)

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

    def reset(self) -> None:
        self.lots, self.head, self.pooled_end, self.sign = [], 0, 0, 0
        self.quantity = self.basis = ZERO


# A matched part: (the lot, quantity, its basis).
_Part = tuple[_Lot, Decimal, Decimal]


@dataclass(slots=True)
class LotBook:
    """The lots folded from the log in seq order, each disposal matched by its own year's method.

    `year` keeps only the rows and missing acquisitions of disposals in that tax year (all when None);
    the open lots are those after every event folded.
    """

    plan: MethodPlan
    fees_in_basis: bool = True
    withdrawals_dispose: bool = False
    long_after_days: int = LONG_AFTER_DAYS
    year: int | None = None
    rows: list[GainRow] = field(default_factory=list)
    missing: list[MissingAcquisition] = field(default_factory=list)
    years: set[int] = field(default_factory=set)  # the tax years with a disposal (matched or missing)
    _pools: dict[LotKey, _Pool] = field(default_factory=dict)
    _methods: dict[str, tuple[int, Method]] = field(default_factory=dict)
    _long: timedelta = timedelta(days=LONG_AFTER_DAYS)

    def __post_init__(self) -> None:
        if self.long_after_days < 1:
            raise InvalidArgument(f"long_after_days: must be 1 or more (got {self.long_after_days})")
        self._long = timedelta(days=self.long_after_days)

    # --- the events ------------------------------------------------------------------------

    def apply_rows(
        self,
        rows: Iterable[ExecutionRow],
        metadata: Mapping[int, Any] | None = None,
        kinds: Mapping[int, str] | None = None,
    ) -> None:
        """Fold log rows (as stored text) in seq order; `metadata` the parsed metadata of the fills that
        name lots (by seq), `kinds` the kind of each transfer (by seq) when withdrawals dispose."""
        pools, in_basis = self._pools, self.fees_in_basis
        with localcontext(LEDGER_CONTEXT):
            for seq, account, _exchange, symbol, side, quantity, price, fee, at, kind, fees, amount, currency in rows:
                if kind == "fill":
                    assert symbol is not None
                    assert quantity is not None
                    assert price is not None
                    traded = market(symbol)
                    if traded.settle is not None:
                        continue
                    if fees is None:
                        valued, base_fee = Decimal(fee or "0"), ZERO
                    else:
                        parts = fee_parts(symbol, fees)
                        valued, base_fee = parts[0], parts[2]
                    q = Decimal(quantity)
                    picks = None
                    if metadata is not None and seq in metadata:
                        picks = self._picks(seq, metadata[seq], q)
                    key = (account, traded.base, traded.quote)
                    pool = pools.get(key)
                    if pool is None:
                        pool = pools[key] = _Pool()
                    p = Decimal(price)
                    buy = side == "buy"
                    fee_in = (valued + base_fee * p if base_fee else valued) if in_basis else ZERO
                    self._trade(key, pool, seq, at, buy, q, p, fee_in, picks)
                    pool.position += q if buy else -q
                    if base_fee:  # a base fee: a fee-free disposal at the fill price right after the fill
                        self._trade(key, pool, seq, at, base_fee < 0, abs(base_fee), p, ZERO, None)
                        pool.position -= base_fee
                elif (
                    kind == "transfer"
                    and self.withdrawals_dispose
                    and kinds is not None
                    and kinds.get(seq) == "withdrawal"
                ):
                    assert amount is not None
                    assert currency is not None
                    self._withdrawal(seq, account, currency, -Decimal(amount) + Decimal(fee or "0"), at)

    @staticmethod
    def _picks(seq: int, metadata: Mapping[str, Any], quantity: Decimal) -> LotPicks | None:
        try:
            return picks_of(metadata, quantity)
        except InvalidFill as error:
            raise InvalidArgument(f"seq {seq}: {error}") from None

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
        pool: _Pool,
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
            parts = self._take(pool, matched, method, picks if method is Method.SPECIFIC else None, seq)
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
        held = pool.position if not buy else -pool.position  # the position's size on the side this trade reduces
        lots_held = matched + (pool.quantity if pool.sign == -sign else ZERO)
        missing = min(excess, max(held - lots_held, ZERO))
        opening = excess - missing
        if missing:
            share = fee if missing == excess else fee * missing / excess
            fee -= share
            self._missing(key, missing, seq, at)
        if opening:
            self._open(pool, sign, seq, at, opening, opening * price + (fee if buy else -fee))

    def _rows_of(
        self,
        key: LotKey,
        parts: list[_Part],
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
        disposed = datetime.fromisoformat(at)
        account, currency, quote = key
        append, long, row = self.rows.append, self._long, tuple.__new__  # a fold of a busy year: every call counts
        left_fee, left_quantity = fee, quantity
        for lot, part, basis in parts:
            share = ZERO if not fee else left_fee if part == left_quantity else fee * part / quantity
            left_fee -= share
            left_quantity -= part
            if buy:  # a short lot bought back: its sale brought the basis, the buy costs
                signed, proceeds, cost = -part, basis, part * price + share
            else:
                signed, proceeds, cost = part, part * price - share, basis
            acquired = lot.when
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

    def _withdrawal(self, seq: int, account: str, currency: str, quantity: Decimal, at: str) -> None:
        keys = sorted(k for k in self._pools if k[0] == account and k[1] == currency)
        if not keys:  # a currency this account never bought or sold as a base (cash such as USDT): no lots
            return
        year, method = self.method_named(at)
        left = quantity
        for key in keys:
            pool = self._pools[key]
            if left == 0:
                break
            if pool.sign != 1:
                continue
            part = min(left, pool.quantity)
            disposed = datetime.fromisoformat(at)
            for lot, piece, basis in self._take(pool, part, method, None, seq):
                if self.year is None or year == self.year:
                    self._row(key, piece, lot, seq, disposed, basis, basis)
            self.years.add(year)
            left -= part
        if left:
            self._missing((account, currency, ""), left, seq, at)

    # --- matching ----------------------------------------------------------------------------

    def _open(self, pool: _Pool, sign: int, seq: int, at: str, quantity: Decimal, basis: Decimal) -> None:
        pool.sign = sign
        pool.quantity += quantity
        pool.basis += basis
        last = pool.lots[-1] if len(pool.lots) > pool.head else None
        if last is not None and last.seq == seq and pool.pooled_end < len(pool.lots):  # a base rebate of this fill
            last.quantity += quantity
            last.basis += basis
            last.unit = last.basis / last.quantity
            return
        pool.lots.append(_Lot(seq, at, quantity, basis))

    def _take(self, pool: _Pool, quantity: Decimal, method: Method, picks: LotPicks | None, seq: int) -> list[_Part]:
        """Take `quantity` (at most the pool's) from the pool's lots by `method`: the parts matched."""
        if method is Method.AVERAGE:
            return self._take_average(pool, quantity)
        if pool.pooled_end > pool.head:
            pool.share_out()
        parts: list[_Part] = []
        if picks is not None:
            self._take_picked(pool, quantity, picks, seq, parts)
        else:
            left = quantity
            while left:
                lot = self._next(pool, method)
                part = min(left, lot.quantity)
                parts.append(self._cut(pool, lot, part))
                left -= part
        self._tidy(pool)
        return parts

    def _take_picked(self, pool: _Pool, quantity: Decimal, picks: LotPicks, seq: int, parts: list[_Part]) -> None:
        named = sum((amount for _, amount in picks), ZERO)
        if named != quantity:
            raise InvalidArgument(
                f"seq {seq}: metadata.lots: names {decimal_text(named)}, but {decimal_text(quantity)} is matched "
                "against the lots held"
            )
        for lot_seq, amount in picks:
            lot = next((lot for lot in pool.live() if lot.seq == lot_seq), None)
            held = ZERO if lot is None else lot.quantity
            if lot is None or held < amount:
                raise InvalidArgument(
                    f"seq {seq}: metadata.lots: lot {lot_seq} has {decimal_text(held)} open when this disposal is "
                    f"matched (got {decimal_text(amount)}); the methods of earlier years decide what is left of it"
                )
            parts.append(self._cut(pool, lot, amount))

    @staticmethod
    def _next(pool: _Pool, method: Method) -> _Lot:
        if method is Method.LIFO:
            while not pool.lots[-1].quantity:
                pool.lots.pop()
            return pool.lots[-1]
        if method is Method.HIFO:
            best: _Lot | None = None
            for lot in pool.live():
                if best is None or lot.unit > best.unit:
                    best = lot
            assert best is not None
            return best
        while not pool.lots[pool.head].quantity:  # fifo, and specific without named lots
            pool.head += 1
        return pool.lots[pool.head]

    @staticmethod
    def _cut(pool: _Pool, lot: _Lot, part: Decimal) -> _Part:
        basis = lot.basis if part == lot.quantity else part * lot.unit
        lot.quantity -= part
        lot.basis -= basis
        pool.quantity -= part
        pool.basis -= basis
        return (lot, part, basis)

    @staticmethod
    def _tidy(pool: _Pool) -> None:
        if not pool.quantity:
            pool.reset()
            return
        while not pool.lots[pool.head].quantity:
            pool.head += 1
        if pool.head > 64 and pool.head * 2 > len(pool.lots):  # noqa: PLR2004
            pool.pooled_end = max(pool.pooled_end - pool.head, 0)
            del pool.lots[: pool.head]
            pool.head = 0

    def _take_average(self, pool: _Pool, quantity: Decimal) -> list[_Part]:
        """The pool's average cost for `quantity`, the lots consumed first in, first out; every lot left
        shares the pool's basis after it."""
        cost = pool.basis if quantity == pool.quantity else pool.basis * quantity / pool.quantity
        consumed: list[tuple[_Lot, Decimal]] = []
        left = quantity
        while left:
            lot = self._next(pool, Method.FIFO)
            part = min(left, lot.quantity)
            lot.quantity -= part
            consumed.append((lot, part))
            left -= part
        pool.quantity -= quantity
        pool.basis -= cost
        parts: list[_Part] = []
        for index, (lot, part) in enumerate(consumed):
            basis = cost if index == len(consumed) - 1 else cost * part / quantity
            cost -= basis
            quantity -= part
            parts.append((lot, part, basis))
        pool.pooled_end = len(pool.lots)
        self._tidy(pool)
        return parts

    # --- what it gives -------------------------------------------------------------------------

    def _row(
        self, key: LotKey, quantity: Decimal, lot: _Lot, seq: int, disposed: datetime, proceeds: Decimal, cost: Decimal
    ) -> None:
        acquired = lot.when
        term = "long" if disposed - acquired >= self._long else "short"
        account, currency, quote = key
        row = GainRow(
            account, currency, quote, quantity, acquired, lot.seq, disposed, seq, proceeds, cost, proceeds - cost, term
        )
        self.rows.append(row)

    def _missing(self, key: LotKey, quantity: Decimal, seq: int, at: str) -> None:
        year = int(at[:4])
        self.years.add(year)
        if self.year is None or year == self.year:
            self.missing.append(MissingAcquisition(key[0], key[1], key[2], quantity, seq, datetime.fromisoformat(at)))

    def open_lots(self) -> list[OpenLot]:
        """The lots still open, by (account, currency, quote) and then acquisition."""
        lots: list[OpenLot] = []
        with localcontext(LEDGER_CONTEXT):
            for key in sorted(self._pools):
                pool = self._pools[key]
                if not pool.sign:
                    continue
                pooled_quantity, pooled_basis = pool.pooled() if pool.pooled_end > pool.head else (ZERO, ZERO)
                for index, lot in enumerate(pool.lots):
                    if index < pool.head or not lot.quantity:
                        continue
                    unit = pooled_basis / pooled_quantity if index < pool.pooled_end else lot.unit
                    lots.append(
                        OpenLot(
                            key[0],
                            key[1],
                            key[2],
                            lot.quantity * pool.sign,
                            unit,
                            datetime.fromisoformat(lot.at),
                            lot.seq,
                        )
                    )
        return lots

    def positions(self) -> dict[LotKey, Decimal]:
        """The position size each key's fills left (signed), as the lots followed it."""
        return {key: pool.position for key, pool in self._pools.items()}
