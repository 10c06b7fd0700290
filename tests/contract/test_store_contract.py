"""What every LedgerStore does (application/ports.py), checked on memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import make_fill
from tradeledger.application.ports import LedgerStore, OpenCycle, UnitOfWork
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.events import Funding, Transfer
from tradeledger.domain.positions import ClosedPosition, Position, PositionSide, Totals
from tradeledger.domain.records import Checkpoint, StoredEvent
from tradeledger.domain.risk import PriceMark, RiskLevels
from tradeledger.errors import StorageError

EMPTY = Checkpoint(1, 0, GENESIS_HASH)
AT = "2026-01-05T12:00:00.000000+00:00"
OPENED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def chain(after: Checkpoint, *fills: dict[str, Any]) -> list[StoredEvent]:
    """Sealed events continuing the chain at `after`, one per fill's fields."""
    events = []
    for fields in fills:
        event = StoredEvent.seal(
            make_fill(**fields).canonical(), seq=after.seq + 1, epoch=after.epoch, recorded_at=AT, prev_hash=after.hash
        )
        events.append(event)
        after = event.checkpoint
    return events


def head_of(event: StoredEvent) -> Checkpoint:
    return event.checkpoint


def append(uow: UnitOfWork, events: list[StoredEvent]) -> None:
    """Append and move the checkpoint with the head, as every use case that appends does."""
    uow.log.append(events)
    uow.projection.write({}, (), uow.log.head())


def committed(store: LedgerStore, work: Callable[[UnitOfWork], object]) -> None:
    """Run `work` in a unit of work and commit it."""
    with store.unit_of_work() as uow:
        work(uow)
        uow.commit()


def appended(store: LedgerStore, *fills: dict[str, Any]) -> list[StoredEvent]:
    with store.unit_of_work() as uow:
        events = chain(uow.log.head(), *fills)
        append(uow, events)
        uow.commit()
    return events


def position(symbol: str = "BTC/USD", *, opened_seq: int = 1, account: str = "default") -> Position:
    return Position(
        account=account,
        symbol=symbol,
        side=PositionSide.LONG,
        quantity=Decimal("1.5"),
        avg_price=Decimal("100.25"),
        realized_pnl=Decimal("0.5"),
        fees=Decimal("0.01"),
        opened_at=OPENED,
        opened_seq=opened_seq,
        entered_quantity=Decimal(2),
        last_seq=opened_seq,
    )


def closed_cycle(closed_seq: int, symbol: str = "BTC/USD") -> ClosedPosition:
    return ClosedPosition(
        account="default",
        symbol=symbol,
        side=PositionSide.SHORT,
        quantity=Decimal(1),
        avg_price=Decimal(100),
        realized_pnl=Decimal(-2),
        fees=Decimal("0.2"),
        opened_at=OPENED,
        opened_seq=closed_seq - 1,
        closed_at=OPENED,
        closed_seq=closed_seq,
    )


def levels(opened_seq: int, stop: str = "95") -> RiskLevels:
    return RiskLevels(
        account="default",
        symbol="BTC/USD",
        opened_seq=opened_seq,
        stop_loss_price=Decimal(stop),
        take_profit_price=None,
        trailing_stop_pct=Decimal("0.02"),
        highest_price=Decimal(101),
        lowest_price=Decimal(99),
    )


def rollback_record(to: StoredEvent, tail: list[StoredEvent], head: Checkpoint) -> AdminRecord:
    return AdminRecord.rollback(
        record_id=1,
        at=AT,
        actor="alice",
        reason="test",
        head=head,
        to=head_of(to),
        removed=tail,
        prev_hash=GENESIS_HASH,
    )


# --- the log -------------------------------------------------------------------------------------


def test_an_empty_store_has_an_empty_log_at_the_genesis_head(store: LedgerStore) -> None:
    with store.reading() as tx:
        assert (tx.log.head(), tx.projection.checkpoint()) == (EMPTY, EMPTY)
        assert (list(tx.log.read()), tx.log.admin_records(), tx.projection.positions()) == ([], [], {})


