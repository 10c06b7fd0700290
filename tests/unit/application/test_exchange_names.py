"""The exchange-name check of an append holds in memory as on a database (application/exchange_names.py)."""

from __future__ import annotations

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import InvalidFill, Ledger
from tradeledger.application.exchange_names import refuse_case_rival
from tradeledger.errors import InvalidArgument
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


def test_a_command_refuses_a_name_differing_only_in_case_after_its_own_name_naming_both() -> None:
    with pytest.raises(InvalidArgument) as refused:
        refuse_case_rival("Binance", {"binance", "kraken"}, "--exchange")

    assert str(refused.value) == "--exchange: 'Binance' differs only in case from 'binance' already in the ledger"


@pytest.mark.parametrize(
    ("name", "held"),
    [("Binance", {"Binance", "binance"}), ("Binance", {"kraken"}), ("Binance", set())],
    ids=["held, beside another spelling", "held in no case", "an empty ledger"],
)
def test_a_command_takes_a_name_held_or_held_in_no_case(name: str, held: set[str]) -> None:
    refuse_case_rival(name, held, "sync Binance")  # no refusal
