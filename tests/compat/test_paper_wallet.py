"""The drop-in PaperWallet: the legacy tests' numbers (legacy-system.md §6.2), on a real SQLite ledger.

The wallet is a projection of the account's fills, so every test reads it back from the log; where
the wallet deliberately differs from the legacy code, the test says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.compat.conftest import Clock
from tradeledger import Fill, Ledger, open_ledger
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import Trade, create_trade
from tradeledger.errors import InvalidArgument, InvalidFill, InvariantViolation, ReadOnlyView, TradeRefused

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
BTC = "BTC/USD"
ETH = "ETH/USD"
XBT = "XBT/USDT"
LEGACY_STATE_KEYS = {"balance", "initial_balance", "realized_pnl", "total_trades", "winning_trades", "positions"}


def wallet_on(ledger: Ledger, balance: Any = 1000, **options: Any) -> PaperWallet:
    return PaperWallet(ledger, balance, clock=lambda: T0, **options)


def read_yaml(path: Path) -> dict[str, Any]:
    loaded = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def external_fill(side: str, quantity: str, price: str, *, fill_id: str, symbol: str = BTC) -> Fill:
    """A fill some other writer (an exchange import, a script) records straight into the ledger."""
    return Fill.model_validate(
        {
            "fill_id": fill_id,
            "exchange": "kraken",
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "occurred_at": T0,
        }
    )


# --- the legacy pins (tests/test_paper_wallet.py and friends) -------------------------------------


def test_a_long_round_trip_pays_the_cost_and_then_credits_the_proceeds(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(XBT, "buy", 1, 100)
    assert wallet.balance == Decimal(900)

    pnl = wallet.close(XBT, 1, 110)
    assert pnl == Decimal(10)
    assert wallet.balance == Decimal(1010)
    assert wallet.realized_pnl == Decimal(10)
    assert XBT not in wallet.positions


def test_a_short_reserves_its_cost_and_closing_credits_the_reserve_plus_the_pnl(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(XBT, "sell", 1, 100)
    assert wallet.balance == Decimal(900)
    assert wallet.positions[XBT]["reserved"] == Decimal(100)
    assert wallet.positions[XBT]["side"] == "short"

    assert wallet.close(XBT, 1, 90) == Decimal(10)
    assert wallet.balance == Decimal(1010)


def test_partial_closes_credit_each_part_and_the_last_one_removes_the_position(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(XBT, "buy", 2, 50)
    assert wallet.balance == Decimal(900)
    wallet.close(XBT, 1, 55)
    assert wallet.balance == Decimal(955)
    assert wallet.positions[XBT]["size"] == Decimal(1)
    wallet.close(XBT, 1, 60)

    assert wallet.balance == Decimal(1015)
    assert XBT not in wallet.positions
    assert len(wallet.positions) == 0


def test_opening_a_symbol_that_is_already_open_is_refused_and_appends_nothing(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(XBT, "buy", 1, 100)
    seq = ledger.state().seq

    with pytest.raises(TradeRefused, match=r"XBT/USDT already has an open long XBT/USDT of size 1 at 100"):
        wallet.open(XBT, "buy", 1, 100)

    assert ledger.state().seq == seq
    assert wallet.balance == Decimal(900)


def test_a_long_and_a_short_side_by_side_mark_and_close_independently(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)
    wallet.open(ETH, "sell", 2, 50)
    assert wallet.balance == Decimal(800)

    # long (110 - 100) x 1 = 10, short (50 - 40) x 2 = 20
    assert wallet.unrealized({BTC: 110, ETH: 40}) == Decimal(30)

    wallet.close(BTC, 1, 110)
    wallet.close(ETH, 2, 40)
    assert wallet.balance == Decimal(1030)


def test_max_open_trades_blocks_a_third_open(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, max_open_trades=2)
    wallet.open(BTC, "buy", 1, 100)
    wallet.open(ETH, "buy", 1, 100)
    seq = ledger.state().seq

    with pytest.raises(TradeRefused, match=r"2 positions are open \(BTC/USD, ETH/USD\), max_open_trades is 2"):
        wallet.open(XBT, "buy", 1, 100)

    assert ledger.state().seq == seq
    assert sorted(wallet.positions) == [BTC, ETH]


def test_an_open_costing_more_than_95_percent_of_the_cash_is_refused_and_the_log_is_unchanged(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, 100)
    seq = ledger.state().seq

    with pytest.raises(TradeRefused, match=r"costs 120 .*more than 95 % of the cash 100 \(95\.00\)"):
        wallet.open(XBT, "buy", 2, 60)

    assert wallet.balance == Decimal(100)
    assert ledger.state().seq == seq


def test_an_open_may_spend_exactly_95_percent_of_the_cash(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, 100)

    with pytest.raises(TradeRefused):
        wallet.open(XBT, "buy", 1, "95.01")
    wallet.open(XBT, "buy", 1, 95)

    assert wallet.balance == Decimal(5)


def test_allow_short_false_blocks_a_short(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, allow_short=False)

    with pytest.raises(TradeRefused, match=r"shorts are not allowed \(allow_short=False\): sell XBT/USDT"):
        wallet.open(XBT, "sell", 1, 100)

    assert ledger.state().seq == 0
    assert wallet.balance == Decimal(1000)


def test_a_fractional_long_round_trip(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(BTC, "buy", Decimal("0.1"), 50)
    assert wallet.balance == Decimal(995)

    assert wallet.close(BTC, Decimal("0.1"), 60) == Decimal("1.0")
    assert wallet.balance == Decimal(1001)


def test_a_fractional_short_round_trip(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(BTC, "sell", Decimal("0.1"), 50)
    assert wallet.balance == Decimal(995)
    assert wallet.positions[BTC]["reserved"] == Decimal("5.0")

    assert wallet.close(BTC, Decimal("0.1"), 40) == Decimal("1.0")
    assert wallet.balance == Decimal(1001)


def test_a_partial_close_keeps_the_rest_open(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(BTC, "buy", 1, 50)
    assert wallet.balance == Decimal(950)
    wallet.close(BTC, Decimal("0.5"), 60)

    assert wallet.balance == Decimal(980)
    assert wallet.positions[BTC]["size"] == Decimal("0.5")
    assert wallet.positions[BTC]["amount"] == Decimal("0.5")


def test_win_rate_counts_winning_cycles_in_percent_of_the_cycles_opened(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", Decimal("0.1"), 50)
    wallet.close(BTC, Decimal("0.1"), 60)  # +1
    wallet.open(ETH, "buy", 1, 100)
    wallet.close(ETH, 1, 95)  # -5

    assert wallet.total_trades == 2
    assert wallet.winning_trades == 1
    assert wallet.win_rate == Decimal(50)
    assert wallet.realized_pnl == Decimal(-4)


def test_an_open_beyond_the_cash_is_refused(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    with pytest.raises(TradeRefused, match=r"costs 5000 "):
        wallet.open(BTC, "buy", 50, 100)

    assert wallet.balance == Decimal(1000)
    assert ledger.state().seq == 0


def test_a_refused_command_is_a_runtime_error_for_legacy_callers(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, 100)

    with pytest.raises(RuntimeError):
        wallet.open(XBT, "buy", 2, 60)


# --- where the wallet deliberately differs from the legacy code -----------------------------------


def test_closing_more_than_is_open_is_refused_not_clamped(ledger: Ledger) -> None:
    """The legacy close clamped the amount, hiding a caller's wrong size; the wallet never clamps."""
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)
    seq = ledger.state().seq

    with pytest.raises(TradeRefused, match=r"amount 2 is more than the open long BTC/USD of size 1 at 100"):
        wallet.close(BTC, 2, 110)

    assert ledger.state().seq == seq
    assert wallet.positions[BTC]["size"] == Decimal(1)


