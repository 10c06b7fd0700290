"""What ccxt's real parsers make of the raw answers (offline, string numbers) ingests to the same events
as the recorded parsed answers that test_ccxt_ingest works by hand, for every case of every exchange.

The comparison is on the event's accounting content (ids, symbols, sides, amounts, prices, fees, times,
kinds); the metadata differs only where ccxt 4.5.90 does (offline.py's KNOWN_DIFFERENCES: binance's
network name), never in a number.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.exchanges.offline import EXCHANGES, fixture, run_case
from tests.exchanges.test_ccxt_ingest import parsed
from tradeledger import open_ledger
from tradeledger.exchanges.ccxt.ingesting import ingest
from tradeledger.exchanges.ccxt.mapping import map_entries

LISTS = ("fetchMyTrades", "fetchFundingHistory", "fetchLedger", "fetchDeposits", "fetchWithdrawals")
CASES = [
    (name, method, index)
    for name in EXCHANGES
    for method, cases in fixture(name)["methods"].items()
    if method in LISTS
    for index in range(len(cases))
]


def accounting(event: Any) -> dict[str, Any]:
    content: dict[str, Any] = event.canonical()
    return {field: value for field, value in content.items() if field != "metadata"}


@pytest.mark.parametrize(("name", "method", "index"), CASES, ids=[f"{n}-{m}-{i}" for n, m, i in CASES])
def test_ccxts_own_parse_ingests_to_the_events_of_the_recorded_answer(name: str, method: str, index: int) -> None:
    ours = map_entries(run_case(name, method, index), exchange=name)
    recorded = map_entries(parsed(name, method, index), exchange=name)

    assert [accounting(event) for _, event in ours.events] == [accounting(event) for _, event in recorded.events]
    assert ours.skipped == recorded.skipped
    assert ours.events or ours.skipped  # every case books or skips something


def test_every_recorded_list_of_the_six_exchanges_is_covered() -> None:
    assert len(CASES) == 20
    assert {name for name, _, _ in CASES} == set(EXCHANGES)


def test_binance_through_ccxts_parser_gives_the_hand_worked_balances(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        for method, index in [
            ("fetchMyTrades", 0),
            ("fetchMyTrades", 2),
            ("fetchMyTrades", 1),
            ("fetchFundingHistory", 0),
            ("fetchDeposits", 0),
            ("fetchWithdrawals", 0),
        ]:
            ingest(ledger, run_case("binance", method, index), exchange="binance")

        held = {balance.currency: balance.amount for balance in ledger.balances().balances}

    assert held == {"LTC": Decimal("-0.373"), "USDT": Decimal("25.712082")}  # as in test_ccxt_ingest
