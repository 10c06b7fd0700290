"""ccxt's unified structures from real exchanges, ingested: fills, fees, funding, transfers and balances
checked against values worked out by hand from the recorded answers (shared/fixtures/exchange-ccxt).

The lists are read as a JSON file of ccxt output is read (numbers as written, never through a float);
`test_ccxt_offline.py` runs ccxt's own parsers on the raw answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeledger import Ledger, open_ledger
from tradeledger.domain.events import Funding, Transfer
from tradeledger.domain.fills import Fill
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt.files import parse_entries
from tradeledger.exchanges.ccxt.ingesting import ingest
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

SHARED = Path(__file__).resolve().parents[3] / "shared"
RECORDED = SHARED / "fixtures" / "exchange-ccxt"


def parsed(exchange: str, method: str, case: int = 0) -> list[Any]:
    """ccxt's parsed answer of one recorded case, its numbers read exactly as the file writes them."""
    recorded = json.loads((RECORDED / f"{exchange}.json").read_text(), parse_float=Decimal)
    answer: list[Any] = recorded["methods"][method][case]["parsedResponse"]
    return answer


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as opened:
        yield opened


def balances(ledger: Ledger) -> dict[str, Decimal]:
    return {balance.currency: balance.amount for balance in ledger.balances().balances}


def test_binance_trades_funding_and_transfers_give_the_hand_worked_balances(ledger: Ledger) -> None:
    spot = ingest(ledger, parsed("binance", "fetchMyTrades", 0), exchange="binance")
    ingest(ledger, parsed("binance", "fetchMyTrades", 2), exchange="binance")  # portfolio margin, same account
    ingest(ledger, parsed("binance", "fetchMyTrades", 1), exchange="binance")
    ingest(ledger, parsed("binance", "fetchFundingHistory"), exchange="binance")
    ingest(ledger, parsed("binance", "fetchDeposits"), exchange="binance")
    ingest(ledger, parsed("binance", "fetchWithdrawals"), exchange="binance")

    assert (spot.kind, spot.appended, spot.duplicates, spot.skipped) == (Kind.TRADES, 1, 0, ())
    # LTC: sold 0.2 and 0.173. USDT: 13.926 - 0.013926 + 12.00447 - 0.01200447 (spot sells), - 0.1462684 (the
    # swap's fee), - 0.04618913 (funding), + 10 (deposit), - 9 - 1 (withdrawal and its fee) = 25.712082.
    assert balances(ledger) == {"LTC": Decimal("-0.373"), "USDT": Decimal("25.712082")}
    swap = ledger.position("BTC/USDT:USDT")
    assert swap is not None
    assert (swap.quantity, swap.avg_price, swap.fees) == (Decimal("0.01"), Decimal("36567.1"), Decimal("0.1462684"))
    assert swap.funding == Decimal("-0.04618913")
    assert ledger.verify().ok


def test_a_trade_is_a_fill_keyed_by_symbol_and_id_with_the_order_and_the_raw_record(ledger: Ledger) -> None:
    ingest(ledger, parsed("kucoin", "fetchMyTrades"), exchange="kucoin", account="main")

    (recorded,) = ledger.history()
    fill = recorded.event
    assert isinstance(fill, Fill)
    assert (fill.fill_id, fill.account, fill.exchange) == ("LTC/USDT:3607194733924353", "main", "kucoin")
    assert (fill.side, fill.quantity, fill.price) == ("buy", Decimal("0.010055"), Decimal("72.8"))
    assert [(fee.amount, fee.currency) for fee in fill.fees] == [(Decimal("0.000732004"), "USDT")]
    assert fill.order_id == "65560a018b40f60007d5fe93"
    assert fill.occurred_at.isoformat() == "2023-11-16T12:24:33+00:00"
    assert fill.metadata is not None
    assert (fill.metadata["source"], fill.metadata["type"], fill.metadata["takerOrMaker"]) == (
        "ccxt",
        "market",
        "taker",
    )
    assert fill.metadata["info"]["tradeId"] == "3607194733924353"


