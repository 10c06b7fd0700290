"""The log is append-only in the database, and verify finds what gets past that (spec section 2).

Everything here goes around tradeledger: the stdlib sqlite3 module on the ledger's own file.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.domain.records import StoredEvent

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tradeledger import Ledger

# (symbol, side, quantity, price): two symbols, a closed ETH cycle at seq 6, open positions after.
TEN_FILLS = (
    ("BTC/USD", "buy", "1", "100"),
    ("BTC/USD", "buy", "1", "110"),
    ("ETH/USD", "buy", "2", "10"),
    ("BTC/USD", "sell", "0.5", "120"),
    ("BTC/USD", "buy", "2", "105"),
    ("ETH/USD", "sell", "2", "12"),
    ("BTC/USD", "sell", "1", "115"),
    ("ETH/USD", "buy", "1", "11"),
    ("BTC/USD", "buy", "1", "100"),
    ("BTC/USD", "sell", "0.5", "98"),
)


@pytest.fixture
def path(db_url: str) -> str:
    database = sa.make_url(db_url).database
    assert database is not None
    return database


@pytest.fixture
def ten(ledger: Ledger) -> Ledger:
    """The ledger fixture holding TEN_FILLS at seq 1..10."""
    receipts = ledger.record_many(
        fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, fee="0.1")
        for symbol, side, quantity, price in TEN_FILLS
    )
    assert [r.seq for r in receipts] == list(range(1, 11))
    return ledger


@pytest.fixture
def raw(path: str, ten: Ledger) -> Iterator[sqlite3.Connection]:
    """A stdlib sqlite3 connection on the ledger's file, in autocommit mode."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.row_factory = sqlite3.Row
        yield connection


@pytest.fixture
def unguarded(raw: sqlite3.Connection) -> sqlite3.Connection:
    """The raw connection without the append-only triggers: what anyone with the file can do."""
    raw.execute("DROP TRIGGER ledger_events_no_update")
    raw.execute("DROP TRIGGER ledger_events_no_delete")
    return raw


def all_events(connection: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute("SELECT * FROM ledger_events ORDER BY seq")]


def stored_event(connection: sqlite3.Connection, seq: int) -> StoredEvent:
    row = connection.execute("SELECT * FROM ledger_events WHERE seq = ?", (seq,)).fetchone()
    assert row is not None
    return StoredEvent(**dict(row))


# --- the database refuses changes to the log --------------------------------------------------


def test_a_raw_update_of_an_event_is_refused_by_the_database(ten: Ledger, raw: sqlite3.Connection) -> None:
    before = all_events(raw)

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE ledger_events SET price = '1' WHERE seq = 5")

    assert all_events(raw) == before
    assert ten.verify().ok


def test_a_raw_update_of_the_whole_log_is_refused_and_changes_no_row(ten: Ledger, raw: sqlite3.Connection) -> None:
    before = all_events(raw)

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE ledger_events SET price = price || '0'")

    assert all_events(raw) == before
    assert ten.verify().ok


def test_a_raw_delete_of_an_event_is_refused_by_the_database(ten: Ledger, raw: sqlite3.Connection) -> None:
    before = all_events(raw)

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM ledger_events WHERE seq = 7")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM ledger_events")

    assert all_events(raw) == before
    report = ten.verify()
    assert report.ok
    assert report.events == 10


# --- verify finds tampering that got past the triggers ----------------------------------------


def test_an_untouched_ledger_verifies_with_every_event_counted(ten: Ledger) -> None:
    report = ten.verify()

    assert report.ok
    assert report.problems == ()
    assert report.first_bad_seq is None
    assert report.events == 10
    assert report.head == ten.head
    assert report.head.seq == 10


def test_an_edited_price_is_found_at_its_seq(ten: Ledger, unguarded: sqlite3.Connection) -> None:
    assert stored_event(unguarded, 5).price == "105"
    unguarded.execute("UPDATE ledger_events SET price = '104' WHERE seq = 5")

    report = ten.verify()

    assert not report.ok
    assert report.first_bad_seq == 5
    assert any(p.seq == 5 and p.check == "chain" for p in report.problems), report.problems


def test_an_edited_price_with_a_forged_hash_is_still_found_at_its_seq(
    ten: Ledger, unguarded: sqlite3.Connection
) -> None:
    forged = dataclasses.replace(stored_event(unguarded, 5), price="104")
    forged = dataclasses.replace(forged, hash=forged.computed_hash())
    unguarded.execute("UPDATE ledger_events SET price = ?, hash = ? WHERE seq = 5", (forged.price, forged.hash))
    # The forged row is self-consistent: only the link from seq 6 can give it away.
    tampered = stored_event(unguarded, 5)
    assert tampered.computed_hash() == tampered.hash

    report = ten.verify()

    assert not report.ok
    assert report.first_bad_seq == 5


