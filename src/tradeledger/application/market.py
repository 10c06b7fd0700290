"""Market-side state: price marks and risk levels, beside the log but never part of its chain."""

from __future__ import annotations

from collections.abc import Sequence

from tradeledger.application.ports import UnitOfWork
from tradeledger.domain.positions import PositionKey
from tradeledger.domain.risk import PriceMark, RiskLevels, tightest


def save_marks(
    uow: UnitOfWork, prices: Sequence[PriceMark], levels: Sequence[RiskLevels], *, seen_epoch: int | None
) -> dict[PositionKey, RiskLevels]:
    """Set price marks, and the levels of cycles that are open (see Ledger.save_marks); the levels stored.

    A level is written only for the cycle open at the write and (with `seen_epoch`, the epoch of the
    head the writer last read) only when the fill that opened it is of that epoch or an earlier one, so
    a writer that has not seen a rollback never writes onto a cycle that reuses the seq. It is merged
    with the stored row of its cycle by `domain.risk.tightest` while the cycle's row is locked, so a
    stored stop never loosens whichever process writes.
    """
    if prices:
        uow.projection.put_prices(prices)
    stored: dict[PositionKey, RiskLevels] = {}
    for level in levels:
        key = (level.account, level.symbol)
        cycle = uow.projection.lock_open_cycle(key)
        if cycle is None or cycle.opened_seq != level.opened_seq:
            continue  # the cycle is not open (closed since the writer looked)
        if seen_epoch is not None and cycle.epoch > seen_epoch:
            continue  # a cycle reopened at the same seq after a rollback the writer has not seen
        merged = tightest(cycle.levels, level, cycle.side)
        uow.projection.put_levels(merged)
        stored[key] = merged
    return stored
