"""What users' exchange data looks like through `tradeledger ingest ccxt` (helper-75): fills of one order in one
millisecond, fees in the received coin, in a third coin and several per fill, rebates, contracts of a size.

Expected values are worked out by hand from the entries and written out.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.exchanges.offline import run_case
from tests.exchanges.test_ccxt_ingest import parsed
from tests.exchanges.test_ccxt_more_exchanges import RECORDED, balances, tradeledger
from tests.exchanges.test_ccxt_recorded_exchanges import history_ids
from tradeledger import open_ledger
from tradeledger.domain.events import Transfer
from tradeledger.errors import InvalidFill
from tradeledger.exchanges.ccxt.ingesting import ingest
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries


def _usdm_trade(ident: str, side: str, qty: str, price: str, time: int) -> dict[str, Any]:
    """A BTC/USDT:USDT trade as ccxt 4.5.90 (string mode) parses binance's USDⓈ-M `userTrades` (contract size 1)."""
    cost = str(Decimal(qty) * Decimal(price))
    return {
        "id": ident,
        "order": "261942655610",
        "timestamp": time,
        "symbol": "BTC/USDT:USDT",
        "type": None,
        "side": side,
        "takerOrMaker": "taker",
        "price": price,
        "amount": qty,
        "cost": cost,
        "fee": {"cost": "0", "currency": "USDT"},
        "fees": [{"cost": "0", "currency": "USDT"}],
        "info": {"symbol": "BTCUSDT", "id": int(ident), "price": price, "qty": qty, "time": time},
    }


def test_fills_of_one_millisecond_are_appended_in_the_order_of_their_numeric_ids(tmp_path: Path) -> None:
    # binance numbers trades per symbol: a symbol's ids grow past 9999 to 10000. Long 0.5 @ 90 (trade 9997), then
    # one market sell of 1.5 filled in one millisecond against three makers: 9998 @ 100, 9999 @ 99, 10000 @ 98.
    # In the exchange's order the first fill closes the long: realized (100 - 90) x 0.5 = 5, and the other two open
    # a short of 1 at (99 + 98) / 2 = 98.5. In the text order of the ids ("10000" < "9998") the fill at 98 would
    # close it: realized 4, short 1 at 99.5.
    db, file = tmp_path / "ledger.db", tmp_path / "trades.json"
    at = 1707530039409
    trades = [
        _usdm_trade("9997", "buy", "0.5", "90", at - 60_000),
        _usdm_trade("9998", "sell", "0.5", "100", at),
        _usdm_trade("9999", "sell", "0.5", "99", at),
        _usdm_trade("10000", "sell", "0.5", "98", at),
    ]
    file.write_text(json.dumps(trades))

    assert tradeledger(db, "ingest", "ccxt", str(file), "--exchange", "binanceusdm", "--json")[0] == 0

    assert history_ids(db) == [f"BTC/USDT:USDT:{ident}" for ident in ("9997", "9998", "9999", "10000")]
    code, shown = tradeledger(db, "positions", "--json")
    assert code == 0, shown
    (position,) = shown["open"]
    assert (position["side"], position["quantity"], position["avg_price"]) == ("short", "1", "98.5")
    assert shown["totals"]["realized_pnl"] == "5"


def _ingest(db: Path, name: str, exchange: str, *options: str) -> tuple[int, Any]:
    return tradeledger(db, "ingest", "ccxt", str(RECORDED / name), "--exchange", exchange, "--json", *options)


def _positions(db: Path) -> dict[str, Any]:
    code, shown = tradeledger(db, "positions", "--json")
    assert code == 0, shown
    return dict(shown)


def test_a_gate_sell_with_fees_in_usdt_gt_and_points_books_the_usdt_and_keeps_the_others_unvalued(
    tmp_path: Path,
) -> None:
    # Buy 11 DOGE @ 0.13 with its fee 0.022 DOGE (the coin received): 10.978 DOGE, fees 0.022 x 0.13 = 0.00286.
    # Sell 10.97 @ 0.137384 with fees 0.00301420496 USDT, 2.2 GT and 1.1 GATEPOINT: realized (0.137384 - 0.13) x
    # 10.97 = 0.08100248; fees 0.00286 + 0.00301420496 = 0.00587420496; net 0.07512827504; GT and GATEPOINT are
    # unvalued. Balances: DOGE 11 - 0.022 - 10.97 = 0.008; USDT -1.43 + 1.50710248 - 0.00301420496 = 0.07408827504.
    db = tmp_path / "ledger.db"

    assert _ingest(db, "gate-spot-three-fees.json", "gate") == (
        0,
        {"appended": 2, "duplicates": 0, "skipped": 0, "seq": 2, "covered": 0},
    )

    shown = _positions(db)
    (position,) = shown["open"]
    assert (position["symbol"], position["side"], position["quantity"], position["avg_price"]) == (
        "DOGE/USDT",
        "long",
        "0.008",
        "0.13",
    )
    assert (position["realized_pnl"], position["fees"], position["net_pnl"]) == (
        "0.08100248",
        "0.00587420496",
        "0.07512827504",
    )
    assert position["unvalued_fees"] == [
        {"currency": "GATEPOINT", "amount": "1.1"},
        {"currency": "GT", "amount": "2.2"},
    ]
    assert balances(db) == {
        "DOGE": Decimal("0.008"),
        "GATEPOINT": Decimal("-1.1"),
        "GT": Decimal("-2.2"),
        "USDT": Decimal("0.07408827504"),
    }


