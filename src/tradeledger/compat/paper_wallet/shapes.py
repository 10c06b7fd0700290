"""The paper wallet's legacy shapes: a position entry, the two summaries and the YAML state file.

Pure functions of the wallet's books (`WalletBook`) and the open positions: the numbers are exact
Decimals from the log, except in the state file, which keeps the legacy floats.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from ruamel.yaml import YAML

from tradeledger.compat.paper_wallet.rules import OPEN_MARGIN
from tradeledger.compat.trades import legacy_float
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import ZERO, Position, PositionSide
from tradeledger.domain.wallet import WalletBook

# Legacy attributes of the wallet that are figures of the log here: assigning one raises ReadOnlyView.
DERIVED = frozenset(
    {"balance", "initial_balance", "positions", "realized_pnl", "total_trades", "total_value", "winning_trades"}
    | {"win_rate"}
)
WALLET_ADVICE = (
    "record a fill with paper_wallet.open/close/buy/sell or trade_manager.record_trade(create_trade(...)) instead"
)
STATE_HEADER = (
    "# Written by tradeledger from the ledger after every trade: a read model for dashboards.\n"
    "# It is never read back; edits are overwritten.\n"
)
# The keys of an entry that `get_position_summary` shows.
SUMMARY_KEYS = ("symbol", "side", "size", "entry_price", "reserved", "entry_time")


def entry(position: Position, mark: Decimal | None) -> dict[str, Any]:
    """One position in the legacy wallet shape (both quantity keys, pnl as a fraction)."""
    current = position.avg_price if mark is None else mark
    long = position.side is PositionSide.LONG
    with localcontext(LEDGER_CONTEXT):
        change = (current - position.avg_price) / position.avg_price
        reserved = ZERO if long else position.quantity * position.avg_price
        pnl = change if long else -change
    entered = position.opened_at.isoformat()
    return {
        "symbol": position.symbol,
        "side": position.side.value,
        "size": position.quantity,
        "amount": position.quantity,
        "entry_price": position.avg_price,
        "current_price": current,
        "pnl": pnl,
        "fees_paid": position.fees,
        "reserved": reserved,
        "entry_time": entered,
        "timestamp": entered,
    }


def wallet_summary(wallet: WalletBook, open_positions: int) -> dict[str, Any]:
    """The legacy wallet summary (see `PaperWallet.get_wallet_summary`)."""
    with localcontext(LEDGER_CONTEXT):
        held = wallet.held_at_cost()
        available = OPEN_MARGIN * wallet.cash
    return {
        "balance": wallet.cash,
        "initial_balance": wallet.initial_balance,
        "total_position_value": held,
        "available_balance": available,
        "position_count": open_positions,
        "total_trades": wallet.cycles_opened,
        "winning_trades": wallet.winning_cycles,
        "win_rate": wallet.win_rate,
        "is_healthy": wallet.cash >= 0,
    }


def position_summary(wallet: WalletBook, entries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The legacy position summary (see `PaperWallet.get_position_summary`)."""
    return {
        "balance": wallet.cash,
        "initial_balance": wallet.initial_balance,
        "realized_pnl": wallet.realized_pnl,
        "total_trades": wallet.cycles_opened,
        "winning_trades": wallet.winning_cycles,
        "win_rate": wallet.win_rate,
        "open_positions": len(entries),
        "positions": {symbol: {key: entry[key] for key in SUMMARY_KEYS} for symbol, entry in entries.items()},
    }


def state_text(wallet: WalletBook, entries: Mapping[str, Mapping[str, Any]]) -> str:
    """The legacy `paper_wallet_state.yaml`: its header, then the books with numbers as floats."""
    state = {
        "balance": legacy_float(wallet.cash),
        "initial_balance": legacy_float(wallet.initial_balance),
        "realized_pnl": legacy_float(wallet.realized_pnl),
        "total_trades": wallet.cycles_opened,
        "winning_trades": wallet.winning_cycles,
        "positions": {
            symbol: {key: legacy_float(value) if isinstance(value, Decimal) else value for key, value in entry.items()}
            for symbol, entry in entries.items()
        },
    }
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    text = io.StringIO()
    yaml.dump(state, text)
    return STATE_HEADER + text.getvalue()
