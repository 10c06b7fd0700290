"""The typed events of the log (spec section 9): fills, funding payments and transfers.

Each has an id that appends are idempotent on, `(account, exchange, id)`, one namespace per
(account, exchange) across the types; `canonical()` gives every stored column as exact text, which is
what is stored, hashed (the fields of its type and version, `domain.chain`) and compared for duplicates.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from tradeledger.domain.fills import (
    Amount,
    Currency,
    Fee,
    Fill,
    Identifier,
    Metadata,
    Name,
    OccurredAt,
    Symbol,
    decimal_text,
    metadata_text,
    time_text,
)
from tradeledger.domain.markets import Market, market

FUNDING_VERSION = 1
TRANSFER_VERSION = 1


class Funding(BaseModel):
    """A funding payment on a perpetual or future: + received, - paid, in the contract's settle currency."""

    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")

    type: Literal["funding"] = "funding"
    funding_id: Identifier
    account: Identifier = "default"
    exchange: Name
    symbol: Symbol
    amount: Amount
    currency: Currency
    occurred_at: OccurredAt
    metadata: Metadata = None

    @model_validator(mode="after")
    def _settled_contract(self) -> Funding:
        traded = market(self.symbol)
        if traded.settle is None:
            raise ValueError(
                f"symbol: funding is paid on a perpetual or a future (BASE/QUOTE:SETTLE); {self.symbol} is spot"
            )
        if self.currency != traded.settle:
            raise ValueError(
                f"currency: funding on {self.symbol} is paid in its settle currency {traded.settle} "
                f"(got {self.currency!r})"
            )
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        """The natural key appends are idempotent on (one namespace per account and exchange, every type)."""
        return (self.account, self.exchange, self.funding_id)

    @property
    def event_id(self) -> str:
        return self.funding_id

    @property
    def market(self) -> Market:
        return market(self.symbol)

    def canonical(self) -> dict[str, Any]:
        return {
            **_EMPTY,
            "fill_id": self.funding_id,
            "account": self.account,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "occurred_at": time_text(self.occurred_at),
            "metadata": metadata_text(self.metadata),
            "type": "funding",
            "version": FUNDING_VERSION,
            "amount": decimal_text(self.amount),
            "currency": self.currency,
        }


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    INTERNAL = "internal"


class Transfer(BaseModel):
    """Money moved into, out of or between accounts: balances only, never PnL. `amount` is signed (+ in,
    - out); `fee` (in the same currency) is taken on top. An internal move is two transfers, one per
    account, sharing a transfer_id."""

    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")

    type: Literal["transfer"] = "transfer"
    transfer_id: Identifier
    account: Identifier = "default"
    exchange: Name
    currency: Currency
    amount: Amount
    fee: Fee = Decimal(0)
    kind: TransferKind
    occurred_at: OccurredAt
    metadata: Metadata = None

    @model_validator(mode="after")
    def _signed_by_kind(self) -> Transfer:
        if self.amount == 0:
            raise ValueError("amount: a transfer moves something (got 0)")
        if self.kind is TransferKind.DEPOSIT and self.amount < 0:
            raise ValueError(f"amount: a deposit is positive (got {self.amount})")
        if self.kind is TransferKind.WITHDRAWAL and self.amount > 0:
            raise ValueError(f"amount: a withdrawal is negative (got {self.amount})")
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        """The natural key appends are idempotent on (an internal move's two sides differ by account)."""
        return (self.account, self.exchange, self.transfer_id)

    @property
    def event_id(self) -> str:
        return self.transfer_id

    def canonical(self) -> dict[str, Any]:
        return {
            **_EMPTY,
            "fill_id": self.transfer_id,
            "account": self.account,
            "exchange": self.exchange,
            "fee": decimal_text(self.fee),
            "occurred_at": time_text(self.occurred_at),
            "metadata": metadata_text(self.metadata),
            "type": "transfer",
            "version": TRANSFER_VERSION,
            "amount": decimal_text(self.amount),
            "currency": self.currency,
            "kind": self.kind.value,
        }


Event = Fill | Funding | Transfer
EVENT_TYPES: dict[str, type[Fill | Funding | Transfer]] = {
    "fill": Fill,
    "funding": Funding,
    "transfer": Transfer,
}
_EMPTY: dict[str, Any] = dict.fromkeys(
    (
        "symbol",
        "side",
        "quantity",
        "price",
        "fee",
        "strategy",
        "order_id",
        "client_order_id",
        "fees",
        "amount",
        "currency",
        "kind",
    )
)
