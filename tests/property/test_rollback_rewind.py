"""A rollback rewinds the projection from the newest snapshot at or below its target (maintenance.rewind_projection):
after any history of batches (fills of every kind, funding, transfers, refused batches) with a snapshot every few
events, and rollbacks to any seq, the stored projection is what a rebuild of the log writes (positions, closed
cycles, balances and cursors), and verify finds every snapshot left (positions and balances) equal to the replay."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RECORDED_AT
from tests.integration.test_chunked_batches import rows_of
from tests.property.test_kept_fold_interleavings import COMPARED, event, rebuilt_copy
from tradeledger import FillConflict, InvalidFill, open_ledger

OPS = st.lists(st.tuples(st.sampled_from(["append", "append", "rollback"]), st.integers(0, 2**32)), max_size=12)


@settings(max_examples=30, deadline=None)
@given(ops=OPS, every=st.sampled_from([1, 2, 3, 5]))
def test_a_rollback_to_any_seq_leaves_the_projection_a_rebuild_writes(ops: list[tuple[str, int]], every: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.db"
        url = f"sqlite:///{path}"
        with open_ledger(url, clock=lambda: RECORDED_AT, snapshot_every=every) as ledger:
            for step, (op, seed) in enumerate(ops):
                draw = random.Random(seed)
                if op == "rollback":
                    if ledger.head.seq:
                        ledger.rollback(reason="test", actor="test", to_seq=draw.randrange(ledger.head.seq))
                        stored = rows_of(url)
                        rebuilt = rebuilt_copy(path, Path(directory) / "copy.db")
                        for table in COMPARED:
                            assert stored[table] == rebuilt[table], (step, table)
                        report = ledger.verify()
                        assert report.ok, (step, report.problems)
                    continue
                events = [event(draw, f"{step}-{n}") for n in range(draw.randint(1, 9))]
                try:
                    if len(events) == 1:
                        ledger.record(events[0])
                    else:
                        ledger.record_many(events)
                except (InvalidFill, FillConflict):
                    pass  # refused whole: nothing written
