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
from decimal import Decimal

import ccxt
import pytest

from tests.exchanges.offline import OfflineExchange, fixture, offline_exchange, recorded_case
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tradeledger.domain.events import Transfer
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


def luno_ledger() -> list[dict[str, object]]:
    """Three rows of luno's account transactions (`/api/1/accounts/{id}/transactions`, the fields ccxt 4.5.90's
    `luno.parse_ledger_entry` reads; values helper-91's), parsed by ccxt: 0.5 BTC received, then a send of 0.1 whose
    amount is first reserved (row 2: only `available_delta`, ccxt's status pending) and then leaves the balance
    (row 3: `balance_delta`, ok). A reservation row never turns ok: the move is a row of its own."""
    rows = [
        (3, 1700000300000, "0.4", "0.4", "-0.1", "0", "Sent 0.1 BTC"),
        (2, 1700000200000, "0.5", "0.4", "0", "-0.1", "Sent 0.1 BTC"),
        (1, 1700000100000, "0.5", "0.5", "0.5", "0.5", "Received 0.5 BTC"),
    ]
    keys = ("row_index", "timestamp", "balance", "available", "balance_delta", "available_delta", "description")
    answer = {
        "id": "1224342323",
        "transactions": [dict(zip(keys, row, strict=True)) | {"currency": "XBT"} for row in rows],
    }
    accounts = {"balance": [{"account_id": "1224342323", "asset": "XBT", "balance": "0.5", "reserved": "0"}]}
    exchange = ccxt.luno({"apiKey": "key", "secret": "secret", "enableRateLimit": False})
    exchange.number = str
    exchange.set_markets([])
    exchange.fetch = OfflineExchange([accounts, answer]).fetch
    parsed: list[dict[str, object]] = exchange.fetch_ledger(None, params={"id": "1224342323"})
    return [{**entry, "account": "1224342323"} for entry in parsed]  # as sync writes the account asked for


def test_a_luno_send_reserved_then_sent_is_booked_once_from_the_row_that_moved_it() -> None:
    mapped = map_entries(luno_ledger(), exchange="luno", kind=Kind.LEDGER)

    assert [(event.event_id, event.amount) for _, event in mapped.events if isinstance(event, Transfer)] == [
        ("ledger:1224342323:1", Decimal("0.5")),  # luno numbers its rows per account
        ("ledger:1224342323:3", Decimal("-0.1")),
    ]
    assert mapped.skipped == ((1, "a pending ledger withdrawal (no money moved)"),)
