from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradeledger import Ledger, open_ledger

RECORDED_AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite file URL."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """A ledger on a fresh SQLite file with a fixed recording clock."""
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as opened:
        yield opened
