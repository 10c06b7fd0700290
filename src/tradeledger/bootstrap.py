"""The composition root: the one place that picks concrete classes and wires a Ledger."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from tradeledger.application.ledger import SNAPSHOT_EVERY, Clock, Ledger
from tradeledger.application.maintenance import rebuild_projection
from tradeledger.application.ports import PENDING, PENDING_REBUILD
from tradeledger.errors import InvalidArgument, StorageError, UnreadableEvent
from tradeledger.settings import LedgerSettings
from tradeledger.storage import migrate
from tradeledger.storage.engine import WRITE, Synchronous, create_ledger_engine
from tradeledger.storage.sql import SqlLedgerStore, translated_errors
from tradeledger.storage.urls import parsed_url, without_password

_KINDS = "a ledger is at sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_ledger(
    url: str | None = None,
    *,
    clock: Clock = utc_now,
    synchronous: Synchronous | None = None,
    busy_timeout_s: float | None = None,
    snapshot_every: int = SNAPSHOT_EVERY,
    audit: bool = False,
) -> Ledger:
    """Open (creating or upgrading) the ledger at `url`, else $TRADELEDGER_URL, else ./tradeledger.db.

    `synchronous` ("full" by default, "normal", "off") and `busy_timeout_s` tune SQLite; unset
    arguments come from TRADELEDGER_SYNCHRONOUS and TRADELEDGER_BUSY_TIMEOUT_S. The projection is
    snapshotted every `snapshot_every` events (a replay cache, see Ledger.replay).

    `audit=True` is for the readers of the log alone (`verify`, `export`): when a schema upgrade asked for the
    projections to be rebuilt and a stored event does not read (an edited row: `UnreadableEvent`), the ledger
    opens with the rebuild still pending, where any other open refuses it; `verify` reports both. Its stored
    projections are then those of the schema before the upgrade: nothing else should be read through it.
    """
    if snapshot_every < 1:
        raise InvalidArgument(f"snapshot_every: must be 1 or more (got {snapshot_every})")
    store = open_store(url, synchronous=synchronous, busy_timeout_s=busy_timeout_s, audit=audit)
    return Ledger(store, clock=clock, snapshot_every=snapshot_every)


def _setting_problem(found: Mapping[str, Any], given: Mapping[str, object]) -> str:
    """One setting's problem on one line, naming where its value came from: the argument, else its variable."""
    name = str(found["loc"][0]) if found["loc"] else "settings"
    source = name if name in given else f"TRADELEDGER_{name.upper()}"
    return f"{source}: {found['msg']} (got {found['input']!r})"


def open_store(
    url: str | None = None,
    *,
    synchronous: Synchronous | None = None,
    busy_timeout_s: float | None = None,
    audit: bool = False,
) -> SqlLedgerStore:
    """The storage of the ledger at `url` (created or upgraded), for use cases that work on stores (`audit`: as
    `open_ledger`'s)."""
    given = {"url": url, "synchronous": synchronous, "busy_timeout_s": busy_timeout_s}
    overrides: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    try:
        config = LedgerSettings(**overrides)
    except ValidationError as error:
        problems = "; ".join(_setting_problem(found, overrides) for found in error.errors(include_url=False))
        raise InvalidArgument(f"invalid ledger settings: {problems}") from None
    parsed_url(config.url)  # one that does not read is refused here, saying how a URL reads
    shown = without_password(config.url)
    try:
        engine = create_ledger_engine(config.url, synchronous=config.synchronous, busy_timeout_s=config.busy_timeout_s)
    except sa.exc.NoSuchModuleError as error:  # an unknown dialect or driver; its text names it, never the URL
        raise InvalidArgument(f"database URL {shown!r}: {error} ({_KINDS})") from None
    except sa.exc.ArgumentError:  # SQLAlchemy's text quotes the URL as given: password included
        raise InvalidArgument(f"database URL {shown!r}: not a URL SQLAlchemy opens ({_KINDS})") from None
    except ModuleNotFoundError as error:  # the URL's driver is not installed
        hint = ' (pip install "tradeledger[postgres]")' if error.name == "psycopg" else ""
        raise InvalidArgument(f"database URL {shown!r}: its driver {error.name!r} is not installed{hint}") from None
    try:
        _upgrade_schema(engine)
        store = SqlLedgerStore(engine)
        _rebuild_if_pending(store, audit=audit)
    except StorageError as error:
        engine.dispose()
        raise type(error)(f"cannot open the ledger at {shown}: {error}") from error  # its kind kept: ConnectionLost, …
    except BaseException:
        engine.dispose()
        raise
    return store


def _rebuild_if_pending(store: SqlLedgerStore, *, audit: bool) -> None:
    """Rebuild the projections when a revision asked for it (a projection it added must be filled from the
    log), and clear the request in the same transaction. An `audit` open leaves it pending when the log does
    not fold (an edited row), so that `verify` can name the row."""
    with store.reading() as tx:
        if not tx.projection.entries(PENDING, [PENDING_REBUILD]):
            return
    try:
        with store.unit_of_work() as uow:
            if uow.projection.entries(PENDING, [PENDING_REBUILD]):
                rebuild_projection(uow, snapshot_every=SNAPSHOT_EVERY)
                uow.projection.put_entries(PENDING, {PENDING_REBUILD: None})
                uow.commit()
    except UnreadableEvent:
        if not audit:
            raise


def _upgrade_schema(engine: sa.Engine) -> None:
    with translated_errors():
        with engine.connect() as connection:
            at_head = migrate.at_head(connection)
            connection.rollback()
        if at_head:
            return
        with engine.connect().execution_options(**WRITE) as connection, connection.begin():
            migrate.upgrade(connection)
