"""`sync` of transfer lists ccxt reads one currency at a time, through ccxt 4.5.90's real classes offline.

ccxt's deribit `fetch_deposits` and `fetch_withdrawals` and luno's `fetch_ledger` raise ArgumentsRequired without a
currency code. luno's ledger is one list per luno account (`/api/1/accounts/{id}/transactions`, each account holding
one currency), its rows numbered per account (`row_index` 1, 2, 3, ... in each); ccxt 4.5.90's luno looks an account up
by a field its accounts do not have (`currency`; they hold `code`) and finds none unless the account id is given
(params `id`). luno's pending ledger row is a reservation (only `available_delta`): it never turns ok, the move is a
row of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pytest
from freezegun import freeze_time

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_deribit import RAW
from tests.exchanges.test_ccxt_ledger_status import LedgerOnly
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tests.exchanges.test_ccxt_status_words import luno_ledger
from tests.exchanges.test_ccxt_sync_transfers import DEPOSITED, TRANSFERS, Gemini, run
from tradeledger import open_ledger
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.currencies import needs_code
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries
from tradeledger.exchanges.ccxt.transfers import iso

DAY = 86_400_000


class Router:
    """Answers ccxt's `fetch` by the request's path (and query), recording each path asked for."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, str]]] = []

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        parsed = urlparse(url)
        query = {key: values[0] for key, values in parse_qs(parsed.query).items()}
        self.asked.append((parsed.path, query))
        return self.answer(parsed.path, query)


def deribit_answer(path: str, query: Mapping[str, str]) -> Any:
    empty = {"jsonrpc": "2.0", "result": {"count": 0, "data": []}}
    if path.endswith(("get_user_trades_by_instrument_and_time", "get_user_trades_by_instrument")):
        return RAW["fetchMyTrades"]
    if path.endswith("get_account_summaries"):  # fetch_balance: ETH held too (0.25), SOL 0
        summaries = [{"currency": "ETH", "equity": "0.25", "available_funds": "0.25", "maintenance_margin": "0"},
                     {"currency": "SOL", "equity": "0", "available_funds": "0", "maintenance_margin": "0"}]  # fmt: skip
        return {"jsonrpc": "2.0", "result": {"summaries": summaries}}
    if path.endswith("get_withdrawals"):
        return RAW["fetchWithdrawals"] if query["currency"] == "BTC" else empty
    if path.endswith("get_deposits"):
        return RAW["fetchDeposits"] if query["currency"] == "BTC" else empty
    raise AssertionError(f"deribit: not answered here: {path}")


def test_a_sync_of_deribit_lists_its_deposits_and_withdrawals_per_currency(tmp_path: Path) -> None:
    exchange = offline_exchange("deribit")
    router = Router(deribit_answer)
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-11-15"):
        report = syncing.sync(ledger, exchange, exchange="deribit", symbols=["BTC/USDC:USDC"])
        held = {(b.currency, b.amount) for b in ledger.balances().balances}

    # The symbol's currencies (BTC, USDC) and those deribit holds (ETH 0.25; SOL 0 is not asked for)
    assert [stream.label for stream in report.streams] == [
        "trades BTC/USDC:USDC",
        "deposits BTC", "deposits ETH", "deposits USDC",
        "withdrawals BTC", "withdrawals ETH", "withdrawals USDC",
    ]  # fmt: skip
    # 0.01 BTC bought and sold (rebate 0.0037, fee 0.1855 USDC: -0.1818 USDC and the price difference +1 USDC);
    # the deposit replaced on chain is skipped, its replacement of 5 BTC booked; both withdrawals still open
    assert held == {("BTC", Decimal(5)), ("USDC", Decimal("0.8182"))}
    assert sorted({query["currency"] for path, query in router.asked if path.endswith("get_deposits")}) == [
        "BTC", "ETH", "USDC"
    ]  # fmt: skip


def luno_answer(rows: Mapping[str, list[tuple[int, int, str, str, str, str, str]]]) -> Any:
    """luno's answers: its accounts (`/api/1/balance`: BTC in account 100, ZAR in 200), the transactions of each
    account (`rows`: row_index, timestamp, balance, available, balance_delta, available_delta, description), the
    account's latest 1000 rows as luno answers by default, and no trades."""
    keys = ("row_index", "timestamp", "balance", "available", "balance_delta", "available_delta", "description")
    currency = {"100": "XBT", "200": "ZAR"}

    def answer(path: str, query: Mapping[str, str]) -> Any:
        if path == "/api/1/balance":
            return {"balance": [{"account_id": "100", "asset": "XBT", "balance": "0.4", "reserved": "0"},
                                {"account_id": "200", "asset": "ZAR", "balance": "1000", "reserved": "0"}]}  # fmt: skip
        if path == "/api/1/listtrades":
            return {"trades": []}
        account = path.split("/")[-2]
        transactions = [dict(zip(keys, row, strict=True)) | {"currency": currency[account]} for row in rows[account]]
        return {"id": account, "transactions": transactions}

    return answer


LUNO_ROWS = {
    "100": [
        (1, 1700000100000, "0.5", "0.5", "0.5", "0.5", "Received 0.5 BTC"),
        (2, 1700000200000, "0.5", "0.4", "0", "-0.1", "Sent 0.1 BTC"),  # reserved: never turns ok
        (3, 1700000300000, "0.4", "0.4", "-0.1", "0", "Sent 0.1 BTC"),  # the send itself
    ],
    "200": [(1, 1700000150000, "1000", "1000", "1000", "1000", "Deposit")],  # row 1 of another account
}


