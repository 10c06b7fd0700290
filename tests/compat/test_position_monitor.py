"""The drop-in PositionMonitor (legacy-system.md §4) over a real SQLite ledger and TradeManager.

Legacy pins (legacy path, trailing_stop_pct 0.02, take_profit_pct 0.05) are kept as numbers. Where
we deliberately differ, the test says why:

* `long`/`short` dicts are read as long/short (the legacy code read every side but `buy` as short);
* a short without a stop (trailing_stop 0) is not exited at once (legacy: `price >= 0`);
* when the TradeManager holds the position it decides alone (legacy fell through to the legacy
  check and exited every TradeManager long as "trailing_stop" on its first tick);
* a position closed by a fill stops being monitored (no ghost), and an unknown side is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from tests.factories import T0
from tradeledger import Ledger
from tradeledger.compat.monitor import ExitSignal, PositionMonitor
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import create_trade
from tradeledger.errors import InvalidArgument

BTC = "BTC/USD"
ETH = "ETH/USD"
LEGACY_PINS = {"exit_strategy": {"trailing_stop_pct": 0.02, "take_profit_pct": 0.05}}


class Prices:
    """A price source: the current price of each symbol, and every symbol asked for."""

    def __init__(self, **prices: Decimal | float | str) -> None:
        self.prices: dict[str, Any] = {symbol.replace("_", "/"): price for symbol, price in prices.items()}
        self.asked: list[str] = []

    def __call__(self, symbol: str) -> Any:
        self.asked.append(symbol)
        return self.prices[symbol]


class Exits:
    """An on_exit_triggered handler that records its calls (and optionally runs an action)."""

    def __init__(self, action: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], Decimal, str]] = []
        self.action = action

    def __call__(self, symbol: str, position: Mapping[str, Any], price: Decimal, reason: str) -> None:
        self.calls.append((symbol, dict(position), price, reason))
        if self.action is not None:
            self.action(symbol, position, price, reason)


def legacy_position(side: str = "buy", **fields: float) -> dict[str, Any]:
    """The pre-TradeManager ctx.positions shape, floats as the legacy bot kept them."""
    return {
        "side": side,
        "entry_price": 50000.0,
        "size": 0.1,
        "trailing_stop": 0.0,
        "highest_price": 50000.0,
        "lowest_price": 50000.0,
        "pnl": 0.0,
        **fields,
    }


def legacy_monitor(
    prices: Prices, config: Mapping[str, Any] = LEGACY_PINS, exits: Exits | None = None
) -> PositionMonitor:
    return PositionMonitor(config, price_source=prices, on_exit_triggered=exits)


def open_long(trade_manager: TradeManager, symbol: str = BTC, price: str = "50000", minutes: int = 0) -> None:
    trade_manager.record_trade(create_trade(symbol, "buy", "1", price, timestamp=T0 + timedelta(minutes=minutes)))


def close_through_trade_manager(trade_manager: TradeManager) -> Any:
    """The bot's exit handler: it closes the position by recording the closing fill."""

    def close(symbol: str, position: Mapping[str, Any], price: Decimal, _reason: str) -> None:
        side = "sell" if position["side"] in {"buy", "long"} else "buy"
        trade_manager.record_trade(
            create_trade(symbol, side, position["size"], price, timestamp=T0 + timedelta(hours=1))
        )

    return close


# --- legacy path: the pins of tests/test_position_monitor.py -------------------------------------


@pytest.mark.parametrize("side", ["buy", "long"])
def test_legacy_long_trailing_stop_follows_a_high_of_fifty_two_thousand_to_fifty_thousand_nine_hundred_sixty(
    side: str,
) -> None:
    prices = Prices(BTC_USD=52000)
    monitor = legacy_monitor(prices)
    monitor.start_monitoring(BTC, legacy_position(side, highest_price=51000.0, trailing_stop=49000.0))

    signal = monitor.check(BTC)

    assert signal is None
    assert monitor.positions[BTC]["highest_price"] == Decimal(52000)
    assert monitor.positions[BTC]["trailing_stop"] == Decimal(50960)


