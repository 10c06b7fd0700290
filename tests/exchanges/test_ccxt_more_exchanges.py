"""Exchanges beyond the six recorded ones, through `tradeledger ingest ccxt` as a user runs it on a file of
ccxt 4.5.90 output (tests/fixtures/ccxt-recorded, each file's raw source named in its README).

Expected values are worked out by hand from the entries and written out.
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
from typer.testing import CliRunner

from tradeledger import open_ledger
from tradeledger.cli import app
from tradeledger.domain.fills import Fill
from tradeledger.errors import InvalidArgument, InvalidFill
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-recorded"


def tradeledger(db: Path, *args: str) -> tuple[int, Any]:
    """Run the CLI on the ledger file `db`; (exit code, its JSON output or its text)."""
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


def balances(db: Path) -> dict[str, Decimal]:
    code, shown = tradeledger(db, "balances", "--json")
    assert code == 0, shown
    return {row["currency"]: Decimal(row["amount"]) for row in shown["balances"]}


def test_hyperliquid_funding_records_sharing_the_zero_hash_are_three_payments(tmp_path: Path) -> None:
    # hyperliquid writes the hash 0x000…0 on every funding record (ccxt makes it the id): the payment is
    # told apart by its symbol and time. 75.635093 + 75.635093 + 80.12 = 231.390186 USDC received.
    db, file = tmp_path / "ledger.db", str(RECORDED / "hyperliquid-funding.json")

    assert tradeledger(db, "ingest", "ccxt", file, "--exchange", "hyperliquid", "--json") == (
        0,
        {"appended": 3, "duplicates": 0, "skipped": 0, "seq": 3, "covered": 0},
    )
    assert balances(db) == {"USDC": Decimal("231.390186")}
    assert tradeledger(db, "ingest", "ccxt", file, "--exchange", "hyperliquid", "--json") == (
        0,
        {"appended": 0, "duplicates": 3, "skipped": 0, "seq": 3, "covered": 0},
    )


def test_a_funding_entry_without_an_id_of_its_own_is_named_by_its_symbol_and_time() -> None:
    entries = json.loads((RECORDED / "hyperliquid-funding.json").read_text(), parse_float=Decimal)
    no_id = {**entries[0], "id": None}
    real = {**entries[0], "id": "8812"}

    mapped = map_entries([entries[0], no_id, real], exchange="hyperliquid", kind=Kind.FUNDING)

    assert [event.event_id for _, event in mapped.events] == [
        "SOL/USDC:USDC@1734026400057",
        "SOL/USDC:USDC@1734026400057",
        "SOL/USDC:USDC:8812",
    ]


def open_positions(db: Path) -> list[dict[str, Any]]:
    code, shown = tradeledger(db, "positions", "--json")
    assert code == 0, shown
    fields = ("symbol", "side", "quantity", "avg_price", "realized_pnl", "fees")
    return [{field: position[field] for field in fields} for position in shown["open"]]


def test_hyperliquid_trades_book_the_builders_fee_and_a_reduction_of_a_short(tmp_path: Path) -> None:
    # Sell 5.2 @ 21.147 (fee 0.047504) opens a short; buy 0.73 @ 33.209 (fee 0.012896 + builder 0.002424 =
    # 0.01532) reduces it: realized (21.147 - 33.209) * 0.73 = -8.80526, fees 0.062824, short 4.47 left.
    # USDC: -8.80526 - 0.062824 = -8.868084 (a contract moves no HYPE).
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(
        db, "ingest", "ccxt", str(RECORDED / "hyperliquid-trades.json"), "--exchange", "hyperliquid", "--json"
    )

    assert (code, shown) == (0, {"appended": 2, "duplicates": 0, "skipped": 0, "seq": 2, "covered": 0})
    assert open_positions(db) == [
        {
            "symbol": "HYPE/USDC:USDC",
            "side": "short",
            "quantity": "4.47",
            "avg_price": "21.147",
            "realized_pnl": "-8.80526",
            "fees": "0.062824",
        }
    ]
    assert balances(db) == {"USDC": Decimal("-8.868084")}


KUCOIN_LTC = str(RECORDED / "kucoinfutures-trades.json")


def test_a_kucoin_futures_trade_of_one_contract_of_a_tenth_of_ltc_is_refused_without_its_size(tmp_path: Path) -> None:
    # 1 contract at 72.5 cost 7.25 USDT: the contract is 0.1 LTC, which the trade alone does not say.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(db, "ingest", "ccxt", KUCOIN_LTC, "--exchange", "kucoinfutures", "--json")

    assert code == 2
    assert "entry 0: cost:" in shown
    assert "1 contracts of LTC/USDT:USDT at 72.5 cost 7.25, not amount x price = 72.5" in shown
    assert "--contract-size LTC/USDT:USDT=SIZE" in shown
    assert open_positions(db) == []


def test_a_kucoin_futures_trade_of_one_contract_of_a_tenth_of_ltc_books_a_tenth(tmp_path: Path) -> None:
    # 1 contract x 0.1 LTC = 0.1 LTC long at 72.5 (7.25 USDT, the exchange's value), fee 0.00435 USDT.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(
        db,
        "ingest",
        "ccxt",
        KUCOIN_LTC,
        "--exchange",
        "kucoinfutures",
        "--contract-size",
        "LTC/USDT:USDT=0.1",
        "--json",
    )

    assert (code, shown) == (0, {"appended": 1, "duplicates": 0, "skipped": 0, "seq": 1, "covered": 0})
    assert open_positions(db) == [
        {
            "symbol": "LTC/USDT:USDT",
            "side": "long",
            "quantity": "0.1",
            "avg_price": "72.5",
            "realized_pnl": "0",
            "fees": "0.00435",
        }
    ]
    assert balances(db) == {"USDT": Decimal("-0.00435")}


class KucoinFutures:
    """What `sync` uses of ccxt's kucoinfutures: its markets (LTC/USDT:USDT of 0.1 LTC) and the recorded trade."""

    id = "kucoinfutures"
    has: Mapping[str, Any] = MappingProxyType({})

    def load_markets(self) -> dict[str, Any]:
        return {"LTC/USDT:USDT": {"symbol": "LTC/USDT:USDT", "contract": True, "contractSize": "0.1"}}

    def fetch_my_trades(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        assert symbol == "LTC/USDT:USDT"
        return json.loads(Path(KUCOIN_LTC).read_text())  # numbers as ccxt's string mode gives them

    def fetch_funding_history(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchFundingHistory here")

    def fetch_deposits(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchDeposits here")

    def fetch_withdrawals(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchWithdrawals here")

    def fetch_ledger(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchLedger here")


def test_sync_books_a_contract_trade_in_base_units_by_the_markets_contract_size(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2023-11-17"):  # a day after it
        report = syncing.sync(ledger, KucoinFutures(), exchange="kucoinfutures", symbols=["LTC/USDT:USDT"])
        (fill,) = [recorded.event for recorded in ledger.history()]

    assert (report.appended, report.duplicates) == (1, 1)  # the second page repeats the trade at the cursor
    assert isinstance(fill, Fill)
    assert (fill.quantity, fill.price) == (Decimal("0.1"), Decimal("72.5"))


def test_the_mapping_takes_contract_sizes_and_a_size_one_contract_needs_none() -> None:
    kucoin = json.loads(Path(KUCOIN_LTC).read_text())
    hyperliquid = json.loads((RECORDED / "hyperliquid-trades.json").read_text(), parse_float=Decimal)

    sized = map_entries(kucoin, exchange="kucoinfutures", contract_sizes={"LTC/USDT:USDT": Decimal("0.1")})
    plain = map_entries(hyperliquid, exchange="hyperliquid")  # cost = amount x price: a contract of 1 HYPE

    assert [event.quantity for _, event in sized.events if isinstance(event, Fill)] == [Decimal("0.1")]
    assert [event.quantity for _, event in plain.events if isinstance(event, Fill)] == [Decimal("5.2"), Decimal("0.73")]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("LTC/USDT:USDT=0", "--contract-size: expected SYMBOL=SIZE with a size greater than 0 (got 'LTC/USDT:USDT=0')"),
        ("LTC/USDT:USDT", "--contract-size: expected SYMBOL=SIZE with a size greater than 0 (got 'LTC/USDT:USDT')"),
        ("LTC/USDT=0.1", "--contract-size: 'LTC/USDT' is a spot symbol; a size is for a contract (got 'LTC/USDT=0.1')"),
        ("LTC/USD:LTC=0.1", "--contract-size: 'LTC/USD:LTC' is an inverse contract"),
    ],
)
def test_a_contract_size_that_is_not_one_is_refused_naming_it(tmp_path: Path, given: str, message: str) -> None:
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(db, "ingest", "ccxt", KUCOIN_LTC, "--exchange", "kucoinfutures", "--contract-size", given)

    assert code == 2
    assert message in " ".join(shown.split())


def test_reconcile_compares_a_contract_trade_at_the_size_it_was_ingested_with(tmp_path: Path) -> None:
    db, size = tmp_path / "ledger.db", ("--contract-size", "LTC/USDT:USDT=0.1")
    assert tradeledger(db, "ingest", "ccxt", KUCOIN_LTC, "--exchange", "kucoinfutures", *size)[0] == 0

    agrees = tradeledger(db, "reconcile", "--trades", KUCOIN_LTC, "--exchange", "kucoinfutures", *size, "--json")
    refused = tradeledger(db, "reconcile", "--trades", KUCOIN_LTC, "--exchange", "kucoinfutures", "--json")

    assert agrees[0] == 0
    assert agrees[1]["trades"] == {"missing": [], "unknown": [], "conflicting": []}
    assert refused[0] == 2
    assert "--contract-size LTC/USDT:USDT=SIZE" in refused[1]


def test_the_reports_reconciliation_section_takes_the_contract_size_as_reconcile_does(tmp_path: Path) -> None:
    db, size = tmp_path / "ledger.db", ("--contract-size", "LTC/USDT:USDT=0.1")
    assert tradeledger(db, "ingest", "ccxt", KUCOIN_LTC, "--exchange", "kucoinfutures", *size)[0] == 0
    page = str(tmp_path / "report.html")

    code, shown = tradeledger(db, "report", "--html", page, "--reconcile-trades", KUCOIN_LTC, *size, "--json")
    alone = tradeledger(db, "report", "--html", page, *size)

    assert (code, shown["reconciled"]) == (0, True)
    assert alone[0] == 2
    assert "--contract-size: belongs to the reconciliation section" in alone[1]


def test_a_funding_payment_seen_again_with_another_amount_is_refused_as_funding_naming_what_differs(
    tmp_path: Path,
) -> None:
    db, file = tmp_path / "ledger.db", RECORDED / "hyperliquid-funding.json"
    assert tradeledger(db, "ingest", "ccxt", str(file), "--exchange", "hyperliquid")[0] == 0
    changed = json.loads(file.read_text())[:1]
    changed[0]["amount"] = "75.7"
    again = tmp_path / "changed.json"
    again.write_text(json.dumps(changed))

    code, shown = tradeledger(db, "ingest", "ccxt", str(again), "--exchange", "hyperliquid")

    assert code == 2
    message = " ".join(shown.split())
    assert message.startswith(
        "error: entry 0: funding 'SOL/USDC:USDC@1734026400057' (account 'default', exchange 'hyperliquid') is "
        "already recorded with different content (fields amount): recorded {"
    )
    assert "'amount': '75.635093'" in message
    assert "'amount': '75.7'" in message
    assert "'side'" not in message  # a funding payment has no side, quantity or price to show as None
    assert "'fill_id'" not in message
    assert balances(db) == {"USDC": Decimal("231.390186")}


HYPERLIQUID_SOL = {
    "id": "5", "symbol": "SOL/USDC:USDC", "base": "SOL", "quote": "USDC", "settle": "USDC", "baseId": "SOL",
    "quoteId": "USDC", "settleId": "USDC", "baseName": "SOL", "type": "swap", "spot": False, "margin": False,
    "swap": True, "future": False, "option": False, "active": True, "contract": True, "linear": True,
    "inverse": False, "contractSize": "1", "expiry": None, "precision": {"amount": "0.01", "price": "0.001"},
    "limits": {}, "info": {"name": "SOL"},
}  # fmt: skip


def offline_hyperliquid(name: str, environ: object) -> Any:
    """ccxt 4.5.90's hyperliquid, its POST /info answered offline: no fills, no funding, the recorded ledger updates."""
    import ccxt  # noqa: PLC0415 - the optional extra, as syncing.connect imports it

    updates = json.loads((RECORDED / "hyperliquid-ledger-updates.raw.json").read_text())

    def fetch(url: str, method: str = "GET", headers: object = None, body: str | None = None) -> Any:
        assert url == "https://api.hyperliquid.xyz/info"
        return updates if json.loads(body or "{}")["type"] == "userNonFundingLedgerUpdates" else []

    exchange = ccxt.hyperliquid({"walletAddress": "0x15f43D1f2DeE81424aFd891943262aa90F22cc2A"})
    exchange.number = str
    exchange.set_markets([HYPERLIQUID_SOL])
    exchange.fetch = fetch
    return exchange


def test_a_sync_refusing_an_entry_names_the_exchange_and_the_call_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ccxt gives hyperliquid's deposits with id, type and currency null: a deposit of nothing known is refused (its
    # type is the stream's, its currency is named), and the message says it came from fetch_deposits (not a bare
    # "entry 0").
    monkeypatch.setattr(syncing, "connect", offline_hyperliquid)
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(db, "sync", "hyperliquid", "--symbols", "SOL/USDC:USDC", "--json")

    assert code == 2
    assert " ".join(shown.split()) == (
        "error: sync 'hyperliquid': fetch_deposits (stream 'deposits', cursor None): entry 0: currency: is required, a "
        "currency code (got None); the pages appended before it are kept"
    )


def test_gate_spot_fees_in_ltc_and_a_contract_of_a_tenth_of_ltc_give_the_exchanges_balances(tmp_path: Path) -> None:
    # Spot: buy 0.0485 @ 68.01 (fee 0.000097 LTC) and 0.025 @ 68.02 (fee 0.000050 LTC): LTC 0.0485 - 0.000097
    # + 0.025 - 0.00005 = 0.073353; USDT -(3.298485 + 1.7005) = -4.998985, gate's filled_total of the order.
    # Swap: sell 1 contract x 0.1 LTC @ 68.42 (6.842 USDT), fee 0.003421 USDT: a 0.1 short, USDT -5.002406.
    db, file = tmp_path / "ledger.db", str(RECORDED / "gate-trades.json")

    refused = tradeledger(db, "ingest", "ccxt", file, "--exchange", "gate")
    code, shown = tradeledger(
        db, "ingest", "ccxt", file, "--exchange", "gate", "--contract-size", "LTC/USDT:USDT=0.1", "--json"
    )

    assert refused[0] == 2
    assert "entry 2: cost: 1 contracts of LTC/USDT:USDT at 68.42 cost 6.842" in " ".join(refused[1].split())
    assert (code, shown) == (0, {"appended": 3, "duplicates": 0, "skipped": 0, "seq": 3, "covered": 0})
    assert balances(db) == {"LTC": Decimal("0.073353"), "USDT": Decimal("-5.002406")}
    short = [position for position in open_positions(db) if position["symbol"] == "LTC/USDT:USDT"]
    assert short == [
        {"symbol": "LTC/USDT:USDT", "side": "short", "quantity": "0.1", "avg_price": "68.42", "realized_pnl": "0",
         "fees": "0.003421"}
    ]  # fmt: skip


def test_the_trades_cost_decides_between_the_contract_size_given_and_base_units() -> None:
    (trade,) = json.loads(Path(KUCOIN_LTC).read_text())
    sizes = {"LTC/USDT:USDT": Decimal("0.1")}
    in_base_units = {**trade, "cost": "72.5"}  # as ccxt prices deribit's linear trades: amount x price
    no_cost = {**trade, "cost": None}

    def quantity(entry: dict[str, Any]) -> tuple[Decimal, object]:
        ((_, event),) = map_entries([entry], exchange="kucoinfutures", contract_sizes=sizes).events
        assert isinstance(event, Fill)
        return event.quantity, (event.metadata or {}).get("contract_size")

    assert quantity(trade) == (Decimal("0.1"), "0.1")
    assert quantity(in_base_units) == (Decimal(1), None)
    assert quantity(no_cost) == (Decimal("0.1"), "0.1")
    with pytest.raises(InvalidFill) as refused:
        map_entries([{**trade, "cost": "3"}], exchange="kucoinfutures", contract_sizes=sizes)
    assert str(refused.value) == (
        "entry 0: cost: 1 contracts of LTC/USDT:USDT at 72.5 cost 3, neither amount x price x 0.1 (the contract size "
        "given) = 7.25 nor amount x price = 72.5 (the cost says about 0.0413793 LTC a contract); give the contract's "
        "size in LTC (ccxt's market contractSize) with --contract-size LTC/USDT:USDT=SIZE"
    )


def test_kraken_futures_ledger_books_its_transfer_and_skips_what_ccxt_types_fee_or_trade(tmp_path: Path) -> None:
    # Only the transfer in (25 USDT, fee 0) is an event. ccxt types the funding payment (+0.0116 USD, kraken's
    # "funding rate change") as a fee and the collateral conversion as a trade: skipped as spec section 10 says,
    # so reconcile against kraken's balances shows them (take funding from fetch_funding_history); the futures
    # trade's cash leg is in the trade list, the conversion is not: its skip says what moved and how to record it.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(
        db, "ingest", "ccxt", str(RECORDED / "krakenfutures-ledger.json"), "--exchange", "krakenfutures"
    )

    assert code == 0
    assert " ".join(shown.split()).endswith(
        "1 appended, 0 duplicates, 3 skipped; head seq 1 skipped 1: a ledger fee entry (a trade's fee is in its "
        "trade; funding typed fee here is not booked: ingest fetch_funding_history) skipped 1: a ledger trade entry "
        "(collateral conversion of 'krakenfutures', not in its trade list): -0.00770777 USDT moved that no event "
        "books; reconcile shows it as a USDT difference: record the conversion as one fill with `record` skipped 1: "
        "a ledger trade entry (its trade carries it: ingest the trade list)"
    )
    assert balances(db) == {"USDT": Decimal(25)}


def test_a_withdrawal_bybit_rejected_moved_no_money(tmp_path: Path) -> None:
    # The withdrawal that succeeded takes 12.34 + 0.5 fee = 12.84 USDT; the rejected one (ccxt: "rejected")
    # took nothing and is skipped, naming its status.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(
        db, "ingest", "ccxt", str(RECORDED / "bybit-withdrawals.json"), "--exchange", "bybit", "--kind", "withdrawals"
    )

    assert code == 0
    assert " ".join(shown.split()).endswith(
        "1 appended, 0 duplicates, 1 skipped; head seq 1 skipped 1: a rejected withdrawal (no money moved)"
    )
    assert balances(db) == {"USDT": Decimal("-12.84")}


@pytest.mark.parametrize(
    "status", ["rejected", "cancelled", "fail", "declined", "expired", "refunded", "processing", "initiated", "unknown"]
)
def test_a_transfer_whose_status_is_not_ok_is_skipped_naming_it(status: str) -> None:
    # The statuses ccxt 4.5.90's exchanges give besides ok, pending, failed and canceled (bybit: rejected, fail,
    # processing, unknown; bingx, ndax, latoken: rejected; backpack: cancelled, declined, expired, refunded,
    # initiated; hashkey: cancelled). Only "ok" (or no status at all) is money that moved.
    (withdrawal, _) = json.loads((RECORDED / "bybit-withdrawals.json").read_text())

    mapped = map_entries([{**withdrawal, "status": status}], exchange="bybit")

    assert mapped.events == ()
    assert mapped.skipped == ((0, f"a {status} withdrawal (no money moved)"),)


@pytest.mark.parametrize(
    ("status", "booked"),
    [
        ("Complete", True),
        ("Advanced", True),
        ("OK", True),
        ("Failed", False),
    ],
)
def test_a_transfer_status_is_read_whatever_its_case(status: str, *, booked: bool) -> None:
    # ccxt 4.5.90's gemini maps exactly "Advanced" and "Complete" to ok; any other spelling passes on as written.
    (withdrawal, _) = json.loads((RECORDED / "bybit-withdrawals.json").read_text())

    mapped = map_entries([{**withdrawal, "status": status}], exchange="gemini")

    expected = (1, ()) if booked else (0, ((0, f"a {status} withdrawal (no money moved)"),))
    assert (len(mapped.events), mapped.skipped) == expected


@pytest.mark.parametrize("status", ["Settling", "", 3])
def test_a_transfer_status_the_ledger_does_not_know_is_refused_naming_it(status: object) -> None:
    (withdrawal, _) = json.loads((RECORDED / "bybit-withdrawals.json").read_text())

    with pytest.raises(InvalidFill) as refused:
        map_entries([{**withdrawal, "status": status}], exchange="gemini")

    assert str(refused.value).startswith(
        f"entry 0: status: is not a transfer status the ledger knows (got {status!r}); "
    )


def test_woo_funding_in_usd_on_a_usdt_contract_is_refused_naming_ccxts_field_code(tmp_path: Path) -> None:
    # ccxt 4.5.90 writes code USD on every woo funding payment; BTC/USDT:USDT settles in USDT (spec section 9
    # refuses funding in another currency). The file's field is `code`: the message names it.
    db = tmp_path / "ledger.db"

    code, shown = tradeledger(db, "ingest", "ccxt", str(RECORDED / "woo-funding.json"), "--exchange", "woo")

    assert code == 2
    assert " ".join(shown.split()) == (
        "error: entry 0: code: funding on BTC/USDT:USDT is paid in its settle currency USDT (got 'USD')"
    )


def history_ids(db: Path) -> list[str]:
    with open_ledger(f"sqlite:///{db}") as ledger:
        return [recorded.event.event_id for recorded in ledger.history()]


def test_ingest_appends_a_list_newest_first_in_the_exchanges_time_order(tmp_path: Path) -> None:
    # Spec section 9: ingest appends each batch sorted by (occurred_at, id). hyperliquid answers newest first;
    # the same two fills written so: the sell of 2026-01-20 is logged before the buy of 2026-02-07.
    db, newest_first = tmp_path / "ledger.db", tmp_path / "newest-first.json"
    trades = json.loads((RECORDED / "hyperliquid-trades.json").read_text())
    newest_first.write_text(json.dumps(trades[::-1]))

    assert tradeledger(db, "ingest", "ccxt", str(newest_first), "--exchange", "hyperliquid")[0] == 0

    assert history_ids(db) == ["HYPE/USDC:USDC:345752513742025", "HYPE/USDC:USDC:882779857052503"]


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_a_trade_of_no_amount_is_refused_naming_ccxts_field_amount(amount: str) -> None:
    (trade,) = json.loads(Path(KUCOIN_LTC).read_text())

    with pytest.raises(InvalidFill) as refused:
        map_entries([{**trade, "amount": amount}], exchange="kucoinfutures")

    assert str(refused.value) == f"entry 0: amount: must be greater than 0 (got {amount})"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "1e999999", "amount: is out of range 1E-24..1E+24 (got 1E+999999)"),
        ("price", "1e-999999", "price: is out of range 1E-24..1E+24 (got 1E-999999)"),
        ("cost", "1e999999", "cost: is out of range 1E-24..1E+24 (got 1E+999999)"),
        ("amount", "1." + "1" * 40, "amount: has 41 significant digits; at most 28 are kept exactly"),
    ],
)
def test_a_contract_trades_numbers_beyond_a_fills_limits_are_refused_before_any_arithmetic(
    field: str, value: str, message: str
) -> None:
    (trade,) = json.loads(Path(KUCOIN_LTC).read_text())

    for sizes in ({}, {"LTC/USDT:USDT": Decimal("0.1")}):
        with pytest.raises(InvalidFill) as refused:
            map_entries([{**trade, field: Decimal(value)}], exchange="kucoinfutures", contract_sizes=sizes)
        assert str(refused.value).startswith(f"entry 0: {message}")


