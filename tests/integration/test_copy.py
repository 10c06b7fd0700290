"""`tradeledger copy`: a ledger moves between databases event for event (SQLite ⇄ PostgreSQL).

The other side of each copy is a SQLite file; `backend` is SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.backends import Backend, sqlite_backend
from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.application import copying
from tradeledger.application.copying import copy_ledger
from tradeledger.application.subscribing import EventNotice
from tradeledger.bootstrap import open_store
from tradeledger.cli import app
from tradeledger.domain.risk import PriceMark
from tradeledger.errors import InvalidArgument, InvalidFill, StorageError

EVENT_COLUMNS = "seq, epoch, recorded_at, fill_id, account, exchange, symbol, side, quantity, price, fee, occurred_at"
ALL_EVENT_COLUMNS = f"{EVENT_COLUMNS}, strategy, order_id, client_order_id, metadata, prev_hash, hash"
# Two symbols, two accounts, a closed cycle, a flip, metadata: 7 fills.
SESSION = (
    {"symbol": "BTC/USD", "side": "buy", "quantity": "2", "price": "100", "fee": "0.2"},
    {"symbol": "ETH/USD", "side": "sell", "quantity": "1.5", "price": "10", "fee": "0.01", "strategy": "mr"},
    {"symbol": "BTC/USD", "side": "sell", "quantity": "3", "price": "110", "fee": "0.3"},
    {"symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "105", "metadata": {"note": "flip back"}},
    {"symbol": "ETH/USD", "side": "buy", "quantity": "1.5", "price": "9.5", "order_id": "O-7"},
    {"symbol": "BTC/USD", "side": "buy", "quantity": "0.25", "price": "104.5", "account": "hedge"},
    {"symbol": "SOL/USD", "side": "buy", "quantity": "10", "price": "1.23456789", "fee": "0.0001"},
)


def clock_from(start: int) -> Any:
    ticks = iter(range(start, start + 1000))
    return lambda: RECORDED_AT + timedelta(seconds=next(ticks))


def record_session(url: str, fills: tuple[dict[str, Any], ...] = SESSION, *, start: int = 0) -> None:
    with open_ledger(url, clock=clock_from(start)) as ledger:
        for fields in fills:
            ledger.record(fill_fields(**fields))


def events_of(backend: Backend) -> list[tuple[Any, ...]]:
    return backend.sql(f"SELECT {ALL_EVENT_COLUMNS} FROM ledger_events ORDER BY seq")


def copy(source: str, target: str) -> Any:
    source_store, target_store = open_store(source), open_store(target)
    try:
        return copy_ledger(source_store, target_store)
    finally:
        source_store.close()
        target_store.close()


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Backend:
    """A SQLite ledger holding SESSION at seq 1..7."""
    source = sqlite_backend(tmp_path, "source.db")
    record_session(source.url)
    return source


def test_a_copy_holds_the_same_events_byte_for_byte_and_the_same_positions(
    sqlite_source: Backend, backend: Backend
) -> None:
    report = copy(sqlite_source.url, backend.url)

    assert (report.copied, report.already_there, report.head.seq) == (7, 0, 7)
    assert report.verify.ok, report.verify.problems
    assert len(events_of(backend)) == 7
    assert events_of(backend) == events_of(sqlite_source)
    with open_ledger(sqlite_source.url) as original, open_ledger(backend.url) as copied:
        assert copied.head == original.head
        assert copied.state() == original.state()
        assert copied.replay(until_seq=3) == original.replay(until_seq=3)
        assert [r.fill for r in copied.history()] == [r.fill for r in original.history()]
        assert copied.state().totals == original.state().totals
        # The copy is a working ledger: the next fill takes seq 8 and links to the copied head.
        receipt = copied.record(fill_fields())
        assert receipt.seq == 8
        assert copied.verify().ok


def test_a_copy_written_in_several_chunks_equals_one_written_at_once(
    sqlite_source: Backend, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 7 events in chunks of 3: later chunks update position rows that earlier chunks inserted.
    monkeypatch.setattr(copying, "CHUNK", 3)
    seen: list[int] = []

    source_store, target_store = open_store(sqlite_source.url), open_store(backend.url)
    try:
        report = copying.copy_ledger(source_store, target_store, on_progress=seen.append)
    finally:
        source_store.close()
        target_store.close()

    assert seen == [3, 6, 7]
    assert report.verify.ok, report.verify.problems
    assert events_of(backend) == events_of(sqlite_source)
    for table in ("positions ORDER BY account, symbol", "closed_positions ORDER BY closed_seq"):
        assert backend.sql(f"SELECT * FROM {table}") == sqlite_source.sql(f"SELECT * FROM {table}")


def test_a_ledger_copied_there_and_back_is_the_original(
    sqlite_source: Backend, backend: Backend, tmp_path: Path
) -> None:
    back = sqlite_backend(tmp_path, "back.db")

    copy(sqlite_source.url, backend.url)
    report = copy(backend.url, back.url)

    assert report.verify.ok
    assert events_of(back) == events_of(sqlite_source)
    assert back.sql("SELECT * FROM positions ORDER BY account, symbol") == sqlite_source.sql(
        "SELECT * FROM positions ORDER BY account, symbol"
    )
    assert back.sql("SELECT * FROM closed_positions ORDER BY closed_seq") == sqlite_source.sql(
        "SELECT * FROM closed_positions ORDER BY closed_seq"
    )
    assert back.sql("SELECT epoch, seq, hash FROM ledger_head") == sqlite_source.sql(
        "SELECT epoch, seq, hash FROM ledger_head"
    )


def test_copying_again_appends_only_the_events_the_target_lacks(sqlite_source: Backend, backend: Backend) -> None:
    copy(sqlite_source.url, backend.url)
    record_session(sqlite_source.url, SESSION[:3], start=100)

    report = copy(sqlite_source.url, backend.url)

    assert (report.already_there, report.copied, report.head.seq) == (7, 3, 10)
    assert report.verify.ok
    assert events_of(backend) == events_of(sqlite_source)


def test_a_copy_refuses_a_sale_backfilled_before_a_copied_sale_naming_the_lot_it_would_take(
    tmp_path: Path, backend: Backend
) -> None:
    source = sqlite_backend(tmp_path, "named.db")
    day = "2026-01-0{}T00:00:00+00:00".format
    lots = {"lots": [{"seq": 1, "quantity": "1"}]}
    with open_ledger(source.url) as ledger:
        ledger.record_many([fill_fields(occurred_at=day(1)), fill_fields(occurred_at=day(2))])
        ledger.record(fill_fields(side="sell", metadata=lots, occurred_at=day(5)))
    copy(source.url, backend.url)

    with open_ledger(backend.url) as copied, pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: the fill"):
        copied.record(fill_fields(side="sell", occurred_at=day(3)))


def test_copying_to_an_up_to_date_target_copies_nothing(sqlite_source: Backend, backend: Backend) -> None:
    copy(sqlite_source.url, backend.url)
    before = events_of(backend)

    report = copy(sqlite_source.url, backend.url)

    assert (report.already_there, report.copied) == (7, 0)
    assert report.verify.ok
    assert events_of(backend) == before


def test_a_target_holding_another_ledger_is_refused_and_left_as_it_was(
    sqlite_source: Backend, backend: Backend
) -> None:
    record_session(backend.url, SESSION[:2], start=500)  # other recorded_at: other hashes
    before = events_of(backend)

    with pytest.raises(InvalidArgument, match=r"another ledger \(not a prefix of the source\).*seq 2") as refused:
        copy(sqlite_source.url, backend.url)

    assert "nothing was copied" in str(refused.value)
    assert events_of(backend) == before


def test_a_target_ahead_of_the_source_is_refused_and_left_as_it_was(sqlite_source: Backend, backend: Backend) -> None:
    copy(sqlite_source.url, backend.url)
    record_session(backend.url, SESSION[:1], start=200)
    before = events_of(backend)

    with pytest.raises(InvalidArgument, match="the target holds more events than the source"):
        copy(sqlite_source.url, backend.url)

    assert len(before) == 8
    assert events_of(backend) == before


def test_a_source_with_a_broken_chain_is_refused_at_its_first_bad_seq_and_nothing_is_copied(
    backend: Backend, tmp_path: Path
) -> None:
    record_session(backend.url)
    backend.drop_append_only_guard()
    backend.sql("UPDATE ledger_events SET price = '111' WHERE seq = 5")
    target = sqlite_backend(tmp_path, "target.db")

    with pytest.raises(StorageError, match="the source log is broken at seq 5"):
        copy(backend.url, target.url)

    assert events_of(target) == []
    assert target.sql("SELECT epoch, seq, hash FROM ledger_head") == [(1, 0, "0" * 64)]
    assert target.sql("SELECT count(*) FROM positions") == [(0,)]


def test_price_marks_travel_with_the_ledger(sqlite_source: Backend, backend: Backend) -> None:
    mark = PriceMark("BTC/USD", Decimal("101.25"), datetime(2026, 1, 5, 13, 0, tzinfo=UTC))
    with open_ledger(sqlite_source.url) as source:
        source.save_marks([mark], [])

    copy(sqlite_source.url, backend.url)

    assert backend.sql("SELECT symbol, price, marked_at FROM price_marks") == [
        ("BTC/USD", "101.25", "2026-01-05T13:00:00.000000+00:00")
    ]


def test_the_copy_command_reports_what_it_copied_and_the_verification_as_json(
    sqlite_source: Backend, backend: Backend
) -> None:
    result = CliRunner().invoke(app, ["copy", "--from", sqlite_source.url, "--to", backend.url, "--json"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    with open_ledger(sqlite_source.url) as original:
        head = original.head
    assert printed["copied"] == 7
    assert printed["already_there"] == 0
    assert printed["entries"] == 0
    assert (printed["seq"], printed["hash"]) == (7, head.hash)
    assert printed["verify"]["ok"] is True
    assert printed["verify"]["events"] == 7


def test_the_copy_command_refuses_a_foreign_target_with_exit_status_2(sqlite_source: Backend, backend: Backend) -> None:
    record_session(backend.url, SESSION[:1], start=300)

    result = CliRunner().invoke(app, ["copy", "--from", sqlite_source.url, "--to", backend.url])

    assert result.exit_code == 2
    assert "error: --to: the target holds another ledger" in result.stderr
    assert len(events_of(backend)) == 1


def test_a_copy_takes_the_snapshots_appends_would_have_taken(sqlite_source: Backend, backend: Backend) -> None:
    source_store, target_store = open_store(sqlite_source.url), open_store(backend.url)
    try:
        report = copy_ledger(source_store, target_store, snapshot_every=3)
    finally:
        source_store.close()
        target_store.close()

    assert report.verify.ok, report.verify.problems  # verify compares each snapshot with a replay
    assert [row[0] for row in backend.sql("SELECT DISTINCT seq FROM position_snapshots ORDER BY seq")] == [3, 6]
    with open_ledger(sqlite_source.url) as source, open_ledger(backend.url) as target:
        assert target.replay(until_seq=5, closed=False) == source.replay(until_seq=5, closed=False)


def test_copy_exits_1_when_the_copy_does_not_verify(tmp_path: Path, backend: Backend) -> None:
    # The target holds a prefix of the source, but its projection row was edited behind its back:
    # the copy folds forward from that row, and the final verify catches the difference.
    source = sqlite_backend(tmp_path, "growing.db")
    record_session(source.url, SESSION[:3])
    copy(source.url, backend.url)
    backend.sql("UPDATE positions SET quantity = '99' WHERE symbol = 'BTC/USD'")
    record_session(source.url, SESSION[3:], start=3)

    result = CliRunner().invoke(app, ["copy", "--from", source.url, "--to", backend.url, "--json"])

    assert result.exit_code == 1, result.output
    printed = json.loads(result.stdout)
    assert (printed["copied"], printed["already_there"]) == (4, 3)
    assert printed["verify"]["ok"] is False


def test_a_copy_carries_the_admin_log_and_the_head_of_a_rolled_back_ledger(
    sqlite_source: Backend, backend: Backend
) -> None:
    with open_ledger(sqlite_source.url) as source:
        source.rollback(to_seq=4, reason="undo the last three", actor="ops")
        records, head = source.admin_log(), source.head

    report = copy(sqlite_source.url, backend.url)

    assert report.verify.ok, report.verify.problems
    with open_ledger(backend.url) as target:
        assert (target.head, target.admin_log()) == (head, records)
        assert (target.head.epoch, target.head.seq) == (2, 4)


def test_copying_again_after_a_rollback_catches_up(sqlite_source: Backend, backend: Backend) -> None:
    with open_ledger(sqlite_source.url) as source:
        source.rollback(to_seq=4, reason="undo", actor="ops")
    copy(sqlite_source.url, backend.url)  # the target's head is now epoch 2, seq 4
    record_session(sqlite_source.url, SESSION[:2], start=500)

    report = copy(sqlite_source.url, backend.url)

    assert (report.already_there, report.copied, report.head.seq, report.head.epoch) == (4, 2, 6, 2)
    assert report.verify.ok, report.verify.problems


def test_a_source_whose_event_does_not_read_is_refused_at_its_seq_though_its_chain_holds(
    backend: Backend, tmp_path: Path
) -> None:
    record_session(backend.url)
    backend.drop_append_only_guard()
    backend.drop_head_guard()
    store = open_store(backend.url)
    try:
        with store.reading() as tx:
            events = list(tx.log.read())
    finally:
        store.close()
    previous = events[3].hash
    for event in events[4:]:  # seq 5 edited, its hash and every one after recomputed: the chain still holds
        edited = replace(event, quantity="-1") if event.seq == 5 else event
        edited = replace(edited, prev_hash=previous)
        previous = edited.computed_hash()
        backend.sql(
            "UPDATE ledger_events SET quantity = :quantity, prev_hash = :prev, hash = :hash WHERE seq = :seq",
            {"quantity": edited.quantity, "prev": edited.prev_hash, "hash": previous, "seq": edited.seq},
        )
    backend.sql("UPDATE ledger_head SET hash = :hash", {"hash": previous})
    target = sqlite_backend(tmp_path, "target.db")

    with pytest.raises(
        StorageError, match=r"^the source log is broken at seq 5: quantity '-1' is not a valid amount; run verify"
    ):
        copy(backend.url, target.url)

    assert events_of(target) == []
    assert target.sql("SELECT epoch, seq, hash FROM ledger_head") == [(1, 0, "0" * 64)]


def keep_positions_in(url: str) -> Any:
    """On the ledger at `url`: a sync cursor, a named subscriber's position with its own entries, a checkpoint.
    Returns the subscriber's saved position."""
    with open_ledger(url, clock=clock_from(500)) as ledger:
        ledger.record_many([fill_fields(fill_id="S-1", symbol="ADA/USD")], cursors={"sync:main:kraken:trades": "17"})
        subscription = ledger.subscribe(name="auditor")
        seen = [notice.seq for notice in subscription.poll() if isinstance(notice, EventNotice)]
        subscription.save(entries={"auditor_view": {"seen": ",".join(map(str, seen))}})
        subscription.close()
        assert ledger.save_checkpoint("my_model", "main", '{"cash": "12.5"}', at=ledger.head)
        return subscription.position


