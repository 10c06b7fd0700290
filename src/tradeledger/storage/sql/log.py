"""SqlEventLog: the hash-chained log and the admin log, inside one transaction (see ports.EventLog)."""

from __future__ import annotations

import weakref
from collections.abc import Collection, Generator, Iterator, Sequence
from itertools import islice, repeat
from operator import attrgetter, is_not, itemgetter
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from tradeledger.application.ports import AccountKey, EventKey
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.records import NAMES_LOTS, Checkpoint, StoredEvent, formats_of, latest_naming_lots
from tradeledger.errors import StorageError
from tradeledger.storage.prepared import Params, Prepared
from tradeledger.storage.schema import admin_log, events, head, rollback_removed
from tradeledger.storage.sql.ending import after_failure

_Item = TypeVar("_Item")

IN_CHUNK = 500  # keys per IN (...) lookup, well under every dialect's bound-parameter limit
READ_CHUNK = 10_000  # rows fetched at a time by a long read (a server-side cursor on PostgreSQL)
_LISTED = 10_000  # a rollback's removed (seq, hash) rows inserted at a time

_HEAD = sa.select(head.c.epoch, head.c.seq, head.c.hash, head.c.lots_named_until).where(head.c.id == 1)
# The append path's statements run on the DB-API cursor (storage/prepared.py): ~5 µs each instead of ~60.
_P_HEAD = Prepared(_HEAD)
_P_HEAD_FOR_UPDATE = Prepared(_HEAD.with_for_update())
_P_EVENT_BY_KEY = Prepared(
    sa.select(*events.c).where(
        events.c.fill_id == sa.bindparam("k_fill_id"),
        events.c.account == sa.bindparam("k_account"),
        events.c.exchange == sa.bindparam("k_exchange"),
    )
)
# An id's events in one account on any exchange (the unique key's leading columns: fill_id, account), in seq order.
_P_EVENTS_BY_ID_IN_ACCOUNT = Prepared(
    sa.select(*events.c)
    .where(events.c.fill_id == sa.bindparam("k_fill_id"), events.c.account == sa.bindparam("k_account"))
    .order_by(events.c.seq)
)
_P_INSERT_EVENT = Prepared(events.insert())
# rollback --to-time: one statement (a scan in the database, ~40x faster at 200k events than reading them here).
_P_FIRST_RECORDED_AFTER = Prepared(
    sa.select(sa.func.min(events.c.seq)).where(events.c.recorded_at > sa.bindparam("k_time"))
)
# A rollback's new mark (EventLog.lots_named_until): one statement, a scan of the log (a rollback is rare). LIKE is
# case-insensitive on SQLite: a mark as late or later than `latest_naming_lots` finds, never earlier.
_LATEST_NAMING_LOTS = {
    dialect: sa.select(
        sa.func.max(events.c.occurred_at.collate("C") if dialect == "postgresql" else events.c.occurred_at)
    ).where(events.c.metadata.like(f"%{NAMES_LOTS}%"))
    for dialect in ("sqlite", "postgresql")
}
_P_EVENT_BY_SEQ = Prepared(sa.select(*events.c).where(events.c.seq == sa.bindparam("k_seq")))
# A short range by seq (a subscriber's batch, at most READ_CHUNK events): one statement, its rows at once.
_P_EVENTS_BETWEEN = Prepared(
    sa.select(*events.c)
    .where(events.c.seq > sa.bindparam("k_after"), events.c.seq <= sa.bindparam("k_until"))
    .order_by(events.c.seq)
)


def _rows_query(*, until_seq: bool, until_time: bool, by_time: bool = False, dialect: str = "sqlite") -> sa.Select[Any]:
    """The accounting columns of the events after `after_seq` (and up to `until_seq`, `until_time`), in seq order or,
    `by_time`, by `occurred_at` then seq (the stored times compared as bytes: in PostgreSQL's "C" collation, which a
    database's own may not be)."""
    c = events.c
    columns = (c.seq, c.account, c.exchange, c.symbol, c.side, c.quantity, c.price, c.fee, c.occurred_at)
    query = sa.select(*columns, c.type, c.fees, c.amount, c.currency).where(c.seq > sa.bindparam("after_seq"))
    if until_seq:
        query = query.where(c.seq <= sa.bindparam("until_seq"))
    if until_time:
        query = query.where(c.occurred_at <= sa.bindparam("until_time"))
    if by_time:
        occurred = c.occurred_at.collate("C") if dialect == "postgresql" else c.occurred_at
        return query.order_by(occurred, c.seq)
    return query.order_by(c.seq)


