"""`tradeledger reconcile`: the ledger against the exchange's balances and trade list, each difference
with its likely cause, exit 1 on any (spec section 10). Driven through the command line, as a user does."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.exchanges.test_ccxt_ingest import RECORDED
from tradeledger import open_ledger
from tradeledger.cli import main
from tradeledger.exchanges.ccxt.ingesting import ingest

TRADE = {
    "id": "1",
    "timestamp": 1700000000000,
    "symbol": "LTC/USDT",
    "side": "buy",
    "price": "70",
    "amount": "2",
    "fee": {"cost": "0.14", "currency": "USDT"},
}
MISSED = {**TRADE, "id": "2", "timestamp": 1700000060000, "side": "sell", "price": "71", "amount": "0.5"}
BNB_FEE = {**TRADE, "id": "3", "timestamp": 1700000030000, "fee": {"cost": "0.0002", "currency": "BNB"}}
DEPOSITS = [
    {"id": "d1", "type": "deposit", "currency": "USDT", "amount": "1000", "timestamp": 1690000000000, "status": "ok"},
    {"id": "d2", "type": "deposit", "currency": "BNB", "amount": "1", "timestamp": 1690000000000, "status": "ok"},
]


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ingest(ledger, DEPOSITS, exchange="binance")
        ingest(ledger, [TRADE, BNB_FEE], exchange="binance")
    # USDT: 1000 - 140 - 0.14 (id 1) - 140 (id 3) = 719.86; LTC 4; BNB 1 - 0.0002 (an unvalued fee)
    return url


def run(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], total: dict[str, str], *extra: str
) -> tuple[int, dict[str, Any]]:
    balance = tmp_path / "balance.json"
    balance.write_text(json.dumps({"info": {}, "total": total, "free": total, "used": {}}))
    status = main(["--db", url, "reconcile", "--balances", str(balance), "--exchange", "binance", *extra, "--json"])
    return status, json.loads(capsys.readouterr().out)


def test_a_matching_balance_reconciles_with_exit_0(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run(url, tmp_path, capsys, {"USDT": "719.86", "LTC": "4", "BNB": "0.9998"})

    assert status == 0
    assert report["trades"] == {"missing": [], "unknown": [], "conflicting": []}
    assert [
        (r["currency"], r["ledger"], r["exchange_total"], r["difference"], r["cause"]) for r in report["balances"]
    ] == [
        ("BNB", "0.9998", "0.9998", "0", None),
        ("LTC", "4", "4", "0", None),
        ("USDT", "719.86", "719.86", "0", None),
    ]
    assert set(report) == {"seq", "balances", "trades"}
    assert set(report["balances"][0]) == {
        "account",
        "exchange",
        "currency",
        "ledger",
        "exchange_total",
        "difference",
        "cause",
    }


def test_a_missed_fill_is_named_as_missing_and_as_the_cause_of_both_balances(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades = tmp_path / "trades.json"
    trades.write_text(json.dumps([TRADE, BNB_FEE, MISSED]))
    # the exchange also sold 0.5 LTC @ 71: + 35.5 - 0.14 USDT
    total = {"USDT": "755.22", "LTC": "3.5", "BNB": "0.9998"}

    status, report = run(url, tmp_path, capsys, total, "--trades", str(trades))

    assert status == 1
    assert report["trades"]["missing"] == [
        {"fill_id": "LTC/USDT:2", "symbol": "LTC/USDT", "entry": 2, "seq": None, "fields": []}
    ]
    causes = {r["currency"]: (r["difference"], r["cause"]) for r in report["balances"]}
    assert causes == {
        "BNB": ("0", None),
        "LTC": ("-0.5", "missing fills: LTC/USDT:2"),
        "USDT": ("35.36", "missing fills: LTC/USDT:2"),
    }


def test_an_unvalued_fee_paid_from_elsewhere_is_named(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run(url, tmp_path, capsys, {"USDT": "719.86", "LTC": "4", "BNB": "1"})

    assert status == 1
    (bnb,) = [r for r in report["balances"] if r["difference"] != "0"]
    assert (bnb["currency"], bnb["difference"]) == ("BNB", "0.0002")
    assert bnb["cause"].startswith("the unvalued fees in BNB (0.0002)")


def with_a_bybit_fee_in_bnb(url: str) -> str:
    """The same account also trades on bybit, paying 0.0005 BNB there (unvalued: no quote_value)."""
    bybit = {**BNB_FEE, "id": "b1", "fee": {"cost": "0.0005", "currency": "BNB"}}
    with open_ledger(url) as ledger:
        ingest(ledger, [bybit], exchange="bybit")
    return url


def test_an_unvalued_fee_is_named_by_the_fees_on_that_exchange_only(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run(with_a_bybit_fee_in_bnb(url), tmp_path, capsys, {"USDT": "719.86", "LTC": "4", "BNB": "1"})

    assert status == 1
    (bnb,) = [r for r in report["balances"] if r["difference"] != "0"]
    assert (bnb["exchange"], bnb["currency"], bnb["difference"], bnb["cause"]) == (
        "binance",
        "BNB",
        "0.0002",
        "the unvalued fees in BNB (0.0002): paid from another wallet, or not recorded",
    )


def test_a_difference_equal_to_the_unvalued_fees_of_every_exchange_is_not_named_by_them(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = {"USDT": "719.86", "LTC": "4", "BNB": "1.0005"}  # 0.9998 held + 0.0007, binance's and bybit's fees

    status, report = run(with_a_bybit_fee_in_bnb(url), tmp_path, capsys, total)

    assert status == 1
    (bnb,) = [r for r in report["balances"] if r["difference"] != "0"]
    assert (bnb["currency"], bnb["difference"], bnb["cause"]) == (
        "BNB",
        "0.0007",
        "more BNB on the exchange: a deposit or transfer in not ingested, or a missed buy",
    )


def test_a_deposit_not_ingested_is_named_by_its_direction_and_dust_passes_within_the_tolerance(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = {"USDT": "819.86", "LTC": "4.00000001", "BNB": "0.9998"}

    status, report = run(url, tmp_path, capsys, total, "--tolerance", "LTC=0.0000001")

    assert status == 1
    causes = {r["currency"]: (r["difference"], r["cause"]) for r in report["balances"]}
    assert causes["USDT"] == (
        "100",
        "more USDT on the exchange: a deposit or transfer in not ingested, or a missed buy",
    )
    assert causes["LTC"] == ("0.00000001", "dust within the tolerance 0.0000001 LTC")

    status, _ = run(url, tmp_path, capsys, {**total, "USDT": "719.86"}, "--tolerance", "LTC=0.0000001")
    assert status == 0


def test_a_fill_unknown_to_the_exchange_and_one_with_other_content_are_listed(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades = tmp_path / "trades.json"
    trades.write_text(json.dumps([{**TRADE, "price": "70.5"}, {**MISSED, "timestamp": 1700000030000 + 1}]))

    status = main(["--db", url, "reconcile", "--trades", str(trades), "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 1
    assert report["balances"] == []
    assert report["trades"]["conflicting"] == [
        {"fill_id": "LTC/USDT:1", "symbol": "LTC/USDT", "entry": 0, "seq": 3, "fields": ["price"]}
    ]
    assert [d["fill_id"] for d in report["trades"]["unknown"]] == ["LTC/USDT:3"]  # inside the list's time span
    assert [d["fill_id"] for d in report["trades"]["missing"]] == ["LTC/USDT:2"]


def test_a_recorded_binance_balance_answer_is_read_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = json.loads((RECORDED / "binance.json").read_text(), parse_float=Decimal)
    answer = recorded["methods"]["fetchBalance"][0]["parsedResponse"]
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ingest(ledger, [{**TRADE, "fee": None}], exchange="binance")
    path = tmp_path / "balance.json"
    path.write_text(json.dumps(answer, default=str))

    status = main(["--db", url, "reconcile", "--balances", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 1
    expected = {code: str(Decimal(str(value))) for code, value in answer["total"].items() if value is not None}
    rows = {r["currency"]: r for r in report["balances"]}
    for code, total in expected.items():
        assert Decimal(rows[code]["exchange_total"]) == Decimal(total)
    assert rows["LTC"]["ledger"] == "2"


def test_a_listed_trade_the_log_holds_at_a_time_outside_the_lists_span_is_conflicting_not_missing(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The log holds id 1 at 1700000000000; the exchange lists it a day later, with MISSED after it.
    trades = tmp_path / "trades.json"
    later = TRADE["timestamp"] + 86_400_000  # type: ignore[operator]
    trades.write_text(json.dumps([{**TRADE, "timestamp": later}, {**MISSED, "timestamp": later + 1}]))

    status = main(["--db", url, "reconcile", "--trades", str(trades), "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 1
    assert report["trades"]["conflicting"] == [
        {"fill_id": "LTC/USDT:1", "symbol": "LTC/USDT", "entry": 0, "seq": 3, "fields": ["occurred_at"]}
    ]
    assert [d["fill_id"] for d in report["trades"]["missing"]] == ["LTC/USDT:2"]
    assert report["trades"]["unknown"] == []  # id 3 lies before the list's span


def test_the_same_trade_id_on_another_exchange_is_neither_found_nor_unknown(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_ledger(url) as ledger:
        ingest(ledger, [MISSED], exchange="kraken")
    trades = tmp_path / "trades.json"
    trades.write_text(json.dumps([TRADE, MISSED]))

    status = main(["--db", url, "reconcile", "--trades", str(trades), "--exchange", "binance", "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 1
    assert [d["fill_id"] for d in report["trades"]["missing"]] == ["LTC/USDT:2"]  # kraken's is not binance's
    assert [d["fill_id"] for d in report["trades"]["unknown"]] == ["LTC/USDT:3"]
    assert report["trades"]["conflicting"] == []
