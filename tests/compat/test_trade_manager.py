"""The drop-in TradeManager: the legacy tests' pins (legacy-system.md 6.2, 1.3) through the legacy API.

Where we deliberately differ from the legacy code, the test asserts our behaviour and says why:
zero amounts, unknown sides and empty symbols are refused (spec 3); a flip closes the old cycle and
opens a new one with its own realized PnL (spec 4); a failing callback is reported, not silently
unsubscribed; the state file is a read model, so a corrupted one changes nothing.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import T0, Clock, times
from tradeledger import InvalidFill, Ledger
from tradeledger.compat import Position
from tradeledger.compat.config import ConfigError
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import POSITION_KEYS, TRADE_KEYS, Trade, create_trade
from tradeledger.errors import CallbackError, InvalidArgument, ReadOnlyView

BTC, ETH, SOL = "BTC/USD", "ETH/USD", "SOL/USD"


@pytest.fixture
def tm(open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path) -> TradeManager:
    return TradeManager(open_bot_ledger(), state_file=tmp_path / "trade_manager_state.json", clock=clock)


def trade(symbol: str, side: str, amount: str, price: str, fees: str = "0", **extra: Any) -> Trade:
    return create_trade(symbol, side, amount, price, fees=fees, timestamp=extra.pop("timestamp", T0), **extra)


# --- legacy pins that hold unchanged ------------------------------------------------------------


def test_a_trades_total_value_is_amount_times_price_without_fees() -> None:
    made = trade(BTC, "buy", "1.5", "50000", fees="0.001")

    assert (made.total_value, made.total_cost) == (Decimal(75000), Decimal("75000.001"))


def test_create_trade_gives_a_fresh_uuid_a_filled_status_and_the_legacy_keys() -> None:
    first, second = trade(BTC, "buy", "1", "100"), trade(BTC, "buy", "1", "100")

    assert first.id != second.id
    assert len(first.id) == 36
    assert first.status == "filled"
    assert tuple(first.to_dict()) == TRADE_KEYS


def test_unrealized_pnl_of_a_long_is_in_quote_and_percent(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "50000"))

    position = tm.get_position(BTC)

    assert position is not None
    assert position.calculate_unrealized_pnl(55000) == (Decimal(5000), Decimal("10.0"))


def test_unrealized_pnl_of_a_short_loses_when_the_price_rises(tm: TradeManager) -> None:
    tm.record_trade(trade(ETH, "sell", "2", "3000"))

    position = tm.get_position(ETH)

    assert position is not None
    pnl, pct = position.calculate_unrealized_pnl(3200)
    assert pnl == Decimal(-400)
    assert pct.quantize(Decimal("0.01")) == Decimal("-6.67")


def test_same_side_fills_average_the_entry_without_fees(tm: TradeManager) -> None:
    tm.record_trade(trade(ETH, "buy", "1", "3000", fees="1"))
    tm.record_trade(trade(ETH, "buy", "1", "3100", fees="1"))

    position = tm.get_position(ETH)

    assert position is not None
    assert (position.total_amount, position.average_price, position.fees_paid) == (
        Decimal(2),
        Decimal(3050),
        Decimal(2),
    )


def test_a_partial_close_books_pnl_and_keeps_the_average(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "2", "50000"))
    tm.record_trade(trade(BTC, "sell", "1", "55000"))

    position = tm.get_position(BTC)

    assert position is not None
    assert (position.total_amount, position.average_price, position.realized_pnl) == (
        Decimal(1),
        Decimal(50000),
        Decimal(5000),
    )


def test_a_reduction_after_two_buys_realizes_against_the_weighted_average(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "50000"))
    tm.record_trade(trade(BTC, "buy", "2", "51000"))
    tm.record_trade(trade(BTC, "sell", "1.5", "52000"))

    position = tm.get_position(BTC)

    assert position is not None
    assert position.total_amount == Decimal("1.5")
    assert position.average_price.quantize(Decimal("1E-10")) == Decimal("50666.6666666667")
    assert position.realized_pnl.quantize(Decimal("0.01")) == Decimal("2000.00")


def test_the_portfolio_summary_has_the_legacy_keys_and_counts(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "50000"))
    tm.record_trade(trade(ETH, "buy", "2", "3000"))
    tm.record_trade(trade(BTC, "sell", "0.5", "55000"))

    summary = tm.get_portfolio_summary()

    assert list(summary) == [
        "total_trades",
        "total_volume",
        "total_fees",
        "total_realized_pnl",
        "total_unrealized_pnl",
        "total_unrealized_pnl_pct",
        "total_pnl",
        "open_positions_count",
        "closed_positions_count",
        "positions",
        "last_update",
    ]
    assert (summary["total_trades"], summary["open_positions_count"], summary["closed_positions_count"]) == (3, 2, 0)
    assert summary["total_volume"] == Decimal(83500)  # 50000 + 6000 + 27500
    assert summary["total_realized_pnl"] == Decimal(2500)
    assert summary["positions"][BTC]["total_amount"] == 0.5


def test_positions_and_trades_survive_a_restart(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    first = TradeManager(open_bot_ledger(), clock=clock)
    first.record_trade(trade(BTC, "buy", "1.0", "50000"))
    first.record_trade(trade(ETH, "buy", "2", "3000"))
    first.close()

    again = TradeManager(open_bot_ledger(), clock=clock)

    assert len(again.get_trade_history()) == 2
    assert [position.symbol for position in again.get_all_positions()] == [BTC, ETH]
    reloaded = again.get_position(BTC)
    assert reloaded is not None
    assert reloaded.total_amount == Decimal("1.0")


def test_should_exit_checks_the_stop_then_the_take_profit(open_bot_ledger: Callable[[], Ledger], clock: Clock) -> None:
    # Stop 48000 and target 55000 on an entry of 50000: stop_loss_pct 0.04, take_profit_pct 0.10.
    config = {"risk": {"stop_loss_pct": 0.04, "take_profit_pct": 0.10, "trailing_stop_pct": None}}
    manager = TradeManager(open_bot_ledger(), config, clock=clock)
    manager.record_trade(trade(BTC, "buy", "1", "50000"))
    position = manager.get_position(BTC)
    assert position is not None

    assert (position.stop_loss_price, position.take_profit_price) == (Decimal(48000), Decimal(55000))
    assert position.should_exit(47000) == (True, "stop_loss")
    assert position.should_exit(56000) == (True, "take_profit")
    assert position.should_exit(51000) == (False, "")


# --- the legacy flows of 1.3 under spec 4 -------------------------------------------------------


def test_the_legacy_six_step_session_gives_spec_cycles_not_carried_pnl(tm: TradeManager) -> None:
    at = times()
    tm.record_trade(trade(BTC, "buy", "1", "100", fees="0.1", timestamp=next(at)))
    tm.record_trade(trade(BTC, "buy", "1", "110", fees="0.1", timestamp=next(at)))
    tm.record_trade(trade(BTC, "sell", "0.5", "120", fees="0.2", timestamp=next(at)))
    tm.record_trade(trade(BTC, "sell", "2.5", "130", fees="0.3", timestamp=next(at)))

    position = tm.get_position(BTC)
    closed = tm.get_closed_positions()

    # The flip closes the long (realized 7.5 + 25 x 1.5 = 45, with the closing share 0.18 of the
    # 0.3 fee) and opens a short of 1 at 130 with the opening share 0.12 and realized 0. The legacy
    # code carried 45 into the short and dropped the old fees.
    assert position is not None
    assert (position.side, position.total_amount, position.average_price) == ("short", Decimal(1), Decimal(130))
    assert (position.realized_pnl, position.fees_paid) == (Decimal(0), Decimal("0.12"))
    assert [(c.side, c.total_amount, c.realized_pnl, c.fees_paid) for c in closed] == [
        ("long", Decimal(0), Decimal(45), Decimal("0.58"))
    ]
    assert len(closed[0].trades) == 4  # every fill of the cycle, adds included (legacy dropped the add)
    statistics = tm.get_statistics()
    assert statistics == {
        "total_trades": 4,
        "total_volume": Decimal(595),
        "total_fees": Decimal("0.7"),
        "total_realized_pnl": Decimal(45),
    }


def test_the_total_realized_pnl_is_the_ledgers_to_the_last_digit_whatever_order_the_symbols_were_first_traded(
    tm: TradeManager,
) -> None:
    # Three cycles, each closed at a realized PnL of 28 significant digits (the average of 1 @ a and 2 @ b
    # is a third). Their exact sum is -172; a sum of 28-digit Decimals rounds, and where it rounds depends
    # on the order it adds them in. The ledger adds its symbols in symbol order (BTC, ETH, SOL): the
    # TradeManager's statistics must say the same number as `Ledger.state().totals` and `positions`.
    for symbol, first, then, exit_price in (
        (SOL, "197", "34", "50"),
        (BTC, "127", "12", "1"),
        (ETH, "71", "166", "50"),
    ):
        tm.record_trade(trade(symbol, "buy", "1", first))
        tm.record_trade(trade(symbol, "buy", "2", then))
        tm.record_trade(trade(symbol, "sell", "1", exit_price))

    ledger_total = tm.ledger.state(account="default").totals.realized_pnl
    assert ledger_total == Decimal("-171.9999999999999999999999999")
    assert tm.get_statistics()["total_realized_pnl"] == ledger_total
    summary = tm.get_portfolio_summary()
    assert (summary["total_realized_pnl"], summary["total_pnl"]) == (ledger_total, ledger_total)


def test_a_closed_position_is_not_returned_by_get_position(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100"))
    tm.record_trade(trade(BTC, "sell", "1", "125"))

    assert tm.get_position(BTC) is None
    assert tm.get_all_positions() == []
    assert [(c.symbol, c.realized_pnl, c.is_open) for c in tm.get_closed_positions()] == [(BTC, Decimal(25), False)]


# --- where we differ on purpose -------------------------------------------------------------------


def test_a_zero_amount_trade_is_refused_naming_the_field() -> None:
    # Legacy kept it in history without effect; spec 3 requires quantity > 0.
    with pytest.raises(InvalidFill, match="amount"):
        trade(BTC, "buy", "0", "100")


def test_an_unknown_side_is_refused_instead_of_becoming_a_short() -> None:
    with pytest.raises(InvalidFill, match="side"):
        trade(BTC, "hold", "1", "100")


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(InvalidFill, match="price"):
        trade(BTC, "buy", "1", "-5")


def test_an_empty_symbol_is_refused_because_a_fill_needs_base_and_quote() -> None:
    with pytest.raises(InvalidFill, match="symbol"):
        trade("", "buy", "1", "100")


def test_a_large_amount_is_kept_exactly_and_an_absurd_one_is_refused(tm: TradeManager) -> None:
    # Legacy capped 1e30 silently; the ledger keeps amounts up to 1E+24 exactly and refuses the rest.
    tm.record_trade(trade(BTC, "buy", "1E21", "1"))
    position = tm.get_position(BTC)

    assert position is not None
    assert position.total_amount == Decimal("1E21")
    with pytest.raises(InvalidFill, match=r"amount: is out of range .*1E\+30"):
        trade(BTC, "buy", "1E30", "1")


def test_a_trailing_percentage_of_5_is_refused_as_not_a_fraction(
    open_bot_ledger: Callable[[], Ledger],
) -> None:
    # The legacy test passed 5.0 meaning 5 % and the code read it as 500 % (a stop of -210000).
    with pytest.raises(ConfigError, match=r"exit_strategy\.trailing_stop_pct.*5"):
        TradeManager(open_bot_ledger(), {"exit_strategy": {"trailing_stop_pct": 5.0}})


def test_recording_the_same_trade_twice_appends_one_fill_and_calls_back_once(tm: TradeManager) -> None:
    seen: list[str] = []
    tm.add_trade_callback(lambda t: seen.append(t.id))
    made = trade(BTC, "buy", "1", "100")

    assert tm.record_trade(made) == tm.record_trade(made) == made.id
    assert seen == [made.id]
    assert tm.ledger.head.seq == 1


def test_a_failing_callback_is_reported_and_stays_subscribed(tm: TradeManager) -> None:
    # Legacy logged the error and silently unsubscribed the callback forever.
    calls: list[str] = []

    def broken(made: Trade) -> None:
        calls.append(made.id)
        raise RuntimeError("dashboard down")

    tm.add_trade_callback(broken)
    with pytest.raises(CallbackError, match=r"was recorded at seq 1.*dashboard down"):
        tm.record_trade(trade(BTC, "buy", "1", "100"))
    with pytest.raises(CallbackError):
        tm.record_trade(trade(BTC, "buy", "1", "101"))

    assert len(calls) == 2
    assert tm.ledger.head.seq == 2  # the fills were recorded all the same


def test_a_corrupted_state_file_changes_nothing_because_it_is_never_read(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    # Legacy loaded an empty state from a bad file and then saved it over the good one.
    state = tmp_path / "trade_manager_state.json"
    first = TradeManager(open_bot_ledger(), state_file=state, clock=clock)
    first.record_trade(trade(BTC, "buy", "1", "100"))
    state.write_text("{not json", encoding="utf-8")

    again = TradeManager(open_bot_ledger(), state_file=state, clock=clock)

    position = again.get_position(BTC)
    assert position is not None
    assert position.total_amount == Decimal(1)


def test_concurrent_trades_and_price_updates_lose_nothing(tm: TradeManager) -> None:
    symbols = [BTC, ETH, "SOL/USD"]
    errors: list[BaseException] = []

    def trader(symbol: str) -> None:
        try:
            for _ in range(2):
                tm.record_trade(trade(symbol, "buy", "1", "10"))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread and asserted below
            errors.append(error)

    def ticker(symbol: str) -> None:
        try:
            for price in range(11, 31):
                tm.update_price(symbol, price)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread and asserted below
            errors.append(error)

    threads = [threading.Thread(target=job, args=(s,)) for s in symbols for job in (trader, ticker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(tm.get_trade_history()) == 6
    assert {p.symbol: p.total_amount for p in tm.get_all_positions()} == dict.fromkeys(symbols, Decimal(2))


def test_a_thousand_trades_fold_to_the_exact_position(tm: TradeManager) -> None:
    for n in range(1000):
        tm.record_trade(trade(BTC, "buy", "0.001", str(100 + n % 10)))

    position = tm.get_position(BTC)

    assert position is not None
    assert position.total_amount == Decimal("1.000")
    # Each add's average is a 28-digit quotient (spec 4), so 1000 adds land within 1E-24 of 104.5.
    assert position.average_price.quantize(Decimal("1E-20")) == Decimal("104.5")
    assert len(tm.get_trade_history(BTC, limit=10)) == 10


def test_trade_dicts_round_trip_with_unicode_and_nested_metadata() -> None:
    made = trade(BTC, "buy", "0.5", "96000", fees="1.25", strategy="grid ✓", metadata={"a": {"b": [1, "ü"]}})

    again = Trade.from_dict(json.loads(json.dumps(made.to_dict())))

    assert again == made


def test_position_dicts_have_the_legacy_keys_and_null_for_unset_levels(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100"))
    position = tm.get_position(BTC)
    assert position is not None

    data = position.to_dict()
    assert tuple(data) == POSITION_KEYS
    assert Position.from_dict(json.loads(json.dumps(data))).total_amount == Decimal(1)


# --- prices, levels, callbacks ---------------------------------------------------------------------


def test_risk_levels_of_a_new_cycle_come_from_the_config(open_bot_ledger: Callable[[], Ledger], clock: Clock) -> None:
    config = {"exit_strategy": {"stop_loss_pct": 0.02, "take_profit_pct": 0.05, "trailing_stop_pct": 0.01}}
    manager = TradeManager(open_bot_ledger(), config, clock=clock)
    manager.record_trade(trade(BTC, "buy", "1", "100"))
    manager.record_trade(trade(ETH, "sell", "1", "100"))

    long_position, short_position = manager.get_position(BTC), manager.get_position(ETH)

    assert long_position is not None
    assert short_position is not None
    assert (long_position.stop_loss_price, long_position.take_profit_price) == (Decimal(98), Decimal(105))
    assert (short_position.stop_loss_price, short_position.take_profit_price) == (Decimal(102), Decimal(95))
    assert long_position.trailing_stop_pct == Decimal("0.01")


def test_default_levels_are_one_percent_stop_four_percent_target_and_point_eight_trailing(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "50000"))

    position = tm.get_position(BTC)

    assert position is not None
    assert (position.stop_loss_price, position.take_profit_price, position.trailing_stop_pct) == (
        Decimal(49500),
        Decimal(52000),
        Decimal("0.008"),
    )


def test_the_trailing_stop_ratchets_up_and_never_back(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "50000"))

    tm.update_price(BTC, 51000)  # 51000 x 0.992 = 50592
    tm.update_price(BTC, 50700)  # lower: the stop stays
    position = tm.get_position(BTC)

    assert position is not None
    assert (position.highest_price, position.lowest_price) == (Decimal(51000), Decimal(50000))
    assert position.stop_loss_price == Decimal(50592)
    assert position.should_exit(50592) == (True, "stop_loss")


def test_the_stops_survive_a_restart(open_bot_ledger: Callable[[], Ledger], clock: Clock) -> None:
    first = TradeManager(open_bot_ledger(), clock=clock)
    first.record_trade(trade(BTC, "buy", "1", "50000"))
    first.update_price(BTC, 52000)
    first.close()

    position = TradeManager(open_bot_ledger(), clock=clock).get_position(BTC)

    assert position is not None
    assert (position.highest_price, position.stop_loss_price) == (Decimal(52000), Decimal(51584))


def test_price_ticks_write_no_state_file_and_no_marks_until_the_flush(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    state = tmp_path / "trade_manager_state.json"
    ledger = open_bot_ledger()
    manager = TradeManager(ledger, state_file=state, clock=clock, mark_flush_interval_s=3600)
    manager.record_trade(trade(BTC, "buy", "1", "100"))
    written = state.read_text(encoding="utf-8")

    for price in range(101, 151):
        manager.update_price(BTC, price)

    assert state.read_text(encoding="utf-8") == written
    assert BTC not in ledger.marks().prices
    manager.flush_marks()
    assert ledger.marks().prices[BTC].price == Decimal(150)
    assert ledger.head.seq == 1  # marks are not fills: the log did not grow


# Stop 2 %, trailing 1 %: a buy at 100 starts at stop 98; a mark of 120 ratchets it to 118.80.
TRAIL_1PCT = {"exit_strategy": {"trailing_stop_pct": 0.01, "stop_loss_pct": 0.02, "take_profit_pct": 0.5}}


def test_a_tick_that_ratchets_the_stop_stores_it_before_update_price_returns(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    ledger = open_bot_ledger()
    manager = TradeManager(ledger, config=TRAIL_1PCT, clock=clock, mark_flush_interval_s=3600)
    manager.record_trade(trade(BTC, "buy", "1", "100"))

    manager.update_price(BTC, 120)

    levels = ledger.marks().levels[("default", BTC)]
    assert (levels.stop_loss_price, levels.highest_price) == (Decimal("118.8"), Decimal(120))
    assert BTC not in ledger.marks().prices  # the last price itself waits for the coalesced flush


def test_only_ticks_that_move_a_level_commit_a_write(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    manager = TradeManager(open_bot_ledger(), config=TRAIL_1PCT, clock=clock, mark_flush_interval_s=3600)
    manager.record_trade(trade(BTC, "buy", "1", "100"))
    manager.update_price(BTC, 120)
    watcher = sqlite3.connect(tmp_path / "bot.db")  # data_version moves when another connection commits
    before = watcher.execute("PRAGMA data_version").fetchone()[0]

    for price in (110, 119, 100, 101):  # inside the watermarks 100..120: no level moves
        manager.update_price(BTC, price)
    quiet = watcher.execute("PRAGMA data_version").fetchone()[0]
    manager.update_price(BTC, 99)  # a new low watermark
    moved = watcher.execute("PRAGMA data_version").fetchone()[0]
    watcher.close()

    assert quiet == before
    assert moved != before


def test_a_trade_manager_that_was_behind_adopts_the_tighter_stored_stop_and_never_stores_its_own(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    stale = TradeManager(open_bot_ledger(), config=TRAIL_1PCT, clock=clock)
    stale.record_trade(trade(BTC, "buy", "1", "100"))
    ahead = TradeManager(open_bot_ledger(), config=TRAIL_1PCT, clock=clock)
    ahead.update_price(BTC, 120)

    stale.update_price(BTC, 101)  # its own ratchet would give 101 x 0.99 = 99.99
    stale.close()

    position = stale.get_position(BTC)
    assert position is not None
    assert (position.stop_loss_price, position.highest_price) == (Decimal("118.8"), Decimal(120))
    assert position.should_exit(118) == (True, "stop_loss")
    stored = open_bot_ledger().marks().levels[("default", BTC)]
    assert (stored.stop_loss_price, stored.highest_price) == (Decimal("118.8"), Decimal(120))


def test_trade_callbacks_fire_before_position_callbacks_and_price_callbacks_only_on_change(
    tm: TradeManager,
) -> None:
    events: list[tuple[object, ...]] = []
    tm.add_trade_callback(lambda t: events.append(("trade", t.amount)))
    tm.add_position_callback(lambda p: events.append(("position", p.total_amount)))
    tm.add_price_callback(lambda symbol, p: events.append(("price", symbol, p)))

    tm.record_trade(trade(BTC, "buy", "1", "100"))
    tm.update_price(BTC, 101)
    tm.update_price(BTC, 101)
    tm.update_price(BTC, 102)

    assert events == [
        ("trade", Decimal(1)),
        ("position", Decimal(1)),
        ("price", BTC, Decimal(101)),
        ("price", BTC, Decimal(102)),
    ]


def test_trade_history_filters_by_symbol_and_keeps_the_most_recent_with_a_limit(tm: TradeManager) -> None:
    at = times()
    for price in ("100", "101", "102"):
        tm.record_trade(trade(BTC, "buy", "1", price, timestamp=next(at)))
    tm.record_trade(trade(ETH, "buy", "1", "10", timestamp=next(at)))

    assert [t.price for t in tm.get_trade_history(BTC, limit=2)] == [Decimal(101), Decimal(102)]
    assert [t.symbol for t in tm.get_trade_history()] == [BTC, BTC, BTC, ETH]


def test_total_unrealized_pnl_counts_marked_positions_only(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100"))
    tm.record_trade(trade(ETH, "sell", "2", "50"))
    tm.update_price(BTC, 110)

    assert tm.get_total_unrealized_pnl() == (Decimal(10), Decimal(10))
    tm.update_price(ETH, 40)
    assert tm.get_total_unrealized_pnl() == (Decimal(30), Decimal(15))  # 30 / (100 + 100) x 100


# --- read models ---------------------------------------------------------------------------------


def test_ctx_positions_is_the_legacy_shape_and_always_current(tm: TradeManager) -> None:
    ctx_positions = tm.legacy_positions()
    assert dict(ctx_positions) == {}

    tm.record_trade(trade(BTC, "buy", "2", "100", strategy="breakout"))
    tm.update_price(BTC, 105)

    assert dict(ctx_positions[BTC]) == {
        "entry_price": Decimal(100),
        "size": Decimal(2),
        "side": "long",
        "symbol": BTC,
        "pnl": Decimal(10),
        "highest_price": Decimal(105),
        "lowest_price": Decimal(100),
        "trailing_stop": Decimal("104.160"),
        "timestamp": T0.isoformat(),
        "strategy": "breakout",
        "entry_time": T0.isoformat(),
    }


def test_writing_to_ctx_positions_names_the_trade_manager_call(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100"))
    ctx_positions: Any = tm.legacy_positions()

    with pytest.raises(ReadOnlyView, match=r"record_trade\(create_trade"):
        ctx_positions["ETH/USD"] = {"size": 1}
    with pytest.raises(ReadOnlyView, match="record_trade"):
        ctx_positions[BTC]["size"] = 5
    with pytest.raises(ReadOnlyView):
        ctx_positions.pop(BTC)
    assert ctx_positions[BTC]["size"] == Decimal(1)


def test_save_state_writes_the_legacy_layout_atomically(tm: TradeManager, tmp_path: Path) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100", fees="0.1"))
    tm.record_trade(trade(BTC, "sell", "1", "110", fees="0.1"))
    tm.record_trade(trade(ETH, "buy", "2", "50"))
    tm.update_price(ETH, 55)

    path = tm.save_state()
    state = json.loads(path.read_text(encoding="utf-8"))

    assert list(state) == ["trades", "positions", "closed_positions", "price_cache", "statistics", "last_save_time"]
    assert list(state["positions"]) == [ETH]
    assert state["closed_positions"][0]["realized_pnl"] == 10.0
    assert state["price_cache"] == {ETH: 55.0}
    assert state["statistics"] == {
        "total_trades": 3,
        "total_volume": 310.0,
        "total_fees": 0.2,
        "total_realized_pnl": 10.0,
    }
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


def timed_manager(ledger: Ledger, state: Path, clock: Clock, seconds: list[float]) -> TradeManager:
    """A TradeManager writing the state file `state` at most once a second of its monotonic clock, `seconds[0]`."""
    return TradeManager(ledger, state_file=state, clock=clock, monotonic=lambda: seconds[0], state_write_interval_s=1.0)


def test_the_state_file_follows_trades_at_most_once_per_interval_and_fully_on_close(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    seconds = [0.0]
    state = tmp_path / "trade_manager_state.json"
    manager = timed_manager(open_bot_ledger(), state, clock, seconds)

    def trades_in_file() -> int:
        return len(json.loads(state.read_text(encoding="utf-8"))["trades"])

    manager.record_trade(trade(BTC, "buy", "1", "100"))
    manager.record_trade(trade(BTC, "buy", "1", "101"))
    assert trades_in_file() == 1  # written on the first trade; the second is within the interval
    seconds[0] = 1.5
    manager.record_trade(trade(BTC, "buy", "1", "102"))
    assert trades_in_file() == 3
    manager.record_trade(trade(BTC, "buy", "1", "103"))
    manager.close()
    assert trades_in_file() == 4


def test_the_state_file_follows_fills_other_writers_record_at_the_next_tick_past_the_interval(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    """A wallet appending straight to the ledger, `tradeledger sync`, another process: the dashboard's file shows
    their fills too, at most an interval behind, as it shows this TradeManager's own."""
    seconds = [0.0]
    state = tmp_path / "trade_manager_state.json"
    manager = timed_manager(open_bot_ledger(), state, clock, seconds)
    manager.record_trade(trade(BTC, "buy", "1", "100"))
    TradeManager(open_bot_ledger(), clock=clock).record_trade(trade(ETH, "buy", "2", "10"))  # another process

    seconds[0] = 1.5
    manager.update_price(BTC, 101)

    written = json.loads(state.read_text(encoding="utf-8"))
    assert [t["symbol"] for t in written["trades"]] == [BTC, ETH]
    assert sorted(written["positions"]) == [BTC, ETH]