def test_committed_events_are_read_back_by_range_symbol_and_account(store: LedgerStore) -> None:
    events = appended(
        store,
        {"symbol": "BTC/USD"},
        {"symbol": "ETH/USD"},
        {"symbol": "BTC/USD", "account": "other"},
        {"symbol": "BTC/USD"},
    )

    with store.reading() as tx:
        assert tx.log.head() == head_of(events[-1])
        assert list(tx.log.read()) == events
        assert [e.seq for e in tx.log.read(after_seq=1, until_seq=3)] == [2, 3]
        # A short range (a subscriber's batch: one statement, its rows at once) and a long one (streamed)
        # give the same events.
        assert list(tx.log.read(after_seq=0, until_seq=4)) == events
        assert list(tx.log.read(after_seq=0, until_seq=1_000_000)) == events
        assert list(tx.log.read(after_seq=4, until_seq=1_000)) == []
        assert [e.seq for e in tx.log.read(symbol="BTC/USD")] == [1, 3, 4]
        assert [e.seq for e in tx.log.read(symbol="BTC/USD", account="default")] == [1, 4]
        assert [e.seq for e in tx.log.read(seqs={4, 2, 9})] == [2, 4]  # those seqs only, in seq order
        assert [e.seq for e in tx.log.read(seqs=[1, 3, 4], until_seq=3, account="other")] == [3]
        assert list(tx.log.read(seqs=[])) == []
        assert list(tx.log.rows(after_seq=3)) == [events[3].execution_row()]
        assert [row[0] for row in tx.log.rows(until_time=events[1].occurred_at)] == [1, 2]
        # Every combination of bounds (one statement each), the rows as plain tuples.
        assert list(tx.log.rows()) == [event.execution_row() for event in events]
        assert [row[0] for row in tx.log.rows(after_seq=1, until_seq=3)] == [2, 3]
        assert [row[0] for row in tx.log.rows(until_seq=3, until_time=events[3].occurred_at)] == [1, 2, 3]
        assert [row[0] for row in tx.log.rows(after_seq=2, until_seq=4, until_time=events[2].occurred_at)] == [3]
        # A reader that stops early leaves the transaction usable.
        assert next(tx.log.rows())[0] == 1
        assert tx.log.head() == head_of(events[-1])


def test_the_rows_by_time_come_in_the_order_the_events_occurred_then_by_seq(store: LedgerStore) -> None:
    # Seq 2 was backfilled (it occurred first); seq 3 and 4 occurred at one time. The stored times are compared as
    # text ("C" order on PostgreSQL): ".5" of a second sorts after ".0", "2025-" after "2024-".
    events = appended(
        store,
        {"occurred_at": "2025-01-01T00:00:00.500000+00:00"},
        {"occurred_at": "2024-12-31T23:59:59.000000+00:00"},
        {"occurred_at": "2025-01-01T00:00:00.000000+00:00"},
        {"occurred_at": "2025-01-01T00:00:00.000000+00:00"},
    )

    with store.reading() as tx:
        assert [row[0] for row in tx.log.rows(by_time=True)] == [2, 3, 4, 1]
        assert list(tx.log.rows(by_time=True)) == [events[seq - 1].execution_row() for seq in (2, 3, 4, 1)]
        assert [row[0] for row in tx.log.rows(by_time=True, until_time=events[2].occurred_at)] == [2, 3, 4]
        assert [row[0] for row in tx.log.rows(by_time=True, after_seq=1, until_seq=3)] == [2, 3]


