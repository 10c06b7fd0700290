"""What the log holds and what appending returns: stored events, receipts, checkpoints, states."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradeledger.domain.chain import event_hash
from tradeledger.domain.fills import FILL_FIELDS, Fill, Side
from tradeledger.domain.fold import ExecutionRow
from tradeledger.domain.positions import (
    ClosedPosition,
    Execution,
    Position,
    PositionBook,
    PositionKey,
    Totals,
    portfolio_totals,
    unrealized_at,
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point in the log: (epoch, seq, hash of the event at seq)."""

    epoch: int
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of the log, every value as its exact stored text."""

    seq: int
    epoch: int
    recorded_at: str
    fill_id: str
    account: str
    exchange: str
    symbol: str
    side: str
    quantity: str
    price: str
    fee: str
    occurred_at: str
    strategy: str | None
    order_id: str | None
    client_order_id: str | None
    metadata: str | None
    prev_hash: str
    hash: str

    @classmethod
    def seal(
        cls, canonical: Mapping[str, Any], *, seq: int, epoch: int, recorded_at: str, prev_hash: str
    ) -> StoredEvent:
        """Build the event that follows prev_hash, computing its hash."""
        content = {**canonical, "seq": seq, "epoch": epoch, "recorded_at": recorded_at}
        return cls(**content, prev_hash=prev_hash, hash=event_hash(prev_hash, content))

    def computed_hash(self) -> str:
        return event_hash(self.prev_hash, self.as_dict())

    def content(self) -> dict[str, Any]:
        """The fill's canonical fields, as Fill.canonical() gives them."""
        return {name: getattr(self, name) for name in FILL_FIELDS}

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.content(),
            "seq": self.seq,
            "epoch": self.epoch,
            "recorded_at": self.recorded_at,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def execution(self) -> Execution:
        return Execution(
            seq=self.seq,
            account=self.account,
            symbol=self.symbol,
            side=Side(self.side),
            quantity=Decimal(self.quantity),
            price=Decimal(self.price),
            fee=Decimal(self.fee),
            occurred_at=datetime.fromisoformat(self.occurred_at),
        )

    @property
    def checkpoint(self) -> Checkpoint:
        """The point of the log this event is: (epoch, seq, hash)."""
        return Checkpoint(self.epoch, self.seq, self.hash)

    def execution_row(self) -> ExecutionRow:
        """The accounting columns as stored text, as replay reads them."""
        return (self.seq, self.account, self.symbol, self.side, self.quantity, self.price, self.fee, self.occurred_at)

    def recorded_fill(self) -> RecordedFill:
        values: dict[str, Any] = {k: v for k, v in self.content().items() if v is not None}
        if self.metadata is not None:
            values["metadata"] = json.loads(self.metadata)
        return RecordedFill(
            seq=self.seq,
            epoch=self.epoch,
            recorded_at=datetime.fromisoformat(self.recorded_at),
            hash=self.hash,
            prev_hash=self.prev_hash,
            fill=Fill.model_validate(values),
        )


@dataclass(frozen=True, slots=True)
class RecordedFill:
    """A fill as the log holds it: the fill plus its place in the chain."""

    seq: int
    epoch: int
    recorded_at: datetime
    hash: str
    prev_hash: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an append returns. A duplicate carries the original event's seq and hash."""

    seq: int
    epoch: int
    hash: str
    duplicate: bool
    fill_id: str


@dataclass(frozen=True, slots=True)
class LedgerState:
    """Positions, closed cycles and lifetime totals as of one checkpoint of the log."""

    seq: int
    epoch: int
    hash: str
    open: tuple[Position, ...]  # ordered by (account, symbol)
    closed: tuple[ClosedPosition, ...]  # ordered by closed_seq
    symbol_totals: Mapping[PositionKey, Totals] = field(default_factory=dict)

    @property
    def totals(self) -> Totals:
        """Lifetime totals over every (account, symbol) in this state."""
        return portfolio_totals(self.symbol_totals.values())

    def unrealized_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        """The unrealized PnL of the open positions whose symbol has a mark (the others are left out)."""
        return unrealized_at(self.open, marks)[0]

    @classmethod
    def from_book(cls, book: PositionBook, checkpoint: Checkpoint) -> LedgerState:
        return cls.assemble(checkpoint, book.open.values(), book.closed, book.totals)

    @classmethod
    def assemble(
        cls,
        checkpoint: Checkpoint,
        open_positions: Iterable[Position],
        closed: Iterable[ClosedPosition],
        totals: Mapping[PositionKey, Totals],
    ) -> LedgerState:
        return cls(
            seq=checkpoint.seq,
            epoch=checkpoint.epoch,
            hash=checkpoint.hash,
            open=tuple(sorted(open_positions, key=lambda p: (p.account, p.symbol))),
            closed=tuple(sorted(closed, key=lambda c: c.closed_seq)),
            symbol_totals=dict(sorted(totals.items())),
        )

    def for_account(self, account: str | None) -> LedgerState:
        """The same state narrowed to one account (totals included); None keeps every account."""
        if account is None:
            return self
        return LedgerState(
            seq=self.seq,
            epoch=self.epoch,
            hash=self.hash,
            open=tuple(p for p in self.open if p.account == account),
            closed=tuple(c for c in self.closed if c.account == account),
            symbol_totals={k: v for k, v in self.symbol_totals.items() if k[0] == account},
        )
