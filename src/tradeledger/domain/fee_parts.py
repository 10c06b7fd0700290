"""A stored fees text (canonical JSON, spec section 9) as the fold and the lots book it, read once per text.

The parts: valued in the quote currency (quote fees, and others with a quote_value), unvalued per
currency, paid in the base currency (a fee-free disposal), the index of the first base fee, and every
fee as paid. One fee without a quote value, the common case, is read without json; the parts are
cached per (symbol, text) and immutable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Literal

from tradeledger.domain.fills import decimal_text
from tradeledger.domain.markets import market

ZERO = Decimal(0)


def add_unvalued(into: dict[str, Decimal] | None, more: Mapping[str, Decimal] | None) -> dict[str, Decimal] | None:
    """Unvalued fees summed per currency; a sum of zero leaves no entry, as in a stored position (a fold
    that carried 0.000 on would write 0.020 where one resumed from the stored row writes 0.02)."""
    if not more:
        return into
    sums = {} if into is None else into
    for currency, amount in more.items():
        total = sums.get(currency, ZERO) + amount
        if total:
            sums[currency] = total
        else:
            sums.pop(currency, None)
    return sums


def base_fee_refusal(symbol: str, base: Decimal, index: int, after: Decimal, flipped: bool) -> str | None:
    """Why the base fee `base` (fees[`index`]) of a fill on `symbol` is refused, None when it is not (spec section
    9), asked before its disposal is folded: `after` is the signed size the fill's trade leaves, `flipped` whether
    that trade closed a cycle and opened another. Every fold (the positions, the reference, the lots) asks it.

    On a spot market a fee more than the long (or flat) position left would turn it short; on any market, a
    fee whose disposal would close the cycle the fill's flip opened would close a second cycle at one fill."""
    traded = market(symbol)
    # The amounts in their canonical text: the folds reach the same size as different Decimals (1 or 1.0).
    if traded.settle is None and ZERO <= after < base:
        return (
            f"fees[{index}].amount: a fee of {decimal_text(base)} {traded.base} is more than the "
            f"{decimal_text(after)} {traded.base} the fill leaves held on the spot market {symbol}; "
            "it would turn the position short"
        )
    if flipped and after and (after > 0) == (base > 0) and abs(base) >= abs(after):
        return (
            f"fees[{index}].amount: a fee of {decimal_text(base)} {traded.base} would close the cycle the same "
            f"fill opened on {symbol}, which already closed one"
        )
    return None


# A v2 fill's fees text with one fee: [{"amount":"<amount>","currency":"<code>"}] (canonical JSON, sorted keys).
_ONE_FEE = '[{"amount":"'
_AMOUNT_AT = len(_ONE_FEE)
_CURRENCY_AFTER = len('","currency":"')


# A fill's fees as the fold books them: valued (quote), unvalued per currency, base, the index of the first
# base fee, and every fee as paid (None: a v1 fill's one quote fee).
FeeParts = tuple[Decimal, Mapping[str, Decimal] | None, Decimal, int, tuple[tuple[str, Decimal], ...] | None]
NO_FEES: FeeParts = (ZERO, None, ZERO, -1, ())


def one_fee(text: str) -> tuple[str, Decimal] | None:
    """The fee of a stored fees text holding one fee without a quote value, as (currency, amount), read
    without json; None for any other text."""
    if text.startswith(_ONE_FEE) and text.count("{") == 1 and "quote_value" not in text:
        end = text.index('"', _AMOUNT_AT)
        return text[end + _CURRENCY_AFTER : -3], Decimal(text[_AMOUNT_AT:end])
    return None


ONE_FEES = 50_000  # fees texts a fold remembers the one fee of (~10 MB at most)
OneFees = dict[str, tuple[str, Decimal] | Literal[False]]  # a fees text -> its one fee, False: another list


def remember_one_fee(remembered: OneFees, text: str) -> tuple[str, Decimal] | Literal[False]:
    """`one_fee(text)`, False for a text that holds another list, remembered in `remembered` (fills often repeat
    a fee: the folds' hot loops look a text up there first), which is emptied when it holds `ONE_FEES` texts."""
    if len(remembered) >= ONE_FEES:
        remembered.clear()
    found = remembered[text] = one_fee(text) or False
    return found


@lru_cache(maxsize=4096)
def fee_parts(symbol: str, text: str) -> FeeParts:
    """The parts of a stored fees text; one fee without a quote value (the common case) is read without json.

    Cached: fills often repeat a fee (a flat fee, a zero-rate maker fill, the same size at the same
    price), and the parts are immutable (unvalued fees as a read-only mapping)."""
    one = one_fee(text)
    if one is not None:
        currency, amount = one
        traded = market(symbol)
        paid = ((currency, amount),)
        if currency == traded.quote:
            return (amount, None, ZERO, -1, paid)
        if currency == traded.base:
            return (ZERO, None, amount, 0, paid)
        return (ZERO, MappingProxyType({currency: amount}), ZERO, -1, paid)
    split = _Fees(symbol, text)
    unvalued = None if split.unvalued is None else MappingProxyType(split.unvalued)
    return (split.valued, unvalued, split.base, split.base_index, tuple(split.paid))


class _Fees:
    """A fill's fees as the fold books them: valued (quote), unvalued per currency, base, and as paid."""

    __slots__ = ("base", "base_index", "paid", "unvalued", "valued")

    def __init__(self, symbol: str, text: str) -> None:
        traded = market(symbol)
        self.valued, self.base, self.base_index = ZERO, ZERO, -1
        self.unvalued: dict[str, Decimal] | None = None
        self.paid: list[tuple[str, Decimal]] = []
        for index, entry in enumerate(json.loads(text)):
            currency, amount = entry["currency"], Decimal(entry["amount"])
            self.paid.append((currency, amount))
            if currency == traded.quote:
                self.valued += amount
            elif currency == traded.base:
                self.base += amount
                if self.base_index < 0:
                    self.base_index = index
            elif "quote_value" in entry:
                self.valued += Decimal(entry["quote_value"])
            else:
                self.unvalued = add_unvalued(self.unvalued, {currency: amount})