@pytest.mark.parametrize("side", ["sell", "short"])
def test_legacy_short_trailing_stop_follows_a_low_of_forty_eight_thousand_to_forty_eight_thousand_nine_hundred_sixty(
    side: str,
) -> None:
    prices = Prices(BTC_USD=48000)
    monitor = legacy_monitor(prices)
    monitor.start_monitoring(BTC, legacy_position(side, lowest_price=49000.0))

    signal = monitor.check(BTC)

    assert signal is None
    assert monitor.positions[BTC]["lowest_price"] == Decimal(48000)
    assert monitor.positions[BTC]["trailing_stop"] == Decimal(48960)


@pytest.mark.parametrize("side", ["buy", "long"])
def test_legacy_long_below_its_stop_of_fifty_one_thousand_exits_as_trailing_stop(side: str) -> None:
    exits = Exits()
    monitor = legacy_monitor(Prices(BTC_USD=50900), exits=exits)
    monitor.start_monitoring(BTC, legacy_position(side, trailing_stop=51000.0, highest_price=52000.0))

    signal = monitor.check(BTC)

    assert signal == ExitSignal(BTC, Decimal(50900), "trailing_stop", "legacy")
    assert [(symbol, price, reason) for symbol, _, price, reason in exits.calls] == [
        (BTC, Decimal(50900), "trailing_stop")
    ]


@pytest.mark.parametrize("side", ["buy", "long"])
def test_legacy_long_entered_at_fifty_thousand_takes_profit_at_fifty_two_thousand_five_hundred(side: str) -> None:
    monitor = legacy_monitor(Prices(BTC_USD=52500))
    monitor.start_monitoring(BTC, legacy_position(side))

    assert monitor.check(BTC) == ExitSignal(BTC, Decimal(52500), "take_profit", "legacy")


@pytest.mark.parametrize("side", ["buy", "long"])
def test_legacy_long_with_stop_forty_nine_thousand_at_fifty_thousand_five_hundred_does_not_exit(side: str) -> None:
    exits = Exits()
    monitor = legacy_monitor(Prices(BTC_USD=50500), exits=exits)
    monitor.start_monitoring(BTC, legacy_position(side, trailing_stop=49000.0))

    assert monitor.check(BTC) is None
    assert exits.calls == []


@pytest.mark.parametrize("side", ["sell", "short"])
def test_legacy_short_exits_as_trailing_stop_when_the_price_rises_to_its_stop(side: str) -> None:
    monitor = legacy_monitor(Prices(BTC_USD=48960))
    monitor.start_monitoring(BTC, legacy_position(side, trailing_stop=48960.0, lowest_price=48000.0))

    assert monitor.check(BTC) == ExitSignal(BTC, Decimal(48960), "trailing_stop", "legacy")


@pytest.mark.parametrize("side", ["sell", "short"])
def test_legacy_short_without_a_stop_below_its_entry_is_not_exited_on_its_first_tick(side: str) -> None:
    # The legacy check was `price >= trailing_stop` with a stop of 0: every short exited at once.
    monitor = legacy_monitor(Prices(BTC_USD=50100))
    monitor.start_monitoring(BTC, legacy_position(side))

    assert monitor.check(BTC) is None
    assert monitor.positions[BTC]["trailing_stop"] == 0


@pytest.mark.parametrize(("side", "pnl"), [("buy", Decimal("0.04")), ("short", Decimal("-0.04"))])
def test_legacy_pnl_is_a_signed_fraction_of_the_entry_price(side: str, pnl: Decimal) -> None:
    monitor = legacy_monitor(Prices(BTC_USD=52000))
    monitor.start_monitoring(BTC, legacy_position(side, trailing_stop=60000.0 if side == "short" else 0.0))

    monitor.check(BTC)

    assert monitor.positions[BTC]["pnl"] == pnl


@pytest.mark.parametrize(("min_gain", "stop"), [(0.05, Decimal(49000)), (0.03, Decimal(50960))])
def test_legacy_stop_trails_only_once_the_gain_reaches_min_gain_to_trail(min_gain: float, stop: Decimal) -> None:
    # At 52000 the long entered at 50000 is up 4 %: below a 5 % threshold the stop stays put.
    config = {"exit_strategy": {**LEGACY_PINS["exit_strategy"], "min_gain_to_trail": min_gain}}
    monitor = legacy_monitor(Prices(BTC_USD=52000), config)
    monitor.start_monitoring(BTC, legacy_position(highest_price=51000.0, trailing_stop=49000.0))

    monitor.check(BTC)

    assert monitor.positions[BTC]["highest_price"] == Decimal(52000)
    assert monitor.positions[BTC]["trailing_stop"] == stop