def test_a_forged_chain_rewritten_from_the_edit_to_the_end_is_caught_by_the_head(
    ten: Ledger, unguarded: sqlite3.Connection
) -> None:
    # An attacker who re-seals every event after the edit leaves a self-consistent chain; the head
    # row still holds the original last hash.
    previous_hash = stored_event(unguarded, 4).hash
    for seq in range(5, 11):
        event = stored_event(unguarded, seq)
        if seq == 5:
            event = dataclasses.replace(event, price="104")
        event = dataclasses.replace(event, prev_hash=previous_hash)
        event = dataclasses.replace(event, hash=event.computed_hash())
        unguarded.execute(
            "UPDATE ledger_events SET price = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (event.price, event.prev_hash, event.hash, seq),
        )
        previous_hash = event.hash

    report = ten.verify()

    assert not report.ok
    assert any(p.check == "head" for p in report.problems), report.problems


def test_a_deleted_event_is_found_at_its_seq(ten: Ledger, unguarded: sqlite3.Connection) -> None:
    unguarded.execute("DELETE FROM ledger_events WHERE seq = 7")

    report = ten.verify()

    assert not report.ok
    assert any(p.check == "sequence" for p in report.problems), report.problems
    assert report.first_bad_seq == 7, report.problems


def test_a_deleted_last_event_is_found_against_the_head(ten: Ledger, unguarded: sqlite3.Connection) -> None:
    unguarded.execute("DELETE FROM ledger_events WHERE seq = 10")

    report = ten.verify()

    assert not report.ok
    assert report.events == 9
    assert any(p.check == "head" for p in report.problems), report.problems


# --- verify compares the stored projection with a fresh replay --------------------------------


def test_an_edited_position_row_is_reported_as_a_projection_problem(ten: Ledger, raw: sqlite3.Connection) -> None:
    row = raw.execute("SELECT quantity FROM positions WHERE symbol = 'BTC/USD'").fetchone()
    assert row is not None
    assert row["quantity"] == "3"
    raw.execute("UPDATE positions SET quantity = '4' WHERE symbol = 'BTC/USD'")

    report = ten.verify()

    assert not report.ok
    assert report.events == 10
    assert {p.check for p in report.problems} == {"projection"}, report.problems
    assert any("BTC/USD" in p.detail for p in report.problems), report.problems


def test_an_edited_closed_cycle_is_reported_as_a_projection_problem(ten: Ledger, raw: sqlite3.Connection) -> None:
    changed = raw.execute("UPDATE closed_positions SET realized_pnl = '999' WHERE closed_seq = 6").rowcount
    assert changed == 1

    report = ten.verify()

    assert not report.ok
    assert {p.check for p in report.problems} == {"projection"}, report.problems
    assert report.first_bad_seq == 6


def test_a_stale_projection_checkpoint_is_reported_as_a_projection_problem(
    ten: Ledger, raw: sqlite3.Connection
) -> None:
    ninth = stored_event(raw, 9)
    raw.execute(
        "UPDATE projection_checkpoints SET seq = ?, hash = ? WHERE name = 'positions'",
        (ninth.seq, ninth.hash),
    )

    report = ten.verify()

    assert not report.ok
    assert {p.check for p in report.problems} == {"projection"}, report.problems
    assert any("checkpoint" in p.detail for p in report.problems), report.problems


def test_an_edited_checkpoint_epoch_is_found_by_verify(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        for fill in [fill_fields() for _ in range(3)]:
            ledger.record(fill)
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as connection, connection:
        connection.execute("UPDATE projection_checkpoints SET epoch = 7")

    with open_ledger(db_url) as ledger:
        report = ledger.verify()

    assert not report.ok
    assert [problem.check for problem in report.problems] == ["projection"]


def test_verify_reports_rather_than_crashes_on_values_the_ledger_never_writes(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        for fill in [fill_fields() for _ in range(4)]:
            ledger.record(fill)
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as connection, connection:
        connection.execute("DROP TRIGGER ledger_events_no_update")
        connection.execute("UPDATE ledger_events SET prev_hash = 'é' || substr(prev_hash, 2) WHERE seq = 2")
        connection.execute("UPDATE ledger_events SET price = x'00ff' WHERE seq = 3")

    with open_ledger(db_url) as ledger:
        report = ledger.verify()

    assert not report.ok
    assert report.first_bad_seq == 2
    assert {problem.seq for problem in report.problems} >= {2, 3}
