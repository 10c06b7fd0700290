"""PostgreSQL: a unit of work that reads ahead (ports.UnitOfWork.read_ahead) runs in two round trips.

psycopg waits for the server after each statement: an append of one fill ran twelve round trips
(BEGIN, the head, the dedupe lookup, the position, two balances, the event, the position, the
balances, the head, NOTIFY, COMMIT). A unit of work that reads ahead sends two queries instead, each
of several statements (the simple query protocol):

    1: BEGIN; EXECUTE <the head FOR UPDATE>; EXECUTE <each lookup named>          (the rows come back)
    2: EXECUTE <each write, in order>; EXECUTE <the head and checkpoint UPDATE>; NOTIFY ...; COMMIT

- The writes travel with their COMMIT: a client killed once it sent the second query may still have its
  unit of work committed by the server after it died (as with any COMMIT sent), never a part of it. It
  had not acknowledged the fills; sent again, they are duplicates of the committed ones.
- The head is locked before the lookups run: the statements run in order, each in a snapshot of its
  own (READ COMMITTED), so the lookups see every append committed before the lock was granted.
- EXECUTE runs a statement PREPAREd in this session under its name (storage/prepared.py), parsed and
  planned once per connection as psycopg's own prepared statements are; the PREPARE goes in front of
  the first query that needs it. The values are literals quoted by psycopg (Transformer.as_literal,
  as its ClientCursor binds them); the statements' text and casts are SQLAlchemy's.
- The names a session holds are kept in the connection's info; after a failed query or a rollback
  they are read again from pg_prepared_statements (psycopg deallocates every statement of a session
  when it rolls back one where it prepared its own), and a first query that finds one gone is rolled
  back and sent again (nothing was done yet). A name read back is trusted only when the query that
  prepared it holds this statement's own PREPARE (`_prepared_here`): a session shared between
  processes (pgbouncer in transaction mode) may hold another process's statement under the name,
  which is deallocated and prepared again.
- psycopg starts a transaction with a BEGIN of its own and waits for it: the DB-API connection is in
  psycopg's autocommit mode while the unit of work runs, and the first query starts with the BEGIN
  psycopg would send. `release` puts the mode back.
- The writes of the prepared statements are queued (Prepared.run*, while the batch is open) and sent
  with the commit. Whatever reads first sends them (Prepared.rows, and an engine event before any
  statement run through SQLAlchemy), so every statement runs in order and a read sees the writes
  before it. A unit of work left without commit() drops what is queued: it would be rolled back.
- A query goes through psycopg's libpq connection (`_query`; psycopg's cursor costs ~60 µs more CPU
  a query and, measured here, waited twice as long). Its error is raised as SQLAlchemy's DBAPIError,
  like any driver error's, naming what the server said; the unit of work is rolled back as always.

psycopg's pipeline mode was tried first (the same two round trips): it polls the socket after each
statement and measured slower than sending the statements one by one here (docs/benchmarks.md).
"""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from tradeledger.storage.prepared import BATCH, Params, Prepared, dbapi_error

_PREPARED = "tradeledger_prepared"  # in the connection's info: the names PREPAREd in its session
_TOOLS = "tradeledger_batch_tools"  # in the connection's info: psycopg's Transformer for it (see _tools)
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK: a result with rows
_FATAL_ERROR = 7  # psycopg.pq.ExecStatus.FATAL_ERROR
_GONE = "26000"  # invalid_sql_statement_name: a statement was deallocated
_OURS = "SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'tradeledger\\_%'"  # % is plain

Statement = tuple[Prepared, Params] | str  # a prepared statement and its values, or plain SQL (NOTIFY, COMMIT)


