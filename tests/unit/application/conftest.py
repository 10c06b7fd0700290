"""Use cases run over the in-memory store: no file, no server, the same Ledger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tests.integration.test_rollback import EIGHT, Clock
from tradeledger import Ledger
from tradeledger.storage.memory import MemoryLedgerStore


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger in memory with a fixed recording clock."""
    with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT) as opened:
        yield opened


@pytest.fixture
def eight() -> Iterator[Ledger]:
    """The eight fills of the integration suite, recorded a minute apart, snapshots every 3."""
    with Ledger(MemoryLedgerStore(), clock=Clock(), snapshot_every=3) as ledger:
        for symbol, side, quantity, price in EIGHT:
            ledger.record(fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, fee="0.1"))
        yield ledger
