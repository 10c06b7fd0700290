"""Fees in any currency through the legacy API (spec section 9, issue 15): same shapes, new fees.

A legacy trade with a fee currency becomes a fill whose fee is in that currency; the legacy shapes
(the trade dict, the state file, ctx.positions, the paper wallet) keep their keys, and their `fees`
is the quote value of the valued fees. Old trades give exactly the old keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeledger import Ledger
from tradeledger.compat.migration import LegacyPaths, MigrationError, plan_migration, read_legacy_files
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import TRADE_KEYS, Trade, create_trade
from tradeledger.domain.fills import FeeEntry
from tradeledger.errors import InvalidFill

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BTC = "BTC/USDT"


def trade(amount: str, price: str, fees: str = "0", side: str = "buy", **extra: Any) -> Trade:
    return create_trade(BTC, side, amount, price, fees=fees, timestamp=T0, **extra)


def entries(*fees: tuple[str, str, str | None]) -> tuple[FeeEntry, ...]:
    return tuple(
        FeeEntry(amount=Decimal(amount), currency=currency, quote_value=None if value is None else Decimal(value))
        for amount, currency, value in fees
    )


@pytest.fixture
def tm(open_bot_ledger: Callable[[], Ledger], tmp_path: Path) -> TradeManager:
    return TradeManager(open_bot_ledger(), state_file=tmp_path / "trade_manager_state.json", clock=lambda: T0)


# --- the trade and its dict ---------------------------------------------------------------------


def test_an_old_trade_gives_exactly_the_old_dict_keys_and_a_fee_in_the_quote() -> None:
    old = trade("1", "100", fees="0.1")
    named_quote = trade("1", "100", fees="0.1", fee_currency="USDT")

    assert tuple(old.to_dict()) == TRADE_KEYS
    assert tuple(named_quote.to_dict()) == TRADE_KEYS
    assert old.to_dict()["fees"] == named_quote.to_dict()["fees"] == 0.1
    assert old.to_fill().fees == named_quote.to_fill().fees == entries(("0.1", "USDT", None))


def test_a_trade_without_a_fee_appends_a_fill_without_fees() -> None:
    assert trade("1", "100").to_fill().fees == ()
    assert tuple(trade("1", "100").to_dict()) == TRADE_KEYS


def test_a_base_fee_is_a_fee_in_the_base_currency_shown_at_the_trade_price() -> None:
    made = trade("1", "100", fees="0.01", fee_currency="BTC")
    shape = made.to_dict()

    assert made.to_fill().fees == entries(("0.01", "BTC", None))
    assert tuple(shape) == (*TRADE_KEYS, "fee_currency", "fee_amount")
    assert (shape["fees"], shape["fee_currency"], shape["fee_amount"]) == (1.0, "BTC", 0.01)
    assert made.quote_fees == Decimal("1.00")
    assert made.total_cost == Decimal("101.00")


def test_a_third_currency_fee_with_a_quote_value_shows_that_value() -> None:
    made = trade("1", "100", fees="0.002", fee_currency="BNB", fee_quote_value="1.2")
    shape = made.to_dict()

    assert made.to_fill().fees == entries(("0.002", "BNB", "1.2"))
    assert tuple(shape) == (*TRADE_KEYS, "fee_currency", "fee_amount")
    assert (shape["fees"], shape["fee_currency"], shape["fee_amount"]) == (1.2, "BNB", 0.002)


def test_an_unvalued_fee_is_flagged_never_shown_as_a_silent_zero() -> None:
    made = trade("1", "100", fees="0.002", fee_currency="BNB")
    shape = made.to_dict()

    assert made.to_fill().fees == entries(("0.002", "BNB", None))
    assert tuple(shape) == (*TRADE_KEYS, "fee_currency", "fee_amount", "fees_unvalued")
    assert (shape["fees"], shape["fee_amount"], shape["fees_unvalued"]) == (0.0, 0.002, True)
    assert made.fees_unvalued


def test_a_quote_value_for_a_fee_in_the_base_currency_is_refused_naming_the_argument() -> None:
    with pytest.raises(InvalidFill, match="fee_quote_value: only a fee in a currency other than BTC and USDT"):
        trade("1", "100", fees="0.01", fee_currency="BTC", fee_quote_value="1")


@pytest.mark.parametrize(
    "made",
    [
        trade("1", "100", fees="0.1"),
        trade("1", "100", fees="0.01", fee_currency="BTC"),
        trade("1", "100", fees="0.002", fee_currency="BNB", fee_quote_value="1.2"),
        trade("1", "100", fees="0.002", fee_currency="BNB"),
    ],
    ids=["quote", "base", "valued BNB", "unvalued BNB"],
)
def test_from_dict_reads_back_the_fee_that_to_dict_wrote(made: Trade) -> None:
    assert Trade.from_dict(made.to_dict()).to_fill() == made.to_fill()


def test_a_legacy_dict_with_a_fee_currency_and_no_fee_amount_has_its_fees_in_that_currency() -> None:
    data = {**trade("1", "100").to_dict(), "fees": 0.002, "fee_currency": "BNB"}

    assert Trade.from_dict(data).to_fill().fees == entries(("0.002", "BNB", None))


# --- the TradeManager, its state file and ctx.positions ------------------------------------------


def test_a_trade_read_back_from_the_ledger_keeps_its_fee_currency(tm: TradeManager) -> None:
    base = trade("1", "100", fees="0.01", fee_currency="BTC")
    unvalued = trade("0.5", "100", fees="0.002", fee_currency="BNB")
    tm.record_trade(base)
    tm.record_trade(unvalued)

    first, second = tm.get_trade_history()

    assert (first.fees, first.fee_currency, first.to_dict()) == (Decimal("0.01"), "BTC", base.to_dict())
    assert (second.fees, second.fee_currency, second.to_dict()) == (Decimal("0.002"), "BNB", unvalued.to_dict())
    assert tm.record_trade(first) == base.id  # the same fill again: a no-op, not a conflict


def test_a_base_fee_shrinks_the_position_and_its_fees_are_its_quote_value(tm: TradeManager) -> None:
    tm.record_trade(trade("1", "100", fees="0.01", fee_currency="BTC"))

    position = tm.get_position(BTC)

    assert position is not None
    assert (position.total_amount, position.average_price, position.fees_paid) == (
        Decimal("0.99"),
        Decimal(100),
        Decimal("1.00"),
    )
    assert tm.get_statistics()["total_fees"] == Decimal("1.00")


def test_ctx_positions_keep_their_keys_when_the_fee_is_in_the_base_currency(
    open_bot_ledger: Callable[[], Ledger],
) -> None:
    old_style = TradeManager(open_bot_ledger(), account="old", clock=lambda: T0)
    new_style = TradeManager(open_bot_ledger(), account="new", clock=lambda: T0)
    old_style.record_trade(trade("1", "100", fees="1"))
    new_style.record_trade(trade("1", "100", fees="0.01", fee_currency="BTC"))

    old_entry, new_entry = old_style.legacy_positions()[BTC], new_style.legacy_positions()[BTC]

    assert set(new_entry) == set(old_entry)
    assert (old_entry["size"], new_entry["size"]) == (Decimal(1), Decimal("0.99"))


def test_the_state_file_keeps_its_keys_and_names_a_fee_currency_only_where_one_is_given(
    tm: TradeManager, tmp_path: Path
) -> None:
    tm.record_trade(trade("1", "100", fees="0.1"))
    tm.record_trade(create_trade(BTC, "buy", "1", "100", fees="0.002", fee_currency="BNB", timestamp=T0))

    state = json.loads(tm.save_state(tmp_path / "state.json").read_text())
    old, unvalued = state["trades"]

    assert set(state) == {"trades", "positions", "closed_positions", "price_cache", "statistics", "last_save_time"}
    assert tuple(old) == TRADE_KEYS
    assert (unvalued["fees"], unvalued["fee_currency"], unvalued["fees_unvalued"]) == (0.0, "BNB", True)
    assert state["statistics"]["total_fees"] == 0.1
    assert state["positions"][BTC]["fees_paid"] == 0.1


# --- the paper wallet's cash -------------------------------------------------------------------------


def test_a_base_fee_costs_no_cash_and_the_position_shrinks_by_it(ledger: Ledger) -> None:
    wallet = PaperWallet(ledger, 1000, clock=lambda: T0)

    wallet.buy(BTC, "1", "100", fee="0.01", fee_currency="BTC")

    assert wallet.balance == Decimal(900)
    assert wallet.positions[BTC]["size"] == Decimal("0.99")
    assert wallet.positions[BTC]["fees_paid"] == Decimal("1.00")

    wallet.sell(BTC, "0.99", "110")

    assert wallet.balance == Decimal("1008.9")  # 900 + 0.99 x 110 = 900 + 108.9
    assert BTC not in wallet.positions
    assert wallet.realized_pnl == Decimal("9.9")  # (110 - 100) x 0.99; the 1.00 fee is the difference
    wallet.check_invariant()


def test_a_base_fee_trade_recorded_through_the_trade_manager_moves_the_wallet_the_same_way(tm: TradeManager) -> None:
    wallet = PaperWallet(tm.ledger, 1000, trade_manager=tm, clock=lambda: T0)

    tm.record_trade(trade("1", "100", fees="0.01", fee_currency="BTC"))
    tm.record_trade(trade("0.99", "110", side="sell"))

    assert wallet.balance == Decimal("1008.9")


def test_a_buy_with_a_base_fee_needs_cash_for_the_coins_only(ledger: Ledger) -> None:
    wallet = PaperWallet(ledger, 100, clock=lambda: T0)

    wallet.buy(BTC, "1", "100", fee="0.01", fee_currency="BTC")  # costs 100: the fee takes coins

    assert wallet.balance == Decimal(0)
    assert wallet.positions[BTC]["size"] == Decimal("0.99")


def test_a_valued_third_currency_fee_takes_its_quote_value_and_an_unvalued_one_no_cash(ledger: Ledger) -> None:
    wallet = PaperWallet(ledger, 1000, clock=lambda: T0)

    wallet.buy(BTC, "1", "100", fee="0.002", fee_currency="BNB", fee_quote_value="1.2")
    wallet.buy("ETH/USDT", "1", "10", fee="0.5", fee_currency="BNB")

    assert wallet.balance == Decimal("888.8")  # 1000 - 100 - 1.2 - 10
    assert wallet.positions["ETH/USDT"]["fees_paid"] == Decimal(0)


def test_an_old_style_trade_keeps_the_old_wallet_entry_keys(ledger: Ledger) -> None:
    wallet = PaperWallet(ledger, 1000, clock=lambda: T0)
    wallet.buy(BTC, "1", "100", fee="1")
    wallet.buy("ETH/USDT", "1", "10", fee="0.001", fee_currency="ETH")

    assert set(wallet.positions["ETH/USDT"]) == set(wallet.positions[BTC])
    assert wallet.balance == Decimal(889)  # 1000 - 101 - 10


# --- the migration reader ----------------------------------------------------------------------------


def legacy_trade(trade_id: str, **fee: object) -> dict[str, object]:
    return {
        "id": trade_id,
        "symbol": BTC,
        "side": "buy",
        "amount": 1.0,
        "price": 100.0,
        "timestamp": "2026-03-02T09:00:00",
        "strategy": "",
        "exchange": "binance",
        "fees": 0.1,
        "status": "filled",
        "order_id": None,
        "client_order_id": None,
        "metadata": {},
        **fee,
    }


def read_state(tmp_path: Path, *trades: dict[str, object]) -> list[Any]:
    path = tmp_path / "trade_manager_state.json"
    path.write_text(json.dumps({"trades": list(trades), "positions": {}}))
    return [item.fill for item in read_legacy_files(LegacyPaths(state_file=path)).trades]


def test_a_legacy_trade_with_a_fee_currency_migrates_to_a_fee_in_that_currency(tmp_path: Path) -> None:
    fills = read_state(
        tmp_path,
        legacy_trade("t1"),
        legacy_trade("t2", fees=0.001, fee_currency="BTC"),
        legacy_trade("t3", fees=0.002, commission_asset="BNB"),
        legacy_trade("t4", fees=0.002, fee_asset="BNB", fee_quote_value=1.2),
    )

    assert [fill.fees for fill in fills] == [
        entries(("0.1", "USDT", None)),
        entries(("0.001", "BTC", None)),
        entries(("0.002", "BNB", None)),
        entries(("0.002", "BNB", "1.2")),
    ]


def test_a_legacy_trade_whose_fee_currency_aliases_disagree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"trades\[0\].*fee_currency and fee_asset name different fee currencies"):
        read_state(tmp_path, legacy_trade("t1", fee_currency="BNB", fee_asset="BTC"))


def read_csv(tmp_path: Path, text: str) -> list[Any]:
    path = tmp_path / "trades.csv"
    path.write_text(text)
    return [row.fill for row in read_legacy_files(LegacyPaths(trades_csv=path)).csv_rows]


def test_a_trades_csv_with_fee_columns_gives_each_row_its_fee_in_its_currency(tmp_path: Path) -> None:
    fills = read_csv(
        tmp_path,
        "symbol,side,amount,price,timestamp,fee,fee_asset,fee_quote_value\n"
        "BTC/USDT,buy,1,100,2026-03-02T09:00:00,0.001,BTC,\n"
        "BTC/USDT,buy,1,100,2026-03-02T09:01:00,0.1,,\n"
        "BTC/USDT,buy,1,100,2026-03-02T09:02:00,0.002,BNB,1.2\n"
        "BTC/USDT,buy,1,100,2026-03-02T09:03:00,,,\n",
    )

    assert [fill.fees for fill in fills] == [
        entries(("0.001", "BTC", None)),
        entries(("0.1", "USDT", None)),
        entries(("0.002", "BNB", "1.2")),
        (),
    ]
    assert len({fill.fill_id for fill in fills}) == 4


def test_a_trades_csv_without_fee_columns_reads_as_before(tmp_path: Path) -> None:
    rows = "BTC/USDT,buy,1,100,2026-03-02T09:00:00\n"

    plain = read_csv(tmp_path, rows)
    headed = read_csv(tmp_path, "symbol,side,amount,price,timestamp\n" + rows)

    assert plain[0].fees == headed[0].fees == ()
    assert plain[0].fill_id != headed[0].fill_id  # the line number is part of a row's id, as before


def test_a_trades_csv_row_with_a_fee_currency_but_no_fee_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"line 2: a fee currency or quote value is given without a fee"):
        read_csv(tmp_path, "symbol,side,amount,price,timestamp,fee,fee_currency\nBTC/USDT,buy,1,100,2026-03-02,,BNB\n")


def test_a_migration_plan_with_a_base_fee_says_why_quantity_and_fees_differ_from_the_legacy_figures(
    tmp_path: Path, ledger: Ledger
) -> None:
    path = tmp_path / "trade_manager_state.json"
    path.write_text(json.dumps({"trades": [legacy_trade("t1", fees=0.01, fee_currency="BTC")], "positions": {}}))

    plan = plan_migration(read_legacy_files(LegacyPaths(state_file=path)), ledger)

    (note,) = plan.notes
    assert note.startswith("fees outside the quote currency on BTC/USDT (BTC): a base-currency fee lowers the position")


def test_a_migration_plan_with_quote_fees_only_has_no_fee_note(tmp_path: Path, ledger: Ledger) -> None:
    path = tmp_path / "trade_manager_state.json"
    path.write_text(json.dumps({"trades": [legacy_trade("t1")], "positions": {}}))

    assert plan_migration(read_legacy_files(LegacyPaths(state_file=path)), ledger).notes == ()