def test_legacy_trailing_stop_defaults_to_two_percent_without_take_profit() -> None:
    monitor = legacy_monitor(Prices(BTC_USD=60000), config={})
    monitor.start_monitoring(BTC, legacy_position())

    assert monitor.check(BTC) is None
    assert monitor.positions[BTC]["trailing_stop"] == Decimal(58800)


def test_legacy_path_never_writes_into_the_callers_position_dict_or_mapping() -> None:
    given = legacy_position(highest_price=51000.0, trailing_stop=49000.0)
    ctx_positions = MappingProxyType({BTC: MappingProxyType(dict(given))})
    monitor = PositionMonitor(LEGACY_PINS, positions=ctx_positions, price_source=Prices(BTC_USD=52000))
    monitor.start_monitoring(BTC)

    monitor.check(BTC)

    assert dict(ctx_positions[BTC]) == given
    assert monitor.positions[BTC]["trailing_stop"] == Decimal(50960)


@pytest.mark.parametrize("side", ["hold", "LONG", "", None])
def test_a_position_with_an_unknown_side_is_refused_naming_the_side(side: str | None) -> None:
    monitor = legacy_monitor(Prices(BTC_USD=50000))

    with pytest.raises(InvalidArgument, match=rf"position BTC/USD: side must be .*\(got {side!r}\)"):
        monitor.start_monitoring(BTC, legacy_position(side))  # type: ignore[arg-type]

    assert monitor.monitored_symbols() == []


def test_a_position_without_a_positive_entry_price_is_refused_naming_the_value() -> None:
    monitor = legacy_monitor(Prices(BTC_USD=50000))

    with pytest.raises(InvalidArgument, match=r"entry_price: must be a finite number above 0 \(got Decimal\('0'\)\)"):
        monitor.start_monitoring(BTC, legacy_position(entry_price=0))


def test_a_legacy_exit_from_a_given_dict_is_signalled_once() -> None:
    exits = Exits()
    prices = Prices(BTC_USD=50900)
    monitor = legacy_monitor(prices, exits=exits)
    monitor.start_monitoring(BTC, legacy_position(trailing_stop=51000.0))

    first, second = monitor.check_all(), monitor.check_all()

    assert [signal.reason for signal in first] == ["trailing_stop"]
    assert second == []
    assert len(exits.calls) == 1
    assert monitor.monitored_symbols() == []


# --- the TradeManager path ------------------------------------------------------------------------


def test_trade_manager_long_ratchets_its_stop_to_fifty_thousand_ninety_six_then_exits_at_fifty_thousand(
    ledger: Ledger,
) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    prices = Prices(BTC_USD="50500")
    exits = Exits()
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=prices, on_exit_triggered=exits)
    monitor.start_monitoring(BTC)

    first = monitor.check(BTC)
    stop_after_first_tick = trade_manager.get_position(BTC).stop_loss_price  # type: ignore[union-attr]
    prices.prices[BTC] = "50000"
    second = monitor.check(BTC)

    assert first is None
    assert stop_after_first_tick == Decimal(50096)  # 50500 · (1 - 0.008)
    assert second == ExitSignal(BTC, Decimal(50000), "stop_loss", "trade_manager")
    [(symbol, position, price, reason)] = exits.calls
    assert (symbol, price, reason) == (BTC, Decimal(50000), "stop_loss")
    assert (position["side"], position["size"], position["trailing_stop"]) == ("long", Decimal(1), Decimal(50096))


def test_trade_manager_long_takes_profit_at_fifty_two_thousand(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=Prices(BTC_USD=52000))
    monitor.start_monitoring(BTC)

    assert monitor.check(BTC) == ExitSignal(BTC, Decimal(52000), "take_profit", "trade_manager")


