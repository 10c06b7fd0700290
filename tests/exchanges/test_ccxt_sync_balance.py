"""Which currencies a sync asks a per-currency transfer list for, read from the exchange's balance, through ccxt
4.5.90's real deribit class offline: deribit's `get_account_summaries` (ccxt's `fetch_balance`) names what the account
holds, and a currency held only there is asked for (see exchanges/ccxt/currencies.py).

ccxt passes deribit's `equity` on as written (`safe_string`): text that is not a number, or `NaN`, reaches sync as
the currency's total. Such a total cannot say whether the currency is held: sync fails naming it, rather than leave
the currency's deposits and withdrawals out without a word.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_sync_currencies import Router, deribit_answer
from tradeledger import open_ledger
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.calls import SyncFailed


def holding(equity: object) -> Any:
    """deribit's answers, its account summaries holding ETH with `equity` (and 0.25 available)."""

    def answer(path: str, query: Mapping[str, str]) -> Any:
        if path.endswith("get_account_summaries"):
            summary = {"currency": "ETH", "equity": equity, "available_funds": "0.25", "maintenance_margin": "0"}
            return {"jsonrpc": "2.0", "result": {"summaries": [summary]}}
        return deribit_answer(path, query)

    return answer


@pytest.mark.parametrize("equity", ["n/a", "NaN", "Infinity"])
def test_a_balance_total_that_is_not_a_number_fails_the_sync_naming_the_currency_and_value(
    tmp_path: Path, equity: str
) -> None:
    exchange = offline_exchange("deribit")
    router = Router(holding(equity))
    exchange.fetch = router.fetch

    with (
        open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger,
        freeze_time("2023-11-15"),
        pytest.raises(SyncFailed) as failed,
    ):
        syncing.sync(ledger, exchange, exchange="deribit", symbols=["BTC/USDC:USDC"])

    assert str(failed.value) == (
        f"'deribit' fetch_balance: the total of 'ETH' is {equity!r}, not a number: whether it is held (and its "
        "deposits and withdrawals synced) cannot be told; nothing was appended by this step"
    )
    assert not any(path.endswith(("get_deposits", "get_withdrawals")) for path, _ in router.asked)


def test_a_currency_the_balance_holds_is_asked_for_and_one_at_zero_is_not(tmp_path: Path) -> None:
    for equity, asked in (("0.25", ["BTC", "ETH", "USDC"]), ("0", ["BTC", "USDC"]), ("0E-8", ["BTC", "USDC"])):
        exchange = offline_exchange("deribit")
        router = Router(holding(equity))
        exchange.fetch = router.fetch
        with open_ledger(f"sqlite:///{tmp_path / f'{equity}.db'}") as ledger, freeze_time("2023-11-15"):
            syncing.sync(ledger, exchange, exchange="deribit", symbols=["BTC/USDC:USDC"])
        currencies = sorted({query["currency"] for path, query in router.asked if path.endswith("get_deposits")})
        assert currencies == asked, equity
