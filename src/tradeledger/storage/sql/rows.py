"""Rows of the ledger's tables to domain values and back: every amount exact text, every time ISO text."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradeledger.domain.fills import decimal_text, time_text
from tradeledger.domain.fold_state import ClosedValues, OpenValues, TotalsValues, stored_time
from tradeledger.domain.positions import (
    ZERO,
    ClosedPosition,
    Position,
    PositionKey,
    PositionSide,
    Totals,
    UnvaluedFees,
)
from tradeledger.domain.risk import PriceMark, RiskLevels

_LONG, _SHORT = PositionSide.LONG.value, PositionSide.SHORT.value


def unvalued_text(fees: UnvaluedFees) -> str | None:
    """Unvalued fees as stored: JSON [[currency, amount], ...] sorted by currency, NULL when there are none."""
    if not fees:
        return None
    return json.dumps([[currency, decimal_text(amount)] for currency, amount in fees], separators=(",", ":"))


def unvalued(text: str | None) -> UnvaluedFees:
    if text is None:
        return ()
    return tuple((currency, Decimal(amount)) for currency, amount in json.loads(text))


def _funding(text: str | None) -> Decimal:
    return ZERO if text is None else Decimal(text)


def _cycle(row: Any) -> dict[str, Any]:  # noqa: ANN401 - a row of a table of cycles
    """The columns an open and a closed cycle share, as values."""
    return {
        "account": row.account,
        "symbol": row.symbol,
        "side": PositionSide(row.side),
        "quantity": Decimal(row.quantity),
        "avg_price": Decimal(row.avg_price),
        "realized_pnl": Decimal(row.realized_pnl),
        "fees": Decimal(row.fees),
        "opened_at": datetime.fromisoformat(row.opened_at),
        "opened_seq": row.opened_seq,
        "funding": _funding(row.funding),
        "unvalued_fees": unvalued(row.unvalued_fees),
    }


def position(row: Any) -> Position | None:  # noqa: ANN401 - a row of `positions` or `position_snapshots`
    """The open cycle of a `positions` row, None when the row is flat (side is NULL)."""
    if row.side is None:
        return None
    return Position(**_cycle(row), entered_quantity=Decimal(row.entered_quantity), last_seq=row.last_seq)


def closed_totals(row: Any) -> Totals:  # noqa: ANN401 - a row of `positions` or `position_snapshots`
    return Totals(
        Decimal(row.closed_realized_pnl),
        Decimal(row.closed_fees),
        Decimal(row.closed_funding),
        unvalued(row.closed_unvalued_fees),
    )


def closed(row: Any) -> ClosedPosition:  # noqa: ANN401 - a row of `closed_positions`
    return ClosedPosition(**_cycle(row), closed_at=datetime.fromisoformat(row.closed_at), closed_seq=row.closed_seq)


def position_values(key: PositionKey, open_cycle: Position | None, totals: Totals) -> tuple[Any, ...]:
    """A `positions` row in its column order: the open cycle's columns (NULL when flat) and the closed
    cycles' totals, as a tuple (an append writes one per touched key, a rebuild one per key every
    `snapshot_every` events). One layout: `folded_values` of the same values."""
    open_values: OpenValues | None = None
    if (c := open_cycle) is not None:
        open_values = (
            c.side is PositionSide.LONG,
            c.quantity,
            c.avg_price,
            c.realized_pnl,
            c.fees,
            c.opened_at,
            c.opened_seq,
            c.entered_quantity,
            c.last_seq,
            c.funding,
            c.unvalued_fees,
        )
    return folded_values(key, open_values, (totals.realized_pnl, totals.fees, totals.funding, totals.unvalued_fees))


def folded_values(key: PositionKey, open_values: OpenValues | None, totals: TotalsValues) -> tuple[Any, ...]:
    """A `positions` row of a key from its plain values (as `FoldedRows` holds them), in column order."""
    text = decimal_text
    realized, fees, funding, unvalued_fees = totals
    closed = (text(realized), text(fees))
    closed_rest = (text(funding), unvalued_text(unvalued_fees))
    if open_values is None:
        return (*key, None, None, None, None, None, None, None, None, None, *closed, None, None, *closed_rest)
    long, quantity, avg, realized, fees, opened_at, opened_seq, entered, last_seq, funding, unvalued_fees = open_values
    return (
        *key,
        _LONG if long else _SHORT,
        text(quantity),
        text(avg),
        text(realized),
        text(fees),
        stored_time(opened_at),
        opened_seq,
        text(entered),
        last_seq,
        *closed,
        text(funding),
        unvalued_text(unvalued_fees),
        *closed_rest,
    )


CLOSED_COLUMNS = (
    "closed_seq",
    "account",
    "symbol",
    "side",
    "quantity",
    "avg_price",
    "realized_pnl",
    "fees",
    "opened_at",
    "opened_seq",
    "closed_at",
    "funding",
    "unvalued_fees",
)


def closed_values(values: ClosedValues) -> tuple[Any, ...]:
    """A `closed_positions` row from a closed cycle's plain values (as `ClosedCycles` holds them), in
    CLOSED_COLUMNS order."""
    text = decimal_text
    (
        (account, symbol),
        long,
        entered,
        avg,
        realized,
        fees,
        opened_at,
        opened_seq,
        closed_at,
        seq,
        funding,
        unvalued_fees,
    ) = values
    return (
        seq,
        account,
        symbol,
        _LONG if long else _SHORT,
        text(entered),
        text(avg),
        text(realized),
        text(fees),
        stored_time(opened_at),
        opened_seq,
        stored_time(closed_at),
        text(funding),
        unvalued_text(unvalued_fees),
    )


def closed_cycle_values(cycle: ClosedPosition) -> tuple[Any, ...]:
    """`closed_values` of a ClosedPosition (its `quantity` is everything the cycle opened)."""
    c = cycle
    return closed_values(
        (
            (c.account, c.symbol),
            c.side is PositionSide.LONG,
            c.quantity,
            c.avg_price,
            c.realized_pnl,
            c.fees,
            c.opened_at,
            c.opened_seq,
            c.closed_at,
            c.closed_seq,
            c.funding,
            c.unvalued_fees,
        )
    )


def price_mark(row: Any) -> PriceMark:  # noqa: ANN401 - a row of `price_marks`
    return PriceMark(row.symbol, Decimal(row.price), datetime.fromisoformat(row.marked_at))


def price_row(mark: PriceMark) -> dict[str, Any]:
    return {"symbol": mark.symbol, "price": decimal_text(mark.price), "marked_at": time_text(mark.marked_at)}


def risk_levels(
    account: str,
    symbol: str,
    opened_seq: int,
    stop_loss_price: str | None,
    take_profit_price: str | None,
    trailing_stop_pct: str | None,
    highest_price: str,
    lowest_price: str,
) -> RiskLevels:
    """A row of risk_levels, its columns in table order."""
    return RiskLevels(
        account=account,
        symbol=symbol,
        opened_seq=opened_seq,
        stop_loss_price=_optional_decimal(stop_loss_price),
        take_profit_price=_optional_decimal(take_profit_price),
        trailing_stop_pct=_optional_decimal(trailing_stop_pct),
        highest_price=Decimal(highest_price),
        lowest_price=Decimal(lowest_price),
    )


def level_row(level: RiskLevels) -> dict[str, Any]:
    return {
        "account": level.account,
        "symbol": level.symbol,
        "opened_seq": level.opened_seq,
        "stop_loss_price": _optional_text(level.stop_loss_price),
        "take_profit_price": _optional_text(level.take_profit_price),
        "trailing_stop_pct": _optional_text(level.trailing_stop_pct),
        "highest_price": decimal_text(level.highest_price),
        "lowest_price": decimal_text(level.lowest_price),
    }


def _optional_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _optional_text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)
