"""Rebuild and rollback: the projection rewritten from the log, and the log's tail removed, audited (the
projection rewound from the newest snapshot at or below the rollback's target)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from tradeledger.application.appending import BALANCES, balance_entries, parsed_balances, write_balances
from tradeledger.application.ports import LAST_REBUILD, REBUILDS, LedgerStore, ProjectionStore, UnitOfWork
from tradeledger.application.replaying import event_at, recorded, stored_time
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.records import Checkpoint, LedgerState, RecordedFill, StoredEvent
from tradeledger.errors import InvalidArgument, LedgerError

_CHUNK = 10_000  # rows folded between writes of the closed cycles, so a long log's never pile up in memory


@dataclass(frozen=True, slots=True)
class RollbackReport:
    """What a rollback did (or, dry, would do): the heads, the removed fills, the record, the state after."""

    dry_run: bool
    head_before: Checkpoint
    head_after: Checkpoint
    removed: RemovedEvents
    record: AdminRecord | None
    state: LedgerState


class RemovedEvents(Collection[RecordedFill]):
    """The events a rollback removed (or, dry, would remove), in seq order: `len` of them, read again each time they
    are iterated, none held (issue 19: a dry run listing 1,000,000 of them held 4.78 GB). `events()` reads them (from
    the log within one read transaction, or from the admin record's text); the last one read must be `last` (its
    seq and hash): the hash chains every event before it, so each read is of the same events, or refused."""

    def __init__(self, count: int, events: Callable[[], Iterator[StoredEvent]], last: Checkpoint) -> None:
        self._count = count
        self._events = events
        self._last = last

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: object) -> bool:
        return any(fill == item for fill in self)

    def __iter__(self) -> Iterator[RecordedFill]:
        read = 0
        seen: tuple[int, str] | None = None
        for event in self._events():
            read += 1
            seen = (event.seq, event.hash)
            yield from recorded((event,))
        if read != self._count or seen != (self._last.seq, self._last.hash):
            raise LedgerError(
                f"rollback: the log changed while its removed events were read (expected {self._count} ending at "
                f"seq {self._last.seq} {self._last.hash}, read {read} ending at {seen}); nothing above is one state"
            )


def removed_from_log(store: LedgerStore, target: int, head: Checkpoint) -> RemovedEvents:
    """The events after `target` up to `head`, as a dry run lists them: read from the log whenever iterated."""

    def events() -> Iterator[StoredEvent]:
        with store.reading() as tx:
            yield from tx.log.read(after_seq=target, until_seq=head.seq)

    return RemovedEvents(head.seq - target, events, head)


def removed_of(record: AdminRecord) -> RemovedEvents:
    """The events a rollback's record lists, parsed from its text one at a time whenever iterated."""
    last = Checkpoint(record.from_epoch, record.from_seq, record.from_hash)
    return RemovedEvents(record.from_seq - record.to_seq, record.each_removed_event, last)


def audit_label(name: str, value: str) -> str:
    """A reason or actor of an audited operation (or a subscriber's name): printable text, not blank (the audit
    trail names it)."""
    if not value.strip() or not value.isprintable():
        raise InvalidArgument(f"{name}: must be printable, non-blank text (got {value!r})")
    return value.strip()


def rebuild_projection(uow: UnitOfWork, *, snapshot_every: int) -> Checkpoint:
    """Rewrite the positions projection and its snapshots from the log up to its head, and the head's mark of when an
    event naming lots last occurred (`EventLog.mark_lots_named`: one statement, a scan of the log); the head."""
    at = uow.log.head()
    uow.log.mark_lots_named()
    projection = uow.projection
    projection.clear()
    # Closed cycles and snapshots go to the store as the fold's plain values (ClosedCycles, FoldedRows):
    # no ClosedPosition, Position or Totals is built for them, nor a time read back from a datetime.
    fold = PositionFold(balances={}, keep_closed=False)
    fold.keep_closed_values()
    rows = uow.log.rows(until_seq=at.seq)
    while True:
        # Up to the next multiple of `snapshot_every` (seq is gapless), where a snapshot is taken. The
        # rows stream into the fold, never a list of them: each dies young (the cycle collector then
        # has nothing to walk but what the fold keeps).
        before = fold.last_seq
        fold.apply_rows(islice(rows, min(_CHUNK, snapshot_every - before % snapshot_every)))
        if fold.last_seq == before:
            break
        closed = fold.take_closed_values()
        if closed:
            projection.write({}, closed, at)
        if fold.last_seq % snapshot_every == 0:
            snapshot = event_at(uow.log, fold.last_seq)
            assert snapshot is not None  # the row just folded
            assert fold.balances is not None
            projection.write_snapshot(snapshot.checkpoint, fold.folded(), balance_entries(fold.balances))
    _store_fold(projection, fold, at)
    return at


