"""The boundary between the application and storage, owned by the application."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from tradeledger.domain.positions import ClosedPosition, Execution, Position, PositionBook, PositionKey, Totals
from tradeledger.domain.records import Checkpoint, LedgerState, StoredEvent


class AppendBatch(Protocol):
    """A write transaction on the log. Leaving it without `commit` writes nothing."""

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


class LedgerSnapshot(Protocol):
    """A read transaction: every read through it sees the same state of the log and projection."""

    def head(self) -> Checkpoint:
        """The last event of the log: (epoch, seq, hash); seq 0 when empty."""

    def read_events(self, *, symbol: str | None = None, account: str | None = None) -> Iterator[StoredEvent]:
        """Every event in seq order, optionally for one symbol and/or account."""

    def read_executions(self, *, until_seq: int | None = None, until_time: str | None = None) -> Iterator[Execution]:
        """The accounting part of each event in seq order, up to a seq and/or an occurred_at."""

    def event_at(self, seq: int) -> StoredEvent | None: ...

    def load_state(self) -> LedgerState:
        """The stored projection with its checkpoint."""

    def open_positions(self, *, account: str | None = None, symbol: str | None = None) -> tuple[Position, ...]:
        """Stored open positions ordered by (account, symbol), optionally narrowed."""


class LedgerStore(Protocol):
    """Where a ledger lives: the log, the position projection and its checkpoint."""

    def append_batch(self) -> AbstractContextManager[AppendBatch]:
        """Open a write transaction that serialises with every other appender."""

    def snapshot(self) -> AbstractContextManager[LedgerSnapshot]:
        """Open a consistent read transaction."""

    def rebuild_projection(self, fold: Callable[[Iterator[Execution]], PositionBook]) -> Checkpoint:
        """Rewrite the stored projection from `fold` over the whole log, in one write transaction."""

    def close(self) -> None: ...