def test_bybit_fees_in_the_base_currency_are_disposals_and_a_funding_row_is_funding(ledger: Ledger) -> None:
    ingest(ledger, parsed("bybit", "fetchMyTrades", 0), exchange="bybit")  # BTC/USDT buy, fee 0.000000336 BTC
    ingest(ledger, parsed("bybit", "fetchMyTrades", 2), exchange="bybit")  # ETH/USDT buy, fee 0.000001 ETH
    row = ingest(ledger, parsed("bybit", "fetchMyTrades", 1), exchange="bybit")  # execType Funding
    ingest(ledger, parsed("bybit", "fetchMyTrades", 3), exchange="bybit")  # LTC/USDT:USDT buy 0.1 @ 85.11

    assert row.appended == 1
    funding = ledger.history()[2].event
    assert isinstance(funding, Funding)
    assert (funding.funding_id, funding.amount, funding.currency) == (
        "LTC/USDT:USDT:6dff7827-9774-4881-b275-d2b9eec1ce9b",
        Decimal("-0.00867"),  # bybit's execFee of a funding row is what the position paid
        "USDT",
    )
    btc = ledger.position("BTC/USDT")
    assert btc is not None
    # 0.000336 bought, 0.000000336 of it taken as the fee: valued at the fill price, 0.000000336 x 29708.7
    assert (btc.quantity, btc.fees) == (Decimal("0.000335664"), Decimal("0.0099821232"))
    eth = ledger.position("ETH/USDT")
    assert eth is not None
    assert (eth.quantity, eth.fees) == (Decimal("0.000999"), Decimal("0.00245365"))
    # USDT: -9.9821232 (BTC) - 2.45365 (ETH) - 0.00868105... : the swap's fee 0.00468105 and the funding 0.00867
    assert balances(ledger) == {
        "BTC": Decimal("0.000335664"),
        "ETH": Decimal("0.000999"),
        "USDT": Decimal("-12.44912425"),
    }
    totals = ledger.state().totals
    assert totals.funding == Decimal("-0.00867")  # no LTC cycle was open when it was paid


def test_okx_charges_its_fee_in_ltc_and_kraken_takes_a_withdrawal_fee_on_top(ledger: Ledger) -> None:
    ingest(ledger, parsed("okx", "fetchMyTrades"), exchange="okx")
    ingest(ledger, parsed("kraken", "fetchDeposits"), exchange="kraken")
    ingest(ledger, parsed("kraken", "fetchWithdrawals"), exchange="kraken")

    okx = {b.currency: b.amount for b in ledger.balances().balances if b.exchange == "okx"}
    kraken = {b.currency: b.amount for b in ledger.balances().balances if b.exchange == "kraken"}
    # okx: buy 0.1 LTC @ 67.84, the fee 0.0001 LTC (raw "-0.0001": okx writes a charge negative)
    assert okx == {"LTC": Decimal("0.0999"), "USDT": Decimal("-6.784")}
    # kraken: + 9 deposited, - 10 withdrawn - 3 fee
    assert kraken == {"USDT": Decimal(-4)}
    transfers = [r.event for r in ledger.history() if isinstance(r.event, Transfer)]
    assert [(t.transfer_id, t.kind.value, t.amount, t.fee) for t in transfers] == [
        ("deposit:54435345", "deposit", Decimal(9), Decimal(0)),
        ("withdrawal:FTM6UXZ-5jh345jkhfkdsjfhkjdf", "withdrawal", Decimal(-10), Decimal(3)),
    ]


def test_coinbase_usdc_settled_swap_books_its_fee_in_usdc(ledger: Ledger) -> None:
    ingest(ledger, parsed("coinbase", "fetchMyTrades", 0), exchange="coinbase")
    ingest(ledger, parsed("coinbase", "fetchMyTrades", 1), exchange="coinbase")

    # ADA/USDT spot: sold 10 @ 0.392 (3.92) less 0.03136; ADA/USDC:USDC: only the fee 0.0036 USDC so far
    assert balances(ledger) == {"ADA": Decimal(-10), "USDT": Decimal("3.88864"), "USDC": Decimal("-0.0036")}


def test_a_ledgers_trade_fee_and_rebate_entries_are_skipped_and_its_transfers_booked(ledger: Ledger) -> None:
    bybit = ingest(ledger, parsed("bybit", "fetchLedger"), exchange="bybit")
    okx = ingest(ledger, parsed("okx", "fetchLedger"), exchange="okx")
    kucoin = ingest(ledger, parsed("kucoin", "fetchLedger"), exchange="kucoin")
    entries = [
        {"id": "r1", "direction": "in", "type": "rebate", "currency": "USDT", "amount": "0.1", "timestamp": 1},
        {"id": "f1", "direction": "out", "type": "fee", "currency": "USDT", "amount": "0.2", "timestamp": 2},
    ]
    more = ingest(ledger, entries, exchange="kucoin")

    assert (bybit.appended, len(bybit.skipped), okx.appended, len(okx.skipped)) == (0, 1, 0, 1)
    assert (more.appended, [why for _, why in more.skipped]) == (
        0,
        [
            (
                "a ledger rebate entry (income the trade list does not carry): +0.1 USDT moved that no event books; "
                "reconcile shows it as a USDT difference: record it with `record-transfer --kind deposit`"
            ),
            (
                "a ledger fee entry (a trade's fee is in its trade; funding typed fee here is not booked: ingest "
                "fetch_funding_history)"
            ),
        ],
    )
    assert kucoin.appended == 1
    (recorded,) = ledger.history()
    move = recorded.event
    assert isinstance(move, Transfer)
    # kucoin: 5 USDT out of the trading account (direction "out"), an internal move
    assert (move.transfer_id, move.kind.value, move.amount, move.currency) == (
        "ledger:65ca404f77c7250007b8ddd7",
        "internal",
        Decimal(-5),
        "USDT",
    )


