"""Copy a ledger to another database (SQLite ⇄ PostgreSQL), event for event, then verify the copy.

The events are written exactly as the source holds them (seq, epoch, recorded_at, hashes), and the
position projection is folded forward with them, so the target is the same ledger, not a re-recording.

Rules (decided here, documented in README):
- The target must be empty, or hold an exact prefix of the source: its head (epoch, seq, hash) is the
  source's event at that seq. Then only the rest is copied, so copying again catches up. Anything else
  (another ledger, a target ahead of the source) is refused, naming both heads, and nothing is written.
- Every source event is checked on the way (seq follows, prev_hash links, its own hash recomputes);
  a broken source chain is refused at its first bad seq and nothing is written: the whole log lands in
  one target transaction, or none of it does.
- Price marks and risk levels (market-side state, not part of the chain) are copied after the log.
- The keyed entries that hold positions in this log (sync's cursors, named subscribers' positions with
  their own entries, read models' checkpoints) come along in the log's transaction, each key as the
  source holds it (a key only the target has stays): the target is the same log, so each still holds.
  The ledger's own (the balances, folded with the copy; a pending rebuild; the rebuild token) do not.
- At the end the target is verified from scratch (chain, gapless seq, projection equals a replay).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from tradeledger.application.appending import BALANCES, project_events
from tradeledger.application.ledger import SNAPSHOT_EVERY, Ledger
from tradeledger.application.ports import PENDING, REBUILDS, LedgerStore, Transaction, UnitOfWork
from tradeledger.application.replaying import event_at
from tradeledger.application.verification import EpochWalk, VerifyReport, check_admin, computed_hash, content_problem
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.records import Checkpoint, StoredEvent
from tradeledger.errors import InvalidArgument, StorageError

CHUNK = 1_000  # events per write statement batch, all inside the one target transaction
Progress = Callable[[int], None]  # called with the number of events written so far
LEDGER_OWN_TABLES = frozenset({BALANCES, PENDING, REBUILDS})  # keyed tables a copy leaves to the target's own fold


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What `copy_ledger` did: events the target already had, events copied, the result of verify."""

    already_there: int
    copied: int
    head: Checkpoint
    verify: VerifyReport
    entries: int = 0  # keyed entries carried (see the module's rules)


def _no_clock() -> datetime:  # pragma: no cover - copying records no new fill
    raise InvalidArgument("copying a ledger records no new fills, so it reads no clock")


def _chain_checked(events: Iterator[StoredEvent], start: Checkpoint) -> Iterator[StoredEvent]:
    """The source events after `start`, each checked against the one before; StorageError at the first bad seq."""
    previous_seq, previous_hash = start.seq, start.hash
    for event in events:
        if event.seq != previous_seq + 1:
            raise StorageError(
                f"the source log is broken at seq {previous_seq + 1}: found seq {event.seq} there; "
                "run verify on the source, nothing was copied"
            )
        if event.prev_hash != previous_hash or computed_hash(event) != event.hash:
            raise StorageError(
                f"the source log is broken at seq {event.seq}: its hash chain does not hold; "
                "run verify on the source, nothing was copied"
            )
        problem = content_problem(event)  # what verify would refuse in the copy (a chain rehashed over an edit)
        if problem is not None:
            raise StorageError(
                f"the source log is broken at seq {event.seq}: {problem}; run verify on the source, nothing was copied"
            )
        previous_seq, previous_hash = event.seq, event.hash
        yield event


def _starting_point(source_head: Checkpoint, target_head: Checkpoint, source_event: StoredEvent | None) -> None:
    """Refuse a target that is neither empty nor an exact prefix of the source."""
    if target_head.seq == 0:
        return
    shown = (
        f"the target's head is epoch {target_head.epoch} seq {target_head.seq} {target_head.hash}, "
        f"the source's is epoch {source_head.epoch} seq {source_head.seq} {source_head.hash}"
    )
    if target_head.seq > source_head.seq:
        raise InvalidArgument(f"--to: the target holds more events than the source; {shown}; nothing was copied")
    at = None if source_event is None else source_event.checkpoint
    # (seq, hash) only: after a rollback with no appends, the target's head is in a later epoch than its
    # last event; the admin logs are compared separately.
    if at is None or (at.seq, at.hash) != (target_head.seq, target_head.hash):
        raise InvalidArgument(
            f"--to: the target holds another ledger (not a prefix of the source): {shown}; "
            f"the source's seq {target_head.seq} has hash {None if at is None else at.hash}; nothing was copied"
        )


def _chunk_size(after_seq: int, snapshot_every: int) -> int:
    """Events up to the next multiple of CHUNK or of `snapshot_every`, whichever comes first."""
    return min(CHUNK - after_seq % CHUNK, snapshot_every - after_seq % snapshot_every)


