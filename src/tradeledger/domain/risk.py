"""Risk levels of an open position cycle (spec section 4): stop loss, take profit, trailing stop.

Levels are market-side state, not ledger facts: they come from the bot's config when a cycle opens
and ratchet with price marks. They belong to one cycle, named by its `opened_seq`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, localcontext
from enum import StrEnum

from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import Position, PositionKey, PositionSide

ONE = Decimal(1)


class ExitReason(StrEnum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """Fractions (0.01 = 1 %) applied to a new cycle's entry price; None leaves that level unset."""

    stop_loss_pct: Decimal | None = Decimal("0.01")
    take_profit_pct: Decimal | None = Decimal("0.04")
    trailing_stop_pct: Decimal | None = Decimal("0.008")


@dataclass(frozen=True, slots=True)
class RiskLevels:
    """The levels of the open cycle of (account, symbol) that opened at `opened_seq`."""

    account: str
    symbol: str
    opened_seq: int
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None
    trailing_stop_pct: Decimal | None
    highest_price: Decimal
    lowest_price: Decimal

    def belongs_to(self, position: Position) -> bool:
        return (self.account, self.symbol, self.opened_seq) == (position.account, position.symbol, position.opened_seq)


def initial_levels(position: Position, settings: RiskSettings) -> RiskLevels:
    """Levels for a new cycle from its entry price: long SL = avg·(1 - sl), TP = avg·(1 + tp); short mirrored."""
    avg = position.avg_price
    sign = 1 if position.side is PositionSide.LONG else -1
    with localcontext(LEDGER_CONTEXT):
        stop = None if settings.stop_loss_pct is None else avg * (ONE - sign * settings.stop_loss_pct)
        target = None if settings.take_profit_pct is None else avg * (ONE + sign * settings.take_profit_pct)
    return RiskLevels(
        account=position.account,
        symbol=position.symbol,
        opened_seq=position.opened_seq,
        stop_loss_price=stop,
        take_profit_price=target,
        trailing_stop_pct=settings.trailing_stop_pct,
        highest_price=avg,
        lowest_price=avg,
    )


def ratchet(levels: RiskLevels, side: PositionSide, price: Decimal) -> RiskLevels:
    """Levels after a price mark: the high/low watermarks move outward, the trailing stop only tightens.

    Long: candidate = highest·(1 - pct), taken when above the stop. Short: lowest·(1 + pct), taken
    when below. Returns `levels` itself when nothing moved (the common tick).
    """
    highest, lowest = levels.highest_price, levels.lowest_price
    if price > highest:
        highest = price
    elif price < lowest:
        lowest = price
    else:
        return levels
    stop = levels.stop_loss_price
    pct = levels.trailing_stop_pct
    if pct is not None:
        with localcontext(LEDGER_CONTEXT):
            if side is PositionSide.LONG and highest != levels.highest_price:
                candidate = highest * (ONE - pct)
                if stop is None or candidate > stop:
                    stop = candidate
            elif side is PositionSide.SHORT and lowest != levels.lowest_price:
                candidate = lowest * (ONE + pct)
                if stop is None or candidate < stop:
                    stop = candidate
    return replace(levels, highest_price=highest, lowest_price=lowest, stop_loss_price=stop)


def tightest(stored: RiskLevels | None, new: RiskLevels, side: PositionSide) -> RiskLevels:
    """The levels to store when `new` is written over `stored` (spec section 4: a stored stop never loosens).

    A row of another cycle (a different `opened_seq`) is replaced. For the same cycle the ratcheted
    levels keep the tighter of the two, whichever writer is behind: the high watermark the higher,
    the low watermark the lower, the stop the higher for a long and the lower for a short (a stop
    is tighter than none). Take profit and the trailing fraction are the writer's, as set at opening.
    """
    if stored is None or (stored.account, stored.symbol, stored.opened_seq) != (
        new.account,
        new.symbol,
        new.opened_seq,
    ):
        return new
    stop, other = new.stop_loss_price, stored.stop_loss_price
    if stop is None or (other is not None and (other > stop if side is PositionSide.LONG else other < stop)):
        stop = other
    highest = max(new.highest_price, stored.highest_price)
    lowest = min(new.lowest_price, stored.lowest_price)
    if (stop, highest, lowest) == (new.stop_loss_price, new.highest_price, new.lowest_price):
        return new
    return replace(new, stop_loss_price=stop, highest_price=highest, lowest_price=lowest)


def exit_reason(levels: RiskLevels, side: PositionSide, price: Decimal) -> ExitReason | None:
    """The stop is checked first, then the take profit (long: price ≤ SL, price ≥ TP; short mirrored)."""
    stop, target = levels.stop_loss_price, levels.take_profit_price
    if side is PositionSide.LONG:
        if stop is not None and price <= stop:
            return ExitReason.STOP_LOSS
        if target is not None and price >= target:
            return ExitReason.TAKE_PROFIT
    else:
        if stop is not None and price >= stop:
            return ExitReason.STOP_LOSS
        if target is not None and price <= target:
            return ExitReason.TAKE_PROFIT
    return None


@dataclass(frozen=True, slots=True)
class PriceMark:
    """The last price seen for a symbol, and when it was stored."""

    symbol: str
    price: Decimal
    marked_at: datetime


@dataclass(frozen=True, slots=True)
class Marks:
    """Every stored price mark (by symbol) and the risk levels of open cycles (by account, symbol)."""

    prices: Mapping[str, PriceMark]
    levels: Mapping[PositionKey, RiskLevels]
