"""`tradeledger sync`'s transfer streams on exchanges without ccxt's separate deposit and withdrawal lists:
gemini, coinmate and indodax have only `fetchDepositsWithdrawals` (ccxt 4.5.90's `has`), some exchanges have no
way to list transfers at all, and some only one of the two lists. ccxt's real gemini class is driven offline: its
HTTP `fetch` answers POST /v1/transfers as gemini's API documentation shows it (newest first, from the request's
`timestamp` inclusive)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ccxt
import pytest
from freezegun import freeze_time

from tests.exchanges.test_ccxt_sync import market
from tradeledger import open_ledger
from tradeledger.cli import main
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.transfers import TRANSFER_CALLS

DEPOSITED = 1_786_000_000_000  # 2026-08-06T07:06:40Z
# gemini's /v1/transfers entries (its API documentation's shapes): a deposit of 36.00 USD by ACH, a withdrawal of
# 10 USD a minute later with a fee of 0.25 USD, and a deposit of 5 USD an hour after that.
TRANSFERS = [
    {"type": "Deposit", "status": "Complete", "timestampms": DEPOSITED + 3_660_000, "eid": 320013290,
     "currency": "USD", "amount": "5", "method": "ACH"},
    {"type": "Withdrawal", "status": "Complete", "timestampms": DEPOSITED + 60_000, "eid": 320013285,
     "currency": "USD", "amount": "10", "feeAmount": "0.25", "method": "ACH"},
    {"type": "Deposit", "status": "Advanced", "timestampms": DEPOSITED, "eid": 320013281, "currency": "USD",
     "amount": "36.00", "method": "ACH"},
]  # fmt: skip


class Gemini:
    """ccxt's gemini with its markets set, its /v1/transfers answered from `transfers` (from the payload's
    `timestamp`, inclusive, newest first), and the payload of each request kept."""

    def __init__(self, transfers: list[dict[str, Any]]) -> None:
        self.transfers = transfers
        self.payloads: list[dict[str, Any]] = []

    def __call__(self, name: str, environ: object) -> Any:  # noqa: ARG002 - syncing.connect's signature
        exchange = ccxt.gemini({"apiKey": "account-key", "secret": "secret"})
        exchange.number = str
        exchange.set_markets([market("btcusd", "BTC/USD", "BTC", "USD")])
        exchange.fetch = self.fetch
        return exchange

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        payload = json.loads(base64.b64decode(headers["X-GEMINI-PAYLOAD"]))
        self.payloads.append(payload)
        if payload["request"] == "/v1/mytrades":
            return []
        assert payload["request"] == "/v1/transfers", url
        since = payload.get("timestamp", 0)
        return [dict(entry) for entry in self.transfers if entry["timestampms"] >= since]

    def transfer_requests(self) -> list[dict[str, Any]]:
        return [payload for payload in self.payloads if payload["request"] == "/v1/transfers"]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(autouse=True)
def a_day_after_the_transfers() -> Iterator[None]:
    with freeze_time("2026-08-07"):
        yield


def run(url: str, connect: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    monkeypatch.setattr(syncing, "connect", connect)
    status = main(["--db", url, "sync", *args])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out) if "--json" in args else captured.out


def usd(url: str) -> Decimal:
    with open_ledger(url) as ledger:
        (held,) = ledger.balances().balances
    assert held.currency == "USD"
    return held.amount


def test_ccxts_gemini_coinmate_and_indodax_sync_transfers_through_their_combined_list() -> None:
    for name in ("gemini", "coinmate", "indodax"):
        client = getattr(ccxt, name)()
        assert not client.has["fetchDeposits"]
        assert not client.has["fetchWithdrawals"]
        assert client.has["fetchDepositsWithdrawals"]
        streams, unavailable = syncing.streams(client, ["BTC/USD"], exchange=name)
        assert [(stream.label, stream.call) for stream in streams] == [
            ("trades BTC/USD", "fetch_my_trades"),
            ("deposits and withdrawals", "fetch_deposits_withdrawals"),
        ]
        assert unavailable == []


def test_a_sync_of_gemini_books_its_deposits_and_withdrawals_each_by_its_own_type(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run(url, Gemini(TRANSFERS), monkeypatch, capsys, "gemini", "--symbols", "BTC/USD", "--json")

    assert report["streams"][1] == {
        "stream": "deposits and withdrawals", "appended": 3, "duplicates": 1, "skipped": 0, "pages": 2,
        "cursor": "2026-08-06T08:07:40+00:00", "covered": 0, "unsettled": [],
    }  # fmt: skip
    assert report["unavailable"] == []
    assert usd(url) == Decimal("30.75")  # 36.00 - 10 - 0.25 + 5
    with open_ledger(url) as ledger:
        kinds = [(r.event.event_id, r.event.kind) for r in ledger.history()]  # type: ignore[union-attr]
    assert kinds == [
        ("deposit:320013281", "deposit"), ("withdrawal:320013285", "withdrawal"), ("deposit:320013290", "deposit"),
    ]  # fmt: skip


def test_the_combined_transfer_stream_goes_on_from_its_own_cursor_and_a_second_sync_appends_nothing(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(url, Gemini(TRANSFERS), monkeypatch, capsys, "gemini", "--symbols", "BTC/USD", "--json")
    again = Gemini(TRANSFERS)

    report = run(url, again, monkeypatch, capsys, "gemini", "--symbols", "BTC/USD", "--json")

    assert (report["appended"], report["duplicates"]) == (0, 1)
    assert [payload.get("timestamp") for payload in again.transfer_requests()] == [DEPOSITED + 3_660_000]
    assert usd(url) == Decimal("30.75")


class NoTransferList:
    """An exchange whose ccxt class has only the `has` given (bitbank's and zaif's have no call listing transfers
    at all; bitso's lists deposits only); no trades, no transfers."""

    id = "bitbank"

    def __init__(self, has: Mapping[str, Any]) -> None:
        self.has = MappingProxyType(dict(has))

    def __call__(self, name: str, environ: object) -> Any:  # noqa: ARG002 - syncing.connect's signature
        return self

    def load_markets(self) -> dict[str, Any]:
        return {}

    def fetch_my_trades(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return []

    def fetch_deposits(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return []


def test_a_sync_of_an_exchange_with_no_call_listing_transfers_says_so_in_its_json(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("bitbank", "zaif", "btcturk"):  # ccxt 4.5.90: none of the four calls
        has = getattr(ccxt, name)().has
        assert not any(has.get(call) for call in TRANSFER_CALLS)

    report = run(url, NoTransferList({}), monkeypatch, capsys, "bitbank", "--symbols", "BTC/JPY", "--json")

    assert [stream["stream"] for stream in report["streams"]] == ["trades BTC/JPY"]
    assert report["unavailable"] == [
        {
            "stream": "transfers",
            "reason": "'bitbank' has none of fetchDeposits, fetchWithdrawals, fetchDepositsWithdrawals or fetchLedger "
            "in ccxt: its deposits and withdrawals are not synced (record them with record-transfer)",
        }
    ]


def test_a_sync_of_an_exchange_with_no_call_listing_transfers_says_so_in_its_text(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = run(url, NoTransferList({}), monkeypatch, capsys, "bitbank", "--symbols", "BTC/JPY")

    lines = text.splitlines()
    assert lines[1] == "  'trades BTC/JPY': 0 appended, 0 duplicates, 0 skipped, 1 page(s)"
    assert " ".join(" ".join(lines[2:]).split()) == (  # the console folds the long line
        "'transfers': not synced: 'bitbank' has none of fetchDeposits, fetchWithdrawals, fetchDepositsWithdrawals or "
        "fetchLedger in ccxt: its deposits and withdrawals are not synced (record them with record-transfer)"
    )


def test_a_sync_of_an_exchange_listing_deposits_only_says_its_withdrawals_are_not_synced(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    has = ccxt.bitso().has  # ccxt 4.5.90: deposits listed, withdrawals not (neither alone nor combined)
    assert (has["fetchDeposits"], has.get("fetchWithdrawals"), has["fetchDepositsWithdrawals"]) == (True, None, False)
    exchange = NoTransferList({"fetchDeposits": True})

    report = run(url, exchange, monkeypatch, capsys, "bitso", "--symbols", "BTC/MXN", "--json")

    assert [stream["stream"] for stream in report["streams"]] == ["trades BTC/MXN", "deposits"]
    assert report["unavailable"] == [
        {
            "stream": "withdrawals",
            "reason": "'bitso' has fetchDeposits but not fetchWithdrawals in ccxt: its withdrawals are not synced "
            "(record them with record-transfer)",
        }
    ]


def test_a_sync_with_every_transfer_stream_it_needs_reports_none_unavailable(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = NoTransferList({"fetchLedger": True})
    exchange.fetch_ledger = lambda code, since, limit: []  # type: ignore[attr-defined]  # noqa: ARG005

    report = run(url, exchange, monkeypatch, capsys, "bitbank", "--symbols", "BTC/JPY", "--json")

    assert [stream["stream"] for stream in report["streams"]] == ["trades BTC/JPY", "ledger"]
    assert report["unavailable"] == []


class NoFundingList(NoTransferList):
    """An exchange listing trades, deposits and withdrawals but not its funding payments (ccxt's `has` without
    fetchFundingHistory), with a contract's market."""

    id = "deribit"

    def load_markets(self) -> dict[str, Any]:
        return {"BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "contractSize": "1", "linear": True, "contract": True}}

    def fetch_withdrawals(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return []


def test_a_sync_of_a_contract_on_an_exchange_that_cannot_list_funding_says_its_funding_is_not_synced(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not ccxt.deribit().has.get("fetchFundingHistory")  # ccxt 4.5.90: swaps, and 24 exchanges more alike
    exchange = NoFundingList({"fetchDeposits": True, "fetchWithdrawals": True})

    report = run(url, exchange, monkeypatch, capsys, "deribit", "--symbols", "BTC/USDT:USDT,ETH/USDT", "--json")

    assert [stream["stream"] for stream in report["streams"]] == ["trades BTC/USDT:USDT", "trades ETH/USDT",
                                                                  "deposits", "withdrawals"]  # fmt: skip
    assert report["unavailable"] == [
        {
            "stream": "funding",
            "reason": "'deribit' has no fetchFundingHistory in ccxt: the funding of BTC/USDT:USDT is not "
            "synced (record it with record-funding, or ingest ccxt --kind funding)",
        },
        {  # ccxt 4.5.90's deribit asks its latest 10 of a currency (transfers.latest_page_only)
            "stream": "deposits",
            "reason": "'deribit' answers ccxt 4.5.90's fetch_deposits its latest page only (10 of a currency), "
            "whatever the cursor: those before it are not synced (record them with record-transfer)",
        },
        {
            "stream": "withdrawals",
            "reason": "'deribit' answers ccxt 4.5.90's fetch_withdrawals its latest page only (10 of a currency), "
            "whatever the cursor: those before it are not synced (record them with record-transfer)",
        },
    ]


def test_a_gemini_withdrawal_pending_at_one_sync_is_booked_by_the_sync_after_it_completes(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # ccxt 4.5.90's gemini maps "Advanced" and "Complete" to ok and passes any other word on as gemini writes it.
    pending = [TRANSFERS[0], {**TRANSFERS[1], "status": "Pending"}, TRANSFERS[2]]
    first = run(url, Gemini(pending), monkeypatch, capsys, "gemini", "--symbols", "BTC/USD", "--json")
    assert (first["appended"], first["skipped"]) == (2, 1)
    assert usd(url) == Decimal("41.00")
    again = Gemini(TRANSFERS)

    report = run(url, again, monkeypatch, capsys, "gemini", "--symbols", "BTC/USD", "--json")

    assert [payload.get("timestamp") for payload in again.transfer_requests()] == [
        DEPOSITED + 60_000,  # held at the pending withdrawal
        DEPOSITED + 3_660_000,  # then on from the newest entry of that answer
    ]
    assert (report["appended"], report["duplicates"]) == (1, 2)
    assert usd(url) == Decimal("30.75")
