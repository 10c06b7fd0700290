"""The lot check's walk back to where a pool was last empty (application/lot_pick_fold.py `_back_to_empty`) reads the
log backwards in windows of time, so a backfill on a long history reads about what it folds: for any history (times
that repeat, fall on the windows' edges, or lie years apart) it finds the events and the position a read of the whole
history before the backfill finds, walked back from its end in the order the events occurred."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.factories import T0, fill_fields
from tradeledger import Ledger
from tradeledger.application.lot_pick_fold import _back_to_empty, _moved_size
from tradeledger.application.lot_pick_moves import time_then_seq
from tradeledger.domain.fills import time_text
from tradeledger.domain.records import StoredEvent
from tradeledger.storage.memory import MemoryLedgerStore

MINUTE = 60
# Seconds after T0: equal times, the first window's edge (a minute) and the later ones' (x16), days and years apart.
SECONDS = [0, 1, 59, 60, 61, 16 * MINUTE, 17 * MINUTE, 256 * MINUTE, 3 * 86_400, 45 * 86_400, 400 * 86_400]

fills = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(["0.5", "1", "2"]), st.sampled_from(SECONDS)),
    min_size=1,
    max_size=12,
)


def _walked_back(before: list[StoredEvent], size: Decimal) -> tuple[list[StoredEvent], Decimal]:
    """The whole history before the start, walked back from its end until the position is 0 (the reference)."""
    cut = len(before)
    while size != 0 and cut:
        cut -= 1
        size -= _moved_size(before[cut])
    return before[cut:], size


@settings(max_examples=300, deadline=None)
@example(drawn=[("buy", "1", 0), ("sell", "1", 60), ("buy", "1", 60)], start_at=61, start_seq=0, cut=2)
@given(
    drawn=fills,
    start_at=st.sampled_from([*SECONDS, 500 * 86_400]),
    start_seq=st.integers(0, 14),
    cut=st.integers(0, 12),
)
def test_the_walk_back_to_an_empty_pool_finds_what_a_read_of_the_whole_history_finds(
    drawn: list[tuple[str, str, int]], start_at: int, start_seq: int, cut: int
) -> None:
    events: list[dict[str, Any]] = [
        fill_fields(side=side, quantity=quantity, price="100", occurred_at=(T0 + timedelta(seconds=at)).isoformat())
        for side, quantity, at in drawn
    ]
    store = MemoryLedgerStore()
    with Ledger(store, clock=lambda: T0 + timedelta(days=500)) as ledger:
        ledger.record_many(events)
    start = (time_text(T0 + timedelta(seconds=start_at)), start_seq)
    with store.reading() as tx:
        logged = list(tx.log.read())
        before = sorted((event for event in logged if time_then_seq(event) < start), key=time_then_seq)
        # A position at the start that some cut of the history empties (the suffix from `cut`), or that none may.
        size = sum((_moved_size(event) for event in before[min(cut, len(before)) :]), Decimal(0)) + (
            Decimal("0.25") if cut % 5 == 4 else Decimal(0)
        )

        found = _back_to_empty(tx.log, "default", "BTC/USD", start, size)

    assert found == _walked_back(before, size)
