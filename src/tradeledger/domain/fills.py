"""Fill events: the one kind of fact the log holds, validated before anything is written."""

from __future__ import annotations

import json
import reprlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from enum import StrEnum
from operator import itemgetter
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from tradeledger.domain.json_values import json_depth, sorted_json
from tradeledger.domain.markets import Market, currency_code, market

# Every ledger computation runs in this context, whatever the calling program set as its own:
# the default 28 significant digits, half-even, and errors instead of silent NaN or infinity.
LEDGER_CONTEXT = Context(prec=28, rounding="ROUND_HALF_EVEN", traps=[InvalidOperation, DivisionByZero, Overflow])

# Amounts keep at most the precision the context keeps, so no input is rounded; the exponent bound
# keeps absurd magnitudes (1E+999999) out of the books.
MAX_DIGITS = 28
MAX_ADJUSTED_EXPONENT = 24
MAX_TEXT = 200
# Metadata is opaque JSON the log keeps whole: bounded so no fill can exhaust the stack or the row.
MAX_METADATA_DEPTH = 32
MAX_METADATA_BYTES = 64 * 1024
MAX_QUOTED = 80  # characters of a value quoted in a message
# The fields of a fill in canonical order: what Fill.canonical() gives, a stored event holds and the
# chain hashes after seq, epoch and recorded_at (domain/chain.py). Part of the log's format.
FILL_FIELDS = (
    "fill_id",
    "account",
    "exchange",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "occurred_at",
    "strategy",
    "order_id",
    "client_order_id",
    "metadata",
)
# What every stored event holds after FILL_FIELDS (spec section 9): its type and format version, a v2
# fill's fees (canonical JSON), a funding or transfer's amount and currency, and a transfer's kind.
# A v1 fill (every event written before the typed events) has type "fill", version 1 and the rest null.
TYPED_FIELDS = ("type", "version", "fees", "amount", "currency", "kind")
EVENT_FIELDS = (*FILL_FIELDS, *TYPED_FIELDS)
FILL_VERSION = 2
MAX_FEES = 16  # fee entries per fill
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


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
    if isinstance(value, str) and not value.isascii():
        # Decimal() reads any Unicode digit (fullwidth or Arabic-Indic "100" is 100): amounts are ASCII only.
        raise ValueError(f"must be written with ASCII digits (got {value!r})")
    return value


def significant_digits(value: Decimal) -> int:
    """Digits of the coefficient without trailing zeros (1.500 -> 2), counted without any rounding."""
    return len("".join(map(str, value.as_tuple().digits)).rstrip("0")) or 1


_SIGNIFICANT = Context(prec=MAX_DIGITS, rounding="ROUND_HALF_EVEN", traps=[Inexact], Emax=999_999, Emin=-999_999)


def exceeds_ledger_digits(value: Decimal) -> bool:
    """Whether `value` has more significant digits than the ledger keeps (so storing it would round it)."""
    return _rounds(value)


def _rounds(value: Decimal) -> bool:
    try:
        _SIGNIFICANT.plus(value)
    except Inexact:
        return True
    return False


def exact_amount(value: Decimal) -> Decimal:
    """`value`, or ValueError unless finite, of at most MAX_DIGITS significant digits, within 1E-24..1E+24."""
    if not value.is_finite():
        raise ValueError(f"must be a finite number (got {value})")
    # Rounding to MAX_DIGITS digits is inexact exactly when there are more significant digits than
    # that (trailing zeros round away exactly): count them only then, for the message.
    if value != 0 and (abs(value.adjusted()) > MAX_ADJUSTED_EXPONENT or _rounds(value)):
        digits = significant_digits(value)
        if digits > MAX_DIGITS:
            raise ValueError(
                f"has {digits} significant digits; at most {MAX_DIGITS} are kept exactly (got {shortened(value)})"
            )
        if abs(value.adjusted()) > MAX_ADJUSTED_EXPONENT:
            raise ValueError(
                f"is out of range 1E-{MAX_ADJUSTED_EXPONENT}..1E+{MAX_ADJUSTED_EXPONENT} (got {shortened(value)})"
            )
    return value


def shortened(value: object) -> str:
    """A value as text for a message, or for a very long one its start and how long it is."""
    text = str(value)
    return text if len(text) <= MAX_QUOTED else f"{text[: MAX_QUOTED // 2]}… ({len(text)} characters)"


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be greater than 0 (got {value})")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"must not be negative (got {value})")
    return value


def _symbol(value: str) -> str:
    market(value)  # raises ValueError saying what is wrong
    return value


