"""A new database's schema at head in one pass: the packaged dump of what the revisions build.

Running the seven revisions through Alembic costs ~60-90 ms on a new SQLite file and ~130 ms on a new
PostgreSQL database, plus ~0.1 s to import Alembic. A database with no table yet is instead created from
`migrations/head_<dialect>.sql`: what the revisions build on an empty database (tables, indexes,
functions, triggers and the rows the revisions insert, the version row included), dumped by
`scripts/schema_head.py`. tests/integration/test_schema.py builds a database each way and holds the two
dumps equal, so the scripts cannot drift from the revisions; Alembic still upgrades every existing
database. The dumping functions run at development and test time only, never when a ledger opens.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from tradeledger.errors import SchemaError

SCRIPTS = {"sqlite": "head_sqlite.sql", "postgresql": "head_postgresql.sql"}  # in tradeledger.migrations
HEADER = (
    "-- The schema a new {dialect} ledger is created with: what migrations/versions build on an empty\n"
    "-- database, dumped by scripts/schema_head.py (never edited by hand; tests/integration/test_schema.py\n"
    "-- holds the two to the same dump).\n"
)
# Taken on PostgreSQL before the schema is read, held to the transaction's end: concurrent first opens and
# upgrades (migrate.upgrade goes on under it) run one by one.
FIRST_OPEN_LOCK = 7431001
_RELATIONS_IN_SCHEMA = (
    "SELECT count(*) FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema()"
)
# pg_dump's session settings and psql meta-commands (\restrict carries a random key), left out of the script.
_PG_DUMP_SESSION = re.compile(r"^(--|\\|SET |SELECT pg_catalog\.set_config\()")
_PG_DUMP_DEFAULT_SCHEMA = "public."


def created_at_head(connection: sa.Connection) -> bool:
    """Create the schema at head from the packaged script when the database (SQLite) or the connection's
    schema (PostgreSQL) holds no table yet, in the caller's write transaction: a second opener waits on the
    lock, then finds the tables. False, and nothing done, for any other database."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        if connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            return False
        for statement in sqlite_statements(_packaged(dialect)):
            connection.exec_driver_sql(statement)
        return True
    if dialect == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({FIRST_OPEN_LOCK})")
        if connection.exec_driver_sql(_RELATIONS_IN_SCHEMA).scalar():
            return False
        # One round trip: psycopg sends a text without parameters as one simple query.
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(_packaged(dialect))
        return True
    return False


def _packaged(dialect: str) -> str:
    return (resources.files("tradeledger.migrations") / SCRIPTS[dialect]).read_text("utf-8")


def sqlite_statements(script: str) -> list[str]:
    """The statements of a SQLite dump (`sqlite3.complete_statement` finds where each ends), comments left out."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and line.startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise SchemaError(f"the packaged {SCRIPTS['sqlite']} ends inside a statement; the installation is broken")
    return statements


# ---- development and test time: dumps, and the scripts made from them -----------------------------------


def sqlite_dump(path: Path) -> list[str]:
    """The statements that rebuild the SQLite database at `path` (schema and rows), as `sqlite3` dumps them."""
    connection = sqlite3.connect(path)
    try:
        return [line for line in connection.iterdump() if line not in ("BEGIN TRANSACTION;", "COMMIT;")]
    finally:
        connection.close()


def pg_dump_program() -> str:
    """pg_dump from $PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian), else $PATH (as scripts/pg)."""
    folders = [os.environ["PG_BIN"]] if os.environ.get("PG_BIN") else []
    folders += sorted(
        (str(path) for path in Path("/usr/lib/postgresql").glob("*/bin")),
        key=lambda folder: int(Path(folder).parent.name) if Path(folder).parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in folders:
        if (Path(folder) / "pg_dump").is_file():
            return str(Path(folder) / "pg_dump")
    found = shutil.which("pg_dump")
    if found is None:
        raise SchemaError("pg_dump not found: install PostgreSQL's client (apt-get install postgresql) or set PG_BIN")
    return found


def postgresql_dump(url: str) -> list[str]:
    """pg_dump's plain text of the database at `url` (schema, and rows as INSERTs), without its psql
    meta-commands (\\restrict's key is random), one line each."""
    parsed = sa.make_url(url)
    command = [
        pg_dump_program(),
        "--no-owner",
        "--no-privileges",
        "--no-comments",
        "--inserts",
        f"--host={parsed.host}",
        f"--port={parsed.port or 5432}",
        f"--username={parsed.username}",
        str(parsed.database),
    ]
    environment = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)  # noqa: S603
    if result.returncode != 0:
        raise SchemaError(f"pg_dump failed: {result.stderr.strip()}")
    return [line for line in result.stdout.splitlines() if not line.startswith("\\")]


def postgresql_script(dump: list[str]) -> str:
    """A PostgreSQL dump as the packaged script: no session settings or comments, and no schema named, so
    the objects go to the connection's schema as the revisions' would."""
    kept = [line.replace(_PG_DUMP_DEFAULT_SCHEMA, "") for line in dump if not _PG_DUMP_SESSION.match(line)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return HEADER.format(dialect="PostgreSQL") + text + "\n"


def sqlite_script(dump: list[str]) -> str:
    """A SQLite dump (`sqlite_dump`) as the packaged script."""
    return HEADER.format(dialect="SQLite") + "".join(f"{statement}\n" for statement in dump)
