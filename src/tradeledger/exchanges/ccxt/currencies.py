"""Transfer lists ccxt reads one currency at a time, and which currencies a sync asks them for (see syncing).

Some of ccxt's transfer calls raise ArgumentsRequired without a currency code (4.5.90, of those sync uses: deribit's,
bitbns's, bitopro's and bitrue's `fetch_deposits` and `fetch_withdrawals`, luno's `fetch_ledger`): read from the
call's code as `until` is (needs_code). A sync then runs the call's stream once per currency, `deposits BTC`,
`withdrawals USDC`, ..., each with a cursor of its own, for the currencies of the symbols synced (base, quote,
settle), those the ledger holds on the exchange for the account, and those the exchange's balance holds
(`fetch_balance`, a total other than 0; a total that is not a number fails the sync naming it), of those ccxt
knows: a currency the account never traded nor held shows in none and is not asked for. Such a stream without a
cursor starts where the exchange starts (not at the ledger's latest transfer, which may be of another currency).

luno keeps one account (wallet) per currency, its ledger one list per account with its rows numbered per account
(`row_index` 1, 2, 3, ... in each): its streams are one per account (`ledger BTC 1224342323`), of every account luno
lists (`fetch_accounts`, whatever its balance), the account's id given to ccxt (params `id`: ccxt 4.5.90's
luno.fetch_ledger looks the account up by a field its accounts do not hold, `currency`, and finds none) and written on
each entry that lacks it (mapping names a luno ledger row `ledger:<account>:<row>`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeledger.domain.markets import market
from tradeledger.exchanges.ccxt.calls import SyncFailed

_NEEDS_CODE = re.compile(r"if code is None:\s*\n\s*raise ArgumentsRequired")
BY_ACCOUNT = frozenset({"luno"})  # exchanges whose ledger ccxt reads one account at a time (see the module)


def needs_code(method: Callable[..., Any]) -> bool:
    """Whether ccxt's `method` raises ArgumentsRequired when its currency `code` is None (its code after the docstring
    says so). A call without source to read (a compiled build, a test's stand-in) is not known to need one."""
    try:
        source = inspect.getsource(method)
    except (OSError, TypeError):
        return False
    return _NEEDS_CODE.search(source.split('"""', 2)[-1]) is not None


@dataclass(frozen=True, slots=True)
class Listing:
    """One list of a call read per currency: its currency code, the words its stream's label ends with, and the
    parameters ccxt is given (luno: the account's id)."""

    code: str
    label: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def account(self) -> str | None:
        return self.params.get("id")


def listings(
    client: object, exchange: str, symbols: Sequence[str], held: Iterable[str], call: Callable[[str, Any], Any]
) -> list[Listing]:
    """The lists a per-currency call is asked for on `exchange` (see the module); `call(name, action)` runs one ccxt
    call (a failure is the sync's one line)."""
    if exchange in BY_ACCOUNT:
        load = getattr(client, "load_accounts", None) or getattr(client, "fetch_accounts")  # noqa: B009
        accounts = call("fetch_accounts", load)
        found = {
            (str(account.get("code")), str(account.get("id")))
            for account in accounts or ()
            if isinstance(account, Mapping) and account.get("id") is not None and account.get("code") is not None
        }
        return [Listing(code, f"{code} {ident}", {"id": ident}) for code, ident in sorted(found)]
    codes = set(held)
    for symbol in symbols:
        traded = market(symbol)
        codes |= {traded.base, traded.quote} | ({traded.settle} if traded.settle else set())
    if getattr(client, "has", {}).get("fetchBalance"):
        balance = call("fetch_balance", getattr(client, "fetch_balance"))  # noqa: B009
        totals = balance.get("total") if isinstance(balance, Mapping) else None
        codes |= {code for code, total in (totals or {}).items() if _held(exchange, code, total)}
    known = getattr(client, "currencies", None)  # what ccxt can ask for (it refuses a code it does not know)
    return [
        Listing(code, code) for code in sorted(codes) if not isinstance(known, Mapping) or not known or code in known
    ]


def _held(exchange: str, code: object, total: object) -> bool:
    """Whether a balance's `total` of `code` is other than 0 (None: ccxt names no amount, not held); a total that is
    not a finite number (text, NaN, a bool, a dict) cannot say, and is SyncFailed naming it: its currency would
    otherwise be left out without a word."""
    if total is None:
        return False
    written = repr(total) if isinstance(total, float) else total  # float ok: only whether it is 0 is read
    try:
        value = Decimal(written) if isinstance(written, str | int | Decimal) and not isinstance(written, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise SyncFailed(
            f"{exchange!r} fetch_balance: the total of {code!r} is {total!r}, not a number: whether it is held (and "
            "its deposits and withdrawals synced) cannot be told; nothing was appended by this step"
        )
    return value != 0
