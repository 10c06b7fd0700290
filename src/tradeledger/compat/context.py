"""The legacy BotContext and PositionSyncManager, over views of one ledger.

In the legacy bot these copied positions between three mutable dicts and compared them afterwards.
Here there is nothing to copy: `ctx.positions` and `paper_wallet.positions` are read-only views of
the same log the TradeManager reads, so a "sync" returns the current view and the consistency check
compares views that cannot drift (another process's append between the reads of two views is read
again, not reported). The check is still real: it compares what each view shows, so a wallet on
another account, or a caller's own legacy dict, shows up as a mismatch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tradeledger.compat.config import BotConfig, as_bot_config
from tradeledger.errors import ReadOnlyView

if TYPE_CHECKING:
    from tradeledger.compat.paper_wallet import PaperWallet
    from tradeledger.compat.trade_manager import TradeManager

logger = logging.getLogger("tradeledger.compat")
COMPARE_ATTEMPTS = 5  # reads of the views by one consistency check, while other processes keep appending

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
        """The open symbols of each view. Each view is read current (its book caught up when it is read), so an
        append by another process between two of the reads shows as a mismatch no view holds: a mismatch is
        the answer only when the views, read again, show the same one (else they are read again, up to
        COMPARE_ATTEMPTS times in all). Before each such read every view reads the log itself: a book that
        waits for the log's change signal (a PostgreSQL NOTIFY still on its way) would show the same stale
        view again."""
        found = self._views(ctx_positions, pw_positions)
        for _ in range(COMPARE_ATTEMPTS - 1):
            if found.ok:
                return found
            self.trade_manager.refresh()
            if self.paper_wallet is not None:
                self.paper_wallet.refresh()
            again = self._views(ctx_positions, pw_positions)
            if again == found:
                return found
            found = again
        return found

    def _views(self, ctx_positions: Mapping[str, Any], pw_positions: Mapping[str, Any] | None) -> Consistency:
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


class BotContext:
    """The bot's shared context (the legacy constructor's arguments are accepted as they were).

    `use_trade_manager_as_source` defaults to the config (`trade_manager.enabled` and
    `trade_manager.single_source_of_truth`, else the top-level `use_trade_manager_as_source`, else
    true) and may be switched at run time, as the legacy rollback plan does. `positions` is then:
    the TradeManager's read-only view when it is the source; else the caller's own dict when one was
    given (the legacy bot writes it itself); else the paper wallet's read-only view, which, like the
    legacy `auto_fix_wallet_sync`, mirrors the wallet. `config` stays what was passed (legacy code
    reads it as a dict); `settings` is its typed form.
    """

    def __init__(
        self,
        positions: dict[str, Any] | None = None,
        df_cache: dict[str, Any] | None = None,
        regime_cache: dict[str, Any] | None = None,
        config: BotConfig | Mapping[str, Any] | None = None,
        *,
        trade_manager: TradeManager | None = None,
        paper_wallet: PaperWallet | None = None,
        use_trade_manager_as_source: bool | None = None,
        **services: object,  # exchange, ws_client, risk_manager, notifier, position_guard, ...: kept as attributes
    ) -> None:
        self.settings = as_bot_config(config)
        self.config: BotConfig | Mapping[str, Any] = self.settings if config is None else config
        self.df_cache = {} if df_cache is None else df_cache
        self.regime_cache = {} if regime_cache is None else regime_cache
        self._own_positions = positions
        self.paper_wallet = paper_wallet
        self.consistency_checks = 0
        self.inconsistencies: list[Consistency] = []
        self.position_sync_manager: PositionSyncManager | None = None
        self._hooked: set[int] = set()
        for name, value in services.items():
            setattr(self, name, value)
        if use_trade_manager_as_source is None:
            use_trade_manager_as_source = self.settings.trade_manager.enabled and self.settings.trade_manager_is_primary
        self.use_trade_manager_as_source = use_trade_manager_as_source
        self._trade_manager: TradeManager | None = None
        self.trade_manager = trade_manager
        if paper_wallet is not None and self.settings.trade_manager.validate_consistency:
            paper_wallet.after_record(self._check_after_append)  # its own appends (not through the TM)

    @property
    def trade_manager(self) -> TradeManager | None:
        return self._trade_manager

    @trade_manager.setter
    def trade_manager(self, manager: TradeManager | None) -> None:
        """Set at construction or later (the legacy main.py set `ctx.trade_manager` after building ctx)."""
        self._trade_manager = manager
        self.position_sync_manager = None if manager is None else PositionSyncManager(manager, self.paper_wallet)
        if manager is not None and id(manager) not in self._hooked and self.settings.trade_manager.validate_consistency:
            manager.after_record(self._check_after_append)
            self._hooked.add(id(manager))

    @property
    def trade_manager_is_source(self) -> bool:
        return bool(self.use_trade_manager_as_source) and self._trade_manager is not None

    @property
    def positions(self) -> Mapping[str, Any]:
        """`ctx.positions`: see the class docstring for which view it is."""
        if self.trade_manager_is_source and self._trade_manager is not None:
            return self._trade_manager.legacy_positions()
        if self._own_positions is not None:
            return self._own_positions
        if self.paper_wallet is not None:
            return self.paper_wallet.positions
        self._own_positions = {}
        return self._own_positions

    @positions.setter
    def positions(self, value: dict[str, Any]) -> None:
        if self.trade_manager_is_source:
            raise ReadOnlyView(POSITIONS_ADVICE)
        self._own_positions = value

    def sync_positions_from_trade_manager(self) -> None:
        """Nothing to copy: with the TradeManager as source every view reads the log. Kept for legacy callers."""

    def check_consistency(self) -> Consistency:
        """Compare the open symbols of the TradeManager (if any), ctx.positions and the wallet (if any)."""
        wallet = None if self.paper_wallet is None else self.paper_wallet.positions
        if self.position_sync_manager is not None:
            return self.position_sync_manager.compare(self.positions, wallet)
        ctx = tuple(sorted(self.positions))
        # Without a TradeManager the wallet (or, without one, ctx itself) is the reference.
        reference = ctx if wallet is None else tuple(sorted(wallet))
        return Consistency(trade_manager=reference, ctx=ctx, wallet=None if wallet is None else reference)

    def validate_position_consistency(self) -> bool:
        """True when the TradeManager, ctx.positions and the wallet agree (count and symbols); logs a mismatch."""
        self.consistency_checks += 1
        found = self.check_consistency()
        if found.ok:
            return True
        self.inconsistencies.append(found)
        logger.warning("%s: %s", found.describe(), found)
        return False

    def get_position_count(self) -> int:
        return len(self.get_position_symbols())

    def get_position_symbols(self) -> list[str]:
        if self.trade_manager_is_source and self._trade_manager is not None:
            return [position.symbol for position in self._trade_manager.get_all_positions()]
        return sorted(self.positions)

    def _check_after_append(self) -> None:
        self.validate_position_consistency()