def sealed_rollback(
    uow: UnitOfWork, *, target: int, at: str, actor: str, reason: str, snapshot_every: int
) -> AdminRecord:
    """Under the head lock: the audited record of removing everything after `target`, the tail removed,
    the head moved to a new epoch at `target`, the projection rebuilt and the levels of removed cycles
    dropped. Refused when, by the time the lock is held, nothing is after `target` any more."""
    before = uow.log.head()
    to_event = event_at(uow.log, target)
    to = Checkpoint(before.epoch, 0, GENESIS_HASH) if to_event is None else to_event.checkpoint
    if before.seq <= target or to.seq != target:  # another rollback may have moved the head since the caller looked
        raise InvalidArgument(
            f"rollback: the log changed before this rollback took the write lock (it now ends at seq "
            f"{before.seq}, epoch {before.epoch}); nothing after seq {target} to remove; nothing was written"
        )
    records = uow.log.admin_records()
    last = records[-1] if records else None
    record = AdminRecord.rollback(
        record_id=1 if last is None else last.id + 1,
        at=at,
        actor=actor,
        reason=reason,
        head=before,
        to=to,
        removed=_readable(uow.log.read(after_seq=target)),  # each row checked and encoded as it is read
        prev_hash=GENESIS_HASH if last is None else last.hash,
    )
    uow.log.truncate(record)
    rewind_projection(uow, target, snapshot_every=snapshot_every)
    # After the rewind, which locks the position rows first: a level write locks its position row and
    # then its level row, so taking them in the same order cannot deadlock (PostgreSQL).
    uow.projection.drop_levels_after(target)
    return record


def _readable(events: Iterable[StoredEvent]) -> Iterator[StoredEvent]:
    """`events`, each first read as the report lists it: a row edited into a value no event holds is refused (a
    StorageError naming its seq, as the dry run refuses it) before the rollback writes anything, never sealed into
    the record and then found unreadable once the tail is gone."""
    for event in events:
        recorded((event,))
        yield event


def rewind_projection(uow: UnitOfWork, target: int, *, snapshot_every: int) -> None:
    """After the log was cut back to `target`: the projection as of `target`, folded from the newest snapshot at
    or below it (the events after the snapshot, at most `snapshot_every` of them, not the whole log), with the
    closed cycles and snapshots after `target` removed. A snapshot whose event is of another epoch (not this
    log's), or without balances, is not used: the projection is then rebuilt from the whole log. A snapshot holds
    positions only once an event moved one, which moved a balance too: none are the balances a process of before
    revision 0008 leaves out (one still running after another upgraded the ledger writes no balance_snapshots)."""
    projection = uow.projection
    start = projection.load_snapshot(until_seq=target)
    if start is not None:
        at = event_at(uow.log, start.seq)
        if at is None or at.epoch != start.epoch or not start.balances:
            rebuild_projection(uow, snapshot_every=snapshot_every)
            return
    fold = (
        PositionFold(balances={}, keep_closed=False)
        if start is None
        else PositionFold(
            start.positions, balances=parsed_balances(start.balances), keep_closed=False, last_seq=start.seq
        )
    )
    fold.apply_rows(uow.log.rows(after_seq=fold.last_seq, until_seq=target))
    projection.rewind(target)
    _store_fold(projection, fold, uow.log.head())


def _store_fold(projection: ProjectionStore, fold: PositionFold, at: Checkpoint) -> None:
    """The fold as the stored projection at `at` (a rebuild's or a rewind's, the position rows removed before): its
    positions, its balances in place of every stored one, and a new rebuild token (a fold kept elsewhere is stale
    now)."""
    projection.write(fold.folded(), (), at)
    projection.put_entries(BALANCES, dict.fromkeys(projection.entries(BALANCES)))
    assert fold.balances is not None
    write_balances(projection, fold.balances)
    projection.put_entries(REBUILDS, {LAST_REBUILD: uuid.uuid4().hex})


def rollback_target(store: LedgerStore, to_seq: int | None, to_time: datetime | None) -> int:
    """The seq a rollback keeps the log up to: `to_seq`, or the last event recorded by `to_time` (Ledger.rollback)."""
    if (to_seq is None) == (to_time is None):
        raise InvalidArgument("rollback: give exactly one of to_seq and to_time")
    if to_seq is not None:
        if to_seq < 0:
            raise InvalidArgument(f"to_seq: must be 0 or more (got {to_seq})")
        return to_seq
    assert to_time is not None
    time_bound = stored_time("to_time", to_time)
    with store.reading() as tx:
        after = tx.log.first_recorded_after(time_bound)
        return tx.log.head().seq if after is None else after - 1