def copy_ledger(
    source: LedgerStore,
    target: LedgerStore,
    *,
    on_progress: Progress | None = None,
    snapshot_every: int = SNAPSHOT_EVERY,
) -> CopyReport:
    """Copy every event the target lacks, with its projection, in one target transaction; then verify the target.

    The target gets a projection snapshot at every multiple of `snapshot_every`, as appends would
    have left, so its state as of a seq is as fast as the source's. The admin log (audited rollbacks)
    comes along, and the target's head ends where the source's is (a rollback moves it to a new epoch).
    """
    with source.reading() as tx, target.unit_of_work() as uow:
        source_head, target_head = tx.log.head(), uow.log.head()
        _starting_point(source_head, target_head, event_at(tx.log, target_head.seq))
        records, present = tx.log.admin_records(), uow.log.admin_records()
        if present != records[: len(present)]:
            raise InvalidArgument(
                f"--to: the target's admin log ({len(present)} record(s)) is not a prefix of the source's "
                f"({len(records)}); nothing was copied"
            )
        walk = EpochWalk(last=event_at(tx.log, target_head.seq))
        stored = tx.log.read(after_seq=target_head.seq)
        try:
            copied, last = _write_log(uow, stored, target_head, source_head, on_progress, snapshot_every, walk)
        finally:
            if isinstance(stored, Generator):
                stored.close()  # a refusal stops the read: close its cursor before the snapshot ends
        _refuse_bad_admin_log(records, walk, source_head, "the source's")
        _write_admin_log(uow, records[len(present) :], source_head)
        entries = _carry_entries(tx, uow)
        uow.commit()
        marks = tx.projection.marks()
    copied_ledger = Ledger(target, clock=_no_clock)
    copied_ledger.save_marks(marks.prices.values(), marks.levels.values())
    report = copied_ledger.verify()
    return CopyReport(already_there=target_head.seq, copied=copied, head=last, verify=report, entries=entries)


def _carry_entries(tx: Transaction, uow: UnitOfWork) -> int:
    """The source's keyed entries but the ledger's own, written as it holds them; how many."""
    carried = 0
    for table in tx.projection.entry_tables():
        if table not in LEDGER_OWN_TABLES:
            values = tx.projection.entries(table)
            uow.projection.put_entries(table, values)
            carried += len(values)
    return carried


def import_log(
    head: Checkpoint,
    events: Iterable[StoredEvent],
    records: Sequence[AdminRecord],
    target: LedgerStore,
    *,
    on_progress: Progress | None = None,
    snapshot_every: int = SNAPSHOT_EVERY,
) -> CopyReport:
    """Write an exported log (events as they were, with their hashes, and its admin log) into an EMPTY ledger.

    Every event is checked on the way (seq, links, its own hash) and the result must end at `head`;
    anything else is refused and nothing is written. The target is verified from scratch at the end.
    """
    with target.unit_of_work() as uow:
        start = uow.log.head()
        if start.seq != 0 or uow.log.admin_records():
            raise InvalidArgument(
                f"import of an export needs an empty ledger; this one holds {start.seq} events "
                f"(head {start.hash}); nothing was imported"
            )
        walk = EpochWalk()
        copied, last = _write_log(uow, iter(events), start, head, on_progress, snapshot_every, walk)
        _refuse_bad_admin_log(records, walk, head, "the export's")
        _write_admin_log(uow, records, head)
        uow.commit()
    report = Ledger(target, clock=_no_clock).verify()
    return CopyReport(already_there=0, copied=copied, head=last, verify=report)


def _refuse_bad_admin_log(records: Sequence[AdminRecord], walk: EpochWalk, head: Checkpoint, whose: str) -> None:
    """Before anything commits: the admin log must chain and explain every epoch change and the head's epoch."""
    problems = check_admin(records, walk, head)
    if problems:
        first = problems[0]
        raise StorageError(
            f"{whose} admin log does not hold at seq {first.seq}: {first.detail}; run verify on it, nothing was written"
        )


def _write_admin_log(uow: UnitOfWork, records: Sequence[AdminRecord], head: Checkpoint) -> None:
    """The admin records as they are; the head and the projection's checkpoint end at `head`."""
    uow.log.append_admin(records, head)
    uow.projection.write({}, (), head)


def _write_log(
    uow: UnitOfWork,
    stored: Iterator[StoredEvent],
    target_head: Checkpoint,
    source_head: Checkpoint,
    on_progress: Progress | None,
    snapshot_every: int,
    walk: EpochWalk,
) -> tuple[int, Checkpoint]:
    """Write the source's events after the target's head in chunks (snapshots at multiples); check the end."""
    copied = 0
    start = target_head if target_head.seq else Checkpoint(1, 0, GENESIS_HASH)
    last = start
    events = _chain_checked(stored, start)
    while chunk := list(islice(events, _chunk_size(last.seq, snapshot_every))):
        tail = chunk[-1]
        last = tail.checkpoint
        for event in chunk:
            walk.see(event)
        project_events(uow, chunk, snapshot_every=snapshot_every)
        copied += len(chunk)
        if on_progress is not None:
            on_progress(copied)
    if (last.seq, last.hash) != (source_head.seq, source_head.hash):
        raise StorageError(
            f"the source's head (seq {source_head.seq} {source_head.hash}) is not its last event "
            f"(seq {last.seq} {last.hash}); run verify on the source, nothing was copied"
        )
    return copied, last


def events_to_copy(source: LedgerStore, target: LedgerStore) -> int:
    """How many events a copy would write (for a progress bar): the source's head seq minus the target's."""
    with source.reading() as tx, target.reading() as other:
        return max(tx.log.head().seq - other.log.head().seq, 0)
