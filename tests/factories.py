"""Test data builders with good defaults: make_fill(side="sell", quantity="2")."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradeledger import Fill, RecordedFill
from tradeledger.domain.fills import Side
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import ClosedPosition, Execution, Outcome, Position, PositionKey, Totals
from tradeledger.domain.reference import ReferenceFold

_ids = itertools.count(1)
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def fill_fields(**overrides: Any) -> dict[str, Any]:
    """The fields of a valid fill as strings, for the API, NDJSON files and the CLI."""
    n = next(_ids)
    fields: dict[str, Any] = {
        "fill_id": f"F-{n:06d}",
        "account": "default",
        "exchange": "kraken",
        "symbol": "BTC/USD",
        "side": "buy",
        "quantity": "1",
        "price": "100",
        "fee": "0",
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
    }
    fields.update(overrides)
    return fields


def make_fill(**overrides: Any) -> Fill:
    return Fill.model_validate(fill_fields(**overrides))


def execution(
    side: str,
    quantity: str,
    price: str,
    fee: str = "0",
    *,
    seq: int = 1,
    symbol: str = "BTC/USD",
    account: str = "default",
    at: datetime | None = None,
) -> Execution:
    """An Execution for folding directly in domain tests: execution("buy", "1", "100", fee="0.1", seq=1)."""
    return Execution(
        seq=seq,
        account=account,
        symbol=symbol,
        side=Side(side),
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
        occurred_at=at or (T0 + timedelta(seconds=seq)),
    )


def executions(*legs: tuple[str, str, str] | tuple[str, str, str, str], symbol: str = "BTC/USD") -> list[Execution]:
    """Consecutive executions from (side, quantity, price[, fee]) tuples, seq 1, 2, 3..."""
    return [execution(*leg, seq=index, symbol=symbol) for index, leg in enumerate(legs, start=1)]


class EngineBook:
    """The engine (`PositionFold`) seen as a `PositionBook`, so one test holds both folds to the same numbers."""

    def __init__(self) -> None:
        self.fold = PositionFold()

    def apply(self, execution: Execution) -> Outcome:
        return self.fold.apply(execution)

    def apply_all(self, executions: Iterable[Execution]) -> EngineBook:
        self.fold.apply_all(executions)
        return self

    @property
    def open(self) -> dict[PositionKey, Position]:
        return self.fold.book().open

    @property
    def closed(self) -> list[ClosedPosition]:
        return self.fold.closed

    @property
    def totals(self) -> dict[PositionKey, Totals]:
        return self.fold.totals()


# Both folds of spec section 4: the engine that writes projections and the reference verify replays.
BOOKS: dict[str, Callable[[], EngineBook | ReferenceFold]] = {"engine": EngineBook, "reference": ReferenceFold}


def recorded_fills(history: Iterable[RecordedFill]) -> list[Fill]:
    """The fills of a ledger's history (a test that records only fills reads them typed as fills)."""
    fills = [recorded.fill for recorded in history]
    assert all(isinstance(fill, Fill) for fill in fills)
    return [fill for fill in fills if isinstance(fill, Fill)]
