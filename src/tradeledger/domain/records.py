"""What the log holds and what appending returns: stored events, receipts, checkpoints, states."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from operator import call, itemgetter
from typing import Any, cast

from tradeledger.domain.chain import attributes_hash, event_hash, sealed_hash
from tradeledger.domain.events import Event, Funding, Transfer
from tradeledger.domain.fills import (
    EVENT_FIELDS,
    FILL_VERSION,
    TYPED_FIELDS,
    Fill,
    Side,
    parsed_fees,
    split_fees,
    time_shaped,
    v1_fees_text,
)
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.positions import (
    Accounting,
    ClosedPosition,
    Execution,
    FundingPayment,
    Position,
    PositionBook,
    PositionKey,
    Totals,
    TransferMove,
    portfolio_totals,
    unrealized_at,
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point in the log: (epoch, seq, hash of the event at seq)."""

    epoch: int
    seq: int
    hash: str


NAMES_LOTS = '"lots"'  # the text an event's metadata holds when it may name lots (`metadata.lots`, spec section 11)


def latest_naming_lots(events: Iterable[StoredEvent], latest: str | None) -> str | None:
    """`latest` moved to the `occurred_at` of the latest of `events` whose metadata may name lots (holds the text
    `"lots"`; None when neither has one): the log's mark of when an event naming lots occurred last, which the
    check of the lots an append takes reads with the head (application/lot_picks.py). A mark too late costs only
    a check; one too early would let a backfill through, so every event that may name lots counts."""
    for event in events:
        metadata = event.metadata
        if metadata is not None and NAMES_LOTS in metadata and (latest is None or event.occurred_at > latest):
            latest = event.occurred_at
    return latest


