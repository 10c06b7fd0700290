"""The legacy bot's API over one ledger: TradeManager, ctx.positions, the paper wallet, the monitor.

Every class here reads the ledger and appends fills through it; none keeps a copy of its own. The names are
imported when first read (PEP 562): a command that needs one helper module of this package (`compat.files`)
does not load the legacy bot, its YAML config reader and its paper wallet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeledger.lazy import lazy_names

if TYPE_CHECKING:
    from tradeledger.compat.bot import LegacyBot
    from tradeledger.compat.config import BotConfig, ConfigError, load_bot_config
    from tradeledger.compat.context import BotContext, PositionSyncManager
    from tradeledger.compat.legacy_position import LegacyPosition
    from tradeledger.compat.monitor import ExitSignal, PositionMonitor
    from tradeledger.compat.paper_bot import PaperTradingLoop, load_price_series
    from tradeledger.compat.paper_wallet import PaperWallet
    from tradeledger.compat.reconcile_at_start import StartRefused
    from tradeledger.compat.trade_manager import TradeManager
    from tradeledger.compat.trades import Trade, create_trade

    Position = LegacyPosition  # the legacy name

# Where each public name lives (`module:attribute` when its name there differs), imported when first read.
_LAZY = {
    "BotConfig": "tradeledger.compat.config",
    "BotContext": "tradeledger.compat.context",
    "ConfigError": "tradeledger.compat.config",
    "ExitSignal": "tradeledger.compat.monitor",
    "LegacyBot": "tradeledger.compat.bot",
    "LegacyPosition": "tradeledger.compat.legacy_position",
    "PaperTradingLoop": "tradeledger.compat.paper_bot",
    "PaperWallet": "tradeledger.compat.paper_wallet",
    "Position": "tradeledger.compat.legacy_position:LegacyPosition",
    "PositionMonitor": "tradeledger.compat.monitor",
    "PositionSyncManager": "tradeledger.compat.context",
    "StartRefused": "tradeledger.compat.reconcile_at_start",
    "Trade": "tradeledger.compat.trades",
    "TradeManager": "tradeledger.compat.trade_manager",
    "create_trade": "tradeledger.compat.trades",
    "load_bot_config": "tradeledger.compat.config",
    "load_price_series": "tradeledger.compat.paper_bot",
}


__all__ = [
    "BotConfig",
    "BotContext",
    "ConfigError",
    "ExitSignal",
    "LegacyBot",
    "PaperTradingLoop",
    "PaperWallet",
    "Position",
    "PositionMonitor",
    "PositionSyncManager",
    "StartRefused",
    "Trade",
    "TradeManager",
    "create_trade",
    "load_bot_config",
    "load_price_series",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
