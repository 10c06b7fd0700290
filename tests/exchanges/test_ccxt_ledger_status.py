"""A ledger's deposit, withdrawal and transfer entries read their `status` as the deposit and withdrawal lists do.

ccxt 4.5.90 gives a ledger entry's status as ok, pending, canceled or an exchange's own word: kucoin's contract
ledger `Completed` (ok), `Pending` (pending) and any other word as written (`Failed`); luno's ok, pending (funds
reserved) and canceled (released); coinbase's `completed` (ok) and its other words as written. Most exchanges'
ledgers list only settled movements and ccxt writes their status null (kucoin's spot ledger, binance, bitfinex,
gate, ...): null is money that moved, as on a deposit or withdrawal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from freezegun import freeze_time

from tests.exchanges.test_ccxt_ingest import parsed
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tradeledger import open_ledger
from tradeledger.domain.events import Transfer
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries


def kucoin_transfer(status: object) -> dict[str, Any]:
    """kucoin's recorded ledger entry (shared fixtures: an internal transfer of 5 USDT out, status null) with
    `status`."""
    (entry,) = parsed("kucoin", "fetchLedger")
    return {**entry, "status": status}


@pytest.mark.parametrize("status", ["pending", "Pending", "processing", "canceled", "failed", "Failed", "rejected"])
def test_a_ledger_transfer_whose_status_says_no_money_moved_is_skipped_naming_it(status: str) -> None:
    mapped = map_entries([kucoin_transfer(status)], exchange="kucoin", kind=Kind.LEDGER)

    assert mapped.events == ()
    assert mapped.skipped == ((0, f"a {status} ledger transfer (no money moved)"),)


@pytest.mark.parametrize("status", [None, "ok", "OK"])
def test_a_ledger_transfer_whose_status_is_ok_or_null_moved_money(status: object) -> None:
    mapped = map_entries([kucoin_transfer(status)], exchange="kucoin", kind=Kind.LEDGER)

    ((_, event),) = mapped.events
    assert isinstance(event, Transfer)
    assert (event.transfer_id, event.kind, event.amount, event.currency) == (
        "ledger:65ca404f77c7250007b8ddd7",
        "internal",
        Decimal(-5),
        "USDT",
    )
    assert mapped.skipped == ()


@pytest.mark.parametrize("status", ["Settling", "", 3])
def test_a_ledger_transfer_status_the_ledger_does_not_know_is_refused_naming_it(status: object) -> None:
    with pytest.raises(InvalidFill) as refused:
        map_entries([kucoin_transfer(status)], exchange="kucoin", kind=Kind.LEDGER)

    assert str(refused.value).startswith(
        f"entry 0: status: is not a transfer status the ledger knows (got {status!r}); "
    )


def test_a_ledger_withdrawal_typed_transaction_is_skipped_while_pending() -> None:
    # kraken's recorded ledger (ccxt types its deposits and withdrawals `transaction`): the withdrawal of 100 USDT.
    (deposit, trade, withdrawal) = json.loads((RECORDED / "kraken-ledger.json").read_text())

    mapped = map_entries([deposit, trade, {**withdrawal, "status": "pending"}], exchange="kraken", kind=Kind.LEDGER)

    assert [event.event_id for _, event in mapped.events] == ["ledger:LQ3OAD-P4JBT-5V2G5Q"]
    assert mapped.skipped == (
        (1, "a ledger trade entry (its trade carries it: ingest the trade list)"),
        (2, "a pending ledger withdrawal (no money moved)"),
    )


class LedgerOnly:
    """An exchange whose transfers `sync` reads from its ledger (no deposit or withdrawal list, as bitfinex, cex,
    kraken futures): kraken's recorded ledger, answered from `since` inclusive as ccxt pages."""

    id = "kraken"
    has: Mapping[str, Any] = MappingProxyType({"fetchLedger": True})

    def __init__(self, ledger: list[dict[str, Any]]) -> None:
        self.ledger = ledger
        self.asked: list[int | None] = []

    def load_markets(self) -> dict[str, Any]:
        return {}

    def fetch_my_trades(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return []

    def fetch_funding_history(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchFundingHistory here")

    def fetch_deposits(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchDeposits here")

    def fetch_withdrawals(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchWithdrawals here")

    def fetch_ledger(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        self.asked.append(since)
        return [dict(entry) for entry in self.ledger if since is None or entry["timestamp"] >= since]


def test_a_ledger_withdrawal_pending_at_one_sync_is_booked_by_the_sync_after_it_is_done(tmp_path: Path) -> None:
    # kraken's recorded ledger: a deposit of 500 USDT, a trade's 50 (skipped), the withdrawal of 100 + fee 2.5,
    # pending at the first sync, and a deposit of 20 a day after it.
    (deposit, trade, withdrawal) = json.loads((RECORDED / "kraken-ledger.json").read_text())
    later = {**deposit, "id": "LQ3OAD-P4JBT-5V2G6R", "timestamp": withdrawal["timestamp"] + 86_400_000, "amount": "20"}
    exchange = LedgerOnly([deposit, trade, {**withdrawal, "status": "pending"}, later])

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-07-06"):
        first = syncing.sync(ledger, exchange, exchange="kraken", symbols=["BTC/USDT"])
        after_first = [(b.currency, b.amount) for b in ledger.balances().balances]
        exchange.ledger[2] = withdrawal  # kraken sent it meanwhile: ok
        exchange.asked.clear()
        second = syncing.sync(ledger, exchange, exchange="kraken", symbols=["BTC/USDT"])
        after_second = [(b.currency, b.amount) for b in ledger.balances().balances]

    assert after_first == [("USDT", Decimal(520))]
    (_, stream) = first.streams
    assert (stream.label, stream.appended, stream.skipped, stream.cursor) == ("ledger", 2, 2, withdrawal["timestamp"])
    assert exchange.asked[0] == withdrawal["timestamp"]  # the second sync asks again from the pending withdrawal
    assert (second.appended, after_second) == (1, [("USDT", Decimal("417.5"))])