def test_closing_a_symbol_with_no_open_position_raises(ledger: Ledger) -> None:
    """The legacy close silently returned 0.0, so a lost position went unnoticed."""
    wallet = wallet_on(ledger)

    with pytest.raises(TradeRefused, match=r"account 'default' has no open position in BTC/USD"):
        wallet.close(BTC, 1, 100)

    assert ledger.state().seq == 0


def test_the_legacy_open_without_a_symbol_is_refused(ledger: Ledger) -> None:
    """open(side, amount, price) made positions with `symbol: None` keyed by a uuid; every fill needs a symbol."""
    wallet = wallet_on(ledger)

    with pytest.raises(InvalidArgument, match=r"symbol: open\(\) needs a BASE/QUOTE symbol .*got 'buy'"):
        wallet.open("buy", 1, 100)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"the legacy form without a symbol is not supported"):
        wallet.open("sell", 1, 100, "my-id")  # type: ignore[arg-type]

    assert ledger.state().seq == 0


def test_the_legacy_close_without_a_symbol_is_refused(ledger: Ledger) -> None:
    """close(amount, price[, id]) guessed the position when only one was open; the wallet is told which."""
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)

    with pytest.raises(InvalidArgument, match=r"symbol: close\(\) needs a BASE/QUOTE symbol .*got 1\b"):
        wallet.close(1, 110)  # type: ignore[arg-type]

    assert wallet.positions[BTC]["size"] == Decimal(1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("balance", 10_000),
        ("initial_balance", Decimal("5405.97")),
        ("positions", {}),
        ("realized_pnl", 0),
        ("total_trades", 0),
        ("winning_trades", 0),
        ("win_rate", 0),
    ],
)
def test_writing_a_derived_figure_raises_instead_of_resetting_it(ledger: Ledger, name: str, value: object) -> None:
    """The legacy fix scripts reset the balance, initial_balance and positions; here they are figures of the log."""
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)

    with pytest.raises(ReadOnlyView, match=rf"paper_wallet\.{name} is derived from the log"):
        setattr(wallet, name, value)
    with pytest.raises(ReadOnlyView):
        delattr(wallet, name)

    assert wallet.balance == Decimal(900)
    assert wallet.initial_balance == Decimal(1000)
    assert list(wallet.positions) == [BTC]