def test_sync_takes_each_contracts_size_from_ccxts_markets_leaving_out_what_is_not_a_size() -> None:
    markets = {
        "LTC/USDT:USDT": {"contractSize": "0.1"},  # ccxt in string mode
        "BTC/USDT:USDT": {"contractSize": 0.01},  # a market ccxt writes as a float literal
        "ETH/USDT:USDT": {"contractSize": None},
        "SOL/USDT:USDT": {"contractSize": "1e999999"},
        "XRP/USDT:USDT": {"contractSize": True},
        "LTC/USDT": {"contractSize": "1"},  # spot: no size
    }

    sizes = syncing.contract_sizes(markets, [*markets, "DOGE/USDT:USDT"])

    assert sizes == {"LTC/USDT:USDT": Decimal("0.1"), "BTC/USDT:USDT": Decimal("0.01")}


@pytest.mark.parametrize("size", [Decimal(0), Decimal("-0.1"), Decimal("1e30"), 0.1])
def test_a_contract_size_the_api_is_given_that_is_no_size_is_refused_naming_it(size: object) -> None:
    (trade,) = json.loads(Path(KUCOIN_LTC).read_text())

    with pytest.raises(InvalidArgument, match=r"^contract_sizes: LTC/USDT:USDT: "):
        map_entries([trade], exchange="kucoinfutures", contract_sizes={"LTC/USDT:USDT": size})  # type: ignore[dict-item]


