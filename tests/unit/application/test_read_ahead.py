"""What an append says it will read (UnitOfWork.read_ahead) is what it reads: PostgreSQL answers those reads
from one round trip, and a key left out would cost one more (tests/integration/test_pg_round_trips.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.application.appending import (
    BALANCES,
    READ_AHEAD_EVENTS,
    FoldCache,
    append_reads,
    balance_entry,
    validate_event,
)
from tradeledger.application.bulk import record_events
from tradeledger.domain.balances import all_touched
from tradeledger.domain.events import Transfer
from tradeledger.storage.memory import MemoryLedgerStore

T = "2026-01-05T09:30:00+00:00"
EVENTS: list[dict[str, Any]] = [
    {"type": "transfer", "transfer_id": "d1", "exchange": "bybit", "currency": "USDT", "amount": "10000",
     "kind": "deposit", "occurred_at": T},
    {**fill_fields(symbol="BTC/USDT", exchange="bybit", fee="0"), "fee": "0"},
    {**{k: v for k, v in fill_fields(symbol="ETH/USDT:USDT", exchange="bybit", side="sell").items() if k != "fee"},
     "fees": [{"amount": "1.2", "currency": "USDT"}, {"amount": "0.01", "currency": "BNB"}, {"amount": "0"}]},
    {**{k: v for k, v in fill_fields(symbol="SOL/USDT", exchange="bybit").items() if k != "fee"},
     "fees": [{"amount": "0.001", "currency": "SOL"}, {"amount": "0.5", "currency": "ETH", "quote_value": "1"}]},
    {"type": "funding", "funding_id": "f1", "exchange": "bybit", "symbol": "ETH/USDT:USDT", "amount": "-3",
     "currency": "USDT", "occurred_at": T},
]  # fmt: skip


def test_an_append_reads_ahead_the_keys_positions_and_balances_it_then_reads() -> None:
    events = [validate_event(event) for event in EVENTS]
    store = MemoryLedgerStore()

    reads = append_reads(events)
    with Ledger(store, clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many(events)
    with store.reading() as tx:
        stored = list(tx.log.read())
    assert set(reads.events) == {(e.account, e.exchange, e.fill_id) for e in stored}
    assert set(reads.positions) == {(e.account, e.symbol) for e in stored if e.symbol is not None}
    touched = all_touched((e.account, e.exchange, e.symbol, e.type, e.fees, e.currency) for e in stored)
    assert sorted(reads.entries[BALANCES]) == sorted(balance_entry(key) for key in touched)


def test_a_batch_of_more_events_reads_by_lookups_instead() -> None:
    events = [validate_event(fill_fields()) for _ in range(READ_AHEAD_EVENTS + 1)]

    assert not append_reads(events)
    assert append_reads(events[:READ_AHEAD_EVENTS])


def test_an_append_after_a_batch_of_this_ledger_reads_ahead_only_what_its_fold_does_not_hold() -> None:
    events = [validate_event(event) for event in EVENTS]
    store, cache = MemoryLedgerStore(), FoldCache()
    record_events(store, events, cursors=None, clock=lambda: RECORDED_AT, snapshot_every=10_000, cache=cache)
    positions, balances = cache.known()
    assert positions == {(e.account, e.symbol) for e in events if not isinstance(e, Transfer)}
    assert {balance_entry(key) for key in balances} == set(append_reads(events).entries[BALANCES])

    again = [validate_event(fill_fields(symbol="BTC/USDT", exchange="bybit")), validate_event(fill_fields())]
    reads = append_reads(again, cache.known())

    assert set(reads.events) == {event.key for event in again}  # the dedupe lookups are always read
    assert set(reads.positions) == {("default", "BTC/USD")}
    assert sorted(reads.entries[BALANCES]) == sorted(
        balance_entry(("default", "kraken", currency)) for currency in ("BTC", "USD")
    )