# rows(): one statement per set of bounds, keyed by (until_seq given, until_time given, by_time); PostgreSQL's run
# through SQLAlchemy (_ROWS), SQLite's prepared (_P_ROWS).
_BOUNDS = [(seq, time, by_time) for seq in (False, True) for time in (False, True) for by_time in (False, True)]
_ROWS = {
    (seq, time, by_time): _rows_query(until_seq=seq, until_time=time, by_time=by_time, dialect="postgresql")
    for seq, time, by_time in _BOUNDS
}
_P_ROWS = {
    (seq, time, by_time): Prepared(_rows_query(until_seq=seq, until_time=time, by_time=by_time))
    for seq, time, by_time in _BOUNDS
}
# Batches look keys up with IN (...): built once, expanding parameters, run through SQLAlchemy.
_EVENTS_BY_FILL_IDS = sa.select(*events.c).where(events.c.fill_id.in_(sa.bindparam("fill_ids", expanding=True)))
# The log's exchange names, each once: a loose scan of ix_ledger_events_exchange (revision 0011), a look-up for the
# least name, then for the least after each (SQLite and PostgreSQL read min() of an indexed column off the index).
# `seq > 0` is the partial index's predicate (every event meets it): a query must state it to use the index.
_EXCHANGES = sa.text(
    "WITH RECURSIVE names(exchange) AS (SELECT min(exchange) FROM ledger_events WHERE seq > 0 UNION ALL "
    "SELECT (SELECT min(later.exchange) FROM ledger_events AS later WHERE later.seq > 0 "
    "AND later.exchange > names.exchange) "
    "FROM names WHERE names.exchange IS NOT NULL) "
    "SELECT exchange FROM names WHERE exchange IS NOT NULL"
)
_EVENT_COLUMNS = tuple(column.name for column in events.c)
_EVENT_ROW = attrgetter(*_EVENT_COLUMNS)  # a StoredEvent as a row of ledger_events, in column order
if list(_EVENT_COLUMNS) != list(StoredEvent.__dataclass_fields__):  # pragma: no cover
    raise AssertionError("ledger_events' columns and StoredEvent's fields must be in the same order")


# The columns an event may leave NULL (nullable, no server default): on SQLite, those NULL in every row of an
# append are left out of its INSERT, which stores NULL there just the same. CPython 3.11's sqlite3 formats and
# drops an AttributeError for each None it binds (~3 k instructions; a v2 fill has ~8 Nones).
_NULLABLE = tuple(
    index
    for index, column in enumerate(events.c)
    if column.nullable and column.server_default is None and not column.primary_key
)
_P_INSERTS: dict[tuple[int, ...], tuple[Prepared, tuple[str, ...], itemgetter[Any]]] = {}  # by columns kept