def _identifier(value: str) -> str:
    """Ids and names: printable text with no surrounding blanks, so one fill never has two spellings.

    Printable excludes control, format and separator characters other than the ASCII space; the
    only blank allowed is U+0020 (a U+00A0 or U+3000 inside an id looks like a space and is not
    one); and the text must be in Unicode NFC, since `café` composed and decomposed look the same.
    """
    if value != value.strip():
        raise ValueError(f"must not start or end with blanks (got {value!r})")
    if value.isascii() and value.isprintable():  # fast path: ASCII printable text is NFC, its only blank U+0020
        return value
    for character in value:
        category = unicodedata.category(character)
        if category[0] == "C" or category in ("Zl", "Zp"):
            raise ValueError(f"must not contain control or invisible characters (got {value!r})")
        if category == "Zs" and character != " ":
            raise ValueError(
                f"must not contain blanks other than the ASCII space (got {value!r}: U+{ord(character):04X})"
            )
    if not unicodedata.is_normalized("NFC", value):
        raise ValueError(
            f"must be in Unicode NFC, the composed form (got {value!a}; "
            f"in NFC: {unicodedata.normalize('NFC', value)!a})"
        )
    return value


def _aware_time(value: object) -> object:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 time with a UTC offset (got {value!r})") from None
    if not isinstance(value, datetime):
        raise ValueError(f"must be a datetime or an ISO 8601 string (got {type(value).__name__} {value!r})")  # noqa: TRY004
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"must carry a timezone; naive times are ambiguous (got {value.isoformat()!r})")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise ValueError(f"must lie between 1970 and 9999 (got {value.isoformat()!r})")
    return value


def _json_object(value: object) -> object:
    if value is not None:
        _json_object_text(value)
    return value


def _json_object_text(value: object) -> str:
    """The canonical JSON of metadata `value`, or ValueError saying why it is not kept (not an object, nested
    too deep, not JSON, too large): the fast path keeps the text it checked (domain/intake.py)."""
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object (got {type(value).__name__} {reprlib.repr(value)})")  # noqa: TRY004
    depth = json_depth(value, limit=MAX_METADATA_DEPTH)
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"is nested more than {MAX_METADATA_DEPTH} levels deep; at most {MAX_METADATA_DEPTH} are kept")
    try:
        text = sorted_json(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"is {size} bytes of canonical JSON; at most {MAX_METADATA_BYTES} are kept")
    return text


Quantity = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(exact_amount), AfterValidator(_positive)]
Fee = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(exact_amount), AfterValidator(_not_negative)]
Amount = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(exact_amount)]  # signed
Symbol = Annotated[str, AfterValidator(_symbol)]
Currency = Annotated[str, AfterValidator(currency_code)]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_identifier)]
Name = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_identifier)]
OccurredAt = Annotated[datetime, BeforeValidator(_aware_time)]
Metadata = Annotated[dict[str, Any] | None, BeforeValidator(_json_object)]


