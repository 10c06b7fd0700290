"""The legacy BotContext and PositionSyncManager, over views of one ledger.

In the legacy bot these copied positions between three mutable dicts and compared them afterwards.
Here there is nothing to copy: `ctx.positions` and `paper_wallet.positions` are read-only views of
the same log the TradeManager reads, so a "sync" returns the current view and the consistency check
compares views that cannot drift. The check is still real: it compares what each view shows, so a
wallet on another account, or a caller's own legacy dict, shows up as a mismatch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tradeledger.compat.config import BotConfig
from tradeledger.errors import ReadOnlyView

if TYPE_CHECKING:
    from tradeledger.compat.paper_wallet import PaperWallet
    from tradeledger.compat.trade_manager import TradeManager

logger = logging.getLogger("tradeledger.compat")

POSITIONS_ADVICE = (
    "ctx.positions is a read-only view of the ledger while the TradeManager is the source of truth; "
    "record a fill with ctx.trade_manager.record_trade(create_trade(...)) or ctx.paper_wallet.open/close"
)


@dataclass(frozen=True, slots=True)
class Consistency:
    """What `validate_consistency` compared: open positions per view and their symbols."""

    trade_manager: tuple[str, ...]
    ctx: tuple[str, ...]
    wallet: tuple[str, ...] | None  # None: no paper wallet in this bot

    @property
    def ok(self) -> bool:
        views = [self.trade_manager, self.ctx] + ([] if self.wallet is None else [self.wallet])
        return all(view == views[0] for view in views)

    def describe(self) -> str:
        wallet = "-" if self.wallet is None else str(len(self.wallet))
        return f"Position count mismatch: TM={len(self.trade_manager)}, ctx={len(self.ctx)}, wallet={wallet}"


class PositionSyncManager:
    """The legacy sync manager's calls, answered from the TradeManager's views of the log."""

    def __init__(self, trade_manager: TradeManager, paper_wallet: PaperWallet | None = None) -> None:
        self.trade_manager = trade_manager
        self.paper_wallet = paper_wallet

    def sync_context_positions(self, _ctx_positions: object = None) -> Mapping[str, Mapping[str, Any]]:
        """The legacy `ctx.positions` view (always current; the argument is accepted and not needed)."""
        return self.trade_manager.legacy_positions()

    def sync_paper_wallet_positions(
        self, pw_positions: Mapping[str, Any] | None = None, paper_wallet: PaperWallet | None = None, *_: object
    ) -> Mapping[str, Any]:
        """The paper wallet's positions view (always current); without a wallet, what was passed in."""
        wallet = paper_wallet or self.paper_wallet
        if wallet is not None:
            return wallet.positions
        return {} if pw_positions is None else pw_positions

    def compare(self, ctx_positions: Mapping[str, Any], pw_positions: Mapping[str, Any] | None) -> Consistency:
        return Consistency(
            trade_manager=tuple(sorted(position.symbol for position in self.trade_manager.get_all_positions())),
            ctx=tuple(sorted(ctx_positions)),
            wallet=None if pw_positions is None else tuple(sorted(pw_positions)),
        )

    def validate_consistency(
        self, ctx_positions: Mapping[str, Any], pw_positions: Mapping[str, Any] | None = None
    ) -> bool:
        """True when the TradeManager, ctx and wallet show the same open symbols; else logs the mismatch."""
        found = self.compare(ctx_positions, pw_positions)
        if not found.ok:
            logger.warning(
                "%s (TM %s, ctx %s, wallet %s)", found.describe(), found.trade_manager, found.ctx, found.wallet
            )
        return found.ok


@dataclass(eq=False)
class BotContext:
    """The bot's shared context. With the TradeManager as source, `positions` is its read-only view.

    `use_trade_manager_as_source` defaults to the config (`trade_manager.enabled` and
    `trade_manager.single_source_of_truth`, else the top-level `use_trade_manager_as_source`).
    Without it, `positions` is the caller's own legacy dict, as in the legacy bot.
    """

    config: BotConfig = field(default_factory=BotConfig)
    trade_manager: TradeManager | None = None
    paper_wallet: PaperWallet | None = None
    legacy_positions: dict[str, Any] = field(default_factory=dict)
    use_trade_manager_as_source: bool | None = None
    position_sync_manager: PositionSyncManager | None = field(init=False, default=None)
    consistency_checks: int = field(init=False, default=0)
    inconsistencies: list[Consistency] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.use_trade_manager_as_source is None:
            self.use_trade_manager_as_source = (
                self.config.trade_manager.enabled and self.config.trade_manager_is_primary
            )
        if self.trade_manager is not None:
            self.position_sync_manager = PositionSyncManager(self.trade_manager, self.paper_wallet)
            if self.config.trade_manager.validate_consistency:
                self.trade_manager.after_record(self._check_after_append)

    @property
    def trade_manager_is_source(self) -> bool:
        return bool(self.use_trade_manager_as_source) and self.trade_manager is not None

    @property
    def positions(self) -> Mapping[str, Any]:
        """`ctx.positions`: the TradeManager's read-only legacy view, or the caller's dict without it."""
        if self.trade_manager_is_source and self.trade_manager is not None:
            return self.trade_manager.legacy_positions()
        return self.legacy_positions

    @positions.setter
    def positions(self, value: Mapping[str, Any]) -> None:
        if self.trade_manager_is_source:
            raise ReadOnlyView(POSITIONS_ADVICE)
        self.legacy_positions = dict(value)

    def sync_positions_from_trade_manager(self) -> None:
        """Nothing to copy: with the TradeManager as source every view reads the log. Kept for legacy callers."""

    def check_consistency(self) -> Consistency | None:
        """Compare the views (None when there is no TradeManager to compare with)."""
        if self.position_sync_manager is None:
            return None
        wallet = None if self.paper_wallet is None else self.paper_wallet.positions
        return self.position_sync_manager.compare(self.positions, wallet)

    def validate_position_consistency(self) -> bool:
        """True when the TradeManager, ctx.positions and the wallet agree (count and symbols); logs a mismatch."""
        self.consistency_checks += 1
        found = self.check_consistency()
        if found is None or found.ok:
            return True
        self.inconsistencies.append(found)
        logger.warning("%s: %s", found.describe(), found)
        return False

    def get_position_count(self) -> int:
        if self.trade_manager_is_source and self.trade_manager is not None:
            return len(self.trade_manager.get_all_positions())
        return len(self.legacy_positions)

    def get_position_symbols(self) -> list[str]:
        if self.trade_manager_is_source and self.trade_manager is not None:
            return [position.symbol for position in self.trade_manager.get_all_positions()]
        return sorted(self.legacy_positions)

    def _check_after_append(self) -> None:
        self.validate_position_consistency()
