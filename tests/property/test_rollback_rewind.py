"""A rollback rewinds the projection from the newest snapshot at or below its target (maintenance.rewind_projection):
after any history of batches (fills of every kind, funding, transfers, refused batches) with a snapshot every few
events, and rollbacks to any seq, the stored projection is what a rebuild of the log writes (positions, closed
cycles, balances and cursors), and verify finds every snapshot left (positions and balances) equal to the replay."""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.backends import PostgresServer
from tests.conftest import RECORDED_AT
from tests.integration.test_chunked_batches import rows_of
from tests.property.test_kept_fold_interleavings import COMPARED, event, rebuilt_copy
from tradeledger import FillConflict, InvalidFill, Ledger, open_ledger
from tradeledger.application import bulk
from tradeledger.application.bulk import EventText
from tradeledger.application.copying import copy_ledger, import_log
from tradeledger.application.exporting import export_log, read_export
from tradeledger.bootstrap import open_store

OPS = st.lists(st.tuples(st.sampled_from(["append", "append", "rollback"]), st.integers(0, 2**32)), max_size=12)


@settings(max_examples=30, deadline=None)
@given(ops=OPS, every=st.sampled_from([1, 2, 3, 5]))
def test_a_rollback_to_any_seq_leaves_the_projection_a_rebuild_writes(ops: list[tuple[str, int]], every: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.db"
        url = f"sqlite:///{path}"
        with open_ledger(url, clock=lambda: RECORDED_AT, snapshot_every=every) as ledger:
            for step, (op, seed) in enumerate(ops):
                if played(ledger, step, op, seed):  # a rollback
                    stored = rows_of(url)
                    rebuilt = rebuilt_copy(path, Path(directory) / "copy.db")
                    for table in COMPARED:
                        assert stored[table] == rebuilt[table], (step, table)
                    report = ledger.verify()
                    assert report.ok, (step, report.problems)


def played(ledger: Ledger, step: int, op: str, seed: int) -> bool:
    """One of OPS on `ledger`: a batch of 1 to 9 random events (appended, or refused whole), or a rollback to a
    random seq below the head; whether it rolled back."""
    draw = random.Random(seed)
    if op == "rollback":
        if not ledger.head.seq:
            return False
        ledger.rollback(reason="test", actor="test", to_seq=draw.randrange(ledger.head.seq))
        return True
    events = [event(draw, f"{step}-{n}") for n in range(draw.randint(1, 9))]
    with contextlib.suppress(InvalidFill, FillConflict):  # refused whole: nothing written
        if len(events) == 1:
            ledger.record(events[0])
        else:
            ledger.record_many(events)
    return False


def played_by_two(
    ours: Ledger, other: Ledger, step: str, op: str, where: str, seed: int, seen: list[dict[str, Any]] | None
) -> bool:
    """One of SHARED_OPS on two Ledgers of one database: a rollback by either to a target `where`, or a batch of 1
    to 9 random events written by either (record_many, or append_texts for "texts"; refused whole or appended),
    with one of `seen` again now and then (a duplicate) when given, which then gets the batch; whether it rolled
    back."""
    draw = random.Random(seed)
    if op.startswith("rollback"):
        by = ours if op == "rollback ours" else other
        if not by.head.seq:
            return False
        by.rollback(reason="test", actor="test", to_seq=_target(by, where, draw))
        return True
    events = [event(draw, f"{step}-{n}") for n in range(draw.randint(1, 9))]
    if seen is not None:
        events += [draw.choice(seen)] if seen and draw.random() < 0.2 else []  # a duplicate
    writer = other if op == "other" else ours
    with contextlib.suppress(InvalidFill, FillConflict):  # refused whole: nothing written
        if op == "texts":
            writer.append_texts([EventText(fields) for fields in events])
        else:
            writer.record_many(events)
    if seen is not None:
        seen += events
    return False


# Where a rollback goes: anywhere, to 0, to a snapshot's seq exactly, just below one, or one event back.
TARGETS = st.sampled_from(["any", "zero", "snapshot", "below snapshot", "last"])
SHARED_OPS = st.lists(
    st.tuples(
        st.sampled_from(["ours", "ours", "other", "texts", "rollback ours", "rollback other"]),
        TARGETS,
        st.integers(0, 2**32),
    ),
    min_size=1,
    max_size=10,
)


def _target(ledger: Ledger, where: str, draw: random.Random) -> int:
    head = ledger.head.seq
    with ledger._store.reading() as tx:  # the snapshots a rollback rewinds from
        snapshots = [seq for seq in tx.projection.snapshot_seqs() if seq < head]
    if where == "zero":
        return 0
    if where == "last":
        return head - 1
    if snapshots and where in ("snapshot", "below snapshot"):
        seq = draw.choice(snapshots)
        return seq if where == "snapshot" else seq - 1
    return draw.randrange(head)


def _assert_as_rebuilt(path: Path, url: str, ledger: Ledger, where: object) -> None:
    stored = rows_of(url)
    rebuilt = rebuilt_copy(path, path.parent / "copy.db")
    for table in COMPARED:
        assert stored[table] == rebuilt[table], (where, table)
    report = ledger.verify()  # every snapshot left, positions and balances, equals the replay at its seq
    assert report.ok, (where, report.problems)


@settings(max_examples=40, deadline=None)
@given(ops=SHARED_OPS, every=st.sampled_from([1, 2, 3, 5]), chunk=st.sampled_from([2, 3, 1000]))
def test_rollbacks_from_either_process_over_chunked_batches_and_kept_folds_leave_what_a_rebuild_writes(
    ops: list[tuple[str, str, int]], every: int, chunk: int
) -> None:
    """Batches appended a few events a chunk (bulk.CHUNK), from two Ledgers on one file (each keeps its fold
    between its batches, so a batch may start from a fold of before the other's rollback), by record_many and
    append_texts (an import's path), with snapshots every `every` events taken inside chunks; rollbacks by
    either Ledger to 0, to a snapshot's seq, just below one, or anywhere."""
    with tempfile.TemporaryDirectory() as directory, mock.patch.object(bulk, "CHUNK", chunk):
        path = Path(directory) / "ledger.db"
        url = f"sqlite:///{path}"
        seen: list[dict[str, Any]] = []
        with (
            open_ledger(url, clock=lambda: RECORDED_AT, snapshot_every=every) as ours,
            open_ledger(url, clock=lambda: RECORDED_AT, snapshot_every=every) as other,
        ):
            for step, (op, where, seed) in enumerate(ops):
                if played_by_two(ours, other, f"{step}", op, where, seed, seen):  # a rollback
                    _assert_as_rebuilt(path, url, ours, (step, op, where))
            report = other.verify()
            assert report.ok, report.problems


@settings(max_examples=15, deadline=None)
@given(ops=OPS, every=st.sampled_from([2, 3, 5]), where=TARGETS, seed=st.integers(0, 2**32))
def test_a_rollback_of_a_copy_or_an_imported_export_leaves_what_a_rebuild_writes(
    ops: list[tuple[str, int]], every: int, where: str, seed: int
) -> None:
    """A history with rollbacks (events of several epochs), copied (`tradeledger copy`) and exported then imported
    with snapshots every `every` events; then rolled back in the copy and in the import."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        source_url = f"sqlite:///{root / 'source.db'}"
        with open_ledger(source_url, clock=lambda: RECORDED_AT, snapshot_every=every) as source:
            for step, (op, op_seed) in enumerate(ops):
                played(source, step, op, op_seed)
        source_store = open_store(source_url)
        lines: list[str] = []
        try:
            export_log(source_store, lambda item: lines.append(json.dumps(item)))
            copies = {"copy": root / "copy.db", "import": root / "import.db"}
            target = open_store(f"sqlite:///{copies['copy']}")
            try:
                assert copy_ledger(source_store, target, snapshot_every=every).verify.ok
            finally:
                target.close()
        finally:
            source_store.close()
        exported = read_export(lines)
        target = open_store(f"sqlite:///{copies['import']}")
        try:
            report = import_log(exported.head, exported.events, exported.records, target, snapshot_every=every)
            assert report.verify.ok
        finally:
            target.close()
        for name, path in copies.items():
            url = f"sqlite:///{path}"
            with open_ledger(url, clock=lambda: RECORDED_AT, snapshot_every=every) as ledger:
                if not ledger.head.seq:
                    continue
                ledger.rollback(reason="test", actor="test", to_seq=_target(ledger, where, random.Random(seed)))
                _assert_as_rebuilt(path, url, ledger, name)


def _rebuilt_on_sqlite(url: str, into: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The rows a rebuild writes, on a SQLite copy (`tradeledger copy`) of the ledger at `url`."""
    source, target = open_store(url), open_store(f"sqlite:///{into}")
    try:
        copy_ledger(source, target)
    finally:
        source.close()
        target.close()
    return rebuilt_copy(into, into.parent / "rebuilt.db")


@settings(max_examples=20, deadline=None)
@given(ops=SHARED_OPS, every=st.sampled_from([1, 2, 3]))
def test_on_postgresql_a_rollback_from_either_process_leaves_what_a_rebuild_writes(
    postgres_server: PostgresServer, ops: list[tuple[str, str, int]], every: int
) -> None:
    """As above on PostgreSQL (rewind's DELETEs and snapshot reads there), each rollback's rows held to a rebuild
    of a SQLite copy of the ledger."""
    with (
        tempfile.TemporaryDirectory() as directory,
        mock.patch.object(bulk, "CHUNK", 3),
        postgres_server.fresh_database() as backend,
        open_ledger(backend.url, clock=lambda: RECORDED_AT, snapshot_every=every) as ours,
        open_ledger(backend.url, clock=lambda: RECORDED_AT, snapshot_every=every) as other,
    ):
        for step, (op, where, seed) in enumerate(ops):
            if played_by_two(ours, other, f"{step}", op, where, seed, None):  # a rollback
                stored = rows_of(backend.url)
                rebuilt = _rebuilt_on_sqlite(backend.url, Path(directory) / f"copy-{step}.db")
                for table in COMPARED:
                    assert stored[table] == rebuilt[table], (step, op, where, table)
                report = ours.verify()
                assert report.ok, (step, report.problems)
