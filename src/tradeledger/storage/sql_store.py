"""SqlLedgerStore: the log and the position projection in SQLAlchemy Core, any dialect."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from tradeledger.domain.fills import Side, decimal_text, time_text
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
from tradeledger.errors import StorageError
from tradeledger.storage.engine import WRITE, snapshot_options
from tradeledger.storage.schema import (
    POSITIONS_PROJECTION,
    checkpoints,
    closed_positions,
    events,
    head,
    positions,
)

EventKey = tuple[str, str, str]
_IN_CHUNK = 500  # keys per IN (...) lookup, well under every dialect's bound-parameter limit
_READ_CHUNK = 10_000


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become StorageError, naming what the database said."""
    try:
        yield
    except exc.DBAPIError as error:
        raise StorageError(f"the database refused the operation: {error.orig}") from error


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
    result = connection.execution_options(yield_per=_READ_CHUNK).execute(query)
    for seq, account, symbol, side, quantity, price, fee, occurred_at in result:
        yield Execution(
            seq, account, symbol, sides[side], Decimal(quantity), Decimal(price), Decimal(fee), fromiso(occurred_at)
        )


# Statements built once: SQLAlchemy then reuses their compiled form on every append.
_HEAD_FOR_UPDATE = sa.select(head.c.epoch, head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update()
_MOVE_HEAD = head.update().where(head.c.id == 1)
_MOVE_CHECKPOINT = checkpoints.update().where(checkpoints.c.name == POSITIONS_PROJECTION)
_UPDATE_POSITION = (
    positions.update()
    .where(positions.c.account == sa.bindparam("b_account"), positions.c.symbol == sa.bindparam("b_symbol"))
    .values({c.name: sa.bindparam(c.name) for c in positions.c if c.name not in ("account", "symbol")})
)


class SqlAppendBatch:
    """One write transaction on the log (see AppendBatch)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self._head: Checkpoint | None = None
        self._existing_positions: set[PositionKey] = set()

    def head(self) -> Checkpoint:
        if self._head is None:
            row = self._connection.execute(_HEAD_FOR_UPDATE).one()
            self._head = Checkpoint(row.epoch, row.seq, row.hash)
        return self._head

    def select_existing(self, keys: Collection[EventKey]) -> dict[EventKey, StoredEvent]:
        found: dict[EventKey, StoredEvent] = {}
        wanted = set(keys)
        fill_ids = sorted({key[2] for key in wanted})
        for chunk in _chunks(fill_ids, _IN_CHUNK):
            rows = self._connection.execute(sa.select(*events.c).where(events.c.fill_id.in_(chunk)))
            for row in rows:
                event = _event(row)
                key = (event.account, event.exchange, event.fill_id)
                if key in wanted:
                    found[key] = event
        return found

    def select_positions(self, keys: Collection[PositionKey]) -> dict[PositionKey, tuple[Position | None, Totals]]:
        found: dict[PositionKey, tuple[Position | None, Totals]] = {}
        for chunk in _chunks(sorted(set(keys)), _IN_CHUNK):
            wanted = set(chunk)
            query = sa.select(*positions.c).where(
                positions.c.account.in_(sorted({key[0] for key in chunk})),
                positions.c.symbol.in_(sorted({key[1] for key in chunk})),
            )
            for row in self._connection.execute(query):
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
        event_rows = [event.as_dict() for event in new_events]
        if not event_rows:
            return
        connection.execute(events.insert(), event_rows)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, (position, totals) in new_positions.items():
            row = _position_row(key, position, totals)
            (updates if key in self._existing_positions else inserts).append(row)
        if inserts:
            connection.execute(positions.insert(), inserts)
        if updates:
            connection.execute(
                _UPDATE_POSITION, [{**row, "b_account": row["account"], "b_symbol": row["symbol"]} for row in updates]
            )
        closed_rows = [_closed_row(item) for item in closed]
        if closed_rows:
            connection.execute(closed_positions.insert(), closed_rows)
        values = {"epoch": new_head.epoch, "seq": new_head.seq, "hash": new_head.hash}
        connection.execute(_MOVE_HEAD, values)
        connection.execute(_MOVE_CHECKPOINT, values)


class SqlSnapshot:
    """Reads inside one transaction (see LedgerSnapshot)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def head(self) -> Checkpoint:
        row = self._connection.execute(sa.select(head.c.epoch, head.c.seq, head.c.hash).where(head.c.id == 1)).one()
        return Checkpoint(row.epoch, row.seq, row.hash)

    def checkpoint(self) -> Checkpoint:
        row = self._connection.execute(
            sa.select(checkpoints.c.epoch, checkpoints.c.seq, checkpoints.c.hash).where(
                checkpoints.c.name == POSITIONS_PROJECTION
            )
        ).one()
        return Checkpoint(row.epoch, row.seq, row.hash)

    def read_events(self, *, symbol: str | None = None, account: str | None = None) -> Iterator[StoredEvent]:
        query = sa.select(*events.c).order_by(events.c.seq)
        if symbol is not None:
            query = query.where(events.c.symbol == symbol)
        if account is not None:
            query = query.where(events.c.account == account)
        for row in self._connection.execution_options(yield_per=_READ_CHUNK).execute(query):
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


class SqlLedgerStore:
    """LedgerStore over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @contextmanager
    def append_batch(self) -> Iterator[SqlAppendBatch]:
        with translated_errors(), self._engine.connect().execution_options(**WRITE) as connection, connection.begin():
            yield SqlAppendBatch(connection)

    @contextmanager
    def snapshot(self) -> Iterator[SqlSnapshot]:
        options = snapshot_options(self._engine)
        with translated_errors(), self._engine.connect().execution_options(**options) as connection, connection.begin():
            yield SqlSnapshot(connection)

    def rebuild_projection(self, fold: Callable[[Iterator[Execution]], PositionBook]) -> Checkpoint:
        with translated_errors(), self._engine.connect().execution_options(**WRITE) as connection, connection.begin():
            current = SqlAppendBatch(connection).head()
            book = fold(_executions(connection))
            connection.execute(positions.delete())
            connection.execute(closed_positions.delete())
            rows = [_position_row(key, book.open.get(key), totals) for key, totals in book.closed_totals.items()]
            if rows:
                connection.execute(positions.insert(), rows)
            if book.closed:
                connection.execute(closed_positions.insert(), [_closed_row(item) for item in book.closed])
            connection.execute(_MOVE_CHECKPOINT, {"epoch": current.epoch, "seq": current.seq, "hash": current.hash})
        return current

    def close(self) -> None:
        self._engine.dispose()