def test_committed_events_are_read_back_by_exchange_and_by_when_they_occurred_both_bounds_inclusive(
    store: LedgerStore,
) -> None:
    events = appended(
        store,
        {"exchange": "binance", "occurred_at": "2024-03-01T10:00:00+00:00"},
        {"exchange": "kraken", "occurred_at": "2024-03-01T11:00:00+00:00"},
        {"exchange": "binance", "occurred_at": "2024-03-01T12:00:00+00:00"},
        {"exchange": "binance", "occurred_at": "2024-03-01T09:00:00+00:00"},  # the log's order is not time order
    )
    eleven, noon = events[1].occurred_at, events[2].occurred_at

    with store.reading() as tx:
        assert [e.seq for e in tx.log.read(exchange="binance")] == [1, 3, 4]
        assert [e.seq for e in tx.log.read(occurred_from=eleven)] == [2, 3]
        assert [e.seq for e in tx.log.read(occurred_until=eleven)] == [1, 2, 4]
        assert [e.seq for e in tx.log.read(occurred_from=events[0].occurred_at, occurred_until=noon)] == [1, 2, 3]
        assert [e.seq for e in tx.log.read(exchange="binance", occurred_from=eleven, occurred_until=noon)] == [3]
        assert [e.seq for e in tx.log.read(exchange="binance", account="other")] == []
        assert [e.seq for e in tx.log.read(after_seq=1, until_seq=3, exchange="binance")] == [3]


def test_committed_events_are_read_back_by_their_order_ids(store: LedgerStore) -> None:
    appended(
        store,
        {"exchange": "binance", "order_id": "555"},
        {"exchange": "binance"},  # no order id
        {"exchange": "binance", "order_id": "556"},
        {"exchange": "kraken", "order_id": "555"},
        {"exchange": "binance", "order_id": "555"},
    )

    with store.reading() as tx:
        assert [e.seq for e in tx.log.read(order_ids=["555"])] == [1, 4, 5]
        assert [e.seq for e in tx.log.read(order_ids={"556", "555"}, exchange="binance")] == [1, 3, 5]
        assert [e.seq for e in tx.log.read(order_ids=["555"], account="default", exchange="kraken")] == [4]
        assert list(tx.log.read(order_ids=["557"])) == []
        assert list(tx.log.read(order_ids=[])) == []


def test_the_formats_held_are_each_types_versions_sorted(store: LedgerStore) -> None:
    with store.reading() as tx:
        assert tx.log.formats() == {}
    (fill,) = appended(store, {"symbol": "BTC/USD:USD"})
    funding = Funding(
        funding_id="F-1", exchange="kraken", symbol="BTC/USD:USD", amount=Decimal("-0.5"), currency="USD",
        occurred_at=OPENED,
    )  # fmt: skip
    with store.unit_of_work() as uow:
        append(uow, [StoredEvent.seal(funding.canonical(), seq=2, epoch=1, recorded_at=AT, prev_hash=fill.hash)])
        uow.commit()

    with store.reading() as tx:
        assert tx.log.formats() == {"fill": [2], "funding": [1]}


def test_the_symbols_held_are_those_of_an_accounts_fills_and_funding_on_one_exchange_sorted(
    store: LedgerStore,
) -> None:
    events = appended(
        store,
        {"symbol": "ETH/USD"},
        {"symbol": "BTC/USD"},
        {"symbol": "SOL/USD", "exchange": "binance"},
        {"symbol": "ADA/USD", "account": "other"},
        {"symbol": "BTC/USD"},
    )
    funding = Funding(
        funding_id="F-1", exchange="kraken", symbol="XRP/USD:USD", amount=Decimal("-0.5"), currency="USD",
        occurred_at=OPENED,
    )  # fmt: skip
    deposit = Transfer(
        transfer_id="D-1", exchange="kraken", kind="deposit", amount=Decimal(5), currency="USD", occurred_at=OPENED
    )
    with store.unit_of_work() as uow:
        first = StoredEvent.seal(funding.canonical(), seq=6, epoch=1, recorded_at=AT, prev_hash=events[-1].hash)
        second = StoredEvent.seal(deposit.canonical(), seq=7, epoch=1, recorded_at=AT, prev_hash=first.hash)
        append(uow, [first, second])
        uow.commit()

    with store.reading() as tx:
        assert tx.log.symbols("default", "kraken") == ["BTC/USD", "ETH/USD", "XRP/USD:USD"]
        assert tx.log.symbols("default", "binance") == ["SOL/USD"]
        assert tx.log.symbols("other", "binance") == []


