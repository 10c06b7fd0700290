"""deribit through ccxt 4.5.90's real parser, offline (tests/fixtures/ccxt-recorded/deribit.raw.json: deribit's JSON-RPC
answers in the layout of the records in ccxt's `deribit.parse_trade` and `deribit.parse_transaction` comments).

What deribit writes: a linear USDC contract's `amount` in BTC (ccxt's cost amount x price, its market's contract size
0.001 not applied), a maker's rebate as a negative `fee`, a withdrawal's `state` unconfirmed, confirmed, cancelled,
completed, interrupted or rejected and a deposit's pending, completed, rejected or replaced (deribit API v2,
private/get_withdrawals and private/get_deposits); ccxt maps completed to ok and unconfirmed to pending and passes the
others on as written. A deposit has no id of its own (ccxt: id null, txid the chain's transaction).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_more_exchanges import RECORDED
from tradeledger.domain.events import Transfer
from tradeledger.domain.fills import Fill
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

RAW: dict[str, Any] = json.loads((RECORDED / "deribit.raw.json").read_text(encoding="utf-8"))


def parsed(method: str, *arguments: object) -> list[dict[str, Any]]:
    """ccxt 4.5.90's deribit parse of the recorded answer to `method`, numbers as exact strings."""
    exchange = offline_exchange("deribit", [RAW[method]])
    call = {"fetchMyTrades": exchange.fetch_my_trades, "fetchWithdrawals": exchange.fetch_withdrawals,
            "fetchDeposits": exchange.fetch_deposits}[method]  # fmt: skip
    answer: list[dict[str, Any]] = call(*arguments)
    return answer


def test_deribit_usdc_perpetual_trades_are_in_btc_and_a_makers_rebate_is_a_negative_fee() -> None:
    trades = parsed("fetchMyTrades", "BTC/USDC:USDC", 1699999999000)

    mapped = map_entries(
        trades, exchange="deribit", kind=Kind.TRADES, contract_sizes={"BTC/USDC:USDC": Decimal("0.001")}
    )

    fills = [event for _, event in mapped.events if isinstance(event, Fill)]
    assert [(f.fill_id, f.side.value, f.quantity, f.price, f.order_id) for f in fills] == [
        ("BTC/USDC:USDC:USDC-4107", "buy", Decimal("0.01"), Decimal(37000), "USDC-90012"),
        ("BTC/USDC:USDC:USDC-4108", "sell", Decimal("0.01"), Decimal(37100), "USDC-90013"),
    ]
    assert [[(fee.amount, fee.currency) for fee in f.fees] for f in fills] == [
        [(Decimal("-0.0037"), "USDC")],  # the maker's rebate, received
        [(Decimal("0.1855"), "USDC")],
    ]
    assert [(f.metadata or {}).get("takerOrMaker") for f in fills] == ["maker", "taker"]


def test_a_deribit_withdrawal_confirmed_or_interrupted_may_still_move_money_and_is_held() -> None:
    withdrawals = parsed("fetchWithdrawals", "BTC")
    assert [w["status"] for w in withdrawals] == ["interrupted", "confirmed"]  # in time order, as deribit wrote them

    mapped = map_entries(withdrawals, exchange="deribit", kind=Kind.WITHDRAWALS)

    assert mapped.events == ()
    assert mapped.skipped == (
        (0, "a interrupted withdrawal (no money moved)"),
        (1, "a confirmed withdrawal (no money moved)"),
    )
    assert mapped.still_open == (0, 1)


def test_a_deribit_deposit_replaced_on_chain_moved_no_money_and_its_replacement_is_booked() -> None:
    deposits = parsed("fetchDeposits", "BTC")

    mapped = map_entries(deposits, exchange="deribit", kind=Kind.DEPOSITS)

    assert mapped.skipped == ((0, "a replaced deposit (no money moved)"),)
    assert mapped.still_open == ()
    ((_, booked),) = mapped.events
    assert isinstance(booked, Transfer)
    assert (booked.event_id, booked.amount, booked.currency) == (
        "deposit@1699900200000:7b1e0c5d8f2a4e6b9c3d1f0a2e4c6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a7c9e",
        Decimal(5),
        "BTC",
    )


@pytest.mark.parametrize(("status", "kind"), [("confirmed", Kind.DEPOSITS), ("replaced", Kind.WITHDRAWALS)])
def test_a_deribit_word_of_the_other_list_or_of_another_exchange_is_still_refused(status: str, kind: Kind) -> None:
    (_, withdrawal) = parsed("fetchWithdrawals", "BTC")
    entry = {**withdrawal, "status": status, "type": None}

    with pytest.raises(InvalidFill, match=rf"status: is not a transfer status the ledger knows \(got '{status}'\)"):
        map_entries([entry], exchange="deribit", kind=kind)
    with pytest.raises(InvalidFill, match=rf"status: is not a transfer status the ledger knows \(got '{status}'\)"):
        map_entries([{**withdrawal, "status": status}], exchange="okx", kind=Kind.WITHDRAWALS)