def test_a_sync_of_luno_reads_the_ledger_of_each_of_its_accounts(tmp_path: Path) -> None:
    exchange = offline_exchange("luno")
    router = Router(luno_answer(LUNO_ROWS))
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-11-15"):
        report = syncing.sync(ledger, exchange, exchange="luno", symbols=["BTC/ZAR"])
        held = {(b.currency, b.amount) for b in ledger.balances().balances}
        ids = [recorded.event.event_id for recorded in ledger.history()]

    assert [stream.label for stream in report.streams] == ["trades BTC/ZAR", "ledger BTC 100", "ledger ZAR 200"]
    assert held == {("BTC", Decimal("0.4")), ("ZAR", Decimal(1000))}
    # luno numbers rows per account: row 1 of each account is a transfer of its own
    assert ids == ["ledger:100:1", "ledger:100:3", "ledger:200:1"]  # stream by stream
    assert {path for path, _ in router.asked if "transactions" in path} == {
        "/api/1/accounts/100/transactions", "/api/1/accounts/200/transactions"
    }  # fmt: skip


def test_a_luno_reservation_row_does_not_hold_the_cursor_its_send_is_a_row_of_its_own(tmp_path: Path) -> None:
    exchange = offline_exchange("luno")
    exchange.fetch = Router(luno_answer(LUNO_ROWS)).fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-11-15"):
        first = syncing.sync(ledger, exchange, exchange="luno", symbols=["BTC/ZAR"])
        again = syncing.sync(ledger, exchange, exchange="luno", symbols=["BTC/ZAR"])

    (_, btc, _) = first.streams
    assert (btc.appended, btc.skipped, btc.cursor) == (2, 1, 1700000300000)  # at the send, not the reservation
    assert again.appended == 0


def test_a_luno_reservation_row_is_skipped_as_final_not_as_still_open() -> None:
    mapped = map_entries(luno_ledger(), exchange="luno", kind=Kind.LEDGER)

    assert mapped.skipped == ((1, "a pending ledger withdrawal (no money moved)"),)
    assert mapped.still_open == ()


def test_luno_ledger_rows_of_two_accounts_with_one_row_index_are_two_transfers() -> None:
    btc = luno_ledger()[0]
    zar = {**btc, "account": "200", "currency": "ZAR", "amount": "1000"}

    mapped = map_entries([btc, zar], exchange="luno", kind=Kind.LEDGER)

    assert [event.event_id for _, event in mapped.events] == ["ledger:1224342323:1", "ledger:200:1"]
    with pytest.raises(InvalidFill, match=r"^entry 0: account: 'luno' numbers its ledger rows per account"):
        map_entries([{**btc, "account": None}], exchange="luno", kind=Kind.LEDGER)


def test_a_transfer_still_open_after_30_days_no_longer_holds_the_cursor_and_is_named(tmp_path: Path) -> None:
    # kraken's recorded ledger: a deposit of 500 USDT, a trade's entry, and the withdrawal of 100 USDT pending; a
    # deposit of 20 USDT 40 days after it. At a sync 41 days after the withdrawal it no longer holds the cursor.
    (deposit, trade, withdrawal) = json.loads((RECORDED / "kraken-ledger.json").read_text())
    later = {**deposit, "id": "LQ3OAD-P4JBT-5V2G6R", "timestamp": withdrawal["timestamp"] + 40 * DAY, "amount": "20"}
    exchange = LedgerOnly([deposit, trade, {**withdrawal, "status": "pending"}, later])
    now = datetime.fromtimestamp((withdrawal["timestamp"] + 41 * DAY) / 1000, tz=UTC)

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time(now):
        report = syncing.sync(ledger, exchange, exchange="kraken", symbols=["BTC/USDT"])
        exchange.asked.clear()
        syncing.sync(ledger, exchange, exchange="kraken", symbols=["BTC/USDT"])

    (_, stream) = report.streams
    assert stream.cursor == later["timestamp"]
    assert exchange.asked[0] == later["timestamp"]  # not the withdrawal's
    assert report.summary()["streams"][1]["unsettled"] == [
        {"id": withdrawal["id"], "status": "pending", "at": iso(withdrawal["timestamp"])}
    ]


def test_sync_says_which_transfer_still_open_it_no_longer_holds_and_how_to_fetch_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # gemini's withdrawal of 10 USD still "Pending" 40 days after it (ccxt passes gemini's word on as written)
    pending = [TRANSFERS[0], {**TRANSFERS[1], "status": "Pending"}, TRANSFERS[2]]
    url = f"sqlite:///{tmp_path / 'ledger.db'}"

    with freeze_time(datetime.fromtimestamp((DEPOSITED + 40 * DAY) / 1000, tz=UTC)):
        shown = run(url, Gemini(pending), monkeypatch, capsys, "gemini", "--symbols", "BTC/USD")

    assert (
        "'deposits and withdrawals': '320013285' still Pending after 30 days (2026-08-06T07:07:40+00:00): no longer "
        "held; if it settles, sync again with --since 2026-08-06T07:07:40+00:00"
    ) in " ".join(shown.split())


@pytest.mark.parametrize(
    ("exchange", "call", "needs"),
    [
        ("deribit", "fetch_deposits", True),
        ("deribit", "fetch_withdrawals", True),
        ("luno", "fetch_ledger", True),
        ("coinbaseexchange", "fetch_ledger", True),
        ("binance", "fetch_deposits", False),
        ("kraken", "fetch_ledger", False),
        ("bitfinex", "fetch_ledger", False),
    ],
)
def test_a_transfer_call_is_read_per_currency_where_ccxts_code_requires_a_code(
    exchange: str, call: str, *, needs: bool
) -> None:
    assert needs_code(getattr(getattr(ccxt, exchange)(), call)) is needs


def test_a_call_without_source_to_read_is_not_known_to_need_a_code() -> None:
    assert needs_code(len) is False
