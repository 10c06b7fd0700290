"""The legacy bot's objects wired from its config over one ledger: where every config key takes effect.

`LegacyBot.build(ledger, config, ...)` makes the TradeManager, the paper wallet, the BotContext and the
PositionMonitor the way the legacy `main.py` meant to, with one writer (the log):

- `trade_manager.enabled`: false builds no TradeManager; the wallet appends fills itself and the
  monitor runs its legacy logic.
- `trade_manager.single_source_of_truth` (else the top-level `use_trade_manager_as_source`, else
  true): `ctx.positions` is the TradeManager's read-only view; false: the caller's own legacy dict.
- `trade_manager.sync_legacy_systems`: the TradeManager keeps `trade_manager_state.json` current.
- `trade_manager.validate_consistency`: every append is followed by `ctx.validate_position_consistency()`.
- `position_monitor.use_trade_manager`, `sync_with_legacy`: see `compat.monitor.PositionMonitor`.
- `paper_wallet.sync_with_trade_manager`: wallet commands go through `TradeManager.record_trade`
  (its callbacks, levels and state file follow); false: they append straight to the ledger.
- `paper_wallet.auto_sync_on_trade`: the wallet rewrites `paper_wallet_state.yaml` after every trade, and after
  other writers' fills at its next read or price tick (`compat.following_file`).
- `execution_mode`: `dry_run` and `paper` trade on the paper wallet; `live` builds none.
- `paper_wallet.initial_balance`, `max_open_trades`, `allow_short`: the wallet's limits (with the
  legacy fallbacks to the top-level keys).
- `exchange_reconcile.exchange`, `tolerance`, `on_mismatch`: first of all, the bot's account is
  reconciled against that exchange's `fetch_balance()`; a difference is a "balance mismatch at start"
  warning with the numbers, or with `on_mismatch: refuse` `StartRefused` and no bot (see
  `compat.reconcile_at_start`); `bot.reconciliation` keeps the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeledger.application.ledger import Ledger
from tradeledger.compat.config import BotConfig, as_bot_config
from tradeledger.compat.context import BotContext
from tradeledger.compat.monitor import PositionMonitor
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.reconcile_at_start import BalanceClient, reconcile_at_start
from tradeledger.compat.trade_manager import TradeManager, utc_now
from tradeledger.compat.trades import create_trade
from tradeledger.domain.records import Checkpoint
from tradeledger.errors import TradeRefused
from tradeledger.exchanges.ccxt.reconciling import Reconciliation

TRADE_MANAGER_STATE = "trade_manager_state.json"
PAPER_WALLET_STATE = "paper_wallet_state.yaml"
PriceSource = Callable[[str], Decimal | float | int | str]
FeeModel = Callable[[Decimal, Decimal], Decimal]  # (quantity, price) -> fee in the quote currency
CLOSE_ATTEMPTS = 50  # closes of one exit, each after another writer moved the account meanwhile


def no_fee(_quantity: Decimal, _price: Decimal) -> Decimal:
    return Decimal(0)


class ExitHandler:
    """Closes a position the monitor exited: ONE closing fill in the log, which every view then shows.

    The legacy handler closed the wallet and popped ctx.positions but never told the TradeManager,
    leaving a ghost position there; here the close is a fill, so there is nothing else to update.
    """

    def __init__(
        self,
        trade_manager: TradeManager | None,
        paper_wallet: PaperWallet | None,
        clock: Callable[[], datetime],
        fee: FeeModel = no_fee,
    ) -> None:
        self.trade_manager = trade_manager
        self.paper_wallet = paper_wallet
        self.clock = clock
        self.fee = fee
        self.exits: list[tuple[str, Decimal, str]] = []

    def __call__(self, symbol: str, position: Mapping[str, Any], price: Decimal, reason: str) -> None:
        """Close what the log holds for `symbol` now (not the size in the monitor's dict, which may be older).

        The close lands only on what was read: when another writer (another process) closed some or all of
        it between the look and the close, nothing is recorded and the log is read again; a position closed
        meanwhile leaves nothing to close."""
        del position  # the monitor's copy: the size to close is read from the log
        for _ in range(CLOSE_ATTEMPTS):
            held = self._held(symbol)
            if held is None:  # closed by another writer since the monitor looked: nothing left to close
                return
            try:
                closed = self._close(symbol, held, price, reason)
            except TradeRefused:  # the wallet checked the close on the books read anew
                if self._held(symbol) == held:
                    raise  # refused on what was read: not a change by another writer
                continue
            if closed:
                self.exits.append((symbol, price, reason))
                return
        raise TradeRefused(
            f"exit of {symbol}: the account changed in another process before each of {CLOSE_ATTEMPTS} closes "
            "could be recorded; nothing was recorded"
        )

    def _held(self, symbol: str) -> tuple[str, Decimal, Checkpoint | None] | None:
        """The side and size the log holds for `symbol` (None: flat) and, read through the TradeManager, the
        log position they are current at."""
        if self.paper_wallet is not None:
            entry = self.paper_wallet.positions.get(symbol)
            return None if entry is None else (entry["side"], entry["size"], None)
        if self.trade_manager is not None:
            open_position, at = self.trade_manager.position_at(symbol)
            return None if open_position is None else (open_position.side, open_position.total_amount, at)
        return None

    def _close(self, symbol: str, held: tuple[str, Decimal, Checkpoint | None], price: Decimal, reason: str) -> bool:
        """One closing fill of what `held` says; False, nothing recorded, when the log moved past it."""
        side, size, at = held
        fee = self.fee(size, price)
        if self.paper_wallet is not None:
            self.paper_wallet.close(symbol, size, price, fee=fee, strategy=f"exit:{reason}")
            return True
        assert self.trade_manager is not None  # _held found the position through it
        assert at is not None
        closing = "sell" if side == "long" else "buy"
        trade = create_trade(symbol, closing, size, price, fees=fee, strategy=f"exit:{reason}", timestamp=self.clock())
        return self.trade_manager.record_trade_if_current(trade, at=at)


@dataclass(eq=False)
class LegacyBot:
    """The bot's position-keeping objects, all reading one ledger account."""

    ledger: Ledger
    config: BotConfig
    trade_manager: TradeManager | None
    paper_wallet: PaperWallet | None
    context: BotContext
    monitor: PositionMonitor
    exit_handler: ExitHandler
    reconciliation: Reconciliation | None = None  # exchange_reconcile's at start (None: not set, or not reached)

    @classmethod
    def build(
        cls,
        ledger: Ledger,
        config: BotConfig | Mapping[str, Any] | None = None,
        *,
        price_source: PriceSource,
        state_dir: str | Path | None = None,
        account: str = "default",
        clock: Callable[[], datetime] = utc_now,
        fee: FeeModel = no_fee,
        exchange_client: BalanceClient | None = None,
    ) -> LegacyBot:
        """Wire the bot (see the module); `exchange_client` answers `exchange_reconcile`'s `fetch_balance()`
        (default: the ccxt exchange it names, keyed from the environment)."""
        settings = as_bot_config(config)
        reconciliation = None
        if settings.exchange_reconcile is not None:
            reconciliation = reconcile_at_start(
                ledger, settings.exchange_reconcile, account=account, client=exchange_client
            )
        folder = None if state_dir is None else Path(state_dir)
        trade_manager = None
        if settings.trade_manager.enabled:
            trade_manager = TradeManager(
                ledger,
                settings,
                account=account,
                state_file=None if folder is None else folder / TRADE_MANAGER_STATE,
                clock=clock,
            )
        wallet = None
        if settings.execution_mode in ("dry_run", "paper"):
            wallet = PaperWallet(
                ledger,
                settings.wallet_initial_balance,
                settings.wallet_max_open_trades,
                settings.wallet_allow_short,
                account=account,
                trade_manager=trade_manager if settings.paper_wallet.sync_with_trade_manager else None,
                state_file=None if folder is None else folder / PAPER_WALLET_STATE,
                auto_save=settings.paper_wallet.auto_sync_on_trade,
                clock=clock,
            )
        context = BotContext(config=settings, trade_manager=trade_manager, paper_wallet=wallet)
        handler = ExitHandler(trade_manager, wallet, clock, fee)
        watched = context.positions if context.trade_manager_is_source or wallet is None else wallet.positions
        monitor = PositionMonitor(
            settings,
            trade_manager=trade_manager,
            positions=watched,
            price_source=price_source,
            on_exit_triggered=handler,
        )
        return cls(ledger, settings, trade_manager, wallet, context, monitor, handler, reconciliation)

    @property
    def exits(self) -> list[tuple[str, Decimal, str]]:
        """(symbol, price, reason) of every exit the monitor triggered and the handler closed."""
        return self.exit_handler.exits

    def position_counts(self) -> dict[str, int]:
        """Open positions per view: what the legacy bot printed every cycle."""
        counts = {"ctx": len(self.context.positions)}
        if self.trade_manager is not None:
            counts["trade_manager"] = len(self.trade_manager.get_all_positions())
        if self.paper_wallet is not None:
            counts["wallet"] = len(self.paper_wallet.positions)
        counts["monitor"] = len(self.monitor.monitored_symbols())
        return counts

    def close(self) -> None:
        """Flush the TradeManager's marks and levels, write the legacy state files once more and release the
        read models' subscriptions."""
        if self.trade_manager is not None:
            self.trade_manager.close()
            if self.trade_manager.state_file is not None:
                self.trade_manager.save_state()
        if self.paper_wallet is not None:
            if self.paper_wallet.state_file is not None:
                self.paper_wallet.save_state()
            self.paper_wallet.shutdown()
