"""The boundary between the application and storage, owned by the application."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.fold import ExecutionRow
from tradeledger.domain.positions import ClosedPosition, Execution, Position, PositionBook, PositionKey, Totals
from tradeledger.domain.records import Checkpoint, LedgerState, StoredEvent
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels


class AppendBatch(Protocol):
    """A write transaction on the log, from `LedgerStore.append_batch()`: leaving that context normally
    commits everything written in it, an exception rolls all of it back; `commit()` writes the rows and
    does not end the transaction."""

    def head(self) -> Checkpoint:
        """The log's head, locked until the transaction ends."""

    def select_existing(self, keys: Collection[tuple[str, str, str]]) -> Mapping[tuple[str, str, str], StoredEvent]:
        """Events already in the log under these (account, exchange, fill_id) keys."""

    def select_positions(self, keys: Collection[PositionKey]) -> Mapping[PositionKey, tuple[Position | None, Totals]]:
        """The open cycle and the closed-cycle totals of each (account, symbol) the log has seen."""

    def commit(
        self,
        events: Iterable[StoredEvent],
        positions: Mapping[PositionKey, tuple[Position | None, Totals]],
        closed: Iterable[ClosedPosition],
        head: Checkpoint,
    ) -> None:
        """Write events, projection rows and the new head and checkpoint, all or nothing."""

    def admin_records(self) -> list[AdminRecord]:
        """The admin log as this transaction sees it, oldest first."""

    def write_admin_records(self, records: Sequence[AdminRecord], head: Checkpoint) -> None:
        """Append admin records exactly as given (a copy or an import), then set the head and checkpoint to `head`."""

    def save_snapshot(self, at: Checkpoint) -> None:
        """Copy the projection, as just written for the event at `at`, into a snapshot (a replay cache)."""


PositionRows = Mapping[PositionKey, tuple[Position | None, Totals]]


class ProjectionWriter(Protocol):
    """Where a rebuild writes as it folds, so closed cycles and snapshots never pile up in memory."""

    def write_closed(self, cycles: Sequence[ClosedPosition]) -> None: ...

    def write_snapshot(self, seq: int, positions: PositionRows) -> None:
        """A snapshot of every (account, symbol) as of the event at `seq`."""


class ProjectionSnapshot(Protocol):
    """A stored snapshot: the projection of every (account, symbol) as of the event at `seq` of `epoch`."""

    @property
    def seq(self) -> int: ...

    @property
    def epoch(self) -> int: ...

    @property
    def positions(self) -> PositionRows: ...


class LedgerSnapshot(Protocol):
    """A read transaction: every read through it sees the same state of the log and projection."""

    def head(self) -> Checkpoint:
        """The last event of the log: (epoch, seq, hash); seq 0 when empty."""

    def read_events(
        self, *, symbol: str | None = None, account: str | None = None, after_seq: int = 0
    ) -> Iterator[StoredEvent]:
        """Every event after `after_seq` in seq order, optionally for one symbol and/or account."""

    def admin_records(self) -> list[AdminRecord]:
        """The admin log (audited rollbacks), oldest first."""

    def events_after(self, seq: int) -> list[StoredEvent]:
        """The events after `seq`, in seq order (the tail a rollback to `seq` removes)."""

    def read_executions(self, *, until_seq: int | None = None, until_time: str | None = None) -> Iterator[Execution]:
        """The accounting part of each event in seq order, up to a seq and/or an occurred_at."""

    def event_at(self, seq: int) -> StoredEvent | None: ...

    def load_state(self) -> LedgerState:
        """The stored projection with its checkpoint."""

    def open_positions(self, *, account: str | None = None, symbol: str | None = None) -> tuple[Position, ...]:
        """Stored open positions ordered by (account, symbol), optionally narrowed."""

    def load_marks(self) -> Marks:
        """Stored price marks and risk levels."""

    def read_execution_rows(
        self, *, after_seq: int = 0, until_seq: int | None = None, until_time: str | None = None
    ) -> Iterator[ExecutionRow]:
        """The accounting columns of each event after `after_seq` as stored text, in seq order."""

    def snapshot_seqs(self) -> list[int]:
        """The seq of every stored snapshot, ascending."""

    def load_snapshot(self, *, until_seq: int | None = None) -> ProjectionSnapshot | None:
        """The stored snapshot with the highest seq at or below `until_seq` (any, when None)."""


class LedgerStore(Protocol):
    """Where a ledger lives: the log, the position projection and its checkpoint."""

    def append_batch(self) -> AbstractContextManager[AppendBatch]:
        """Open a write transaction that serialises with every other appender."""

    def snapshot(self) -> AbstractContextManager[LedgerSnapshot]:
        """Open a consistent read transaction."""

    def rebuild_projection(
        self, fold: Callable[[Iterator[Sequence[ExecutionRow]], ProjectionWriter], PositionBook]
    ) -> Checkpoint:
        """Rewrite the projection and its snapshots from `fold` over the log's rows (in chunks), in one transaction.

        `fold` writes closed cycles and snapshots through the writer as it goes; the positions of the book it
        returns (and any closed cycles still in it) are written last.
        """

    def roll_back(
        self,
        to_seq: int,
        seal: Callable[[Checkpoint, Checkpoint, list[StoredEvent], AdminRecord | None], AdminRecord],
        fold: Callable[[Iterator[Sequence[ExecutionRow]], ProjectionWriter], PositionBook],
    ) -> AdminRecord:
        """In one write transaction (head locked): `seal(head, event at to_seq, tail, last record)` gives the
        record, which is written first; then the tail is deleted, the head moves to the record's new
        epoch at `to_seq`, risk levels of removed cycles go, and the projection is rebuilt with `fold`.
        """

    def drop_snapshots_after(self, seq: int) -> int:
        """Delete the snapshots beyond `seq` (for a rollback to `seq`); how many were deleted."""

    def save_marks(
        self, prices: Iterable[PriceMark], levels: Iterable[RiskLevels], *, seen_epoch: int | None = None
    ) -> dict[PositionKey, RiskLevels]:
        """Upsert price marks (by symbol) and risk levels (by account and symbol) in one write transaction.

        Durable against a crash of the process once it returns. A level is written only for the cycle
        that is open in the projection at the write, and (with `seen_epoch`, the epoch of the head the
        writer last read) only when the fill that opened it is of that epoch or an earlier one, so a
        writer that has not seen a rollback never writes onto a cycle that reuses the seq; others are
        skipped. A written level is merged with the stored row of its cycle by `domain.risk.tightest`
        under the write lock, so a stored stop never loosens whichever process writes. Returns the
        levels now stored, for the levels that were written.
        """

    def close(self) -> None: ...