def test_the_last_occurrence_is_of_an_accounts_events_on_one_exchange_by_type_symbol_and_kind(
    store: LedgerStore,
) -> None:
    with store.reading() as tx:
        assert tx.log.last_occurred("default", "kraken", ["fill"]) is None
    events = appended(
        store,
        {"symbol": "BTC/USD", "occurred_at": "2024-03-01T12:00:00+00:00"},
        {"symbol": "BTC/USD", "occurred_at": "2024-03-01T10:00:00+00:00"},  # later in the log, earlier in time
        {"symbol": "ETH/USD", "occurred_at": "2024-03-02T00:00:00+00:00"},
        {"symbol": "BTC/USD", "occurred_at": "2024-03-05T00:00:00+00:00", "exchange": "binance"},
        {"symbol": "BTC/USD", "occurred_at": "2024-03-06T00:00:00+00:00", "account": "other"},
    )
    deposit = Transfer(
        transfer_id="D-1", exchange="kraken", kind="deposit", amount=Decimal(5), currency="USD",
        occurred_at=datetime(2024, 3, 3, tzinfo=UTC),
    )  # fmt: skip
    with store.unit_of_work() as uow:
        append(uow, [StoredEvent.seal(deposit.canonical(), seq=6, epoch=1, recorded_at=AT, prev_hash=events[-1].hash)])
        uow.commit()

    with store.reading() as tx:
        log = tx.log
        assert log.last_occurred("default", "kraken", ["fill"], symbol="BTC/USD") == events[0].occurred_at
        assert log.last_occurred("default", "kraken", ["fill"]) == events[2].occurred_at
        assert log.last_occurred("default", "kraken", ["fill", "transfer"]) == "2024-03-03T00:00:00.000000+00:00"
        assert (
            log.last_occurred("default", "kraken", ["transfer"], kinds=["deposit"])
            == "2024-03-03T00:00:00.000000+00:00"
        )
        assert log.last_occurred("default", "kraken", ["transfer"], kinds=["withdrawal"]) is None
        assert log.last_occurred("default", "kraken", ["funding"]) is None
        # On any exchange (None): the binance fill of 2024-03-05 is the account's latest.
        assert log.last_occurred("default", None, ["fill"], symbol="BTC/USD") == events[3].occurred_at
        assert log.last_occurred("default", None, ["transfer"], kinds=["internal"]) is None


def test_the_first_event_recorded_after_a_time_is_named_by_its_seq(store: LedgerStore) -> None:
    with store.unit_of_work() as uow:
        events = chain(uow.log.head(), {"fill_id": "F-1"}, {"fill_id": "F-2"}, {"fill_id": "F-3"})
        recorded = ["2026-01-05T11:00:00.000000+00:00", AT, "2026-01-05T12:00:00.000001+00:00"]
        events = [replace(event, recorded_at=at) for event, at in zip(events, recorded, strict=True)]
        append(uow, events)
        uow.commit()

    with store.reading() as tx:
        assert tx.log.first_recorded_after("2026-01-05T10:59:59.999999+00:00") == 1
        assert tx.log.first_recorded_after("2026-01-05T11:00:00.000000+00:00") == 2
        assert tx.log.first_recorded_after(AT) == 3
        assert tx.log.first_recorded_after("2026-01-05T12:00:00.000001+00:00") is None


def test_find_returns_the_events_stored_under_the_keys_asked_for(store: LedgerStore) -> None:
    first, second = appended(store, {"fill_id": "A-1"}, {"fill_id": "A-2", "exchange": "binance"})

    with store.reading() as tx:
        assert tx.log.find({("default", "kraken", "A-1")}) == {("default", "kraken", "A-1"): first}
        assert tx.log.find({("default", "binance", "A-2"), ("default", "kraken", "A-2"), ("x", "kraken", "A-1")}) == {
            ("default", "binance", "A-2"): second
        }


