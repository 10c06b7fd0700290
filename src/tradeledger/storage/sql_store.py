"""SqlLedgerStore: the log and the position projection in SQLAlchemy Core, any dialect."""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from tradeledger.application.ports import ProjectionWriter
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import Side, decimal_text, time_text
from tradeledger.domain.fold import ExecutionRow
from tradeledger.domain.positions import (
    ClosedPosition,
    Execution,
    Position,
    PositionBook,
    PositionKey,
    PositionSide,
    Totals,
    lifetime,
)
from tradeledger.domain.records import Checkpoint, LedgerState, StoredEvent
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels, tightest
from tradeledger.errors import StorageError
from tradeledger.storage.engine import WRITE, snapshot_options
from tradeledger.storage.prepared import Prepared
from tradeledger.storage.schema import (
    admin_log,
    closed_positions,
    events,
    head,
    position_snapshots,
    positions,
    price_marks,
    risk_levels,
    rollback_removed,
)

EventKey = tuple[str, str, str]
_IN_CHUNK = 500  # keys per IN (...) lookup, well under every dialect's bound-parameter limit
_READ_CHUNK = 10_000


# What SQLite's error codes mean for a ledger's user (Python's sqlite3 names the code of each error).
_SQLITE_HINTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR_WRITE": "a write failed: the disk may be full or the file over a size limit",
    "SQLITE_READONLY": "the database file or its folder is read-only",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_CANTOPEN": "the file cannot be opened (missing folder or no permission)",
}


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become StorageError, naming what the database said (and, on SQLite, what it means)."""
    try:
        yield
    except exc.DBAPIError as error:
        code = getattr(error.orig, "sqlite_errorname", None)
        hint = next((text for name, text in _SQLITE_HINTS.items() if code and code.startswith(name)), None)
        said = f"{error.orig} ({code}: {hint})" if hint else str(error.orig)
        raise StorageError(f"the database refused the operation: {said}") from error


def _event(row: sa.Row[Any]) -> StoredEvent:
    return StoredEvent(**row._asdict())


def _position(row: sa.Row[Any]) -> Position | None:
    if row.side is None:
        return None
    return Position(
        account=row.account,
        symbol=row.symbol,
        side=PositionSide(row.side),
        quantity=Decimal(row.quantity),
        avg_price=Decimal(row.avg_price),
        realized_pnl=Decimal(row.realized_pnl),
        fees=Decimal(row.fees),
        opened_at=datetime.fromisoformat(row.opened_at),
        opened_seq=row.opened_seq,
        entered_quantity=Decimal(row.entered_quantity),
        last_seq=row.last_seq,
    )


def _closed_totals(row: sa.Row[Any]) -> Totals:
    return Totals(Decimal(row.closed_realized_pnl), Decimal(row.closed_fees))


def _closed(row: sa.Row[Any]) -> ClosedPosition:
    return ClosedPosition(
        account=row.account,
        symbol=row.symbol,
        side=PositionSide(row.side),
        quantity=Decimal(row.quantity),
        avg_price=Decimal(row.avg_price),
        realized_pnl=Decimal(row.realized_pnl),
        fees=Decimal(row.fees),
        opened_at=datetime.fromisoformat(row.opened_at),
        opened_seq=row.opened_seq,
        closed_at=datetime.fromisoformat(row.closed_at),
        closed_seq=row.closed_seq,
    )


def _position_row(key: PositionKey, position: Position | None, totals: Totals) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account": key[0],
        "symbol": key[1],
        "side": None,
        "quantity": None,
        "avg_price": None,
        "realized_pnl": None,
        "fees": None,
        "opened_at": None,
        "opened_seq": None,
        "entered_quantity": None,
        "last_seq": None,
        "closed_realized_pnl": decimal_text(totals.realized_pnl),
        "closed_fees": decimal_text(totals.fees),
    }
    if position is not None:
        row.update(
            side=position.side.value,
            quantity=decimal_text(position.quantity),
            avg_price=decimal_text(position.avg_price),
            realized_pnl=decimal_text(position.realized_pnl),
            fees=decimal_text(position.fees),
            opened_at=time_text(position.opened_at),
            opened_seq=position.opened_seq,
            entered_quantity=decimal_text(position.entered_quantity),
            last_seq=position.last_seq,
        )
    return row


def _closed_row(closed: ClosedPosition) -> dict[str, Any]:
    return {
        "closed_seq": closed.closed_seq,
        "account": closed.account,
        "symbol": closed.symbol,
        "side": closed.side.value,
        "quantity": decimal_text(closed.quantity),
        "avg_price": decimal_text(closed.avg_price),
        "realized_pnl": decimal_text(closed.realized_pnl),
        "fees": decimal_text(closed.fees),
        "opened_at": time_text(closed.opened_at),
        "opened_seq": closed.opened_seq,
        "closed_at": time_text(closed.closed_at),
    }


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _executions(
    connection: sa.Connection, *, until_seq: int | None = None, until_time: str | None = None
) -> Iterator[Execution]:
    """Decode the accounting columns of the log in seq order; rows are trusted, so no model validation."""
    c = events.c
    query = sa.select(c.seq, c.account, c.symbol, c.side, c.quantity, c.price, c.fee, c.occurred_at).order_by(c.seq)
    if until_seq is not None:
        query = query.where(c.seq <= until_seq)
    if until_time is not None:
        query = query.where(c.occurred_at <= until_time)
    sides = {"buy": Side.BUY, "sell": Side.SELL}
    fromiso = datetime.fromisoformat
    # Per statement: Connection.execution_options() would change the connection for every later statement.
    # `with`: a caller that stops early closes the (server-side, on PostgreSQL) cursor with the generator.
    with connection.execute(query, execution_options={"yield_per": _READ_CHUNK}) as result:
        for seq, account, symbol, side, quantity, price, fee, occurred_at in result:
            yield Execution(
                seq, account, symbol, sides[side], Decimal(quantity), Decimal(price), Decimal(fee), fromiso(occurred_at)
            )


# Statements built once: SQLAlchemy then reuses their compiled form on every append.
_HEAD_FOR_UPDATE = sa.select(head.c.epoch, head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update()
# The head and the projection's checkpoint move together, in one statement (the row's trigger wants it).
_MOVE_VALUES: dict[str, Any] = {
    name: sa.bindparam(value)
    for name, value in (
        ("epoch", "epoch"),
        ("seq", "seq"),
        ("hash", "hash"),
        ("checkpoint_epoch", "epoch"),
        ("checkpoint_seq", "seq"),
        ("checkpoint_hash", "hash"),
    )
}
_MOVE_HEAD = head.update().where(head.c.id == 1).values(_MOVE_VALUES)
_UPDATE_POSITION = (
    positions.update()
    .where(positions.c.account == sa.bindparam("b_account"), positions.c.symbol == sa.bindparam("b_symbol"))
    .values({c.name: sa.bindparam(c.name) for c in positions.c if c.name not in ("account", "symbol")})
)

# The append path's statements, run on the DB-API cursor (storage/prepared.py): ~5 µs each instead of ~60.
_P_HEAD_FOR_UPDATE = Prepared(_HEAD_FOR_UPDATE)
_P_EVENT_BY_KEY = Prepared(
    sa.select(*events.c).where(
        events.c.fill_id == sa.bindparam("k_fill_id"),
        events.c.account == sa.bindparam("k_account"),
        events.c.exchange == sa.bindparam("k_exchange"),
    )
)
_P_POSITION_BY_KEY = Prepared(
    sa.select(*positions.c).where(
        positions.c.account == sa.bindparam("k_account"), positions.c.symbol == sa.bindparam("k_symbol")
    )
)
_P_INSERT_EVENT = Prepared(events.insert())
_P_INSERT_POSITION = Prepared(positions.insert())
_P_UPDATE_POSITION = Prepared(_UPDATE_POSITION)
_P_INSERT_CLOSED = Prepared(closed_positions.insert())
_P_MOVE_HEAD = Prepared(_MOVE_HEAD)
# Batches look keys up with IN (...): built once, expanding parameters, run through SQLAlchemy.
_EVENTS_BY_FILL_IDS = sa.select(*events.c).where(events.c.fill_id.in_(sa.bindparam("fill_ids", expanding=True)))
_POSITIONS_BY_KEYS = sa.select(*positions.c).where(
    positions.c.account.in_(sa.bindparam("accounts", expanding=True)),
    positions.c.symbol.in_(sa.bindparam("symbols", expanding=True)),
)
_PositionTuple = namedtuple("_PositionTuple", [column.name for column in positions.c])  # type: ignore[misc]  # noqa: PYI024
_SNAPSHOT_COLUMNS = [column.name for column in positions.c]
_TAKE_SNAPSHOT = position_snapshots.insert().from_select(
    ["seq", "epoch", *_SNAPSHOT_COLUMNS],
    sa.select(
        sa.bindparam("s_seq", type_=position_snapshots.c.seq.type),
        sa.bindparam("s_epoch", type_=sa.Integer),
        *positions.c,
    ),
)
_EVENT_COLUMNS = tuple(column.name for column in events.c)
_EVENT_ROW = attrgetter(*_EVENT_COLUMNS)  # a StoredEvent as a row of ledger_events, in column order
if list(_EVENT_COLUMNS) != list(StoredEvent.__dataclass_fields__):  # pragma: no cover
    raise AssertionError("ledger_events' columns and StoredEvent's fields must be in the same order")


class SqlAppendBatch:
    """One write transaction on the log (see AppendBatch)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self._head: Checkpoint | None = None
        self._existing_positions: set[PositionKey] = set()

    def head(self) -> Checkpoint:
        if self._head is None:
            (row,) = _P_HEAD_FOR_UPDATE.rows(self._connection)
            self._head = Checkpoint(*row)
        return self._head

    def select_existing(self, keys: Collection[EventKey]) -> dict[EventKey, StoredEvent]:
        found: dict[EventKey, StoredEvent] = {}
        wanted = set(keys)
        if len(wanted) == 1:
            ((account, exchange, fill_id),) = wanted
            values = {"k_fill_id": fill_id, "k_account": account, "k_exchange": exchange}
            for row in _P_EVENT_BY_KEY.rows(self._connection, values):
                found[(account, exchange, fill_id)] = StoredEvent(*row)
            return found
        fill_ids = sorted({key[2] for key in wanted})
        for chunk in _chunks(fill_ids, _IN_CHUNK):
            rows = self._connection.execute(_EVENTS_BY_FILL_IDS, {"fill_ids": chunk})
            for row in rows:
                event = _event(row)
                key = (event.account, event.exchange, event.fill_id)
                if key in wanted:
                    found[key] = event
        return found

    def select_positions(self, keys: Collection[PositionKey]) -> dict[PositionKey, tuple[Position | None, Totals]]:
        found: dict[PositionKey, tuple[Position | None, Totals]] = {}
        if len(keys) == 1:
            ((account, symbol),) = keys
            for values in _P_POSITION_BY_KEY.rows(self._connection, {"k_account": account, "k_symbol": symbol}):
                row: Any = _PositionTuple(*values)
                found[(account, symbol)] = (_position(row), _closed_totals(row))
            self._existing_positions.update(found)
            return found
        for chunk in _chunks(sorted(set(keys)), _IN_CHUNK):
            wanted = set(chunk)
            accounts, symbols = sorted({key[0] for key in chunk}), sorted({key[1] for key in chunk})
            for row in self._connection.execute(_POSITIONS_BY_KEYS, {"accounts": accounts, "symbols": symbols}):
                key = (row.account, row.symbol)
                if key in wanted:
                    found[key] = (_position(row), _closed_totals(row))
        self._existing_positions.update(found)
        return found

    def commit(
        self,
        new_events: Iterable[StoredEvent],
        new_positions: Mapping[PositionKey, tuple[Position | None, Totals]],
        closed: Iterable[ClosedPosition],
        new_head: Checkpoint,
    ) -> None:
        connection = self._connection
        event_rows = [_EVENT_ROW(event) for event in new_events]
        if not event_rows:
            return
        _P_INSERT_EVENT.run_rows(connection, _EVENT_COLUMNS, event_rows)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, (position, totals) in new_positions.items():
            row = _position_row(key, position, totals)
            (updates if key in self._existing_positions else inserts).append(row)
        _P_INSERT_POSITION.run_many(connection, inserts)
        _P_UPDATE_POSITION.run_many(
            connection, [{**row, "b_account": row["account"], "b_symbol": row["symbol"]} for row in updates]
        )
        _P_INSERT_CLOSED.run_many(connection, [_closed_row(item) for item in closed])
        _P_MOVE_HEAD.run(connection, {"epoch": new_head.epoch, "seq": new_head.seq, "hash": new_head.hash})

    def save_snapshot(self, at: Checkpoint) -> None:
        self._connection.execute(_TAKE_SNAPSHOT, {"s_seq": at.seq, "s_epoch": at.epoch})

    def admin_records(self) -> list[AdminRecord]:
        return SqlSnapshot(self._connection).admin_records()

    def write_admin_records(self, records: Sequence[AdminRecord], head: Checkpoint) -> None:
        if records:
            self._connection.execute(admin_log.insert(), [record.as_dict() for record in records])
        _P_MOVE_HEAD.run(self._connection, {"epoch": head.epoch, "seq": head.seq, "hash": head.hash})


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A stored snapshot of the positions projection (see ProjectionSnapshot)."""

    seq: int
    epoch: int
    positions: Mapping[PositionKey, tuple[Position | None, Totals]]


def _execution_rows_query(after_seq: int, until_seq: int | None, until_time: str | None) -> sa.Select[Any]:
    c = events.c
    query = sa.select(c.seq, c.account, c.symbol, c.side, c.quantity, c.price, c.fee, c.occurred_at).order_by(c.seq)
    if after_seq:
        query = query.where(c.seq > after_seq)
    if until_seq is not None:
        query = query.where(c.seq <= until_seq)
    if until_time is not None:
        query = query.where(c.occurred_at <= until_time)
    return query


class _RebuildWriter:
    """Writes a rebuild's closed cycles and snapshots as the fold produces them (see ProjectionWriter)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def write_closed(self, cycles: Sequence[ClosedPosition]) -> None:
        _P_INSERT_CLOSED.run_many(self._connection, [_closed_row(item) for item in cycles])

    def write_snapshot(self, seq: int, positions: Mapping[PositionKey, tuple[Position | None, Totals]]) -> None:
        epoch = self._connection.execute(sa.select(events.c.epoch).where(events.c.seq == seq)).scalar_one()
        rows = [
            {**_position_row(key, position, totals), "seq": seq, "epoch": epoch}
            for key, (position, totals) in positions.items()
        ]
        if rows:
            self._connection.execute(position_snapshots.insert(), rows)


