"""Recorded answers of mexc, phemex, htx, bitget and binance's contract markets (helper-53), through
`tradeledger ingest ccxt` as a user runs it on a file of ccxt 4.5.90 output (tests/fixtures/ccxt-recorded, each
file's raw source named in its README).

Expected values are worked out by hand from the entries and written out.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.exchanges.test_ccxt_more_exchanges import RECORDED, balances, tradeledger
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt.mapping import map_entries


def history_ids(db: Path) -> list[str]:
    code, shown = tradeledger(db, "history", "--json")
    assert code == 0, shown
    return [event.get("fill_id") or event.get("funding_id") or event.get("transfer_id") for event in shown]


def test_mexc_deposits_without_an_id_of_their_own_are_two_deposits_named_by_their_transaction(tmp_path: Path) -> None:
    # mexc's deposit history gives no id; ccxt's txid is the chain's transaction hash: 10 + 25 = 35 USDC.
    db, file = tmp_path / "ledger.db", str(RECORDED / "mexc-deposits.json")

    first = tradeledger(db, "ingest", "ccxt", file, "--exchange", "mexc", "--json")
    again = tradeledger(db, "ingest", "ccxt", file, "--exchange", "mexc", "--json")

    assert first == (0, {"appended": 2, "duplicates": 0, "skipped": 0, "seq": 2, "covered": 0})
    assert again == (0, {"appended": 0, "duplicates": 2, "skipped": 0, "seq": 2, "covered": 0})
    assert balances(db) == {"USDC": Decimal(35)}
    assert history_ids(db) == [
        "deposit@1664805021000:51a8f49e6f03f2c056e71fe3291aa65e1032880be855b65cecd0595a1b8af95b",
        "deposit@1664891421000:7c0e3b5f2d9a4e1b8c6f0a3d5e7b9c1f2a4d6e8b0c2f4a6d8e0b2c4f6a8d0e2b",
    ]


def test_a_deposit_without_an_id_or_a_txid_is_refused_naming_both() -> None:
    (deposit, _) = json.loads((RECORDED / "mexc-deposits.json").read_text())

    with pytest.raises(InvalidFill, match=r"^entry 0: id: is required, as text, or the transaction's txid \(got None"):
        map_entries([{**deposit, "txid": None}], exchange="mexc")


def test_mexc_funding_without_a_currency_is_paid_in_the_contracts_settle_currency(tmp_path: Path) -> None:
    # ccxt 4.5.90 writes code null on every mexc funding payment; BTC/USDT:USDT settles in USDT:
    # 0.00076180624 + 0.0014748588 = 0.00223666504 USDT received.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(db, "ingest", "ccxt", str(RECORDED / "mexc-funding.json"), "--exchange", "mexc", "--json")

    assert (code, shown) == (0, {"appended": 2, "duplicates": 0, "skipped": 0, "seq": 2, "covered": 0})
    assert balances(db) == {"USDT": Decimal("0.00223666504")}
    assert history_ids(db) == ["BTC/USDT:USDT:7416473", "BTC/USDT:USDT:7423910"]


def test_a_funding_payment_a_ledger_types_fee_is_skipped_saying_where_funding_comes_from(tmp_path: Path) -> None:
    # bitget's funding settlement (contract_settle_fee, -0.004992 USDT) is typed fee by ccxt: no trade carries it.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(db, "ingest", "ccxt", str(RECORDED / "bitget-ledger.json"), "--exchange", "bitget")

    assert code == 0
    assert " ".join(shown.split()).endswith(
        "0 appended, 0 duplicates, 1 skipped; head seq 0 skipped 1: a ledger fee entry (a trade's fee is in its "
        "trade; funding typed fee here is not booked: ingest fetch_funding_history)"
    )
    assert balances(db) == {}