def test_a_copy_carries_sync_cursors_named_subscribers_and_read_model_checkpoints(
    sqlite_source: Backend, backend: Backend
) -> None:
    saved = keep_positions_in(sqlite_source.url)

    report = copy(sqlite_source.url, backend.url)

    assert (report.copied, report.entries) == (8, 4)
    with open_ledger(backend.url) as copied:
        assert copied.cursors() == {"sync:main:kraken:trades": "17"}
        resumed = copied.subscribe(name="auditor")
        assert resumed.position == saved
        assert [n for n in resumed.poll() if isinstance(n, EventNotice)] == []  # nothing delivered twice
        resumed.close()
        start = copied.resume_account("my_model", "main", account="default", at=copied.head)
    assert start is not None
    assert (start.at.seq, start.state, start.events) == (8, '{"cash": "12.5"}', [])
    assert backend.sql("SELECT key, value FROM projection_entries WHERE projection = 'auditor_view'") == [
        ("seen", "1,2,3,4,5,6,7,8")
    ]


def test_a_copy_leaves_the_ledgers_own_entries_to_the_targets_fold(sqlite_source: Backend, backend: Backend) -> None:
    with open_ledger(sqlite_source.url) as source:
        source.rebuild()  # a rebuild token of the source's own

    copy(sqlite_source.url, backend.url)

    tables = {table for (table,) in backend.sql("SELECT DISTINCT projection FROM projection_entries")}
    assert tables == {"balances"}
    assert backend.sql("SELECT key, value FROM projection_entries WHERE projection = 'balances' ORDER BY key") == (
        sqlite_source.sql("SELECT key, value FROM projection_entries WHERE projection = 'balances' ORDER BY key")
    )


def test_copying_again_takes_the_sources_later_entries_and_keeps_keys_only_the_target_has(
    sqlite_source: Backend, backend: Backend
) -> None:
    keep_positions_in(sqlite_source.url)
    copy(sqlite_source.url, backend.url)
    with open_ledger(backend.url) as target:
        dashboard = target.subscribe(name="dashboard")
        dashboard.poll()
        dashboard.save()
        dashboard.close()
    record_session(sqlite_source.url, SESSION[:2], start=700)
    with open_ledger(sqlite_source.url) as source:
        auditor = source.subscribe(name="auditor")
        auditor.poll()
        auditor.save()
        auditor.close()

    report = copy(sqlite_source.url, backend.url)

    assert (report.copied, report.entries) == (2, 4)
    with open_ledger(backend.url) as target:
        assert target.subscribe(name="auditor").position.seq == 10
        assert target.subscribe(name="dashboard").position.seq == 8