class Batch:
    """The queries of one unit of work on its connection (PostgreSQL, psycopg); see the module docstring."""

    __slots__ = ("_autocommit", "_connection", "_queued")

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self._queued: list[Statement] = []
        self._autocommit = False  # this unit of work put the DB-API connection in autocommit mode

    @property
    def open(self) -> bool:
        return self._connection.info.get(BATCH) is self

    def start(self, reads: Sequence[tuple[Prepared, Params]]) -> list[list[tuple[Any, ...]]] | None:
        """BEGIN and `reads`, in order, in one round trip; the rows of each. Later writes are queued. None when
        the transaction has started already (nothing is sent then)."""
        dbapi: Any = self._connection.connection.dbapi_connection
        if dbapi.pgconn.transaction_status != _IDLE:
            return None
        begin = _begin(dbapi)
        dbapi.autocommit = True
        self._autocommit = True
        try:
            found = self._send([begin, *reads], rows=True)
        except sa.exc.DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != _GONE:
                raise
            try:
                dbapi.rollback()  # nothing was done yet: a statement had been deallocated; send it all again
            except self._connection.dialect.loaded_dbapi.Error as failed:
                raise dbapi_error(self._connection, "ROLLBACK", None, failed) from failed
            found = self._send([begin, *reads], rows=True)
        self._connection.info[BATCH] = self
        return found

    def queue(self, prepared: Prepared, values: Sequence[Params]) -> None:
        self._queued.extend((prepared, item) for item in values)

    def queue_sql(self, sql: str) -> None:
        """Queue a statement that cannot be prepared (NOTIFY)."""
        self._queued.append(sql)

    def flush(self) -> None:
        queued, self._queued = self._queued, []
        if queued:
            self._send(queued)

    def commit(self) -> None:
        """Send what is queued and COMMIT, in one round trip; the batch is closed."""
        queued, self._queued = [*self._queued, "COMMIT"], []
        self._connection.info.pop(BATCH, None)
        self._send(queued)

    def close(self) -> None:
        """Drop what is queued (the transaction is rolled back) and stop queueing. On a connection invalidated (lost:
        `prepared.dbapi_error`) its info is not touched: SQLAlchemy would connect again to give it, and a new
        connection's info starts empty."""
        self._queued = []
        if not self._connection.invalidated and self.open:
            del self._connection.info[BATCH]

    def release(self) -> None:
        """After the transaction ended: the DB-API connection back in its own mode (a broken one is dropped)."""
        if not self._autocommit:
            return
        self._autocommit = False
        connection = self._connection
        if connection.invalidated or connection.closed:
            return
        dbapi: Any = connection.connection.dbapi_connection
        if dbapi.closed or dbapi.pgconn.transaction_status != _IDLE:
            connection.invalidate()  # never reused in autocommit mode, nor in an unknown state
            return
        dbapi.autocommit = False

    def _send(self, statements: Sequence[Statement], *, rows: bool = False) -> list[list[tuple[Any, ...]]]:
        """One query of `statements` (PREPAREs in front of those the session lacks); with `rows`, the rows of
        each that returns rows, in order."""
        connection = self._connection
        info = connection.info
        dbapi: Any = connection.connection.dbapi_connection
        sql = b""
        try:
            known: dict[str, str | None] | None = info.get(_PREPARED)
            if known is None:
                known = info[_PREPARED] = dict(dbapi.execute(_OURS).fetchall())
            tools = _tools(dbapi, info)
            added: set[str] = set()
            sql = _text(statements, connection.dialect, tools.as_literal, known, added)
            try:
                results = _query(dbapi, sql)
            except BaseException as error:
                if not isinstance(error, connection.dialect.loaded_dbapi.Error):
                    connection.invalidate()  # interrupted between sending and reading: its state is unknown
                raise
            known.update(dict.fromkeys(added))
            found = []
            for result in results if rows else ():
                if result.status == _TUPLES_OK:
                    tools.set_pgresult(result)
                    found.append(tools.load_rows(0, result.ntuples, tuple))
        except connection.dialect.loaded_dbapi.Error as error:
            info.pop(_PREPARED, None)  # which PREPAREs ran is not known: read them again next time
            raise dbapi_error(connection, sql.decode(errors="replace"), None, error) from error
        return found


def _text(
    statements: Sequence[Statement],
    dialect: sa.Dialect,
    literal: Callable[[object], bytes],
    known: dict[str, str | None],
    added: set[str],
) -> bytes:
    """The query of `statements`: EXECUTEs with their values as literals, a PREPARE before the first EXECUTE of
    a statement the session lacks (its name put in `added`), plain SQL as it is.

    `known` maps the names the session holds to None once they are known to be this process's statements,
    else to the query that prepared them (as pg_prepared_statements has it): a name whose query does not
    hold this statement's PREPARE is another client's, deallocated and prepared again."""
    parts: list[bytes] = []
    for statement in statements:
        if isinstance(statement, str):
            parts.append(statement.encode())
            continue
        prepared, values = statement
        name = prepared.name
        if name not in added and (name not in known or known[name] is not None):
            prepare = prepared.prepare_sql(dialect)
            held = known.get(name)
            if held is not None and _prepared_here(held, prepare):
                known[name] = None  # checked once: this process's statement
            else:
                if held is not None:  # another client's statement under this name
                    parts.append(b"DEALLOCATE " + name.encode())
                parts.append(prepare.encode())
                added.add(name)
        params = prepared.execute_params(dialect, values)
        quoted = b", ".join([b"NULL" if value is None else literal(value) for value in params])
        parts.append(b"EXECUTE %s(%s)" % (name.encode(), quoted) if params else b"EXECUTE " + name.encode())
    return b";\n".join(parts)


