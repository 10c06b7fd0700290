"""Database URLs as SQLAlchemy reads them: shown without a password, SQLite paths made absolute.

The command line names ledgers in its output, manifests and reports; it reads URLs through these
functions so that it never parses one itself (and never imports SQLAlchemy).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


def is_in_memory(url: str) -> bool:
    """Whether `url` names a SQLite database that lives in memory (gone when the process exits).

    `sqlite://`, `sqlite:///:memory:` and URI forms such as `sqlite:///file:x?mode=memory&uri=true`.
    A URL SQLAlchemy cannot parse is not judged here (opening it reports the error).
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return False
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or parsed.query.get("mode") == "memory"


def shown_url(url: str) -> str:
    """`url` as a ledger is named to people and in manifests: a relative SQLite path made absolute
    (so it means the same file from any folder), any password replaced by ***; a URL SQLAlchemy
    cannot parse is returned as it is (opening it reports the error)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url
    database = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        parsed = parsed.set(database=str(Path(database).absolute()))
    return parsed.render_as_string(hide_password=True)


def has_password(url: str) -> bool:
    """Whether `url` carries a password (so it must not be printed as a command to copy)."""
    try:
        return bool(sa.make_url(url).password)
    except sa.exc.ArgumentError:
        return False
