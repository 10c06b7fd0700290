"""The exchange-name check of an append holds in memory as on a database (application/exchange_names.py)."""

from __future__ import annotations

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import InvalidFill, Ledger
from tradeledger.storage.memory import MemoryLedgerStore


def test_a_ledger_in_memory_refuses_a_second_spelling_and_keeps_nothing_of_the_batch() -> None:
    with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT) as ledger:
        ledger.record(fill_fields(exchange="okx"))

        with pytest.raises(InvalidFill, match="fill 2: exchange: 'OKX' differs only in case from 'okx' already"):
            ledger.record_many([fill_fields(exchange="kraken"), fill_fields(exchange="OKX")])

        assert ledger.head.seq == 1
        assert ledger.exchanges() == {"okx"}


def test_a_ledger_in_memory_lists_its_exchange_names_once_each() -> None:
    with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many([fill_fields(exchange="okx"), fill_fields(exchange=""), fill_fields(exchange="okx")])

        assert ledger.exchanges() == {"okx", ""}
