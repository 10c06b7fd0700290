"""SqlProjectionStore: the read models kept beside the log, inside one transaction (see ports.ProjectionStore)."""

from __future__ import annotations

import importlib
import threading
from collections import namedtuple
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tradeledger.application.ports import OpenCycle, PositionRow, ProjectionSnapshot
from tradeledger.domain.fold_state import ClosedCycles, FoldedRows
from tradeledger.domain.positions import ClosedPosition, Position, PositionKey, PositionSide
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels
from tradeledger.storage.prepared import Params, Prepared
from tradeledger.storage.schema import (
    balance_snapshots,
    closed_positions,
    events,
    head,
    position_snapshots,
    positions,
    price_marks,
    projection_entries,
    risk_levels,
)
from tradeledger.storage.sql import rows
from tradeledger.storage.sql.log import in_chunks


def _upsert(insert: Any, key: tuple[str, ...]) -> sa.Insert:  # noqa: ANN401 - a dialect's Insert
    """INSERT … ON CONFLICT (key) DO UPDATE of every other column, for the dialect `insert` comes from."""
    table = insert.table
    others = {c.name: insert.excluded[c.name] for c in table.c if c.name not in key}
    statement: sa.Insert = insert.on_conflict_do_update(index_elements=list(key), set_=others)
    return statement


# The dialects that have an upsert, and the module whose `insert` builds it.
_UPSERT_DIALECTS = {"sqlite": "sqlalchemy.dialects.sqlite", "postgresql": "sqlalchemy.dialects.postgresql"}


class _Upserts(dict[str, Prepared]):
    """The upsert of `table` by `key` per dialect name (the only dialect-specific statements), built when a
    connection of that dialect first asks: a SQLite ledger never imports the PostgreSQL dialect (~130 M
    instructions of start-up). A dialect without one is a KeyError, as from a plain dict."""

    _lock = threading.Lock()

    def __init__(self, table: sa.Table, key: tuple[str, ...]) -> None:
        super().__init__()
        self._table = table
        self._key = key

    def __missing__(self, dialect: str) -> Prepared:
        module = _UPSERT_DIALECTS[dialect]
        with self._lock:  # one Prepared per dialect, so one name to PREPARE (storage.sql.batching)
            if dialect not in self:
                self[dialect] = Prepared(_upsert(importlib.import_module(module).insert(self._table), self._key))
            return self[dialect]


_P_UPSERT_POSITION = _Upserts(positions, ("account", "symbol"))
_P_UPSERT_PRICE = _Upserts(price_marks, ("symbol",))
_P_UPSERT_LEVELS = _Upserts(risk_levels, ("account", "symbol"))
_P_UPSERT_ENTRY = _Upserts(projection_entries, ("projection", "key"))
_P_INSERT_CLOSED = Prepared(closed_positions.insert())
_P_INSERT_SNAPSHOT = Prepared(position_snapshots.insert())
_P_UPSERT_BALANCE_SNAPSHOT = _Upserts(balance_snapshots, ("seq", "key"))
_BALANCE_SNAPSHOT_COLUMNS = ("seq", "key", "epoch", "amount")
_SNAPSHOT_COLUMNS = tuple(column.name for column in position_snapshots.c)
_POSITION_COLUMNS = tuple(column.name for column in positions.c)
if _SNAPSHOT_COLUMNS[4:] != _POSITION_COLUMNS[2:]:  # pragma: no cover
    raise AssertionError("position_snapshots must hold seq, account, symbol, epoch, then positions' other columns")
if tuple(column.name for column in closed_positions.c) != rows.CLOSED_COLUMNS:  # pragma: no cover
    raise AssertionError("rows.CLOSED_COLUMNS must name the columns of closed_positions in table order")