def _prepared_here(query: str, prepare: str) -> bool:
    """Whether `query` (a query string that prepared a statement) holds `prepare` as one whole statement."""
    start = query.find(prepare)
    while start >= 0:
        before, after = query[:start].rstrip(), query[start + len(prepare) :].lstrip()
        if (not before or before.endswith(";")) and (not after or after.startswith(";")):
            return True
        start = query.find(prepare, start + 1)
    return False


def _query(dbapi: Any, sql: bytes) -> list[Any]:  # noqa: ANN401 - psycopg's Connection
    """Send `sql` (several statements, the simple query protocol) on psycopg's libpq connection and read every
    result, waiting on the socket without holding the GIL; the first error is raised as psycopg raises it.

    psycopg's own cursor does the same with ~60 µs more CPU per query and, measured here, twice the wait."""
    pgconn = dbapi.pgconn
    results = []
    failed = None
    with dbapi.lock:
        pgconn.send_query(sql)
        while pgconn.flush():
            _wait(pgconn.socket, writing=True)
        while True:
            pgconn.consume_input()
            while pgconn.is_busy():
                _wait(pgconn.socket, writing=False)
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                break
            if result.status == _FATAL_ERROR and failed is None:
                failed = result
            results.append(result)
    if failed is not None:
        from psycopg.errors import error_from_result  # noqa: PLC0415 - the PostgreSQL driver, an optional extra

        raise error_from_result(failed, encoding=dbapi.info.encoding)
    return results


def _wait(fd: int, *, writing: bool) -> None:
    """Until the socket can be written (or read); an error or a hang-up wakes it too (libpq then says what)."""
    if not hasattr(select, "poll"):  # Windows: select() takes sockets there
        select.select([] if writing else [fd], [fd] if writing else [], [fd])
        return
    poller = select.poll()
    poller.register(fd, (select.POLLOUT if writing else select.POLLIN) | select.POLLERR | select.POLLHUP)
    poller.poll()


def _tools(dbapi: Any, info: dict[Any, Any]) -> Any:  # noqa: ANN401 - psycopg's Connection and Transformer
    """psycopg's Transformer of the connection (literals, rows from results), kept in its info."""
    found = info.get(_TOOLS)
    if found is None or found.connection is not dbapi:
        from psycopg.adapt import Transformer  # noqa: PLC0415 - the PostgreSQL driver, an optional extra

        found = info[_TOOLS] = Transformer(dbapi)
    return found


def forget_prepared(connection: sa.Connection) -> None:
    """After a rollback: psycopg may have deallocated every statement of the session; read them again."""
    if not connection.invalidated and not connection.closed:
        connection.info.pop(_PREPARED, None)


def untouched(dbapi: Any) -> bool:  # noqa: ANN401 - psycopg's Connection
    """Nothing of a transaction has been sent on the connection: none is open (or the driver closed it)."""
    return bool(dbapi.closed) or dbapi.pgconn.transaction_status == _IDLE


def begin_now(connection: sa.Connection) -> None:
    """Send the BEGIN psycopg would send before the transaction's first statement (its own round trip), now: a
    connection lost meanwhile is found before anything of the transaction has run (psycopg sends none of its own
    once one is open). Its error is raised as SQLAlchemy's DBAPIError (a disconnect invalidating the connection)."""
    dbapi: Any = connection.connection.dbapi_connection
    if dbapi.autocommit or (not dbapi.closed and dbapi.pgconn.transaction_status != _IDLE):
        return  # psycopg sends no BEGIN then (a closed connection fails below, as lost)
    sql = _begin(dbapi)
    try:
        _query(dbapi, sql.encode())
    except connection.dialect.loaded_dbapi.Error as error:
        raise dbapi_error(connection, sql, None, error) from error
    except BaseException:
        connection.invalidate()  # interrupted between sending and reading: its state is unknown
        raise


def _begin(dbapi: Any) -> str:  # noqa: ANN401 - psycopg's Connection
    """The BEGIN psycopg starts a transaction of this connection with (its isolation level, read only, deferrable)."""
    parts = ["BEGIN"]
    if dbapi.isolation_level is not None:
        parts.append("ISOLATION LEVEL " + dbapi.isolation_level.name.replace("_", " "))
    if dbapi.read_only is not None:
        parts.append("READ ONLY" if dbapi.read_only else "READ WRITE")
    if dbapi.deferrable is not None:
        parts.append("DEFERRABLE" if dbapi.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


def flush_batches_before_statements(engine: sa.Engine) -> None:
    """On `engine`: a statement run through SQLAlchemy first sends what a batch on its connection queued."""
    event.listen(engine, "before_execute", _flush_batch)


def _flush_batch(connection: sa.Connection, *_args: object) -> None:
    batch: Batch | None = connection.info.get(BATCH)
    if batch is not None:
        batch.flush()
