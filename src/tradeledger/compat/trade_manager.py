"""The drop-in TradeManager: the legacy API over one ledger account, with the log as the only writer.

`record_trade` appends a fill (the trade id is the fill id, so recording a trade twice is a no-op);
every reader folds the log (`AccountBook`) and never keeps a copy of its own. Risk levels come from
the bot's config when a cycle opens; `update_price` ratchets the watermarks and the trailing stop
and, when a level moved, commits that row before it returns (a restart never sees a looser stop;
the store keeps the tighter of its row and ours, whichever process writes), while the last prices
are written coalesced (see ARCHITECTURE.md, "Price marks and risk levels").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

from tradeledger.application.ledger import Ledger
from tradeledger.compat.account import AccountBook
from tradeledger.compat.callbacks import notify, raise_callback_errors
from tradeledger.compat.config import BotConfig, as_bot_config
from tradeledger.compat.files import write_atomically
from tradeledger.compat.following_file import FollowingFile
from tradeledger.compat.legacy_position import LegacyPosition
from tradeledger.compat.state_text import TradeTexts, Tree, TreeList, dumps
from tradeledger.compat.trades import PriceInput, Trade, as_price, legacy_float
from tradeledger.compat.views import ReadOnlyDict, ReadOnlyPositions
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import ZERO, Position, unrealized_at
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.risk import ExitReason, PriceMark, RiskLevels, exit_reason, initial_levels, ratchet
from tradeledger.errors import InvalidArgument

logger = logging.getLogger("tradeledger.compat")

HUNDRED = Decimal(100)
CTX_ADVICE = "record a fill with trade_manager.record_trade(create_trade(...)) (or paper_wallet.open/close) instead"

TradeCallback = Callable[[Trade], object]
PositionCallback = Callable[[LegacyPosition], object]
PriceCallback = Callable[[str, Decimal], object]
Hook = Callable[[], object]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TradeManager:
    """The legacy TradeManager's API; positions are the ledger's, levels and marks the bot's."""

    def __init__(
        self,
        ledger: Ledger,
        config: BotConfig | Mapping[str, Any] | None = None,
        *,
        account: str = "default",
        state_file: str | Path | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        mark_flush_interval_s: float = 1.0,
        state_write_interval_s: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self.config = as_bot_config(config)
        self.account = account
        self.state_file = None if state_file is None else Path(state_file)
        self._clock = clock
        self._monotonic = monotonic
        self._flush_interval = mark_flush_interval_s
        self._state = FollowingFile(  # with sync_legacy_systems: the file follows the log (compat.following_file)
            self.state_file,
            follows=self.config.trade_manager.sync_legacy_systems,
            interval_s=state_write_interval_s,
            monotonic=monotonic,
            failure="trade_manager_state.json not written ({error}); the ledger has every trade",
        )
        self._trade_texts = TradeTexts()  # each trade's part of the state file, written once
        self._risk = self.config.risk_settings()
        self._lock = threading.RLock()
        self._book = AccountBook(ledger, account, guard=self._lock)
        self._resets_seen = self._book.resets
        self.trade_callbacks: list[TradeCallback] = []
        self.position_callbacks: list[PositionCallback] = []
        self.price_update_callbacks: list[PriceCallback] = []
        self._after_record: list[Hook] = []
        self._after_tick: list[Hook] = []
        marks = ledger.marks()
        self._prices: dict[str, Decimal] = {symbol: mark.price for symbol, mark in marks.prices.items()}
        self._levels: dict[str, RiskLevels] = {
            symbol: levels for (owner, symbol), levels in marks.levels.items() if owner == account
        }
        self._dirty_prices: set[str] = set()
        self._dirty_levels: set[str] = set()
        self._signals: dict[str, ExitReason] = {}
        self._last_flush = monotonic()
        with self._lock:
            self._catch_up()
            self._write_marks()

    # --- recording ------------------------------------------------------------------------------

    def record_trade(self, trade: Trade) -> str:
        """Append the trade's fill; fire trade then position callbacks; return the trade id.

        Recording a trade id that is already in the log with the same content changes nothing and
        fires no callback; with different content it raises FillConflict.
        """
        self.record_trade_if_current(trade, at=None)
        return trade.id

    def record_trade_if_current(self, trade: Trade, *, at: Checkpoint | None) -> bool:
        """`record_trade` while the account's books at the log position `at` are still the log's (None: always;
        `Ledger.record_if_current`); False, nothing recorded and no callback fired, when they are not."""
        if not isinstance(trade, Trade):
            raise InvalidArgument(f"trade: expected a Trade (see create_trade), got {type(trade).__name__}")
        with self._lock:
            fill, ledger = trade.to_fill(self.account), self.ledger
            receipt = ledger.record(fill) if at is None else ledger.record_if_current(fill, account=self.account, at=at)
            if receipt is None:
                return False
            self._catch_up()
            self._write_marks()
            if receipt.duplicate:
                return True
            position = self._position_after(trade.symbol, receipt.seq)
            errors = notify(self.trade_callbacks, trade)
            if position is not None:
                errors += notify(self.position_callbacks, position)
            self._state.moved()
            self._state.write_if_due(self.save_state)
            for hook in list(self._after_record):
                hook()
        raise_callback_errors(errors, f"trade {trade.id} was recorded at seq {receipt.seq}")
        return True

    def after_record(self, hook: Hook) -> None:
        """Run `hook` after every trade this TradeManager records (used by BotContext and PaperWallet)."""
        self._after_record.append(hook)

    def after_tick(self, hook: Hook) -> None:
        """Run `hook` at each price tick past the flush interval, after this TradeManager's own catch-up and state
        file (the PaperWallet's state file follows other writers' fills there too)."""
        self._after_tick.append(hook)

    # --- prices ---------------------------------------------------------------------------------

    def update_price(self, symbol: str, price: PriceInput) -> None:
        """Mark a price: move the high/low watermarks, ratchet the trailing stop, evaluate the exit.

        A tick that moves a level of an open position commits that one row before returning (a
        SIGKILL right after loses nothing); the store keeps the tighter of the stored row and ours,
        and we adopt what it kept, so a TradeManager that was behind another never loosens a stop.
        Ticks that move no level write nothing: the last prices are written at most once per
        `mark_flush_interval_s` (and on every recorded trade, `flush_marks()` and `close()`). The
        exit signal is logged, never acted on: exits are fills the bot records.
        """
        value = as_price(price)
        with self._lock:
            previous = self._prices.get(symbol)
            self._prices[symbol] = value
            self._dirty_prices.add(symbol)
            marked = self._ratchet(symbol, value)
            if marked is not None:
                position, levels = marked
                reason = exit_reason(levels, position.side, value)
                if reason is not None and self._signals.get(symbol) is not reason:
                    logger.info("exit signal for %s: %s at %s", symbol, reason.value, value)
                if reason is None:
                    self._signals.pop(symbol, None)
                else:
                    self._signals[symbol] = reason
            errors = [] if previous == value else notify(self.price_update_callbacks, symbol, value)
            if self._monotonic() - self._last_flush >= self._flush_interval:
                self.flush_marks()
                self._catch_up()  # fills other writers recorded since: the state file follows them too
                self._state.write_if_due(self.save_state)
                for hook in list(self._after_tick):
                    hook()
        raise_callback_errors(errors, f"the price of {symbol} was marked at {value}")

    def flush_marks(self) -> None:
        """Write the marks and levels changed since the last flush (one transaction; nothing if none).

        The book is caught up first, so levels of cycles a rollback removed are never written back.
        """
        with self._lock:
            if self._dirty_levels:
                self._catch_up()
            self._write_marks()

    def _write_marks(self) -> None:
        """flush_marks for callers that have just caught up (record_trade, the constructor)."""
        if self._dirty_prices or self._dirty_levels:
            now = self._clock()
            stored = self.ledger.save_marks(
                [PriceMark(symbol, self._prices[symbol], now) for symbol in sorted(self._dirty_prices)],
                [self._levels[symbol] for symbol in sorted(self._dirty_levels) if symbol in self._levels],
                seen_epoch=self._book.epoch,
            )
            self._dirty_prices.clear()
            self._dirty_levels.clear()
            self._adopt(stored.values())
        self._last_flush = self._monotonic()

    def _ratchet(self, symbol: str, price: Decimal) -> tuple[Position, RiskLevels] | None:
        """The open position of `symbol` and its levels after a tick at `price` (None when flat).

        Moved levels are committed before this returns. A write the store skips means the book is
        behind (the cycle closed, or a rollback reopened its seq): the book catches up and the tick
        is applied once more, to what is open now.
        """
        for attempt in range(2):
            position = self._book.open.get(symbol)
            if position is None:
                return None
            levels = self._levels[symbol]
            moved = ratchet(levels, position.side, price)
            if moved is levels or self._store_levels(moved) or attempt:
                return position, self._levels[symbol]
            self._catch_up()
        return None  # pragma: no cover - the loop returns on its second pass

    def _store_levels(self, levels: RiskLevels) -> bool:
        """Commit one cycle's moved levels now and keep what the store kept; False if it skipped them.

        Until the write has succeeded the row stays pending, so a failed write is retried by the
        next flush (and the error reaches the caller of update_price).
        """
        self._levels[levels.symbol] = levels
        self._dirty_levels.add(levels.symbol)
        stored = self.ledger.save_marks((), [levels], seen_epoch=self._book.epoch)
        self._dirty_levels.discard(levels.symbol)
        self._adopt(stored.values())
        return (levels.account, levels.symbol) in stored

    def _adopt(self, stored: Iterable[RiskLevels]) -> None:
        """Take the stored levels of cycles we hold: tighter ones another process wrote come back."""
        for levels in stored:
            mine = self._levels.get(levels.symbol)
            if levels.account == self.account and mine is not None and mine.opened_seq == levels.opened_seq:
                self._levels[levels.symbol] = levels

    @property
    def price_cache(self) -> Mapping[str, Decimal]:
        return MappingProxyType(dict(self._prices))

    # --- reading --------------------------------------------------------------------------------

    def get_position(self, symbol: str) -> LegacyPosition | None:
        """The open position of `symbol`, or None when flat."""
        return self.position_at(symbol)[0]

    def position_at(self, symbol: str) -> tuple[LegacyPosition | None, Checkpoint]:
        """`get_position`, and the log position it is current at (what `record_trade_if_current` takes)."""
        with self._lock:
            self._catch_up()
            ledger_position = self._book.open.get(symbol)
            return (None if ledger_position is None else self._view(ledger_position)), self._book.position

    def get_all_positions(self) -> list[LegacyPosition]:
        """Every open position, by symbol."""
        with self._lock:
            self._catch_up()
            return [self._view(self._book.open[symbol]) for symbol in sorted(self._book.open)]

    @property
    def positions(self) -> Mapping[str, LegacyPosition]:
        """Open positions by symbol (a read-only snapshot)."""
        return MappingProxyType({position.symbol: position for position in self.get_all_positions()})

    def get_closed_positions(self) -> list[LegacyPosition]:
        """Every closed cycle of the account, in the order they closed (total_amount 0)."""
        with self._lock:
            self._catch_up()
            return [
                LegacyPosition.closed(cycle, self._book.cycle_trades(cycle.symbol, cycle.opened_seq, cycle.closed_seq))
                for cycle in self._book.positions.closed
            ]

    def get_trade_history(self, symbol: str | None = None, limit: int | None = None) -> list[Trade]:
        """Recorded trades in log order, optionally of one symbol; `limit` keeps the most recent."""
        if limit is not None and limit < 0:
            raise InvalidArgument(f"limit: must be 0 or more (got {limit})")
        with self._lock:
            self._catch_up()
            pairs = self._book.trades if symbol is None else self._book.by_symbol.get(symbol, [])
            trades = [trade for _, trade in pairs]
        return trades if limit is None else trades[len(trades) - limit :]

    @property
    def trades(self) -> list[Trade]:
        return self.get_trade_history()

    def get_total_unrealized_pnl(self) -> tuple[Decimal, Decimal]:
        """(Σ pnl, Σ pnl / Σ qty·avg · 100) over open positions that have a price mark."""
        with self._lock:
            self._catch_up()
            pnl, value = unrealized_at(self._book.open.values(), self._prices)
            with localcontext(LEDGER_CONTEXT):
                return pnl, (pnl / value * HUNDRED if value else ZERO)

    def get_statistics(self) -> dict[str, Any]:
        """The legacy `statistics` block, every number derived from the log."""
        with self._lock:
            self._catch_up()
            return {
                "total_trades": len(self._book.trades),
                "total_volume": self._book.volume,
                "total_fees": self._book.fees,
                "total_realized_pnl": self._book.totals.realized_pnl,
            }

    def get_portfolio_summary(self) -> dict[str, Any]:
        """The legacy summary keys; numbers are exact Decimals from the log (PnL gross of fees, as before)."""
        with self._lock:
            statistics = self.get_statistics()
            unrealized, unrealized_pct = self.get_total_unrealized_pnl()
            open_positions = self.get_all_positions()
            with localcontext(LEDGER_CONTEXT):
                total_pnl = statistics["total_realized_pnl"] + unrealized
            return {
                **statistics,
                "total_unrealized_pnl": unrealized,
                "total_unrealized_pnl_pct": unrealized_pct,
                "total_pnl": total_pnl,
                "open_positions_count": len(open_positions),
                "closed_positions_count": len(self._book.positions.closed),
                "positions": {position.symbol: position.to_dict() for position in open_positions},
                "last_update": self._clock().isoformat(),
            }

    def legacy_positions(self) -> ReadOnlyPositions:
        """`ctx.positions` (spec section 5): symbol -> legacy dict, read-only, always current."""
        return ReadOnlyPositions("ctx.positions", self._legacy_entries, CTX_ADVICE)

    def _legacy_entries(self) -> dict[str, ReadOnlyDict]:
        with self._lock:
            self._catch_up()
            return {
                symbol: ReadOnlyDict(self._legacy_entry(self._book.open[symbol]), CTX_ADVICE)
                for symbol in sorted(self._book.open)
            }

    def _legacy_entry(self, position: Position) -> dict[str, Any]:
        levels = self._levels[position.symbol]
        mark = self._prices.get(position.symbol)
        opening = self._book.trade_at(position.symbol, position.opened_seq)
        entered = position.opened_at.isoformat()
        return {
            "entry_price": position.avg_price,
            "size": position.quantity,
            "side": position.side.value,
            "symbol": position.symbol,
            "pnl": ZERO if mark is None else position.unrealized_pnl(mark),
            "highest_price": levels.highest_price,
            "lowest_price": levels.lowest_price,
            "trailing_stop": levels.stop_loss_price if levels.stop_loss_price is not None else ZERO,
            "timestamp": entered,
            "strategy": opening.strategy,
            "entry_time": entered,
        }

    def refresh(self) -> None:
        """Read the log now for what other processes recorded, whether or not its change signal (a PostgreSQL
        NOTIFY) has reached this process yet: every read after it shows at least the log as it is now."""
        with self._lock:
            self._catch_up(force=True)

    # --- callbacks ------------------------------------------------------------------------------

    def add_trade_callback(self, callback: TradeCallback) -> None:
        self.trade_callbacks.append(callback)

    def add_position_callback(self, callback: PositionCallback) -> None:
        self.position_callbacks.append(callback)

    def add_price_callback(self, callback: PriceCallback) -> None:
        self.price_update_callbacks.append(callback)

    # --- legacy state file ----------------------------------------------------------------------

    def save_state(self, path: str | Path | None = None) -> Path:
        """Write `trade_manager_state.json` in the legacy layout, atomically. A read model, never read back."""
        target = Path(path) if path is not None else self.state_file
        if target is None:
            raise InvalidArgument("save_state: no path given and the TradeManager has no state_file")
        with self._lock:
            self._catch_up()
            statistics = self.get_statistics()
            texts = self._trade_texts
            state = Tree(
                trades=texts.of(trade for _, trade in self._book.trades),
                positions=Tree((p.symbol, Tree(p.shape(texts.of(p.trades)))) for p in self.get_all_positions()),
                closed_positions=TreeList(Tree(p.shape(texts.of(p.trades))) for p in self.get_closed_positions()),
                price_cache={symbol: legacy_float(price) for symbol, price in sorted(self._prices.items())},
                statistics={
                    "total_trades": statistics["total_trades"],
                    "total_volume": legacy_float(statistics["total_volume"]),
                    "total_fees": legacy_float(statistics["total_fees"]),
                    "total_realized_pnl": legacy_float(statistics["total_realized_pnl"]),
                },
                last_save_time=self._clock().isoformat(),
            )
            written = write_atomically(target, dumps(state) + "\n")
            texts.written()
            self._state.written(target)
        return written

    # --- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush marks and levels and a pending state file, and release the book's subscription (its own
        connection). The ledger stays open: it belongs to the caller. Reads still work after (each reads the log)."""
        with self._lock:
            try:
                self.flush_marks()
                if self._state.pending:
                    self.save_state()
            finally:
                self._book.close()

    shutdown = close

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------------

    def _catch_up(self, *, force: bool = False) -> None:
        """Fold fills recorded since the last read (by anyone) and give new cycles their levels (`force`: read the
        log even before its change signal fired, AccountBook.refresh).

        After a rollback (the book starts again from the stored projection) the levels in memory may belong to removed
        cycles whose opened_seq a new cycle reuses in the new epoch: they are dropped and read again
        from the ledger, whose rollback deleted the removed cycles' rows.
        """
        if self._book.refresh(force=force) or self._book.resets != self._resets_seen:
            self._state.moved()  # fills of any writer, or a rollback: the file shows the log, not this process
        if self._book.resets != self._resets_seen:  # a rollback, seen by this refresh or by a lazy read before it
            self._resets_seen = self._book.resets
            marks = self.ledger.marks()
            self._levels = {symbol: levels for (owner, symbol), levels in marks.levels.items() if owner == self.account}
            self._dirty_levels.clear()
            self._signals.clear()
        for symbol, position in self._book.open.items():
            levels = self._levels.get(symbol)
            if levels is None or not levels.belongs_to(position):
                # A new cycle: levels from the config, at the price of the fill that opened it, so
                # they are the same whenever (and in whichever process) the cycle is first seen.
                opening = self._book.trade_at(symbol, position.opened_seq)
                fresh = initial_levels(position, self._risk)
                if opening.price != position.avg_price:
                    opened = replace(position, avg_price=opening.price)
                    fresh = initial_levels(opened, self._risk)
                self._levels[symbol] = fresh
                self._dirty_levels.add(symbol)
                self._signals.pop(symbol, None)

    def _view(self, position: Position) -> LegacyPosition:
        return LegacyPosition.of(
            position,
            self._levels[position.symbol],
            self._book.cycle_trades(position.symbol, position.opened_seq, position.last_seq),
            self._book.last_fill_time(position.symbol),
        )

    def _position_after(self, symbol: str, seq: int) -> LegacyPosition | None:
        """The position a trade left: the open cycle, or the cycle it closed (total_amount 0)."""
        open_position = self._book.open.get(symbol)
        if open_position is not None and open_position.last_seq == seq:
            return self._view(open_position)
        cycle = self._book.closed_at(symbol, seq)
        if cycle is None:
            return None
        return LegacyPosition.closed(cycle, self._book.cycle_trades(symbol, cycle.opened_seq, seq))
