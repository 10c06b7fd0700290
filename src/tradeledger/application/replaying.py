"""Reading state: the stored projection as a LedgerState, and replays of the log as of a seq or a time."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from tradeledger.application.ports import EventLog, PositionRow, ProjectionStore, Transaction
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import time_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.markets import market
from tradeledger.domain.positions import Accounting, ClosedPosition, Position, PositionKey, Totals, lifetime
from tradeledger.domain.records import Checkpoint, LedgerState, RecordedFill, StoredEvent
from tradeledger.domain.stored_rows import UNREADABLE, refuse_unreadable, unreadable
from tradeledger.domain.wallet import WalletBook, replay_wallet
from tradeledger.errors import InvalidArgument, InvalidFill


def event_at(log: EventLog, seq: int) -> StoredEvent | None:
    """The event at `seq`, None when the log has none there."""
    return next(iter(log.read(after_seq=seq - 1, until_seq=seq)), None) if seq > 0 else None


def stored_state(projection: ProjectionStore) -> LedgerState:
    """The stored projection with its checkpoint."""
    open_positions: list[Position] = []
    totals: dict[PositionKey, Totals] = {}
    for key, (position, closed_totals) in projection.positions().items():
        if position is not None:
            open_positions.append(position)
        totals[key] = lifetime(closed_totals, position)
    return LedgerState.assemble(projection.checkpoint(), open_positions, projection.closed(), totals)


def recorded(events: Iterable[StoredEvent]) -> list[RecordedFill]:
    """The events as recorded fills; a stored event that no longer reads is a StorageError naming its seq."""
    fills = []
    for event in events:
        try:
            fills.append(event.recorded_fill())
        except UNREADABLE as error:  # ValidationError is a ValueError
            raise unreadable(event.execution_row(), error) from None
    return fills


class HistoryFilters(TypedDict, total=False):
    """What `Ledger.history` reads: after a seq, of a symbol, account, exchange, within a span of occurrence."""

    symbol: str | None
    account: str | None
    after_seq: int
    until_seq: int | None
    exchange: str | None
    occurred: tuple[datetime, datetime] | None  # both ends inclusive; each must carry a timezone
    order_ids: Collection[str] | None  # the fills of these orders (an index: not a read of the log)


def symbol_named(symbol: str | None) -> str | None:
    """`symbol` (None: every symbol), refused (InvalidArgument) unless it is a unified symbol the ledger can book:
    symbols are stored only so (domain/markets.py), so any other text would match nothing, silently."""
    if symbol is not None:
        try:
            market(symbol)
        except ValueError as error:
            raise InvalidArgument(f"symbol: {error}") from None
    return symbol


def read_filters(filters: HistoryFilters) -> dict[str, Any]:
    """`EventLog.read`'s keywords for a history's filters (`occurred` as stored time text); the symbol checked."""
    symbol_named(filters.get("symbol"))
    found: dict[str, Any] = {name: value for name, value in filters.items() if name != "occurred"}
    occurred = filters.get("occurred")
    if occurred is not None:
        for name, when in zip(("occurred_from", "occurred_until"), occurred, strict=True):
            if when.tzinfo is None or when.utcoffset() is None:
                raise InvalidArgument(f"occurred: {when.isoformat()} must carry a timezone")
            found[name] = time_text(when)
    return found


def cutoff(until_seq: int | None, until_time: datetime | None) -> str | None:
    """Check a replay's bounds; the time as stored text (None: no time bound)."""
    if until_seq is not None and until_seq < 0:
        raise InvalidArgument(f"until_seq: must be 0 or more (got {until_seq})")
    return None if until_time is None else stored_time("until_time", until_time)