def test_a_base_fee_the_ledger_refuses_while_appending_names_the_entry_of_the_list(tmp_path: Path) -> None:
    # gate's two LTC buys, and a sell of 0.0485 LTC written last but made first (a trade of before the
    # ingested history): the buy of entry 0 leaves the position flat, so its fee of 0.000097 LTC would turn it
    # short (spec section 9 refuses it). The batch is appended in time order; the refusal names entry 0.
    db, file = tmp_path / "ledger.db", tmp_path / "gate.json"
    buys = json.loads((RECORDED / "gate-trades.json").read_text())[:2]
    sell = {**buys[0], "id": "7342180100", "side": "sell", "timestamp": 1706382200000, "fee": None,
            "fees": [{"cost": "0.003", "currency": "USDT"}]}  # fmt: skip
    file.write_text(json.dumps([*buys, sell]))

    code, shown = tradeledger(db, "ingest", "ccxt", str(file), "--exchange", "gate")

    assert code == 2
    assert " ".join(shown.split()).startswith(
        "error: entry 0: fees[0].amount: a fee of 0.000097 LTC is more than the 0 LTC the fill leaves held"
    )
    assert balances(db) == {}


def test_a_contract_amount_whose_base_quantity_needs_more_than_28_digits_is_refused_not_rounded() -> None:
    (trade,) = json.loads(Path(KUCOIN_LTC).read_text())
    long_amount = {**trade, "amount": "9.999999999999999999999999999", "price": "1", "cost": "30"}

    with pytest.raises(InvalidFill) as refused:  # x 3 is 29.999999999999999999999999997: 29 digits
        map_entries([long_amount], exchange="kucoinfutures", contract_sizes={"LTC/USDT:USDT": Decimal(3)})

    assert str(refused.value).startswith("entry 0: amount: 9.999999999999999999999999999 contracts of 3 LTC")


