"""application/bulk.py on the in-memory store: a batch over several chunks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import FillConflict, Ledger
from tradeledger.application import bulk
from tradeledger.storage.memory import MemoryLedgerStore

CHUNK = 3


def fills(count: int, prefix: str) -> list[dict[str, Any]]:
    sides = ["buy", "buy", "sell", "sell", "sell", "buy"]
    return [
        fill_fields(fill_id=f"{prefix}-{n}", symbol=("BTC/USD", "ETH/USD")[n % 2], side=sides[n % 6], fee="0.1")
        for n in range(count)
    ]


def test_in_memory_a_batch_over_chunks_dedupes_across_them_and_a_late_conflict_undoes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    ledger = Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT, snapshot_every=4)
    batch = fills(8, "M")
    batch.insert(5, dict(batch[1]))

    receipts = ledger.record_many(iter(batch))

    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5, 2, 6, 7, 8]
    assert receipts[5].duplicate
    assert ledger.verify().ok
    before = (ledger.head, ledger.state(), ledger.balances())
    with pytest.raises(FillConflict, match="appears twice in this batch"):
        ledger.record_many([*fills(2 * CHUNK, "N"), {**batch[0], "fill_id": "N-1", "price": "1"}])
    assert (ledger.head, ledger.state(), ledger.balances()) == before


def test_a_generator_that_reuses_one_dict_gives_each_event_as_it_was_when_yielded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    ledger = Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT)
    sent = fills(2 * CHUNK + 1, "R")

    def reused() -> Any:
        row: dict[str, Any] = {}
        for fields in sent:
            row.clear()
            row.update(fields)
            yield row

    receipts = ledger.record_many(reused())

    assert [r.fill_id for r in receipts] == [fields["fill_id"] for fields in sent]
    assert [(c["fill_id"], c["symbol"], c["side"]) for c in (r.fill.canonical() for r in ledger.history())] == [
        (fields["fill_id"], fields["symbol"], fields["side"]) for fields in sent
    ]