def stored_time(name: str, value: datetime) -> str:
    """A time bound (`name` the argument) as stored time text; refused without a zone (or in one without an
    offset) or out of range (in UTC before year 1 or after 9999)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(f"{name}: must carry a timezone (got {value.isoformat()})")
    try:
        return time_text(value)
    except OverflowError:
        raise InvalidArgument(f"{name}: out of range (got {value.isoformat()})") from None


def refused_until(
    tx: Transaction,
    until_time: str,
    refusal: InvalidFill,
    *,
    after_seq: int,
    until_seq: int | None = None,
    account: str | None = None,
) -> InvalidArgument:
    """A fold of the events that occurred by `until_time` (in log order) refused one of them, the first after
    `after_seq` (of `account`) that occurred by then: the refusal, naming its seq and why.

    The log checked each event after all those before it; the ones that occurred by a time are a subset
    it never checked as a whole: an event that occurred earlier than one before it in the log (reported
    late) may need that one, say to hold the base currency a fee of the next pays."""
    found = next(
        iter(tx.log.read(after_seq=after_seq, until_seq=until_seq, account=account, occurred_until=until_time)), None
    )
    seq = "?" if found is None else found.seq
    why = str(refusal).removeprefix(f"seq {seq}: ")  # some folds name it already
    return InvalidArgument(
        f"until_time: the events that occurred by {until_time} do not fold in log order: seq {seq}: {why} "
        f"(the log took seq {seq} after events that occurred later, left out here); replay up to a seq instead"
    )


def replay_state(tx: Transaction, *, until_seq: int | None, until_time: str | None, closed: bool) -> LedgerState:
    """The state folded from the log alone (see Ledger.replay): from the nearest snapshot when it may."""
    start = tx.projection.load_snapshot(until_seq=until_seq) if not closed and until_time is None else None
    if start is not None:
        at = event_at(tx.log, start.seq)
        if at is None or at.epoch != start.epoch:  # left behind by a rolled-back tail: not this log's
            start = None
    fold = (
        PositionFold(keep_closed=closed)
        if start is None
        else PositionFold(start.positions, keep_closed=False, last_seq=start.seq)
    )
    try:
        fold.apply_rows(tx.log.rows(after_seq=fold.last_seq, until_seq=until_seq, until_time=until_time))
    except InvalidFill as refusal:
        if until_time is None:  # every prefix of the log folds: each event was checked after those before it
            raise
        raise refused_until(tx, until_time, refusal, after_seq=fold.last_seq, until_seq=until_seq) from None
    last = event_at(tx.log, fold.last_seq)
    checkpoint = Checkpoint(tx.log.head().epoch, 0, GENESIS_HASH) if last is None else last.checkpoint
    return LedgerState.from_book(fold.book(), checkpoint)


def wallet_of(
    tx: Transaction, initial_balance: Decimal, *, account: str, until_seq: int | None, until_time: str | None
) -> WalletBook:
    """The paper wallet of `account` (spec section 5) folded from the log alone."""
    folded = 0  # the seq of the last event folded

    def executions() -> Iterator[Accounting]:
        nonlocal folded
        for event in tx.log.read(until_seq=until_seq, account=account):
            if until_time is None or event.occurred_at <= until_time:
                row = event.execution_row()
                # Parsed, not validated: what the fold would take for figures that look right is refused first.
                refuse_unreadable(row)
                try:
                    accounting = event.accounting()
                except UNREADABLE as error:
                    raise unreadable(row, error) from None
                yield accounting
                folded = event.seq

    try:
        _, wallet = replay_wallet(executions(), initial_balance)
    except InvalidFill as refusal:
        if until_time is None:  # every prefix of the log folds: each event was checked after those before it
            raise
        raise refused_until(tx, until_time, refusal, after_seq=folded, until_seq=until_seq, account=account) from None
    return wallet


@dataclass(frozen=True, slots=True)
class AccountStart:
    """What a read model of one account starts from (compat.account): the stored projection at its checkpoint.

    `position`: the checkpoint as a subscription position (the log's epoch, the checkpoint's seq and
    hash); `rows`: the account's (open cycle, closed-cycle totals) per symbol; `fills`: the events that
    opened each open cycle and the last event of each (at most two per open position, in seq order: the
    legacy shapes' entry trade and last fill time). The other events of the open cycles and the closed
    cycles, as many as the history is long, are not read here (`account_history`, `account_closed`).
    """

    position: Checkpoint
    rows: dict[PositionKey, PositionRow]
    fills: list[RecordedFill]


def account_start(tx: Transaction, account: str) -> AccountStart:
    """The stored projection of `account` with its checkpoint and its open cycles' first and last events, in
    one transaction: what it reads grows with the open positions, never with the history."""
    head = tx.log.head()
    checkpoint = tx.projection.checkpoint()
    # Written in every append's transaction, so at the head; were it behind, the subscription folds the rest.
    position = Checkpoint(head.epoch, head.seq, head.hash) if checkpoint.seq == head.seq else checkpoint
    rows = {key: row for key, row in tx.projection.positions().items() if key[0] == account}
    seqs = {seq for open_cycle, _ in rows.values() if open_cycle is not None for seq in _ends(open_cycle)}
    fills = recorded(tx.log.read(seqs=seqs, until_seq=position.seq)) if seqs else []
    return AccountStart(position, rows, fills)


def _ends(position: Position) -> tuple[int, int]:
    return position.opened_seq, position.last_seq


def still_at(tx: Transaction, at: Checkpoint) -> bool:
    """Whether the log still has the event of `at` (no rollback removed it)."""
    if at.seq == 0:
        return True
    found = event_at(tx.log, at.seq)
    return found is not None and found.hash == at.hash


def account_unmoved(tx: Transaction, account: str, at: Checkpoint) -> bool:
    """Whether the books of `account` at `at` are still the log's: the log still has `at` and holds no event of
    `account` after it (another process appended to the account, or a rollback removed `at`: False)."""
    return still_at(tx, at) and next(tx.log.read(account=account, after_seq=at.seq), None) is None


def account_history(
    tx: Transaction, account: str, *, at: Checkpoint, until_seq: int, symbol: str | None = None, after_seq: int = 0
) -> list[RecordedFill] | None:
    """The events of `account` (of `symbol` only, when given) in (`after_seq`, `until_seq`], or None when the
    log no longer has `at` (a rollback since)."""
    symbol_named(symbol)
    if not still_at(tx, at):
        return None
    return recorded(tx.log.read(account=account, symbol=symbol, after_seq=after_seq, until_seq=until_seq))


def account_closed(tx: Transaction, account: str, *, at: Checkpoint, until_seq: int) -> list[ClosedPosition] | None:
    """The stored closed cycles of `account` closed up to `until_seq` by closed_seq, or None when the log no
    longer has `at` (a rollback since)."""
    if not still_at(tx, at):
        return None
    return [cycle for cycle in tx.projection.closed() if cycle.account == account and cycle.closed_seq <= until_seq]
