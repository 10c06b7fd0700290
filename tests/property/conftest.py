"""What the property tests share: a migrated, empty ledger file each example starts from."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import RECORDED_AT
from tradeledger import Ledger, open_ledger


class LedgerTemplate:
    """A migrated ledger database with no events, as bytes.

    Held in memory, not as a path: a file under the shared temp directory can be removed by another
    pytest run while this module is still running. Hypothesis prints test arguments when a property
    fails, so the repr stays short.
    """

    def __init__(self, content: bytes) -> None:
        self._content = content

    def __repr__(self) -> str:
        return f"LedgerTemplate(<{len(self._content)} bytes>)"

    @contextmanager
    def fresh(self, recorded_at: datetime = RECORDED_AT) -> Iterator[Ledger]:
        """A real SQLite ledger of its own for one example (durability off: nothing crashes it here), its clock at
        `recorded_at` (a fill 5 minutes past it is refused)."""
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "ledger.db"
            path.write_bytes(self._content)
            with open_ledger(f"sqlite:///{path}", clock=lambda: recorded_at, synchronous="off") as ledger:
                yield ledger


@pytest.fixture(scope="module")
def empty_ledger() -> LedgerTemplate:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "empty.db"
        with open_ledger(f"sqlite:///{path}", clock=lambda: RECORDED_AT):
            pass
        # Closing the last connection checkpoints the WAL into the main file and removes it.
        assert not path.with_name("empty.db-wal").exists()
        return LedgerTemplate(path.read_bytes())
