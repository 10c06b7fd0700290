"""One ccxt structure's fields, read exactly: every refusal names the entry's index and the field (see mapping).

Numbers are taken as given: strings (ccxt with `exchange.number = str`), ints, or Decimals (a JSON file read with
parse_float=Decimal); a float is refused, never converted. ccxt's `info` (the exchange's raw record) is kept as
metadata, a number a float holds exactly as a number and any other as its text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeledger.domain.fills import MAX_ADJUSTED_EXPONENT, MAX_METADATA_DEPTH, exact_amount, shortened
from tradeledger.domain.json_values import json_depth
from tradeledger.domain.markets import currency_code, market
from tradeledger.errors import InvalidFill

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A timestamp in ms with more digits than this is past 9999 (253402300799999 has 15): refused before int().
_PAST_9999 = 15


class Entry:
    """One ccxt structure with its index: its fields read exactly, every refusal naming index and field."""

    def __init__(self, raw: Mapping[str, Any], index: int) -> None:
        self.raw = raw
        self.index = index

    def refuse(self, field: str, why: str) -> InvalidFill:
        return InvalidFill(f"entry {self.index}: {field}: {why}")

    def text(self, field: str) -> str:
        value = self.raw.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # some exchanges' ids are numbers
        if not isinstance(value, str) or not value:
            raise self.refuse(field, f"is required, as text (got {quoted(value)})")
        return value

    def number(self, value: object, field: str) -> Decimal:
        if isinstance(value, float):
            raise self.refuse(
                field,
                f"is a float ({value!r}), which may not be the exchange's number; read ccxt in string mode "
                "(exchange.number = str) or the file's numbers as written",
            )
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self.refuse(field, f"must be a number (got {quoted(value)})")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.refuse(field, f"must be a number (got {quoted(value)})") from None
        if not number.is_finite():
            raise self.refuse(field, f"must be a finite number (got {quoted(value)})")
        return number

    def amount(self, field: str) -> Decimal:
        return self.number(self.raw.get(field), field)

    def held(self, field: str, *, digits: bool = True) -> Decimal:
        """A number within a fill amount's limits (1E-24..1E+24, and at most 28 significant digits unless
        `digits` is False), so that arithmetic on it stays exact and bounded; else refused naming the field."""
        value = self.amount(field)
        if not digits and value != 0 and abs(value.adjusted()) > MAX_ADJUSTED_EXPONENT:
            raise self.refuse(
                field,
                f"is out of range 1E-{MAX_ADJUSTED_EXPONENT}..1E+{MAX_ADJUSTED_EXPONENT} (got {shortened(value)})",
            )
        try:
            return exact_amount(value) if digits else value
        except ValueError as error:
            raise self.refuse(field, str(error)) from None

    def occurred_at(self) -> datetime:
        given = value = self.raw.get("timestamp")
        if isinstance(value, Decimal) and value == value.to_integral_value():
            if value.adjusted() >= _PAST_9999:  # never made an int of its digits (1e1000000: 30 s)
                raise self.refuse("timestamp", f"is not a time between 1970 and 9999 (got {quoted(given)})")
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.refuse("timestamp", f"is required, in milliseconds since 1970 (got {quoted(value)})")
        try:
            return EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise self.refuse("timestamp", f"is not a time between 1970 and 9999 (got {quoted(given)})") from None

    def currency(self, field: str, value: object = None) -> str:
        code = self.raw.get(field) if value is None else value
        if not isinstance(code, str):
            raise self.refuse(field, f"is required, a currency code (got {quoted(code)})")
        try:
            return currency_code(code)
        except ValueError as error:
            raise self.refuse(field, str(error)) from None

    def symbol(self) -> str:
        symbol = self.raw.get("symbol")
        if not isinstance(symbol, str):
            raise self.refuse("symbol", f"is required, a ccxt unified symbol (got {quoted(symbol)})")
        try:
            market(symbol)
        except ValueError as error:
            raise self.refuse("symbol", str(error)) from None
        return symbol

    def fees(self, unnamed: str | None = None) -> list[dict[str, object]]:
        """`fees` when it lists any, else `fee`; entries without a cost (null or 0) are no fee. A fee with a cost and
        no currency is in `unnamed` when given (a transfer's own currency), else refused naming its currency."""
        listed = self.raw.get("fees")
        if listed is not None and not isinstance(listed, list):
            raise self.refuse("fees", f"must be a list (got {quoted(listed)})")
        single = self.raw.get("fee")
        named, found = ("fees", listed) if listed else ("fee", [] if single is None else [single])
        fees = []
        for position, fee in enumerate(found):
            field = f"fees[{position}]" if named == "fees" else "fee"
            if not isinstance(fee, Mapping):
                raise self.refuse(field, f"must be an object with cost and currency (got {quoted(fee)})")
            cost = None if fee.get("cost") is None else self.number(fee["cost"], f"{field}.cost")
            if cost is None or cost == 0:
                continue
            code = fee.get("currency")
            if code is None and unnamed is not None:
                code = unnamed
            fees.append({"amount": cost, "currency": self.currency(f"{field}.currency", code)})
        return fees

    def metadata(self, *fields: str) -> dict[str, object]:
        """The ccxt fields named and the exchange's raw record (`info`), as JSON a float keeps exactly."""
        kept: dict[str, object] = {"source": "ccxt"}
        for field in fields:
            if self.raw.get(field) is not None:
                kept[field] = self.raw[field]
        info = self.raw.get("info")
        if info is not None:
            if json_depth(info, limit=MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
                raise self.refuse("info", f"is nested more than {MAX_METADATA_DEPTH} levels deep")
            kept["info"] = info
        return _opaque(kept)  # type: ignore[return-value]


def _opaque(value: object) -> object:
    """Raw JSON as metadata keeps it: a number a float holds exactly stays a number, any other its text."""
    if isinstance(value, Mapping):
        return {str(key): _opaque(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_opaque(item) for item in value]
    if isinstance(value, Decimal):
        number = float(value)  # float ok: opaque metadata; kept as a number only when it is exact
        return number if math.isfinite(number) and Decimal(repr(number)) == value else str(value)
    return value


def quoted(value: object) -> str:
    return shortened(value) if not isinstance(value, str) else repr(shortened(value))
