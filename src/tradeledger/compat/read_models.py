"""The legacy read-model files of a state folder rewound from the ledger (`tradeledger rollback`).

The bot keeps `trade_manager_state.json` and `paper_wallet_state.yaml` current after every trade (and, at its next
tick, after other writers' fills);
after a rollback they must show the shortened log, so they are rewritten from the ledger as it is.
"""

from __future__ import annotations

from pathlib import Path

from tradeledger.application.ledger import Ledger
from tradeledger.compat.bot import PAPER_WALLET_STATE, TRADE_MANAGER_STATE
from tradeledger.compat.config import DEFAULT_INITIAL_BALANCE, BotConfig
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager


def read_models_in(state_dir: Path) -> list[Path]:
    """The legacy read-model files a rollback would rewrite in `state_dir` (those that exist)."""
    return [path for path in (state_dir / TRADE_MANAGER_STATE, state_dir / PAPER_WALLET_STATE) if path.exists()]


def rewind_read_models(
    ledger: Ledger, state_dir: Path, settings: BotConfig | None, *, account: str = "default"
) -> list[str]:
    """Rewrite the legacy read-model files found in `state_dir` from the ledger as it is now.

    `trade_manager_state.json` from a TradeManager of the bot's `account` over the ledger (risk levels
    of reopened cycles from the bot's config); `paper_wallet_state.yaml` from a PaperWallet of that
    account with the config's initial balance. Files that are not there are not created: a rollback
    rewinds what the bot keeps.
    """
    written: list[str] = []
    state = state_dir / TRADE_MANAGER_STATE
    if state.exists():
        manager = TradeManager(ledger, settings, account=account)
        try:
            manager.save_state(state)
        finally:
            manager.close()
        written.append(str(state))
    wallet_file = state_dir / PAPER_WALLET_STATE
    if wallet_file.exists():
        balance = settings.wallet_initial_balance if settings is not None else DEFAULT_INITIAL_BALANCE
        wallet = PaperWallet(ledger, balance, account=account, auto_save=False)
        try:
            wallet.save_state(wallet_file)
        finally:
            wallet.shutdown()
        written.append(str(wallet_file))
    return written
