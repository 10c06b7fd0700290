"""`exchange_reconcile`: the bot's ledger account against an exchange's balances when the bot starts.

The legacy bot warned at start when its stores disagreed ("position count mismatch"); with one log
the stores cannot disagree, but the log and the exchange can (a fill missed while the bot was down, a
trade made by hand, a deposit not ingested). `reconcile_at_start` asks the exchange once
(`fetch_balance()`), compares its `total` per currency with the balances of (account, exchange) in the
ledger (`tradeledger.exchanges.ccxt.reconciling`, as `tradeledger reconcile --balances` does) and, on a
difference beyond `tolerance`, logs one "balance mismatch" warning per currency with the numbers:
ledger, exchange total, difference and the likely cause.

- `on_mismatch: warn` (the default) starts anyway: a warning is what the legacy bot gave, and a bot
  that would not start could not even close what it holds. `refuse` raises `StartRefused` naming
  every difference, before any of the bot's objects exist.
- An exchange that cannot be asked (a network or exchange error, an answer that is not a balance) is
  one warning naming the exchange and the call, and the bot starts without a reconciliation; with
  `refuse` it is `StartRefused` too (agreement was not shown).
- ccxt missing, an unknown exchange id or a key not set in the environment is a setup error:
  `ConfigError` naming `exchange_reconcile.exchange`, in either mode.

Only balances are compared (a trade list needs the symbols and a time span: `tradeledger reconcile
--trades`). The exchange is the ccxt id and the exchange name of the ledger's events alike, as `sync`
writes them; the account is the bot's own.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from tradeledger.application.ledger import Ledger
from tradeledger.compat.config import ConfigError, ExchangeReconcileSection
from tradeledger.domain.fills import decimal_text
from tradeledger.errors import InvalidArgument, InvalidFill, LedgerError
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.reconciling import BalanceRow, Reconciliation, reconcile

logger = logging.getLogger("tradeledger.compat")
CALL = "fetch_balance"


class BalanceClient(Protocol):
    """The part of a ccxt exchange the check at start uses."""

    def fetch_balance(self) -> Any: ...  # noqa: ANN401 - ccxt's own structure


class StartRefused(LedgerError):
    """`exchange_reconcile.on_mismatch: refuse` and the ledger was not shown to agree with the exchange."""


def describe(row: BalanceRow) -> str:
    """One differing currency with its numbers, as the warning and StartRefused print it."""
    return (
        f"{row.currency} on {row.exchange!r} (account {row.account!r}): ledger {decimal_text(row.ledger)}, "
        f"exchange {decimal_text(row.exchange_total)}, difference {decimal_text(row.difference)} ({row.cause})"
    )


def connect(name: str) -> BalanceClient:
    """The ccxt exchange `name`, keyed from TRADELEDGER_<NAME>_API_KEY, _SECRET, _PASSWORD (compat's one os.environ)."""
    try:
        exchange: Any = syncing.connect(name, os.environ)  # a ccxt exchange: fetch_balance is there too
    except InvalidArgument as error:
        raise ConfigError(f"exchange_reconcile.exchange {name!r}: {error}") from None
    return exchange  # type: ignore[no-any-return]


def reconcile_at_start(
    ledger: Ledger,
    settings: ExchangeReconcileSection,
    *,
    account: str,
    client: BalanceClient | None = None,
) -> Reconciliation | None:
    """Compare and warn (or refuse) as the module says; the result, or None when the exchange could not be asked."""
    name = settings.exchange
    exchange = connect(name) if client is None else client
    try:
        answer = _fetch_balance(exchange)
        result = reconcile(ledger, exchange=name, account=account, balance=answer, tolerances=settings.tolerance)
    except (_Unreachable, InvalidFill) as error:
        line = f"exchange_reconcile: {name!r} {CALL} failed: {error}; the ledger was not compared with the exchange"
        if settings.on_mismatch == "refuse":
            raise StartRefused(f"{line} (on_mismatch: refuse)") from None
        logger.warning("%s; starting anyway", line)
        return None
    differing = [row for row in result.balances if row.differs]
    if settings.on_mismatch == "refuse" and differing:
        listed = "; ".join(describe(row) for row in differing)
        raise StartRefused(
            f"exchange_reconcile: the ledger does not agree with {name!r} at seq {result.seq} "
            f"(on_mismatch: refuse): {listed}"
        )
    for row in differing:
        logger.warning("balance mismatch at start: %s", describe(row))
    return result


class _Unreachable(LedgerError):
    """The exchange call failed (ccxt's network, exchange or rate-limit error)."""


def _fetch_balance(exchange: BalanceClient) -> Any:  # noqa: ANN401 - ccxt's own structure
    try:
        import ccxt  # noqa: PLC0415 - the optional extra; an injected client may come without it
    except ImportError:  # pragma: no cover - the tests run with ccxt installed
        answer = exchange.fetch_balance()
    else:
        try:
            answer = exchange.fetch_balance()
        except ccxt.BaseError as error:
            lines = str(error).strip().splitlines()
            raise _Unreachable(f"{type(error).__name__}: {lines[0][:300] if lines else '(no message)'}") from None
    if answer is None:
        raise _Unreachable("no answer (None)")
    return answer
