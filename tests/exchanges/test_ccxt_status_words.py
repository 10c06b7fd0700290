"""Transfer statuses ccxt 4.5.90 passes on as the exchange writes them, read for what they mean instead of refused.

coinbase (v2 transactions, ccxt's `coinbase.parse_transaction_status` and `parse_ledger_entry_status` map `created`,
`completed` and `canceled` only): `waiting_for_signature` (a vault withdrawal waiting for approval) and
`waiting_for_clearing` (waiting to be cleared) may still move money. binance's deposit history (ccxt's
`binance.parse_transaction_status_by_type` maps `0`, `1` and `6` only): `8` (waiting for the user's confirmation) and
`7` (a wrong deposit, which binance may credit after a recovery) may still move money, `2` (rejected) moved none.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.exchanges.offline import fixture, offline_exchange, recorded_case
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries


def binance_deposit(status: str) -> dict[str, object]:
    """binance's recorded deposit (shared fixtures: 10 USDT) with binance's `status`, parsed by ccxt 4.5.90."""
    answer = copy.deepcopy(recorded_case("binance", "fetchDeposits", 0)["httpResponse"])
    answer[0]["status"] = status
    exchange = offline_exchange("binance", [answer])
    exchange.extend_exchange_options(fixture("binance")["options"])
    (deposit,) = exchange.fetch_deposits()
    assert deposit["status"] == status  # passed on as binance wrote it
    parsed: dict[str, object] = deposit
    return parsed


@pytest.mark.parametrize("status", ["waiting_for_signature", "waiting_for_clearing"])
def test_a_coinbase_transfer_waiting_for_signature_or_clearing_is_skipped_and_holds_the_cursor(status: str) -> None:
    (withdrawal, _) = json.loads((RECORDED / "bybit-withdrawals.json").read_text())

    mapped = map_entries([{**withdrawal, "status": status}], exchange="coinbase", kind=Kind.WITHDRAWALS)

    assert mapped.events == ()
    assert mapped.skipped == ((0, f"a {status} withdrawal (no money moved)"),)
    assert mapped.still_open == (0,)


@pytest.mark.parametrize(("status", "still_open"), [("8", True), ("7", True), ("2", False)])
def test_a_binance_deposit_waiting_wrong_or_rejected_is_skipped(status: str, *, still_open: bool) -> None:
    mapped = map_entries([binance_deposit(status)], exchange="binance", kind=Kind.DEPOSITS)

    assert mapped.events == ()
    assert mapped.skipped == ((0, f"a {status} deposit (no money moved)"),)
    assert mapped.still_open == ((0,) if still_open else ())


def test_a_binance_status_digit_on_another_exchange_is_still_refused() -> None:
    # A digit means what its exchange says it means: on any other exchange "8" is not a word the ledger knows.
    with pytest.raises(InvalidFill, match=r"^entry 0: status: is not a transfer status the ledger knows \(got '8'\)"):
        map_entries([binance_deposit("8")], exchange="kucoin", kind=Kind.DEPOSITS)