class PendingThenDone:
    """An exchange whose withdrawal list answers from `withdrawals` (bybit's recorded one, made pending or done
    by the test between syncs), from `since` inclusive as ccxt pages; no trades."""

    id = "bybit"
    has: Mapping[str, Any] = MappingProxyType({"fetchWithdrawals": True})

    def __init__(self, withdrawals: list[dict[str, Any]]) -> None:
        self.withdrawals = withdrawals

    def load_markets(self) -> dict[str, Any]:
        return {}

    def fetch_my_trades(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return []

    def fetch_funding_history(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchFundingHistory here")

    def fetch_deposits(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchDeposits here")

    def fetch_withdrawals(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return [dict(entry) for entry in self.withdrawals if since is None or entry["timestamp"] >= since]

    def fetch_ledger(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchLedger here")


def test_a_withdrawal_pending_at_one_sync_is_booked_by_a_later_sync_once_it_is_done(tmp_path: Path) -> None:
    (done, _) = json.loads((RECORDED / "bybit-withdrawals.json").read_text())  # 12.34 USDT + 0.5 fee, at t
    earlier = {**done, "id": "8839001", "timestamp": done["timestamp"] - 60_000, "status": "pending"}
    exchange = PendingThenDone([earlier, done])

    # The clock a day after the withdrawals (2022-10-08): sync steps a week at a time over a longer gap.
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2022-10-09"):
        syncing.sync(ledger, exchange, exchange="bybit", symbols=["BTC/USDT"])
        after_first = ledger.balances().balances
        exchange.withdrawals[0] = {**earlier, "status": "ok"}  # the exchange sent it meanwhile
        syncing.sync(ledger, exchange, exchange="bybit", symbols=["BTC/USDT"])
        after_second = ledger.balances().balances

    assert [(b.currency, b.amount) for b in after_first] == [("USDT", Decimal("-12.84"))]
    assert [(b.currency, b.amount) for b in after_second] == [("USDT", Decimal("-25.68"))]


class KrakenFuturesLedger:
    """What `sync` uses of ccxt's krakenfutures: its funding history (`funding`) and its ledger (the recorded one:
    a transfer in of 25 USDT, what ccxt types fee or trade), each from `since` inclusive as ccxt pages; no trades,
    and no deposit or withdrawal lists (the ledger stream carries the transfers)."""

    id = "krakenfutures"
    has: Mapping[str, Any] = MappingProxyType({"fetchFundingHistory": True, "fetchLedger": True})

    def __init__(self, funding: list[dict[str, Any]]) -> None:
        self.funding = funding
        self.ledger: list[dict[str, Any]] = json.loads((RECORDED / "krakenfutures-ledger.json").read_text())

    def load_markets(self) -> dict[str, Any]:
        return {"XRP/USD:USD": {"symbol": "XRP/USD:USD", "contract": True, "contractSize": "1"}}

    def fetch_my_trades(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return []

    def fetch_funding_history(self, symbol: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return [dict(entry) for entry in self.funding if since is None or entry["timestamp"] >= since]

    def fetch_deposits(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchDeposits here")

    def fetch_withdrawals(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        raise AssertionError("has no fetchWithdrawals here")

    def fetch_ledger(self, code: str | None, since: int | None, limit: int | None) -> Any:  # noqa: ARG002
        return [dict(entry) for entry in self.ledger if since is None or entry["timestamp"] >= since]


def test_a_first_sync_books_the_ledgers_transfers_before_the_funding_its_funding_stream_appended(
    tmp_path: Path,
) -> None:
    # The transfer in of 25 USDT (2026-08-11T19:47:59Z) lies before a funding payment of 0.0116 USD an hour later.
    # The funding stream runs before the ledger stream: the ledger stream's start is its own latest event, the
    # transfer (none yet: from the beginning), not the funding payment.
    paid = {"id": "F-1", "symbol": "XRP/USD:USD", "code": "USD", "amount": "0.0116", "timestamp": 1786481279088}
    exchange = KrakenFuturesLedger([paid])

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2026-08-12"):
        syncing.sync(ledger, exchange, exchange="krakenfutures", symbols=["XRP/USD:USD"])
        held = [(b.currency, b.amount) for b in ledger.balances().balances]

    assert held == [("USD", Decimal("0.0116")), ("USDT", Decimal(25))]


def test_a_withdrawal_pending_at_a_sync_before_a_rollback_is_booked_by_a_sync_after_it_once_it_is_done(
    tmp_path: Path,
) -> None:
    # The first sync books the done withdrawal and holds the cursor at the pending one a minute before it. A
    # rollback of something else (a fill of kraken's) makes that cursor one of the epoch before: the next sync must
    # still ask from the pending withdrawal, not from the latest withdrawal the ledger holds.
    (done, _) = json.loads((RECORDED / "bybit-withdrawals.json").read_text())  # 12.34 USDT + 0.5 fee, at t
    earlier = {**done, "id": "8839001", "timestamp": done["timestamp"] - 60_000, "status": "pending"}
    exchange = PendingThenDone([earlier, done])
    kraken = {"fill_id": "k", "exchange": "kraken", "symbol": "ETH/USD", "side": "buy", "quantity": "1",
              "price": "2000", "occurred_at": "2022-10-08T00:00:00+00:00"}  # fmt: skip

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, freeze_time("2022-10-09"):
        syncing.sync(ledger, exchange, exchange="bybit", symbols=["BTC/USDT"])
        ledger.record_many([kraken])
        ledger.rollback(to_seq=1, reason="the kraken fill was a mistake", actor="ops")
        exchange.withdrawals[0] = {**earlier, "status": "ok"}  # the exchange sent it meanwhile
        syncing.sync(ledger, exchange, exchange="bybit", symbols=["BTC/USDT"])
        after = [(b.currency, b.amount) for b in ledger.balances().balances]

    assert after == [("USDT", Decimal("-25.68"))]
