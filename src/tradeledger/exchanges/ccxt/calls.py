"""One ccxt call of a sync, and how its failure reads: one line naming the exchange, the call and the cursor.

A failure is ccxt's own (network, exchange, rate limit: ccxt.BaseError) or an answer ccxt's parser could not read:
text where it reads a number raises ValueError out of its `Precise` (luno's ledger row with a `balance_delta` of
"ten"), a field missing TypeError or LookupError. Either ends the sync (SyncFailed, one line on stderr, exit 2);
the pages appended before it are kept. Nothing else is caught: the call is ccxt's alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradeledger.errors import LedgerError
from tradeledger.exchanges.ccxt.transfers import iso

_UNREAD = (
    ValueError,
    TypeError,
    ArithmeticError,
    LookupError,
)  # what ccxt's parsers raise on an answer they cannot read


class SyncFailed(LedgerError):
    """An exchange call failed mid-sync; the pages appended before it are kept."""


def ccxt_call(exchange: str, call: str, cursor: int | None, action: Callable[[], Any]) -> Any:  # noqa: ANN401
    """Run one ccxt call (`action`, named `call`, asked from `cursor`); its failure becomes one SyncFailed line."""
    import ccxt  # noqa: PLC0415 - the optional extra: a client exists only when it is installed

    try:
        return action()
    except (ccxt.BaseError, *_UNREAD) as error:
        unread = "" if isinstance(error, ccxt.BaseError) else "ccxt could not read the answer: "
        raise SyncFailed(
            f"{exchange!r} {call} failed at cursor {iso(cursor)}: {unread}{type(error).__name__}: "
            f"{_first_line(error)}; the pages appended before it are kept"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "(no message)"
