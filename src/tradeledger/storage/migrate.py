"""Schema upgrades with the Alembic revisions that ship in tradeledger.migrations.

Opening a ledger whose schema is at `HEAD_REVISION` reads its version with one catalog lookup and one
SELECT, without Alembic: Alembic (~0.1 s of imports, and a parse of every revision file per open) is
loaded only to upgrade a schema: a new database is created at head from a packaged dump of what the
revisions build (`head_scripts`).
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tradeledger.errors import SchemaError
from tradeledger.storage.head_scripts import created_at_head

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions (tests/integration/test_schema.py holds it to Alembic's head).
HEAD_REVISION = "0012"
VERSION_TABLE = "alembic_version"  # Alembic's default

# Alembic's module-level context is not thread-safe.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged revisions, sharing `connection` when given."""
    from alembic.config import Config  # noqa: PLC0415 - loaded only to create or upgrade a schema

    config = Config()
    config.set_main_option("script_location", str(resources.files("tradeledger.migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head of the packaged revisions, as Alembic finds it."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - loaded only to create or upgrade a schema

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise SchemaError("tradeledger ships no schema revisions; the installation is broken")
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The schema's revision (None: no schema yet); SchemaError when the version table names several, which
    none of tradeledger's revisions ever writes (the table was edited by hand or by another tool)."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - loaded only to upgrade a schema

    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        named = ", ".join(repr(head) for head in sorted(heads))
        raise SchemaError(
            f"the database's schema version table ({VERSION_TABLE}) names {len(heads)} revisions ({named}) where a "
            "ledger has one: it was changed by hand or by another tool; restore the database from a backup"
        )
    return heads[0] if heads else None


def at_head(connection: sa.Connection) -> bool:
    """Is the schema at `HEAD_REVISION` (one version row, that one)? No Alembic."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return False
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()  # noqa: S608 - a constant
    return [tuple(row) for row in rows] == [(HEAD_REVISION,)]


def upgrade(connection: sa.Connection) -> None:
    """Bring the schema to head inside the caller's write transaction; refuse a newer database. On PostgreSQL
    `created_at_head` takes the first-open lock before anything is read, so concurrent opens go one by one."""
    if created_at_head(connection):
        return
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - loaded only to upgrade a schema

    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(connection)
    if current == script.get_current_head():
        return
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaError(
            f"the database's schema revision {current!r} is newer than this tradeledger "
            f"(which knows up to {script.get_current_head()!r}); upgrade tradeledger to open it"
        )
    run_revisions(connection)


def run_revisions(connection: sa.Connection) -> None:
    """Alembic's upgrade to head on `connection`, revision by revision (what `head_scripts` dumps)."""
    from alembic import command  # noqa: PLC0415 - loaded only to create or upgrade a schema

    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(connection), "head")


def build_by_revisions(url: str) -> None:
    """The schema of the empty database at `url` built the long way, every revision through Alembic (what
    scripts/schema_head.py dumps, and what tests hold a new ledger's schema to)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            run_revisions(connection)
    finally:
        engine.dispose()