def test_an_append_that_does_not_continue_the_chain_is_refused(store: LedgerStore) -> None:
    [first] = appended(store, {})
    wrong_link = chain(Checkpoint(1, 1, "f" * 64), {})  # seq 2, but not after the hash of seq 1
    gap = chain(Checkpoint(1, 2, first.hash), {})  # seq 3 after seq 1

    for refused in (wrong_link, gap):
        with pytest.raises(StorageError, match=f"seq {refused[0].seq}"), store.unit_of_work() as uow:
            uow.log.append(refused)

    with store.reading() as tx:
        assert tx.log.head().seq == 1


def test_a_second_event_under_one_fill_key_is_refused(store: LedgerStore) -> None:
    appended(store, {"fill_id": "SAME"})

    with pytest.raises(StorageError):
        committed(store, lambda uow: append(uow, chain(uow.log.head(), {"fill_id": "SAME", "quantity": "2"})))

    with store.reading() as tx:
        assert tx.log.head().seq == 1


# --- the unit of work ----------------------------------------------------------------------------


def test_leaving_a_unit_of_work_without_commit_keeps_nothing(store: LedgerStore) -> None:
    with store.unit_of_work() as uow:
        events = chain(uow.log.head(), {}, {})
        uow.log.append(events)
        uow.projection.write({("default", "BTC/USD"): (position(), Totals())}, [closed_cycle(2)], head_of(events[-1]))
        uow.projection.put_prices([PriceMark("BTC/USD", Decimal(1), OPENED)])
        uow.projection.put_entries("balances", {"k": "v"})
        uow.projection.write_snapshot(head_of(events[-1]), {("default", "BTC/USD"): (None, Totals())}, {"k": "v"})

    with store.reading() as tx:
        assert (tx.log.head(), tx.projection.checkpoint()) == (EMPTY, EMPTY)
        assert (list(tx.log.read()), tx.projection.positions(), tx.projection.closed()) == ([], {}, [])
        assert (tx.projection.marks().prices, tx.projection.entries("balances"), tx.projection.snapshot_seqs()) == (
            {},
            {},
            [],
        )


def test_a_unit_of_work_mixing_driver_and_sqlalchemy_statements_commits_or_drops_them_together(
    store: LedgerStore,
) -> None:
    # SQL stores: an upsert runs on the driver, a removal through SQLAlchemy (which then joins the open transaction).
    committed(store, lambda uow: uow.projection.put_entries("balances", {"a": "1", "b": "2"}))
    with store.unit_of_work() as uow:
        uow.projection.put_entries("balances", {"a": None, "c": "3"})  # left without commit

    with store.reading() as tx:
        assert tx.projection.entries("balances") == {"a": "1", "b": "2"}
    committed(store, lambda uow: uow.projection.put_entries("balances", {"a": None, "c": "3"}))
    committed(store, lambda uow: uow.projection.put_entries("balances", {"b": "20"}))  # the next one works as well
    with store.reading() as tx:
        assert tx.projection.entries("balances") == {"b": "20", "c": "3"}


def test_an_exception_inside_a_unit_of_work_rolls_all_of_it_back(store: LedgerStore) -> None:
    def failing(uow: UnitOfWork) -> None:
        append(uow, chain(uow.log.head(), {}))
        _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        committed(store, failing)

    with store.reading() as tx:
        assert tx.log.head() == EMPTY


def test_a_commit_with_the_checkpoint_behind_the_head_is_refused(store: LedgerStore) -> None:
    with pytest.raises(StorageError):
        committed(store, lambda uow: uow.log.append(chain(uow.log.head(), {})))

    with store.reading() as tx:
        assert tx.log.head() == EMPTY


def test_a_read_transaction_keeps_the_state_it_first_saw(store: LedgerStore) -> None:
    appended(store, {})
    with store.reading() as tx:
        before = tx.log.head()
        appended(store, {})
        assert tx.log.head() == before
        assert [e.seq for e in tx.log.read()] == [1]

    with store.reading() as tx:
        assert tx.log.head().seq == 2


# --- truncation ------------------------------------------------------------------------------------


