"""The Ledger: record fills, read positions, replay history, rebuild and verify."""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from tradeledger.application.anchoring import Anchor, check_anchor, sign
from tradeledger.application.ports import LedgerStore, ProjectionWriter
from tradeledger.application.verification import (
    EpochWalk,
    Problem,
    VerifyReport,
    check_admin,
    check_chain,
    check_projection,
    check_snapshot,
)
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import Fill, time_text
from tradeledger.domain.fold import ExecutionRow, PositionFold
from tradeledger.domain.positions import ClosedPosition, Position, PositionBook, PositionKey, Totals
from tradeledger.domain.records import Checkpoint, LedgerState, Receipt, RecordedFill, StoredEvent
from tradeledger.domain.reference import ReferenceFold
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels
from tradeledger.domain.wallet import WalletBook, replay_wallet
from tradeledger.errors import FillConflict, InvalidArgument, InvalidFill, StorageError

# A snapshot of the projection every this many events: replay(until_seq=…, closed=False) then folds
# at most this many events on top of one (about 30 ms at 10,000).
SNAPSHOT_EVERY = 10_000

FillInput = Fill | Mapping[str, Any]
Clock = Callable[[], datetime]


_LONG_INT_BITS = 10_000  # about 3,000 digits


class _Quoted(reprlib.Repr):
    """Values quoted in messages: whole up to a point, never a megabyte or a 10,000-deep structure."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = 240
        self.maxlevel = 3

    def repr(self, x: object) -> str:
        """The value as Python writes it when that is short, else reprlib's abbreviation."""
        try:
            whole = repr(x)
        except (RecursionError, ValueError):  # 10,000 levels deep, or an int past the int-to-text limit
            return super().repr(x)
        return whole if len(whole) <= self.maxstring else super().repr(x)

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > _LONG_INT_BITS:  # near Python's int-to-text limit (4,300 digits): say how long it is
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_QUOTED = _Quoted()


def describe_validation_error(error: ValidationError, *, where: str = "fill") -> str:
    """One line per bad field: its name, what is wrong, and the value given."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "fill"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            parts.append(f"{field}: is required")
        elif item["type"] == "extra_forbidden":
            parts.append(f"{field}: is not a fill field (got {_QUOTED.repr(item['input'])})")
        elif "(got " in message:  # our validators name the value already
            parts.append(f"{field}: {message}")
        else:
            parts.append(f"{field}: {message} (got {_QUOTED.repr(item['input'])})")
    return f"{where}: " + "; ".join(parts)


def validate_fill(value: FillInput, *, where: str = "fill") -> Fill:
    """A Fill from a Fill or a mapping of its fields, or InvalidFill naming each bad field and value."""
    if not isinstance(value, Fill | Mapping):
        raise InvalidFill(f"{where}: expected a Fill or a mapping of fill fields, got {type(value).__name__}")
    try:
        return Fill.model_validate(value if isinstance(value, Fill) else dict(value))
    except ValidationError as error:
        raise InvalidFill(describe_validation_error(error, where=where)) from None


def _recorded(events: Iterable[StoredEvent]) -> list[RecordedFill]:
    fills = []
    for event in events:
        try:
            fills.append(event.recorded_fill())
        except (ValidationError, ValueError) as error:
            raise StorageError(f"seq {event.seq}: the stored fill cannot be read ({error}); run verify") from None
    return fills


def _cutoff(until_seq: int | None, until_time: datetime | None) -> str | None:
    """Check a replay's bounds; the time as stored text (None: no time bound)."""
    if until_seq is not None and until_seq < 0:
        raise InvalidArgument(f"until_seq: must be 0 or more (got {until_seq})")
    if until_time is None:
        return None
    if until_time.tzinfo is None or until_time.utcoffset() is None:
        raise InvalidArgument(f"until_time: must carry a timezone (got {until_time.isoformat()})")
    try:
        return time_text(until_time)
    except OverflowError:
        raise InvalidArgument(f"until_time: out of range (got {until_time.isoformat()})") from None


