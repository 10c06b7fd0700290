"""Trade lists ccxt asks one page of, for every symbol, and filters by symbol afterwards: sync reads them whole.

phemex: ccxt 4.5.90's `phemex.fetch_my_trades` reads a USDT-settled contract's trades from
`/exchange/order/v2/tradingList` with `currency=USDT`, `offset=0`, `limit=200` and `start` (its `since`), never the
symbol, and keeps the symbol's rows afterwards (`parse_trades`). The list holds the trades of every USDT contract of
the account, newest first, paged by `offset` (phemex-api-docs, hedged perpetual "Query user trade"). Asked for one
symbol, a busy account's other contracts fill the 200 rows: an answer holds some of the symbol's trades or none,
and sync, moving its cursor to the latest (or a window on when there is none), would step past those it never saw.
So a phemex USDT contract's trades stream asks ccxt for every USDT contract's (symbol None, type swap: ccxt then
filters nothing, so an answer's length is phemex's), page by page from `offset` 0, 200 a page, until an answer holds
fewer than 200 (the last page: in either order phemex may answer, every row from `start` has been read), and keeps the
symbol's trades: one answer for syncing, whole, from the cursor. A row a later page repeats (a trade that came while
paging shifts a newest-first list by one) is kept once. Each symbol's stream reads the list on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradeledger.domain.markets import market
from tradeledger.errors import LedgerError
from tradeledger.exchanges.ccxt.transfers import iso

PHEMEX_PAGE = 200  # the most rows phemex's USDT trade list answers (ccxt's request['limit'], its `features` limit)
MAX_OFFSETS = 100_000  # pages of one answer: a guard against an exchange that pages forever


class SyncFailed(LedgerError):
    """An exchange call failed mid-sync; the pages appended before it are kept."""


def whole_trades(client: object, symbol: str) -> Callable[[int | None, int | None], Any] | None:
    """The fetch (since, until: never sent) of `symbol`'s trades stream where ccxt's call asks for one page of every
    symbol's (see the module), None where it asks for the symbol's own."""
    traded = market(symbol)
    if getattr(client, "id", None) != "phemex" or not traded.contract or traded.settle != "USDT":
        return None
    method: Callable[..., Any] = getattr(client, "fetch_my_trades")  # noqa: B009 - a ccxt exchange, not the Protocol

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401, ARG001 - ccxt's structures; no `until`
        kept: list[object] = []
        seen: set[object] = set()
        for page in range(MAX_OFFSETS):
            answer = method(None, since, PHEMEX_PAGE, {"type": "swap", "offset": page * PHEMEX_PAGE})
            if not isinstance(answer, list):
                return answer  # refused by syncing as not a list
            for entry in answer:
                ours = isinstance(entry, Mapping) and entry.get("symbol") == symbol
                ident = entry.get("id") if ours else None
                if ours and (ident is None or ident not in seen):
                    kept.append(entry)
                    seen.add(ident)
            if len(answer) < PHEMEX_PAGE:
                return kept
        raise SyncFailed(
            f"phemex fetch_my_trades: the USDT trade list from {iso(since)} did not end within {MAX_OFFSETS} pages of "
            f"{PHEMEX_PAGE}; nothing of it appended, the pages appended before it are kept"
        )

    return fetch
