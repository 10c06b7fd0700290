"""What is wrong with a log row a fold could not fold: its fields read one by one, for a message naming the
field and its value.

The folds (`domain.fold`, `domain.lots`) read the log's stored text trusting it: the event models checked
every value on append, and `verify` checks them again. A row edited behind the ledger's back is still
never folded into figures that look right: the folds check what would otherwise fold silently (a side
that is neither buy nor sell, a quantity or price not above zero, a fee below zero, an amount that is not
finite, a time not as `time_text` writes it), and anything else wrong fails in their arithmetic. Either
way they end in `unreadable`, which reads the row again here, slowly, to say which field is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from pydantic import ValidationError

from tradeledger.domain.fee_parts import fee_parts
from tradeledger.domain.fills import exact_amount, shortened, time_shaped
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.markets import market
from tradeledger.domain.positions import Accounting, FundingPayment, TransferMove
from tradeledger.errors import UnreadableEvent

KINDS = frozenset({"fill", "funding", "transfer"})
# Above every amount an event holds (`exact_amount`: at most 1E+24 in magnitude): `-BOUND < x < BOUND` is a
# funding's or a transfer's check that Infinity fails too (and NaN by trapping: comparing it signals).
BOUND = Decimal("1E+25")
ZERO = Decimal(0)

# The errors a stored text that does not read raises in a fold's arithmetic and parsing.
UNREADABLE = (ArithmeticError, ValueError, TypeError, LookupError)


def unreadable(row: ExecutionRow, error: BaseException | None = None) -> UnreadableEvent:
    """The error a fold raises for a row it cannot fold (`error`: what its arithmetic raised, if anything)."""
    problem = row_problem(row)
    if problem is not None:
        return _refused(row, problem)
    detail = "" if error is None else f" ({_one_line(error)})"
    return UnreadableEvent(
        f"{_stored(row)} cannot be folded{detail}; run verify (if it finds nothing wrong, this is a bug in tradeledger)"
    )


def refuse_unreadable(row: ExecutionRow) -> None:
    """UnreadableEvent naming the seq, field and value when `row` holds a value no event holds (a reader that takes a
    row whole without folding it: a wallet's replay, a lot a fill names, a duplicate's stored content)."""
    problem = row_problem(row)
    if problem is not None:
        raise _refused(row, problem)


def _refused(row: ExecutionRow, problem: str) -> UnreadableEvent:
    return UnreadableEvent(f"{_stored(row)} cannot be read: {problem}; run verify")


def _stored(row: ExecutionRow) -> str:
    """`seq N: the stored fill` (its type when the ledger knows it, else "event")."""
    kind = row[9]
    return f"seq {row[0]}: the stored {kind if kind in KINDS else 'event'}"


def other_amounts(
    kind: str, symbol: str | None, amount: str | None, fee: str | None, currency: str | None, at: str
) -> tuple[Decimal, Decimal]:
    """A funding payment's or a transfer's amount and fee (0 for funding), read as far as a fold reads them:
    ValueError (the caller names the row: `unreadable`) for another type, an amount that is not finite, a
    fee below zero, a funding payment without a symbol, no currency, or a time `time_text` did not write."""
    _time(at)
    if kind == "funding" and symbol is not None:
        moved, paid = Decimal(cast("str", amount)), ZERO
    elif kind == "transfer":
        moved, paid = Decimal(cast("str", amount)), Decimal(cast("str", fee))
    else:
        raise ValueError(kind)
    if currency is None or not (-BOUND < moved < BOUND and ZERO <= paid < BOUND):  # NaN traps as it compares
        raise ValueError(kind)
    return moved, paid


def amounts_hold(accounting: Accounting) -> bool:
    """Whether a funding payment's or a transfer's parsed amounts are ones such an event holds (finite, a
    transfer's fee not below zero), as the folds check them (`other_amounts`); a fill's: True."""
    if isinstance(accounting, TransferMove):
        return accounting.amount.is_finite() and accounting.fee.is_finite() and accounting.fee >= 0
    return not isinstance(accounting, FundingPayment) or accounting.amount.is_finite()


def _one_line(error: BaseException) -> str:
    """An error as one line: a model's validation errors as `field: message` each, anything else by its type."""
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, found['loc']))}: {found['msg']}" for found in error.errors())
    return " ".join(f"{type(error).__name__}: {error}".split())


def row_problem(row: ExecutionRow) -> str | None:
    """What is wrong with a row's accounting columns, naming the field and its value (None: nothing found)."""
    _, _, _, symbol, side, quantity, price, fee, at, kind, fees, amount, currency = row
    if kind not in KINDS:
        return f"type {shortened(repr(kind))} is not an event type this ledger knows"
    checks: list[tuple[str, object, Callable[[Any], object]]] = [("occurred_at", at, _time)]
    if kind == "fill":
        checks += [("symbol", symbol, _market), ("side", side, _side)]
        checks += [("quantity", quantity, _positive), ("price", price, _positive)]
        checks.append(("fee", fee, _not_negative) if fees is None else ("fees", fees, lambda text: _fees(symbol, text)))
    elif kind == "funding":
        checks += [("symbol", symbol, _market), ("amount", amount, _number), ("currency", currency, _text)]
    else:
        checks += [("currency", currency, _text), ("amount", amount, _number), ("fee", fee, _not_negative)]
    for name, value, check in checks:
        try:
            check(value)
        except UNREADABLE as error:
            return f"{name} {shortened(repr(value))} {error}"
    return None


def _text(value: object) -> str:
    if value is None:
        raise ValueError("is missing")
    if not isinstance(value, str) or not value:
        raise ValueError("is not a text")
    return value


def _number(value: object) -> Decimal:
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    return exact_amount(number)


def _positive(value: object) -> None:
    if _number(value) <= 0:
        raise ValueError("must be greater than 0")


def _not_negative(value: object) -> None:
    if _number(value) < 0:
        raise ValueError("must not be negative")


def _side(value: object) -> None:
    if value not in ("buy", "sell"):
        raise ValueError("is neither buy nor sell")


def _market(value: object) -> None:
    market(_text(value))


def _fees(symbol: object, value: object) -> None:
    try:
        fee_parts(_text(symbol), _text(value))
    except InvalidOperation:  # its message is a list of signal classes, not words
        raise ValueError("is not a fee list this ledger writes (an amount is not a number)") from None
    except UNREADABLE as error:
        raise ValueError(f"is not a fee list this ledger writes ({error})") from None


def _time(value: object) -> None:
    text = _text(value)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not an ISO 8601 time") from None
    if not time_shaped(text):
        raise ValueError("is not a time as the ledger writes it (UTC, to the microsecond)")
