"""A single append on SQLite reads with one statement: the head, the rebuild token and whether its key is in
the log (storage/sql/store.py); a duplicate then reads the stored event whole.

The statements are those SQLite's trace reports on the ledger's write connection (a statement that fires
a trigger is reported again for it: only the SELECTs are counted here, which fire none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import FillConflict, Ledger, open_ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=lambda: RECORDED_AT) as opened:
        yield opened


def traced(ledger: Ledger, action: Callable[[], object]) -> list[str]:
    """Every statement `action` ran on the (SQLite) ledger's write connection, in order."""
    seen: list[str] = []
    dbapi: Any = ledger._store._writer().connection.dbapi_connection  # type: ignore[attr-defined]
    dbapi.set_trace_callback(seen.append)
    try:
        action()
    finally:
        dbapi.set_trace_callback(None)
    return seen


def selects(ledger: Ledger, action: Callable[[], object]) -> list[str]:
    """The SELECTs `action` ran on the ledger's write connection, in order."""
    return [statement for statement in traced(ledger, action) if statement.lstrip().upper().startswith("SELECT")]


def test_a_new_fill_on_a_key_the_kept_fold_holds_runs_one_select(ledger: Ledger) -> None:
    ledger.record(fill_fields(fill_id="F-1"))  # the fold now holds the position and both balances

    found = selects(ledger, lambda: ledger.record(fill_fields(fill_id="F-2", price="110")))

    assert len(found) == 1
    assert "ledger_head" in found[0]
    assert "'rebuilds'" in found[0]
    assert "'F-2'" in found[0]
    position = ledger.position("BTC/USD")
    assert position is not None
    assert position.quantity == 2


def test_a_fill_on_a_dated_future_reads_its_contracts_settlement_key_in_the_same_one_select(ledger: Ledger) -> None:
    future = "BTC/USDT:USDT-261225"
    ledger.record(fill_fields(fill_id="F-1", symbol=future, occurred_at="2026-12-20T10:00:00+00:00"))

    found = selects(
        ledger, lambda: ledger.record(fill_fields(fill_id="F-2", symbol=future, occurred_at="2026-12-21T10:00:00Z"))
    )

    assert len(found) == 1
    assert "'F-2'" in found[0]
    assert "'settlement:BTC/USDT:USDT-261225'" in found[0]


def test_a_duplicate_reads_the_stored_event_whole_and_gets_the_original_receipt(ledger: Ledger) -> None:
    fields = fill_fields(fill_id="F-1")
    original = ledger.record(fields)

    receipts: list[Any] = []
    found = selects(ledger, lambda: receipts.append(ledger.record(dict(fields))))

    assert len(found) == 2  # the joined read, then the event under the key
    assert "ledger_events" in found[1]
    assert receipts[0].duplicate
    assert (receipts[0].seq, receipts[0].hash) == (original.seq, original.hash)
    assert ledger.head.seq == 1


def test_a_batch_of_a_new_fill_and_a_conflicting_one_is_refused_whole(ledger: Ledger) -> None:
    fields = fill_fields(fill_id="F-1")
    ledger.record(fields)

    with pytest.raises(FillConflict):
        ledger.record_many([fill_fields(fill_id="F-2"), {**fields, "quantity": "3"}])

    assert ledger.head.seq == 1
    assert [recorded.fill.event_id for recorded in ledger.history()] == ["F-1"]


def test_a_rebuild_between_two_appends_is_seen_by_the_joined_read(ledger: Ledger) -> None:
    ledger.record(fill_fields(fill_id="F-1"))
    ledger.rebuild()

    found = selects(ledger, lambda: ledger.record(fill_fields(fill_id="F-2")))

    # The token moved: the kept fold is not trusted, so the position and both balances are read again.
    assert len(found) == 4
    position = ledger.position("BTC/USD")
    assert position is not None
    assert position.quantity == 2


def names_reads(ledger: Ledger, action: Callable[[], object]) -> list[str]:
    """The reads of the log's exchange names `action` ran (application/exchange_names.py)."""
    return [statement for statement in traced(ledger, action) if "WITH RECURSIVE names" in statement]


def test_an_append_under_an_exchange_name_this_ledger_met_reads_no_names_and_a_new_name_reads_them_once(
    ledger: Ledger,
) -> None:
    first = names_reads(ledger, lambda: ledger.record(fill_fields(fill_id="F-1", exchange="kraken")))
    again = names_reads(ledger, lambda: ledger.record(fill_fields(fill_id="F-2", exchange="kraken")))
    new = names_reads(ledger, lambda: ledger.record(fill_fields(fill_id="F-3", exchange="binance")))
    known = selects(ledger, lambda: ledger.record(fill_fields(fill_id="F-4", exchange="binance")))

    assert (len(first), len(again), len(new)) == (1, 0, 1)
    assert len(known) == 1  # the steady state: the one joined read


def test_the_log_s_exchange_names_are_read_through_their_index(ledger: Ledger) -> None:
    ledger.record(fill_fields(exchange="kraken"))
    [read] = names_reads(ledger, lambda: ledger.record(fill_fields(exchange="bybit")))
    dbapi: Any = ledger._store._writer().connection.dbapi_connection  # type: ignore[attr-defined]

    plan = [row[3] for row in dbapi.execute(f"EXPLAIN QUERY PLAN {read}")]

    assert [step for step in plan if "ledger_events" in step or " later " in step] == [
        "SEARCH ledger_events USING COVERING INDEX ix_ledger_events_exchange",
        "SEARCH later USING COVERING INDEX ix_ledger_events_exchange (exchange>?)",
    ]