def test_a_second_ingest_appends_nothing(ledger: Ledger) -> None:
    first = ingest(ledger, parsed("bybit", "fetchFundingHistory"), exchange="bybit")
    again = ingest(ledger, parsed("bybit", "fetchFundingHistory"), exchange="bybit")

    assert (first.appended, first.duplicates) == (2, 0)
    assert (again.appended, again.duplicates, again.seq) == (0, 2, 2)
    assert [r.event.amount for r in ledger.history()] == [Decimal("0.0007797"), Decimal("-0.00708126")]  # type: ignore[union-attr]


def test_an_id_seen_with_other_content_is_refused_naming_the_entry_and_both_and_nothing_is_written(
    ledger: Ledger,
) -> None:
    trades = parsed("kucoin", "fetchMyTrades")
    ingest(ledger, trades, exchange="kucoin")
    changed = [{**trades[0], "price": Decimal("72.9")}]
    fresh = {**trades[0], "id": "other", "symbol": "LTC/USDT"}

    conflict = r"entry 1: fill 'LTC/USDT:3607194733924353' .*\(fields price\).*72\.8.*72\.9"
    with pytest.raises(InvalidFill, match=conflict):
        ingest(ledger, [fresh, *changed], exchange="kucoin")
    assert ledger.head.seq == 1


def test_the_same_trade_id_on_two_symbols_is_two_fills(ledger: Ledger) -> None:
    trade = parsed("kucoin", "fetchMyTrades")[0]
    report = ingest(ledger, [trade, {**trade, "symbol": "ETH/USDT"}], exchange="kucoin")

    assert report.appended == 2
    # One time, so logged by id (spec section 9 sorts each batch by occurred_at, id).
    assert [r.event.event_id for r in ledger.history()] == ["ETH/USDT:3607194733924353", "LTC/USDT:3607194733924353"]


def test_numbers_are_read_as_written_where_a_float_would_have_changed_them() -> None:
    text = '[{"id": "1", "timestamp": 1699612608878, "symbol": "BTC/USDT", "side": "buy", "price": 29708.7,'
    text += ' "amount": 0.000336, "fee": {"cost": 3.36e-07, "currency": "BTC"}}]'

    mapped = map_entries(parse_entries(text, source="trades.json"), exchange="bybit")

    fill = mapped.events[0][1]
    assert isinstance(fill, Fill)
    assert fill.fees[0].amount == Decimal("0.000000336")
    as_float = float("3.36e-07")  # what ccxt's default mode (or json.loads) would have kept
    assert Decimal(as_float) != Decimal("0.000000336")
    assert Decimal(float("0.000336")) != fill.quantity


def test_a_float_from_ccxt_in_its_default_mode_is_refused_naming_the_field() -> None:
    trade = {"id": "1", "timestamp": 1, "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": 0.1}

    with pytest.raises(InvalidFill, match=r"entry 0: amount: is a float \(0\.1\).*number = str"):
        map_entries([trade], exchange="binance")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, r"entry 0: id: is required"),
        ({"timestamp": None}, r"entry 0: timestamp: is required"),
        ({"symbol": "BTC/USD:BTC"}, r"entry 0: symbol: is an inverse contract"),
        ({"symbol": "BTC/USDT:USDT-251226-50000-C"}, r"entry 0: symbol: is an option"),
        ({"side": "long"}, r"entry 0: side: must be buy or sell"),
        ({"fee": {"cost": "1", "currency": "usdt"}}, r"entry 0: fee.currency: must be a currency code"),
        ({"fees": [{"cost": "1", "currency": "BNB"}, {"cost": "x", "currency": "BNB"}]}, r"fees\[1\].cost"),
        ({"amount": "NaN"}, r"entry 0: amount: must be a finite number"),
    ],
)
def test_a_bad_trade_is_refused_naming_its_index_and_field(change: dict[str, object], message: str) -> None:
    trade = {"id": "1", "timestamp": 1, "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": "1", **change}

    with pytest.raises(InvalidFill, match=message):
        map_entries([trade], exchange="binance")