_P_POSITION_BY_KEY = Prepared(
    sa.select(*positions.c).where(
        positions.c.account == sa.bindparam("k_account"), positions.c.symbol == sa.bindparam("k_symbol")
    )
)
_POSITIONS_BY_KEYS = sa.select(*positions.c).where(
    positions.c.account.in_(sa.bindparam("accounts", expanding=True)),
    positions.c.symbol.in_(sa.bindparam("symbols", expanding=True)),
)
# Rows from Prepared are plain tuples: named by column, as rows.position reads them.
_PositionTuple = namedtuple("_PositionTuple", [column.name for column in positions.c])  # type: ignore[misc]  # noqa: PYI024
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
_P_ENTRY_BY_KEY = Prepared(
    sa.select(projection_entries.c.value).where(
        projection_entries.c.projection == sa.bindparam("k_projection"),
        projection_entries.c.key == sa.bindparam("k_key"),
    )
)
_FEW_KEYS = 8  # up to this many keys (an append's balances) are read one prepared lookup each
_CHECKPOINT = sa.select(head.c.checkpoint_epoch, head.c.checkpoint_seq, head.c.checkpoint_hash).where(head.c.id == 1)


class SqlProjectionStore:
    """The projections as one transaction sees them; `moved` is the checkpoint written in it, if any."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self.moved: Checkpoint | None = None
        # Read ahead (pipelining.py): rows by key (None: no row), each until its table is written.
        self._known_positions: dict[PositionKey, PositionRow | None] = {}
        self._known_entries: dict[str, dict[str, str | None]] = {}

    @staticmethod
    def ahead(positions: Sequence[PositionKey], entries: Sequence[tuple[str, str]]) -> list[tuple[Prepared, Params]]:
        """The lookups of these position rows and (table, key) entries, as a unit of work reads them ahead."""
        lookups: list[tuple[Prepared, Params]] = [
            (_P_POSITION_BY_KEY, {"k_account": account, "k_symbol": symbol}) for account, symbol in positions
        ]
        return lookups + [(_P_ENTRY_BY_KEY, {"k_projection": table, "k_key": key}) for table, key in entries]

    def read_ahead(
        self,
        positions: Sequence[PositionKey],
        entries: Sequence[tuple[str, str]],
        results: Sequence[list[tuple[Any, ...]]],
    ) -> None:
        """Take the rows of `ahead(positions, entries)`."""
        for position, found in zip(positions, results[: len(positions)], strict=True):
            stored: Any = _PositionTuple(*found[0]) if found else None
            self._known_positions[position] = (
                None if stored is None else (rows.position(stored), rows.closed_totals(stored))
            )
        for (table, name), found in zip(entries, results[len(positions) :], strict=True):
            self._known_entries.setdefault(table, {})[name] = found[0][0] if found else None

    def known(self, table: str, key: str, value: str | None) -> None:
        """Take the entry `key` of `table` (None: none stored) as a unit of work read it ahead (store.py)."""
        self._known_entries.setdefault(table, {})[key] = value

    def checkpoint(self) -> Checkpoint:
        if self.moved is not None:
            return self.moved
        return Checkpoint(*self._connection.execute(_CHECKPOINT).one())

    def positions(self, keys: Collection[PositionKey] | None = None) -> dict[PositionKey, PositionRow]:
        connection = self._connection
        if keys is None:
            return {
                (r.account, r.symbol): (rows.position(r), rows.closed_totals(r))
                for r in connection.execute(sa.select(*positions.c))
            }
        found: dict[PositionKey, PositionRow] = {}
        known = self._known_positions
        if known and all(key in known for key in keys):
            return {key: kept for key in keys if (kept := known[key]) is not None}
        if len(keys) == 1:  # the single append: one prepared statement
            ((account, symbol),) = keys
            for values in _P_POSITION_BY_KEY.rows(connection, {"k_account": account, "k_symbol": symbol}):
                row: Any = _PositionTuple(*values)
                found[(account, symbol)] = (rows.position(row), rows.closed_totals(row))
            return found
        for chunk in in_chunks(sorted(set(keys))):
            wanted = set(chunk)
            accounts, symbols = sorted({key[0] for key in chunk}), sorted({key[1] for key in chunk})
            for row in connection.execute(_POSITIONS_BY_KEYS, {"accounts": accounts, "symbols": symbols}):
                key = (row.account, row.symbol)
                if key in wanted:
                    found[key] = (rows.position(row), rows.closed_totals(row))
        return found

    def open_positions(self, *, account: str | None = None, symbol: str | None = None) -> tuple[Position, ...]:
        query = sa.select(*positions.c).where(positions.c.side.is_not(None))
        if account is not None:
            query = query.where(positions.c.account == account)
        if symbol is not None:
            query = query.where(positions.c.symbol == symbol)
        found = (
            rows.position(row)
            for row in self._connection.execute(query.order_by(positions.c.account, positions.c.symbol))
        )
        return tuple(position for position in found if position is not None)

    def closed(self) -> list[ClosedPosition]:
        query = sa.select(*closed_positions.c).order_by(closed_positions.c.closed_seq)
        return [rows.closed(row) for row in self._connection.execute(query)]

    def write(
        self, new_rows: Mapping[PositionKey, PositionRow], closed: Iterable[ClosedPosition], checkpoint: Checkpoint
    ) -> None:
        connection = self._connection
        self._known_positions = {}
        upsert = _P_UPSERT_POSITION[connection.dialect.name]
        if isinstance(new_rows, FoldedRows):  # a batch's or a rebuild's: from the fold's values, no Position built
            values = [rows.folded_values(key, *row) for key, row in new_rows.stored()]
        else:
            values = [rows.position_values(key, *row) for key, row in new_rows.items()]
        upsert.run_rows(connection, _POSITION_COLUMNS, values)
        if isinstance(closed, ClosedCycles):  # a batch's or a rebuild's: from their values, no ClosedPosition built
            closed_values = [rows.closed_values(cycle) for cycle in closed.stored()]
        else:
            closed_values = [rows.closed_cycle_values(cycle) for cycle in closed]
        _P_INSERT_CLOSED.run_rows(connection, rows.CLOSED_COLUMNS, closed_values)
        self.moved = checkpoint

    def clear(self) -> None:
        self._known_positions = {}
        for table in (positions, closed_positions, position_snapshots, balance_snapshots):
            self._connection.execute(table.delete())

    def rewind(self, seq: int) -> None:
        self._known_positions = {}
        execute = self._connection.execute
        execute(positions.delete())
        execute(closed_positions.delete().where(closed_positions.c.closed_seq > seq))
        execute(position_snapshots.delete().where(position_snapshots.c.seq > seq))
        execute(balance_snapshots.delete().where(balance_snapshots.c.seq > seq))

    def write_snapshot(
        self, at: Checkpoint, new_rows: Mapping[PositionKey, PositionRow], balances: Mapping[str, str]
    ) -> None:
        # Tuples in column order, one executemany: a rebuild writes a snapshot of every key every
        # `snapshot_every` events (a dict per row through Connection.execute cost ~30 µs a row).
        seq, epoch = at.seq, at.epoch
        if isinstance(new_rows, FoldedRows):  # a rebuild's: from the fold's values, no Position or Totals built
            values = [
                (seq, key[0], key[1], epoch, *rows.folded_values(key, *row)[2:]) for key, row in new_rows.stored()
            ]
        else:
            values = [
                (seq, key[0], key[1], epoch, *rows.position_values(key, *row)[2:]) for key, row in new_rows.items()
            ]
        if not values:
            return
        _P_INSERT_SNAPSHOT.run_rows(self._connection, _SNAPSHOT_COLUMNS, values)
        amounts = [(seq, key, epoch, amount) for key, amount in balances.items()]
        if amounts:
            # Upserted: rows already at `seq` are of another epoch, left by a process of before revision 0008
            # (still running after an upgrade), whose rollback keeps the balance rows past its target. Replaced,
            # never in the way; any other key of theirs stays, of its epoch, which load_snapshot does not read.
            upsert = _P_UPSERT_BALANCE_SNAPSHOT[self._connection.dialect.name]
            upsert.run_rows(self._connection, _BALANCE_SNAPSHOT_COLUMNS, amounts)

    def snapshot_seqs(self) -> list[int]:
        query = sa.select(position_snapshots.c.seq).distinct().order_by(position_snapshots.c.seq)
        return list(self._connection.execute(query).scalars())

    def load_snapshot(self, *, until_seq: int | None = None) -> ProjectionSnapshot | None:
        latest = sa.select(sa.func.max(position_snapshots.c.seq))
        if until_seq is not None:
            latest = latest.where(position_snapshots.c.seq <= until_seq)
        seq = self._connection.execute(latest).scalar()
        if seq is None:
            return None
        found = list(self._connection.execute(sa.select(*position_snapshots.c).where(position_snapshots.c.seq == seq)))
        by_key = {(row.account, row.symbol): (rows.position(row), rows.closed_totals(row)) for row in found}
        epoch = min(row.epoch for row in found)
        c = balance_snapshots.c  # only those of the positions' epoch (see write_snapshot): others are not its own
        query = sa.select(c.key, c.amount).where(c.seq == seq, c.epoch == epoch)
        amounts = dict(self._connection.execute(query).all())
        return ProjectionSnapshot(seq, epoch, by_key, amounts)

    def marks(self) -> Marks:
        prices = {row.symbol: rows.price_mark(row) for row in self._connection.execute(sa.select(*price_marks.c))}
        levels = {
            (row.account, row.symbol): rows.risk_levels(*row)
            for row in self._connection.execute(sa.select(*risk_levels.c))
        }
        return Marks(prices, levels)

    def put_prices(self, prices: Sequence[PriceMark]) -> None:
        _P_UPSERT_PRICE[self._connection.dialect.name].run_many(self._connection, [rows.price_row(p) for p in prices])

    def lock_open_cycle(self, key: PositionKey) -> OpenCycle | None:
        values = {"k_account": key[0], "k_symbol": key[1]}
        found = _P_OPEN_CYCLE_FOR_UPDATE.rows(self._connection, values)
        if not found or found[0][0] is None:
            return None
        side, opened_seq, epoch = found[0]
        # Read once the position row is locked: a level writer locks it first, so this is the latest.
        levels = _P_LEVELS_BY_KEY.rows(self._connection, values)
        return OpenCycle(opened_seq, epoch, PositionSide(side), rows.risk_levels(*levels[0]) if levels else None)

    def put_levels(self, levels: RiskLevels) -> None:
        _P_UPSERT_LEVELS[self._connection.dialect.name].run(self._connection, rows.level_row(levels))

    def drop_levels_after(self, seq: int) -> None:
        self._connection.execute(risk_levels.delete().where(risk_levels.c.opened_seq > seq))

    def entries(self, table: str, keys: Collection[str] | None = None) -> dict[str, str]:
        found: dict[str, str] = {}
        known = self._known_entries.get(table)
        if known and keys is not None and all(key in known for key in keys):
            return {key: value for key in keys if (value := known[key]) is not None}
        if keys is not None and len(keys) <= _FEW_KEYS:  # an append's balances: ~5 µs a lookup, not ~500 µs
            for key in keys:  # one each: an IN (...) of two keys measured slower on SQLite and PostgreSQL
                for (value,) in _P_ENTRY_BY_KEY.rows(self._connection, {"k_projection": table, "k_key": key}):
                    found[key] = value
            return found
        c = projection_entries.c
        query = sa.select(c.key, c.value).where(c.projection == table)
        if keys is None:
            return dict(self._connection.execute(query).all())
        for chunk in in_chunks(sorted(set(keys))):
            found.update((key, value) for key, value in self._connection.execute(query.where(c.key.in_(chunk))))
        return found

    def put_entries(self, table: str, values: Mapping[str, str | None]) -> None:
        c = projection_entries.c
        self._known_entries.pop(table, None)
        kept = [{"projection": table, "key": key, "value": value} for key, value in values.items() if value is not None]
        gone = [key for key, value in values.items() if value is None]
        _P_UPSERT_ENTRY[self._connection.dialect.name].run_many(self._connection, kept)
        for chunk in in_chunks(gone):
            self._connection.execute(projection_entries.delete().where(c.projection == table, c.key.in_(chunk)))

    def entry_tables(self) -> list[str]:
        c = projection_entries.c
        return list(self._connection.execute(sa.select(c.projection).distinct().order_by(c.projection)).scalars())
