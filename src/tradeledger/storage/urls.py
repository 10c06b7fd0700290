"""Database URLs as SQLAlchemy reads them: shown without a password, SQLite paths made absolute.

The command line names ledgers in its output, manifests and reports; it reads URLs through these
functions so that it never parses one itself (and never imports SQLAlchemy). A password is hidden wherever
it stands: before the host, in a `password=` (or `sslpassword=`) parameter, and in a URL that does not parse
(everything between the user name and the last `@`: a password holding an unencoded `@`, `:` or `/`).
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from tradeledger.errors import InvalidArgument

HIDDEN = "***"
# libpq's connection parameters that hold a secret, as a URL's query may carry them.
_SECRET_PARAMETER = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)
_URL_FORM = "DIALECT+DRIVER://USER:PASSWORD@HOST:PORT/DATABASE, the port a number"
_ENCODING = "@ as %40, : as %3A, / as %2F, ? as %3F, # as %23, % as %25"


def _hidden_parameters(text: str) -> str:
    return _SECRET_PARAMETER.sub(lambda found: found.group(1) + HIDDEN, text)


def _hidden_in_text(url: str) -> str:
    """`url`, which SQLAlchemy cannot parse, with what may be a password hidden: after the user name's `:`,
    up to the last `@` (a password may hold `@`, `:` and `/` unencoded), and in its secret parameters."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    if "@" in rest:
        credentials, _, place = rest.rpartition("@")
        user, colon, _password = credentials.partition(":")
        rest = f"{user}{colon}{HIDDEN if colon else ''}@{place}"
    return _hidden_parameters(f"{scheme}{separator}{rest}")


def without_password(url: str) -> str:
    """`url` with any password replaced by *** (the URL as it is otherwise)."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return _hidden_in_text(url)
    return _hidden_parameters(parsed.render_as_string(hide_password=True))


def parsed_url(url: str) -> sa.URL:
    """`url` read by SQLAlchemy, or an InvalidArgument that shows it without its password and says how a URL
    reads (a password with unencoded reserved characters is the usual cause: its rest reads as a port)."""
    try:
        return sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise InvalidArgument(
            f"database URL {_hidden_in_text(url)!r} does not read as one ({_URL_FORM}); a user name or password "
            f"holding a reserved character must be percent-encoded ({_ENCODING})"
        ) from None


def is_in_memory(url: str) -> bool:
    """Whether `url` names a SQLite database that lives in memory (gone when the process exits).

    `sqlite://`, `sqlite:///:memory:` and URI forms such as `sqlite:///file:x?mode=memory&uri=true`.
    A URL SQLAlchemy cannot parse is not judged here (opening it reports the error).
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
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
    except (sa.exc.ArgumentError, ValueError):
        return _hidden_in_text(url)
    database = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        parsed = parsed.set(database=str(Path(database).absolute()))
    return _hidden_parameters(parsed.render_as_string(hide_password=True))


def has_password(url: str) -> bool:
    """Whether `url` carries a password (so it must not be printed as a command to copy): before the host or
    as a parameter; a URL that does not parse may hold one anywhere, and counts as holding one."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return True
    return bool(parsed.password) or _hidden_parameters(url) != url
