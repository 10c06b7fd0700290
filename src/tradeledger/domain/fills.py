"""Fill events: the one kind of fact the log holds, validated before anything is written."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

# Amounts keep at most the precision Decimal arithmetic keeps (28 significant digits), so nothing is
# rounded on the way; the exponent bound keeps absurd magnitudes (1E+999999) out of the books.
MAX_DIGITS = 28
MAX_ADJUSTED_EXPONENT = 24
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._-]*/[A-Z0-9][A-Z0-9._-]*$")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def direction(self) -> int:
        return 1 if self is Side.BUY else -1


def _refuse_float(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"a boolean is not an amount (got {value!r})")  # noqa: TRY004
    if isinstance(value, float):
        raise ValueError(f"floats are not exact; pass a Decimal or a decimal string (got {value!r})")  # noqa: TRY004
    return value


def _exact(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"must be a finite number (got {value})")
    if value != 0:
        digits = len(value.normalize().as_tuple().digits)
        if digits > MAX_DIGITS:
            raise ValueError(f"has {digits} significant digits; at most {MAX_DIGITS} are kept exactly (got {value})")
        if abs(value.adjusted()) > MAX_ADJUSTED_EXPONENT:
            raise ValueError(f"is out of range 1E-{MAX_ADJUSTED_EXPONENT}..1E+{MAX_ADJUSTED_EXPONENT} (got {value})")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be greater than 0 (got {value})")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"must not be negative (got {value})")
    return value


def _symbol(value: str) -> str:
    if not SYMBOL_PATTERN.match(value):
        raise ValueError(f"must be BASE/QUOTE in capitals, like BTC/USD (got {value!r})")
    return value


def _json_object(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object (got {type(value).__name__} {value!r})")  # noqa: TRY004
    try:
        json.dumps(value, allow_nan=False, default=_refuse_json)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    return value


def _refuse_json(value: object) -> Any:  # noqa: ANN401 - json's default hook signature
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


Quantity = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(_exact), AfterValidator(_positive)]
Fee = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(_exact), AfterValidator(_not_negative)]
Symbol = Annotated[str, AfterValidator(_symbol)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Metadata = Annotated[dict[str, Any] | None, BeforeValidator(_json_object)]


class Fill(BaseModel):
    """One execution reported by an exchange: the immutable fact the log records."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, str_strip_whitespace=False)

    fill_id: Text
    account: Text = "default"
    exchange: Annotated[str, Field(max_length=200)] = ""
    symbol: Symbol
    side: Side
    quantity: Quantity
    price: Quantity
    fee: Fee = Decimal(0)
    occurred_at: AwareDatetime
    strategy: Annotated[str, Field(max_length=200)] | None = None
    order_id: Annotated[str, Field(max_length=200)] | None = None
    client_order_id: Annotated[str, Field(max_length=200)] | None = None
    metadata: Metadata = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The natural key appends are idempotent on."""
        return (self.account, self.exchange, self.fill_id)

    def canonical(self) -> dict[str, Any]:
        """The fill as exact strings: what is stored, hashed and compared for duplicates."""
        return {
            "fill_id": self.fill_id,
            "account": self.account,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": decimal_text(self.quantity),
            "price": decimal_text(self.price),
            "fee": decimal_text(self.fee),
            "occurred_at": time_text(self.occurred_at),
            "strategy": self.strategy,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "metadata": metadata_text(self.metadata),
        }


def decimal_text(value: Decimal) -> str:
    """Exact, canonical decimal string: no exponent, no trailing zeros (1.50 -> 1.5, 1E+2 -> 100)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def time_text(value: datetime) -> str:
    """Canonical UTC timestamp with microseconds; sorts lexicographically in time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def metadata_text(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_refuse_json)
