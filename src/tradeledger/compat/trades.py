"""The legacy `Trade` and `Position` shapes (legacy-system.md §1.1, §1.2), backed by ledger fills.

A `Trade` is a fill in the legacy vocabulary (`amount`, `fees`, `timestamp`, `id`); recording it
appends the fill whose `fill_id` is the trade id. A `Position` is a read-only snapshot of an open
(or closed) cycle of the position projection with its risk levels; nothing writes through it.

Differences from the legacy classes, on purpose: a side other than buy/sell, a zero or negative
amount, a naive `timestamp` and a non-`BASE/QUOTE` symbol are refused (the legacy code turned an
unknown side into a short and kept zero-amount trades); amounts are kept exactly (the legacy
quantisation to 8 places, rounding down, is not repeated). A float argument is read as the decimal
it prints as (`Decimal(str(x))`, the legacy rule) because bots hand exchange floats to this layer;
the core API (`Ledger.record`) refuses floats outright.

Fees (spec section 9): a trade's `fees` is an amount in `fee_currency` (None: the quote currency,
the legacy meaning); `fee_quote_value` values a fee in a third currency. The fill carries
`fees=[{amount, currency, quote_value?}]`. The legacy shapes keep their keys: their `fees` is the
quote value of the valued fees (a base fee at the trade price). Only a trade with a fee currency
other than the quote adds `fee_currency` and `fee_amount` (the amount in that currency) to its
dict, and `fees_unvalued: true` when the fee has no quote value (its `fees` is then 0, never
silently: the flag says so), so old readers see exactly the old keys for old trades.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from pydantic import ValidationError

from tradeledger.application.appending import describe_validation_error
from tradeledger.compat.views import read_only_metadata
from tradeledger.domain.fills import (
    LEDGER_CONTEXT,
    MAX_ADJUSTED_EXPONENT,
    MAX_DIGITS,
    Fill,
    exceeds_ledger_digits,
    shortened,
)
from tradeledger.domain.markets import market
from tradeledger.domain.positions import ZERO
from tradeledger.errors import InvalidArgument, InvalidFill

HUNDRED = Decimal(100)
TRADE_KEYS = (
    "id",
    "symbol",
    "side",
    "amount",
    "price",
    "timestamp",
    "strategy",
    "exchange",
    "fees",
    "status",
    "order_id",
    "client_order_id",
    "metadata",
)
POSITION_KEYS = (
    "symbol",
    "side",
    "total_amount",
    "average_price",
    "realized_pnl",
    "fees_paid",
    "entry_time",
    "last_update",
    "highest_price",
    "lowest_price",
    "stop_loss_price",
    "take_profit_price",
    "trailing_stop_pct",
    "metadata",
    "trades",
)
# Keys a trade dict holds only when its fee is in a currency other than the quote (see the docstring).
FEE_CURRENCY_KEYS = ("fee_currency", "fee_amount", "fees_unvalued")
# Keys Trade.from_dict reads besides TRADE_KEYS: those above and a third currency's quote value.
_OPTIONAL_KEYS = (*FEE_CURRENCY_KEYS, "fee_quote_value")
# Legacy field names in error messages, so a bot author recognises the argument.
_LEGACY_NAMES = {
    "fees.0.amount": "fees",
    "fees.0.currency": "fee_currency",
    "fees.0.quote_value": "fee_quote_value",
    "fill_id": "id",
    "quantity": "amount",
    "fee": "fees",
    "occurred_at": "timestamp",
}


def to_decimal(value: object, name: str) -> Decimal:
    """A Decimal from a Decimal, an int, a decimal string or a float (read as the decimal it prints as)."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{name}: must be a number (got {value!r})")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and not value.isascii():  # Decimal() would read fullwidth digits too
        raise InvalidArgument(f"{name}: must be written with ASCII digits (got {value!r})")
    if isinstance(value, int | float | str):
        try:
            return Decimal(str(value).strip() if isinstance(value, str) else repr(value))
        except InvalidOperation:
            raise InvalidArgument(f"{name}: must be a decimal number (got {value!r})") from None
    raise InvalidArgument(f"{name}: must be a number (got {type(value).__name__} {value!r})")


