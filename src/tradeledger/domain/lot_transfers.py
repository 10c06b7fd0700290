"""The tax lots of transfers (spec section 11): a withdrawal that disposes, and an internal move, whose lots follow
the coins from one of the user's accounts to another (`domain.lots.LotBook` folds them through `TransferLots`).

An internal move is two transfers of kind `internal` sharing one transfer_id, one per account (`record-transfer
--to-account` records both; an ingest may give them apart). `paired_moves` pairs them: exactly one side out (amount
< 0) and one side in (> 0), in two accounts, of one exchange (as the log names it) and currency. A move is no
disposal (no gain row): at the out side the lots leave the source account's pools of that currency as a disposing
withdrawal takes them (in quote order, by the method of its tax year; `specific` takes them first in, first out: an
internal move names no lots), and at the later of its two sides (in the order the events occurred) they arrive in
the other account's pools of the same (currency, quote), each part keeping its lot's seq, acquisition time and unit
cost, listed among that pool's lots by acquisition time. Between the two sides the lots are in transit, held by
neither account. What moves is the lesser of the two sides' amounts; the rest of the out side (and its fee) leaves
the source like a withdrawal: a disposal at cost when withdrawals dispose, else its lots stay.

What the source's lots do not cover arrives as no lot: a sale of it in the other account is a missing acquisition,
never a basis made up (`Pool.moved` holds, per pool, the quantity moved in less the quantity moved out, which the
position the fills left does not count: `LotBook._trade` adds it to the position to tell a missing acquisition from
a short lot). A lot arriving in a pool of short lots buys them back at its unit cost (Beancount's crossover, as a
buy). A move whose other side is not in the ledger (or not paired) moves no lots: they stay where they are, as a
withdrawal that does not dispose leaves them; a currency the source never traded as a base (its cash) has no lots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, Inexact
from typing import Any, NamedTuple

from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text
from tradeledger.domain.lot_order import OutOfTimeOrder
from tradeledger.domain.lot_pools import Lot, Part, Pool
from tradeledger.domain.lot_terms import ZERO, GainRow, LotKey, LotPicks, Method, MethodPlan, picks_of
from tradeledger.domain.positions import EXACT_SUBTRACT
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidArgument


class MoveSide(NamedTuple):
    """One side of a paired internal move: `out` of its account or into it, the seq, time and account of its other
    side, and the quantity the move carries (the lesser of the two sides' amounts)."""

    out: bool
    other: int
    other_at: str
    other_account: str
    quantity: Decimal


class MovedTransfer(NamedTuple):
    """An internal transfer as the pairing reads it."""

    seq: int
    account: str
    exchange: str
    transfer_id: str
    currency: str
    amount: Decimal
    occurred_at: str


def internal_moves(events: Iterable[StoredEvent]) -> list[MovedTransfer]:
    """The internal transfers among `events`, as the pairing reads them."""
    return [
        MovedTransfer(
            event.seq,
            event.account,
            event.exchange,
            event.fill_id,
            event.currency,
            Decimal(event.amount),
            event.occurred_at,
        )
        for event in events
        if event.kind == "internal" and event.currency is not None and event.amount is not None
    ]


def paired_moves(transfers: Iterable[MovedTransfer]) -> dict[int, MoveSide]:
    """The sides of the internal moves that pair (by seq): of one exchange, transfer_id and currency (as
    `record-transfer --to-account` records them), exactly one side out and one in, in two accounts; any other side
    moves no lots."""
    groups: dict[tuple[str, str, str], list[MovedTransfer]] = {}
    for transfer in transfers:
        groups.setdefault((transfer.exchange, transfer.transfer_id, transfer.currency), []).append(transfer)
    sides: dict[int, MoveSide] = {}
    for group in groups.values():
        if len(group) != 2:  # noqa: PLR2004 - a move has two sides
            continue
        out, into = sorted(group, key=lambda side: side.amount)
        if not out.amount < ZERO < into.amount or out.account == into.account:
            continue
        quantity = min(-out.amount, into.amount)
        sides[out.seq] = MoveSide(
            out=True, other=into.seq, other_at=into.occurred_at, other_account=into.account, quantity=quantity
        )
        sides[into.seq] = MoveSide(
            out=False, other=out.seq, other_at=out.occurred_at, other_account=out.account, quantity=quantity
        )
    return sides


def late_moves(moves: Mapping[int, MoveSide], late: set[int]) -> bool:
    """Whether a fold in seq order with `moves` would stop (OutOfTimeOrder) at one of them, as far as a fold without
    them can tell: a side `late` (it occurred before an event of its pools folded before it), or a side into an account
    recorded before its out side that occurred earlier. A fold in time order is then read at once (a guess: a fold in
    seq order that stops all the same is folded again in time order)."""
    for seq, side in moves.items():
        if seq in late:
            return True
        if side.out and side.other < seq and (moves[side.other].other_at, seq) < (side.other_at, side.other):
            return True
    return False


# What an out side sent: the lots taken (quote, lot part), what they did not cover, and the quote it belongs to.
Sent = tuple[list[tuple[str, Lot]], Decimal, str]


class TransferLots:
    """`LotBook`'s transfers: a disposing withdrawal (`_withdrawal`) and an internal move's sides (`_move`)."""

    __slots__ = ()
    plan: MethodPlan
    withdrawals_dispose: bool
    year: int | None
    rows: list[GainRow]
    years: set[int]
    _pools: dict[LotKey, Pool]
    _long: timedelta
    _withdrawn_at: dict[tuple[str, str], str]
    late: set[int]
    _transit: dict[int, Sent | None]
    _arrived: set[int]
    moved_lots: dict[tuple[str, int], Decimal]

    def method_named(self, at: str) -> tuple[int, Method]:
        raise NotImplementedError

    def _missing(self, key: LotKey, quantity: Decimal, seq: int, at: str) -> None:
        raise NotImplementedError

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
        raise NotImplementedError

    def open_of(self, account: str, currency: str, quote: str | None, lot_seq: int, sign: int) -> Decimal:
        """What is open of lot `lot_seq` (long with `sign` 1, short with -1) in the account's pools of `currency` (of
        `quote` only, when given): what a disposal folded next could take of it (application/lot_pick_fold.py)."""
        return sum(
            (
                lot.quantity
                for key, pool in self._pools.items()
                if key[:2] == (account, currency) and quote in (None, key[2]) and pool.sign == sign
                for lot in pool.lots[pool.head :]
                if lot.seq == lot_seq
            ),
            ZERO,
        )

    def _note_late(self, seq: int, account: str, currency: str, at: str) -> None:
        """Note transfer `seq` in `late` when it occurred before an event folded into its account's pools of
        `currency` (as a move it would stop a fold in seq order: `late_moves`)."""
        if at < self._withdrawn_at.get((account, currency), "") or any(
            at < pool.latest for key, pool in self._pools.items() if key[0] == account and key[1] == currency
        ):
            self.late.add(seq)

    def _ordered(self, seq: int, account: str, currency: str, at: str) -> list[tuple[LotKey, Pool]]:
        """The account's pools of `currency` (by key) for a transfer `seq` at `at`, which then holds them at that
        time; OutOfTimeOrder when an event folded into them, or a transfer of that currency, occurred later."""
        pools = [(key, self._pools[key]) for key in sorted(self._pools) if key[:2] == (account, currency)]
        if at < self._withdrawn_at.get((account, currency), "") or any(at < pool.latest for _, pool in pools):
            raise OutOfTimeOrder(seq)
        self._withdrawn_at[account, currency] = at
        for _, pool in pools:
            pool.latest = at
        return pools

    def _withdrawal(
        self, seq: int, account: str, currency: str, quantity: Decimal, at: str, named: Mapping[str, Any] | None
    ) -> None:
        """Withdrawal `seq` of `quantity` (its amount and fee) disposing of the account's lots of `currency`, in
        quote order, by its year's method; under `specific` the lots its `metadata.lots` names (`named`), if any."""
        pools = self._ordered(seq, account, currency, at)
        year, method = self.method_named(at)
        picks = picks_of(seq, named, quantity) if method is Method.SPECIFIC else None
        if picks is None and not pools:  # a currency this account never bought or sold as a base (cash): no lots
            return
        taken, left = (withdrawn_named(pools, picks, seq), ZERO) if picks else withdrawn(pools, quantity, method, seq)
        self.years.add(year)
        if self.year is None or year == self.year:
            disposed = datetime.fromisoformat(at)
            for key, (lot, piece, basis) in taken:  # each part leaves at its cost: proceeds = cost basis
                acquired = lot.acquired()
                term = "long" if disposed - acquired >= self._long else "short"
                self.rows.append(
                    GainRow(*key, piece, acquired, lot.seq, disposed, seq, basis, basis, basis - basis, term)
                )
        if left:
            self._missing((account, currency, ""), left, seq, at)

    def _move(
        self, seq: int, account: str, currency: str, amount: Decimal, fee: Decimal, at: str, side: MoveSide
    ) -> None:
        """Side `seq` of an internal move of `amount` (signed, as stored) and `fee` of `currency` in `account`."""
        if not side.out:
            if side.other in self._transit:  # the out side was folded: its lots arrive now
                self._deliver(seq, account, currency, self._transit.pop(side.other), at)
            elif (side.other_at, side.other) < (at, seq):  # it occurred first: a fold in time order takes it first
                raise OutOfTimeOrder(seq)
            else:  # this side occurred first: the lots arrive when they leave
                self._arrived.add(side.other)
            return
        pools = self._ordered(seq, account, currency, at)
        sent: Sent | None = None
        if pools:  # else a currency this account never traded as a base (cash): no lots
            _, method = self.method_named(at)
            taken, left = withdrawn(pools, side.quantity, method, seq)
            for key, (lot, piece, _) in taken:
                self._pools[key].moved -= piece
                self.moved_lots[account, lot.seq] = self.moved_lots.get((account, lot.seq), ZERO) - piece
            self._unheld(pools, left)
            sent = (
                [(key[2], Lot(lot.seq, lot.at, piece, basis)) for key, (lot, piece, basis) in taken],
                left,
                pools[0][0][2],
            )
        rest = fee - amount - side.quantity  # what leaves and does not arrive: the fee, and more sent than received
        if rest and self.withdrawals_dispose:
            self._withdrawal(seq, account, currency, rest, at, None)
        if seq in self._arrived:
            self._arrived.discard(seq)
            self._deliver(seq, side.other_account, currency, sent, at)
        else:
            self._transit[seq] = sent

    def _unheld(self, pools: list[tuple[LotKey, Pool]], left: Decimal) -> None:
        """`left`, what a move took beyond the lots, off the quantity the pools' positions held without lots (that
        much the account no longer holds); beyond it, coins the fills never showed (a deposit's): nothing."""
        for _, pool in pools:
            if not left:
                return
            held = pool.position + pool.moved - (pool.quantity if pool.sign == 1 else ZERO)
            part = min(left, max(held, ZERO))
            pool.moved -= part
            left -= part

    def _deliver(self, seq: int, account: str, currency: str, sent: Sent | None, at: str) -> None:
        """The lots `sent` arriving in `account` at `at` (the later side `seq` of their move)."""
        self._ordered(seq, account, currency, at)
        if sent is None:
            return
        parts, left, first = sent
        by_quote: dict[str, list[Lot]] = {}
        for quote, lot in parts:
            by_quote.setdefault(quote, []).append(lot)
            self.moved_lots[account, lot.seq] = self.moved_lots.get((account, lot.seq), ZERO) + lot.quantity
        for quote, lots in by_quote.items():
            self._receive((account, currency, quote), lots, seq, at)
        if left:
            self._pool((account, currency, first), at).moved += left

    def _pool(self, key: LotKey, at: str) -> Pool:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Pool()
            pool.latest = at
        return pool

    def _receive(self, key: LotKey, lots: list[Lot], seq: int, at: str) -> None:
        """Lots moved into the pool of `key`: a pool of short lots is bought back first, at each lot's unit cost."""
        pool = self._pool(key, at)
        for lot in lots:
            pool.moved += lot.quantity
        if pool.sign == -1:
            year, method = self.method_named(at)
            kept: list[Lot] = []
            for lot in lots:
                matched = min(lot.quantity, pool.quantity)
                if matched:
                    parts = pool.take(matched, method, None, seq)
                    self._rows_of(
                        key, parts, buy=True, seq=seq, at=at, year=year, quantity=matched, price=lot.unit, fee=ZERO
                    )
                if matched < lot.quantity:
                    rest = lot.quantity - matched
                    kept.append(Lot(lot.seq, lot.at, rest, lot.basis if not matched else rest * lot.unit))
            lots = kept
        if lots:
            pool.receive(lots)


def withdrawn_rest(seq: int, quantity: Decimal, part: Decimal) -> Decimal:
    """What withdrawal `seq` of `quantity` still disposes of once the lots gave `part`, refused (InvalidArgument)
    when it would be rounded: it becomes a missing acquisition, named exactly."""
    try:
        return EXACT_SUBTRACT(quantity, part)
    except Inexact:
        raise InvalidArgument(
            f"seq {seq}: the withdrawal's part beyond the lots held would be rounded: {decimal_text(quantity)} - "
            f"{decimal_text(part)} needs more than {LEDGER_CONTEXT.prec} significant digits"
        ) from None


def withdrawn(
    pools: Sequence[tuple[LotKey, Pool]], quantity: Decimal, method: Method, seq: int
) -> tuple[list[tuple[LotKey, Part]], Decimal]:
    """What withdrawal `seq` of `quantity` takes from the long lots of `pools` (in their order) by `method`, and
    what they did not hold (a missing acquisition); InvalidArgument naming `seq` where a rest would be rounded."""
    taken: list[tuple[LotKey, Part]] = []
    left = quantity
    for key, pool in pools:
        if not left:
            break
        if pool.sign != 1:
            continue
        part = min(left, pool.quantity)
        taken += [(key, piece) for piece in pool.take(part, method, None, seq)]
        left = withdrawn_rest(seq, left, part)
    return taken, left


def withdrawn_named(pools: Sequence[tuple[LotKey, Pool]], picks: LotPicks, seq: int) -> list[tuple[LotKey, Part]]:
    """What withdrawal `seq` takes of the long lots `picks` names (in any of `pools`), in the order named; every lot
    named is checked before any is taken (InvalidArgument naming `seq`)."""
    found: list[tuple[LotKey, Pool, LotPicks]] = []
    for lot_seq, amount in picks:
        place = next(((key, pool) for key, pool in pools if pool.sign == 1 and pool.open_lot(lot_seq)), None)
        if place is None:
            raise InvalidArgument(
                f"seq {seq}: metadata.lots: lot {lot_seq} has 0 open when this disposal is matched "
                f"(got {decimal_text(amount)}); the methods of earlier years decide what is left of it"
            )
        found.append((*place, ((lot_seq, amount),)))
    for _, pool, named in found:
        pool.check_picks(named, seq)
    return [(key, part) for key, pool, named in found for part in pool.take(named[0][1], Method.SPECIFIC, named, seq)]
