"""Torn, foreign, read-only and full SQLite storage: a clear error, the existing data untouched.

SQLite only: these are faults of a database file. (On PostgreSQL the server owns its files.)
The read-only and full-disk cases run in a forked child: the child drops root (which ignores file
permissions) to `nobody`, or lowers RLIMIT_FSIZE, without touching the test process.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import fill_fields
from tests.figures import record_figures
from tradeledger import Ledger, LedgerError, StorageError, open_ledger

pytestmark = pytest.mark.reliability

NOBODY = 65534


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder others may enter (pytest's tmp_path is private to its owner), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tradeledger-hostile-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


def make_ledger(path: Path, fills: int = 50) -> list[tuple[Any, ...]]:
    """A closed ledger file holding `fills` fills (WAL folded in); returns (seq, fill_id, hash) of each."""
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.record_many([fill_fields(metadata={"note": "x" * 200}) for _ in range(fills)])
        warm_up(ledger)
        return [(r.seq, r.fill.event_id, r.hash) for r in ledger.history()]


def warm_up(ledger: Ledger) -> None:
    """Touch every code path once, so a child that cannot read the interpreter's files imports nothing new."""
    ledger.verify()
    ledger.replay()
    ledger.positions()


def in_child(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `action` in a forked child; its JSON-able result, or the LedgerError it raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(read_end)
        try:
            result = action()
        except LedgerError as error:
            result = {"error": type(error).__name__, "message": str(error)}
        except BaseException as error:  # noqa: BLE001 - everything else is reported as a failure
            result = {"error": "unexpected " + type(error).__name__, "message": repr(error)}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    reported: dict[str, Any] = json.loads(data)
    return reported


def file_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name)}


# --- torn and foreign files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        pytest.param(
            lambda data: data[: len(data) // 2],
            "database disk image is malformed (SQLITE_CORRUPT: the file is damaged)",
            id="cut-in-half",
        ),
        pytest.param(
            lambda data: data[:100],
            "database disk image is malformed (SQLITE_CORRUPT: the file is damaged)",
            id="only-the-header-left",
        ),
        pytest.param(
            lambda data: bytes(range(256)) * (len(data) // 256),
            "file is not a database (SQLITE_NOTADB: the file is not a SQLite database)",
            id="garbage",
        ),
        pytest.param(
            lambda _: b"time,symbol,side\n" * 200,
            "file is not a database (SQLITE_NOTADB: the file is not a SQLite database)",
            id="a-csv-file",
        ),
    ],
)
def test_a_damaged_or_foreign_file_is_refused_with_a_clear_error_and_left_as_it_was(
    folder: Path, damage: Callable[[bytes], bytes], expected: str
) -> None:
    path = folder / "ledger.db"
    make_ledger(path)
    path.write_bytes(damage(path.read_bytes()))
    before = file_bytes(path)

    with pytest.raises(StorageError) as refused:
        open_ledger(f"sqlite:///{path}")

    message = str(refused.value)
    assert f"cannot open the ledger at sqlite:///{path}" in message
    assert expected in message
    assert file_bytes(path) == before


# --- a read-only file ------------------------------------------------------------------------


def test_a_read_only_ledger_can_be_read_but_an_append_is_refused_clearly_and_nothing_changes(folder: Path) -> None:
    path = folder / "ledger.db"
    logged = make_ledger(path)
    path.chmod(0o444)
    folder.chmod(0o777)  # SQLite may still create its -shm index beside the file
    before = path.read_bytes()

    def append_as_someone_who_may_only_read() -> dict[str, Any]:
        if os.geteuid() == 0:  # root writes to any file: become nobody
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        with open_ledger(f"sqlite:///{path}") as ledger:
            read = {"head": ledger.head.seq, "verify": ledger.verify().ok}
            try:
                ledger.record(fill_fields())
            except LedgerError as error:
                return {**read, "error": type(error).__name__, "message": str(error)}
        return {**read, "error": None}

    result = in_child(append_as_someone_who_may_only_read)

    assert result["head"] == 50
    assert result["verify"] is True
    assert result["error"] == "StorageError"
    assert "attempt to write a readonly database" in result["message"]
    assert "read-only" in result["message"]
    assert path.read_bytes() == before
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert [(r.seq, r.fill.event_id, r.hash) for r in ledger.history()] == logged


# --- a full disk -------------------------------------------------------------------------------


def test_appends_into_a_full_disk_fail_clearly_and_every_acknowledged_fill_survives(folder: Path) -> None:
    path = folder / "ledger.db"
    logged = make_ledger(path)
    limit = path.stat().st_size + 96 * 1024  # room for a few dozen more fills, then no more

    def append_until_the_disk_is_full() -> dict[str, Any]:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        acknowledged: list[list[Any]] = []
        with open_ledger(f"sqlite:///{path}") as ledger:
            warm_up(ledger)
            for n in range(10_000):
                size = 3 if n % 4 == 3 else 1
                batch = [fill_fields(fill_id=f"full-{n}-{k}", metadata={"note": "y" * 500}) for k in range(size)]
                try:
                    receipts = ledger.record_many(batch)
                except LedgerError as error:
                    return {"acknowledged": acknowledged, "error": type(error).__name__, "message": str(error)}
                acknowledged += [[r.seq, r.fill_id, r.hash] for r in receipts]
        return {"acknowledged": acknowledged, "error": None}

    result = in_child(append_until_the_disk_is_full)

    assert result["error"] == "StorageError", result
    assert "a write failed: the disk may be full or the file over a size limit" in result["message"]
    assert len(result["acknowledged"]) > 0
    with open_ledger(f"sqlite:///{path}") as ledger:
        history = [(r.seq, r.fill.event_id, r.hash) for r in ledger.history()]
        assert ledger.verify().ok
        assert ledger.state() == ledger.replay()
        # Room again: the next append takes the next seq.
        assert ledger.record(fill_fields(fill_id="after-the-disk-was-freed")).seq == len(history) + 1
    assert history[:50] == logged
    assert history[50:] == [tuple(row) for row in result["acknowledged"]]
    record_figures("full-disk", limit_bytes=limit, acknowledged_before_full=len(result["acknowledged"]))
