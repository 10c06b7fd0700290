"""Rollback (spec section 6): the log's tail removed, audited, in a new epoch, every projection rewound.

Contract tests: each runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import Backend
from tests.factories import fill_fields
from tradeledger import InvalidArgument, Ledger, StorageError, open_ledger
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.fold_state import ExecutionRow

# (symbol, side, quantity, price): BTC opens, adds, closes at seq 4 and reopens at 6; ETH opens at 5.
EIGHT = (
    ("BTC/USD", "buy", "1", "100"),
    ("BTC/USD", "buy", "1", "110"),
    ("ETH/USD", "buy", "2", "10"),
    ("BTC/USD", "sell", "2", "120"),
    ("ETH/USD", "sell", "1", "12"),
    ("BTC/USD", "sell", "1", "125"),
    ("ETH/USD", "buy", "3", "11"),
    ("BTC/USD", "buy", "0.5", "121"),
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class NoOffset(tzinfo):
    """A zone that knows no offset: a datetime with it is naive (datetime.utcoffset() is None)."""

    def utcoffset(self, _dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, _dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, _dt: datetime | None) -> str | None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def eight(db_url: str) -> Iterator[Ledger]:
    """A ledger whose clock ticks a minute per call (recorded_at 09:01 … 09:08 for seq 1..8), snapshots every 3."""
    with open_ledger(db_url, clock=Clock(), snapshot_every=3) as ledger:
        for symbol, side, quantity, price in EIGHT:
            ledger.record(fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, fee="0.1"))
        yield ledger


def rows(backend: Backend, table: str) -> int:
    return int(backend.sql(f"SELECT COUNT(*) FROM {table}")[0][0])


def test_a_dry_run_changes_nothing_and_shows_what_would_go(eight: Ledger, backend: Backend) -> None:
    head = eight.head

    report = eight.rollback(to_seq=6, reason="just looking", actor="ops", dry_run=True)

    assert report.dry_run
    assert report.record is None
    assert [fill.seq for fill in report.removed] == [7, 8]
    assert (report.head_after.epoch, report.head_after.seq) == (2, 6)
    assert eight.head == head
    assert (rows(backend, "ledger_events"), rows(backend, "ledger_admin_log")) == (8, 0)
    # One truth: the state shown is the one the rollback leaves, in the new epoch.
    assert (report.state.seq, report.state.epoch) == (6, 2)
    assert report.state == eight.rollback(to_seq=6, reason="now", actor="ops").state


def test_snapshots_past_the_target_go_and_the_rest_stay(eight: Ledger, backend: Backend) -> None:
    assert [r[0] for r in backend.sql("SELECT DISTINCT seq FROM position_snapshots ORDER BY seq")] == [3, 6]

    eight.rollback(to_seq=5, reason="undo", actor="ops")

    assert [r[0] for r in backend.sql("SELECT DISTINCT seq FROM position_snapshots ORDER BY seq")] == [3]
    assert eight.replay(until_seq=4, closed=False).open == eight.replay(until_seq=4).open


def test_a_snapshot_holds_the_balances_after_its_event_and_a_rollback_keeps_those_at_or_below_the_target(
    eight: Ledger, backend: Backend
) -> None:
    at_3 = {(r[0], r[1]) for r in backend.sql("SELECT key, amount FROM balance_snapshots WHERE seq = 3")}
    # BTC 1 @ 100 and 1 @ 110, ETH 2 @ 10, each with a 0.1 USD fee (the fills' exchange: see fill_fields).
    exchange = eight.history()[0].fill.exchange
    assert at_3 == {
        (f'["default","{exchange}","BTC"]', "2"),
        (f'["default","{exchange}","ETH"]', "2"),
        (f'["default","{exchange}","USD"]', "-230.3"),
    }

    eight.rollback(to_seq=5, reason="undo", actor="ops")

    assert [r[0] for r in backend.sql("SELECT DISTINCT seq FROM balance_snapshots ORDER BY seq")] == [3]
    assert {(r[0], r[1]) for r in backend.sql("SELECT key, amount FROM balance_snapshots")} == at_3
    # Folded on from the snapshot at 3: BTC sold 2 @ 120 (seq 4), ETH sold 1 @ 12 (seq 5), fees 0.1 each.
    balances = eight.balances()
    assert [(b.currency, b.amount) for b in balances.balances] == [
        ("BTC", Decimal(0)),
        ("ETH", Decimal(1)),
        ("USD", Decimal("21.5")),
    ]
    eight.rebuild()
    assert eight.balances() == balances
    assert eight.verify().ok


def test_a_rollback_folds_only_the_events_after_the_newest_snapshot_at_or_below_its_target(
    eight: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    folded: list[int] = []
    apply_rows = PositionFold.apply_rows

    def counting(fold: PositionFold, rows: Iterable[ExecutionRow]) -> None:
        def seen() -> Iterator[ExecutionRow]:
            for row in rows:
                folded.append(row[0])
                yield row

        apply_rows(fold, seen())

    monkeypatch.setattr(PositionFold, "apply_rows", counting)
    eight.rollback(to_seq=5, reason="undo", actor="ops")

    assert folded == [4, 5]  # from the snapshot at 3, not from seq 1
    monkeypatch.undo()
    expected = eight.replay()
    state = eight.state()
    assert (state.open, state.closed, state.symbol_totals) == (expected.open, expected.closed, expected.symbol_totals)
    report = eight.verify()
    assert report.ok, report.problems


def test_a_snapshot_of_another_epoch_makes_the_rollback_rebuild_from_the_whole_log(
    eight: Ledger, backend: Backend
) -> None:
    backend.sql("UPDATE position_snapshots SET epoch = 7 WHERE seq = 3")  # not this log's: never used
    expected = eight.replay(until_seq=5)

    eight.rollback(to_seq=5, reason="undo", actor="ops")

    state = eight.state()
    assert (state.open, state.closed, state.symbol_totals) == (expected.open, expected.closed, expected.symbol_totals)
    assert backend.sql("SELECT DISTINCT seq, epoch FROM position_snapshots ORDER BY seq") == [(3, 1)]
    report = eight.verify()  # the rebuild wrote the snapshot at 3 again, of this log
    assert report.ok, report.problems


def test_a_snapshot_without_its_balances_makes_the_rollback_rebuild_from_the_whole_log(
    eight: Ledger, backend: Backend
) -> None:
    # What a process of before revision 0008, still running after another one upgraded the file, leaves: the
    # positions of a snapshot and none of its balances (it knows no balance_snapshots).
    backend.sql("DELETE FROM balance_snapshots WHERE seq = 3")

    eight.rollback(to_seq=5, reason="undo", actor="ops")

    # Folded from seq 1, as the rebuild does: not from no balances at 3.
    assert [(b.currency, b.amount) for b in eight.balances().balances] == [
        ("BTC", Decimal(0)),
        ("ETH", Decimal(1)),
        ("USD", Decimal("21.5")),
    ]
    assert backend.sql("SELECT COUNT(*) FROM balance_snapshots WHERE seq = 3") == [(3,)]  # written again
    report = eight.verify()
    assert report.ok, report.problems


def _left_by_an_old_process(backend: Backend, rows: list[tuple[Any, ...]]) -> None:
    """Balance snapshot rows a process of before revision 0008 leaves past its rollback: its rebuild does not know
    balance_snapshots, so the rows after its target stay (of the epoch before)."""
    for seq, key, epoch, amount in rows:
        backend.sql(
            "INSERT INTO balance_snapshots VALUES (:seq, :key, :epoch, :amount)",
            {"seq": seq, "key": key, "epoch": epoch, "amount": amount},
        )


def test_a_snapshot_replaces_balance_rows_of_another_epoch_at_its_seq(eight: Ledger, backend: Backend) -> None:
    at_6 = backend.sql("SELECT seq, key, epoch, amount FROM balance_snapshots WHERE seq = 6")
    eight.rollback(to_seq=5, reason="undo", actor="ops")
    _left_by_an_old_process(backend, at_6)

    eight.record(fill_fields(symbol="BTC/USD", side="buy", quantity="3", price="100", fee="0.1"))  # seq 6: snapshot

    assert backend.sql("SELECT DISTINCT epoch FROM balance_snapshots WHERE seq = 6") == [(2,)]
    report = eight.verify()
    assert report.ok, report.problems


def test_a_rollback_does_not_rewind_from_balance_rows_of_another_epoch_than_the_snapshots(
    eight: Ledger, backend: Backend
) -> None:
    at_6 = backend.sql("SELECT seq, key, epoch, amount FROM balance_snapshots WHERE seq = 6")
    eight.rollback(to_seq=5, reason="undo", actor="ops")
    eight.record(fill_fields(symbol="BTC/USD", side="buy", quantity="3", price="100", fee="0.1"))  # seq 6: snapshot
    eight.record(fill_fields(symbol="ETH/USD", side="buy", quantity="1", price="10", fee="0.1"))  # seq 7
    # The old process snapshotted seq 6 (epoch 2) without balances, beside the rows it left of epoch 1.
    backend.sql("DELETE FROM balance_snapshots WHERE seq = 6")
    _left_by_an_old_process(backend, at_6)

    eight.rollback(to_seq=6, reason="undo", actor="ops")

    rewound = eight.balances()
    eight.rebuild()
    assert eight.balances() == rewound  # as from seq 1, not from the balances of epoch 1 at 6
    report = eight.verify()
    assert report.ok, report.problems


def test_verify_names_a_snapshot_whose_balances_differ_from_the_replay(eight: Ledger, backend: Backend) -> None:
    backend.sql("UPDATE balance_snapshots SET amount = '2.5' WHERE seq = 3 AND key LIKE '%\"ETH\"]'")

    report = eight.verify()

    assert not report.ok
    assert [(p.seq, p.check) for p in report.problems] == [(3, "snapshot")]
    assert "snapshot at seq 3, balance" in report.problems[0].detail
    assert "stored 2.5, replay gives 2" in report.problems[0].detail


_ETH_SNAPSHOT = "seq = 3 AND key LIKE '%\"ETH\"]'"
_ETH_BALANCE = "projection = 'balances' AND key LIKE '%\"ETH\"]'"


@pytest.mark.parametrize(
    ("tamper", "check", "shown"),
    [
        (f"UPDATE balance_snapshots SET amount = 'sNaN' WHERE {_ETH_SNAPSHOT}", "snapshot", "'sNaN'"),
        (f"UPDATE balance_snapshots SET amount = 'abc' WHERE {_ETH_SNAPSHOT}", "snapshot", "'abc'"),
        (f"UPDATE balance_snapshots SET key = '[1,2,3]' WHERE {_ETH_SNAPSHOT}", "snapshot", "'[1,2,3]'"),
        (f'UPDATE balance_snapshots SET key = \'[null,"a","b"]\' WHERE {_ETH_SNAPSHOT}', "snapshot", "null"),
        (f"UPDATE projection_entries SET value = 'sNaN' WHERE {_ETH_BALANCE}", "balances", "'sNaN'"),
        (f"UPDATE projection_entries SET value = 'abc' WHERE {_ETH_BALANCE}", "balances", "'abc'"),
        (f"UPDATE projection_entries SET key = '[1,2,3]' WHERE {_ETH_BALANCE}", "balances", "'[1,2,3]'"),
    ],
)
def test_verify_names_a_stored_balance_it_cannot_read_instead_of_failing(
    eight: Ledger, backend: Backend, tamper: str, check: str, shown: str
) -> None:
    backend.sql(tamper)

    report = eight.verify()

    assert not report.ok
    assert [p.check for p in report.problems] == [check]
    assert "cannot be read" in report.problems[0].detail
    assert shown in report.problems[0].detail


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"to_seq": 8}, "nothing after seq 8"),
        ({"to_seq": 12}, "nothing after seq 12"),
        ({"to_seq": -1}, "to_seq: must be 0 or more"),
        ({}, "exactly one of to_seq and to_time"),
        ({"to_seq": 3, "to_time": T0}, "exactly one of to_seq and to_time"),
        ({"to_seq": 3, "reason": "  "}, "reason: must be printable, non-blank"),
        ({"to_seq": 3, "actor": "\n"}, "actor: must be printable, non-blank"),
        ({"to_time": datetime(2026, 3, 2, 9, 0)}, "to_time: must carry a timezone"),  # noqa: DTZ001 - the bad input
        pytest.param(
            {"to_time": datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5)))},
            r"to_time: out of range \(got 9999-12-31T23:59:59-05:00\)",
        ),
        pytest.param(
            {"to_time": datetime(2026, 3, 2, 9, 0, tzinfo=NoOffset())},
            "to_time: must carry a timezone",
        ),
    ],
)
def test_a_bad_rollback_is_refused_and_writes_nothing(
    eight: Ledger, backend: Backend, arguments: dict[str, Any], message: str
) -> None:
    values = {"reason": "undo", "actor": "ops", **arguments}

    with pytest.raises(InvalidArgument, match=message):
        eight.rollback(**values)

    assert (rows(backend, "ledger_events"), rows(backend, "ledger_admin_log"), eight.head.epoch) == (8, 0, 1)


def test_the_database_still_refuses_a_plain_delete_after_a_rollback(eight: Ledger, backend: Backend) -> None:
    eight.rollback(to_seq=5, reason="undo", actor="ops")
    eight.record(fill_fields())  # seq 6 of epoch 2: no record covers it

    for statement in ("DELETE FROM ledger_events WHERE seq = 6", "DELETE FROM ledger_events WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"):
            backend.sql(statement)
    for statement in ("DELETE FROM ledger_admin_log", "UPDATE ledger_admin_log SET reason = 'nothing'"):
        with pytest.raises(Exception, match="append-only"):
            backend.sql(statement)
    assert rows(backend, "ledger_events") == 6


def test_verify_finds_an_edited_admin_record(eight: Ledger, backend: Backend) -> None:
    eight.rollback(to_seq=5, reason="undo", actor="ops")
    backend.drop_admin_guard()
    backend.sql("UPDATE ledger_admin_log SET reason = 'nothing to see'")

    report = eight.verify()

    assert not report.ok
    assert [(p.seq, p.check) for p in report.problems] == [(6, "admin")]


def test_verify_finds_a_removed_event_edited_in_the_admin_record(eight: Ledger, backend: Backend) -> None:
    eight.rollback(to_seq=5, reason="undo", actor="ops")
    backend.drop_admin_guard()
    removed = json.loads(backend.sql("SELECT removed FROM ledger_admin_log")[0][0])
    removed[1]["price"] = "1"
    backend.sql("UPDATE ledger_admin_log SET removed = :removed", {"removed": json.dumps(removed)})

    problems = eight.verify().problems

    assert {p.check for p in problems} == {"admin"}
    assert any("removed event seq 7 does not chain" in p.detail for p in problems), problems


def test_verify_finds_an_epoch_change_no_rollback_explains(eight: Ledger, backend: Backend) -> None:
    # Behind the ledger's back: the head and the last event moved to epoch 2 with no admin record.
    backend.drop_append_only_guard()
    backend.drop_head_guard()
    backend.sql("UPDATE ledger_events SET epoch = 2 WHERE seq = 8")
    backend.sql("UPDATE ledger_head SET epoch = 2")

    problems = eight.verify().problems

    assert any(p.seq == 8 and p.check == "admin" and "epoch 2 starts at seq 8" in p.detail for p in problems)


def test_a_rollback_planned_before_another_rollback_is_refused_under_the_lock(
    eight: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch, backend: Backend
) -> None:
    # Two operators: B plans a rollback to seq 7 (it reads seq 8 after it); before B takes the write
    # lock, A rolls back to seq 5. B must re-check under the lock and refuse, writing nothing.
    with open_ledger(db_url) as operator_a:
        store = eight._store  # the race is between the plan and the locked write
        locked_write = store.unit_of_work

        def a_goes_first(**options: Any) -> Any:
            monkeypatch.setattr(store, "unit_of_work", locked_write)  # once: B's write is the next one
            operator_a.rollback(to_seq=5, reason="A", actor="alice")
            return locked_write(**options)

        monkeypatch.setattr(store, "unit_of_work", a_goes_first)

        with pytest.raises(InvalidArgument, match="the log changed before this rollback took the write lock"):
            eight.rollback(to_seq=7, reason="B", actor="bob")

    assert [record.reason for record in eight.admin_log()] == ["A"]
    assert (eight.head.epoch, eight.head.seq) == (2, 5)
    assert rows(backend, "ledger_events") == 5
    assert eight.record(fill_fields()).seq == 6
    assert eight.verify().ok


def test_a_storage_error_during_rollback_leaves_everything_as_it_was(eight: Ledger, backend: Backend) -> None:
    # A trigger that refuses every delete makes the rollback fail half-way: the transaction undoes the record too.
    backend.drop_append_only_guard()
    if backend.name == "sqlite":
        backend.sql(
            "CREATE TRIGGER refuse_all BEFORE DELETE ON ledger_events BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    else:
        body = "BEGIN RAISE EXCEPTION 'refused'; END"
        backend.sql(f"CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")
        backend.sql(
            "CREATE TRIGGER refuse_all BEFORE DELETE ON ledger_events FOR EACH ROW EXECUTE FUNCTION refuse_all()"
        )
    head = eight.head

    with pytest.raises(StorageError, match="refused"):
        eight.rollback(to_seq=5, reason="undo", actor="ops")

    assert eight.head == head
    assert (rows(backend, "ledger_events"), rows(backend, "ledger_admin_log")) == (8, 0)


def test_verify_finds_a_head_epoch_that_no_rollback_explains(eight: Ledger, backend: Backend) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="ledger_head follows the log"):
        backend.sql("UPDATE ledger_head SET epoch = 2")  # the row's trigger refuses it
    backend.drop_head_guard()  # as anyone with the database's keys could: then verify is the guard
    backend.sql("UPDATE ledger_head SET epoch = 2")

    problems = eight.verify().problems

    assert [(p.seq, p.check) for p in problems] == [(8, "head")]
    assert "the head says epoch 2, the log and the admin log say 1" in problems[0].detail


def test_an_insert_that_would_replace_an_event_or_a_record_is_refused(eight: Ledger, backend: Backend) -> None:
    # SQLite's INSERT OR REPLACE deletes the old row without firing delete triggers; PostgreSQL's
    # INSERT ... ON CONFLICT DO UPDATE is an update. Both are refused.
    eight.rollback(to_seq=5, reason="undo", actor="ops")
    columns = "seq, epoch, recorded_at, fill_id, account, exchange, symbol, side, quantity, price, fee, occurred_at"
    edited = columns.replace("price", "'1'")
    admin = "id, action, at, actor, reason, from_epoch, from_seq, from_hash, to_epoch, to_seq, to_hash, removed"
    if backend.name == "sqlite":
        event = (
            f"INSERT OR REPLACE INTO ledger_events ({columns}, prev_hash, hash) "
            f"SELECT {edited}, prev_hash, hash FROM ledger_events WHERE seq = 3"
        )
        record = f"INSERT OR REPLACE INTO ledger_admin_log SELECT {admin}, prev_hash, hash FROM ledger_admin_log"
    else:
        event = (
            f"INSERT INTO ledger_events ({columns}, prev_hash, hash) SELECT {columns}, prev_hash, hash "
            "FROM ledger_events WHERE seq = 3 ON CONFLICT (seq) DO UPDATE SET price = '1'"
        )
        record = (
            f"INSERT INTO ledger_admin_log SELECT {admin}, prev_hash, hash FROM ledger_admin_log "
            "ON CONFLICT (id) DO UPDATE SET reason = 'nothing'"
        )

    for statement in (event, record):
        with pytest.raises(Exception, match="append-only"):
            backend.sql(statement)

    assert eight.verify().ok
