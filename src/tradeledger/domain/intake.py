"""The fast path of fill validation: a plain mapping (or a Fill) checked by the model's own rules, without
pydantic's machinery, for the appends of every batch.

`Fill.model_validate` costs ~9 µs a fill of the bench's (best of 5 over 20,000, pydantic 2.14 on the
2-vCPU VM of 2026-12-07; ~30 µs with the pydantic of 2026-11), most of it pydantic calling our field
validators one by one through its core and building the model. This path runs the very same validators
(`domain.fills`) on the values it knows (text, Decimal, int, datetime, the `Side`, fee entries as mappings
or `FeeEntry`) and builds the `Fill` with `model_construct`: ~6.6 µs. It is only a shortcut, never a second set of
rules: anything it does not take as is (another type, a bad value, a field it does not know, the
funding and transfer types) gets `None`, and the caller validates through the model, which then
names what is wrong. A property test holds it to that: whatever the input, the fast path gives the
model's Fill, field for field, or nothing.

A Fill this path built is remembered (by identity, weakly, as long as it lives): handed over again,
say by the import that validated its lines before opening the ledger, it is taken as it is instead
of being checked a second time. A copy (`model_copy`, pickle) or a `model_construct` is another
object and is checked; the model is frozen, so the remembered object is still what was checked, but for
its metadata, a dict a caller could change in between: it is taken as it is only while its canonical
JSON is the text it had when it was checked (the ccxt mapping's fills carry the exchange's `info`).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Self, TypeVar, cast

from pydantic import BaseModel

from tradeledger.domain.fills import (
    MAX_FEES,
    MAX_TEXT,
    FeeEntry,
    Fill,
    Side,
    _aware_time,
    _identifier,
    _json_object_text,
    exact_amount,
    metadata_text,
    time_shaped,
)
from tradeledger.domain.markets import Market, currency_code, market

# Decimal text the model reads the same way: ASCII digits, an optional sign and fraction, no blanks,
# exponent or underscores (Decimal() would take those too; they go the model's way).
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_FIELDS = frozenset(Fill.model_fields) | {"fee"}
_FEE_FIELDS = frozenset(FeeEntry.model_fields)
M = TypeVar("M", bound=BaseModel)
_SIDES = {"buy": Side.BUY, "sell": Side.SELL, Side.BUY: Side.BUY, Side.SELL: Side.SELL}


class _Checked(weakref.ref[Fill]):
    """A weak reference to a Fill this path built, with the canonical JSON of its metadata then (None: none)."""

    __slots__ = ("key", "metadata")

    def __new__(cls, fill: Fill, metadata: str | None) -> Self:  # noqa: ARG004 - __init__ keeps it
        return super().__new__(cls, fill, _forget)

    def __init__(self, fill: Fill, metadata: str | None) -> None:  # weakref.ref's own only checks its arguments
        self.key = id(fill)
        self.metadata = metadata


# The Fills this path built, by id(): a Fill found here under its own id is the object that was checked
# (its metadata, a dict a caller could change, is compared with its text then).
_CHECKED: dict[int, _Checked] = {}


def _forget(ref: weakref.ref[Any]) -> None:
    """A remembered Fill is gone: its entry goes (unless its id is already another Fill's)."""
    key = cast("_Checked", ref).key
    if _CHECKED.get(key) is ref:
        _CHECKED.pop(key, None)


def _remembered(fill: Fill) -> bool:
    """Is `fill` one this path built, with the same metadata as then?"""
    found = _CHECKED.get(id(fill))
    if found is None or found() is not fill:
        return False
    if found.metadata is None:  # none then, and the model is frozen
        return True
    metadata = fill.metadata
    if metadata is None:  # never (frozen, and a dict then)
        return False
    for key in metadata:  # the model takes str keys only, and json writes a key 1 as the "1" it may replace
        if type(key) is not str:
            return False
    try:
        return metadata_text(metadata) == found.metadata
    except (TypeError, ValueError, RecursionError):  # changed into something not JSON, or nested past what
        return False  # json.dumps recurses into (the depth is checked after): checked again, and refused


class _Declined(Exception):
    """A value this path does not take as is."""


def fast_fill(data: Mapping[str, Any] | Fill, *, remember: bool = True) -> Fill | None:
    """The Fill the model would validate from `data`, or None when `data` must go through the model
    (it is unusual, or wrong: the model then says what is wrong with it). `remember=False`: the Fill is
    not remembered (a caller that keeps only its text, application/bulk.py)."""
    if isinstance(data, Fill):
        if _remembered(data):  # built by this path, and frozen since
            return data
        fields: Mapping[str, Any] = data.__dict__
    elif type(data) is dict:
        if data.get("type", "fill") != "fill" or not _FIELDS.issuperset(data):
            return None
        fields = data
    else:
        return None
    checked = _checked(fields)
    if checked is None:
        return None
    fill, (_, metadata) = checked
    if isinstance(data, Fill):  # validated again, a Fill keeps the fields set it had
        object.__setattr__(fill, "__pydantic_fields_set__", set(data.model_fields_set))
    if remember:
        _CHECKED[id(fill)] = _Checked(fill, metadata)
    return fill


def fast_canonical(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """`fast_fill(data, remember=False).canonical()` (None when that Fill is None), with the texts its checks made
    taken as they are, not written again: its metadata's canonical JSON, and its time when `data` gives it as the
    text `time_text` writes. For a caller that keeps only the text (application/bulk.py): no code of another runs
    between the checks and the text, so the metadata's text is its dict's then."""
    if type(data) is not dict or data.get("type", "fill") != "fill" or not _FIELDS.issuperset(data):
        return None
    checked = _checked(data)
    return None if checked is None else checked[0].canonical(checked[1])


def _checked(data: Mapping[str, Any]) -> tuple[Fill, tuple[str | None, str | None]] | None:
    """The Fill of `data` and its texts (`_fill`), or None when the model must say."""
    try:
        return _fill(data)
    except (_Declined, ValueError, KeyError):  # KeyError: a required field is missing
        return None


def _fill(data: Mapping[str, Any]) -> tuple[Fill, tuple[str | None, str | None]]:
    """The Fill of `data`, with the canonical texts its checks made: its time when given as `time_text` writes it,
    and its metadata's JSON (None: not made, or no metadata)."""
    symbol = _text(data["symbol"])
    traded = market(symbol)  # ValueError on a bad symbol
    values: dict[str, Any] = {
        "fill_id": _identifier(_text(data["fill_id"], least=1)),
        "exchange": _identifier(_text(data["exchange"])),
        "symbol": symbol,
        "side": _side(data["side"]),
        "quantity": _positive(data["quantity"]),
        "price": _positive(data["price"]),
        "occurred_at": _time(occurred_at := data["occurred_at"]),
    }
    time = occurred_at if type(occurred_at) is str and time_shaped(occurred_at) else None
    if "account" in data:
        values["account"] = _identifier(_text(data["account"], least=1))
    if "type" in data:
        if data["type"] != "fill":  # a Fill's own type (a dict's was looked at already)
            raise _Declined
        values["type"] = "fill"
    for name in ("strategy", "order_id", "client_order_id"):
        if name in data:
            value = data[name]
            values[name] = None if value is None else _identifier(_text(value))
    metadata = None
    if "metadata" in data:
        values["metadata"], metadata = _metadata(data["metadata"])
    if "fee" in data:
        if "fees" in data:
            raise _Declined
        amount = _amount(data["fee"])
        values["fees"] = () if amount == 0 else (_fee_entry(amount, traded.quote, None),)
    elif "fees" in data:
        values["fees"] = _fees(data["fees"], traded)
    return _built(Fill, _FILL_DEFAULTS, values), (time, metadata)


def _text(value: object, *, least: int = 0) -> str:
    if type(value) is not str or not least <= len(value) <= MAX_TEXT:
        raise _Declined
    return value


def _side(value: object) -> Side:
    if type(value) is not str and type(value) is not Side:
        raise _Declined
    found = _SIDES.get(value)
    if found is None:
        raise _Declined
    return found


# A text `_DECIMAL_TEXT` matched of at most this many characters is a value `exact_amount` returns as it is, so
# its checks are skipped. Proof: such a text has d integer digits, f fraction digits (f = 0 without a
# point) and at most a sign and a point, so d + f <= 25 and, with a point, d >= 1 and f <= 23. Its
# significant digits are at most its digits, 25 <= MAX_DIGITS (28): rounding to MAX_DIGITS is exact.
# Its value is finite, and when it is not zero its first non-zero digit is at most d - 1 <= 24 places
# left of the point (adjusted() <= 24) and at most f <= 23 right of it (adjusted() >= -23): within
# MAX_ADJUSTED_EXPONENT (24) either way. (tests/property/test_intake_properties.py holds it to `exact_amount`.)
SHORT_DECIMAL_TEXT = 25


def _amount(value: object) -> Decimal:
    kind = type(value)
    if kind is str:
        if not _DECIMAL_TEXT.fullmatch(value):  # type: ignore[call-overload]
            raise _Declined
        if len(value) <= SHORT_DECIMAL_TEXT:  # type: ignore[arg-type]
            return Decimal(value)  # type: ignore[arg-type]  # exact and in range: see above
        number = Decimal(value)  # type: ignore[arg-type]
    elif kind is Decimal:
        number = value  # type: ignore[assignment]
    else:
        raise _Declined  # int, bool, float, anything else: the model's way
    return exact_amount(number)


def _positive(value: object) -> Decimal:
    number = _amount(value)
    if number <= 0:
        raise _Declined
    return number


def _time(value: object) -> datetime:
    if type(value) is not str and type(value) is not datetime:
        raise _Declined
    return _aware_time(value)  # type: ignore[return-value]


def _metadata(value: object) -> tuple[dict[str, Any] | None, str | None]:
    """The metadata as the model keeps it (a copy of the dict) and its canonical JSON, made once."""
    if value is None:
        return None, None
    if type(value) is not dict or any(type(key) is not str for key in value):
        raise _Declined
    text = _json_object_text(value)  # depth, size and JSON: ValueError
    return dict(value), text


def _fees(value: object, traded: Market) -> tuple[FeeEntry, ...]:
    if (type(value) is not list and type(value) is not tuple) or len(value) > MAX_FEES:
        raise _Declined
    return tuple(_fee(entry, traded) for entry in value)


def _fee(entry: object, traded: Market) -> FeeEntry:
    """A fee entry as the model leaves it: one naming its currency as validated (an entry given as a
    FeeEntry is that very object), one without a currency built again in the quote currency."""
    if type(entry) is FeeEntry:
        fields: Mapping[str, Any] = entry.__dict__
    elif type(entry) is dict and _FEE_FIELDS.issuperset(entry):
        fields = entry
    else:
        raise _Declined
    amount = _amount(fields["amount"])
    currency = fields.get("currency")
    quote_value = fields.get("quote_value")
    if quote_value is not None:
        quote_value = _amount(quote_value)
        if quote_value * amount < 0 or (amount == 0 and quote_value != 0):
            raise _Declined  # the model names the value of a rebate as a fee, or of no fee
        if (currency or traded.quote) in (traded.base, traded.quote):
            raise _Declined
    if currency is None:
        return _fee_entry(amount, traded.quote, quote_value)
    currency_code(_text(currency))
    if type(entry) is FeeEntry:
        if amount is not fields["amount"] or quote_value is not fields["quote_value"]:
            raise _Declined  # not Decimals (built without validation): the model builds the entry again
        return entry
    given = {"amount": amount, "currency": currency}
    if "quote_value" in fields:
        given["quote_value"] = quote_value
    return _built(FeeEntry, _FEE_DEFAULTS, given)


def _fee_entry(amount: Decimal, currency: str, quote_value: Decimal | None) -> FeeEntry:
    return _built(FeeEntry, {}, {"amount": amount, "currency": currency, "quote_value": quote_value})


_FEE_DEFAULTS: dict[str, Any] = {"amount": None, "currency": None, "quote_value": None}
_FILL_DEFAULTS: dict[str, Any] = {
    name: None if field.is_required() else field.get_default(call_default_factory=True)
    for name, field in Fill.model_fields.items()
}
_FILL_DEFAULTS["fees"] = ()


# BaseModel's four slots, set through their own descriptors: a C call each, where object.__setattr__ parses its
# arguments and looks the name up on the type every time (~700 instructions a slot).
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[name].__set__
    for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
)


def _built(model: type[M], defaults: dict[str, Any], values: dict[str, Any]) -> M:
    """`model.model_construct(**values)` as pydantic builds it (the defaults, then the values; the fields
    set are those given), without its per-call work over the model's fields: ~1 µs instead of ~14."""
    built = model.__new__(model)
    _SET_DICT(built, {**defaults, **values})
    _SET_FIELDS_SET(built, set(values))
    _SET_EXTRA(built, None)
    _SET_PRIVATE(built, None)
    return built
