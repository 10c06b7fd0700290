"""Driver errors as the ledger's errors: what the database said (and, on SQLite, what it means), a lost connection
as ConnectionLost saying what of the call was done, a pool without a free connection saying what holds them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from tradeledger.errors import ConnectionLost, StorageError

# What SQLite's error codes mean for a ledger's user (Python's sqlite3 names the code of each error).
_SQLITE_HINTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR_WRITE": "a write failed: the disk may be full or the file over a size limit",
    "SQLITE_READONLY": "the database file or its folder is read-only",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_CANTOPEN": "the file cannot be opened (missing folder or no permission)",
}

# A lock waited for the whole busy timeout: SQLite's SQLITE_BUSY ("database is locked"), PostgreSQL's lock_not_available
# (lock_timeout, storage/engine.py).
LOCK_HINT = (
    "another writer held the ledger's lock for the whole busy timeout (TRADELEDGER_BUSY_TIMEOUT_S, open_ledger's "
    "busy_timeout_s): a process stopped or cut off in the middle of a write holds it until its connection ends; "
    "nothing of this call was written"
)


def _lock_waited_out(error: exc.DBAPIError) -> bool:
    code = getattr(error.orig, "sqlite_errorname", None)
    if code is not None:
        return str(code).startswith("SQLITE_BUSY")
    return getattr(error.orig, "sqlstate", None) == "55P03"


def storage_error(error: exc.DBAPIError, *, commit_sent: bool | None = None, append: bool = True) -> StorageError:
    """A driver error as StorageError, naming what the database said (and, on SQLite, what it means); the notes
    on it (a later step of the transaction's end that failed too, `ending.py`) carried over.

    A lost connection (the server restarted or ended it, a network cut: a disconnect to SQLAlchemy, which
    invalidated the connection and the pool's older ones, `prepared.dbapi_error`) says so, and what of the call was
    done: a unit of work lost before its COMMIT was sent (`commit_sent` False) wrote nothing (the server rolls back a
    transaction whose session ended); one lost with its COMMIT sent (`commit_sent`: PostgreSQL's second round trip,
    its writes and COMMIT together; any other unit of work's COMMIT, after its writes) may have committed or not,
    which no one can tell the caller: an append's fills (`append`) sent again are duplicates if it did; of any other
    (a mark, a save, a rebuild, a rollback) the ledger tells. The next call connects again."""
    if error.connection_invalidated:
        lost = f"the connection to the database was lost ({' '.join(str(error.orig).split())})"
        if commit_sent and append:
            done = (
                " after its commit was sent: it may have been committed or not; sending its fills again is safe (a fill"
                " already recorded is a duplicate, answered with its receipt; read the ledger before anything else is"
                " done again)"
            )
        elif commit_sent:
            done = (
                " after its commit was sent: it may have been committed or not; read the ledger to learn which before"
                " doing it again"
            )
        elif commit_sent is None:
            done = ": nothing of this call is half-written"
        else:
            done = ": its commit was not sent, so nothing of it was written"
        translated: StorageError = ConnectionLost(f"{lost}{done}, and the next call connects again")
    elif _lock_waited_out(error):
        translated = StorageError(
            f"the database refused the operation: {' '.join(str(error.orig).split())} ({LOCK_HINT})"
        )
    else:
        code = getattr(error.orig, "sqlite_errorname", None)
        hint = next((text for name, text in _SQLITE_HINTS.items() if code and code.startswith(name)), None)
        said = f"{error.orig} ({code}: {hint})" if hint else str(error.orig)
        translated = StorageError(f"the database refused the operation: {said}")
    for note in getattr(error, "__notes__", ()):
        translated.add_note(note)
    return translated


def pool_exhausted(error: exc.TimeoutError) -> StorageError:
    """The pool had no connection free within its timeout: what holds them, said."""
    said = error.args[0] if error.args else str(error)
    return StorageError(
        f"no connection to the database was free within the pool's timeout ({said}): each unit of work and each "
        "read holds one while it runs (a history streamed: until read to its end or closed), each subscription on "
        "PostgreSQL one for its LISTEN, and one write connection is kept idle; run fewer at a time"
    )


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become StorageError, naming what the database said (and, on SQLite, what it means); a pool
    without a free connection within its timeout too (`pool_exhausted`)."""
    try:
        yield
    except exc.DBAPIError as error:
        raise storage_error(error) from error
    except exc.TimeoutError as error:
        raise pool_exhausted(error) from error