@pytest.mark.parametrize("sync_with_legacy", [True, False])
@pytest.mark.parametrize("price", ["50000", "50200", "51000"])
def test_a_trade_manager_long_is_never_exited_as_a_false_trailing_stop_on_its_first_tick(
    ledger: Ledger, sync_with_legacy: bool, price: str
) -> None:
    # The legacy monitor fell through to its legacy check when the TradeManager said no; that check
    # read side "long" as a short and exited at price >= trailing_stop (49500) on the first tick.
    config = {"position_monitor": {"sync_with_legacy": sync_with_legacy}}
    trade_manager = TradeManager(ledger, config)
    open_long(trade_manager)
    exits = Exits()
    monitor = PositionMonitor(
        config, trade_manager=trade_manager, price_source=Prices(BTC_USD=price), on_exit_triggered=exits
    )
    monitor.start_monitoring(BTC)

    assert monitor.check_all() == []
    assert exits.calls == []
    assert monitor.monitored_symbols() == [BTC]


def test_when_the_trade_manager_says_no_the_legacy_check_is_not_consulted(ledger: Ledger) -> None:
    # The monitor's own exit_strategy would take profit at 50050 (0.1 %); the TradeManager's
    # levels (default config: take profit 52000) decide alone.
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    monitor = PositionMonitor(
        {"exit_strategy": {"take_profit_pct": 0.001, "trailing_stop_pct": 0.0001}},
        trade_manager=trade_manager,
        price_source=Prices(BTC_USD=50100),
    )
    monitor.start_monitoring(BTC)

    assert monitor.check_all() == []
    assert monitor.monitored_symbols() == [BTC]


@pytest.mark.parametrize(
    ("sync_with_legacy", "tracked"),
    [
        (True, (Decimal(50500), Decimal(50096), Decimal("0.01"))),
        (False, (Decimal(50000), Decimal(49500), Decimal(0))),
    ],
)
def test_sync_with_legacy_refreshes_the_tracking_dict_from_the_trade_manager_after_each_tick(
    ledger: Ledger, sync_with_legacy: bool, tracked: tuple[Decimal, Decimal, Decimal]
) -> None:
    config = {"position_monitor": {"sync_with_legacy": sync_with_legacy}}
    trade_manager = TradeManager(ledger, config)
    open_long(trade_manager)
    monitor = PositionMonitor(config, trade_manager=trade_manager, price_source=Prices(BTC_USD=50500))
    monitor.start_monitoring(BTC)

    monitor.check(BTC)

    position = monitor.positions[BTC]
    assert (position["highest_price"], position["trailing_stop"], position["pnl"]) == tracked
    assert (position["entry_price"], position["size"], position["side"]) == (Decimal(50000), Decimal(1), "long")


@pytest.mark.parametrize(("use_trade_manager", "reasons"), [(True, ["stop_loss"]), (False, [])])
def test_use_trade_manager_false_runs_the_legacy_logic_even_with_a_trade_manager(
    ledger: Ledger, use_trade_manager: bool, reasons: list[str]
) -> None:
    # Same position, same prices: the TradeManager trails 0.8 % from 50500 (stop 50096, hit at
    # 50000); the legacy logic trails 2 % (49490, below the 49500 it started with), so no exit.
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    prices = Prices(BTC_USD=50500)
    monitor = PositionMonitor(
        {"position_monitor": {"use_trade_manager": use_trade_manager}},
        trade_manager=trade_manager,
        positions=trade_manager.legacy_positions(),
        price_source=prices,
    )
    monitor.start_monitoring(BTC)

    signals = monitor.check_all()
    prices.prices[BTC] = 50000
    signals += monitor.check_all()

    assert [signal.reason for signal in signals] == reasons
    expected_source = "trade_manager" if use_trade_manager else "legacy"
    assert all(signal.source == expected_source for signal in signals)
    assert monitor.positions[BTC]["trailing_stop"] == (Decimal(50096) if use_trade_manager else Decimal(49500))


def test_the_trade_manager_position_is_used_over_a_given_dict(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=Prices(BTC_USD=50000))

    monitor.start_monitoring(BTC, legacy_position("sell", entry_price=1.0))

    assert (monitor.positions[BTC]["side"], monitor.positions[BTC]["entry_price"]) == ("long", Decimal(50000))


# --- exits, closes and ghosts ---------------------------------------------------------------------


def test_after_the_handler_closes_the_position_through_the_trade_manager_nothing_is_monitored(
    ledger: Ledger,
) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    prices = Prices(BTC_USD=49000)
    exits = Exits(close_through_trade_manager(trade_manager))
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=prices, on_exit_triggered=exits)
    monitor.start_monitoring(BTC)

    first = monitor.check_all()
    second = monitor.check_all()

    assert [signal.reason for signal in first] == ["stop_loss"]
    assert second == []
    assert trade_manager.get_position(BTC) is None
    assert monitor.monitored_symbols() == []
    assert prices.asked == [BTC]
    assert len(exits.calls) == 1
    assert [trade.side for trade in trade_manager.get_trade_history(BTC)] == ["buy", "sell"]


