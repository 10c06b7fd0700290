"""Symbols and currency codes in ccxt's unified form (spec section 9).

`BASE/QUOTE` is a spot market, `BASE/QUOTE:SETTLE` a perpetual swap and `BASE/QUOTE:SETTLE-YYMMDD`
a dated future. Only linear contracts (settled in the quote currency, sized in base units) can be
booked; an inverse contract (settled in the base currency), a contract settled in a third currency
and an option (`…-STRIKE-C`) are refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

# ccxt's currency codes: capitals and digits (BTC, USDT, 1000PEPE), and for the legacy symbols this
# ledger has always taken, dots, underscores and hyphens after the first character.
CURRENCY_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9._-]*")
MAX_CURRENCY = 32
_SYMBOL = re.compile(
    r"(?P<base>[A-Z0-9][A-Z0-9._-]*)/(?P<quote>[A-Z0-9][A-Z0-9._-]*)"
    r"(?::(?P<settle>[A-Z0-9][A-Z0-9._]*)(?:-(?P<expiry>[0-9]{6})(?P<option>-.*)?)?)?"
)


@dataclass(frozen=True, slots=True)
class Market:
    """What a symbol says: its currencies, and whether it is a (linear) contract."""

    symbol: str
    base: str
    quote: str
    settle: str | None  # None on a spot market
    expiry: str | None  # YYMMDD of a dated future

    @property
    def contract(self) -> bool:
        return self.settle is not None

    def is_quote(self, currency: str) -> bool:
        """Whether a fee or a payment in `currency` is money in this market's quote (its settle currency)."""
        return currency == self.quote


def currency_code(value: str) -> str:
    """`value` if it is a currency code, else ValueError saying why."""
    if len(value) > MAX_CURRENCY or not CURRENCY_PATTERN.fullmatch(value):
        raise ValueError(f"must be a currency code in capitals and digits, like BTC or 1000PEPE (got {value!r})")
    return value


@lru_cache(maxsize=4096)
def market(symbol: str) -> Market:
    """The market of a unified symbol, or ValueError naming what is wrong with it."""
    found = _SYMBOL.fullmatch(symbol)
    if found is None:
        raise ValueError(
            "must be BASE/QUOTE in capitals, like BTC/USD (spot), or BASE/QUOTE:SETTLE (a perpetual, like "
            f"BTC/USDT:USDT) or BASE/QUOTE:SETTLE-YYMMDD (a future) (got {symbol!r})"
        )
    base, quote, settle, expiry = found["base"], found["quote"], found["settle"], found["expiry"]
    if found["option"] is not None:
        raise ValueError(f"is an option; options are not supported (got {symbol!r})")
    if settle is not None and settle == base and settle != quote:
        raise ValueError(
            f"is an inverse contract (settled in its base currency {base}); only linear contracts, "
            f"settled in the quote currency, are supported (got {symbol!r})"
        )
    if settle is not None and settle != quote:
        raise ValueError(
            f"is settled in {settle}, neither its base nor its quote; only linear contracts, settled in "
            f"the quote currency, are supported (got {symbol!r})"
        )
    if expiry is not None:
        try:
            datetime.strptime(expiry, "%y%m%d")  # noqa: DTZ007 - a date, no time of day
        except ValueError:
            raise ValueError(f"has an expiry {expiry!r} that is not a date YYMMDD (got {symbol!r})") from None
    if len(base) > MAX_CURRENCY or len(quote) > MAX_CURRENCY:
        raise ValueError(f"has a currency code longer than {MAX_CURRENCY} characters (got {symbol!r})")
    return Market(symbol, base, quote, settle, expiry)