class SqlSnapshot:
    """Reads inside one transaction (see LedgerSnapshot)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def head(self) -> Checkpoint:
        row = self._connection.execute(sa.select(head.c.epoch, head.c.seq, head.c.hash).where(head.c.id == 1)).one()
        return Checkpoint(row.epoch, row.seq, row.hash)

    def checkpoint(self) -> Checkpoint:
        row = self._connection.execute(
            sa.select(head.c.checkpoint_epoch, head.c.checkpoint_seq, head.c.checkpoint_hash).where(head.c.id == 1)
        ).one()
        return Checkpoint(*row)

    def read_events(
        self, *, symbol: str | None = None, account: str | None = None, after_seq: int = 0
    ) -> Iterator[StoredEvent]:
        query = sa.select(*events.c).order_by(events.c.seq)
        if after_seq:
            query = query.where(events.c.seq > after_seq)
        if symbol is not None:
            query = query.where(events.c.symbol == symbol)
        if account is not None:
            query = query.where(events.c.account == account)
        with self._connection.execute(query, execution_options={"yield_per": _READ_CHUNK}) as result:
            for row in result:
                yield _event(row)

    def read_executions(self, *, until_seq: int | None = None, until_time: str | None = None) -> Iterator[Execution]:
        return _executions(self._connection, until_seq=until_seq, until_time=until_time)

    def event_at(self, seq: int) -> StoredEvent | None:
        row = self._connection.execute(sa.select(*events.c).where(events.c.seq == seq)).one_or_none()
        return None if row is None else _event(row)

    def open_positions(self, *, account: str | None = None, symbol: str | None = None) -> tuple[Position, ...]:
        query = sa.select(*positions.c).where(positions.c.side.is_not(None))
        if account is not None:
            query = query.where(positions.c.account == account)
        if symbol is not None:
            query = query.where(positions.c.symbol == symbol)
        found = [
            _position(row) for row in self._connection.execute(query.order_by(positions.c.account, positions.c.symbol))
        ]
        return tuple(position for position in found if position is not None)

    def load_marks(self) -> Marks:
        prices = {
            row.symbol: PriceMark(row.symbol, Decimal(row.price), datetime.fromisoformat(row.marked_at))
            for row in self._connection.execute(sa.select(*price_marks.c))
        }
        levels = {
            (row.account, row.symbol): _risk_levels(*row) for row in self._connection.execute(sa.select(*risk_levels.c))
        }
        return Marks(prices, levels)

    def read_execution_rows(
        self, *, after_seq: int = 0, until_seq: int | None = None, until_time: str | None = None
    ) -> Iterator[ExecutionRow]:
        with self._connection.execute(
            _execution_rows_query(after_seq, until_seq, until_time), execution_options={"yield_per": _READ_CHUNK}
        ) as result:
            yield from cast("Iterator[ExecutionRow]", result)  # a Row is a tuple

    def admin_records(self) -> list[AdminRecord]:
        rows = self._connection.execute(sa.select(*admin_log.c).order_by(admin_log.c.id))
        return [AdminRecord(*row) for row in rows]

    def events_after(self, seq: int) -> list[StoredEvent]:
        return list(self.read_events(after_seq=seq))

    def snapshot_seqs(self) -> list[int]:
        query = sa.select(position_snapshots.c.seq).distinct().order_by(position_snapshots.c.seq)
        return list(self._connection.execute(query).scalars())

    def load_snapshot(self, *, until_seq: int | None = None) -> StoredSnapshot | None:
        latest = sa.select(sa.func.max(position_snapshots.c.seq))
        if until_seq is not None:
            latest = latest.where(position_snapshots.c.seq <= until_seq)
        seq = self._connection.execute(latest).scalar()
        if seq is None:
            return None
        rows = list(self._connection.execute(sa.select(*position_snapshots.c).where(position_snapshots.c.seq == seq)))
        found = {(row.account, row.symbol): (_position(row), _closed_totals(row)) for row in rows}
        return StoredSnapshot(seq, min(row.epoch for row in rows), found)

    def load_state(self) -> LedgerState:
        open_positions: list[Position] = []
        totals: dict[PositionKey, Totals] = {}
        for row in self._connection.execute(sa.select(*positions.c)):
            position = _position(row)
            if position is not None:
                open_positions.append(position)
            totals[(row.account, row.symbol)] = lifetime(_closed_totals(row), position)
        closed = [_closed(row) for row in self._connection.execute(sa.select(*closed_positions.c))]
        return LedgerState.assemble(self.checkpoint(), open_positions, closed, totals)


def _rebuild(
    connection: sa.Connection,
    current: Checkpoint,
    fold: Callable[[Iterator[Sequence[ExecutionRow]], ProjectionWriter], PositionBook],
) -> None:
    """Rewrite positions, closed cycles and snapshots from the log up to `current`, and the checkpoint."""
    connection.execute(positions.delete())
    connection.execute(closed_positions.delete())
    connection.execute(position_snapshots.delete())
    query = _execution_rows_query(0, current.seq, None)
    with connection.execute(query, execution_options={"yield_per": _READ_CHUNK}) as result:
        chunks = cast("Iterator[Sequence[ExecutionRow]]", result.partitions())
        book = fold(chunks, _RebuildWriter(connection))
    rows = [_position_row(key, book.open.get(key), totals) for key, totals in book.closed_totals.items()]
    if rows:
        connection.execute(positions.insert(), rows)
    _P_INSERT_CLOSED.run_many(connection, [_closed_row(item) for item in book.closed])
    connection.execute(_MOVE_HEAD, {"epoch": current.epoch, "seq": current.seq, "hash": current.hash})


class SqlLedgerStore:
    """LedgerStore over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # One write connection per thread, kept between appends: a pool checkout, its execution options
        # and its return cost ~60 µs, a quarter of a small append's Python.
        self._writers = threading.local()
        self._held: list[sa.Connection] = []
        self._held_lock = threading.Lock()

    def _writer(self) -> sa.Connection:
        connection: sa.Connection | None = getattr(self._writers, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._engine.connect().execution_options(**WRITE)
            self._writers.connection = connection
            with self._held_lock:
                self._held = [held for held in self._held if not held.closed]
                self._held.append(connection)
        return connection

    @contextmanager
    def append_batch(self) -> Iterator[SqlAppendBatch]:
        with translated_errors():
            connection = self._writer()
            _synchronous(connection, lowered=False)
            with connection.begin():
                yield SqlAppendBatch(connection)

    @contextmanager
    def snapshot(self) -> Iterator[SqlSnapshot]:
        options = snapshot_options(self._engine)
        with translated_errors(), self._engine.connect().execution_options(**options) as connection, connection.begin():
            yield SqlSnapshot(connection)

    def rebuild_projection(
        self, fold: Callable[[Iterator[Sequence[ExecutionRow]], ProjectionWriter], PositionBook]
    ) -> Checkpoint:
        with translated_errors(), self._engine.connect().execution_options(**WRITE) as connection, connection.begin():
            current = SqlAppendBatch(connection).head()
            _rebuild(connection, current, fold)
        return current

    def roll_back(
        self,
        to_seq: int,
        seal: Callable[[Checkpoint, Checkpoint, list[StoredEvent], AdminRecord | None], AdminRecord],
        fold: Callable[[Iterator[Sequence[ExecutionRow]], ProjectionWriter], PositionBook],
    ) -> AdminRecord:
        """One write transaction: the sealed record first, then the tail deleted, the head moved, all rebuilt."""
        with translated_errors(), self._engine.connect().execution_options(**WRITE) as connection, connection.begin():
            before = SqlAppendBatch(connection).head()  # locks the head: no append runs meanwhile
            snapshot = SqlSnapshot(connection)
            to_event = snapshot.event_at(to_seq) if to_seq else None
            to = (
                Checkpoint(before.epoch, 0, GENESIS_HASH)
                if to_event is None
                else Checkpoint(to_event.epoch, to_event.seq, to_event.hash)
            )
            records = snapshot.admin_records()
            record = seal(before, to, snapshot.events_after(to_seq), records[-1] if records else None)
            connection.execute(admin_log.insert(), record.as_dict())
            # The delete trigger lets an event go only with the hash the record lists for its seq.
            removed = [{"record_id": record.id, "seq": e.seq, "hash": e.hash} for e in record.removed_events()]
            if removed:
                connection.execute(rollback_removed.insert(), removed)
            connection.execute(events.delete().where(events.c.seq > to_seq))
            after = record.head_after
            _rebuild(connection, after, fold)  # moves the head and the checkpoint to `after`
            # After the rebuild, which locks the position rows first: a level write locks its position
            # row and then its level row, so taking them in the same order cannot deadlock (PostgreSQL).
            connection.execute(risk_levels.delete().where(risk_levels.c.opened_seq > to_seq))
        return record

    def drop_snapshots_after(self, seq: int) -> int:
        with translated_errors(), self._engine.connect().execution_options(**WRITE) as connection, connection.begin():
            beyond = position_snapshots.c.seq > seq
            count = connection.execute(sa.select(sa.func.count(position_snapshots.c.seq.distinct())).where(beyond))
            dropped = int(count.scalar_one())
            connection.execute(position_snapshots.delete().where(beyond))
            return dropped

    @contextmanager
    def _marks_transaction(self) -> Iterator[sa.Connection]:
        """A write transaction on this thread's write connection, committed with SQLite's synchronous=NORMAL.

        In WAL mode a NORMAL commit has written the WAL with write(2) before it returns: it survives
        a SIGKILL of the process (only an OS crash or power cut may lose the last commits, never
        corrupting the file); FULL adds an fsync per commit. Marks and levels are market-side state,
        so their writes take NORMAL (or the engine's setting when that is lower already); the next
        append puts the connection's own setting back first (`_synchronous`).
        """
        connection = self._writer()
        _synchronous(connection, lowered=True)
        with connection.begin():
            yield connection

    def save_marks(
        self, prices: Iterable[PriceMark], levels: Iterable[RiskLevels], *, seen_epoch: int | None = None
    ) -> dict[PositionKey, RiskLevels]:
        price_rows = [
            {"symbol": mark.symbol, "price": decimal_text(mark.price), "marked_at": time_text(mark.marked_at)}
            for mark in prices
        ]
        wanted = list(levels)
        stored: dict[PositionKey, RiskLevels] = {}
        with translated_errors(), self._marks_transaction() as connection:
            dialect = connection.dialect.name
            if price_rows:
                _P_UPSERT_PRICE[dialect].run_many(connection, price_rows)
            for level in wanted:
                key = {"k_account": level.account, "k_symbol": level.symbol}
                # The position row is the lock that orders level writers on PostgreSQL (FOR UPDATE; on
                # SQLite the transaction holds the write lock already), and it names the open cycle.
                cycle = _P_OPEN_CYCLE_FOR_UPDATE.rows(connection, key)
                if not cycle or cycle[0][0] is None or cycle[0][1] != level.opened_seq:
                    continue  # the cycle is not open (closed since the writer looked)
                side, _, opened_epoch = cycle[0]
                if seen_epoch is not None and (opened_epoch is None or opened_epoch > seen_epoch):
                    continue  # a cycle reopened at the same seq after a rollback the writer has not seen
                found = _P_LEVELS_BY_KEY.rows(connection, key)
                merged = tightest(_risk_levels(*found[0]) if found else None, level, PositionSide(side))
                _P_UPSERT_LEVELS[dialect].run(connection, _level_row(merged))
                stored[(level.account, level.symbol)] = merged
        return stored

    def close(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
        for connection in held:
            if not connection.closed and not connection.invalidated:
                with translated_errors():
                    _synchronous(connection, lowered=False)
            connection.close()
        self._engine.dispose()


_LOWERED = "tradeledger_synchronous_lowered"  # in the DB-API connection's info: the level to restore


def _synchronous(connection: sa.Connection, *, lowered: bool) -> None:
    """Put a SQLite write connection at synchronous=NORMAL for marks (lowered) or back at its own level.

    Outside any transaction; a PRAGMA only when the state changes, so a run of level writes (or of
    appends) costs a dict look-up each. The level to restore is kept in the DB-API connection's
    `info`, which lives as long as that connection.
    """
    if connection.dialect.name != "sqlite":
        return
    info = connection.info
    restore = info.get(_LOWERED)
    if lowered and restore is None:
        dbapi_connection: Any = connection.connection.dbapi_connection
        level = _sqlite_pragma(dbapi_connection, "PRAGMA synchronous")
        if level is not None and level > _SQLITE_SYNCHRONOUS_NORMAL:
            _sqlite_pragma(dbapi_connection, f"PRAGMA synchronous={_SQLITE_SYNCHRONOUS_NORMAL}")
        info[_LOWERED] = level
    elif not lowered and restore is not None:
        if restore > _SQLITE_SYNCHRONOUS_NORMAL:
            _sqlite_pragma(connection.connection.dbapi_connection, f"PRAGMA synchronous={restore}")
        del info[_LOWERED]


def _sqlite_pragma(dbapi_connection: Any, statement: str) -> int | None:  # noqa: ANN401 - DB-API connection
    """Run a PRAGMA outside any transaction on the DB-API connection; its first value (or None)."""
    try:
        row = dbapi_connection.execute(statement).fetchone()
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, (), error, sqlite3.Error) from error
    return None if row is None else int(row[0])


def _risk_levels(
    account: str,
    symbol: str,
    opened_seq: int,
    stop_loss_price: str | None,
    take_profit_price: str | None,
    trailing_stop_pct: str | None,
    highest_price: str,
    lowest_price: str,
) -> RiskLevels:
    """A row of risk_levels, its columns in table order."""
    return RiskLevels(
        account=account,
        symbol=symbol,
        opened_seq=opened_seq,
        stop_loss_price=_optional_decimal(stop_loss_price),
        take_profit_price=_optional_decimal(take_profit_price),
        trailing_stop_pct=_optional_decimal(trailing_stop_pct),
        highest_price=Decimal(highest_price),
        lowest_price=Decimal(lowest_price),
    )


def _level_row(level: RiskLevels) -> dict[str, Any]:
    return {
        "account": level.account,
        "symbol": level.symbol,
        "opened_seq": level.opened_seq,
        "stop_loss_price": _optional_text(level.stop_loss_price),
        "take_profit_price": _optional_text(level.take_profit_price),
        "trailing_stop_pct": _optional_text(level.trailing_stop_pct),
        "highest_price": decimal_text(level.highest_price),
        "lowest_price": decimal_text(level.lowest_price),
    }


def _optional_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _optional_text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _upsert(insert: Any, key: tuple[str, ...]) -> sa.Insert:  # noqa: ANN401 - a dialect's Insert
    """INSERT … ON CONFLICT (key) DO UPDATE of every other column, for the dialect `insert` comes from."""
    table = insert.table
    others = {c.name: insert.excluded[c.name] for c in table.c if c.name not in key}
    statement: sa.Insert = insert.on_conflict_do_update(index_elements=list(key), set_=others)
    return statement


# Marks and levels are written with these (storage/prepared.py); the upsert is the only dialect-specific one.
_P_UPSERT_PRICE = {
    "sqlite": Prepared(_upsert(sqlite.insert(price_marks), ("symbol",))),
    "postgresql": Prepared(_upsert(postgresql.insert(price_marks), ("symbol",))),
}
_P_UPSERT_LEVELS = {
    "sqlite": Prepared(_upsert(sqlite.insert(risk_levels), ("account", "symbol"))),
    "postgresql": Prepared(_upsert(postgresql.insert(risk_levels), ("account", "symbol"))),
}
# The open cycle of (account, symbol) and the epoch of the fill that opened it; locks the position row.
_P_OPEN_CYCLE_FOR_UPDATE = Prepared(
    sa.select(positions.c.side, positions.c.opened_seq, events.c.epoch)
    .select_from(positions.outerjoin(events, events.c.seq == positions.c.opened_seq))
    .where(positions.c.account == sa.bindparam("k_account"), positions.c.symbol == sa.bindparam("k_symbol"))
    .with_for_update(of=positions)
)
_P_LEVELS_BY_KEY = Prepared(
    sa.select(*risk_levels.c).where(
        risk_levels.c.account == sa.bindparam("k_account"), risk_levels.c.symbol == sa.bindparam("k_symbol")
    )
)
_SQLITE_SYNCHRONOUS_NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
