"""Prepared statements: Core statements compiled once per dialect and run on the DB-API cursor.

An append runs about eight small statements, and `Connection.execute` costs ~50-80 µs of Python each
(cache key, parameter processing, result set-up) against a few µs in the driver. The statements of
the append path are therefore SQLAlchemy Core constructs compiled once per dialect (so the SQL and
the parameter style stay the dialect's: `?` on SQLite, `%(name)s` on psycopg) and executed on the
connection's DB-API cursor, inside the transaction SQLAlchemy opened. Driver errors become
SQLAlchemy's `DBAPIError`, as from `Connection.execute`, so `translated_errors` handles both. Only
plain columns (text, integers) go through here: no bind or result processing is needed, and a
statement that would need some is refused when it is compiled.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc

Params = Mapping[str, Any]
BATCH = "tradeledger_batch"  # in a connection's info while a Batch queues its statements (storage.sql.batching)


class Batch(Protocol):
    """Statements queued on a connection and sent together (storage.sql.batching)."""

    def queue(self, prepared: Prepared, values: Sequence[Params]) -> None:
        """Queue `prepared` once per parameter set; it runs, in order, when the batch is sent."""

    def flush(self) -> None:
        """Send what is queued (before a read, which must see it)."""


# The dialects whose units of work queue statements (storage.sql.batching): on any other, a statement does
# not look for a batch (`Connection.info` is three SQLAlchemy properties deep, ~5 k instructions a look).
_BATCHED = frozenset({"postgresql"})


def _batch(connection: sa.Connection) -> Batch | None:
    """The batch open on the connection, if any."""
    if connection.dialect.name not in _BATCHED:
        return None
    batch: Batch | None = connection.info.get(BATCH)
    return batch


_NAMES = itertools.count(1)
_NUMBERED: dict[str, sa.Dialect] = {}  # per dialect name: the same dialect with $1, $2 ... placeholders


class _Compiled:
    __slots__ = ("_pick", "defaults", "names", "positional", "sql")

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        for bind, name in compiled.bind_names.items():
            if bind.expanding or bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"prepared statements take plain values only; {name!r} needs processing")
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        # Values written into the statement (e.g. `id == 1`); the others come with each execution.
        self.defaults: dict[str, Any] = {
            name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required
        }
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Positional and nothing written in: a C-speed pick of the values in order (the hot case).
        self._pick = itemgetter(*self.names) if self.positional and not self.defaults and len(self.names) > 1 else None

    def params(self, values: Params) -> Sequence[Any] | dict[str, Any]:
        if self._pick is not None:
            return self._pick(values)  # type: ignore[no-any-return]
        if self.positional:
            defaults = self.defaults
            return tuple(values[name] if name in values else defaults[name] for name in self.names)
        return {**self.defaults, **values}


class Prepared:
    """One Core statement, compiled on first use per dialect and run on the DB-API cursor.

    While a batch is open on the connection (`BATCH` in its info) the statements that return no rows are
    queued to it, and a query sends what is queued first."""

    __slots__ = ("_compiled", "_numbered", "_statement", "name")

    def __init__(self, statement: sa.Executable) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._numbered: dict[str, tuple[_Compiled, str]] = {}
        self.name = f"tradeledger_{next(_NAMES)}"  # its name when PREPAREd in a session (storage.sql.batching)

    def _for(self, dialect: sa.Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self._statement, dialect)
        return found

    def _numbered_for(self, dialect: sa.Dialect) -> tuple[_Compiled, str]:
        found = self._numbered.get(dialect.name)
        if found is None:
            numbered = _NUMBERED.get(dialect.name)
            if numbered is None:
                numbered = _NUMBERED[dialect.name] = type(dialect)(paramstyle="numeric_dollar")  # type: ignore[call-arg]
            compiled = _Compiled(self._statement, numbered)
            found = self._numbered[dialect.name] = (compiled, f"PREPARE {self.name} AS {compiled.sql}")
        return found

    def sql(self, dialect: sa.Dialect) -> str:
        """The statement's text in the dialect (for one whose values are all written in it)."""
        return self._for(dialect).sql

    def prepare_sql(self, dialect: sa.Dialect) -> str:
        """The PREPARE of this statement under its name (the placeholders $1, $2 ... of the dialect's types)."""
        return self._numbered_for(dialect)[1]

    def execute_params(self, dialect: sa.Dialect, values: Params) -> tuple[Any, ...]:
        """The values of an EXECUTE of this statement PREPAREd, in the order of its placeholders."""
        params = self._numbered_for(dialect)[0].params(values)
        assert isinstance(params, tuple)  # numbered placeholders are positional
        return params

    def rows(self, connection: sa.Connection, values: Params | None = None) -> list[tuple[Any, ...]]:
        """Run a query; its rows as plain tuples, in the order of the selected columns."""
        batch = _batch(connection)
        if batch is not None:
            batch.flush()
        compiled = self._for(connection.dialect)
        found = _execute(connection, compiled.sql, compiled.params(values or {}), fetch=True)
        return found if not found or type(found[0]) is tuple else [tuple(row) for row in found]

    def stream(self, connection: sa.Connection, values: Params | None = None) -> Generator[tuple[Any, ...], None, None]:
        """Run a query; its rows (the driver's tuples) one at a time as the cursor steps, never a list
        of them (a row dies as soon as the caller is done with it). For a driver whose cursor streams
        (SQLite's; psycopg's reads the whole result on execute). The cursor is closed when the
        generator is, also when the caller stops early."""
        compiled = self._for(connection.dialect)
        sql, params = compiled.sql, compiled.params(values or {})
        cursor: Any = None
        try:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(sql, params)
            yield from cursor
        except connection.dialect.loaded_dbapi.Error as error:
            raise dbapi_error(connection, sql, params, error, cursor) from error
        finally:
            if cursor is not None:
                cursor.close()

    def run(self, connection: sa.Connection, values: Params | None = None) -> None:
        """Run one statement that returns no rows."""
        batch = _batch(connection)
        if batch is not None:
            batch.queue(self, [values or {}])
            return
        compiled = self._for(connection.dialect)
        _execute(connection, compiled.sql, compiled.params(values or {}))

    def run_rows(self, connection: sa.Connection, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Run an INSERT once per row, each row holding the values of `columns` in that order."""
        batch = _batch(connection)
        if batch is not None:
            batch.queue(self, [dict(zip(columns, row, strict=True)) for row in rows])
            return
        compiled = self._for(connection.dialect)
        if compiled.positional and compiled.names == tuple(columns) and not compiled.defaults:
            params: Sequence[Any] = rows
        else:
            params = [compiled.params(dict(zip(columns, row, strict=True))) for row in rows]
        if len(params) == 1:  # the single append: execute costs less than executemany
            _execute(connection, compiled.sql, params[0])
        elif params:
            _execute(connection, compiled.sql, params, many=True)

    def run_many(self, connection: sa.Connection, values: Iterable[Params]) -> None:
        """Run one statement once per parameter set (DB-API executemany)."""
        batch = _batch(connection)
        if batch is not None:
            batch.queue(self, list(values))
            return
        compiled = self._for(connection.dialect)
        params = [compiled.params(item) for item in values]
        if len(params) == 1:
            _execute(connection, compiled.sql, params[0])
        elif params:
            _execute(connection, compiled.sql, params, many=True)


def _execute(connection: sa.Connection, sql: str, params: Any, *, many: bool = False, fetch: bool = False) -> Any:  # noqa: ANN401 - a driver's parameters and rows
    """Run `sql` on a DB-API cursor of the connection (executemany with `many`); its rows with `fetch`. A driver
    error (making the cursor's too: a connection the driver closed) leaves as SQLAlchemy's DBAPIError (dbapi_error)."""
    cursor: Any = None
    try:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor.fetchall() if fetch else None
    except connection.dialect.loaded_dbapi.Error as error:
        raise dbapi_error(connection, sql, params, error, cursor) from error
    finally:
        if cursor is not None:
            cursor.close()


def dbapi_error(
    connection: sa.Connection,
    sql: str,
    params: object,
    error: BaseException,
    cursor: object = None,
) -> BaseException:
    """A driver error as SQLAlchemy's DBAPIError, as `Connection.execute` raises it (translated_errors takes it).

    A disconnect (the server restarted or ended the session, a network cut) is handled as `Connection.execute`
    handles one: the connection is invalidated (the next unit of work takes a new one) and so are
    the pool's connections as old as it (dropped by the same restart, each would fail once more when taken out:
    they are replaced when next taken out, without a round trip)."""
    dialect = connection.dialect
    base = dialect.loaded_dbapi.Error
    invalidated = connection.invalidated
    if not invalidated and not connection.closed and isinstance(error, base):
        pooled = connection.connection
        invalidated = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)  # type: ignore[arg-type]
        if invalidated:
            connection.engine.pool._invalidate(pooled, error)  # noqa: SLF001 - what Connection.execute does on a disconnect
            connection.invalidate(error)
    found: Any = params
    return exc.DBAPIError.instance(sql, found, error, base, connection_invalidated=invalidated, dialect=dialect)
