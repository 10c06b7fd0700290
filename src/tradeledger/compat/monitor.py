"""The drop-in PositionMonitor (legacy-system.md §4): exit signals for open positions, one tick at a time.

A tick reads a price from the injected price source, marks it on the TradeManager (which ratchets
the trailing stop) and asks the open position whether to exit; the TradeManager decides alone.
Without a TradeManager, with `position_monitor.use_trade_manager: false`, or for a position dict
the TradeManager does not hold, the legacy trailing-stop logic runs on the monitor's own copy of
the dict, with `buy`/`long` read as long and `sell`/`short` as short (the legacy code read every
side but `buy` as a short). An exit calls the bot's handler; the monitor records no fill itself:
the handler closes the position through the TradeManager or the PaperWallet, which append it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Any, Literal

from tradeledger.compat.config import BotConfig, as_bot_config
from tradeledger.compat.legacy_position import LegacyPosition
from tradeledger.compat.trade_manager import HUNDRED, TradeManager
from tradeledger.compat.trades import as_price, to_decimal
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import ZERO, PositionSide
from tradeledger.errors import InvalidArgument

logger = logging.getLogger("tradeledger.compat")

ONE = Decimal(1)
LEGACY_TRAILING_STOP_PCT = Decimal("0.02")
LONG_SIDES = ("buy", "long")
HELD_FIELDS = ("entry_price", "size", "side")  # what a position holds, refreshed on every tick
SHORT_SIDES = ("sell", "short")

Source = Literal["trade_manager", "legacy"]
Origin = Literal["trade_manager", "mapping", "given"]
PriceSource = Callable[[str], Decimal | float | int | str]
ExitHandler = Callable[[str, Mapping[str, Any], Decimal, str], object]
Notifier = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class ExitSignal:
    """An exit condition met at one tick: the symbol, the price, the reason and whose levels said so."""

    symbol: str
    price: Decimal
    reason: str
    source: Source


@dataclass(slots=True)
class _Watch:
    """One monitored symbol: the tracking dict the monitor owns, where it came from, and its TM cycle."""

    position: dict[str, Any]
    origin: Origin
    opened_seq: int | None = None


def legacy_side(symbol: str, side: object) -> PositionSide:
    """The side of a legacy position dict: `buy`/`long` is a long, `sell`/`short` a short, anything else refused."""
    if isinstance(side, str):
        if side in LONG_SIDES:
            return PositionSide.LONG
        if side in SHORT_SIDES:
            return PositionSide.SHORT
    raise InvalidArgument(
        f"position {symbol}: side must be 'buy' or 'long' (a long), 'sell' or 'short' (a short) (got {side!r})"
    )


class PositionMonitor:
    """The legacy PositionMonitor's API, driven by explicit ticks (`check`, `check_all`, `run`).

    Not thread-safe: one loop drives it. Exceptions from the price source, the exit handler and the
    notifier propagate; a failed handler leaves the symbol monitored, so the next tick signals again.
    """

    def __init__(
        self,
        config: BotConfig | Mapping[str, Any] | None = None,
        *,
        trade_manager: TradeManager | None = None,
        positions: Mapping[str, Mapping[str, Any]] | None = None,
        price_source: PriceSource,
        on_exit_triggered: ExitHandler | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        if config is None and trade_manager is not None:
            self.config = trade_manager.config
        else:
            self.config = as_bot_config(config)
        self.trade_manager = trade_manager
        self._use_trade_manager = trade_manager is not None and self.config.position_monitor.use_trade_manager
        self._legacy_positions = positions
        self._price_source = price_source
        self._on_exit_triggered = on_exit_triggered
        self._notifier = notifier
        exits = self.config.exit_strategy
        self._trailing_pct = LEGACY_TRAILING_STOP_PCT if exits.trailing_stop_pct is None else exits.trailing_stop_pct
        self._take_profit_pct = ZERO if exits.take_profit_pct is None else exits.take_profit_pct
        self._min_gain = exits.min_gain_to_trail
        self._watches: dict[str, _Watch] = {}
        self._prices: dict[str, Decimal] = {}
        self._stats = {
            "positions_monitored": 0,
            "price_updates": 0,
            "trailing_stop_triggers": 0,
            "take_profit_triggers": 0,
            "exits_triggered": 0,
            "positions_closed": 0,
        }

    # --- what is monitored ----------------------------------------------------------------------

    def start_monitoring(self, symbol: str, position: Mapping[str, Any] | None = None) -> bool:
        """Monitor `symbol`: the TradeManager's open position first, else `position`, else `positions[symbol]`.

        Returns False (and changes nothing) when the symbol is already monitored.
        """
        if symbol in self._watches:
            return False
        tm_position = self._tm_position(symbol)
        if tm_position is not None:
            watch = self._watch_of(tm_position)
        elif position is not None:
            watch = _Watch(self._legacy_copy(symbol, position), "given")
        elif self._legacy_positions is not None and symbol in self._legacy_positions:
            watch = _Watch(self._legacy_copy(symbol, self._legacy_positions[symbol]), "mapping")
        else:
            held = "no open TradeManager position, " if self._use_trade_manager else ""
            raise InvalidArgument(f"start_monitoring {symbol}: {held}no position dict given and none in positions")
        self._watches[symbol] = watch
        self._stats["positions_monitored"] += 1
        logger.info("monitoring %s (%s)", symbol, watch.origin)
        return True

    def stop_monitoring(self, symbol: str) -> bool:
        """Stop monitoring `symbol` and forget its tracking dict and price; False if it was not monitored."""
        self._prices.pop(symbol, None)
        if self._watches.pop(symbol, None) is None:
            return False
        logger.info("stopped monitoring %s", symbol)
        return True

    def monitored_symbols(self) -> list[str]:
        """The monitored symbols, in symbol order."""
        return sorted(self._watches)

    @property
    def positions(self) -> Mapping[str, dict[str, Any]]:
        """The tracking dict of each monitored symbol (the monitor's own copies, never the caller's)."""
        return MappingProxyType({symbol: self._watches[symbol].position for symbol in sorted(self._watches)})

    @property
    def price_cache(self) -> Mapping[str, Decimal]:
        """The last price read for each monitored symbol."""
        return MappingProxyType(dict(self._prices))

    @property
    def monitoring_stats(self) -> dict[str, Any]:
        """Counters since construction, plus the symbols monitored now."""
        return {
            **self._stats,
            "active_monitors": len(self._watches),
            "monitored_symbols": self.monitored_symbols(),
        }

    # --- ticks ----------------------------------------------------------------------------------

    def check(self, symbol: str) -> ExitSignal | None:
        """One tick for `symbol`: read its price, update its levels, signal an exit if one is met."""
        watch = self._watches.get(symbol)
        if watch is None:
            raise InvalidArgument(f"check {symbol}: not monitored (monitored: {self.monitored_symbols()})")
        if self._use_trade_manager:
            tm_position = self._tm_position(symbol)
            if tm_position is not None:
                return self._check_trade_manager(symbol, tm_position)
            if watch.origin == "trade_manager":
                self._closed(symbol)
                return None
        if watch.origin == "mapping":
            if not self._in_legacy_positions(symbol):
                self._closed(symbol)
                return None
            self._refresh_from_mapping(symbol, watch)
        return self._check_legacy(symbol, watch)

    def check_all(self) -> list[ExitSignal]:
        """One tick over every monitored symbol, in symbol order."""
        signals = []
        for symbol in self.monitored_symbols():
            signal = self.check(symbol)
            if signal is not None:
                signals.append(signal)
        return signals

    def run(
        self,
        cycles: int,
        sleep: Callable[[float], None] = time.sleep,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> list[ExitSignal]:
        """`cycles` ticks of `check_all`, started `check_interval_seconds` apart (`monotonic`): the sleep between two
        is what the tick left of the interval, so the ticks do not drift by the time each takes (its price reads).
        A tick longer than the interval is followed at once by the next, never by extra ones to catch up. Nothing
        when real-time monitoring is off."""
        if cycles < 0:
            raise InvalidArgument(f"cycles: must be 0 or more (got {cycles})")
        monitoring = self.config.exit_strategy.real_time_monitoring
        if not monitoring.enabled:
            logger.info("exit_strategy.real_time_monitoring.enabled is false: run() checks nothing")
            return []
        interval = float(monitoring.check_interval_seconds)  # float ok: a sleep duration, not an amount
        signals: list[ExitSignal] = []
        due: float | None = None  # when the next tick is to start
        for _ in range(cycles):
            if due is not None:
                left = due - monotonic()
                if left > 0:
                    sleep(left)
            started = monotonic()
            due = (started if due is None else max(due, started)) + interval
            signals.extend(self.check_all())
        return signals

    # --- the TradeManager path --------------------------------------------------------------------

    def _check_trade_manager(self, symbol: str, tm_position: LegacyPosition) -> ExitSignal | None:
        assert self.trade_manager is not None
        watch = self._watches[symbol]
        if (
            watch.origin != "trade_manager"
            or watch.opened_seq != tm_position.opened_seq
            or watch.position.get("entry_time") != tm_position.entry_time.isoformat()  # a new epoch reuses seqs
        ):
            # A position the TradeManager opened after this symbol was started (or a new cycle):
            # the old dict describes something that is no longer open.
            watch = self._watches[symbol] = self._watch_of(tm_position)
        price = self._read_price(symbol)
        self.trade_manager.update_price(symbol, price)
        marked = self.trade_manager.get_position(symbol)
        if marked is None:  # closed by another writer between the two reads
            self._closed(symbol)
            return None
        # What is held (size, entry, side) always comes from the log: an exit must close what is open.
        # sync_with_legacy decides whether the tracking fields (watermarks, stop, pnl) follow the TM.
        tracked = self._tracked_fields(marked, price)
        watch.position.update({key: tracked.pop(key) for key in HELD_FIELDS})
        if self.config.position_monitor.sync_with_legacy:
            watch.position.update(tracked)
        should_exit, reason = marked.should_exit(price)
        if not should_exit:
            return None
        return self._exit(symbol, watch, price, reason, "trade_manager")

    def _watch_of(self, position: LegacyPosition) -> _Watch:
        entered = position.entry_time.isoformat()
        values = {
            "symbol": position.symbol,
            **self._tracked_fields(position, None),
            "timestamp": entered,
            "entry_time": entered,
            "strategy": position.trades[0].strategy if position.trades else "",
        }
        return _Watch(values, "trade_manager", position.opened_seq)

    @staticmethod
    def _tracked_fields(position: LegacyPosition, price: Decimal | None) -> dict[str, Any]:
        """The legacy dict's fields from a TradeManager position; pnl is a fraction (0 before the first price)."""
        pnl = ZERO
        if price is not None:
            with localcontext(LEDGER_CONTEXT):
                pnl = position.calculate_unrealized_pnl(price)[1] / HUNDRED
        return {
            "entry_price": position.average_price,
            "size": position.total_amount,
            "side": position.side,
            "highest_price": position.highest_price or position.average_price,
            "lowest_price": position.lowest_price or position.average_price,
            "trailing_stop": position.stop_loss_price or ZERO,
            "pnl": pnl,
        }

    def _tm_position(self, symbol: str) -> LegacyPosition | None:
        if not self._use_trade_manager:
            return None
        assert self.trade_manager is not None
        return self.trade_manager.get_position(symbol)

    # --- the legacy path ------------------------------------------------------------------------

    def _legacy_copy(self, symbol: str, position: Mapping[str, Any]) -> dict[str, Any]:
        """The monitor's own copy of a legacy position dict, checked where the legacy logic reads it."""
        copy = dict(position)
        legacy_side(symbol, copy.get("side"))
        entry_price = f"position {symbol}: entry_price"
        as_price(to_decimal(copy.get("entry_price"), entry_price), entry_price)
        stop = copy.get("trailing_stop")
        if stop is not None and to_decimal(stop, f"position {symbol}: trailing_stop") < 0:
            raise InvalidArgument(f"position {symbol}: trailing_stop must be 0 (none) or above (got {stop!r})")
        return copy

    def _check_legacy(self, symbol: str, watch: _Watch) -> ExitSignal | None:
        position = watch.position
        side = legacy_side(symbol, position.get("side"))
        entry = to_decimal(position["entry_price"], f"position {symbol}: entry_price")
        price = self._read_price(symbol)
        with localcontext(LEDGER_CONTEXT):
            pnl = (price - entry) / entry if side is PositionSide.LONG else (entry - price) / entry
            stop = _optional(symbol, position, "trailing_stop")
            if side is PositionSide.LONG:
                highest = max(_optional(symbol, position, "highest_price") or price, price)
                position["highest_price"] = highest
                candidate = highest * (ONE - self._trailing_pct)
                trails = candidate > stop
            else:
                lowest = min(_optional(symbol, position, "lowest_price") or price, price)
                position["lowest_price"] = lowest
                candidate = lowest * (ONE + self._trailing_pct)
                trails = stop <= 0 or candidate < stop
            if pnl >= self._min_gain and trails:
                stop = position["trailing_stop"] = candidate
            position["pnl"] = pnl
            reason = _legacy_exit_reason(side, price, entry, stop, self._take_profit_pct)
        if reason is None:
            return None
        return self._exit(symbol, watch, price, reason, "legacy")

    def _refresh_from_mapping(self, symbol: str, watch: _Watch) -> None:
        """Take what the mapping holds now (size, entry, side); a new cycle there starts a fresh copy.

        The monitor's own trailing state (watermarks, stop) is kept while the position is the same one.
        """
        assert self._legacy_positions is not None
        current = self._legacy_copy(symbol, self._legacy_positions[symbol])
        cycle = ("entry_time", "timestamp")
        if any(current.get(key) != watch.position.get(key) for key in cycle if key in current):
            watch.position = current
            return
        watch.position.update({key: current[key] for key in HELD_FIELDS if key in current})

    def _in_legacy_positions(self, symbol: str) -> bool:
        return self._legacy_positions is not None and symbol in self._legacy_positions

    # --- shared ---------------------------------------------------------------------------------

    def _read_price(self, symbol: str) -> Decimal:
        price = as_price(self._price_source(symbol), f"price of {symbol}")
        self._prices[symbol] = price
        self._stats["price_updates"] += 1
        return price

    def _exit(self, symbol: str, watch: _Watch, price: Decimal, reason: str, source: Source) -> ExitSignal:
        """Count the exit, call the bot's handler and the notifier, then keep the symbol only if still open."""
        logger.info("exit triggered for %s: %s at %s (%s)", symbol, reason, price, source)
        self._stats["exits_triggered"] += 1
        if reason in {"trailing_stop", "stop_loss"}:
            self._stats["trailing_stop_triggers"] += 1
        else:
            self._stats["take_profit_triggers"] += 1
        position = dict(watch.position)
        if self._on_exit_triggered is not None:
            self._on_exit_triggered(symbol, position, price, reason)
        if self._notifier is not None:
            self._notifier(
                f"Exit {reason}: {position.get('side')} {position.get('size')} {symbol} "
                f"at {price} (entry {position.get('entry_price')}, pnl {position.get('pnl')})"
            )
        if not self._still_open(symbol, watch):
            self._closed(symbol)
        return ExitSignal(symbol, price, reason, source)

    def _still_open(self, symbol: str, watch: _Watch) -> bool:
        """After an exit: open in the TradeManager, or still in the positions it came from (a given dict: no)."""
        if self._use_trade_manager and self._tm_position(symbol) is not None:
            return True
        return watch.origin == "mapping" and self._in_legacy_positions(symbol)

    def _closed(self, symbol: str) -> None:
        self._stats["positions_closed"] += 1
        self.stop_monitoring(symbol)


def _optional(symbol: str, position: Mapping[str, Any], key: str) -> Decimal:
    """A Decimal field of a legacy dict; a missing or None value reads as 0 (none)."""
    value = position.get(key)
    return ZERO if value is None else to_decimal(value, f"position {symbol}: {key}")


def _legacy_exit_reason(
    side: PositionSide, price: Decimal, entry: Decimal, stop: Decimal, take_profit_pct: Decimal
) -> str | None:
    """The legacy exit: the trailing stop first (0 is none), then take profit at entry·(1 ± pct) when pct > 0."""
    if side is PositionSide.LONG:
        if stop > 0 and price <= stop:
            return "trailing_stop"
        if take_profit_pct > 0 and price >= entry * (ONE + take_profit_pct):
            return "take_profit"
    else:
        if stop > 0 and price >= stop:
            return "trailing_stop"
        if take_profit_pct > 0 and price <= entry * (ONE - take_profit_pct):
            return "take_profit"
    return None
