"""Fill events: the one kind of fact the log holds, validated before anything is written."""

from __future__ import annotations

import json
import re
import reprlib
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# Every ledger computation runs in this context, whatever the calling program set as its own:
# the default 28 significant digits, half-even, and errors instead of silent NaN or infinity.
LEDGER_CONTEXT = Context(prec=28, rounding="ROUND_HALF_EVEN", traps=[InvalidOperation, DivisionByZero, Overflow])

# Amounts keep at most the precision the context keeps, so no input is rounded; the exponent bound
# keeps absurd magnitudes (1E+999999) out of the books.
MAX_DIGITS = 28
MAX_ADJUSTED_EXPONENT = 24
SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9._-]*/[A-Z0-9][A-Z0-9._-]*")
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


def _exact(value: Decimal) -> Decimal:
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
    if not SYMBOL_PATTERN.fullmatch(value):
        raise ValueError(f"must be BASE/QUOTE in capitals, like BTC/USD (got {value!r})")
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
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object (got {type(value).__name__} {reprlib.repr(value)})")  # noqa: TRY004
    depth = json_depth(value, limit=MAX_METADATA_DEPTH)
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"is nested more than {MAX_METADATA_DEPTH} levels deep; at most {MAX_METADATA_DEPTH} are kept")
    try:
        size = len(_metadata_json(value).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"is {size} bytes of canonical JSON; at most {MAX_METADATA_BYTES} are kept")
    return value


def json_depth(value: object, *, limit: int) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0, {} is 1), counted without recursion.

    Counting stops once the depth passes `limit` (the result is then limit + 1), so a value nested
    10,000 deep costs no more than one nested just past the limit, and never the interpreter's stack.
    """
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest


def _refuse_json(value: object) -> Any:  # noqa: ANN401 - json's default hook signature
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


Quantity = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(_exact), AfterValidator(_positive)]
Fee = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(_exact), AfterValidator(_not_negative)]
Symbol = Annotated[str, AfterValidator(_symbol)]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_identifier)]
Name = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_identifier)]
OccurredAt = Annotated[datetime, BeforeValidator(_aware_time)]
Metadata = Annotated[dict[str, Any] | None, BeforeValidator(_json_object)]


class Fill(BaseModel):
    """One execution reported by an exchange: the immutable fact the log records."""

    # revalidate_instances: a Fill built with model_construct or model_copy(update=...) skipped
    # validation, so an instance handed to the ledger is checked again.
    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")

    fill_id: Identifier
    account: Identifier = "default"
    exchange: Name  # part of the fill's identity: required; "" means no exchange (legacy records)
    symbol: Symbol
    side: Side
    quantity: Quantity
    price: Quantity
    fee: Fee = Decimal(0)
    occurred_at: OccurredAt
    strategy: Name | None = None
    order_id: Name | None = None
    client_order_id: Name | None = None
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
    return format(value.normalize(LEDGER_CONTEXT), "f")


def time_text(value: datetime) -> str:
    """Canonical UTC timestamp with microseconds and a four-digit year; text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def metadata_text(value: dict[str, Any] | None) -> str | None:
    return None if value is None else _metadata_json(value)


def _metadata_json(value: dict[str, Any]) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_refuse_json
    )