def test_the_positions_view_and_its_entries_refuse_writes(ledger: Ledger) -> None:
    """The legacy sync wiped and rebuilt this dict; a write here would be a second, drifting copy."""
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)
    positions: Any = wallet.positions

    with pytest.raises(ReadOnlyView, match=r"paper_wallet\.positions is a read-only view of the ledger; record a fill"):
        positions[ETH] = {"size": 1}
    with pytest.raises(ReadOnlyView):
        positions.clear()
    with pytest.raises(ReadOnlyView, match=r"paper_wallet\.open/close/buy/sell"):
        positions[BTC]["size"] = 2

    assert wallet.positions[BTC]["size"] == Decimal(1)


# --- the log is the only source -------------------------------------------------------------------


def test_fees_are_deducted_from_the_cash_and_the_pnl_stays_gross(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(BTC, "buy", 1, 100, fee=1)
    assert wallet.balance == Decimal(899)
    assert wallet.positions[BTC]["fees_paid"] == Decimal(1)

    assert wallet.close(BTC, 1, 110, fee="1.1") == Decimal(10)
    assert wallet.balance == Decimal("1007.9")  # 1000 - 100 - 1 + 110 - 1.1
    assert wallet.realized_pnl == Decimal(10)
    wallet.check_invariant()


def test_a_fill_the_trade_manager_records_moves_the_wallet(ledger: Ledger) -> None:
    """The legacy dashboard sell reached the TradeManager only, so the wallet never got the cash back."""
    manager = TradeManager(ledger, clock=lambda: T0)
    wallet = wallet_on(ledger, trade_manager=manager)
    wallet.open(BTC, "buy", 1, 100)

    manager.record_trade(create_trade(BTC, "sell", 1, 110, strategy="dashboard", timestamp=T0))

    assert wallet.balance == Decimal(1010)
    assert BTC not in wallet.positions
    assert wallet.realized_pnl == Decimal(10)


def test_a_fill_recorded_straight_into_the_ledger_counts_even_when_it_leaves_the_cash_below_zero(
    ledger: Ledger,
) -> None:
    """The legacy balance was clamped to 0, hiding the error; the wallet shows the books as they are."""
    wallet = wallet_on(ledger)

    ledger.record(external_fill("buy", "20", "100", fill_id="K-1"))

    assert wallet.balance == Decimal(-1000)
    assert wallet.positions[BTC]["size"] == Decimal(20)
    summary = wallet.get_wallet_summary()
    assert summary["is_healthy"] is False
    assert summary["available_balance"] == Decimal(-950)
    wallet.check_invariant()


def test_cash_below_zero_is_written_to_the_state_file_as_it_is_never_clamped(ledger: Ledger, tmp_path: Path) -> None:
    """The legacy save_state (and balance_manager after it) clamped the balance to 0 in the file: a dashboard
    saw a healthy wallet. The file shows the books: -1000 after a 2000 buy on 1000 of cash."""
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = wallet_on(ledger, state_file=state)

    ledger.record(external_fill("buy", "20", "100", fill_id="K-1"))
    wallet.save_state()

    written = read_yaml(state)
    assert (written["balance"], written["initial_balance"]) == (-1000.0, 1000.0)
    assert written["positions"][BTC]["size"] == 20.0


def test_commands_go_through_the_trade_manager_when_the_wallet_has_one(ledger: Ledger) -> None:
    manager = TradeManager(ledger, clock=lambda: T0)
    recorded: list[Trade] = []
    manager.add_trade_callback(recorded.append)
    wallet = wallet_on(ledger, trade_manager=manager)

    trade_id = wallet.open(BTC, "buy", 1, 100, "entry-1", strategy="momentum")

    assert trade_id == "entry-1"
    assert [trade.id for trade in recorded] == ["entry-1"]
    assert recorded[0].strategy == "momentum"
    position = manager.get_position(BTC)
    assert position is not None
    assert position.stop_loss_price == Decimal(99)  # the TradeManager gave the new cycle its risk levels
    assert ledger.state().seq == 1


def test_a_trade_manager_of_another_account_is_refused(ledger: Ledger) -> None:
    manager = TradeManager(ledger, account="hedge", clock=lambda: T0)

    with pytest.raises(InvalidArgument, match=r"trade_manager: keeps account 'hedge' but the wallet is for account"):
        wallet_on(ledger, trade_manager=manager)


def test_the_wallet_reads_only_its_own_account(ledger: Ledger) -> None:
    main = wallet_on(ledger)
    hedge = wallet_on(ledger, 500, account="hedge")

    hedge.open(BTC, "sell", 1, 100)

    assert main.balance == Decimal(1000)
    assert hedge.balance == Decimal(400)
    assert len(main.positions) == 0


def test_a_new_wallet_on_a_reopened_ledger_shows_the_same_books(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as first:
        wallet = wallet_on(first)
        wallet.open(BTC, "buy", 2, 50)
        wallet.close(BTC, 1, 55)
        wallet.open(ETH, "sell", 1, 100)
        before = (wallet.balance, wallet.realized_pnl, wallet.total_trades, wallet.positions.snapshot())

    with open_ledger(url) as reopened:
        again = wallet_on(reopened)
        after = (again.balance, again.realized_pnl, again.total_trades, again.positions.snapshot())

    assert after == before
    assert after[0] == Decimal(855)  # 1000 - 100 + 55 - 100


# --- commands ---------------------------------------------------------------------------------------


def test_open_returns_a_new_uuid_or_the_given_identifier(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    generated = wallet.open(BTC, "buy", 1, 100)
    given = wallet.open(ETH, "buy", 1, 100, "my-entry")

    assert len(generated) == 36
    assert generated.count("-") == 4
    assert given == "my-entry"
    assert [fill.fill.event_id for fill in ledger.history()] == [generated, "my-entry"]


def test_an_identifier_is_never_reused(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100, "entry-1")
    wallet.close(BTC, 1, 100)

    with pytest.raises(TradeRefused, match=r"identifier 'entry-1' is already the id of a paper fill"):
        wallet.open(BTC, "buy", 1, 100, "entry-1")

    assert ledger.state().seq == 2


def test_long_and_short_are_accepted_as_sides_and_anything_else_is_refused(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    wallet.open(BTC, "long", 1, 100)
    wallet.open(ETH, "short", 1, 100)

    assert wallet.positions[BTC]["side"] == "long"
    assert wallet.positions[ETH]["side"] == "short"
    with pytest.raises(InvalidArgument, match=r"side: must be one of buy, sell, long, short \(got 'hold'\)"):
        wallet.open(XBT, "hold", 1, 100)


def test_float_arguments_are_read_as_the_decimals_they_print(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, 1000.0)

    wallet.open(BTC, "buy", 0.1, 50.3)

    assert wallet.balance == Decimal("994.97")
    assert wallet.positions[BTC]["size"] == Decimal("0.1")


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((BTC, "buy", -1, 100), InvalidArgument, r"amount: must be a finite number above 0 \(got -1\)"),
        ((BTC, "buy", 1, "abc"), InvalidArgument, r"price: must be a decimal number \(got 'abc'\)"),
        ((BTC, "buy", 1, 0), InvalidArgument, r"price: must be a finite number above 0 \(got 0\)"),
        (("btc/usd", "buy", 1, 100), InvalidFill, r"symbol: must be BASE/QUOTE in capitals"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    ledger: Ledger, arguments: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    wallet = wallet_on(ledger)

    with pytest.raises(error, match=message):
        wallet.open(*arguments)

    assert ledger.state().seq == 0


def test_a_negative_fee_is_refused(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    with pytest.raises(InvalidArgument, match=r"fee: must be a finite number of 0 or more \(got -1\)"):
        wallet.buy(BTC, 1, 100, fee=-1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"balance": -1}, r"initial_balance: must be a finite number of 0 or more \(got -1\)"),
        ({"balance": "NaN"}, r"initial_balance: must be a finite number"),
        ({"max_open_trades": -1}, r"max_open_trades: must be a whole number of 0 or more \(got -1\)"),
        ({"max_open_trades": 2.5}, r"max_open_trades: must be a whole number of 0 or more \(got 2\.5\)"),
    ],
)
def test_bad_settings_are_refused(ledger: Ledger, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        wallet_on(ledger, **options)


def test_close_accepts_the_id_open_returned(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    trade_id = wallet.open(BTC, "buy", 1, 100, "entry-1")

    assert wallet.close(trade_id, 1, 120) == Decimal(20)

    assert wallet.balance == Decimal(1020)
    with pytest.raises(TradeRefused, match=r"no open position in entry-1"):
        wallet.close(trade_id, 1, 120)


def test_buy_has_no_safety_margin_and_averages_into_the_long(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, 300)

    wallet.buy(BTC, 1, 100)
    wallet.buy(BTC, 1, 190)  # 190 <= 200 cash, though above 95 % of it

    assert wallet.balance == Decimal(10)
    assert wallet.positions[BTC]["entry_price"] == Decimal(145)
    assert wallet.positions[BTC]["size"] == Decimal(2)
    assert wallet.total_trades == 1  # one cycle
    with pytest.raises(TradeRefused, match=r"costs 10\.5 \(fee 0\.5 included\), more than the cash 10"):
        wallet.buy(BTC, 1, 10, fee="0.5")


def test_buy_is_refused_onto_a_short_and_beyond_max_open_trades(ledger: Ledger) -> None:
    wallet = wallet_on(ledger, max_open_trades=1)
    wallet.open(BTC, "sell", 1, 100)

    with pytest.raises(TradeRefused, match=r"BTC/USD has an open short BTC/USD of size 1 at 100; buy\(\) only"):
        wallet.buy(BTC, 1, 90)
    with pytest.raises(TradeRefused, match=r"max_open_trades is 1: cannot open ETH/USD"):
        wallet.buy(ETH, 1, 10)

    assert ledger.state().seq == 1


def test_sell_only_reduces_a_long_and_returns_its_pnl(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)

    with pytest.raises(TradeRefused, match=r"sell: BTC/USD has no open position; sell\(\) only reduces a long"):
        wallet.sell(BTC, 1, 100)
    wallet.buy(BTC, 2, 100)
    with pytest.raises(TradeRefused, match=r"sell: amount 3 is more than the open long BTC/USD of size 2"):
        wallet.sell(BTC, 3, 100)
    wallet.open(ETH, "sell", 1, 100)
    with pytest.raises(TradeRefused, match=r"sell: ETH/USD has an open short"):
        wallet.sell(ETH, 1, 100)

    assert wallet.sell(BTC, 1, 90) == Decimal(-10)
    assert wallet.balance == Decimal(790)  # 1000 - 200 - 100 + 90
    assert wallet.positions[BTC]["size"] == Decimal(1)


# --- reads ----------------------------------------------------------------------------------------


def test_unrealized_supports_the_legacy_call_forms(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    trade_id = wallet.open(BTC, "buy", 2, 100)

    assert wallet.unrealized(110) == Decimal(20)
    assert wallet.unrealized(BTC, 90) == Decimal(-20)
    assert wallet.unrealized(trade_id, "105") == Decimal(10)
    assert wallet.unrealized({BTC: 120, ETH: 1}) == Decimal(40)  # ETH/USD is flat: it adds 0

    wallet.open(ETH, "sell", 1, 50)
    assert wallet.unrealized(ETH, 40) == Decimal(10)
    with pytest.raises(InvalidArgument, match=r"needs exactly one open position, there are 2 \(BTC/USD, ETH/USD\)"):
        wallet.unrealized(110)
    with pytest.raises(InvalidArgument, match=r"needs a price: unrealized\(symbol, price\)"):
        wallet.unrealized(BTC)
    with pytest.raises(InvalidArgument, match=r"'nope' is neither a BASE/QUOTE symbol nor the id of an open"):
        wallet.unrealized("nope", 1)


def test_a_position_entry_has_the_legacy_keys_and_the_trade_managers_mark(ledger: Ledger) -> None:
    manager = TradeManager(ledger, clock=lambda: T0)
    wallet = wallet_on(ledger, trade_manager=manager)
    wallet.open(BTC, "buy", 2, 100, fee="0.2")
    wallet.open(ETH, "sell", 1, 50)

    manager.update_price(BTC, 110)
    manager.update_price(ETH, 55)

    assert dict(wallet.positions[BTC]) == {
        "symbol": BTC,
        "side": "long",
        "size": Decimal(2),
        "amount": Decimal(2),
        "entry_price": Decimal(100),
        "current_price": Decimal(110),
        "pnl": Decimal("0.1"),
        "fees_paid": Decimal("0.2"),
        "reserved": Decimal(0),
        "entry_time": T0.isoformat(),
        "timestamp": T0.isoformat(),
    }
    assert wallet.positions[ETH]["pnl"] == Decimal("-0.1")  # a short loses when the price rises
    assert wallet.positions[ETH]["reserved"] == Decimal(50)


def test_without_a_mark_the_current_price_is_the_entry_price(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)

    assert wallet.positions[BTC]["current_price"] == Decimal(100)
    assert wallet.positions[BTC]["pnl"] == Decimal(0)


def test_the_wallet_summary_has_the_legacy_keys_and_available_is_95_percent_of_the_cash(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)
    wallet.open(ETH, "sell", 2, 50)

    assert wallet.get_wallet_summary() == {
        "balance": Decimal(800),
        "initial_balance": Decimal(1000),
        "total_position_value": Decimal(200),
        "available_balance": Decimal(760),  # not the legacy 800 - 200: the cost is already out of the cash
        "position_count": 2,
        "total_trades": 2,
        "winning_trades": 0,
        "win_rate": Decimal(0),
        "is_healthy": True,
    }


def test_the_position_summary_has_the_legacy_keys(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)
    wallet.close(BTC, 1, 110)
    wallet.open(ETH, "sell", 2, 50)

    assert wallet.get_position_summary() == {
        "balance": Decimal(910),
        "initial_balance": Decimal(1000),
        "realized_pnl": Decimal(10),
        "total_trades": 2,
        "winning_trades": 1,
        "win_rate": Decimal(50),
        "open_positions": 1,
        "positions": {
            ETH: {
                "symbol": ETH,
                "side": "short",
                "size": Decimal(2),
                "entry_price": Decimal(50),
                "reserved": Decimal(100),
                "entry_time": T0.isoformat(),
            }
        },
    }


def test_sync_from_trade_manager_accepts_the_legacy_arguments_and_changes_nothing(ledger: Ledger) -> None:
    manager = TradeManager(ledger, clock=lambda: T0)
    wallet = wallet_on(ledger, trade_manager=manager)
    wallet.open(BTC, "buy", 1, 100)
    before = (wallet.balance, wallet.positions.snapshot())

    wallet.sync_from_trade_manager([p.to_dict() for p in manager.get_all_positions()], {BTC: 120.0})
    wallet.sync_from_trade_manager()

    assert (wallet.balance, wallet.positions.snapshot()) == before
    assert ledger.state().seq == 1


def test_check_invariant_raises_when_the_books_do_not_reconcile(ledger: Ledger) -> None:
    wallet = wallet_on(ledger)
    wallet.open(BTC, "buy", 1, 100)
    wallet.check_invariant()

    books = wallet._book.wallet
    assert books is not None
    books.cash += 1  # a fold bug, simulated

    with pytest.raises(InvariantViolation, match=r"cash 901 \+ positions at cost 100 = 1001, but initial 1000"):
        wallet.check_invariant()


# --- the legacy YAML state file -------------------------------------------------------------------


def test_the_state_file_has_the_legacy_keys_and_is_rewritten_after_each_command(ledger: Ledger, tmp_path: Path) -> None:
    state = tmp_path / "logs" / "paper_wallet_state.yaml"
    wallet = wallet_on(ledger, state_file=state)

    wallet.open(BTC, "sell", Decimal("0.1"), 50)
    opened = read_yaml(state)
    assert set(opened) == LEGACY_STATE_KEYS
    assert opened["balance"] == 995.0
    assert opened["positions"][BTC]["reserved"] == 5.0
    assert opened["positions"][BTC]["side"] == "short"
    assert opened["positions"][BTC]["entry_time"] == T0.isoformat()

    wallet.close(BTC, Decimal("0.1"), 40)
    closed = read_yaml(state)
    assert closed == {
        "balance": 1001.0,
        "initial_balance": 1000.0,
        "realized_pnl": 1.0,
        "total_trades": 1,
        "winning_trades": 1,
        "positions": {},
    }


def test_the_state_file_is_never_read_back(ledger: Ledger, tmp_path: Path) -> None:
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = wallet_on(ledger, state_file=state)
    wallet.open(BTC, "buy", 1, 100)

    state.write_text("balance: -6717.23\npositions: {GHOST/USD: {size: 1}\n", encoding="utf-8")  # corrupt
    assert wallet.balance == Decimal(900)
    assert wallet_on(ledger, state_file=state).balance == Decimal(900)
    state.unlink()
    assert list(wallet_on(ledger, state_file=state).positions) == [BTC]

    wallet.close(BTC, 1, 110)
    assert read_yaml(state)["balance"] == 1010.0


def test_without_auto_save_the_state_file_is_written_only_on_request(ledger: Ledger, tmp_path: Path) -> None:
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = wallet_on(ledger, state_file=state, auto_save=False)
    wallet.open(BTC, "buy", 1, 100)
    assert not state.exists()

    assert wallet.save_state() == state
    assert read_yaml(state)["balance"] == 900.0
    other = tmp_path / "elsewhere.yaml"
    assert wallet.save_state(other) == other
    with pytest.raises(InvalidArgument, match=r"save_state: no path given and the PaperWallet has no state_file"):
        wallet_on(ledger).save_state()


def test_the_state_file_follows_trades_the_trade_manager_records(ledger: Ledger, tmp_path: Path) -> None:
    state = tmp_path / "paper_wallet_state.yaml"
    manager = TradeManager(ledger, clock=lambda: T0)
    wallet_on(ledger, trade_manager=manager, state_file=state)

    manager.record_trade(create_trade(BTC, "buy", 1, 100, timestamp=T0))

    saved = read_yaml(state)
    assert saved["balance"] == 900.0
    assert saved["positions"][BTC]["size"] == 1.0


def timed_wallet(ledger: Ledger, state: Path, seconds: list[float], **options: Any) -> PaperWallet:
    """A wallet writing the state file `state` for other writers' fills at most once a second of its monotonic
    clock, `seconds[0]` (its own commands write at once)."""
    return wallet_on(ledger, state_file=state, monotonic=lambda: seconds[0], state_write_interval_s=1.0, **options)


def test_the_state_file_follows_fills_other_writers_record_at_the_next_read_past_the_interval(
    open_bot_ledger: Callable[[], Ledger], tmp_path: Path
) -> None:
    """`tradeledger sync`, a script, another process: the dashboard's wallet file shows their fills too, at most an
    interval behind, as trade_manager_state.json does."""
    seconds = [0.0]
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = timed_wallet(open_bot_ledger(), state, seconds)
    wallet.open(BTC, "buy", 1, 100)  # the wallet's own command: written at once
    open_bot_ledger().record(external_fill("buy", "2", "10", fill_id="K-1", symbol=ETH))  # another process

    seconds[0] = 0.5
    assert wallet.balance == Decimal(880)
    assert sorted(read_yaml(state)["positions"]) == [BTC]  # within the interval: the file waits
    seconds[0] = 1.5
    assert wallet.balance == Decimal(880)

    written = read_yaml(state)
    assert written["balance"] == 880.0
    assert sorted(written["positions"]) == [BTC, ETH]
    assert written["positions"][ETH]["size"] == 2.0


def test_a_read_of_the_positions_is_a_tick_of_the_state_file_too(
    open_bot_ledger: Callable[[], Ledger], tmp_path: Path
) -> None:
    """The PositionMonitor of a bot without a TradeManager watches `paper_wallet.positions` only."""
    seconds = [0.0]
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = timed_wallet(open_bot_ledger(), state, seconds)
    wallet.open(BTC, "buy", 1, 100)
    open_bot_ledger().record(external_fill("buy", "2", "10", fill_id="K-1", symbol=ETH))

    seconds[0] = 1.5
    assert sorted(wallet.positions) == [BTC, ETH]

    assert read_yaml(state)["balance"] == 880.0


def test_the_state_file_follows_other_writers_at_the_trade_managers_tick_past_the_interval(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    """A bot that reads its positions through the TradeManager and only marks prices: its ticks are the wallet's."""
    seconds = [0.0]
    ledger = open_bot_ledger()
    manager = TradeManager(ledger, clock=clock, monotonic=lambda: seconds[0], mark_flush_interval_s=1.0)
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = timed_wallet(ledger, state, seconds, trade_manager=manager)
    wallet.open(BTC, "buy", 1, 100)
    open_bot_ledger().record(external_fill("sell", "1", "120", fill_id="K-1"))  # another process closes it

    seconds[0] = 1.5
    manager.update_price(ETH, 10)

    assert read_yaml(state) == {
        "balance": 1020.0,
        "initial_balance": 1000.0,
        "realized_pnl": 20.0,
        "total_trades": 1,
        "winning_trades": 1,
        "positions": {},
    }


def test_a_state_file_a_crashed_wallet_left_behind_is_current_again_after_a_restart(
    open_bot_ledger: Callable[[], Ledger], tmp_path: Path
) -> None:
    seconds = [0.0]
    state = tmp_path / "paper_wallet_state.yaml"
    crashed = timed_wallet(open_bot_ledger(), state, seconds)
    crashed.open(BTC, "buy", 1, 100)
    open_bot_ledger().record(external_fill("buy", "2", "10", fill_id="K-1", symbol=ETH))
    assert sorted(read_yaml(state)["positions"]) == [BTC]  # ... and the wallet's process dies here

    restarted = timed_wallet(open_bot_ledger(), state, seconds)
    assert restarted.balance == Decimal(880)

    assert sorted(read_yaml(state)["positions"]) == [BTC, ETH]


def test_without_auto_save_other_writers_fills_write_no_state_file(
    open_bot_ledger: Callable[[], Ledger], tmp_path: Path
) -> None:
    seconds = [0.0]
    state = tmp_path / "paper_wallet_state.yaml"
    wallet = timed_wallet(open_bot_ledger(), state, seconds, auto_save=False)
    open_bot_ledger().record(external_fill("buy", "2", "10", fill_id="K-1", symbol=ETH))

    seconds[0] = 1.5
    assert wallet.balance == Decimal(980)
    wallet.refresh()

    assert not state.exists()


def test_a_failed_state_file_write_is_logged_and_the_command_stands(
    ledger: Ledger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    wallet = wallet_on(ledger, state_file=blocker / "paper_wallet_state.yaml")

    with caplog.at_level(logging.ERROR, logger="tradeledger.compat"):
        wallet.open(BTC, "buy", 1, 100)

    assert wallet.balance == Decimal(900)
    assert "paper wallet state file" in caplog.text
    assert "was not rewritten" in caplog.text


def test_wallet_commands_and_trade_manager_trades_on_two_threads_do_not_deadlock(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A TradeManager thread runs the wallet's after_record hook while a wallet command appends through it."""
    manager = TradeManager(ledger, clock=lambda: T0)
    wallet = wallet_on(ledger, trade_manager=manager, state_file=tmp_path / "paper_wallet_state.yaml")
    rounds = 10
    failures: list[BaseException] = []

    def through_the_wallet() -> None:
        try:
            for n in range(rounds):
                wallet.open(f"W{n}/USD", "buy", 1, 10)
                wallet.close(f"W{n}/USD", 1, 11)  # +1
        except BaseException as error:
            failures.append(error)
            raise

    def through_the_trade_manager() -> None:
        try:
            for n in range(rounds):
                manager.record_trade(create_trade(f"M{n}/USD", "buy", 1, 10, timestamp=T0))
                manager.record_trade(create_trade(f"M{n}/USD", "sell", 1, 12, timestamp=T0))  # +2
        except BaseException as error:
            failures.append(error)
            raise

    threads = [threading.Thread(target=through_the_wallet), threading.Thread(target=through_the_trade_manager)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert wallet.balance == Decimal(1030)  # 1000 + 10 x 1 + 10 x 2
    assert wallet.total_trades == 2 * rounds
    assert read_yaml(tmp_path / "paper_wallet_state.yaml")["balance"] == 1030.0
    wallet.check_invariant()
