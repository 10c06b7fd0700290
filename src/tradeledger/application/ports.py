"""The boundary between the application and storage, owned by the application.

A store opens transactions; every read and write goes through one, in the cosmicpython shape:

    with store.unit_of_work() as uow:   # a write transaction (the head locked at the first head())
        ...uow.log..., ...uow.projection...
        uow.commit()                     # leaving without commit() rolls everything back

`store.reading()` opens a read transaction with the same two views, every read in it seeing one state.
Two views, kept small: the `EventLog` (the hash-chained log and its admin log) and the
`ProjectionStore` (the positions projection with its checkpoint and snapshots, marks and levels, and
keyed tables for later projections). Implementations: `storage.sql` (SQLite, PostgreSQL) and
`storage.memory` (in memory); one contract suite (tests/contract) holds all of them to this text.
A refusal of the database (a constraint, a trigger, a full disk) is a `StorageError` by the time the
transaction ends, and the whole transaction is undone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.positions import ClosedPosition, Position, PositionKey, PositionSide, Totals
from tradeledger.domain.records import Checkpoint, StoredEvent
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels

EventKey = tuple[str, str, str]  # (account, exchange, fill_id): what makes a fill a duplicate
AccountKey = tuple[str, str]  # (account, event id): the events under that id in the account, on any exchange
# The open cycle of an (account, symbol), None when flat, and the totals of its closed cycles.
PositionRow = tuple[Position | None, Totals]
PositionRows = Mapping[PositionKey, PositionRow]


class OpenCycle(NamedTuple):
    """The open cycle of an (account, symbol) as a level writer needs it, with its stored levels."""

    opened_seq: int
    epoch: int  # of the fill that opened it
    side: PositionSide
    levels: RiskLevels | None  # stored for this (account, symbol), possibly of an earlier cycle


@dataclass(frozen=True, slots=True)
class ProjectionSnapshot:
    """A stored copy of the positions projection and of the balances as of the event at `seq` of `epoch` (a
    replay cache); `balances` as the keyed table `balances` holds them (key text, amount text)."""

    seq: int
    epoch: int
    positions: PositionRows
    balances: Mapping[str, str]


# The keyed table whose one entry (LAST_REBUILD) a rebuild sets to a new token: a batch's kept fold is
# trusted only while the head and that token are those it committed with (appending.FoldCache). Named here,
# as a store may read it with the head (SQLite's read_ahead: one statement less an append).
REBUILDS, LAST_REBUILD = "rebuilds", "last"
# The keyed table where a schema revision notes work the next open does: its REBUILD entry (revision 0007, and
# 0008 on a ledger with snapshots) asks for every projection to be rebuilt from the log (bootstrap), its value
# says why; the open that rebuilds removes it in the same transaction.
PENDING, PENDING_REBUILD = "pending", "rebuild"
READ_AHEAD_KEYS = 8  # event keys UnitOfWork.read_ahead takes at most (an append of more looks them up by IN)


@dataclass(frozen=True, slots=True)
class AheadReads:
    """What a unit of work reads next, besides the head (see UnitOfWork.read_ahead): events by key, position rows
    and entries of keyed tables (table name -> keys)."""

    events: Collection[EventKey] = ()
    positions: Collection[PositionKey] = ()
    entries: Mapping[str, Collection[str]] = field(default_factory=dict)
    anywhere: Collection[AccountKey] = ()  # events by id in an account, on any exchange (EventLog.find_anywhere)

    def __bool__(self) -> bool:
        return bool(self.events or self.positions or any(self.entries.values()) or self.anywhere)


class EventLog(Protocol):
    """The log as one transaction sees it: events in gapless seq order, the head, the admin log."""

    def head(self) -> Checkpoint:
        """The last event: (epoch, seq, hash); seq 0 when empty. In a unit of work, locked until it ends."""

    def read(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        symbol: str | None = None,
        account: str | None = None,
        seqs: Collection[int] | None = None,
        exchange: str | None = None,
        occurred_from: str | None = None,
        occurred_until: str | None = None,
        order_ids: Collection[str] | None = None,
    ) -> Iterator[StoredEvent]:
        """The events in (after_seq, until_seq], in seq order, optionally of one symbol, account and/or
        exchange, optionally only those at the given seqs, optionally only those that occurred from
        `occurred_from` and/or until `occurred_until` (stored time text, both inclusive), and optionally only those
        whose order id is one of `order_ids` (an index, revision 0009: not a read of the log)."""

    def rows(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        until_time: str | None = None,
        by_time: bool = False,
    ) -> Iterator[ExecutionRow]:
        """The accounting columns (as stored text) of the events in (after_seq, until_seq] in seq order (in the
        order they occurred with `by_time`: by `occurred_at`, then seq), optionally only those that occurred at or
        before `until_time` (stored time text)."""

    def find(self, keys: Collection[EventKey]) -> Mapping[EventKey, StoredEvent]:
        """The events stored under these keys (the others are absent from the result)."""

    def find_anywhere(self, keys: Collection[AccountKey]) -> list[StoredEvent]:
        """The events stored under each (account, event id) of `keys` on any exchange, in seq order (the log's
        unique key leads with the id and the account: an index lookup)."""

    def formats(self) -> dict[str, list[int]]:
        """The event formats the log holds: each type's versions, types and versions sorted."""

    def exchanges(self) -> frozenset[str]:
        """The exchange names of the log's events, each once (by an index, revision 0011: not a read of the log)."""

    def symbols(self, account: str, exchange: str) -> list[str]:
        """The symbols of the account's fills and funding on the exchange (not its transfers), sorted."""

    def last_occurred(
        self,
        account: str,
        exchange: str | None,
        types: Collection[str],
        *,
        symbol: str | None = None,
        kinds: Collection[str] = (),
    ) -> str | None:
        """The latest `occurred_at` (stored time text) of the account's events on the exchange (on any, with None) of
        these types (of one symbol, and of these transfer kinds, when given); None without one."""

    def lots_named_until(self) -> str | None:
        """The latest `occurred_at` of the log's events whose metadata may name lots (`domain.records.
        latest_naming_lots`), None when none does: kept with the head (moved by `append`, computed again by
        `truncate`), read with it at no cost, so an append that occurred before it is checked for the lots it
        takes first in, first out (application/lot_picks.py) and the usual append reads nothing more."""

    def mark_lots_named(self) -> str | None:
        """Compute `lots_named_until` again from the whole log (as `truncate` does) and keep it with the head, the
        new mark: a rebuild's, which derives every derived value from the log again (a mark a writer left too early,
        one running code from before revision 0010 say, is set right)."""

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Add sealed events after the head, in seq order; the head follows them."""

    def admin_records(self) -> list[AdminRecord]:
        """The admin log (audited rollbacks), oldest first."""

    def first_recorded_after(self, time_bound: str) -> int | None:
        """The seq of the first event (in seq order) recorded after `time_bound` (stored time text); None: none is."""

    def append_admin(self, records: Sequence[AdminRecord], head: Checkpoint) -> None:
        """Add admin records exactly as given (a copy or an import carries them) and set the head to `head`."""

    def truncate(self, record: AdminRecord) -> None:
        """A rollback: add `record`, remove the events it lists (those after its to_seq), and move the head to
        the record's head after. The events go only with the record that names them."""


