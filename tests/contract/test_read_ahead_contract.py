"""UnitOfWork.read_ahead (application/ports.py): it locks the head, and every read after it answers what the
store holds then, its own writes included, on memory, SQLite and PostgreSQL alike (PostgreSQL answers
the keys read ahead from one round trip: storage/sql/batching.py)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from tests.contract.test_store_contract import appended, chain, position
from tradeledger.application.ports import AheadReads, LedgerStore
from tradeledger.domain.positions import Totals

KEY = ("default", "kraken", "F-1")
OTHER = ("default", "kraken", "F-absent")
BTC, ETH = ("default", "BTC/USD"), ("default", "ETH/USD")
READS = AheadReads([KEY, OTHER], [BTC, ETH], {"balances": ["a", "b"], "cursors": ["c"]})


def seeded(store: LedgerStore) -> None:
    """One event (F-1), a BTC position, balance entries a and c."""
    appended(store, {"fill_id": "F-1"})
    with store.unit_of_work() as uow:
        uow.log.head()
        uow.projection.write({BTC: (position(), Totals())}, (), uow.log.head())
        uow.projection.put_entries("balances", {"a": "1.5"})
        uow.projection.put_entries("cursors", {"c": "page-7"})
        uow.commit()


def test_the_reads_after_reading_ahead_answer_what_is_stored(store: LedgerStore) -> None:
    seeded(store)
    with store.unit_of_work() as uow:
        uow.read_ahead(lambda: READS)

        assert uow.log.head().seq == 1
        assert set(uow.log.find([KEY, OTHER])) == {KEY}
        assert set(uow.log.find([KEY])) == {KEY}
        assert uow.projection.positions([BTC, ETH]) == {BTC: (position(), Totals())}
        assert uow.projection.entries("balances", ["a", "b"]) == {"a": "1.5"}
        assert uow.projection.entries("cursors", ["c"]) == {"c": "page-7"}
        assert uow.projection.entries("balances") == {"a": "1.5"}  # keys not read ahead: read


def test_the_reads_after_a_write_see_the_write(store: LedgerStore) -> None:
    seeded(store)
    with store.unit_of_work() as uow:
        uow.read_ahead(lambda: READS)
        events = chain(uow.log.head(), {"fill_id": "F-absent"})
        uow.log.append(events)
        moved = {ETH: (position("ETH/USD", opened_seq=2), Totals(realized_pnl=Decimal(1)))}
        uow.projection.write(moved, (), uow.log.head())
        uow.projection.put_entries("balances", {"a": None, "b": "2"})

        assert set(uow.log.find([KEY, OTHER])) == {KEY, OTHER}
        assert uow.projection.positions([BTC, ETH]) == {BTC: (position(), Totals())} | moved
        assert uow.projection.entries("balances", ["a", "b"]) == {"b": "2"}
        uow.commit()
    with store.reading() as tx:
        assert tx.log.head().seq == 2
        assert tx.projection.entries("balances", ["a", "b"]) == {"b": "2"}


def test_reading_ahead_nothing_locks_the_head_alone(store: LedgerStore) -> None:
    appended(store, {"fill_id": "F-1"})
    with store.unit_of_work() as uow:
        uow.read_ahead(AheadReads)

        assert uow.log.head().seq == 1
        assert set(uow.log.find([KEY])) == {KEY}


def test_find_anywhere_answers_an_ids_events_in_one_account_on_every_exchange_read_ahead_or_not(
    store: LedgerStore,
) -> None:
    appended(
        store,
        {"fill_id": "S", "exchange": "kraken"},
        {"fill_id": "S", "exchange": "binance"},
        {"fill_id": "S", "exchange": "kraken", "account": "other"},
        {"fill_id": "T", "exchange": "kraken"},
    )
    wanted = [("default", "S"), ("default", "absent")]
    for ahead in (AheadReads(anywhere=wanted), AheadReads()):
        with store.unit_of_work() as uow:
            uow.read_ahead(partial(AheadReads, anywhere=ahead.anywhere), (), wanted if ahead else ())

            found = uow.log.find_anywhere(wanted)

            assert [(e.seq, e.exchange, e.account) for e in found] == [
                (1, "kraken", "default"),
                (2, "binance", "default"),
            ]
            assert uow.log.find_anywhere([("default", "absent")]) == []
            assert [e.seq for e in uow.log.find_anywhere([("other", "S"), ("default", "T")])] == [3, 4]
            uow.log.append(chain(uow.log.head(), {"fill_id": "absent", "exchange": "okx"}))
            assert [e.seq for e in uow.log.find_anywhere([("default", "absent")])] == [5]  # its own write seen