def _text(value: str | None, name: str) -> str:
    if value is None:
        raise ValueError(f"{name} is missing")
    return value


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of the log, every value as its exact stored text (spec section 9: typed and versioned).

    A v1 fill (written before the typed events) has `fee` and type "fill", version 1; a v2 fill has
    `fees` (canonical JSON) and no `fee`; a funding payment has no side, quantity or price; a transfer
    no symbol either. `fill_id` holds the id of the event, whatever its type.
    """

    seq: int
    epoch: int
    recorded_at: str
    fill_id: str
    account: str
    exchange: str
    symbol: str | None
    side: str | None
    quantity: str | None
    price: str | None
    fee: str | None
    occurred_at: str
    strategy: str | None
    order_id: str | None
    client_order_id: str | None
    metadata: str | None
    prev_hash: str
    hash: str
    type: str = "fill"
    version: int = 1
    fees: str | None = None
    amount: str | None = None
    currency: str | None = None
    kind: str | None = None

    @classmethod
    def seal(
        cls, canonical: Mapping[str, Any], *, seq: int, epoch: int, recorded_at: str, prev_hash: str
    ) -> StoredEvent:
        """Build the event that follows prev_hash, computing its hash."""
        if canonical.keys() == _EVENT_FIELD_SET:  # a canonical form's fields, as every append gives them
            event = _NEW(cls)
            hashed = sealed_hash(prev_hash, canonical, seq=seq, epoch=epoch, recorded_at=recorded_at)
            values = (seq, epoch, recorded_at, *_EVENT_VALUES(canonical), prev_hash, hashed)
            deque(map(call, _SETTERS, repeat(event), values), maxlen=0)  # its slots set: see _SETTERS
            return event
        content = {**canonical, "seq": seq, "epoch": epoch, "recorded_at": recorded_at}
        return cls(**content, prev_hash=prev_hash, hash=event_hash(prev_hash, content))

    def computed_hash(self) -> str:
        """`event_hash(self.prev_hash, self.as_dict())`, the hashed fields read off the slots (verify hashes
        every event again)."""
        return attributes_hash(self.prev_hash, self, (self.type, self.version))

    def stored(self) -> dict[str, Any]:
        """Every content column as stored (a v1 fill as it was written)."""
        return {name: getattr(self, name) for name in EVENT_FIELDS}

    def content(self) -> dict[str, Any]:
        """The event's canonical fields as the current format writes them (what `canonical()` of its model
        gives): a v1 fill is upcast to a v2 fill whose fees are its one quote fee. Duplicates are judged on it."""
        values = self.stored()
        if self.type == "fill" and self.version == 1:
            values.update(fee=None, version=FILL_VERSION, fees=v1_fees_text(self.fee or "0", self.symbol or ""))
        return values

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.stored(),
            "seq": self.seq,
            "epoch": self.epoch,
            "recorded_at": self.recorded_at,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def accounting(self) -> Accounting:
        """What position accounting and the balances read of this event, as values (parsed from the stored
        text, no model validation: ValueError, KeyError or InvalidOperation when a value does not read)."""
        at = datetime.fromisoformat(self.occurred_at)
        if self.type == "fill":
            symbol = _text(self.symbol, "symbol")
            # The fees as `content()` gives them (a v1 fill's one quote fee upcast), without building its dict;
            # stored fees that are NULL fail in json.loads as they did there (TypeError).
            text: Any = v1_fees_text(self.fee or "0", symbol) if self.version == 1 else self.fees
            fees = parsed_fees(text)
            split = split_fees(symbol, fees)
            return Execution(
                self.seq,
                self.account,
                symbol,
                Side(_text(self.side, "side")),
                Decimal(_text(self.quantity, "quantity")),
                Decimal(_text(self.price, "price")),
                split.valued,
                at,
                split.unvalued,
                split.base,
                self.exchange,
                tuple((currency, amount) for currency, amount, _ in fees),
            )
        amount, currency = Decimal(_text(self.amount, "amount")), _text(self.currency, "currency")
        if self.type == "funding":
            return FundingPayment(
                self.seq, self.account, self.exchange, _text(self.symbol, "symbol"), amount, currency, at
            )
        if self.type == "transfer":
            return TransferMove(self.seq, self.account, self.exchange, currency, amount, Decimal(self.fee or "0"), at)
        raise ValueError(f"type {self.type!r} is not an event type this ledger knows")

    def event(self) -> Event:
        """The event as its model (a v1 fill upcast), validated again."""
        if not time_shaped(self.occurred_at):  # the model reads any offset; the log's filters compare this text
            raise ValueError(f"occurred_at: not a time as the ledger writes it (got {self.occurred_at!r})")
        content = self.content()
        values: dict[str, Any] = {k: v for k, v in content.items() if v is not None}
        if self.metadata is not None:
            values["metadata"] = json.loads(self.metadata)
        for name in TYPED_FIELDS:
            values.pop(name, None)
        if self.type == "fill":
            if self.version == 1 and Decimal(cast("str", self.fee)) < 0:  # its one fee, paid: the upcast reads a rebate
                raise ValueError(f"fee: must not be negative (got {self.fee})")
            values["fees"] = json.loads(content["fees"])
            values.pop("fee", None)
            return Fill.model_validate(values)
        if self.type == "funding":
            values["funding_id"] = values.pop("fill_id")
            values.update(amount=self.amount, currency=self.currency)
            return Funding.model_validate(values)
        if self.type == "transfer":
            values["transfer_id"] = values.pop("fill_id")
            values.update(amount=self.amount, currency=self.currency, kind=self.kind, fee=self.fee)
            return Transfer.model_validate(values)
        raise ValueError(f"seq {self.seq}: type {self.type!r} is not an event type this ledger knows")

    @property
    def checkpoint(self) -> Checkpoint:
        """The point of the log this event is: (epoch, seq, hash)."""
        return Checkpoint(self.epoch, self.seq, self.hash)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.exchange, self.fill_id)

    def execution_row(self) -> ExecutionRow:
        """The accounting columns as stored text, as replay reads them."""
        return (
            self.seq,
            self.account,
            self.exchange,
            self.symbol,
            self.side,
            self.quantity,
            self.price,
            self.fee,
            self.occurred_at,
            self.type,
            self.fees,
            self.amount,
            self.currency,
        )

    def recorded_fill(self) -> RecordedFill:
        return RecordedFill(
            seq=self.seq,
            epoch=self.epoch,
            recorded_at=datetime.fromisoformat(self.recorded_at),
            hash=self.hash,
            prev_hash=self.prev_hash,
            fill=self.event(),
        )


# A sealed event is built as `__init__` would build it but without its 24 `object.__setattr__` calls of
# Python (a frozen dataclass's): each slot set through its descriptor's setter (frozen forbids only the
# instance's own __setattr__), in the order of these names: ~2 µs less a seal.
_SEALED = ("seq", "epoch", "recorded_at", *EVENT_FIELDS, "prev_hash", "hash")
_SETTERS = tuple(getattr(StoredEvent, name).__set__ for name in _SEALED)
_NEW = object.__new__
_EVENT_FIELD_SET = frozenset(EVENT_FIELDS)
_EVENT_VALUES = itemgetter(*EVENT_FIELDS)


@dataclass(frozen=True, slots=True)
class RecordedFill:
    """An event as the log holds it: the event (a `Fill`, `Funding` or `Transfer`) plus its place in the chain."""

    seq: int
    epoch: int
    recorded_at: datetime
    hash: str
    prev_hash: str
    fill: Event

    @property
    def event(self) -> Event:
        return self.fill


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an append returns. A duplicate carries the original event's seq and hash."""

    seq: int
    epoch: int
    hash: str
    duplicate: bool
    fill_id: str


_RECEIPT_SETTERS = tuple(getattr(Receipt, name).__set__ for name in ("seq", "epoch", "hash", "duplicate", "fill_id"))


def formats_of(kinds: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    """The event formats of (type, version) pairs, as an export's header lists them: each type's versions,
    types and versions sorted."""
    held: dict[str, set[int]] = {}
    for kind, version in kinds:
        held.setdefault(kind, set()).add(version)
    return {kind: sorted(versions) for kind, versions in sorted(held.items())}


def receipt(seq: int, epoch: int, hash: str, *, duplicate: bool, fill_id: str) -> Receipt:  # noqa: A002 - its field
    """`Receipt(seq, epoch, hash, duplicate=..., fill_id=...)`, its slots set as a sealed event's are (a batch
    returns one per event: ~5k instructions less each than the frozen dataclass's `__init__`)."""
    built = _NEW(Receipt)
    set_seq, set_epoch, set_hash, set_duplicate, set_fill_id = _RECEIPT_SETTERS
    set_seq(built, seq)
    set_epoch(built, epoch)
    set_hash(built, hash)
    set_duplicate(built, duplicate)
    set_fill_id(built, fill_id)
    return built


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