def test_fees_win_over_fee_and_a_fee_without_cost_is_no_fee() -> None:
    trade = {"id": "1", "timestamp": 1, "symbol": "BTC/USDT", "side": "buy", "price": "100", "amount": "1"}
    listed = {
        **trade,
        "fee": {"cost": "0.3", "currency": "USDT"},
        "fees": [{"cost": "0.1", "currency": "USDT"}, {"cost": "-0.02", "currency": "BNB"}, {"cost": None}],
    }
    nothing = {**trade, "id": "2", "fee": {"cost": None, "currency": None}, "fees": []}

    events = [event for _, event in map_entries([listed, nothing], exchange="binance").events]

    assert [[(f.amount, f.currency) for f in e.fees] for e in events if isinstance(e, Fill)] == [
        [(Decimal("0.1"), "USDT"), (Decimal("-0.02"), "BNB")],  # and a BNB rebate, unvalued
        [],
    ]


def test_a_pending_or_failed_deposit_moved_no_money_and_is_skipped() -> None:
    deposit = {"id": "d", "type": "deposit", "currency": "USDT", "amount": "5", "timestamp": 1, "status": "pending"}
    failed = {**deposit, "id": "e", "status": "failed"}

    mapped = map_entries([deposit, failed], exchange="kraken")

    assert (mapped.kind, mapped.events, [i for i, _ in mapped.skipped]) == (Kind.DEPOSITS, (), [0, 1])


def test_a_list_of_deposits_and_withdrawals_is_one_list_but_a_named_kind_holds_only_its_own() -> None:
    deposit = {"id": "d", "type": "deposit", "currency": "USDT", "amount": "5", "timestamp": 1, "status": "ok"}
    withdrawal = {**deposit, "id": "w", "type": "withdrawal"}

    both = map_entries([deposit, withdrawal], exchange="kraken")

    assert [event.amount for _, event in both.events] == [Decimal(5), Decimal(-5)]  # type: ignore[union-attr]
    with pytest.raises(InvalidFill, match=r"entry 1: type: must be deposit \(got 'withdrawal'\)"):
        map_entries([deposit, withdrawal], exchange="kraken", kind=Kind.DEPOSITS)


def test_a_mixed_or_unrecognised_list_is_refused() -> None:
    trade = {"id": "1", "timestamp": 1, "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": "1"}
    funding = {"id": "f", "timestamp": 1, "symbol": "BTC/USDT:USDT", "code": "USDT", "amount": "1"}

    with pytest.raises(InvalidFill, match=r"a mixed list: entry 0 is a trades entry, entry 1 a funding entry"):
        map_entries([trade, funding], exchange="binance")
    with pytest.raises(InvalidFill, match=r"entry 0: not a ccxt trade"):
        map_entries([{"hello": "world"}], exchange="binance")


@pytest.mark.parametrize("written", ["9" * 5000, "1e5000", "1e1000000"], ids=["5,000 digits", "1e5000", "1e1000000"])
def test_a_timestamp_past_9999_however_written_is_refused_naming_it_at_once(written: str) -> None:
    # Read as the file is read: 5,000 digits are a Decimal (past Python's int-to-text limit), 1e1000000 a
    # Decimal whose int would have a million digits (30 s to build on this machine; 1e10000000, ~50 minutes).
    text = f'[{{"id": "1", "timestamp": {written}, "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": "1"}}]'

    with pytest.raises(InvalidFill, match=r"entry 0: timestamp: is not a time between 1970 and 9999 \(got "):
        map_entries(parse_entries(text, source="trades.json"), exchange="binance")


def test_a_key_written_twice_in_a_ccxt_file_is_refused_naming_it_as_import_does() -> None:
    # Which amount did the exchange report? `import` refuses such a line; a ccxt file must too, not keep the last.
    text = (
        '[{"id": "1", "timestamp": 1, "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": "1", "amount": "9"}]'
    )

    with pytest.raises(InvalidFill, match=r"^trades\.json: the key 'amount' appears twice in one object$"):
        parse_entries(text, source="trades.json")


def test_a_ccxt_file_that_starts_with_a_bom_is_refused_saying_so() -> None:
    with pytest.raises(InvalidFill, match=r"^trades\.json: not JSON \(Unexpected UTF-8 BOM \(decode using utf-8-sig\)"):
        parse_entries("\ufeff[]", source="trades.json")