def legacy_float(value: Decimal) -> float:
    """A number in the legacy JSON/YAML read models, whose readers (the dashboard) expect floats."""
    return float(value)  # float ok: the legacy files' shape; they are written, never read back


def optional_float(value: Decimal | None) -> float | None:
    return None if value is None else legacy_float(value)


def utc_time(value: datetime) -> datetime:
    """Legacy files hold naive UTC times (datetime.utcnow()); importers read them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# A legacy time as `datetime.isoformat()` writes it: a time of day to the second at least (or a bare date,
# midnight, as a hand-made file may give one). A time of day with less (`2025-08-26T19`, `…T19:02`) is a
# file or message cut off inside it, never a time the bot wrote: read as it parses, it would move the trade.
_TO_THE_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T ]\d{2}:\d{2}:\d{2})")


def legacy_time(text: str, where: str) -> datetime:
    """A legacy ISO time text, naive read as UTC; else InvalidArgument naming `where` and the text."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{where}: not an ISO 8601 time (got {text!r})") from None
    if _TO_THE_SECOND.match(text) is None:
        raise InvalidArgument(
            f"{where}: not a time to the second as the legacy bot wrote it (got {text!r}; a file cut off?)"
        )
    return utc_time(parsed)


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill in the legacy shape. Validated on construction; `to_dict()` keeps the legacy keys."""

    id: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    timestamp: datetime
    strategy: str = ""
    exchange: str = ""
    fees: Decimal = ZERO
    status: str = "filled"
    order_id: str | None = None
    client_order_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    fee_currency: str | None = None  # None: the quote currency
    fee_quote_value: Decimal | None = None  # a fee in a third currency, valued in the quote currency

    def __post_init__(self) -> None:
        for name in ("amount", "price", "fees"):
            object.__setattr__(self, name, to_decimal(getattr(self, name), name))
        if self.fee_quote_value is not None:
            object.__setattr__(self, "fee_quote_value", to_decimal(self.fee_quote_value, "fee_quote_value"))
        if self.status != "filled":
            raise InvalidFill(
                f"status: only filled trades are fills; record a trade when it fills (got {self.status!r})"
            )
        self.to_fill()  # every rule of a fill, checked now rather than when it is recorded

    @property
    def fee_entries(self) -> list[dict[str, Any]]:
        """The fill's `fees`: none for a zero fee, else one in `fee_currency` (the quote when None)."""
        if self.fees == 0:
            return []
        entry: dict[str, Any] = {"amount": self.fees}
        if self.fee_currency is not None:
            entry["currency"] = self.fee_currency
        if self.fee_quote_value is not None:
            entry["quote_value"] = self.fee_quote_value
        return [entry]

    @property
    def fees_in_other_currency(self) -> bool:
        """Whether the fee is in a currency other than the quote (the dict then names it)."""
        return self.fee_currency is not None and self.fee_currency != market(self.symbol).quote

    @property
    def fees_unvalued(self) -> bool:
        """A fee in a third currency without a quote value: left out of `quote_fees`, flagged in the dict."""
        traded = market(self.symbol)
        return (
            self.fees != 0
            and self.fee_currency not in (None, traded.quote, traded.base)
            and self.fee_quote_value is None
        )

    @property
    def quote_fees(self) -> Decimal:
        """The quote value of the valued fee: a quote fee as is, a base fee at the trade price, a third
        currency's by its quote value; an unvalued fee is 0 here (see `fees_unvalued`)."""
        traded = market(self.symbol)
        if self.fee_currency in (None, traded.quote):
            return self.fees
        if self.fee_currency == traded.base:
            with localcontext(LEDGER_CONTEXT):
                return self.fees * self.price
        return ZERO if self.fee_quote_value is None else self.fee_quote_value

    @property
    def cash_fees(self) -> Decimal:
        """What the fee takes from the quote cash: a base fee takes coins, not cash (spec section 9)."""
        return ZERO if self.fee_currency == market(self.symbol).base else self.quote_fees

    @property
    def total_value(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return self.amount * self.price

    @property
    def total_cost(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return self.amount * self.price + self.quote_fees

    def to_fill(self, account: str = "default") -> Fill:
        values = {
            "fill_id": self.id,
            "account": account,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "side": self.side,
            "quantity": self.amount,
            "price": self.price,
            "fees": self.fee_entries,
            "occurred_at": self.timestamp,
            "strategy": self.strategy or None,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "metadata": dict(self.metadata) if self.metadata else None,
        }
        try:
            return Fill.model_validate(values)
        except ValidationError as error:
            message = describe_validation_error(error, where="trade")
            for ledger_name, legacy_name in _LEGACY_NAMES.items():
                message = message.replace(f"{ledger_name}:", f"{legacy_name}:")
            raise InvalidFill(message) from None

    @classmethod
    def from_fill(cls, fill: Fill) -> Trade:
        """The legacy view of a fill. One fee maps back as it was given; several (only a fill recorded
        through the core API has them) are shown as their quote value, unvalued ones left out.

        The fill is one the ledger validated, so its rules are not checked again (a Trade a caller makes
        is): the check built a second Fill of every trade a bot's first start reads, half of that read."""
        fees, currency, quote_value = fill.fee, None, None
        if len(fill.fees) == 1:
            (only,) = fill.fees
            fees, quote_value = only.amount, only.quote_value
            currency = None if only.currency == fill.market.quote else only.currency
        trade = object.__new__(cls)
        for name, value in (
            ("id", fill.fill_id),
            ("symbol", fill.symbol),
            ("side", fill.side.value),
            ("amount", fill.quantity),
            ("price", fill.price),
            ("timestamp", fill.occurred_at),
            ("strategy", fill.strategy or ""),
            ("exchange", fill.exchange),
            ("fees", fees),
            ("status", "filled"),
            ("order_id", fill.order_id),
            ("client_order_id", fill.client_order_id),
            ("metadata", read_only_metadata(fill.metadata or {})),
            ("fee_currency", currency),
            ("fee_quote_value", quote_value),
        ):
            object.__setattr__(trade, name, value)
        return trade

    def to_dict(self) -> dict[str, Any]:
        """The legacy JSON shape: numbers as floats (what the dashboard reads), the time as ISO 8601.

        `fees` is the quote value of the valued fee; a fee in another currency adds `fee_currency`,
        `fee_amount` and, unvalued, `fees_unvalued: true` (old trades keep exactly the old keys)."""
        shape = {
            "id": self.id,
            "symbol": self.symbol,
            "side": self.side,
            "amount": legacy_float(self.amount),
            "price": legacy_float(self.price),
            "timestamp": self.timestamp.isoformat(),
            "strategy": self.strategy,
            "exchange": self.exchange,
            "fees": legacy_float(self.quote_fees),
            "status": self.status,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "metadata": dict(self.metadata),
        }
        if self.fees_in_other_currency:
            shape["fee_currency"] = self.fee_currency
            shape["fee_amount"] = legacy_float(self.fees)
            if self.fees_unvalued:
                shape["fees_unvalued"] = True
        return shape

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trade:
        """Read a legacy trade dict; a naive timestamp is read as UTC; unknown or missing keys are refused.

        With `fee_currency` the fee is `fee_amount` in that currency when given (our own dicts, whose
        `fees` is the quote value), else `fees` in that currency (a legacy bot's raw exchange fee); a
        third currency is valued by `fee_quote_value`, or by `fees` in our own dicts not flagged
        `fees_unvalued`, else it stays unvalued."""
        unknown = sorted(set(data) - set(TRADE_KEYS) - set(_OPTIONAL_KEYS))
        missing = sorted({"id", "symbol", "side", "amount", "price", "timestamp"} - set(data))
        if unknown or missing:
            raise InvalidArgument(f"trade {data.get('id')!r}: unknown keys {unknown}, missing keys {missing}")
        values = dict(data)
        timestamp = values["timestamp"]
        if isinstance(timestamp, str):
            values["timestamp"] = legacy_time(timestamp, f"trade {data.get('id')!r}: timestamp")
        elif isinstance(timestamp, datetime):
            values["timestamp"] = utc_time(timestamp)
        values["metadata"] = dict(values.get("metadata") or {})
        _read_fee_currency(values)
        return cls(**values)


def _read_fee_currency(values: dict[str, Any]) -> None:
    """Turn the fee keys of a trade dict (see Trade.from_dict) into Trade's fields, in place."""
    amount = values.pop("fee_amount", None)
    unvalued = values.pop("fees_unvalued", False)
    currency = values.get("fee_currency")
    if currency is None:
        return
    if not isinstance(currency, str):
        raise InvalidArgument(f"trade {values.get('id')!r}: fee_currency must be a currency code (got {currency!r})")
    if amount is None:
        return  # `fees` is the amount in fee_currency
    quote_value = values.pop("fees", 0)
    values["fees"] = amount
    try:
        traded = market(str(values["symbol"]))
    except ValueError:
        traded = None  # the Trade refuses the symbol, naming it
    third = traded is not None and currency not in (traded.base, traded.quote)
    if third and not unvalued and values.get("fee_quote_value") is None:
        values["fee_quote_value"] = quote_value


def create_trade(
    symbol: str,
    side: str,
    amount: Decimal | float | str,
    price: Decimal | float | str,
    strategy: str = "",
    exchange: str = "",
    fees: Decimal | float | str = 0,
    order_id: str | None = None,
    client_order_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    timestamp: datetime | None = None,
    fee_currency: str | None = None,
    fee_quote_value: Decimal | float | str | None = None,
) -> Trade:
    """The legacy factory: a new uuid4 id, status "filled", `timestamp` now (UTC) unless given.

    `fees` is an amount in `fee_currency` (None: the quote currency); `fee_quote_value` values a fee
    in a currency that is neither the base nor the quote (without it the fee is unvalued)."""
    return Trade(
        id=str(uuid.uuid4()),
        symbol=symbol,
        side=side,
        amount=to_decimal(amount, "amount"),
        price=to_decimal(price, "price"),
        timestamp=datetime.now(UTC) if timestamp is None else timestamp,
        strategy=strategy,
        exchange=exchange,
        fees=to_decimal(fees, "fees"),
        order_id=order_id,
        client_order_id=client_order_id,
        metadata=dict(metadata or {}),
        fee_currency=fee_currency,
        fee_quote_value=None if fee_quote_value is None else to_decimal(fee_quote_value, "fee_quote_value"),
    )


PriceInput = Decimal | float | int | str


def as_price(value: PriceInput, name: str = "price") -> Decimal:
    """A positive, finite Decimal price within a fill price's range, 1E-24..1E+24 (a float is read as the
    decimal it prints as): a tick past it would ratchet a position's levels for good."""
    price = value if type(value) is Decimal else to_decimal(value, name)
    if not price.is_finite() or price <= 0:
        raise InvalidArgument(f"{name}: must be a finite number above 0 (got {value!r})")
    if exceeds_ledger_digits(price):  # the ledger keeps 28 digits: refuse, never round
        raise InvalidArgument(f"{name}: has more than {MAX_DIGITS} significant digits (got {value!r})")
    if abs(price.adjusted()) > MAX_ADJUSTED_EXPONENT:
        low, high = f"1E-{MAX_ADJUSTED_EXPONENT}", f"1E+{MAX_ADJUSTED_EXPONENT}"
        raise InvalidArgument(f"{name}: is out of range {low}..{high} (got {shortened(price)})")
    return price
