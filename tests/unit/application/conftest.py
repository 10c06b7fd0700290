"""Use cases run over the in-memory store: no file, no server, the same Ledger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RECORDED_AT
from tradeledger import Ledger
from tradeledger.storage.memory import MemoryLedgerStore


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger in memory with a fixed recording clock."""
    with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT) as opened:
        yield opened
