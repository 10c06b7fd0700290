"""The balances projection of spec section 9: the amount held per (account, exchange, currency).

A spot buy adds its quantity of base and takes quantity x price of quote (a sell the reverse); a
contract moves no base: its settle currency gains the PnL each fill realizes; every fee leaves in its
own currency; funding and transfers add their signed amounts (a transfer's fee leaves on top). The
engine (`domain.fold.PositionFold`) keeps them beside the positions; `domain.reference` folds them
plainly for `verify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tradeledger.domain.markets import market

BalanceKey = tuple[str, str, str]  # (account, exchange, currency)


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    exchange: str
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Balances:
    """The balances as of the event at `seq`, ordered by (account, exchange, currency)."""

    seq: int
    balances: tuple[Balance, ...]

    @classmethod
    def of(cls, seq: int, amounts: Mapping[BalanceKey, Decimal], *, account: str | None = None) -> Balances:
        return cls(
            seq,
            tuple(
                Balance(*key, amount) for key, amount in sorted(amounts.items()) if account is None or key[0] == account
            ),
        )


def touched_balances(
    account: str,
    exchange: str,
    symbol: str | None,
    kind: str,
    fees: str | None,
    currency: str | None,
) -> set[BalanceKey]:
    """The balances an event of this log row can move (those an append reads before it folds)."""
    if kind != "fill":
        return {(account, exchange, currency)} if currency is not None else set()
    traded = market(symbol or "")
    currencies = {traded.quote} if traded.contract else {traded.base, traded.quote}
    if fees and fees != "[]":
        currencies.update(fee_currencies(fees))
    return {(account, exchange, c) for c in currencies}


def fee_currencies(text: str) -> list[str]:
    """The currencies of a stored fees text (canonical JSON: every entry has "currency":"<code>")."""
    return [part.split('"', 1)[0] for part in text.split('"currency":"')[1:]]


def all_touched(rows: Iterable[tuple[str, str, str | None, str, str | None, str | None]]) -> set[BalanceKey]:
    """Every balance `touched_balances` names for these rows: a market's own once per (account, exchange,
    symbol), and each fee's currency."""
    keys: set[BalanceKey] = set()
    markets_met: set[tuple[str, str, str | None, str]] = set()
    for account, exchange, symbol, kind, fees, currency in rows:
        met = (account, exchange, symbol, kind)
        if kind != "fill" or met not in markets_met:
            markets_met.add(met)
            keys |= touched_balances(account, exchange, symbol, kind, None, currency)
        if kind == "fill" and fees and fees != "[]":
            keys.update([(account, exchange, code) for code in fee_currencies(fees)])
    return keys