class FeeEntry(BaseModel):
    """One fee of a fill in the currency it was paid in (spec section 9); a negative amount is a rebate.

    `currency` None means the fill's quote currency (the fill names it once validated). `quote_value`
    values a fee in a currency that is neither the base nor the quote; without it such a fee is unvalued.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")  # as Fill's, below

    amount: Amount
    currency: Currency | None = None
    quote_value: Amount | None = None

    @model_validator(mode="after")
    def _same_sign(self) -> FeeEntry:
        value, amount = self.quote_value, self.amount
        if value is not None and (value * amount < 0 or (amount == 0 and value != 0)):
            worth = "of an amount of 0; a fee of nothing is worth nothing (a fee of 0 is none)"  # its value not dropped
            signs = f"and amount {amount} have opposite signs; a fee is valued as a fee and a rebate as a rebate"
            raise ValueError(f"quote_value {value} {worth if amount == 0 else signs}")
        return self

    def canonical(self) -> dict[str, str]:
        text = {"amount": decimal_text(self.amount), "currency": self.currency or ""}
        if self.quote_value is not None:
            text["quote_value"] = decimal_text(self.quote_value)
        return text


@dataclass(frozen=True, slots=True)
class FeeSplit:
    """A fill's fees by how the position books them (spec section 9), every amount exact.

    `valued`: the quote value of the fees in the quote currency and of those in another currency that
    carry a quote_value; `unvalued`: the other currencies' fees without one, per currency (sorted,
    zeros left out); `base`: the fees paid in the base currency, booked as a fee-free disposal.
    """

    valued: Decimal = Decimal(0)
    unvalued: tuple[tuple[str, Decimal], ...] = ()
    base: Decimal = Decimal(0)


NO_FEES = FeeSplit()


def split_fees(symbol: str, fees: Iterable[tuple[str, Decimal, Decimal | None]]) -> FeeSplit:
    """How the fees (currency, amount, quote_value) of a fill on `symbol` are booked: in quote, unvalued per currency,
    in base; summed in the order a stored fill holds them (`fees_text`), so that a sum that rounds rounds alike."""
    traded = market(symbol)
    valued, base = Decimal(0), Decimal(0)
    unvalued: dict[str, Decimal] = {}
    with localcontext(LEDGER_CONTEXT):
        for currency, amount, quote_value in sorted(
            fees, key=lambda f: (*f[:2], "" if f[2] is None else decimal_text(f[2]))
        ):
            if currency == traded.quote:
                valued += amount
            elif currency == traded.base:
                base += amount
            elif quote_value is not None:
                valued += quote_value
            else:
                unvalued[currency] = unvalued.get(currency, Decimal(0)) + amount
    return FeeSplit(valued, tuple(sorted((c, a) for c, a in unvalued.items() if a != 0)), base)


def parsed_fees(text: str) -> list[tuple[str, Decimal, Decimal | None]]:
    """A stored fees text (canonical JSON) as (currency, amount, quote_value) tuples."""
    return [
        (entry["currency"], Decimal(entry["amount"]), Decimal(entry["quote_value"]) if "quote_value" in entry else None)
        for entry in json.loads(text)
    ]


def fees_text(fees: Iterable[FeeEntry]) -> str:
    """The canonical JSON of a fill's fees: zero amounts left out, sorted, exact text (stored and hashed), as
    json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes it, built without dicts."""
    if type(fees) is tuple and len(fees) == 1:  # the usual fill's one fee: nothing to sort or join
        fee = fees[0]
        if fee.amount == 0:
            return "[]"
        quote_value = "" if fee.quote_value is None else decimal_text(fee.quote_value)
        return "[" + _fee_json((fee.currency or "", fee.amount, quote_value)) + "]"
    entries = sorted(
        (fee.currency or "", fee.amount, "" if fee.quote_value is None else decimal_text(fee.quote_value))
        for fee in fees
        if fee.amount != 0
    )
    return "[" + ",".join(map(_fee_json, entries)) + "]"


def _fee_json(entry: tuple[str, Decimal, str]) -> str:
    currency, amount, quote_value = entry
    text = '{"amount":' + _JSON_STRING(decimal_text(amount)) + ',"currency":' + _JSON_STRING(currency)
    return text + ("}" if not quote_value else ',"quote_value":' + _JSON_STRING(quote_value) + "}")


def v1_fees_text(fee: str, symbol: str) -> str:
    """The fees of a v1 fill (one fee in the quote currency) as a v2 fill writes them: fee 0 is no fee."""
    if fee == "0":
        return "[]"
    return sorted_json([{"amount": fee, "currency": market(symbol).quote}])


_FEE = TypeAdapter(Amount)


class Fill(BaseModel):
    """One execution reported by an exchange: the immutable fact the log records."""

    # revalidate_instances (here and in FeeEntry): an instance built with model_construct or
    # model_copy(update=...) skipped validation, so one handed to the ledger is checked again.
    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")

    type: Literal["fill"] = "fill"
    fill_id: Identifier
    account: Identifier = "default"
    exchange: Name  # part of the fill's identity: required; "" means no exchange (legacy records)
    symbol: Symbol
    side: Side
    quantity: Quantity
    price: Quantity
    fees: tuple[FeeEntry, ...] = Field(default=(), max_length=MAX_FEES)
    occurred_at: OccurredAt
    strategy: Name | None = None
    order_id: Name | None = None
    client_order_id: Name | None = None
    metadata: Metadata = None

    @model_validator(mode="before")
    @classmethod
    def _one_fee_field(cls, data: Any) -> Any:  # noqa: ANN401 - pydantic's raw input
        """`fee` (spec section 3: one fee in the quote currency) is `fees=[{fee}]`; give one or the other."""
        if isinstance(data, dict) and "fee" in data:
            data = dict(data)
            fee = data.pop("fee")
            if "fees" in data:
                raise ValueError("fee and fees are both given; give the fee in one of them")
            try:
                amount = _FEE.validate_python(fee)
            except ValidationError as error:
                message = error.errors()[0]["msg"].removeprefix("Value error, ")
                if "(got " not in message:
                    message += f" (got {fee!r})"
                raise ValueError(f"fee: {message}") from None
            data["fees"] = [] if amount == 0 else [{"amount": amount}]
        return data

    @model_validator(mode="after")
    def _fees_in_currencies(self) -> Fill:
        traded = market(self.symbol)
        named = []
        for index, fee in enumerate(self.fees):
            currency = fee.currency or traded.quote
            if fee.quote_value is not None and currency in (traded.base, traded.quote):
                raise ValueError(
                    f"fees.{index}.quote_value: only a fee in a currency other than {traded.base} and "
                    f"{traded.quote} takes a quote_value (got {fee.quote_value} for a fee in {currency})"
                )
            # Its fields are validated already: construct, do not validate again (model_copy costs ~12 µs).
            named.append(
                fee
                if fee.currency
                else FeeEntry.model_construct(amount=fee.amount, currency=currency, quote_value=fee.quote_value)
            )
        object.__setattr__(self, "fees", tuple(named))  # frozen: set once, while validating
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        """The natural key appends are idempotent on."""
        return (self.account, self.exchange, self.fill_id)

    @property
    def event_id(self) -> str:
        return self.fill_id

    @property
    def market(self) -> Market:
        return market(self.symbol)

    def fee_split(self) -> FeeSplit:
        return split_fees(self.symbol, ((fee.currency or "", fee.amount, fee.quote_value) for fee in self.fees))

    @property
    def fee(self) -> Decimal:
        """Every valued fee in the quote currency (a base fee at the fill price); unvalued fees left out.
        A fill of spec section 3 (one fee, in the quote currency) gives that fee."""
        return self.quote_fees()

    def quote_fees(self) -> Decimal:
        """Every valued fee in the quote currency (a base fee at the fill price); unvalued fees left out."""
        split = self.fee_split()
        with localcontext(LEDGER_CONTEXT):
            return split.valued + split.base * self.price

    def canonical(self, made: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
        """The fill as exact strings: what is stored, hashed and compared for duplicates. `made`: the canonical
        texts of occurred_at and metadata when its validation made them already (None: not made; domain/intake.py)."""
        occurred_at, metadata = made
        return {
            "fill_id": self.fill_id,
            "account": self.account,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": decimal_text(self.quantity),
            "price": decimal_text(self.price),
            "fee": None,
            "occurred_at": time_text(self.occurred_at) if occurred_at is None else occurred_at,
            "strategy": self.strategy,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "metadata": metadata_text(self.metadata) if metadata is None else metadata,
            "type": "fill",
            "version": FILL_VERSION,
            "fees": fees_text(self.fees),
            "amount": None,
            "currency": None,
            "kind": None,
        }


def decimal_text(value: Decimal) -> str:
    """Exact, canonical decimal string: no exponent, no trailing zeros (1.50 -> 1.5, 1E+2 -> 100): the
    normalized value in fixed point, which `str` writes at a third of `format`'s cost unless it has an exponent."""
    if not value:
        return "0"
    text = str(value)
    # Already canonical, as most amounts given as text are: fixed point ("E" would be written for an
    # exponent above 0 or a small number), its last digit not a zero (none after a point, and no integer
    # normalize would write with an exponent; NaN and Infinity end in letters) and at most MAX_DIGITS digits
    # (normalize would round more in LEDGER_CONTEXT). str wrote no leading zero, "+" or "-0" (zero is "0").
    if text[-1] in _NOT_ZERO and len(text) <= MAX_DIGITS and "E" not in text:
        return text
    normal = value.normalize(LEDGER_CONTEXT)
    text = str(normal)
    return format(normal, "f") if "E" in text else text


_NOT_ZERO = frozenset("123456789")


def time_text(value: datetime) -> str:
    """Canonical UTC timestamp with microseconds and a four-digit year; text order is time order."""
    in_utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    # isoformat() writes microseconds when there are any, as timespec="microseconds" does, without its keyword.
    return in_utc.isoformat() if in_utc.microsecond else in_utc.isoformat(timespec="microseconds")


_SEPARATORS = itemgetter(4, 7, 10, 13, 16, 19)  # of a time_text: "2024-01-02T14:30:00.001371+00:00"


def time_shaped(text: str) -> bool:
    """Has `text` the shape `time_text` writes (its length, separators and offset)? Then, when fromisoformat reads
    it (it takes only ASCII digits between them), time_text writes it back as it is: its own canonical text."""
    return len(text) == 32 and text.endswith("+00:00") and _SEPARATORS(text) == ("-", "-", "T", ":", ":", ".")  # noqa: PLR2004


def metadata_text(value: dict[str, Any] | None) -> str | None:
    return None if value is None else sorted_json(value)


_JSON_STRING = json.encoder.encode_basestring  # a string as json.dumps(..., ensure_ascii=False) writes it
