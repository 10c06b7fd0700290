"""The schema: made by the packaged Alembic revisions, on SQLite and PostgreSQL (spec section 2).

SQLite files are also in WAL mode and durable by default (the tests on `sqlite_url`).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import Backend, PostgresServer
from tests.factories import fill_fields
from tests.processes import run_together
from tradeledger import Checkpoint, InvalidFill, SchemaError, open_ledger
from tradeledger.application.copying import import_log
from tradeledger.application.exporting import read_export
from tradeledger.bootstrap import open_store
from tradeledger.storage.engine import create_ledger_engine
from tradeledger.storage.head_scripts import postgresql_dump, sqlite_dump
from tradeledger.storage.migrate import HEAD_REVISION, build_by_revisions, head_revision
from tradeledger.storage.schema import metadata
from tradeledger.storage.sql import SqlLedgerStore

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC = Path(sys.executable).parent / "alembic"
# A hang guard only: the test never asserts on how long anything took.
HANG_GUARD_S = 120
# What main wrote before revision 0007 (commit e36b65c): a SQLite ledger, its export and its positions JSON.
MAIN_BEFORE_0007 = REPO_ROOT / "tests" / "fixtures" / "main-e36b65c"


def file_of(url: str) -> str:
    database = sa.make_url(url).database
    assert database is not None
    return database


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Plain SQL on either backend, around tradeledger."""
    backend = Backend(sa.make_url(url).get_backend_name(), url)
    try:
        return backend.sql(sql)
    finally:
        backend.close()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, for what only SQLite has (journal mode, synchronous)."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_opening_a_new_database_creates_the_schema_at_the_head_revision(db_url: str) -> None:
    assert table_names(db_url) == set()

    with open_ledger(db_url) as ledger:
        assert ledger.head.seq == 0

    assert query(db_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert table_names(db_url) == set(metadata.tables) | {"alembic_version"}


def test_the_head_revision_an_open_checks_without_alembic_is_the_head_of_the_packaged_revisions() -> None:
    assert head_revision() == HEAD_REVISION


# Run in a fresh interpreter: whether `alembic` is among its modules once a ledger is open.
LOADS_ALEMBIC = """
import sys
from tradeledger import open_ledger
with open_ledger(sys.argv[1]) as ledger:
    assert ledger.head.seq == 1
print(sorted({name.split(".")[0] for name in sys.modules} & {"alembic"}))
"""


def test_opening_a_ledger_whose_schema_is_at_the_head_revision_loads_no_alembic(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())

    run = subprocess.run(
        [sys.executable, "-c", LOADS_ALEMBIC, db_url], capture_output=True, text=True, check=True, timeout=HANG_GUARD_S
    )

    assert run.stdout.strip() == "[]"


# Run in a fresh interpreter: whether `alembic` is loaded to create a new ledger.
CREATES_WITHOUT_ALEMBIC = """
import sys
from tradeledger import open_ledger
with open_ledger(sys.argv[1]) as ledger:
    assert ledger.head.seq == 0
print(sorted({name.split(".")[0] for name in sys.modules} & {"alembic"}))
"""


def test_creating_a_new_ledger_loads_no_alembic(db_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", CREATES_WITHOUT_ALEMBIC, db_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=HANG_GUARD_S,
    )

    assert run.stdout.strip() == "[]"
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


STALE_SCRIPT = "migrations/head_{}.sql is not what the revisions build: run scripts/schema_head.py"


def test_a_new_sqlite_ledger_is_the_very_database_the_revisions_build(tmp_path: Path) -> None:
    build_by_revisions(f"sqlite:///{tmp_path / 'revisions.db'}")

    with open_ledger(f"sqlite:///{tmp_path / 'created.db'}") as ledger:
        assert ledger.head.seq == 0

    # Tables, indexes and triggers with their SQL as written, and every row the revisions insert.
    assert sqlite_dump(tmp_path / "created.db") == sqlite_dump(tmp_path / "revisions.db"), STALE_SCRIPT.format("sqlite")


def test_a_new_postgresql_ledger_is_the_very_database_the_revisions_build(postgres_server: PostgresServer) -> None:
    with postgres_server.fresh_database() as revisions, postgres_server.fresh_database() as created:
        build_by_revisions(revisions.url)

        with open_ledger(created.url) as ledger:
            assert ledger.head.seq == 0

        # Functions, tables, constraints, indexes and triggers as pg_dump writes them, and every row.
        assert postgresql_dump(created.url) == postgresql_dump(revisions.url), STALE_SCRIPT.format("postgresql")


def test_reopening_a_ledger_keeps_its_events_and_positions(db_url: str) -> None:
    fills = [
        fill_fields(side="buy", quantity="2"),
        fill_fields(side="sell", quantity="0.5"),
        fill_fields(symbol="ETH/USD"),
    ]
    with open_ledger(db_url) as ledger:
        ledger.record_many(fills)
        head, state = ledger.head, ledger.state()
    assert head.seq == 3

    with open_ledger(db_url) as reopened:
        assert reopened.head == head
        assert reopened.state() == state
        assert [recorded.fill.event_id for recorded in reopened.history()] == [f["fill_id"] for f in fills]
        assert reopened.verify().ok
        assert reopened.record(fill_fields()).seq == 4
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_alembic_upgrade_head_from_the_repo_root_makes_a_ledger_open_ledger_accepts(
    db_url: str,
) -> None:
    alembic(db_url, "upgrade", "head")

    assert query(db_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert query(db_url, "SELECT epoch, seq, hash FROM ledger_head") == [(1, 0, "0" * 64)]
    with open_ledger(db_url) as ledger:
        assert ledger.record(fill_fields()).seq == 1
        assert ledger.verify().ok


def alembic(db_url: str, *arguments: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TRADELEDGER_URL"}
    result = subprocess.run(
        [str(ALEMBIC), "-c", "alembic.ini", "-x", f"url={db_url}", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _import_main_before_0007(db_url: str) -> Checkpoint:
    """The export written by main before revision 0007 (v1 fills, a rollback) imported into an empty ledger."""
    exported = read_export((MAIN_BEFORE_0007 / "export.ndjson").read_text().splitlines())
    store = open_store(db_url)
    try:
        report = import_log(exported.head, exported.events, exported.records, store)
    finally:
        store.close()
    assert report.verify.ok
    return report.head


def test_a_ledger_from_before_revision_0005_keeps_its_checkpoint_in_the_head_row(db_url: str) -> None:
    head = _import_main_before_0007(db_url)  # v1 fills only: they can go down to 0004 and back
    assert (head.epoch, head.seq) == (2, 10)
    alembic(db_url, "downgrade", "0004")
    assert query(db_url, "SELECT epoch, seq, hash FROM projection_checkpoints") == [(2, 10, head.hash)]

    with open_ledger(db_url) as ledger:  # upgrades to 0005: the checkpoint moves into the head row
        assert ledger.verify().ok
        assert ledger.record(fill_fields()).seq == 11
        ledger.rollback(to_seq=10, reason="again", actor="ops")
        assert ledger.verify().ok
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert query(db_url, "SELECT epoch, seq, checkpoint_epoch, checkpoint_seq FROM ledger_head") == [(3, 10, 3, 10)]


def test_revision_0007_keeps_every_v1_event_byte_for_byte_and_its_hash(db_url: str) -> None:
    head = _import_main_before_0007(db_url)
    alembic(db_url, "downgrade", "0006")
    before = query(db_url, "SELECT * FROM ledger_events ORDER BY seq")
    alembic(db_url, "upgrade", "head")

    after = query(db_url, "SELECT * FROM ledger_events ORDER BY seq")
    assert [row[:18] for row in after] == before
    assert {row[18:] for row in after} == {("fill", 1, None, None, None, None)}
    with open_ledger(db_url) as ledger:
        assert ledger.head == head
        assert ledger.verify().ok


def test_revision_0008_has_the_next_open_rebuild_a_ledger_whose_snapshots_hold_no_balances(db_url: str) -> None:
    with open_ledger(db_url, snapshot_every=2) as ledger:
        for price in ("100", "101", "102", "103", "104"):
            ledger.record(fill_fields(price=price))
    alembic(db_url, "downgrade", "0007")
    assert query(db_url, "SELECT DISTINCT seq FROM position_snapshots ORDER BY seq") == [(2,), (4,)]

    alembic(db_url, "upgrade", "head")

    assert query(db_url, "SELECT projection, key FROM projection_entries WHERE projection = 'pending'") == [
        ("pending", "rebuild")
    ]
    with open_ledger(db_url, snapshot_every=2) as ledger:  # rebuilt: every snapshot it wrote holds its balances
        assert query(db_url, "SELECT count(*) FROM projection_entries WHERE projection = 'pending'") == [(0,)]
        assert ledger.verify().ok
        ledger.record(fill_fields(price="105"))  # a snapshot at 6, with its balances
        ledger.record(fill_fields(price="106"))
        ledger.rollback(to_seq=6, reason="undo", actor="ops")
        assert [row[0] for row in query(db_url, "SELECT DISTINCT seq FROM balance_snapshots")] == [6]
        report = ledger.verify()
        assert report.ok, report.problems


def test_revision_0008_asks_no_rebuild_of_a_ledger_without_snapshots(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())
    alembic(db_url, "downgrade", "0007")

    alembic(db_url, "upgrade", "head")

    assert query(db_url, "SELECT count(*) FROM projection_entries WHERE projection = 'pending'") == [(0,)]


def index_names(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        return {str(index["name"]) for index in sa.inspect(engine).get_indexes("ledger_events")}
    finally:
        engine.dispose()


def test_revision_0009_indexes_the_fills_by_order_id_when_a_ledger_at_0008_is_opened(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(fill_id="f-1", order_id="555"))
    alembic(db_url, "downgrade", "0008")
    assert "ix_ledger_events_order_id" not in index_names(db_url)

    with open_ledger(db_url) as ledger:
        assert [recorded.event.event_id for recorded in ledger.history()] == ["f-1"]

    assert "ix_ledger_events_order_id" in index_names(db_url)
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_revision_0010_keeps_in_the_head_row_when_the_latest_event_naming_lots_occurred(db_url: str) -> None:
    named = {"lots": [{"seq": 1, "quantity": "1"}]}
    with open_ledger(db_url) as ledger:
        ledger.record_many(
            [
                fill_fields(fill_id="f-1", occurred_at="2026-01-01T00:00:00+00:00"),
                fill_fields(fill_id="f-2", side="sell", metadata=named, occurred_at="2026-01-05T00:00:00+00:00"),
                fill_fields(fill_id="f-3", occurred_at="2026-01-07T00:00:00+00:00"),  # names none
            ]
        )
    alembic(db_url, "downgrade", "0009")

    refused = pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: the fill at seq 2")
    with open_ledger(db_url) as ledger, refused:  # upgraded: the mark filled from the log
        ledger.record(fill_fields(side="sell", occurred_at="2026-01-03T00:00:00+00:00"))

    assert query(db_url, "SELECT lots_named_until FROM ledger_head") == [("2026-01-05T00:00:00.000000+00:00",)]
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_revision_0010_leaves_the_mark_empty_on_a_ledger_naming_no_lots(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(fill_id="f-1", metadata={"note": "lots of it"}))
    alembic(db_url, "downgrade", "0009")

    with open_ledger(db_url):
        pass

    assert query(db_url, "SELECT lots_named_until FROM ledger_head") == [(None,)]


def test_revision_0011_indexes_the_events_by_exchange_and_the_names_are_read_through_it(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(fill_id="f-1", exchange="kraken"))
        ledger.record(fill_fields(fill_id="f-2", exchange="binance"))
        ledger.record(fill_fields(fill_id="f-3", exchange="kraken"))
    alembic(db_url, "downgrade", "0010")
    assert "ix_ledger_events_exchange" not in index_names(db_url)

    with open_ledger(db_url) as ledger:
        assert ledger.exchanges() == {"binance", "kraken"}

    assert "ix_ledger_events_exchange" in index_names(db_url)
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def lots_trigger(url: str) -> list[tuple[Any, ...]]:
    """Revision 0012's trigger, by name, as the database lists it (none: [])."""
    if sa.make_url(url).get_backend_name() == "sqlite":
        return query(url, "SELECT name FROM sqlite_master WHERE name = 'ledger_events_lots_named'")
    return query(url, "SELECT tgname FROM pg_trigger WHERE tgname = 'ledger_events_lots_named'")


def test_revision_0012_sets_the_mark_of_lots_named_from_the_log_and_keeps_it_by_a_trigger(db_url: str) -> None:
    named = {"lots": [{"seq": 1, "quantity": "1"}]}
    with open_ledger(db_url) as ledger:
        ledger.record_many(
            [
                fill_fields(fill_id="f-1", occurred_at="2026-01-01T00:00:00+00:00"),
                fill_fields(fill_id="f-2", side="sell", metadata=named, occurred_at="2026-01-05T00:00:00+00:00"),
            ]
        )
    alembic(db_url, "downgrade", "0011")
    assert lots_trigger(db_url) == []
    # The mark a process of before revision 0010 leaves: it appended f-2 without moving it.
    query(db_url, "UPDATE ledger_head SET lots_named_until = NULL")

    with open_ledger(db_url):  # upgraded: the mark set from the log again
        pass

    assert query(db_url, "SELECT lots_named_until FROM ledger_head") == [("2026-01-05T00:00:00.000000+00:00",)]
    assert lots_trigger(db_url) == [("ledger_events_lots_named",)]
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_a_ledger_holding_typed_events_cannot_go_below_revision_0007(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())  # a v2 fill

    with pytest.raises(AssertionError, match="cannot downgrade below revision 0007: 1 events are not v1 fills"):
        alembic(db_url, "downgrade", "0006")
    with open_ledger(db_url) as ledger:
        assert ledger.verify().ok


def test_the_append_only_triggers_hold_after_revision_0007(db_url: str) -> None:
    _import_main_before_0007(db_url)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        query(db_url, "UPDATE ledger_events SET price = '1' WHERE seq = 1")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        query(db_url, "DELETE FROM ledger_events WHERE seq = 10")


@pytest.mark.parametrize(
    ("change", "message", "versions"),
    [
        ("UPDATE alembic_version SET version_num = '9999_future'", r"revision '9999_future' is newer", ["9999_future"]),
        (
            "INSERT INTO alembic_version (version_num) VALUES ('0003')",
            rf"names 2 revisions \('0003', '{HEAD_REVISION}'\)",
            ["0003", HEAD_REVISION],
        ),
    ],
    ids=["a newer revision", "two revisions"],
)
def test_a_database_whose_schema_version_this_tradeledger_cannot_open_is_refused_naming_it_and_left_as_it_was(
    db_url: str, change: str, message: str, versions: list[str]
) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())
    query(db_url, change)

    with pytest.raises(SchemaError, match=message):
        open_ledger(db_url)

    assert sorted(query(db_url, "SELECT version_num FROM alembic_version")) == [(version,) for version in versions]
    assert query(db_url, "SELECT count(*) FROM ledger_events") == [(1,)]


def test_the_migration_creates_the_tables_and_columns_the_code_uses(db_url: str) -> None:
    with open_ledger(db_url):
        pass
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) - {"alembic_version"} == set(metadata.tables)
        for name, table in metadata.tables.items():
            created = [(c["name"], c["nullable"]) for c in inspector.get_columns(name)]
            declared = [(c.name, c.nullable) for c in table.columns]
            assert created == declared, name
            primary_key = inspector.get_pk_constraint(name)["constrained_columns"]
            assert primary_key == [c.name for c in table.primary_key.columns], name
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("ledger_events")}
        # the natural key (account, exchange, fill_id), with fill_id first so dedupe lookups use the index
        assert unique == {("fill_id", "account", "exchange")}
    finally:
        engine.dispose()


def test_the_ledger_file_is_in_wal_mode(sqlite_url: str) -> None:
    with open_ledger(sqlite_url):
        pass

    # journal_mode=WAL is persistent: a plain sqlite3 connection sees it without a pragma of its own.
    with closing(sqlite3.connect(file_of(sqlite_url))) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchall() == [("wal",)]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, 2), ({"synchronous": "full"}, 2), ({"synchronous": "normal"}, 1)],
    ids=["default", "full", "normal"],
)
def test_a_ledger_engine_connection_is_durable_unless_asked_otherwise(
    sqlite_url: str, settings: dict[str, Any], expected: int
) -> None:
    engine = create_ledger_engine(sqlite_url, **settings)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, 2), ({"synchronous": "normal"}, 1)],
    ids=["default", "normal"],
)
def test_open_ledger_passes_the_durability_setting_to_its_connections(
    sqlite_url: str, settings: dict[str, Any], expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRADELEDGER_SYNCHRONOUS", raising=False)
    with open_ledger(sqlite_url, **settings) as ledger:
        store = ledger._store
        assert isinstance(store, SqlLedgerStore)
        with store._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected


# argv: url name. Imports first, then "ready", then waits for "go" before the first open.
FIRST_OPEN_WORKER = r"""
import sys
from datetime import UTC, datetime

from tradeledger import open_ledger

url, name = sys.argv[1], sys.argv[2]
print("ready", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit("no go signal")
with open_ledger(url) as ledger:
    ledger.record(
        {
            "fill_id": f"first-open-{name}",
            "exchange": "kraken",
            "symbol": "BTC/USD",
            "side": "buy",
            "quantity": "1",
            "price": "100",
            "occurred_at": datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        }
    )
"""


def open_together(url: str, names: tuple[str, ...]) -> None:
    run_together(FIRST_OPEN_WORKER, {name: [url, name] for name in names})


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_two_processes_opening_a_new_database_at_once_both_succeed(db_url: str, attempt: int) -> None:
    del attempt  # a race: three fresh databases give it three chances to go wrong
    url = db_url
    assert table_names(url) == set()

    open_together(url, ("A", "B"))

    assert query(url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert query(url, "SELECT count(*) FROM ledger_head") == [(1,)]
    assert query(url, "SELECT count(*) FROM ledger_head WHERE checkpoint_seq = seq AND checkpoint_hash = hash") == [
        (1,)
    ]
    assert sorted(fill_id for (fill_id,) in query(url, "SELECT fill_id FROM ledger_events")) == [
        "first-open-A",
        "first-open-B",
    ]
    with open_ledger(url) as ledger:
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.events == 2
