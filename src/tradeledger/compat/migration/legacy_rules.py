"""The legacy TradeManager's rules (commit a4168224), re-run on its trades so each difference has a cause."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

from tradeledger.compat.migration.legacy import LegacyTrade, legacy_round
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import ZERO, Execution, PositionBook

# --- reconciliation ----------------------------------------------------------------------------------


@dataclass(slots=True)
class LegacyPosition:
    """The legacy TradeManager's Position as its a4168224 rules leave it (legacy-system.md §1.3)."""

    side: str
    amount: Decimal
    avg: Decimal
    realized: Decimal
    fees: Decimal


@dataclass(slots=True)
class CycleStory:
    """How the legacy position of a symbol came to differ from the cycle tradeledger has (same fills)."""

    start: str  # "open" | "flip" | "reopen" | "flip_from_closed"
    started_at: datetime
    fee_start_difference: Decimal = ZERO  # legacy fees - our cycle fees, right after the cycle's first fill
    dropped_fees: Decimal = ZERO  # fees of the cycle's reducing fills (never added by the legacy code)
    dropped_count: int = 0
    carried_realized: Decimal = ZERO  # legacy realized right after the cycle's first fill
    earlier_realized: Decimal = ZERO  # our earlier cycles' realized PnL (exact)
    earlier_fees: Decimal = ZERO
    earlier_cycles: int = 0
    flip_fee: Decimal = ZERO


@dataclass(slots=True)
class LegacyFold:
    positions: dict[str, LegacyPosition] = field(default_factory=dict)
    stories: dict[str, CycleStory] = field(default_factory=dict)
    total_realized: Decimal = ZERO
    total_trades: int = 0
    total_volume: Decimal = ZERO
    total_fees: Decimal = ZERO
    not_fills: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _legacy_apply(fold: LegacyFold, trade: LegacyTrade) -> None:
    """One record_trade of the legacy TradeManager (a4168224), in its Decimal arithmetic."""
    amount, price, fees = legacy_round(trade.amount), legacy_round(trade.price), legacy_round(trade.fees)
    fold.total_trades += 1
    fold.total_volume += amount * price
    fold.total_fees += fees
    if amount == 0:
        return
    direction = "long" if trade.side == "buy" else "short"
    held = fold.positions.get(trade.symbol)
    if held is None:
        fold.positions[trade.symbol] = LegacyPosition(direction, amount, price, ZERO, fees)
    elif held.side == direction:
        held.avg = (held.amount * held.avg + amount * price) / (held.amount + amount)
        held.amount += amount
        held.fees += fees
    elif amount <= held.amount:
        realized = (price - held.avg) * amount if held.side == "long" else (held.avg - price) * amount
        held.realized += realized
        fold.total_realized += realized
        held.amount -= amount
    else:
        realized = (price - held.avg) * held.amount if held.side == "long" else (held.avg - price) * held.amount
        fold.total_realized += realized
        # A new Position: __post_init__ quantizes the carried realized PnL to 8 places, rounding down.
        carried = legacy_round(held.realized + realized)
        fold.positions[trade.symbol] = LegacyPosition(direction, amount - held.amount, price, carried, fees)


def fold_trade_manager(trades: Sequence[LegacyTrade], account: str) -> tuple[LegacyFold, PositionBook]:
    """The legacy rules and ours over the state file's trades side by side, noting each divergence."""
    fold = LegacyFold()
    ours = PositionFold()
    seen: set[str] = set()
    closed_cycles: Counter[str] = Counter()
    with localcontext(LEDGER_CONTEXT):
        for seq, trade in enumerate(trades, start=1):
            before_legacy = fold.positions.get(trade.symbol)
            legacy_side = None if before_legacy is None else before_legacy.side
            _legacy_apply(fold, trade)
            if trade.fill is None or trade.id in seen:
                reason = trade.skip_reason or "recorded twice"
                fold.not_fills[trade.symbol].append(f"{trade.where} ({reason})")
                continue
            seen.add(trade.id)
            key = (account, trade.symbol)
            before = ours.position(key)
            outcome = ours.apply(Execution.of(seq, trade.fill))
            if outcome.closed is not None:
                closed_cycles[trade.symbol] += 1
            # None when the legacy rules moved no position: an amount they round down to 0 (8 places).
            legacy = fold.positions.get(trade.symbol)
            opened = outcome.position is not None and (
                before is None or outcome.position.opened_seq != before.opened_seq
            )
            if opened:
                if legacy is None:  # the legacy rules opened nothing: no story of this cycle to tell
                    fold.stories.pop(trade.symbol, None)
                    continue
                assert outcome.position is not None
                _, closed_totals = ours.positions([key])[key]
                if before is not None:
                    start = "flip"
                elif legacy_side is None:
                    start = "open"
                else:
                    start = "reopen" if legacy_side == outcome.position.side.value else "flip_from_closed"
                fold.stories[trade.symbol] = CycleStory(
                    start=start,
                    started_at=trade.timestamp,
                    fee_start_difference=legacy.fees - outcome.position.fees,
                    carried_realized=legacy.realized,
                    earlier_realized=closed_totals.realized_pnl,
                    earlier_fees=closed_totals.fees,
                    earlier_cycles=closed_cycles[trade.symbol],
                    flip_fee=trade.fill.fee,
                )
            elif before is not None and (outcome.position is None or outcome.position.quantity < before.quantity):
                story = fold.stories.get(trade.symbol)
                if story is not None:
                    story.dropped_fees += trade.fill.fee
                    story.dropped_count += 1
    return fold, ours.book()
