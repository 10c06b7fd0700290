"""The storage backends the contract tests run on: a fresh SQLite file or a fresh PostgreSQL database.

Tests reach the database behind the ledger's back through `Backend.sql` (plain SQLAlchemy on the
URL, autocommit, none of the ledger's engine set-up), so one test body covers both dialects.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

PG_URL_VARIABLE = "TRADELEDGER_TEST_PG_URL"
# Set by .ci/run: a missing server fails the run instead of skipping the PostgreSQL half.
PG_REQUIRED_VARIABLE = "TRADELEDGER_TEST_PG_REQUIRED"
PG_HOW_TO = (
    f"PostgreSQL contract tests need a server: set {PG_URL_VARIABLE}=postgresql+psycopg://USER@HOST:PORT/postgres "
    '(a role that may CREATE DATABASE), or start a throwaway one with `eval "$(scripts/pg start)"`, '
    "run scripts/test, then `scripts/pg stop`"
)
BACKENDS = ("sqlite", "postgresql")

# What anyone with direct access to the database can do to take the append-only guard off.
_DROP_GUARD = {
    "sqlite": (
        "DROP TRIGGER ledger_events_no_update",
        "DROP TRIGGER ledger_events_no_delete",
        "DROP TRIGGER ledger_events_no_replace",
    ),
    "postgresql": (
        "DROP TRIGGER ledger_events_append_only ON ledger_events",
        "DROP TRIGGER ledger_events_no_truncate ON ledger_events",
    ),
}

_DROP_HEAD_GUARD = {
    "sqlite": ("DROP TRIGGER IF EXISTS ledger_head_follows_the_log",),
    "postgresql": ("DROP TRIGGER IF EXISTS ledger_head_follows_the_log ON ledger_head",),
}

_DROP_ADMIN_GUARD = {
    "sqlite": (
        "DROP TRIGGER ledger_admin_log_no_update",
        "DROP TRIGGER ledger_admin_log_no_delete",
        "DROP TRIGGER ledger_admin_log_no_replace",
    ),
    "postgresql": (
        "DROP TRIGGER ledger_admin_log_append_only ON ledger_admin_log",
        "DROP TRIGGER ledger_admin_log_no_truncate ON ledger_admin_log",
    ),
}


@dataclass
class Backend:
    """One fresh, empty database: `url` for open_ledger, `sql(...)` for direct access."""

    name: str
    url: str
    _engine: sa.Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        return self._engine

    def sql(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; the rows it returns, if any."""
        with self.engine.connect() as connection:
            result = connection.execute(sa.text(statement), dict(params or {}))
            return [tuple(row) for row in result] if result.returns_rows else []

    def records(self, statement: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Like `sql`, each row as a dict by column name."""
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(sa.text(statement), dict(params or {})).mappings()]

    def drop_admin_guard(self) -> None:
        for statement in _DROP_ADMIN_GUARD[self.name]:
            self.sql(statement)

    def drop_append_only_guard(self) -> None:
        for statement in _DROP_GUARD[self.name]:
            self.sql(statement)

    def drop_head_guard(self) -> None:
        """Drop the trigger that ties the head row to the log (revision 0005)."""
        for statement in _DROP_HEAD_GUARD[self.name]:
            self.sql(statement)

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None on a server."""
        return Path(str(sa.make_url(self.url).database)) if self.name == "sqlite" else None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def sqlite_backend(folder: Path, name: str = "ledger.db") -> Backend:
    return Backend("sqlite", f"sqlite:///{folder / name}")


class PostgresServer:
    """Creates and drops one database per test on the server at $TRADELEDGER_TEST_PG_URL."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    @contextmanager
    def fresh_database(self) -> Iterator[Backend]:
        name = f"tradeledger_test_{uuid.uuid4().hex[:16]}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        backend = Backend("postgresql", self.url.set(database=name).render_as_string(hide_password=False))
        try:
            yield backend
        finally:
            backend.close()
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.admin.dispose()


def postgres_server_or_skip() -> PostgresServer:
    url = os.environ.get(PG_URL_VARIABLE)
    if not url:
        if os.environ.get(PG_REQUIRED_VARIABLE):
            pytest.fail(f"{PG_REQUIRED_VARIABLE} is set but {PG_URL_VARIABLE} is not. {PG_HOW_TO}")
        pytest.skip(PG_HOW_TO)
    return PostgresServer(url)
