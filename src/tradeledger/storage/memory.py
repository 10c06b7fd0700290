"""MemoryLedgerStore: the store port in plain Python objects (like eventsourcing's POPO recorder).

For fast use-case tests and for a ledger that needs no file: the same `Ledger` runs on it, and the
contract suite (tests/contract) holds it to the same text as the SQL store. It keeps what the schema
keeps (a gapless chain, unique fill keys, a truncation only of the events its record lists, the
head and the checkpoint moving together) and promises no durability: it lives as long as the process.

A unit of work holds the store's lock from start to end (writers take turns, as on the head row) and
works on a copy of the committed state (a shallow copy of every table: fine for tests and small
ledgers, linear in the log's length per write), which `commit()` publishes in one assignment; leaving
without `commit()` drops the copy. A read transaction takes the committed state at its start (one
reference: the state is never changed in place), so it sees one state however long it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from tradeledger.application.ports import AccountKey, AheadReads, EventKey, OpenCycle, PositionRow, ProjectionSnapshot
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.positions import ClosedPosition, Position, PositionKey
from tradeledger.domain.records import Checkpoint, StoredEvent, formats_of, latest_naming_lots
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels
from tradeledger.errors import StorageError

_EMPTY_HEAD = Checkpoint(1, 0, GENESIS_HASH)  # what a new SQL ledger's head row holds (revision 0001)


@dataclass(slots=True)
class _State:
    """Everything a ledger holds. Committed states are never changed: a unit of work changes a copy."""

    events: list[StoredEvent] = field(default_factory=list)  # events[i].seq == i + 1
    keys: dict[EventKey, int] = field(default_factory=dict)  # (account, exchange, fill_id) -> seq
    admin: list[AdminRecord] = field(default_factory=list)
    head: Checkpoint = _EMPTY_HEAD
    checkpoint: Checkpoint = _EMPTY_HEAD
    lots_named_until: str | None = None  # EventLog.lots_named_until, kept with the head
    positions: dict[PositionKey, PositionRow] = field(default_factory=dict)
    closed: dict[int, ClosedPosition] = field(default_factory=dict)  # by closed_seq
    snapshots: dict[int, tuple[int, dict[PositionKey, PositionRow], dict[str, str]]] = field(default_factory=dict)
    prices: dict[str, PriceMark] = field(default_factory=dict)
    levels: dict[PositionKey, RiskLevels] = field(default_factory=dict)
    entries: dict[str, dict[str, str]] = field(default_factory=dict)

    def copy(self) -> _State:
        return replace(
            self,
            events=list(self.events),
            keys=dict(self.keys),
            admin=list(self.admin),
            positions=dict(self.positions),
            closed=dict(self.closed),
            snapshots=dict(self.snapshots),
            prices=dict(self.prices),
            levels=dict(self.levels),
            entries={table: dict(values) for table, values in self.entries.items()},
        )


class MemoryEventLog:
    """The log of one transaction's state (see ports.EventLog)."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def head(self) -> Checkpoint:
        return self._state.head

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
        events = self._state.events
        end = len(events) if until_seq is None else max(0, min(until_seq, len(events)))
        if seqs is not None:
            after_seq, end = max(after_seq, min(seqs, default=1) - 1), min(end, max(seqs, default=0))
        for event in events[max(after_seq, 0) : end]:
            if (
                (symbol is None or event.symbol == symbol)
                and (account is None or event.account == account)
                and (seqs is None or event.seq in seqs)
                and (exchange is None or event.exchange == exchange)
                and (occurred_from is None or event.occurred_at >= occurred_from)
                and (occurred_until is None or event.occurred_at <= occurred_until)
                and (order_ids is None or event.order_id in order_ids)
            ):
                yield event

    def rows(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        until_time: str | None = None,
        by_time: bool = False,
    ) -> Iterator[ExecutionRow]:
        events = self.read(after_seq=after_seq, until_seq=until_seq, occurred_until=until_time)
        if by_time:
            events = iter(sorted(events, key=_time_then_seq))
        for event in events:
            yield event.execution_row()

    def first_recorded_after(self, time_bound: str) -> int | None:
        return next((event.seq for event in self._state.events if event.recorded_at > time_bound), None)

    def find(self, keys: Collection[EventKey]) -> dict[EventKey, StoredEvent]:
        state = self._state
        return {key: state.events[state.keys[key] - 1] for key in keys if key in state.keys}

    def find_anywhere(self, keys: Collection[AccountKey]) -> list[StoredEvent]:
        wanted, state = set(keys), self._state
        if not wanted:
            return []
        seqs = sorted(seq for (account, _, ident), seq in state.keys.items() if (account, ident) in wanted)
        return [state.events[seq - 1] for seq in seqs]

    def append(self, events: Sequence[StoredEvent]) -> None:
        state = self._state
        for event in events:
            at = state.head
            if event.seq != at.seq + 1 or event.prev_hash != at.hash:
                raise StorageError(
                    f"seq {event.seq}: an append must continue the log at seq {at.seq + 1} after hash "
                    f"{at.hash[:12]}; nothing was written"
                )
            key = (event.account, event.exchange, event.fill_id)
            if key in state.keys:
                raise StorageError(f"seq {event.seq}: the fill {key} is in the log already (seq {state.keys[key]})")
            state.events.append(event)
            state.keys[key] = event.seq
            state.head = event.checkpoint
        state.lots_named_until = latest_naming_lots(events, state.lots_named_until)

    def lots_named_until(self) -> str | None:
        return self._state.lots_named_until

    def mark_lots_named(self) -> str | None:
        self._state.lots_named_until = latest_naming_lots(self._state.events, None)
        return self._state.lots_named_until

    def formats(self) -> dict[str, list[int]]:
        return formats_of({(event.type, event.version) for event in self._state.events})

    def last_occurred(
        self,
        account: str,
        exchange: str | None,
        types: Collection[str],
        *,
        symbol: str | None = None,
        kinds: Collection[str] = (),
    ) -> str | None:
        return max(
            (
                event.occurred_at
                for event in self._state.events
                if event.account == account
                and exchange in (None, event.exchange)
                and event.type in types
                and (symbol is None or event.symbol == symbol)
                and (not kinds or event.kind in kinds)
            ),
            default=None,
        )

    def exchanges(self) -> frozenset[str]:
        return frozenset(event.exchange for event in self._state.events)

    def symbols(self, account: str, exchange: str) -> list[str]:
        return sorted(
            {
                event.symbol
                for event in self._state.events
                if (event.account, event.exchange) == (account, exchange)
                and event.type != "transfer"
                and event.symbol is not None
            }
        )

    def admin_records(self) -> list[AdminRecord]:
        return list(self._state.admin)

    def append_admin(self, records: Sequence[AdminRecord], head: Checkpoint) -> None:
        self._state.admin.extend(records)
        self._state.head = head

    def truncate(self, record: AdminRecord) -> None:
        state = self._state
        listed = [(event.seq, event.hash) for event in record.removed_events()]
        stored = [(event.seq, event.hash) for event in state.events[record.to_seq :]]
        if listed != stored:
            raise StorageError(
                f"rollback record {record.id}: it lists {len(listed)} event(s) after seq {record.to_seq}, "
                f"the log holds {len(stored)} other ones there; nothing was removed"
            )
        for event in state.events[record.to_seq :]:
            del state.keys[(event.account, event.exchange, event.fill_id)]
        del state.events[record.to_seq :]
        state.lots_named_until = latest_naming_lots(state.events, None)
        state.admin.append(record)
        state.head = record.head_after