class ProjectionStore(Protocol):
    """Read models kept in the ledger's database, written in the same transaction as the log."""

    def checkpoint(self) -> Checkpoint:
        """The event the positions projection was last written for."""

    def positions(self, keys: Collection[PositionKey] | None = None) -> dict[PositionKey, PositionRow]:
        """The row of each (account, symbol) the log has seen, of those asked for (every one when None)."""

    def open_positions(self, *, account: str | None = None, symbol: str | None = None) -> tuple[Position, ...]:
        """The open positions ordered by (account, symbol), optionally narrowed."""

    def closed(self) -> list[ClosedPosition]:
        """Every closed cycle, ordered by closed_seq."""

    def write(self, rows: PositionRows, closed: Iterable[ClosedPosition], checkpoint: Checkpoint) -> None:
        """Set these rows, add these closed cycles and move the checkpoint."""

    def clear(self) -> None:
        """Remove every position row, closed cycle and snapshot (a rebuild writes them again)."""

    def rewind(self, seq: int) -> None:
        """Remove every position row, and the closed cycles and snapshots after `seq` (a rollback to `seq`
        writes the rows again)."""

    def write_snapshot(self, at: Checkpoint, rows: PositionRows, balances: Mapping[str, str]) -> None:
        """Store `rows` (every (account, symbol)) and `balances` (every entry of the keyed table `balances`) as
        the snapshot at `at`, as of that event; nothing when `rows` is empty (no position yet)."""

    def snapshot_seqs(self) -> list[int]:
        """The seq of every stored snapshot, ascending."""

    def load_snapshot(self, *, until_seq: int | None = None) -> ProjectionSnapshot | None:
        """The stored snapshot with the highest seq at or below `until_seq` (any, when None)."""

    def marks(self) -> Marks:
        """The stored price marks (by symbol) and risk levels (by account and symbol)."""

    def put_prices(self, prices: Sequence[PriceMark]) -> None:
        """Set the price mark of each symbol."""

    def lock_open_cycle(self, key: PositionKey) -> OpenCycle | None:
        """The open cycle of `key` and its stored levels, None when flat; its row is locked until the
        transaction ends, so level writers of one (account, symbol) take turns."""

    def put_levels(self, levels: RiskLevels) -> None:
        """Set the risk levels of an (account, symbol)."""

    def drop_levels_after(self, seq: int) -> None:
        """Remove the risk levels of cycles opened after `seq` (a rollback removed their fills)."""

    def entries(self, table: str, keys: Collection[str] | None = None) -> dict[str, str]:
        """A keyed table of a projection: the stored text under each key asked for (every key when None)."""

    def put_entries(self, table: str, values: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) entries of a keyed table."""

    def entry_tables(self) -> list[str]:
        """The keyed tables that hold an entry, sorted."""


class Transaction(Protocol):
    """A read transaction: the log and the projections, every read seeing the same state."""

    @property
    def log(self) -> EventLog: ...

    @property
    def projection(self) -> ProjectionStore: ...


class UnitOfWork(Transaction, Protocol):
    """A write transaction; nothing it wrote is kept unless `commit()` is called before it ends."""

    def read_ahead(
        self, reads: Callable[[], AheadReads], keys: Sequence[EventKey] = (), anywhere: Sequence[AccountKey] = ()
    ) -> None:
        """Lock the head, as the first `log.head()` does; a store where a round trip costs more than a read
        (PostgreSQL) also reads `reads()` with it, at once, and answers the next reads of those keys in this unit
        of work from what it read, until the unit of work writes. The answers are those the reads would give
        then (the head is locked, and every writer of the log and of the positions and balances takes it
        first). Called before anything else in the unit of work; `reads` is called only by such a store.
        `keys` and `anywhere` (at most READ_AHEAD_KEYS together; those of `reads().events` and `reads().anywhere`,
        named at no cost) and the REBUILDS token may be read with the head by a store where a statement costs more
        than working out `reads()` would (SQLite does, in one statement).
        """

    def commit(self) -> None:
        """Make every write durable and end the transaction."""


class ChangeSignal(Protocol):
    """Wakes a reader when the log may have changed: a commit by any process (subscriptions)."""

    def wait(self, timeout: float) -> bool:
        """Block until the log may have changed since the last call, or `timeout` seconds pass; True when it may
        have. A false True costs a read; a missed change costs latency only, never an event (readers read by seq)."""

    def close(self) -> None:
        """Release what the signal holds (its own connection)."""


class LedgerStore(Protocol):
    """Where a ledger lives."""

    def changes(self) -> ChangeSignal:
        """A new signal of changes to this ledger's log (each subscription holds its own)."""

    def unit_of_work(
        self, *, market_data: bool = False, reads_ahead: bool = False
    ) -> AbstractContextManager[UnitOfWork]:
        """Open a write transaction; writers take turns at the head (`log.head()` locks it).

        `market_data`: only marks and levels are written, which on SQLite commit at synchronous=NORMAL
        (durable against a crash of the process, not of the machine; see storage.sql).
        `reads_ahead`: the unit of work's first call is `read_ahead`. A store whose connection to a server may be
        found lost (PostgreSQL) begins any other unit of work before it is handed out, so that such a loss is met
        before anything of it has run, and made good on a new connection; one that reads ahead begins it with its
        reads, in the same round trip.
        """

    def reading(self) -> AbstractContextManager[Transaction]:
        """Open a consistent read transaction."""

    def close(self) -> None:
        """Release connections; the store is not used after."""