def test_bitfinex_fees_in_the_coin_received_reduce_the_eth_bought_and_the_usdt_received(tmp_path: Path) -> None:
    # Buy 0.26334268 ETH @ 187.37, fee 0.00052669 ETH (bitfinex writes -0.00052669); sell 0.2 @ 190, fee 0.076 USDT.
    # ETH 0.26334268 - 0.00052669 - 0.2 = 0.06281599; fees 0.00052669 x 187.37 + 0.076 = 0.1746859053; realized
    # (190 - 187.37) x 0.2 = 0.526. USDT -49.3425179516 + 38 - 0.076 = -11.4185179516.
    db = tmp_path / "ledger.db"

    assert _ingest(db, "bitfinex-trades.json", "bitfinex")[0] == 0

    (position,) = _positions(db)["open"]
    assert (position["quantity"], position["avg_price"], position["realized_pnl"], position["fees"]) == (
        "0.06281599",
        "187.37",
        "0.526",
        "0.1746859053",
    )
    assert balances(db) == {"ETH": Decimal("0.06281599"), "USDT": Decimal("-11.4185179516")}


@pytest.mark.parametrize("options", [(), ("--kind", "withdrawals")])
def test_a_bithumb_withdrawal_typed_withdraw_with_a_fee_of_no_currency_is_a_withdrawal_with_its_fee_on_top(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    # ccxt 4.5.90 writes bithumb's type as bithumb does ("withdraw") and its fee with currency null: the withdrawal
    # of 0.05 BTC takes its fee of 0.0008 BTC on top (-0.0508 BTC); the one still processing is skipped.
    db = tmp_path / "ledger.db"

    assert _ingest(db, "bithumb-withdrawals.json", "bithumb", *options) == (
        0,
        {"appended": 1, "duplicates": 0, "skipped": 1, "seq": 1, "covered": 0},
    )
    assert history_ids(db) == ["withdrawal:200377311"]
    assert balances(db) == {"BTC": Decimal("-0.0508")}


def test_a_transfers_fee_without_a_currency_is_in_the_transfers_own_currency() -> None:
    # bydfi's and bithumb's fees come from ccxt 4.5.90 with currency null: a transfer's fee is in its own currency.
    withdrawal = {
        "id": "1208864446987255810",
        "txid": "0x5e0c",
        "type": "withdrawal",
        "currency": "USDC",
        "amount": "200",
        "status": "ok",
        "timestamp": 1766145344000,
        "fee": {"cost": "1.5", "currency": None},
    }

    mapped = map_entries([withdrawal], exchange="bydfi")

    ((_, event),) = mapped.events
    assert isinstance(event, Transfer)
    assert (event.currency, event.amount, event.fee) == ("USDC", Decimal(-200), Decimal("1.5"))


def test_a_deposit_ingested_from_a_file_then_seen_through_another_ccxt_version_is_a_duplicate(tmp_path: Path) -> None:
    # The recorded binance deposit (its network as binance writes it, TRX) ingested from a file; ccxt 4.5.90 parses
    # the same answer with the network TRC20 (tests/exchanges/test_ccxt_offline.py's KNOWN_DIFFERENCES), as a sync
    # after the ingest sees it again. Its accounting is the same: a duplicate, the record first seen kept.
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        first = ingest(ledger, parsed("binance", "fetchDeposits"), exchange="binance")
        again = ingest(ledger, run_case("binance", "fetchDeposits", 0), exchange="binance")

        assert (first.appended, again.appended, again.duplicates) == (1, 0, 1)
        (kept,) = ledger.history()
        assert kept.event.metadata is not None
        assert kept.event.metadata["network"] == "TRX"


def test_a_trade_seen_again_with_another_price_is_still_refused_naming_the_field(tmp_path: Path) -> None:
    trade = parsed("kucoin", "fetchMyTrades")[0]
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ingest(ledger, [trade], exchange="kucoin")
        changed = {**trade, "price": Decimal("72.9"), "info": {**trade["info"], "price": "72.9"}}

        with pytest.raises(InvalidFill, match=r"\(fields metadata, price\)"):
            ingest(ledger, [changed], exchange="kucoin")
        assert ledger.head.seq == 1


def test_okx_contracts_of_a_hundredth_btc_with_a_maker_rebate_give_okxs_own_realized_pnl(tmp_path: Path) -> None:
    # Buy 10 contracts of 0.01 BTC @ 65000 (0.1 BTC), a maker rebate of 0.0325 USDT (okx writes +0.0325); sell 4
    # (0.04 BTC) @ 66000, fee 1.32 USDT (okx writes -1.32). Realized (66000 - 65000) x 0.04 = 40, okx's own fillPnl;
    # fees -0.0325 + 1.32 = 1.2875; the USDT balance 40 - 1.2875 = 38.7125 (a contract moves no BTC).
    db = tmp_path / "ledger.db"

    assert _ingest(db, "okx-swap-trades.json", "okx", "--contract-size", "BTC/USDT:USDT=0.01")[0] == 0

    (position,) = _positions(db)["open"]
    assert (position["quantity"], position["avg_price"], position["realized_pnl"], position["fees"]) == (
        "0.06",
        "65000",
        "40",
        "1.2875",
    )
    assert balances(db) == {"USDT": Decimal("38.7125")}


def test_backpack_deposits_and_withdrawals_of_no_type_are_what_the_call_that_returned_them_says(tmp_path: Path) -> None:
    # ccxt 4.5.90 writes type null on backpack's transactions; --kind (sync: the stream's call) names them.
    # 120 USDC in, 10 out with a fee of 3 on top: 107 USDC.
    db = tmp_path / "ledger.db"

    assert _ingest(db, "backpack-deposits.json", "backpack", "--kind", "deposits") == (
        0,
        {"appended": 1, "duplicates": 0, "skipped": 0, "seq": 1, "covered": 0},
    )
    assert _ingest(db, "backpack-withdrawals.json", "backpack", "--kind", "withdrawals")[0] == 0

    assert history_ids(db) == ["deposit:6695353", "withdrawal:5479929"]
    assert balances(db) == {"USDC": Decimal(107)}


def test_a_transaction_of_no_type_needs_its_kind_named_and_one_of_the_other_kind_is_refused() -> None:
    (deposit,) = json.loads((RECORDED / "backpack-deposits.json").read_text())

    with pytest.raises(InvalidFill, match=r"entry 0: not a ccxt trade, .*name the kind with --kind"):
        map_entries([deposit], exchange="backpack")
    with pytest.raises(InvalidFill, match=r"entry 0: type: must be withdrawal \(got 'deposit'\)"):
        map_entries([{**deposit, "type": "deposit"}], exchange="backpack", kind=Kind.WITHDRAWALS)


def test_a_kraken_ledgers_transaction_entries_are_its_deposit_and_its_withdrawal_with_the_fee_on_top(
    tmp_path: Path,
) -> None:
    # ccxt's ledger type `transaction` is a deposit or a withdrawal (by direction): 500 USDT in, 100 out with
    # kraken's fee of 2.5 on the entry: 397.5 USDT; the trade's entry is skipped (its trade carries it).
    db = tmp_path / "ledger.db"

    assert _ingest(db, "kraken-ledger.json", "kraken") == (
        0,
        {"appended": 2, "duplicates": 0, "skipped": 1, "seq": 2, "covered": 0},
    )

    assert history_ids(db) == ["ledger:LQ3OAD-P4JBT-5V2G5Q", "ledger:L4UESK-KG3EQ-UFO4T5"]
    code, shown = tradeledger(db, "history", "--json")
    assert code == 0, shown
    assert [(event["kind"], event["amount"], event["fee"]) for event in shown] == [
        ("deposit", "500", "0"),
        ("withdrawal", "-100", "2.5"),
    ]
    assert balances(db) == {"USDT": Decimal("397.5")}


def test_bitfinexs_ledger_books_its_deposit_and_withdrawal_and_skips_the_fee_row(tmp_path: Path) -> None:
    # 1511 USDT in, 10 out; bitfinex writes the withdrawal's fee as a row of its own, which ccxt types fee: skipped
    # as every ledger fee entry is (spec section 10), so the ledger holds 1501 USDT where bitfinex holds 1500.
    db = tmp_path / "ledger.db"

    assert _ingest(db, "bitfinex-ledger.json", "bitfinex") == (
        0,
        {"appended": 2, "duplicates": 0, "skipped": 1, "seq": 2, "covered": 0},
    )
    assert balances(db) == {"USDT": Decimal(1501)}