def test_a_truncation_removes_the_tail_its_record_lists_and_moves_the_head(store: LedgerStore) -> None:
    events = appended(store, {}, {}, {})
    with store.unit_of_work() as uow:
        record = rollback_record(events[0], events[1:], uow.log.head())
        uow.log.truncate(record)
        uow.projection.write({}, (), uow.log.head())
        uow.commit()

    with store.reading() as tx:
        assert tx.log.head() == Checkpoint(2, 1, events[0].hash)
        assert list(tx.log.read()) == events[:1]
        assert tx.log.admin_records() == [record]
        assert tx.log.find({("default", "kraken", events[1].fill_id)}) == {}


def test_the_latest_time_an_event_naming_lots_occurred_moves_with_appends_and_truncations(store: LedgerStore) -> None:
    lots = {"lots": [{"seq": 1, "quantity": "1"}]}
    day = "2026-01-0{}T00:00:00+00:00".format
    events = appended(store, {"occurred_at": day(1)}, {"side": "sell", "metadata": lots, "occurred_at": day(5)})
    assert events[1].metadata is not None
    with store.reading() as tx:
        assert tx.log.lots_named_until() == events[1].occurred_at
    later = appended(store, {"side": "sell", "metadata": lots, "occurred_at": day(3)}, {"occurred_at": day(9)})
    with store.reading() as tx:  # an earlier one naming lots, a later one naming none: the mark stays
        assert tx.log.lots_named_until() == events[1].occurred_at

    with store.unit_of_work() as uow:  # the tail from seq 2 removed: the one left naming lots is seq 3's
        assert uow.log.lots_named_until() == events[1].occurred_at
        uow.log.truncate(rollback_record(events[0], [events[1], *later], uow.log.head()))
        uow.projection.write({}, (), uow.log.head())
        uow.commit()

    with store.reading() as tx:
        assert tx.log.lots_named_until() is None


def test_a_log_naming_no_lots_has_no_time_an_event_naming_lots_occurred(store: LedgerStore) -> None:
    appended(store, {}, {"metadata": {"note": "lots of it", "lot": "7"}})

    with store.reading() as tx, store.unit_of_work() as uow:
        assert tx.log.lots_named_until() is None
        assert uow.log.lots_named_until() is None


def test_a_truncation_whose_record_does_not_list_the_stored_tail_is_refused(store: LedgerStore) -> None:
    events = appended(store, {}, {}, {})

    def truncating(uow: UnitOfWork) -> None:
        uow.log.truncate(rollback_record(events[0], events[1:2], uow.log.head()))  # seq 3 is not listed
        uow.projection.write({}, (), uow.log.head())

    with pytest.raises(StorageError):
        committed(store, truncating)

    with store.reading() as tx:
        assert (list(tx.log.read()), tx.log.admin_records()) == (events, [])


# --- the projection --------------------------------------------------------------------------------


def test_position_rows_closed_cycles_and_the_checkpoint_are_written_and_read(store: LedgerStore) -> None:
    events = appended(store, {}, {}, {}, {})
    flat = (None, Totals(Decimal(-2), Decimal("0.2")))
    rows = {
        ("default", "ETH/USD"): (position("ETH/USD", opened_seq=2), Totals()),
        ("default", "BTC/USD"): (position(opened_seq=1), Totals(Decimal(3), Decimal("0.1"))),
        ("other", "BTC/USD"): (position(account="other", opened_seq=3), Totals()),
        ("default", "SOL/USD"): flat,
    }
    with store.unit_of_work() as uow:
        uow.projection.write(rows, [closed_cycle(4), closed_cycle(2, "SOL/USD")], head_of(events[-1]))
        uow.commit()

    with store.reading() as tx:
        projection = tx.projection
        assert projection.checkpoint() == head_of(events[-1])
        assert projection.positions() == rows
        assert projection.positions([("default", "SOL/USD"), ("nobody", "X/Y")]) == {("default", "SOL/USD"): flat}
        assert [p.key for p in projection.open_positions()] == [
            ("default", "BTC/USD"),
            ("default", "ETH/USD"),
            ("other", "BTC/USD"),
        ]
        assert [p.key for p in projection.open_positions(account="default", symbol="ETH/USD")] == [
            ("default", "ETH/USD")
        ]
        assert [c.closed_seq for c in projection.closed()] == [2, 4]


