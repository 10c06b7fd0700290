"""SQLite's durability for market data: a write connection at synchronous=NORMAL for marks and levels, and back."""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

# --- SQLite's durability for market data -------------------------------------------------------
#
# In WAL mode a synchronous=NORMAL commit has written the WAL with write(2) before it returns: it
# survives a SIGKILL of the process (only an OS crash or power cut may lose the last commits, never
# corrupting the file); FULL adds an fsync per commit. Marks and levels are market-side state, so
# their units of work take NORMAL (or the engine's setting when that is lower already); the next
# other unit of work puts the connection's own setting back first.

_LOWERED = "tradeledger_synchronous_lowered"  # in the DB-API connection's info: the level to restore
_SQLITE_SYNCHRONOUS_NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def synchronous(connection: sa.Connection, *, lowered: bool) -> None:
    """Put a SQLite write connection at synchronous=NORMAL (lowered) or back at its own level.

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
