"""`sync` of htx's deposits through ccxt 4.5.90's real htx class, offline (`/v1/query/deposit-withdraw`, the layout of
the record in the comment of ccxt's `htx.fetch_deposits`).

htx's deposit states (htx API documentation, "List of possible deposit state"): `unknown` "on-chain transfer has not
been received", `confirming` "waits for first confirmation", `confirmed`, `safe`, and `orphan` "confirmed but
currently in an orphan branch". ccxt's `htx.parse_transaction_status` maps `unknown` and `orphan` to `failed`, yet
neither is final: the chain transfer may still arrive, or its block return to the main chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_sync_currencies import Router
from tradeledger import open_ledger
from tradeledger.domain.events import Transfer
from tradeledger.exchanges.ccxt import syncing


def deposit(ident: str, state: str, created: int, amount: str) -> dict[str, str]:
    return {
        "id": ident, "type": "deposit", "sub-type": "NORMAL", "currency": "usdt", "chain": "trc20usdt",
        "tx-hash": f"a2e229a4{ident}", "amount": amount, "from-addr-tag": "", "address-id": "0",
        "address": "TRFTd1FxepQE6CnpwzUEMEbFaLm5bJK67s", "address-tag": "", "fee": "0", "state": state,
        "wallet-confirm": "2", "created-at": str(created), "updated-at": str(created + 50_000),
    }  # fmt: skip


def htx(deposits: list[dict[str, str]]) -> Any:
    """Answers to an htx sync of BTC/USDT: no trades, `deposits`, no withdrawals."""

    def answer(path: str, query: Mapping[str, str]) -> Any:
        if path == "/v1/query/deposit-withdraw":
            return {"status": "ok", "data": deposits if query["type"] == "deposit" else []}
        return {"status": "ok", "data": []}

    return answer


def htx_exchange(deposits: list[dict[str, str]]) -> Any:
    exchange = offline_exchange("htx")
    # what ccxt's htx loads with its currencies, to name a deposit's network
    exchange.options["networkNamesByChainIds"] = {"trc20usdt": "TRC20"}
    exchange.options["networkChainIdsByNames"] = {"USDT": {"TRC20": "trc20usdt"}}
    exchange.fetch = Router(htx(deposits)).fetch
    return exchange


@pytest.mark.parametrize("state", ["unknown", "orphan"])
def test_an_htx_deposit_not_yet_received_holds_the_cursor_and_is_booked_once_safe(tmp_path: Path, state: str) -> None:
    first = htx_exchange(
        [deposit("75115912", state, 1621843808662, "12"), deposit("75115913", "safe", 1621850000000, "3")]
    )
    later = htx_exchange(
        [deposit("75115912", "safe", 1621843808662, "12"), deposit("75115913", "safe", 1621850000000, "3")]
    )

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2021-05-25"):
        held = syncing.sync(
            ledger, first, exchange="htx", symbols=["BTC/USDT"], since=datetime(2021, 5, 24, tzinfo=UTC)
        )
        syncing.sync(ledger, later, exchange="htx", symbols=["BTC/USDT"])
        transfers = [r.event for r in ledger.history() if isinstance(r.event, Transfer)]

    (deposits,) = [stream for stream in held.streams if stream.label == "deposits"]
    assert deposits.cursor == 1621843808662  # held at the deposit not yet received
    assert deposits.skipped == 1
    assert [(t.transfer_id, t.amount, t.currency) for t in transfers] == [
        ("deposit:75115913", Decimal(3), "USDT"),
        ("deposit:75115912", Decimal(12), "USDT"),
    ]


class Paged:
    """htx's `/v1/query/deposit-withdraw` as its documentation says: `direct=next` lists from the record `from` (0:
    the latest) down, newest first, `size` records (100 unless told); no withdrawals."""

    def __init__(self, deposits: list[dict[str, str]]) -> None:
        self.deposits = deposits

    def __call__(self, path: str, query: Mapping[str, str]) -> Any:
        if path != "/v1/query/deposit-withdraw" or query["type"] != "deposit":
            return {"status": "ok", "data": []}
        assert query["direct"] == "next", query
        start, size = int(query["from"]), int(query["size"])
        rows = sorted(self.deposits, key=lambda row: -int(row["id"]))
        return {"status": "ok", "data": [row for row in rows if not start or int(row["id"]) <= start][:size]}


def test_more_than_100_htx_deposits_since_the_cursor_are_all_synced(tmp_path: Path) -> None:
    deposits = [deposit(str(75115000 + n), "safe", 1621843800000 + n * 60_000, "1") for n in range(250)]
    exchange = htx_exchange([])
    router = Router(Paged(deposits))
    exchange.fetch = router.fetch

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2021-05-26"):
        syncing.sync(ledger, exchange, exchange="htx", symbols=["BTC/USDT"], since=datetime(2021, 5, 24, tzinfo=UTC))
        transfers = [r.event for r in ledger.history() if isinstance(r.event, Transfer)]

    assert [t.transfer_id for t in transfers] == [f"deposit:{75115000 + n}" for n in range(250)]
    assert sum(t.amount for t in transfers) == Decimal(250)
    # the latest 100, then from the earliest held down, until a record before the cursor or fewer than 100
    froms = [query["from"] for path, query in router.asked if path.endswith("deposit-withdraw")]
    assert froms[:3] == ["0", "75115150", "75115051"]
