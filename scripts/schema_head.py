#!/usr/bin/env python3
"""Write migrations/head_sqlite.sql and migrations/head_postgresql.sql: the schema a new ledger is created
with, dumped from what the revisions in migrations/versions build on an empty database. Run it after adding
a revision (tests/integration/test_schema.py fails until it is run). PostgreSQL's needs a server whose role
may CREATE DATABASE, and its pg_dump:

    eval "$(scripts/pg start)"
    scripts/schema_head.py            # or --pg-url URL; default $TRADELEDGER_TEST_PG_URL
    scripts/pg stop "$TRADELEDGER_TEST_PG_DIR"
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from tradeledger.storage.head_scripts import (
    SCRIPTS,
    postgresql_dump,
    postgresql_script,
    sqlite_dump,
    sqlite_script,
)
from tradeledger.storage.migrate import build_by_revisions

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def sqlite_text() -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.db"
        build_by_revisions(f"sqlite:///{path}")
        return sqlite_script(sqlite_dump(path))


def postgresql_text(server_url: str) -> str:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"tradeledger_head_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        build_by_revisions(url)
        return postgresql_script(postgresql_dump(url))
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("TRADELEDGER_TEST_PG_URL"))
    arguments = parser.parse_args()
    if not arguments.pg_url:
        print("schema_head: a PostgreSQL server is needed: --pg-url URL or $TRADELEDGER_TEST_PG_URL", file=sys.stderr)
        return 2
    for dialect, text in (("sqlite", sqlite_text()), ("postgresql", postgresql_text(arguments.pg_url))):
        target = MIGRATIONS / SCRIPTS[dialect]
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