def _insert_events(connection: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert the event rows (values of _EVENT_COLUMNS) without the columns that are NULL in all of them."""
    values = list(zip(*rows, strict=True))  # column by column
    kept = tuple(
        index for index, column in enumerate(values) if index not in _NULLABLE or any(map(is_not, column, repeat(None)))
    )
    if len(kept) == len(values):
        _P_INSERT_EVENT.run_rows(connection, _EVENT_COLUMNS, rows)
        return
    found = _P_INSERTS.get(kept)
    if found is None:
        names = tuple(_EVENT_COLUMNS[index] for index in kept)
        statement = events.insert().values({name: sa.bindparam(name) for name in names})
        found = _P_INSERTS[kept] = (Prepared(statement), names, itemgetter(*kept))
    prepared, names, pick = found
    prepared.run_rows(connection, names, list(zip(*pick(values), strict=True)))


def in_chunks(items: list[Any]) -> Iterator[list[Any]]:
    """`items` in lists of at most IN_CHUNK, one IN (...) lookup each."""
    size = IN_CHUNK
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _follows(previous: Checkpoint, new: Sequence[StoredEvent]) -> Checkpoint:
    """The head after `new`, which must continue the chain at `previous` (seq + 1, prev_hash) event by event."""
    seq, at_hash = previous.seq, previous.hash  # followed event by event, a Checkpoint only at the end
    for event in new:
        if event.seq != seq + 1 or event.prev_hash != at_hash:
            raise StorageError(
                f"seq {event.seq}: an append must continue the log at seq {seq + 1} after hash {at_hash[:12]}; "
                "nothing was written"
            )
        seq, at_hash = event.seq, event.hash
    return new[-1].checkpoint if new else previous


def _server_side_rows(
    connection: sa.Connection, query: sa.Select[Any], values: dict[str, Any]
) -> Generator[ExecutionRow, None, None]:
    """PostgreSQL: a server-side cursor (yield_per), so a long log is never held whole in memory.
    `with`: a caller that stops early closes the cursor with the generator."""
    with connection.execute(query, values, execution_options={"yield_per": READ_CHUNK}) as result:
        yield from cast("Iterator[ExecutionRow]", result)  # a Row is a tuple


def _prepared_range(connection: sa.Connection, after_seq: int, until_seq: int | None) -> list[tuple[Any, ...]] | None:
    """The rows of a short read by seq through one prepared statement, fetched at once (None for a long one):
    one event (replaying.event_at: a snapshot's checkpoint, a replay's last event; ~0.7 ms of statement
    building and result set-up less), or at most READ_CHUNK events (a subscriber's batch; on PostgreSQL no
    server-side cursor, whose DECLARE, FETCH and CLOSE were four round trips)."""
    if until_seq is None:
        return None
    if after_seq == until_seq - 1:
        return _P_EVENT_BY_SEQ.rows(connection, {"k_seq": until_seq})
    if until_seq - after_seq <= READ_CHUNK:
        return _P_EVENTS_BETWEEN.rows(connection, {"k_after": after_seq, "k_until": until_seq})
    return None


class SqlEventLog:
    """The log as one transaction sees it. In a unit of work the head is locked at its first read and
    `moved` holds where appends, admin records or a truncation put it (the unit of work writes it)."""

    def __init__(self, connection: sa.Connection, *, writing: bool) -> None:
        self._connection = connection
        self._writing = writing
        self._head: Checkpoint | None = None
        self._lots_until: str | None = None  # lots_named_until, read with the head
        self.lots_moved = False  # by an append or a truncation: the unit of work writes it with the head
        self.moved: Checkpoint | None = None
        self._known: dict[EventKey, StoredEvent | None] = {}  # read ahead (pipelining.py), until the log is written
        self._known_anywhere: dict[AccountKey, list[StoredEvent]] = {}  # likewise, for find_anywhere
        self._streams: weakref.WeakSet[Generator[Any, None, None]] | None = None  # see close_streams

    def ahead(self, keys: Sequence[EventKey], anywhere: Sequence[AccountKey] = ()) -> list[tuple[Prepared, Params]]:
        """The head's lock, the lookups of `keys` and those of `anywhere` (find_anywhere), as a unit of work reads
        them ahead (in this order)."""
        queries: list[tuple[Prepared, Params]] = [(_P_HEAD_FOR_UPDATE, {})]
        queries += [
            (_P_EVENT_BY_KEY, {"k_fill_id": fill_id, "k_account": account, "k_exchange": exchange})
            for account, exchange, fill_id in keys
        ]
        queries += [
            (_P_EVENTS_BY_ID_IN_ACCOUNT, {"k_fill_id": ident, "k_account": account}) for account, ident in anywhere
        ]
        return queries

    def read_ahead(
        self, keys: Sequence[EventKey], anywhere: Sequence[AccountKey], results: Sequence[list[tuple[Any, ...]]]
    ) -> None:
        """Take the rows of `ahead(keys, anywhere)`: the head (locked) and what is stored under each key."""
        (head_row,), *found = results
        self._head, self._lots_until = Checkpoint(*head_row[:3]), head_row[3]
        by_key, by_id = found[: len(keys)], found[len(keys) :]
        self._known = {key: StoredEvent(*rows[0]) if rows else None for key, rows in zip(keys, by_key, strict=True)}
        self._known_anywhere = {
            key: [StoredEvent(*row) for row in rows] for key, rows in zip(anywhere, by_id, strict=True)
        }

    def locked(
        self,
        head: Checkpoint,
        lots_until: str | None,
        absent: Sequence[EventKey] = (),
        absent_anywhere: Sequence[AccountKey] = (),
    ) -> None:
        """Take the head a unit of work read (locked) with other things, with `lots_named_until`, and keys it found
        no event under (SQLite's read ahead, store.py)."""
        self._head, self._lots_until = head, lots_until
        self._known = dict.fromkeys(absent)
        self._known_anywhere = {key: [] for key in absent_anywhere}

    def head(self) -> Checkpoint:
        if self._head is None:
            (row,) = (_P_HEAD_FOR_UPDATE if self._writing else _P_HEAD).rows(self._connection)
            self._head, self._lots_until = Checkpoint(*row[:3]), row[3]
        return self._head

    def lots_named_until(self) -> str | None:
        self.head()  # read with it
        return self._lots_until

    def mark_lots_named(self) -> str | None:
        self.head()  # locked first, in a unit of work
        self._lots_until = self._connection.scalar(_LATEST_NAMING_LOTS[self._connection.dialect.name])
        self.lots_moved = True
        return self._lots_until

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
        filters = (symbol, account, seqs, exchange, occurred_from, occurred_until, order_ids)
        return self._opened(self._read(after_seq, until_seq, *filters))

    def _read(
        self,
        after_seq: int,
        until_seq: int | None,
        symbol: str | None,
        account: str | None,
        seqs: Collection[int] | None,
        exchange: str | None,
        occurred_from: str | None,
        occurred_until: str | None,
        order_ids: Collection[str] | None,
    ) -> Generator[StoredEvent, None, None]:
        if (symbol, account, seqs, exchange, occurred_from, occurred_until, order_ids) == (None,) * 7:
            found = _prepared_range(self._connection, after_seq, until_seq)
            if found is not None:
                for row in found:
                    yield StoredEvent(*row)
                return
        c = events.c
        conditions = (
            None if seqs is None else c.seq.in_(sorted(seqs)),
            c.seq > after_seq if after_seq else None,
            None if until_seq is None else c.seq <= until_seq,
            None if symbol is None else c.symbol == symbol,
            None if account is None else c.account == account,
            None if exchange is None else c.exchange == exchange,
            None if occurred_from is None else c.occurred_at >= occurred_from,
            None if occurred_until is None else c.occurred_at <= occurred_until,
            None if order_ids is None else c.order_id.in_(sorted(order_ids)),  # ix_ledger_events_order_id
        )
        query = sa.select(*c).where(*(given for given in conditions if given is not None)).order_by(c.seq)
        # Per statement: Connection.execution_options() would change the connection for every later one.
        # `with`: a caller that stops early closes the (server-side, on PostgreSQL) cursor with the generator.
        with self._connection.execute(query, execution_options={"yield_per": READ_CHUNK}) as result:
            for row in result:
                yield StoredEvent(*row)

    def rows(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        until_time: str | None = None,
        by_time: bool = False,
    ) -> Iterator[ExecutionRow]:
        bounds = (until_seq is not None, until_time is not None, by_time)
        values: dict[str, Any] = {"after_seq": after_seq}
        if until_seq is not None:
            values["until_seq"] = until_seq
        if until_time is not None:
            values["until_time"] = until_time
        connection = self._connection
        if connection.dialect.name == "sqlite":  # the DB-API cursor streams: ~0.5 µs a row less
            # Its generator itself, not one of ours around it: a generator step less per row.
            return self._opened(cast("Generator[ExecutionRow, None, None]", _P_ROWS[bounds].stream(connection, values)))
        return self._opened(_server_side_rows(connection, _ROWS[bounds], values))

    def _opened(self, stream: Generator[_Item, None, None]) -> Generator[_Item, None, None]:
        """`stream`, kept (weakly) to be closed with the transaction (`close_streams`)."""
        if self._streams is None:
            self._streams = weakref.WeakSet()
        self._streams.add(stream)
        return stream

    def close_streams(self) -> None:
        """Close the cursor of every stream of this transaction still open, while its connection is.

        A reader that stopped on an error (a fold's refusal, a row that does not read) leaves its stream
        suspended, kept alive by the error's traceback; closed only when that dies, after the transaction
        (and, in a command, the connection) ended, its cursor's close would fail ("Exception ignored" on
        stderr). A stream read to its end, or closed by its reader, is closed already: closing it again does
        nothing."""
        streams, self._streams = self._streams, None
        pending = list(streams or ())
        for index, stream in enumerate(pending):
            try:
                stream.close()
            except BaseException as failed:  # the others closed too, this first failure raised (ending.py)
                for other in pending[index + 1 :]:
                    after_failure(failed, "closing another stream", other.close)
                raise

    def first_recorded_after(self, time_bound: str) -> int | None:
        ((seq,),) = _P_FIRST_RECORDED_AFTER.rows(self._connection, {"k_time": time_bound})
        return cast("int | None", seq)

    def find(self, keys: Collection[EventKey]) -> dict[EventKey, StoredEvent]:
        found: dict[EventKey, StoredEvent] = {}
        wanted = set(keys)
        known = self._known
        if known and all(key in known for key in wanted):
            return {key: event for key in wanted if (event := known[key]) is not None}
        if len(wanted) == 1:  # the single append: one prepared statement
            ((account, exchange, fill_id),) = wanted
            values = {"k_fill_id": fill_id, "k_account": account, "k_exchange": exchange}
            for row in _P_EVENT_BY_KEY.rows(self._connection, values):
                found[(account, exchange, fill_id)] = StoredEvent(*row)
            return found
        for chunk in in_chunks(sorted({key[2] for key in wanted})):
            for row in self._connection.execute(_EVENTS_BY_FILL_IDS, {"fill_ids": chunk}):
                event = StoredEvent(*row)
                key = (event.account, event.exchange, event.fill_id)
                if key in wanted:
                    found[key] = event
        return found

    def find_anywhere(self, keys: Collection[AccountKey]) -> list[StoredEvent]:
        wanted = set(keys)
        if not wanted:
            return []
        known = self._known_anywhere
        if known and all(key in known for key in wanted):
            return sorted((event for key in wanted for event in known[key]), key=attrgetter("seq"))
        found: list[StoredEvent] = []
        if len(wanted) == 1:
            ((account, ident),) = wanted
            rows = _P_EVENTS_BY_ID_IN_ACCOUNT.rows(self._connection, {"k_fill_id": ident, "k_account": account})
            return [StoredEvent(*row) for row in rows]
        for chunk in in_chunks(sorted({ident for _, ident in wanted})):
            for row in self._connection.execute(_EVENTS_BY_FILL_IDS, {"fill_ids": chunk}):
                event = StoredEvent(*row)
                if (event.account, event.fill_id) in wanted:
                    found.append(event)
        return sorted(found, key=attrgetter("seq"))

    def append(self, new: Sequence[StoredEvent]) -> None:
        if not new:
            return
        after = _follows(self.head(), new)
        self._known = {}
        self._known_anywhere = {}
        rows = [_EVENT_ROW(event) for event in new]
        if self._connection.dialect.name == "sqlite":
            _insert_events(self._connection, rows)
        else:
            _P_INSERT_EVENT.run_rows(self._connection, _EVENT_COLUMNS, rows)
        self._head = self.moved = after
        lots_until = latest_naming_lots(new, self._lots_until)  # written with the head (store.py)
        if lots_until != self._lots_until:
            self._lots_until, self.lots_moved = lots_until, True

    def formats(self) -> dict[str, list[int]]:
        rows = self._connection.execute(sa.select(events.c.type, events.c.version).distinct())
        return formats_of(rows)

    def last_occurred(
        self,
        account: str,
        exchange: str | None,
        types: Collection[str],
        *,
        symbol: str | None = None,
        kinds: Collection[str] = (),
    ) -> str | None:
        c = events.c
        conditions = [c.account == account, c.type.in_(sorted(types))]
        if exchange is not None:
            conditions.append(c.exchange == exchange)
        if symbol is not None:
            conditions.append(c.symbol == symbol)
        if kinds:
            conditions.append(c.kind.in_(sorted(kinds)))
        latest: str | None = self._connection.scalar(sa.select(sa.func.max(c.occurred_at)).where(*conditions))
        return latest

    def exchanges(self) -> frozenset[str]:
        return frozenset(self._connection.scalars(_EXCHANGES))

    def symbols(self, account: str, exchange: str) -> list[str]:
        c = events.c
        held = sa.select(c.symbol).where(
            c.account == account, c.exchange == exchange, c.type != "transfer", c.symbol.is_not(None)
        )
        return sorted(self._connection.scalars(held.distinct()))

    def admin_records(self) -> list[AdminRecord]:
        rows = self._connection.execute(sa.select(*admin_log.c).order_by(admin_log.c.id))
        return [AdminRecord(*row) for row in rows]

    def append_admin(self, records: Sequence[AdminRecord], head: Checkpoint) -> None:
        self.head()
        self._known = {}
        if records:
            self._connection.execute(admin_log.insert(), [record.as_dict() for record in records])
        self._head = self.moved = head

    def truncate(self, record: AdminRecord) -> None:
        self.head()
        self._known = {}
        self._connection.execute(admin_log.insert(), record.as_dict())
        # The delete trigger lets an event go only with the hash a record lists for its seq.
        listed = record.each_removed_event()  # parsed a part at a time (issue 19: not a list of every removed event)
        while removed := [{"record_id": record.id, "seq": e.seq, "hash": e.hash} for e in islice(listed, _LISTED)]:
            self._connection.execute(rollback_removed.insert(), removed)
        self._connection.execute(events.delete().where(events.c.seq > record.to_seq))
        self._head = self.moved = record.head_after
        self.mark_lots_named()
