"""The legacy bot's API over one ledger: TradeManager, ctx.positions, the paper wallet, the monitor.

Every class here reads the ledger and appends fills through it; none keeps a copy of its own. The names are
imported when first read (PEP 562): a command that needs one helper module of this package (`compat.files`)
does not load the legacy bot, its YAML config reader and its paper wallet.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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

# Each public name: the module it lives in and its name there (imported when first read: __getattr__).
_LAZY: dict[str, tuple[str, str]] = {
    "BotConfig": ("tradeledger.compat.config", "BotConfig"),
    "BotContext": ("tradeledger.compat.context", "BotContext"),
    "ConfigError": ("tradeledger.compat.config", "ConfigError"),
    "ExitSignal": ("tradeledger.compat.monitor", "ExitSignal"),
    "LegacyBot": ("tradeledger.compat.bot", "LegacyBot"),
    "LegacyPosition": ("tradeledger.compat.legacy_position", "LegacyPosition"),
    "PaperTradingLoop": ("tradeledger.compat.paper_bot", "PaperTradingLoop"),
    "PaperWallet": ("tradeledger.compat.paper_wallet", "PaperWallet"),
    "Position": ("tradeledger.compat.legacy_position", "LegacyPosition"),
    "PositionMonitor": ("tradeledger.compat.monitor", "PositionMonitor"),
    "PositionSyncManager": ("tradeledger.compat.context", "PositionSyncManager"),
    "StartRefused": ("tradeledger.compat.reconcile_at_start", "StartRefused"),
    "Trade": ("tradeledger.compat.trades", "Trade"),
    "TradeManager": ("tradeledger.compat.trade_manager", "TradeManager"),
    "create_trade": ("tradeledger.compat.trades", "create_trade"),
    "load_bot_config": ("tradeledger.compat.config", "load_bot_config"),
    "load_price_series": ("tradeledger.compat.paper_bot", "load_price_series"),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value: object = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # read once: the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