def test_the_monitor_records_no_fill_itself(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=Prices(BTC_USD=49000))
    monitor.start_monitoring(BTC)

    monitor.check_all()

    assert len(trade_manager.get_trade_history()) == 1
    assert trade_manager.get_position(BTC) is not None


def test_an_exit_is_signalled_again_while_the_position_is_still_open_in_the_trade_manager(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    exits = Exits()  # the exchange order failed: nothing was recorded
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=Prices(BTC_USD=49000), on_exit_triggered=exits)
    monitor.start_monitoring(BTC)

    first, second = monitor.check_all(), monitor.check_all()

    assert [signal.reason for signal in first + second] == ["stop_loss", "stop_loss"]
    assert len(exits.calls) == 2


def test_a_position_closed_by_a_fill_elsewhere_stops_being_monitored_without_reading_a_price(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    prices = Prices(BTC_USD=50100)
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=prices)
    monitor.start_monitoring(BTC)
    trade_manager.record_trade(create_trade(BTC, "sell", "1", "50100", timestamp=T0 + timedelta(minutes=5)))

    assert monitor.check_all() == []
    assert monitor.monitored_symbols() == []
    assert prices.asked == []
    assert monitor.monitoring_stats["positions_closed"] == 1


def test_legacy_mode_over_ctx_positions_stops_once_the_handler_closed_the_position(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    exits = Exits(close_through_trade_manager(trade_manager))
    monitor = PositionMonitor(
        {"position_monitor": {"use_trade_manager": False}, "exit_strategy": {"take_profit_pct": 0.01}},
        trade_manager=trade_manager,
        positions=trade_manager.legacy_positions(),
        price_source=Prices(BTC_USD=50500),
        on_exit_triggered=exits,
    )
    monitor.start_monitoring(BTC)

    first, second = monitor.check_all(), monitor.check_all()

    assert [signal.reason for signal in first] == ["take_profit"]
    assert second == []
    assert monitor.monitored_symbols() == []
    assert trade_manager.get_position(BTC) is None


def test_a_new_cycle_of_the_same_symbol_is_followed_from_the_trade_manager(ledger: Ledger) -> None:
    config = {"position_monitor": {"sync_with_legacy": False}}
    trade_manager = TradeManager(ledger, config)
    open_long(trade_manager)
    monitor = PositionMonitor(config, trade_manager=trade_manager, price_source=Prices(BTC_USD=50000))
    monitor.start_monitoring(BTC)
    trade_manager.record_trade(create_trade(BTC, "sell", "2", "50000", timestamp=T0 + timedelta(minutes=5)))

    assert monitor.check(BTC) is None
    assert (monitor.positions[BTC]["side"], monitor.positions[BTC]["size"]) == ("short", Decimal(1))


def test_the_notifier_is_told_of_each_exit(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    messages: list[str] = []
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=Prices(BTC_USD=49000), notifier=messages.append)
    monitor.start_monitoring(BTC)

    monitor.check_all()

    assert len(messages) == 1
    assert "stop_loss" in messages[0]
    assert BTC in messages[0]


def test_a_failing_exit_handler_propagates_and_the_symbol_stays_monitored() -> None:
    def failing(*_: object) -> None:
        raise RuntimeError("exchange down")

    monitor = PositionMonitor(LEGACY_PINS, price_source=Prices(BTC_USD=52500), on_exit_triggered=failing)
    monitor.start_monitoring(BTC, legacy_position())

    with pytest.raises(RuntimeError, match="exchange down"):
        monitor.check(BTC)

    assert monitor.monitored_symbols() == [BTC]


# --- prices, the loop, bookkeeping ------------------------------------------------------------------


def test_a_float_price_is_read_as_the_decimal_it_prints(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager)
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=Prices(BTC_USD=50100.1))
    monitor.start_monitoring(BTC)

    monitor.check(BTC)

    assert monitor.price_cache[BTC] == Decimal("50100.1")
    assert trade_manager.price_cache[BTC] == Decimal("50100.1")


