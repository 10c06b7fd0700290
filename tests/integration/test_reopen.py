"""A ledger in a database: what one open wrote, the next open finds; the clock read under the write lock."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import fill_fields
from tradeledger import open_ledger


def test_reopening_the_file_finds_the_same_state(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(quantity="2", price="50"))
        before = ledger.state()

    with open_ledger(db_url) as reopened:
        assert reopened.state() == before
        assert reopened.verify().ok


def test_recorded_at_never_goes_backwards_along_seq(db_url: str) -> None:
    times = iter([datetime(2027, 1, 5, 12, 0, second, tzinfo=UTC) for second in range(10)])
    with open_ledger(db_url, clock=lambda: next(times)) as ledger:
        for _ in range(3):
            ledger.record(fill_fields())

        recorded = [r.recorded_at for r in ledger.history()]

    assert recorded == sorted(recorded)
    assert len(set(recorded)) == 3