def test_a_state_file_a_crashed_process_left_behind_is_current_again_after_a_restart(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    seconds = [0.0]
    state = tmp_path / "trade_manager_state.json"
    crashed = timed_manager(open_bot_ledger(), state, clock, seconds)
    crashed.record_trade(trade(BTC, "buy", "1", "100"))
    crashed.record_trade(trade(BTC, "buy", "1", "101"))  # within the interval: the file holds the first only
    assert len(json.loads(state.read_text(encoding="utf-8"))["trades"]) == 1  # ... and the process dies here

    restarted = TradeManager(open_bot_ledger(), state_file=state, clock=clock, mark_flush_interval_s=0)
    restarted.update_price(BTC, 102)

    assert len(json.loads(state.read_text(encoding="utf-8"))["trades"]) == 2


def test_without_sync_legacy_systems_no_state_file_is_written_per_trade(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    state = tmp_path / "trade_manager_state.json"
    manager = TradeManager(
        open_bot_ledger(), {"trade_manager": {"sync_legacy_systems": False}}, state_file=state, clock=clock
    )

    manager.record_trade(trade(BTC, "buy", "1", "100"))
    manager.close()

    assert not state.exists()
    manager.save_state()  # an explicit call still writes it
    assert state.exists()


def test_an_unwritable_state_file_is_logged_and_the_recorded_trade_stands(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be", encoding="utf-8")
    manager = TradeManager(open_bot_ledger(), state_file=blocker / "trade_manager_state.json", clock=clock)
    after: list[str] = []
    manager.after_record(lambda: after.append("hook"))

    assert manager.record_trade(trade(BTC, "buy", "1", "100")) is not None

    assert manager.ledger.head.seq == 1
    assert after == ["hook"]  # the other read models still follow
    assert "trade_manager_state.json not written" in caplog.text
    with pytest.raises(FileExistsError, match="not-a-folder"):
        manager.save_state()  # an explicit save reports the error itself


def test_copies_and_pickles_of_ctx_positions_are_plain_dicts(tm: TradeManager) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100"))
    ctx_positions = tm.legacy_positions()

    entry_copy: Any = copy.copy(ctx_positions[BTC])
    deep: Any = copy.deepcopy(ctx_positions)
    unpickled = pickle.loads(pickle.dumps(ctx_positions[BTC]))  # noqa: S301 - our own bytes

    entry_copy["size"] = Decimal(5)  # the copy is the caller's to change
    assert type(deep) is dict
    assert type(deep[BTC]) is dict
    assert unpickled["size"] == deep[BTC]["size"] == ctx_positions[BTC]["size"] == Decimal(1)


def test_a_price_with_more_than_28_digits_is_refused_not_rounded(tm: TradeManager) -> None:
    with pytest.raises(InvalidArgument, match="more than 28 significant digits"):
        tm.update_price(BTC, "100.0000000000000000000000000000001")

    assert BTC not in tm.price_cache


@pytest.mark.parametrize("price", ["1E+5000", "1E+25", "1E-40"])
def test_a_price_outside_a_fill_prices_range_is_refused_and_moves_no_level(tm: TradeManager, price: str) -> None:
    tm.record_trade(trade(BTC, "buy", "1", "100"))
    before = tm.get_position(BTC)
    assert before is not None

    with pytest.raises(InvalidArgument, match=rf"^price: is out of range 1E-24\.\.1E\+24 \(got {re.escape(price)}\)$"):
        tm.update_price(BTC, price)

    after = tm.get_position(BTC)
    assert after is not None
    assert (after.stop_loss_price, after.highest_price, after.lowest_price) == (
        before.stop_loss_price, before.highest_price, before.lowest_price
    )  # fmt: skip
    assert BTC not in tm.price_cache


def test_a_legacy_position_dict_with_a_percent_trailing_stop_is_refused() -> None:
    data = {
        "symbol": BTC,
        "side": "long",
        "total_amount": 1.0,
        "average_price": 50000.0,
        "entry_time": T0.isoformat(),
        "trailing_stop_pct": 5.0,
    }

    with pytest.raises(InvalidArgument, match=r"trailing_stop_pct is a fraction.*5"):
        Position.from_dict(data)
