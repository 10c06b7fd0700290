"""Funding, transfers and fees in any currency through rollback, export/import, copy and verify, on
SQLite and PostgreSQL (spec section 9)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend
from tests.factories import fill_fields
from tradeledger import Balance, Ledger, open_ledger
from tradeledger.application.copying import copy_ledger, import_log
from tradeledger.application.exporting import export_log, read_export
from tradeledger.bootstrap import open_store

T = "2026-01-06T00:00:00Z"


def fill(fill_id: str, side: str, quantity: str, price: str, fees: list[dict[str, str]], symbol: str) -> dict[str, Any]:
    fields = dict(fill_fields(fill_id=fill_id, side=side, quantity=quantity, price=price))
    fields.pop("fee", None)
    return {**fields, "symbol": symbol, "exchange": "bybit", "fees": fees}


EVENTS: list[dict[str, Any]] = [
    {"type": "transfer", "transfer_id": "d1", "exchange": "bybit", "currency": "USDT", "amount": "10000",
     "kind": "deposit", "occurred_at": T},
    fill("b1", "buy", "1", "50000", [{"amount": "0.001", "currency": "BTC"}], "BTC/USDT"),
    fill("p1", "sell", "2", "3000", [{"amount": "1.2", "currency": "USDT"}, {"amount": "0.01", "currency": "BNB"}],
         "ETH/USDT:USDT"),
    {"type": "funding", "funding_id": "f1", "exchange": "bybit", "symbol": "ETH/USDT:USDT", "amount": "-3",
     "currency": "USDT", "occurred_at": T},
    fill("p2", "buy", "2", "2900", [{"amount": "-0.4", "currency": "USDT"}], "ETH/USDT:USDT"),
    {"type": "transfer", "transfer_id": "w1", "exchange": "bybit", "currency": "USDT", "amount": "-100",
     "fee": "1", "kind": "withdrawal", "occurred_at": T},
]  # fmt: skip
# 10000 in; the spot buy: +0.999 BTC, -50000 USDT; the short: realized (3000 - 2900) x 2 = 200, fees
# 1.2 and -0.4 USDT, 0.01 BNB; funding -3; withdrawal -101.
BALANCES = [
    Balance("default", "bybit", "BNB", Decimal("-0.01")),
    Balance("default", "bybit", "BTC", Decimal("0.999")),
    Balance("default", "bybit", "USDT", Decimal("-39904.8")),
]


def recorded(ledger: Ledger) -> Ledger:
    ledger.record_many(EVENTS)
    return ledger


def test_every_event_type_lands_and_the_balances_and_positions_verify(ledger: Ledger) -> None:
    recorded(ledger)

    assert list(ledger.balances().balances) == BALANCES
    [short] = ledger.state().closed
    assert (short.realized_pnl, short.fees, short.funding, short.unvalued_fees) == (
        Decimal(200),
        Decimal("0.8"),
        Decimal(-3),
        (("BNB", Decimal("0.01")),),
    )
    assert short.net_pnl == Decimal("196.2")
    assert ledger.verify().ok


def test_a_rollback_of_funding_and_a_transfer_rewinds_the_balances_and_the_cycle(ledger: Ledger) -> None:
    recorded(ledger)

    ledger.rollback(to_seq=3, reason="undo the funding", actor="ops")

    position = ledger.position("ETH/USDT:USDT")
    assert position is not None
    assert (position.side.value, position.quantity, position.funding) == ("short", Decimal(2), Decimal(0))
    amounts = {b.currency: b.amount for b in ledger.balances().balances}
    assert amounts == {"BNB": Decimal("-0.01"), "BTC": Decimal("0.999"), "USDT": Decimal("-40001.2")}
    assert ledger.verify().ok


def test_an_export_of_typed_events_imports_event_for_event_and_verifies(
    ledger: Ledger, db_url: str, tmp_path: Path
) -> None:
    recorded(ledger)
    lines: list[str] = []
    store = open_store(db_url)
    try:
        export_log(store, lambda item: lines.append(json.dumps(item)))
    finally:
        store.close()
    exported = read_export(lines)

    target = open_store(f"sqlite:///{tmp_path / 'imported.db'}")
    try:
        report = import_log(exported.head, exported.events, exported.records, target)
    finally:
        target.close()

    assert report.verify.ok
    with open_ledger(f"sqlite:///{tmp_path / 'imported.db'}") as imported:
        assert imported.head == ledger.head
        assert imported.balances() == ledger.balances()


def test_a_copy_carries_the_typed_events_and_their_balances(ledger: Ledger, db_url: str, tmp_path: Path) -> None:
    recorded(ledger)
    source, target = open_store(db_url), open_store(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        report = copy_ledger(source, target)
    finally:
        source.close()
        target.close()

    assert report.verify.ok
    with open_ledger(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        assert list(copy.balances().balances) == BALANCES


def test_verify_names_a_balance_changed_behind_the_ledgers_back(ledger: Ledger, backend: Backend) -> None:
    recorded(ledger)

    backend.sql("UPDATE projection_entries SET value = '1' WHERE projection = 'balances' AND key LIKE '%BTC%'")

    report = ledger.verify()
    assert not report.ok
    [problem] = report.problems
    assert problem.check == "balances"
    assert "('default', 'bybit', 'BTC'): stored 1, a fold of the log gives 0.999" in problem.detail


def test_verify_names_a_balance_row_removed_behind_the_ledgers_back_in_words(ledger: Ledger, backend: Backend) -> None:
    ledger.record_many(
        [
            {"type": "transfer", "transfer_id": "d1", "exchange": "bybit", "currency": "USDT", "amount": "1.50",
             "kind": "deposit", "occurred_at": T},
            {"type": "transfer", "transfer_id": "w1", "exchange": "bybit", "currency": "USDT", "amount": "-1.25",
             "fee": "0.25", "kind": "withdrawal", "occurred_at": T},
        ]
    )  # fmt: skip
    backend.sql("DELETE FROM projection_entries WHERE projection = 'balances'")

    [problem] = ledger.verify().problems

    assert problem.detail == "balance ('default', 'bybit', 'USDT'): stored no row, a fold of the log gives 0"


@pytest.mark.parametrize("kind", ["fill", "funding", "transfer"])
def test_the_same_id_sent_again_is_a_duplicate_for_every_type(ledger: Ledger, kind: str) -> None:
    recorded(ledger)
    event = next(e for e in EVENTS if e.get("type", "fill") == kind)

    receipt = ledger.record(event)

    assert receipt.duplicate
    assert ledger.head.seq == len(EVENTS)


MORE: list[dict[str, Any]] = [
    fill("b2", "sell", "0.5", "51000", [{"amount": "0.3", "currency": "BNB"}], "BTC/USDT"),  # unvalued, open cycle
    fill("p3", "sell", "1", "2950", [{"amount": "0.5", "currency": "USDT"}], "ETH/USDT:USDT"),
    fill("p4", "buy", "3", "2925.125", [{"amount": "0.75", "currency": "USDT"}], "ETH/USDT:USDT"),  # a flip
    {"type": "funding", "funding_id": "f2", "exchange": "bybit", "symbol": "ETH/USDT:USDT", "amount": "1.25",
     "currency": "USDT", "occurred_at": T},
    fill("b3", "sell", "0.499", "52000", [], "BTC/USDT"),  # closes the BTC cycle
    fill("v1", "buy", "2", "10", [{"amount": "0.1", "currency": "USD"}], "SOL/USD"),
]  # fmt: skip
TABLES = {
    "positions": "SELECT * FROM positions ORDER BY account, symbol",
    "closed_positions": "SELECT * FROM closed_positions ORDER BY closed_seq",
    "position_snapshots": "SELECT * FROM position_snapshots ORDER BY seq, account, symbol",
}


def test_a_rebuild_writes_every_row_text_for_text_as_the_appends_wrote_it(db_url: str, backend: Backend) -> None:
    with open_ledger(db_url, snapshot_every=2) as ledger:
        for event in EVENTS + MORE:
            ledger.record(event)
        written = {table: backend.sql(query) for table, query in TABLES.items()}
        assert len(written["closed_positions"]) == 3
        assert len({row[0] for row in written["position_snapshots"]}) == 6

        ledger.rebuild()

        assert {table: backend.sql(query) for table, query in TABLES.items()} == written
        assert ledger.verify().ok