@pytest.mark.parametrize("price", [0, -1, "-0.5"])
def test_a_price_of_zero_or_below_is_refused_naming_symbol_and_value(price: object) -> None:
    monitor = legacy_monitor(Prices(BTC_USD=price))  # type: ignore[arg-type]
    monitor.start_monitoring(BTC, legacy_position())

    with pytest.raises(InvalidArgument, match=r"price of BTC/USD: must be a finite number above 0 \(got .*\)"):
        monitor.check(BTC)


def test_a_price_source_error_propagates() -> None:
    def no_exchange(symbol: str) -> Decimal:
        raise ConnectionError(f"no ticker for {symbol}")

    monitor = PositionMonitor(LEGACY_PINS, price_source=no_exchange)
    monitor.start_monitoring(BTC, legacy_position())

    with pytest.raises(ConnectionError, match="no ticker for BTC/USD"):
        monitor.check_all()


def test_check_all_ticks_every_monitored_symbol_in_symbol_order(ledger: Ledger) -> None:
    trade_manager = TradeManager(ledger)
    open_long(trade_manager, ETH, "3000", minutes=1)
    open_long(trade_manager, BTC, "50000", minutes=2)
    prices = Prices(BTC_USD=40000, ETH_USD=2000)
    monitor = PositionMonitor(trade_manager=trade_manager, price_source=prices)
    monitor.start_monitoring(ETH)
    monitor.start_monitoring(BTC)

    signals = monitor.check_all()

    assert prices.asked == [BTC, ETH]
    assert [(signal.symbol, signal.reason) for signal in signals] == [(BTC, "stop_loss"), (ETH, "stop_loss")]


class SlowClock:
    """A monotonic clock that `sleep` moves on, and a price source whose every read takes `read_s` of it."""

    def __init__(self, read_s: float, price: str) -> None:
        self.now = 0.0
        self.read_s = read_s
        self.price = price
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def read(self, _symbol: str) -> str:
        self.now += self.read_s
        return self.price


def test_run_ticks_the_given_cycles_with_the_check_interval_between() -> None:
    clock = SlowClock(read_s=0.0, price="50100")
    prices = Prices(BTC_USD=50100)
    config = {"exit_strategy": {"real_time_monitoring": {"check_interval_seconds": 2.5}}}
    monitor = PositionMonitor(config, price_source=prices)
    monitor.start_monitoring(BTC, legacy_position())

    signals = monitor.run(3, sleep=clock.sleep, monotonic=clock)

    assert signals == []
    assert clock.slept == [2.5, 2.5]
    assert prices.asked == [BTC, BTC, BTC]


def test_run_starts_its_ticks_the_check_interval_apart_however_long_a_tick_takes() -> None:
    # A monitor checking "every 5 s" whose price reads take 2 s ticked every 7 s: over a day, 12,343 ticks
    # instead of 17,280. The sleep is what is left of the interval after the tick.
    clock = SlowClock(read_s=2.0, price="50100")
    config = {"exit_strategy": {"real_time_monitoring": {"check_interval_seconds": 5}}}
    monitor = PositionMonitor(config, price_source=clock.read)
    monitor.start_monitoring(BTC, legacy_position())

    assert monitor.run(4, sleep=clock.sleep, monotonic=clock) == []

    assert clock.slept == [3.0, 3.0, 3.0]
    assert clock.now == 17.0  # ticks started at 0, 5, 10 and 15


def test_run_ticks_again_at_once_after_a_tick_longer_than_the_interval_and_never_to_catch_up() -> None:
    clock = SlowClock(read_s=7.0, price="50100")
    config = {"exit_strategy": {"real_time_monitoring": {"check_interval_seconds": 5}}}
    monitor = PositionMonitor(config, price_source=clock.read)
    monitor.start_monitoring(BTC, legacy_position())

    assert monitor.run(3, sleep=clock.sleep, monotonic=clock) == []

    assert clock.slept == []  # each tick is late already: the next starts when it ends, none is skipped or doubled
    assert clock.now == 21.0


def test_run_checks_nothing_when_real_time_monitoring_is_disabled() -> None:
    slept: list[float] = []
    prices = Prices(BTC_USD=1)
    config = {"exit_strategy": {"real_time_monitoring": {"enabled": False}}}
    monitor = PositionMonitor(config, price_source=prices)
    monitor.start_monitoring(BTC, legacy_position())

    assert monitor.run(3, sleep=slept.append) == []
    assert (slept, prices.asked) == ([], [])


