"""Exchange names: one spelling per exchange in a ledger (spec sections 2 and 9).

An event's idempotency key is (account, exchange, id), compared exactly: "Binance" and "binance" are two keys, so
a bot recording its fills under "Binance" and a `sync binance` (ccxt's ids are lower case) of the same trades would
book each trade twice, its positions and balances doubled, with no duplicate seen. Case means nothing in an
exchange's name (ccxt names one by its lower-case id, people and bots write it as they like), so an append refuses
a name the ledger does not hold that differs only in case from one it holds (application/exchange_names.py).

Two names differ only in case when their case folds are equal: Unicode's full case folding (`str.casefold`: "ß"
folds to "ss", a Greek capital and final sigma to the small one), in NFC as every name is (domain/fills.py
`_identifier`; a case fold can leave NFC). Accounts keep their case: they are the user's own names, and two that
differ in case may be meant. Symbols and currency codes cannot differ in case: they are in capitals
(domain/markets.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def case_fold(name: str) -> str:
    """What every spelling of `name` that differs from it only in case shares."""
    if name.isascii():
        return name.lower()  # ASCII's case fold, at a fraction of the cost
    return unicodedata.normalize("NFC", name.casefold())


def case_rival(name: str, held: Iterable[str]) -> str | None:
    """The first (sorted) of the names `held` that differs from `name` only in case, or None; None also when
    `held` holds `name` itself (a log of before the check may hold two spellings: each takes appends)."""
    held = set(held)
    if name in held:
        return None
    folded = case_fold(name)
    return min((other for other in held if case_fold(other) == folded), default=None)


def case_refusal(name: str, rival: str, *, where: str = "already in the ledger") -> str:
    """The refusal of `name`, which differs only in case from `rival` (`where` that one is), as the `exchange`
    field of an event (an append's)."""
    return f"exchange: {case_difference(name, rival, where=where)}"


def case_difference(name: str, rival: str, *, where: str = "already in the ledger") -> str:
    """What every refusal of `name` says after its place: that it differs only in case from `rival` (`where` that
    one is), both quoted."""
    return f"{name!r} differs only in case from {rival!r} {where}"