class MemoryProjectionStore:
    """The projections of one transaction's state (see ports.ProjectionStore)."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def checkpoint(self) -> Checkpoint:
        return self._state.checkpoint

    def positions(self, keys: Collection[PositionKey] | None = None) -> dict[PositionKey, PositionRow]:
        rows = self._state.positions
        return dict(rows) if keys is None else {key: rows[key] for key in keys if key in rows}

    def open_positions(self, *, account: str | None = None, symbol: str | None = None) -> tuple[Position, ...]:
        found = [
            position
            for (owner, traded), (position, _) in sorted(self._state.positions.items())
            if position is not None and account in (None, owner) and symbol in (None, traded)
        ]
        return tuple(found)

    def closed(self) -> list[ClosedPosition]:
        return [self._state.closed[seq] for seq in sorted(self._state.closed)]

    def write(
        self, rows: Mapping[PositionKey, PositionRow], closed: Iterable[ClosedPosition], checkpoint: Checkpoint
    ) -> None:
        state = self._state
        state.positions.update(rows)
        for cycle in closed:
            state.closed[cycle.closed_seq] = cycle
        state.checkpoint = checkpoint

    def clear(self) -> None:
        state = self._state
        state.positions, state.closed, state.snapshots = {}, {}, {}

    def rewind(self, seq: int) -> None:
        state = self._state
        state.positions = {}
        state.closed = {closed_seq: cycle for closed_seq, cycle in state.closed.items() if closed_seq <= seq}
        state.snapshots = {at: snapshot for at, snapshot in state.snapshots.items() if at <= seq}

    def write_snapshot(
        self, at: Checkpoint, rows: Mapping[PositionKey, PositionRow], balances: Mapping[str, str]
    ) -> None:
        if rows:
            self._state.snapshots[at.seq] = (at.epoch, dict(rows), dict(balances))

    def snapshot_seqs(self) -> list[int]:
        return sorted(self._state.snapshots)

    def load_snapshot(self, *, until_seq: int | None = None) -> ProjectionSnapshot | None:
        seqs = [seq for seq in self._state.snapshots if until_seq is None or seq <= until_seq]
        if not seqs:
            return None
        epoch, rows, balances = self._state.snapshots[max(seqs)]
        return ProjectionSnapshot(max(seqs), epoch, rows, balances)

    def marks(self) -> Marks:
        return Marks(dict(self._state.prices), dict(self._state.levels))

    def put_prices(self, prices: Sequence[PriceMark]) -> None:
        self._state.prices.update((mark.symbol, mark) for mark in prices)

    def lock_open_cycle(self, key: PositionKey) -> OpenCycle | None:
        position, _ = self._state.positions.get(key, (None, None))
        if position is None:
            return None
        epoch = self._state.events[position.opened_seq - 1].epoch
        return OpenCycle(position.opened_seq, epoch, position.side, self._state.levels.get(key))

    def put_levels(self, levels: RiskLevels) -> None:
        self._state.levels[(levels.account, levels.symbol)] = levels

    def drop_levels_after(self, seq: int) -> None:
        levels = self._state.levels
        for key in [key for key, level in levels.items() if level.opened_seq > seq]:
            del levels[key]

    def entries(self, table: str, keys: Collection[str] | None = None) -> dict[str, str]:
        stored = self._state.entries.get(table, {})
        return dict(stored) if keys is None else {key: stored[key] for key in keys if key in stored}

    def put_entries(self, table: str, values: Mapping[str, str | None]) -> None:
        stored = self._state.entries.setdefault(table, {})
        for key, value in values.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value

    def entry_tables(self) -> list[str]:
        return sorted(table for table, stored in self._state.entries.items() if stored)


class MemoryTransaction:
    """A read transaction over one committed state (see ports.Transaction)."""

    def __init__(self, state: _State) -> None:
        self.log = MemoryEventLog(state)
        self.projection = MemoryProjectionStore(state)


class MemoryUnitOfWork(MemoryTransaction):
    """A write transaction over a copy of the committed state (see ports.UnitOfWork)."""

    def __init__(self, store: MemoryLedgerStore, state: _State) -> None:
        super().__init__(state)
        self._store = store
        self._state = state
        self.committed = False

    def read_ahead(
        self,
        reads: Callable[[], AheadReads],  # noqa: ARG002 - a read costs no round trip here
        keys: Sequence[EventKey] = (),  # noqa: ARG002
        anywhere: Sequence[AccountKey] = (),  # noqa: ARG002
    ) -> None:
        self.log.head()  # the store's lock is held already: nothing to read ahead

    def commit(self) -> None:
        if self.committed:
            raise StorageError("this unit of work has committed already; open a new one")
        if self._state.head != self._state.checkpoint:  # what the SQL head row's trigger refuses
            raise StorageError(
                f"the projection's checkpoint (seq {self._state.checkpoint.seq}) must be the log's head "
                f"(seq {self._state.head.seq}) at commit; nothing was written"
            )
        self._store._publish(self._state)  # noqa: SLF001 - publishing is the store's own business
        self.committed = True


class MemoryChangeSignal:
    """A change signal in memory: every commit of the store wakes its waiters (see ports.ChangeSignal)."""

    def __init__(self, store: MemoryLedgerStore) -> None:
        self._store = store
        self._seen = store._version  # noqa: SLF001 - the store's own signal

    def wait(self, timeout: float) -> bool:
        store = self._store
        with store._changed:  # noqa: SLF001
            store._changed.wait_for(lambda: store._version != self._seen, timeout=timeout)  # noqa: SLF001
            changed = store._version != self._seen  # noqa: SLF001
            self._seen = store._version  # noqa: SLF001
        return changed

    def close(self) -> None:
        """Nothing to release."""


class MemoryLedgerStore:
    """LedgerStore in memory (see the module docstring)."""

    def __init__(self) -> None:
        self._committed = _State()
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._version = 0

    def _publish(self, state: _State) -> None:
        with self._changed:
            self._committed = state
            self._version += 1
            self._changed.notify_all()

    def changes(self) -> MemoryChangeSignal:
        return MemoryChangeSignal(self)

    @contextmanager
    def unit_of_work(self, *, market_data: bool = False, reads_ahead: bool = False) -> Iterator[MemoryUnitOfWork]:  # noqa: ARG002 - same in memory
        with self._lock:
            yield MemoryUnitOfWork(self, self._committed.copy())

    @contextmanager
    def reading(self) -> Iterator[MemoryTransaction]:
        yield MemoryTransaction(self._committed)

    def close(self) -> None:
        """Nothing to release: the state goes with the store."""


def _time_then_seq(event: StoredEvent) -> tuple[str, int]:
    return (event.occurred_at, event.seq)
