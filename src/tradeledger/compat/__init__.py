"""The legacy bot's API over one ledger: TradeManager, ctx.positions, the paper wallet, the monitor.

Every class here reads the ledger and appends fills through it; none keeps a copy of its own.
"""

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
