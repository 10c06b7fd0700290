"""Schema upgrades with the Alembic revisions that ship in tradeledger.migrations."""

from __future__ import annotations

import threading
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tradeledger.errors import SchemaError

# Alembic's module-level context is not thread-safe.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged revisions, sharing `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("tradeledger.migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise SchemaError("tradeledger ships no schema revisions; the installation is broken")
    return head


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection) -> None:
    """Bring the schema to head inside the caller's write transaction; refuse a newer database."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(connection)
    if current == script.get_current_head():
        return
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaError(
            f"the database's schema revision {current!r} is newer than this tradeledger "
            f"(which knows up to {script.get_current_head()!r}); upgrade tradeledger to open it"
        )
    if connection.dialect.name == "postgresql":
        # Serialise concurrent first opens; released when the transaction ends.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7431001)")
        if current_revision(connection) == script.get_current_head():
            return
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(connection), "head")