def test_starting_a_monitored_symbol_again_changes_nothing_and_stop_forgets_it() -> None:
    monitor = legacy_monitor(Prices(BTC_USD=50100))
    started = monitor.start_monitoring(BTC, legacy_position())
    again = monitor.start_monitoring(BTC, legacy_position("sell"))
    monitor.check(BTC)

    stopped, stopped_again = monitor.stop_monitoring(BTC), monitor.stop_monitoring(BTC)

    assert (started, again, stopped, stopped_again) == (True, False, True, False)
    assert (monitor.monitored_symbols(), dict(monitor.price_cache)) == ([], {})
    with pytest.raises(InvalidArgument, match="check BTC/USD: not monitored"):
        monitor.check(BTC)


def test_starting_a_symbol_with_no_position_anywhere_is_refused(ledger: Ledger) -> None:
    monitor = PositionMonitor(trade_manager=TradeManager(ledger), price_source=Prices())

    with pytest.raises(InvalidArgument, match="start_monitoring BTC/USD: no open TradeManager position"):
        monitor.start_monitoring(BTC)


def test_monitoring_stats_count_starts_prices_and_exits_by_kind() -> None:
    prices = Prices(BTC_USD=52500, ETH_USD=2900)
    monitor = legacy_monitor(prices)
    monitor.start_monitoring(BTC, legacy_position())
    monitor.start_monitoring(ETH, legacy_position(entry_price=3000.0, trailing_stop=2950.0))

    monitor.check_all()

    assert monitor.monitoring_stats == {
        "positions_monitored": 2,
        "price_updates": 2,
        "trailing_stop_triggers": 1,
        "take_profit_triggers": 1,
        "exits_triggered": 2,
        "positions_closed": 2,
        "active_monitors": 0,
        "monitored_symbols": [],
    }


@pytest.mark.parametrize("sync_with_legacy", [True, False])
def test_the_size_and_entry_the_monitor_tracks_follow_the_log_after_an_add(
    ledger: Ledger, *, sync_with_legacy: bool
) -> None:
    # An exit must close what is open: size, entry and side are refreshed every tick whatever
    # sync_with_legacy says (it only governs the watermarks, the stop and the pnl).
    config = {"position_monitor": {"sync_with_legacy": sync_with_legacy}}
    trade_manager = TradeManager(ledger, config)
    open_long(trade_manager)
    monitor = PositionMonitor(config, trade_manager=trade_manager, price_source=Prices(BTC_USD=50500))
    monitor.start_monitoring(BTC)
    trade_manager.record_trade(create_trade(BTC, "buy", "1", "51000", timestamp=T0 + timedelta(minutes=1)))

    monitor.check(BTC)

    held = monitor.positions[BTC]
    assert (held["size"], held["entry_price"], held["side"]) == (Decimal(2), Decimal(50500), "long")


def test_the_legacy_path_over_ctx_positions_follows_an_add_and_keeps_its_own_stop(ledger: Ledger) -> None:
    # use_trade_manager: false over the read-only ctx.positions view: take profit is measured from
    # the entry the position has now (after the add: 50500), not from the entry it started with.
    config = {"position_monitor": {"use_trade_manager": False}, "exit_strategy": {"take_profit_pct": 0.05}}
    trade_manager = TradeManager(ledger, config)
    open_long(trade_manager)
    prices = Prices(BTC_USD=52600)
    monitor = PositionMonitor(
        config, trade_manager=trade_manager, positions=trade_manager.legacy_positions(), price_source=prices
    )
    monitor.start_monitoring(BTC)
    trade_manager.record_trade(create_trade(BTC, "buy", "1", "51000", timestamp=T0 + timedelta(minutes=1)))

    # 52600 is above 50000 x 1.05 = 52500 but below 50500 x 1.05 = 53025: no take profit.
    assert monitor.check(BTC) is None
    held = monitor.positions[BTC]
    assert (held["size"], held["entry_price"], held["highest_price"]) == (Decimal(2), Decimal(50500), Decimal(52600))
    prices.prices[BTC] = "53100"
    signal = monitor.check(BTC)
    assert signal is not None
    assert signal.reason == "take_profit"
