"""Alembic environment: runs on the caller's connection (open_ledger) or on a URL (alembic CLI)."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from tradeledger.storage.engine import WRITE, create_ledger_engine
from tradeledger.storage.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # From the alembic CLI: -x url=..., then $TRADELEDGER_URL, then the local default file.
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("TRADELEDGER_URL")
        or "sqlite:///tradeledger.db"
    )
    engine = create_ledger_engine(url)
    try:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("tradeledger migrations run online only: alembic upgrade head [-x url=...]")
run_migrations_online()