def test_clear_removes_positions_closed_cycles_and_snapshots(store: LedgerStore) -> None:
    events = appended(store, {}, {})
    with store.unit_of_work() as uow:
        at = head_of(events[-1])
        uow.projection.write({("default", "BTC/USD"): (position(), Totals())}, [closed_cycle(2)], at)
        uow.projection.write_snapshot(at, {("default", "BTC/USD"): (position(), Totals())}, {'["a","x","USD"]': "1"})
        uow.commit()
    with store.unit_of_work() as uow:
        uow.projection.clear()
        uow.commit()

    with store.reading() as tx:
        assert (tx.projection.positions(), tx.projection.closed(), tx.projection.snapshot_seqs()) == ({}, [], [])
    with store.unit_of_work() as uow:  # the balances of the snapshot went with it: a new one at the seq holds its own
        uow.projection.write_snapshot(at, {("default", "BTC/USD"): (position(), Totals())}, {})
        uow.commit()
    with store.reading() as tx:
        loaded = tx.projection.load_snapshot()
        assert loaded is not None
        assert dict(loaded.balances) == {}


def test_rewind_removes_every_position_row_and_the_closed_cycles_and_snapshots_after_its_seq(
    store: LedgerStore,
) -> None:
    events = appended(store, {}, {}, {}, {})
    key = ("default", "BTC/USD")
    with store.unit_of_work() as uow:
        at = head_of(events[-1])
        uow.projection.write({key: (position(), Totals())}, [closed_cycle(2), closed_cycle(3)], at)
        uow.projection.write_snapshot(head_of(events[1]), {key: (position(), Totals())}, {'["a","x","USD"]': "2"})
        uow.projection.write_snapshot(head_of(events[2]), {key: (None, Totals())}, {'["a","x","USD"]': "3"})
        uow.commit()
    with store.unit_of_work() as uow:
        uow.projection.rewind(2)
        uow.commit()

    with store.reading() as tx:
        assert (tx.projection.positions(), [c.closed_seq for c in tx.projection.closed()]) == ({}, [2])
        assert tx.projection.snapshot_seqs() == [2]
        loaded = tx.projection.load_snapshot(until_seq=4)
        assert loaded is not None
        assert (loaded.seq, dict(loaded.balances)) == (2, {'["a","x","USD"]': "2"})


def test_the_snapshot_at_or_below_a_seq_is_loaded(store: LedgerStore) -> None:
    events = appended(store, {}, {}, {}, {})
    early = {("default", "BTC/USD"): (position(opened_seq=1), Totals())}
    late = {("default", "BTC/USD"): (None, Totals(Decimal(1), Decimal(0)))}
    with store.unit_of_work() as uow:
        uow.projection.write_snapshot(head_of(events[1]), early, {'["default","x","USD"]': "-1.5"})
        uow.projection.write_snapshot(head_of(events[3]), late, {'["default","x","USD"]': "2", '["b","y","BTC"]': "0"})
        uow.commit()

    with store.reading() as tx:
        assert tx.projection.snapshot_seqs() == [2, 4]
        loaded = tx.projection.load_snapshot(until_seq=3)
        assert loaded is not None
        assert (loaded.seq, loaded.epoch, dict(loaded.positions)) == (2, 1, early)
        assert dict(loaded.balances) == {'["default","x","USD"]': "-1.5"}
        latest = tx.projection.load_snapshot()
        assert latest is not None
        assert (latest.seq, dict(latest.positions)) == (4, late)
        assert dict(latest.balances) == {'["default","x","USD"]': "2", '["b","y","BTC"]': "0"}
        assert tx.projection.load_snapshot(until_seq=1) is None


