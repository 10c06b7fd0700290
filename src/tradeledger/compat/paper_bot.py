"""A paper-trading bot loop over a price series, bar by bar (the seed's step 4, `start_bot_auto.py`).

Each cycle is one bar of the series: prices are marked on the TradeManager, the PositionMonitor
checks every open position (its exits close through the paper wallet), then a small moving-average
strategy enters, adds, takes partial profits and exits through the wallet. After every cycle the
views are counted and compared; a mismatch is reported, never patched up.

The loop keeps no state of its own: where it stopped is the last price mark stored in the ledger
(marked at the bar's time), so starting it again on the same ledger resumes at the next bar.
"""

from __future__ import annotations

import csv
import importlib.resources
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tradeledger.application.ledger import Ledger
from tradeledger.compat.bot import LegacyBot
from tradeledger.compat.config import BotConfig, as_bot_config
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trades import to_decimal
from tradeledger.domain.display import cents
from tradeledger.domain.fills import LEDGER_CONTEXT, Quantity
from tradeledger.errors import InvalidArgument, TradeRefused

LOT = Decimal("0.0001")


def amount(value: Decimal) -> str:
    """A quantity or price in an action line: exact, without trailing zeros (0.288, 90986.8)."""
    return f"{value.normalize():f}" if value else "0"


FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Bar:
    """The prices of every symbol at one time of the series."""

    time: datetime
    prices: Mapping[str, Decimal]


def bundled_price_series() -> Path:
    """The series shipped with tradeledger: BTC, ETH, SOL in USD, 240 one-minute bars (a fixed, seeded random walk)."""
    return Path(str(importlib.resources.files("tradeledger.compat") / "price_series.csv"))


