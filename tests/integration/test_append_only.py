"""The log is append-only in the database, and verify finds what gets past that (spec section 2).

Everything here goes around tradeledger: plain SQL on the ledger's own database (tests/backends.py),
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.domain.records import StoredEvent

if TYPE_CHECKING:
    from tests.backends import Backend
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
pytestmark = pytest.mark.reliability

# Statements that would empty the whole log: SQLite has no TRUNCATE.
EMPTY_THE_LOG = {"sqlite": "DELETE FROM ledger_events", "postgresql": "TRUNCATE ledger_events"}


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
def raw(backend: Backend, ten: Ledger) -> Backend:
    """Direct SQL on the ledger's database (holding the ten fills), around tradeledger."""
    del ten
    return backend


@pytest.fixture
def unguarded(raw: Backend) -> Backend:
    """Direct SQL without the append-only triggers: what anyone with the database's keys can do."""
    raw.drop_append_only_guard()
    return raw


def all_events(raw: Backend) -> list[tuple[Any, ...]]:
    return raw.sql("SELECT * FROM ledger_events ORDER BY seq")


def stored_event(raw: Backend, seq: int) -> StoredEvent:
    [row] = raw.records("SELECT * FROM ledger_events WHERE seq = :seq", {"seq": seq})
    return StoredEvent(**row)


# --- the database refuses changes to the log --------------------------------------------------


def test_a_raw_update_of_an_event_is_refused_by_the_database(ten: Ledger, raw: Backend) -> None:
    before = all_events(raw)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql("UPDATE ledger_events SET price = '1' WHERE seq = 5")

    assert all_events(raw) == before
    assert ten.verify().ok


def test_a_raw_update_of_the_whole_log_is_refused_and_changes_no_row(ten: Ledger, raw: Backend) -> None:
    before = all_events(raw)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql("UPDATE ledger_events SET price = price || '0'")

    assert all_events(raw) == before
    assert ten.verify().ok


def test_a_raw_delete_of_an_event_is_refused_by_the_database(ten: Ledger, raw: Backend) -> None:
    before = all_events(raw)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql("DELETE FROM ledger_events WHERE seq = 7")
    assert all_events(raw) == before
    report = ten.verify()
    assert report.ok
    assert report.events == 10


def test_emptying_the_whole_log_is_refused_by_the_database(ten: Ledger, raw: Backend) -> None:
    before = all_events(raw)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql(EMPTY_THE_LOG[raw.name])

    assert all_events(raw) == before
    assert ten.verify().ok


# --- verify finds tampering that got past the triggers ----------------------------------------


def test_an_untouched_ledger_verifies_with_every_event_counted(ten: Ledger) -> None:
    report = ten.verify()

    assert report.ok
    assert report.problems == ()
    assert report.first_bad_seq is None
    assert report.events == 10
    assert report.head == ten.head
    assert report.head.seq == 10


def test_an_edited_price_is_found_at_its_seq(ten: Ledger, unguarded: Backend) -> None:
    assert stored_event(unguarded, 5).price == "105"
    unguarded.sql("UPDATE ledger_events SET price = '104' WHERE seq = 5")

    report = ten.verify()

    assert not report.ok
    assert report.first_bad_seq == 5
    assert any(p.seq == 5 and p.check == "chain" for p in report.problems), report.problems


def test_an_edited_price_with_a_forged_hash_is_still_found_at_its_seq(ten: Ledger, unguarded: Backend) -> None:
    forged = dataclasses.replace(stored_event(unguarded, 5), price="104")
    forged = dataclasses.replace(forged, hash=forged.computed_hash())
    unguarded.sql(
        "UPDATE ledger_events SET price = :price, hash = :hash WHERE seq = 5",
        {"price": forged.price, "hash": forged.hash},
    )
    # The forged row is self-consistent: only the link from seq 6 can give it away.
    tampered = stored_event(unguarded, 5)
    assert tampered.computed_hash() == tampered.hash

    report = ten.verify()

    assert not report.ok
    assert report.first_bad_seq == 5


