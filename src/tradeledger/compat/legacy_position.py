"""The legacy `Position` shape (legacy-system.md §1.2): a read-only snapshot of a position cycle.

A `LegacyPosition` (public as `tradeledger.compat.Position`, the legacy name) is built from an open
or closed cycle of the position projection with its risk levels and the cycle's trades; nothing
writes through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from tradeledger.compat.trades import (
    HUNDRED,
    POSITION_KEYS,
    Trade,
    legacy_float,
    legacy_time,
    optional_float,
    to_decimal,
)
from tradeledger.domain.fills import LEDGER_CONTEXT
from tradeledger.domain.positions import ZERO, ClosedPosition, Position, PositionSide, pnl
from tradeledger.domain.risk import RiskLevels, exit_reason
from tradeledger.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class LegacyPosition:
    """A position cycle in the legacy shape: a read-only snapshot of the projection and its risk levels.

    Public as `tradeledger.compat.Position`, the legacy name; inside, `Position` is the ledger's own.
    """

    symbol: str
    side: str  # "long" | "short"
    total_amount: Decimal
    average_price: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    trades: Sequence[Trade]  # a tuple, or a CycleTrades read from the log when first looked into
    entry_time: datetime
    last_update: datetime
    highest_price: Decimal | None = None
    lowest_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    trailing_stop_pct: Decimal | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    account: str = "default"
    opened_seq: int = 0

    @classmethod
    def of(
        cls,
        position: Position,
        levels: RiskLevels | None,
        trades: Sequence[Trade],
        last_update: datetime,
    ) -> LegacyPosition:
        """The legacy view of an open cycle."""
        return cls(
            symbol=position.symbol,
            side=position.side.value,
            total_amount=position.quantity,
            average_price=position.avg_price,
            realized_pnl=position.realized_pnl,
            fees_paid=position.fees,
            trades=trades,
            entry_time=position.opened_at,
            last_update=last_update,
            highest_price=None if levels is None else levels.highest_price,
            lowest_price=None if levels is None else levels.lowest_price,
            stop_loss_price=None if levels is None else levels.stop_loss_price,
            take_profit_price=None if levels is None else levels.take_profit_price,
            trailing_stop_pct=None if levels is None else levels.trailing_stop_pct,
            account=position.account,
            opened_seq=position.opened_seq,
        )

    @classmethod
    def closed(cls, cycle: ClosedPosition, trades: Sequence[Trade]) -> LegacyPosition:
        """The legacy view of a finished cycle: total_amount 0, its realized PnL and every fee it paid."""
        return cls(
            symbol=cycle.symbol,
            side=cycle.side.value,
            total_amount=ZERO,
            average_price=cycle.avg_price,
            realized_pnl=cycle.realized_pnl,
            fees_paid=cycle.fees,
            trades=trades,
            entry_time=cycle.opened_at,
            last_update=cycle.closed_at,
            account=cycle.account,
            opened_seq=cycle.opened_seq,
        )

    @property
    def is_open(self) -> bool:
        return self.total_amount > 0

    @property
    def position_value(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return self.total_amount * self.average_price

    def calculate_unrealized_pnl(self, current_price: Decimal | float | str) -> tuple[Decimal, Decimal]:
        """(pnl, pnl_pct): (m - avg)·qty for a long, (avg - m)·qty for a short; pct in percent of qty·avg."""
        price = to_decimal(current_price, "current_price")
        if not self.is_open or price <= 0:
            return ZERO, ZERO
        with localcontext(LEDGER_CONTEXT):
            gain = pnl(PositionSide(self.side), self.average_price, price, self.total_amount)
            return gain, gain / self.position_value * HUNDRED

    def should_exit(self, current_price: Decimal | float | str) -> tuple[bool, str]:
        """(True, "stop_loss" | "take_profit") when a level is hit, the stop first; (False, "") otherwise."""
        price = to_decimal(current_price, "current_price")
        if not self.is_open:
            return False, ""
        levels = RiskLevels(
            account=self.account,
            symbol=self.symbol,
            opened_seq=self.opened_seq,
            stop_loss_price=self.stop_loss_price,
            take_profit_price=self.take_profit_price,
            trailing_stop_pct=self.trailing_stop_pct,
            highest_price=self.highest_price or self.average_price,
            lowest_price=self.lowest_price or self.average_price,
        )
        reason = exit_reason(levels, PositionSide(self.side), price)
        return (False, "") if reason is None else (True, reason.value)

    def to_dict(self) -> dict[str, Any]:
        """The legacy JSON shape (keys of legacy Position.to_dict): numbers as floats, times as ISO 8601."""
        return self.shape([trade.to_dict() for trade in self.trades])

    def shape(self, trades: list[Any]) -> dict[str, Any]:
        """`to_dict` with `trades` as the value of its trades (the state file gives their texts, made once)."""
        return {
            "symbol": self.symbol,
            "side": self.side,
            "total_amount": legacy_float(self.total_amount),
            "average_price": legacy_float(self.average_price),
            "realized_pnl": legacy_float(self.realized_pnl),
            "fees_paid": legacy_float(self.fees_paid),
            "entry_time": self.entry_time.isoformat(),
            "last_update": self.last_update.isoformat(),
            "highest_price": optional_float(self.highest_price),
            "lowest_price": optional_float(self.lowest_price),
            "stop_loss_price": optional_float(self.stop_loss_price),
            "take_profit_price": optional_float(self.take_profit_price),
            "trailing_stop_pct": optional_float(self.trailing_stop_pct),
            "metadata": dict(self.metadata),
            "trades": trades,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LegacyPosition:
        """Read a legacy position dict (a naive time is read as UTC); unknown keys are refused."""
        unknown = sorted(set(data) - set(POSITION_KEYS) - {"mark_price", "is_open"})
        if unknown:
            raise InvalidArgument(f"position {data.get('symbol')!r}: unknown keys {unknown}")
        side = data.get("side")
        if side not in (PositionSide.LONG, PositionSide.SHORT):
            raise InvalidArgument(f"position {data.get('symbol')!r}: side must be 'long' or 'short' (got {side!r})")

        def optional(name: str) -> Decimal | None:
            value = data.get(name)
            return None if value is None else to_decimal(value, name)

        def when(name: str) -> datetime:
            value = data.get(name)
            if not isinstance(value, str):
                raise InvalidArgument(f"position {data.get('symbol')!r}: {name} must be an ISO time (got {value!r})")
            return legacy_time(value, f"position {data.get('symbol')!r}: {name}")

        trailing = optional("trailing_stop_pct")
        if trailing is not None and not 0 <= trailing < 1:
            msg = f"position {data.get('symbol')!r}: trailing_stop_pct is a fraction, e.g. 0.008 (got {trailing})"
            raise InvalidArgument(msg)
        return cls(
            symbol=str(data["symbol"]),
            side=str(side),
            total_amount=to_decimal(data.get("total_amount", 0), "total_amount"),
            average_price=to_decimal(data.get("average_price", 0), "average_price"),
            realized_pnl=to_decimal(data.get("realized_pnl", 0), "realized_pnl"),
            fees_paid=to_decimal(data.get("fees_paid", 0), "fees_paid"),
            trades=tuple(Trade.from_dict(item) for item in data.get("trades") or ()),
            entry_time=when("entry_time"),
            last_update=when("last_update") if data.get("last_update") else when("entry_time"),
            highest_price=optional("highest_price"),
            lowest_price=optional("lowest_price"),
            stop_loss_price=optional("stop_loss_price"),
            take_profit_price=optional("take_profit_price"),
            trailing_stop_pct=trailing,
            metadata=dict(data.get("metadata") or {}),
        )