def load_price_series(path: str | Path | None = None) -> list[Bar]:
    """Read a `time,symbol,price` CSV (ISO times with an offset, decimal prices) into bars in time order."""
    source = bundled_price_series() if path is None else Path(path)
    by_time: dict[datetime, dict[str, Decimal]] = defaultdict(dict)
    exact = TypeAdapter(Quantity)
    try:
        with source.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise InvalidArgument(f"{source}: cannot read the price series ({error.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidArgument(f"{source}: not a UTF-8 CSV file ({error})") from None
    for line, row in enumerate(rows, start=2):
        try:
            when = datetime.fromisoformat(row["time"])
            price = to_decimal(row["price"], f"{source}:{line}: price")
            symbol = row["symbol"]
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument(f"{source}:{line}: expected time,symbol,price (got {row!r})") from None
        if when.tzinfo is None or not price.is_finite() or price <= 0:
            raise InvalidArgument(f"{source}:{line}: needs a time with an offset and a price above 0 (got {row!r})")
        try:
            exact.validate_python(price)  # digits and range as a fill's price: the strategy's arithmetic needs them
        except ValidationError as error:
            problem = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidArgument(f"{source}:{line}: price: {problem}") from None
        by_time[when][symbol] = price
    if not by_time:
        raise InvalidArgument(f"{source}: the price series is empty")
    return [Bar(when, prices) for when, prices in sorted(by_time.items())]


@dataclass(frozen=True, slots=True)
class SmaStrategy:
    """Enter on a break of the `window`-bar average by `band`; add on strength; take half at `take_half`."""

    window: int = 5
    band: Decimal = Decimal("0.002")
    take_half: Decimal = Decimal("0.006")
    budget: Decimal = Decimal(1000)  # quote spent per entry
    fee_rate: Decimal = Decimal("0.0026")  # of the notional, as a taker on Kraken

    def fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return (quantity * price * self.fee_rate).quantize(FEE_QUANTUM)

    def average(self, history: Sequence[Decimal]) -> Decimal | None:
        if len(history) < self.window:
            return None
        with localcontext(LEDGER_CONTEXT):
            return sum(history[-self.window :], Decimal(0)) / self.window

    def lot(self, price: Decimal) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return (self.budget / price).quantize(LOT, rounding=ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle did and what every view showed after it."""

    cycle: int
    time: datetime
    actions: tuple[str, ...]
    counts: Mapping[str, int]
    consistent: bool
    warnings: tuple[str, ...]
    balance: Decimal | None


class PaperTradingLoop:
    """Runs the strategy over the series on a `LegacyBot`, one bar per cycle, resuming where it stopped."""

    def __init__(
        self,
        ledger: Ledger,
        config: BotConfig | Mapping[str, Any] | None,
        series: Sequence[Bar],
        *,
        state_dir: str | Path | None = None,
        strategy: SmaStrategy | None = None,
    ) -> None:
        self.ledger = ledger
        self.config = as_bot_config(config)
        self.series = list(series)
        self.strategy = strategy or SmaStrategy()
        self._now = self.series[0].time
        self._prices: dict[str, Decimal] = {}
        self.bot = LegacyBot.build(
            ledger,
            self.config,
            price_source=self._price,
            state_dir=state_dir,
            clock=lambda: self._now,
            fee=self.strategy.fee,
        )

    def _price(self, symbol: str) -> Decimal:
        try:
            return self._prices[symbol]
        except KeyError:
            raise InvalidArgument(f"no price for {symbol} at {self._now.isoformat()} in the series") from None

    def next_index(self) -> int:
        """The first bar after the last one this ledger saw (its newest price mark or fill)."""
        seen = [mark.marked_at for mark in self.ledger.marks().prices.values()]
        last_seq = self.ledger.head.seq
        seen += [fill.fill.occurred_at for fill in self.ledger.history(after_seq=max(last_seq - 1, 0))]
        if not seen:
            return 0
        last = max(seen)
        return next((index for index, bar in enumerate(self.series) if bar.time > last), len(self.series))

    def run(self, cycles: int, report: Callable[[CycleReport], object] = lambda _: None) -> list[CycleReport]:
        """Run up to `cycles` bars from where the ledger stopped; the series' end stops it earlier."""
        if cycles < 0:
            raise InvalidArgument(f"cycles: must be 0 or more (got {cycles})")
        start = self.next_index()
        reports = []
        for index in range(start, min(start + cycles, len(self.series))):
            done = self._cycle(index)
            reports.append(done)
            report(done)
        self.bot.close()
        return reports

    def _cycle(self, index: int) -> CycleReport:
        bar = self.series[index]
        self._now, self._prices = bar.time, dict(bar.prices)
        actions: list[str] = []
        manager, wallet, monitor = self.bot.trade_manager, self.bot.paper_wallet, self.bot.monitor
        if manager is not None:
            for symbol, price in sorted(bar.prices.items()):
                manager.update_price(symbol, price)
        self._watch_open_positions()
        actions += [f"monitor exit {s.symbol} {s.reason} @ {amount(s.price)}" for s in monitor.check_all()]
        if wallet is not None:
            for symbol, price in sorted(bar.prices.items()):
                history = [earlier.prices[symbol] for earlier in self.series[max(0, index - 20) : index]]
                actions += self._trade(wallet, symbol, price, history)
        self._watch_open_positions()
        if manager is not None:
            manager.flush_marks()
        before = len(self.bot.context.inconsistencies)
        consistent = self.bot.context.validate_position_consistency()
        warnings = tuple(found.describe() for found in self.bot.context.inconsistencies[before:])
        return CycleReport(
            cycle=index + 1,
            time=bar.time,
            actions=tuple(actions),
            counts=self.bot.position_counts(),
            consistent=consistent,
            warnings=warnings,
            balance=None if wallet is None else wallet.balance,
        )

    def _watch_open_positions(self) -> None:
        """Monitor exactly the open positions: new ones start, closed ones stop."""
        monitor, manager, wallet = self.bot.monitor, self.bot.trade_manager, self.bot.paper_wallet
        if manager is not None:
            open_symbols = {position.symbol for position in manager.get_all_positions()}
        else:
            open_symbols = set() if wallet is None else set(wallet.positions)
        watched = set(monitor.monitored_symbols())
        for symbol in sorted(open_symbols - watched):
            monitor.start_monitoring(symbol)
        for symbol in sorted(watched - open_symbols):
            monitor.stop_monitoring(symbol)

    def _trade(self, wallet: PaperWallet, symbol: str, price: Decimal, history: Sequence[Decimal]) -> list[str]:
        average = self.strategy.average(history)
        if average is None:
            return []
        position = wallet.positions.get(symbol)
        try:
            if position is None:
                return self._enter(wallet, symbol, price, average)
            if position["side"] == "long":
                return self._manage_long(wallet, symbol, price, average, position)
            if price > average:
                size = position["size"]
                pnl = wallet.close(symbol, size, price, fee=self.strategy.fee(size, price))
                return [f"exit short {symbol} {amount(size)} @ {amount(price)} pnl {cents(pnl)}"]
        except TradeRefused as refused:
            return [f"refused: {refused}"]
        return []

    def _enter(self, wallet: PaperWallet, symbol: str, price: Decimal, average: Decimal) -> list[str]:
        lot, band = self.strategy.lot(price), self.strategy.band
        fee = self.strategy.fee(lot, price)
        with localcontext(LEDGER_CONTEXT):
            if price > average * (1 + band):
                wallet.open(symbol, "buy", lot, price, fee=fee, strategy="sma")
                return [f"open long {symbol} {amount(lot)} @ {amount(price)}"]
            if price < average * (1 - band) and self.config.wallet_allow_short:
                wallet.open(symbol, "sell", lot, price, fee=fee, strategy="sma")
                return [f"open short {symbol} {amount(lot)} @ {amount(price)}"]
        return []

    def _manage_long(
        self, wallet: PaperWallet, symbol: str, price: Decimal, average: Decimal, position: Mapping[str, Any]
    ) -> list[str]:
        size, entry, lot = position["size"], position["entry_price"], self.strategy.lot(price)
        with localcontext(LEDGER_CONTEXT):
            if price < average:
                pnl = wallet.close(symbol, size, price, fee=self.strategy.fee(size, price))
                return [f"exit long {symbol} {amount(size)} @ {amount(price)} pnl {cents(pnl)}"]
            if price >= entry * (1 + self.strategy.take_half) and size >= lot:
                half = (size / 2).quantize(LOT, rounding=ROUND_DOWN)
                pnl = wallet.close(symbol, half, price, fee=self.strategy.fee(half, price))
                return [f"take half {symbol} {amount(half)} @ {amount(price)} pnl {cents(pnl)}"]
            if price > average * (1 + self.strategy.band) and size < lot:
                add = (lot / 2).quantize(LOT, rounding=ROUND_DOWN)
                wallet.buy(symbol, add, price, fee=self.strategy.fee(add, price), strategy="sma")
                return [f"add long {symbol} {amount(add)} @ {amount(price)}"]
        return []