def _label(name: str, value: str) -> str:
    """A reason or actor of an audited operation: printable text, not blank (the audit trail names it)."""
    if not value.strip() or not value.isprintable():
        raise InvalidArgument(f"{name}: must be printable, non-blank text (got {value!r})")
    return value.strip()


@dataclass(frozen=True, slots=True)
class RollbackReport:
    """What a rollback did (or, dry, would do): the heads, the removed fills, the record, the state after."""

    dry_run: bool
    head_before: Checkpoint
    head_after: Checkpoint
    removed: tuple[RecordedFill, ...]
    record: AdminRecord | None
    state: LedgerState


class Ledger:
    """One ledger: an append-only fill log and the positions projected from it."""

    def __init__(self, store: LedgerStore, *, clock: Clock, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        if snapshot_every < 1:
            raise InvalidArgument(f"snapshot_every: must be 1 or more (got {snapshot_every})")
        self._store = store
        self._clock = clock
        self._snapshot_every = snapshot_every

    # --- appending -------------------------------------------------------------------------

    def record(self, fill: FillInput) -> Receipt:
        """Append one fill (idempotent on account, exchange, fill_id) and update positions with it."""
        return self.record_many([fill])[0]

    def record_many(self, fills: Iterable[FillInput]) -> list[Receipt]:
        """Append fills in one transaction: every new fill lands, or none does."""
        validated = [validate_fill(fill, where=f"fill {index}") for index, fill in enumerate(fills, start=1)]
        if not validated:
            return []
        with self._store.append_batch() as batch:
            head = batch.head()
            # Read after the lock, so recorded_at never goes backwards along seq.
            recorded_at = time_text(self._clock())
            existing = dict(batch.select_existing({fill.key for fill in validated}))
            in_log = set(existing)
            touched = {(fill.account, fill.symbol) for fill in validated if fill.key not in existing}
            start: dict[PositionKey, tuple[Position | None, Totals]] = {key: (None, Totals()) for key in touched}
            fold = PositionFold(start | dict(batch.select_positions(touched)))
            first = head
            receipts: list[Receipt] = []
            new_events: list[StoredEvent] = []
            index_of: dict[int, int] = {}
            for index, fill in enumerate(validated, start=1):
                content = fill.canonical()
                original = existing.get(fill.key)
                if original is not None:
                    if original.content() != content:
                        raise FillConflict(fill.key, original.content(), content, in_log=fill.key in in_log)
                    receipts.append(
                        Receipt(original.seq, original.epoch, original.hash, duplicate=True, fill_id=fill.fill_id)
                    )
                    continue
                event = StoredEvent.seal(
                    content, seq=head.seq + 1, epoch=head.epoch, recorded_at=recorded_at, prev_hash=head.hash
                )
                index_of[event.seq] = index
                new_events.append(event)
                existing[fill.key] = event
                head = Checkpoint(event.epoch, event.seq, event.hash)
                receipts.append(Receipt(event.seq, event.epoch, event.hash, duplicate=False, fill_id=fill.fill_id))
            try:
                # Fold the events as stored (their text), exactly as replay and rebuild fold them.
                fold.apply_rows(event.execution_row() for event in new_events)
            except InvalidFill as error:  # the fill after the last one folded
                raise InvalidFill(f"fill {index_of[min(s for s in index_of if s > fold.last_seq)]}: {error}") from None
            batch.commit(new_events, fold.positions(touched), fold.closed, head)
            if head.seq // self._snapshot_every > first.seq // self._snapshot_every:
                batch.save_snapshot(head)
        return receipts

    # --- reading the projection ------------------------------------------------------------

    def state(self, *, account: str | None = None) -> LedgerState:
        """Open positions, closed cycles and lifetime totals as stored, with their checkpoint."""
        with self._store.snapshot() as snapshot:
            return snapshot.load_state().for_account(account)

    def positions(self, *, account: str | None = None) -> tuple[Position, ...]:
        """Open positions ordered by (account, symbol)."""
        with self._store.snapshot() as snapshot:
            return snapshot.open_positions(account=account)

    def position(self, symbol: str, *, account: str = "default") -> Position | None:
        """The open position of one symbol, or None when flat."""
        with self._store.snapshot() as snapshot:
            found = snapshot.open_positions(account=account, symbol=symbol)
        return found[0] if found else None

    def closed_positions(self, *, account: str | None = None) -> tuple[ClosedPosition, ...]:
        """Every closed cycle, ordered by closed_seq."""
        return self.state(account=account).closed

    @property
    def head(self) -> Checkpoint:
        """The last event of the log: (epoch, seq, hash); seq 0 when empty."""
        with self._store.snapshot() as snapshot:
            return snapshot.head()

    # --- history ---------------------------------------------------------------------------

    def history(
        self, *, symbol: str | None = None, account: str | None = None, after_seq: int = 0
    ) -> list[RecordedFill]:
        """Recorded fills after `after_seq` (default: all) in seq order."""
        with self._store.snapshot() as snapshot:
            events = list(snapshot.read_events(symbol=symbol, account=account, after_seq=after_seq))
        return _recorded(events)

    def follow(self, after_seq: int, *, account: str | None = None) -> tuple[Checkpoint, list[RecordedFill]]:
        """The head and the fills after `after_seq`, read in one snapshot: how read models catch up."""
        with self._store.snapshot() as snapshot:
            current = snapshot.head()
            events = list(snapshot.read_events(account=account, after_seq=after_seq))
        return current, _recorded(events)

    def replay(
        self, *, until_seq: int | None = None, until_time: datetime | None = None, closed: bool = True
    ) -> LedgerState:
        """The state as of a seq and/or an occurred_at time, folded from the log alone; changes nothing.

        `until_time` keeps the fills that occurred at or before it, applied in log order (a fill
        reported late still counts at the time it occurred); the state's seq and hash are those of
        the last fill included.

        `closed=False` leaves the closed cycles out of the state (their sums stay in the totals). Their
        number grows with the log, the rest does not: without them, a replay to a seq starts from the
        nearest stored snapshot at or before it (a cache that `verify` checks against a replay) and
        folds only the events after it, so it takes about as long at any seq of any log.
        """
        cutoff = _cutoff(until_seq, until_time)
        with self._store.snapshot() as snapshot:
            start = snapshot.load_snapshot(until_seq=until_seq) if not closed and cutoff is None else None
            if start is not None:
                at = snapshot.event_at(start.seq)
                if at is None or at.epoch != start.epoch:  # left behind by a rolled-back tail: not this log's
                    start = None
            fold = (
                PositionFold(keep_closed=closed)
                if start is None
                else PositionFold(start.positions, keep_closed=False, last_seq=start.seq)
            )
            fold.apply_rows(
                snapshot.read_execution_rows(after_seq=fold.last_seq, until_seq=until_seq, until_time=cutoff)
            )
            book = fold.book()
            last_seq = fold.last_seq
            last = snapshot.event_at(last_seq) if last_seq else None
            checkpoint = (
                Checkpoint(snapshot.head().epoch, 0, GENESIS_HASH)
                if last is None
                else Checkpoint(last.epoch, last.seq, last.hash)
            )
        return LedgerState.from_book(book, checkpoint)

    def replay_wallet(
        self,
        initial_balance: Decimal,
        *,
        account: str = "default",
        until_seq: int | None = None,
        until_time: datetime | None = None,
    ) -> WalletBook:
        """The paper wallet of `account` (spec section 5) as of a seq and/or time, from the log alone.

        Starting from `initial_balance`, the account's fills are folded in log order as `replay`
        folds them; the invariant is checked after each (InvariantViolation, never clamped).
        """
        if not initial_balance.is_finite() or initial_balance <= 0:
            raise InvalidArgument(f"initial_balance: must be a number above 0 (got {initial_balance})")
        cutoff = _cutoff(until_seq, until_time)
        with self._store.snapshot() as snapshot:
            executions = snapshot.read_executions(until_seq=until_seq, until_time=cutoff)
            _, wallet = replay_wallet((e for e in executions if e.account == account), initial_balance)
        return wallet

    # --- market-side state: price marks and risk levels ------------------------------------

    def marks(self) -> Marks:
        """Stored price marks and the risk levels of open cycles (not part of the log or its chain)."""
        with self._store.snapshot() as snapshot:
            return snapshot.load_marks()

    def save_marks(
        self, prices: Iterable[PriceMark] = (), levels: Iterable[RiskLevels] = (), *, seen_epoch: int | None = None
    ) -> dict[PositionKey, RiskLevels]:
        """Upsert price marks and risk levels in one write transaction, durable once it returns.

        Levels are kept only for open cycles (of a fill of `seen_epoch` or earlier, when given) and
        only ever tighten (see `LedgerStore.save_marks`): the result is the levels now stored for
        those written, which a writer that was behind adopts; a level missing from it was skipped.
        """
        prices, levels = list(prices), list(levels)
        if prices or levels:
            return self._store.save_marks(prices, levels, seen_epoch=seen_epoch)
        return {}

    # --- maintenance -----------------------------------------------------------------------

    def rebuild(self) -> Checkpoint:
        """Rebuild the stored projection and its snapshots from the log; the result equals incremental updates."""
        return self._store.rebuild_projection(self._rebuild_fold)

    def _rebuild_fold(self, chunks: Iterator[Sequence[ExecutionRow]], writer: ProjectionWriter) -> PositionBook:
        """Fold the log's rows for a rebuild: closed cycles written as they come, a snapshot at each multiple."""
        every = self._snapshot_every
        replay = PositionFold()
        for chunk in chunks:
            begin = 0
            while begin < len(chunk):
                # Up to the next multiple of `every` (seq is gapless), where a snapshot is taken.
                end = begin + (every - chunk[begin][0] % every) % every + 1
                replay.apply_rows(chunk[begin:end])
                begin = end
                if replay.closed:  # written as they come, so a long log's cycles never pile up in memory
                    writer.write_closed(replay.closed)
                    replay.closed.clear()
                if replay.last_seq % every == 0:
                    writer.write_snapshot(replay.last_seq, replay.positions())
        return replay.book()

    # --- rollback --------------------------------------------------------------------------------

    def rollback(
        self,
        *,
        reason: str,
        actor: str,
        to_seq: int | None = None,
        to_time: datetime | None = None,
        dry_run: bool = False,
    ) -> RollbackReport:
        """Remove the log's tail after `to_seq` (or after the last event recorded by `to_time`), audited.

        The admin log gets a hash-chained record of who, when, why, the heads before and after and
        every removed event whole; the log continues at `to_seq + 1` in a new epoch; positions,
        closed cycles, snapshots and the risk levels of removed cycles are rewound in the same
        transaction. `dry_run` only reports what would go. Refused (InvalidArgument) without a
        reason or an actor, or when there is nothing after the target.
        """
        reason_text = _label("reason", reason)
        actor_text = _label("actor", actor)
        target = self._rollback_target(to_seq, to_time)
        with self._store.snapshot() as snapshot:
            head = snapshot.head()
            removed = snapshot.events_after(target)
        if not removed:
            raise InvalidArgument(f"rollback: nothing after seq {target}; the log ends at seq {head.seq}")
        if dry_run:
            # The state as the rollback would leave it: the kept events, in the new epoch (one truth with head_after).
            state = replace(self.replay(until_seq=target), epoch=head.epoch + 1)
            after = Checkpoint(state.epoch, state.seq, state.hash)
            return RollbackReport(
                dry_run=True,
                head_before=head,
                head_after=after,
                removed=tuple(_recorded(removed)),
                record=None,
                state=state,
            )
        at = time_text(self._clock())

        def seal(before: Checkpoint, to: Checkpoint, tail: list[StoredEvent], last: AdminRecord | None) -> AdminRecord:
            # Checked again under the write lock: another rollback may have moved the head since the read above.
            if not tail or to.seq != target:
                raise InvalidArgument(
                    f"rollback: the log changed before this rollback took the write lock (it now ends at seq "
                    f"{before.seq}, epoch {before.epoch}); nothing after seq {target} to remove; nothing was written"
                )
            return AdminRecord.rollback(
                record_id=1 if last is None else last.id + 1,
                at=at,
                actor=actor_text,
                reason=reason_text,
                head=before,
                to=to,
                removed=tail,
                prev_hash=GENESIS_HASH if last is None else last.hash,
            )

        record = self._store.roll_back(target, seal, self._rebuild_fold)
        gone = tuple(_recorded(record.removed_events()))
        before = Checkpoint(record.from_epoch, record.from_seq, record.from_hash)
        return RollbackReport(
            dry_run=False,
            head_before=before,
            head_after=record.head_after,
            removed=gone,
            record=record,
            state=self.state(),
        )

    def _rollback_target(self, to_seq: int | None, to_time: datetime | None) -> int:
        if (to_seq is None) == (to_time is None):
            raise InvalidArgument("rollback: give exactly one of to_seq and to_time")
        if to_seq is not None:
            if to_seq < 0:
                raise InvalidArgument(f"to_seq: must be 0 or more (got {to_seq})")
            return to_seq
        assert to_time is not None
        if to_time.tzinfo is None:
            raise InvalidArgument(f"to_time: needs a timezone (got {to_time.isoformat()})")
        cutoff = time_text(to_time)
        with self._store.snapshot() as snapshot:
            for event in snapshot.read_events():
                if event.recorded_at > cutoff:
                    return event.seq - 1
            return snapshot.head().seq

    def admin_log(self) -> tuple[AdminRecord, ...]:
        """Every audited operation on the log (rollbacks), oldest first."""
        with self._store.snapshot() as snapshot:
            return tuple(snapshot.admin_records())

    def anchor(self, key: Ed25519PrivateKey, *, at: datetime) -> Anchor:
        """The log's head signed with `key` (an Ed25519 key kept outside the database) at time `at`."""
        return sign(key, self.head, time_text(at))

    def verify(self, anchors: Sequence[tuple[str, Anchor]] = (), *, trusted_key: str | None = None) -> VerifyReport:
        """Check the hash chain, the gapless seq, the admin log and epochs, the stored projection and its
        snapshots against a fresh replay, and each `(source, anchor)`: its signature (by `trusted_key`,
        lowercase hex, when given) and that the event at its seq still has the anchored hash, or that an
        audited rollback removed it. A failed anchor is a problem at its seq."""
        book = ReferenceFold()
        anchored: dict[int, tuple[int, str]] = {}
        wanted = {anchor.seq for _, anchor in anchors}

        def noting_anchored(events: Iterable[StoredEvent]) -> Iterator[StoredEvent]:
            for event in events:
                if event.seq in wanted:
                    anchored[event.seq] = (event.epoch, event.hash)
                yield event

        with self._store.snapshot() as snapshot:
            head = snapshot.head()
            records = snapshot.admin_records()
            pending = snapshot.snapshot_seqs()
            snapshot_problems: list[Problem] = []
            epochs = EpochWalk()

            def check_snapshots(event: StoredEvent) -> None:
                epochs.see(event)
                while pending and pending[0] <= event.seq:
                    seq = pending.pop(0)
                    stored = snapshot.load_snapshot(until_seq=seq)
                    if seq == event.seq and stored is not None:
                        snapshot_problems.extend(check_snapshot(seq, stored.epoch, stored.positions, event, book))

            count, problems = check_chain(noting_anchored(snapshot.read_events()), head, book, after=check_snapshots)
            problems += check_admin(records, epochs, head)
            if not problems:
                replayed = LedgerState.from_book(book, head)
                problems = check_projection(snapshot.load_state(), replayed)
                problems += [
                    Problem(seq, "snapshot", f"snapshot at seq {seq}: the log has no such event") for seq in pending
                ]
        problems += snapshot_problems
        checks = tuple(
            check_anchor(
                source, anchor, trusted_key=trusted_key, event_at_seq=anchored.get(anchor.seq), records=records
            )
            for source, anchor in anchors
        )
        problems += [Problem(c.anchor.seq, "anchor", f"{c.source}: {c.detail}") for c in checks if not c.ok]
        problems.sort(key=lambda problem: (problem.seq is None, problem.seq or 0))
        return VerifyReport(events=count, head=head, problems=tuple(problems), rollbacks=tuple(records), anchors=checks)

    def close(self) -> None:
        """Release the database connections."""
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