def test_a_forged_chain_rewritten_from_the_edit_to_the_end_is_caught_by_the_head(
    ten: Ledger, unguarded: Backend
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
        unguarded.sql(
            "UPDATE ledger_events SET price = :price, prev_hash = :prev_hash, hash = :hash WHERE seq = :seq",
            {"price": event.price, "prev_hash": event.prev_hash, "hash": event.hash, "seq": seq},
        )
        previous_hash = event.hash

    report = ten.verify()

    assert not report.ok
    assert any(p.check == "head" for p in report.problems), report.problems
    # Every link holds, so the first thing that disagrees is the head row's hash for seq 10.
    assert report.first_bad_seq == 10, report.problems


def test_a_deleted_event_is_found_at_its_seq(ten: Ledger, unguarded: Backend) -> None:
    unguarded.sql("DELETE FROM ledger_events WHERE seq = 7")

    report = ten.verify()

    assert not report.ok
    assert any(p.check == "sequence" for p in report.problems), report.problems
    assert report.first_bad_seq == 7, report.problems


def test_two_swapped_events_are_found_at_the_first_of_them(ten: Ledger, unguarded: Backend) -> None:
    # Reordering: events 4 and 5 change places in the log (each keeps its own content and hashes).
    fourth, fifth = stored_event(unguarded, 4), stored_event(unguarded, 5)
    unguarded.sql("UPDATE ledger_events SET seq = -4 WHERE seq = 4")
    unguarded.sql("UPDATE ledger_events SET seq = 4 WHERE seq = 5")
    unguarded.sql("UPDATE ledger_events SET seq = 5 WHERE seq = -4")
    assert (stored_event(unguarded, 4).hash, stored_event(unguarded, 5).hash) == (fifth.hash, fourth.hash)

    report = ten.verify()

    assert not report.ok
    assert report.first_bad_seq == 4, report.problems
    assert any(p.seq == 4 and p.check == "chain" for p in report.problems), report.problems


def test_an_event_appended_behind_the_ledgers_back_is_found_against_the_head(ten: Ledger, raw: Backend) -> None:
    # A well-formed, correctly chained 11th event inserted with plain SQL: the head still says 10.
    tenth = stored_event(raw, 10)
    extra = StoredEvent.seal(
        {**tenth.content(), "fill_id": "forged-11"},
        seq=11,
        epoch=1,
        recorded_at=tenth.recorded_at,
        prev_hash=tenth.hash,
    )
    columns = ", ".join(extra.as_dict())
    raw.sql(
        f"INSERT INTO ledger_events ({columns}) VALUES ({', '.join(':' + c for c in extra.as_dict())})", extra.as_dict()
    )

    report = ten.verify()

    assert not report.ok
    assert report.events == 11
    assert report.first_bad_seq == 11, report.problems
    assert any(p.seq == 11 and p.check == "head" for p in report.problems), report.problems


def test_a_deleted_last_event_is_found_against_the_head(ten: Ledger, unguarded: Backend) -> None:
    unguarded.sql("DELETE FROM ledger_events WHERE seq = 10")

    report = ten.verify()

    assert not report.ok
    assert report.events == 9
    assert any(p.check == "head" for p in report.problems), report.problems
    assert report.first_bad_seq == 10, report.problems  # the missing event's own seq, as for a gap


def test_an_emptied_log_is_found_at_seq_1(ten: Ledger, unguarded: Backend) -> None:
    unguarded.sql("DELETE FROM ledger_events")

    report = ten.verify()

    assert not report.ok
    assert report.events == 0
    assert report.first_bad_seq == 1, report.problems


# --- verify compares the stored projection with a fresh replay --------------------------------


def test_an_edited_position_row_is_reported_as_a_projection_problem(ten: Ledger, raw: Backend) -> None:
    assert raw.sql("SELECT quantity FROM positions WHERE symbol = 'BTC/USD'") == [("3",)]
    raw.sql("UPDATE positions SET quantity = '4' WHERE symbol = 'BTC/USD'")

    report = ten.verify()

    assert not report.ok
    assert report.events == 10
    assert {p.check for p in report.problems} == {"projection"}, report.problems
    assert any("BTC/USD" in p.detail for p in report.problems), report.problems


def test_an_edited_closed_cycle_is_reported_as_a_projection_problem(ten: Ledger, raw: Backend) -> None:
    assert raw.sql("SELECT realized_pnl FROM closed_positions WHERE closed_seq = 6") == [("4",)]
    raw.sql("UPDATE closed_positions SET realized_pnl = '999' WHERE closed_seq = 6")

    report = ten.verify()

    assert not report.ok
    assert {p.check for p in report.problems} == {"projection"}, report.problems
    assert report.first_bad_seq == 6


STALE_CHECKPOINT = "UPDATE ledger_head SET checkpoint_seq = :seq, checkpoint_hash = :hash"


def test_the_database_refuses_a_checkpoint_that_is_not_the_head(ten: Ledger, raw: Backend) -> None:
    ninth = stored_event(raw, 9)

    with pytest.raises(sa.exc.DBAPIError, match="ledger_head follows the log"):
        raw.sql(STALE_CHECKPOINT, {"seq": ninth.seq, "hash": ninth.hash})

    assert ten.verify().ok


def test_a_stale_projection_checkpoint_is_reported_as_a_projection_problem(ten: Ledger, raw: Backend) -> None:
    ninth = stored_event(raw, 9)
    raw.drop_head_guard()
    raw.sql(STALE_CHECKPOINT, {"seq": ninth.seq, "hash": ninth.hash})

    report = ten.verify()

    assert not report.ok
    assert {p.check for p in report.problems} == {"projection"}, report.problems
    assert any("checkpoint" in p.detail for p in report.problems), report.problems


def test_an_edited_checkpoint_epoch_is_found_by_verify(backend: Backend) -> None:
    with open_ledger(backend.url) as ledger:
        for fill in [fill_fields() for _ in range(3)]:
            ledger.record(fill)
    backend.drop_head_guard()
    backend.sql("UPDATE ledger_head SET checkpoint_epoch = 7")

    with open_ledger(backend.url) as ledger:
        report = ledger.verify()

    assert not report.ok
    assert [problem.check for problem in report.problems] == ["projection"]


def test_verify_reports_rather_than_crashes_on_values_the_ledger_never_writes(tmp_path: Path) -> None:
    # SQLite only: its columns take values of any type (a blob in a text column), PostgreSQL's do not.
    db_url = f"sqlite:///{tmp_path / 'loose.db'}"
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


# --- the head row follows the log (revision 0005) ---------------------------------------------


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("UPDATE ledger_head SET hash = :other, checkpoint_hash = :other", "a hash no event has"),
        ("UPDATE ledger_head SET seq = 9, checkpoint_seq = 9", "seq 9 with seq 10's hash"),
        ("UPDATE ledger_head SET epoch = 2, checkpoint_epoch = 2", "an epoch no rollback made"),
        ("UPDATE ledger_head SET seq = 9, hash = :ninth, checkpoint_seq = 9, checkpoint_hash = :ninth", "back"),
        ("DELETE FROM ledger_head", "the row deleted"),
        ("INSERT INTO ledger_head VALUES (2, 1, 0, :zeros, 1, 0, :zeros)", "a second row"),
    ],
    ids=["unknown hash", "seq without its hash", "epoch", "back without a rollback", "delete", "insert"],
)
def test_the_database_refuses_a_head_that_no_append_or_rollback_made(
    ten: Ledger, raw: Backend, statement: str, why: str
) -> None:
    del why
    before = raw.sql("SELECT * FROM ledger_head")
    values = {"other": "f" * 64, "ninth": stored_event(raw, 9).hash, "zeros": "0" * 64}

    with pytest.raises(sa.exc.DBAPIError, match="ledger_head"):
        raw.sql(statement, {k: v for k, v in values.items() if f":{k}" in statement})

    assert raw.sql("SELECT * FROM ledger_head") == before
    assert ten.verify().ok


def test_a_delete_covered_by_a_record_is_refused_unless_the_record_lists_the_events_hash(
    ten: Ledger, raw: Backend
) -> None:
    # A record that covers seq 9..10 but lists another head hash: the delete is not the record's.
    raw.drop_admin_guard()
    raw.sql(
        "INSERT INTO ledger_admin_log VALUES (1, 'rollback', 'now', 'mallory', 'hide it', 1, 10, :fake, 2, 8, "
        ":eighth, '[]', :zeros, :zeros)",
        {"fake": "f" * 64, "eighth": stored_event(raw, 8).hash, "zeros": "0" * 64},
    )

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql("DELETE FROM ledger_events WHERE seq = 10")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql("DELETE FROM ledger_events WHERE seq = 9")
    # Listing seq 10 under the record with another hash does not let the real event go either.
    raw.sql("INSERT INTO ledger_rollback_removed VALUES (1, 10, :fake)", {"fake": "f" * 64})
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        raw.sql("DELETE FROM ledger_events WHERE seq = 10")

    assert len(all_events(raw)) == 10