def test_a_snapshot_holds_every_column_of_its_rows_funding_unvalued_fees_and_flat_keys(store: LedgerStore) -> None:
    events = appended(store, {}, {}, {})
    funded = replace(position(opened_seq=2), funding=Decimal("-0.75"), unvalued_fees=(("BNB", Decimal("0.001")),))
    rows = {
        ("default", "BTC/USD"): (funded, Totals(Decimal(3), Decimal("0.1"), Decimal("0.2"), (("BNB", Decimal(1)),))),
        ("default", "ETH/USD"): (None, Totals(Decimal(-2), Decimal("0.2"), Decimal("-0.3"), ())),
        ("other", "BTC/USD"): (position(account="other", opened_seq=3), Totals()),
    }
    with store.unit_of_work() as uow:
        uow.projection.write_snapshot(head_of(events[2]), rows, {})
        uow.commit()

    with store.reading() as tx:
        loaded = tx.projection.load_snapshot()
        assert loaded is not None
        assert (loaded.seq, loaded.epoch, dict(loaded.positions)) == (3, 1, rows)


# --- marks and levels -------------------------------------------------------------------------------


def test_prices_are_set_per_symbol(store: LedgerStore) -> None:
    first, later = PriceMark("BTC/USD", Decimal("100.5"), OPENED), PriceMark("BTC/USD", Decimal(101), OPENED)
    with store.unit_of_work(market_data=True) as uow:
        uow.projection.put_prices([first, PriceMark("ETH/USD", Decimal(3), OPENED)])
        uow.projection.put_prices([later])
        uow.commit()

    with store.reading() as tx:
        assert tx.projection.marks().prices == {"BTC/USD": later, "ETH/USD": PriceMark("ETH/USD", Decimal(3), OPENED)}


def test_the_open_cycle_comes_with_its_epoch_side_and_stored_levels(store: LedgerStore) -> None:
    events = appended(store, {}, {})
    with store.unit_of_work() as uow:
        uow.projection.write(
            {("default", "BTC/USD"): (position(opened_seq=2), Totals()), ("default", "ETH/USD"): (None, Totals())},
            (),
            head_of(events[-1]),
        )
        uow.commit()
    with store.unit_of_work(market_data=True) as uow:
        assert uow.projection.lock_open_cycle(("default", "BTC/USD")) == OpenCycle(2, 1, PositionSide.LONG, None)
        assert uow.projection.lock_open_cycle(("default", "ETH/USD")) is None
        assert uow.projection.lock_open_cycle(("default", "XRP/USD")) is None
        uow.projection.put_levels(levels(2))
        uow.commit()

    with store.unit_of_work(market_data=True) as uow:
        assert uow.projection.lock_open_cycle(("default", "BTC/USD")) == OpenCycle(2, 1, PositionSide.LONG, levels(2))
    with store.reading() as tx:
        assert tx.projection.marks().levels == {("default", "BTC/USD"): levels(2)}


def test_levels_of_cycles_opened_after_a_seq_are_dropped(store: LedgerStore) -> None:
    with store.unit_of_work(market_data=True) as uow:
        uow.projection.put_levels(levels(3))
        uow.commit()
    with store.unit_of_work(market_data=True) as uow:
        uow.projection.drop_levels_after(3)
        uow.commit()
    with store.reading() as tx:
        assert list(tx.projection.marks().levels) == [("default", "BTC/USD")]
    with store.unit_of_work(market_data=True) as uow:
        uow.projection.drop_levels_after(2)
        uow.commit()
    with store.reading() as tx:
        assert tx.projection.marks().levels == {}


# --- keyed tables -----------------------------------------------------------------------------------


def test_keyed_entries_are_set_read_and_removed_per_table(store: LedgerStore) -> None:
    with store.unit_of_work() as uow:
        uow.projection.put_entries("balances", {"a": '{"x":"1"}', "b": "2", "c": "3"})
        uow.projection.put_entries("lots", {"a": "other table"})
        uow.commit()
    with store.unit_of_work() as uow:
        uow.projection.put_entries("balances", {"b": None, "c": "30"})
        uow.commit()

    with store.reading() as tx:
        assert tx.projection.entries("balances") == {"a": '{"x":"1"}', "c": "30"}
        assert tx.projection.entries("balances", ["c", "b", "zz"]) == {"c": "30"}
        assert tx.projection.entries("lots") == {"a": "other table"}
        assert tx.projection.entries("nothing") == {}
