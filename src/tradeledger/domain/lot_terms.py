"""The terms of the tax lots (spec section 11): methods and their tax years, lot picks, and the rows a
match gives (`domain.lots` folds the log into them).

A method applies to the disposals of its tax year (the calendar year of `occurred_at` in UTC); a year
without one takes the previous year's. A specific disposal names its lots in `metadata.lots` as
`[{"seq": N, "quantity": "Q"}, ...]`, summing to the quantity disposed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any, NamedTuple

from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, exact_amount, exceeds_ledger_digits, shortened
from tradeledger.errors import InvalidArgument, InvalidFill

ZERO = Decimal(0)
LONG_AFTER_DAYS = 365
# A `year` no disposal has (stored times start at year 1): a LotBook of this year keeps no gain rows (issue 19:
# `lots` needs none, and a million-fill log's 900,000 rows were built and held for it).
NO_TAX_YEAR = 0
MAX_LONG_AFTER_DAYS = 999_999_999  # the most days a timedelta holds (held longer than any two times of the log)
FIRST_YEAR, LAST_YEAR = 1970, 9999  # the years an event can occur in
LotKey = tuple[str, str, str]  # (account, currency, quote)
LotPicks = tuple[tuple[int, Decimal], ...]  # (lot seq, quantity) named by a specific disposal
# Lots named are summed exactly: each has at most 28 digits within 1E-24..1E+24 (49 digits apart at most), and
# 100 digits hold the sum of any list of them a log can keep; an Inexact is trapped all the same.
_EXACT_SUM = Context(prec=100, rounding="ROUND_HALF_EVEN", traps=[InvalidOperation, Inexact])


class Method(StrEnum):
    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    AVERAGE = "average"
    SPECIFIC = "specific"


METHODS = ", ".join(method.value for method in Method)


def method_named(text: str, given: str) -> Method:
    try:
        return Method(text)
    except ValueError:
        raise InvalidArgument(f"method: must be one of {METHODS} (got {shortened(given)!r})") from None


def tax_year(text: str) -> int:
    """A tax year as given (1970 to 9999), or InvalidArgument naming it."""
    if not (text.isascii() and text.isdigit() and len(text) == 4 and FIRST_YEAR <= int(text) <= LAST_YEAR):  # noqa: PLR2004
        raise InvalidArgument(f"year: must be a year from {FIRST_YEAR} to {LAST_YEAR} (got {shortened(text)!r})")
    return int(text)


@dataclass(frozen=True, slots=True)
class MethodPlan:
    """The method of each tax year: `years` ascending; a year takes the method of the latest year at or
    before it, and a year before the first takes the first's (a plain `--method M` is every year's)."""

    years: tuple[tuple[int, Method], ...]
    explicit: tuple[int, ...] = ()  # the years named as YEAR=M

    @classmethod
    def parse(cls, texts: Sequence[str]) -> MethodPlan:
        """From `M` and/or `YEAR=M` texts (a plain M: the years before the first YEAR=M), or InvalidArgument."""
        plain: Method | None = None
        by_year: dict[int, Method] = {}
        for text in texts:
            if "=" in text:
                year_text, name = text.split("=", 1)
                try:
                    year = tax_year(year_text.strip())
                except InvalidArgument:
                    raise InvalidArgument(
                        f"method: the year of {shortened(text)!r} must be a year from {FIRST_YEAR} to {LAST_YEAR}"
                    ) from None
                if year in by_year:
                    raise InvalidArgument(f"method: year {year} is given twice (got {shortened(text)!r})")
                by_year[year] = method_named(name.strip(), text)
            else:
                if plain is not None:
                    raise InvalidArgument(
                        f"method: one plain method, then YEAR=METHOD for each year that changes "
                        f"(got {shortened(text)!r} after {plain.value!r})"
                    )
                plain = method_named(text.strip(), text)
        if plain is None and not by_year:
            raise InvalidArgument(f"method: give one of {METHODS}, or YEAR=METHOD for each year that changes")
        years = sorted(by_year.items())
        if plain is not None and (not years or years[0][0] > FIRST_YEAR):
            years.insert(0, (FIRST_YEAR, plain))
        return cls(tuple(years), tuple(sorted(by_year)))

    @classmethod
    def single(cls, method: Method) -> MethodPlan:
        return cls(((FIRST_YEAR, method),))

    def method_of(self, year: int) -> Method:
        chosen = self.years[0][1]
        for start, method in self.years:
            if start > year:
                break
            chosen = method
        return chosen

    @property
    def uses(self) -> frozenset[Method]:
        return frozenset(method for _, method in self.years)


def _pick_quantity(seq: int, amount: object) -> Decimal:
    """The quantity named of lot `seq`: a decimal (a string, or an int) above 0 that the ledger keeps exactly,
    as a fill's quantity (else the sum and the lots' rests would round); InvalidFill naming it otherwise."""
    if (
        isinstance(amount, bool)
        or not isinstance(amount, str | int)
        or (isinstance(amount, str) and not amount.isascii())
    ):
        raise InvalidFill(
            f"metadata.lots: quantity of lot {seq} must be a decimal string (got {shortened(json.dumps(amount))})"
        )
    try:
        number = Decimal(amount)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number <= 0:
        raise InvalidFill(
            f"metadata.lots: quantity of lot {seq} must be a number above 0 (got {shortened(json.dumps(amount))})"
        )
    try:
        return exact_amount(number)
    except ValueError as error:
        raise InvalidFill(f"metadata.lots: quantity of lot {seq} {error}") from None


def lot_picks(value: object, quantity: Decimal) -> LotPicks:
    """The lots a specific disposal names (`metadata.lots`), checked: a non-empty list of
    {"seq": N, "quantity": "Q"} (N a seq, each named once; Q a positive decimal) whose quantities sum
    to `quantity`. InvalidFill naming `metadata.lots` and the value otherwise."""
    where = "metadata.lots: must be a list of {'seq': N, 'quantity': 'Q'} naming each lot once"
    if not isinstance(value, list) or not value:
        raise InvalidFill(f"{where} (got {shortened(json.dumps(value))})")
    picks: list[tuple[int, Decimal]] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"seq", "quantity"}:
            raise InvalidFill(f"{where} (got {shortened(json.dumps(item))})")
        seq, amount = item["seq"], item["quantity"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise InvalidFill(
                f"metadata.lots: seq must be a seq of the log, 1 or more (got {shortened(json.dumps(seq))})"
            )
        number = _pick_quantity(seq, amount)
        if any(seq == named for named, _ in picks):
            raise InvalidFill(f"metadata.lots: lot {seq} is named twice (got {shortened(json.dumps(value))})")
        picks.append((seq, number))
    with localcontext(_EXACT_SUM):  # the exact sum: at 28 digits 1E+20 + 1E-8 would be 1E+20
        total = sum((amount for _, amount in picks), ZERO)
    if total != quantity:
        shown = format(total.normalize(_EXACT_SUM), "f") if exceeds_ledger_digits(total) else decimal_text(total)
        raise InvalidFill(
            f"metadata.lots: the lots named sum to {shown}, not to the quantity disposed "
            f"{decimal_text(quantity)} (got {shortened(json.dumps(value))})"
        )
    return tuple(picks)


def picks_of(seq: int, metadata: Mapping[str, Any] | None, quantity: Decimal) -> LotPicks | None:
    """The lots the metadata of fill `seq` names, checked (None when it names none): InvalidArgument naming the
    seq (a report over the log, which `check_lot_picks` checked when it was recorded)."""
    if metadata is None or "lots" not in metadata:
        return None
    try:
        return lot_picks(metadata["lots"], quantity)
    except InvalidFill as error:
        raise InvalidArgument(f"seq {seq}: {error}") from None


class GainRow(NamedTuple):
    """One matched part of a disposal: `quantity` > 0 for a long lot sold, < 0 for a short lot bought back.

    A named tuple, not a frozen dataclass: a year of a busy bot has hundreds of thousands of them."""

    account: str
    currency: str
    quote: str
    quantity: Decimal
    acquired_at: datetime
    acquired_seq: int
    disposed_at: datetime
    disposed_seq: int
    proceeds: Decimal
    cost_basis: Decimal
    gain: Decimal
    term: str


@dataclass(frozen=True, slots=True)
class MissingAcquisition:
    """A disposal's quantity that no lot held (its quote is "" for a withdrawal)."""

    account: str
    currency: str
    quote: str
    quantity: Decimal
    seq: int
    disposed_at: datetime


@dataclass(frozen=True, slots=True)
class OpenLot:
    """A lot still open: `quantity` > 0 long, < 0 short; `unit_cost` its basis per unit (a short's: the
    proceeds of its sale per unit)."""

    account: str
    currency: str
    quote: str
    quantity: Decimal
    unit_cost: Decimal
    acquired_at: datetime
    acquired_seq: int


@dataclass(frozen=True, slots=True)
class GainTotals:
    proceeds: Decimal = ZERO
    cost_basis: Decimal = ZERO
    gain: Decimal = ZERO
    short: Decimal = ZERO  # the gain of the short-term parts
    long: Decimal = ZERO


def totals_of(rows: Iterable[GainRow]) -> GainTotals:
    proceeds, basis, short, long = ZERO, ZERO, ZERO, ZERO
    with localcontext(LEDGER_CONTEXT):
        for row in rows:
            proceeds += row.proceeds
            basis += row.cost_basis
            if row.term == "long":
                long += row.gain
            else:
                short += row.gain
        return GainTotals(proceeds, basis, short + long, short, long)
