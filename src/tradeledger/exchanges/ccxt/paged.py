"""Lists ccxt asks one page of, whatever `since`, and filters afterwards: sync reads them whole (see syncing).

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
Its spot and inverse contract trades (`/exchange/spot/order/trades`, `/exchange/order/trade`: the symbol's, from
`start`, by `limit` and `offset`) ccxt asks with the symbol and `start` but no `limit` nor `offset`: phemex answers
its default page of the newest (phemex-api-docs; its data lists answer 20 unless told), so trades between the cursor
and that page were lost. They are read the same way, the symbol's own list, 200 a page from `offset` 0.

luno: its account transactions (`/api/1/accounts/{id}/transactions`, luno's API "ListTransactions") are asked by row
number, `min_row` inclusive and `max_row` exclusive, 1000 rows a call at most, a number 0 or below counted back from
the latest row. ccxt 4.5.90's `luno.fetch_ledger` asks `min_row=-1000`, `max_row=0` (the latest 1000 rows) and only
filters them by `since`: rows before those were lost. So a luno ledger stream asks the latest 1000 rows, then the 1000
before the earliest row it holds (`min_row`, `max_row` by number: rows that come meanwhile do not shift them), until it
holds a row earlier than the cursor or row 1, and keeps those from the cursor on, oldest first, as one answer.

htx: its deposits and withdrawals (`/v1/query/deposit-withdraw`: with `direct=next`, from the record `from` down,
newest first, `size` records, 500 at most: htx's API documentation) are asked by ccxt 4.5.90's `htx.fetch_deposits`
and `fetch_withdrawals` with `from=0` (the latest) and `size` 100, whatever `since` (it only filters them): records
before the latest 100 were lost. So an htx transfer stream asks the latest 100, then from the earliest record it holds
down (its id as `from`: a record it repeats is kept once), until an answer holds fewer than 100 or a record earlier
than the cursor, and keeps those from the cursor on as one answer.

okx: ccxt 4.5.90's `okx.fetch_funding_history` asks `/api/v5/account/bills-archive` for the funding bills (`type` 8)
of every linear (or inverse) contract of the symbol's settle currency, without `begin` or `after`, and keeps the
symbol's from `since` afterwards: okx answers the latest 100 bills (okx's API documentation, "Get bills details
(last 3 months)": newest first, `limit` 100 at most, `after` a `billId` for the bills before it), so funding before
the account's latest 100 (a few days of three perpetuals) was lost. So an okx funding stream asks ccxt for every
contract's funding bills (symbol None: ccxt then keeps them all), 100 a call, then those `after` the earliest bill it
holds, until an answer holds fewer than 100 or a bill earlier than the cursor, and keeps the symbol's from the cursor
on as one answer. What okx archives no more (older than its three months) it cannot answer at all.

gate: ccxt 4.5.90's `gate.fetch_funding_history` asks `/futures/{settle}/account_book` with the contract, `type=fund`
and `from` (its `since`), but neither `to`, `limit` nor `offset`, and does not read `until`: gate answers the newest
100 records from `from` (gate's API v4, "Query account book": `limit` 100 unless told, `offset`), so funding between
the cursor and those 100 (four days of an hourly contract) was lost. So a gate funding stream asks from the cursor
100 a call by `offset` until an answer holds fewer than 100, and keeps them as one answer.

bitfinex: ccxt 4.5.90's `bitfinex.fetch_my_trades` posts `/v2/auth/r/trades/{symbol}/hist` with `start` (its
`since`) and `end`, but neither `limit` nor `sort`: bitfinex answers the newest 25 of that span (its API documentation,
authenticated "Trades": `sort` -1, by `MTS` descending, unless 1), so trades between the cursor and those 25 were lost.
So a bitfinex trades stream asks with `sort` 1 (oldest first from the cursor) and `limit` 1000: sync then pages forward
from the cursor as on any exchange answering oldest first. It is one call, not a list read whole.

mexc: ccxt 4.5.90's `mexc.fetch_funding_history` asks `/api/v1/private/position/funding_records` with the symbol,
never a start time: mexc answers page `page_num` (1 unless told) of `page_size` records (20 unless told, 100 at most),
newest first (mexc's contract API, "Get details of user's funding rate history"), so funding before the latest 20
settlements (under a week) was lost. So a mexc funding stream asks page by page, 100 a page, until a page holds
fewer than 100 or a record earlier than the cursor, and keeps those from the cursor on as one answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradeledger.domain.markets import market
from tradeledger.exchanges.ccxt.answers import timestamp
from tradeledger.exchanges.ccxt.calls import SyncFailed
from tradeledger.exchanges.ccxt.mapping import Kind
from tradeledger.exchanges.ccxt.transfers import iso

PHEMEX_PAGE = 200  # the most rows phemex's USDT trade list answers (ccxt's request['limit'], its `features` limit)
OKX_BILLS = 100  # the most bills okx's bills-archive answers (its `limit`, 100 unless told)
MEXC_RECORDS = 100  # the most funding records mexc answers a page (its `page_size`, 20 unless told)
BITFINEX_TRADES = 1000  # the trades asked of bitfinex a call (ccxt's comment: 25 unless told, 1000 at most)
GATE_RECORDS = 100  # the account book records asked of gate a call (its `limit`, 100 unless told)
HTX_SIZE = 100  # the records ccxt's htx asks a call (its `size`)
LUNO_ROWS = 1000  # the most rows luno's account transactions answer (luno's API; ccxt's default range)
MAX_OFFSETS = 100_000  # pages of one answer: a guard against an exchange that pages forever


def whole_list(
    client: object, kind: Kind, first: str | None, params: Mapping[str, str]
) -> Callable[[int | None, int | None], Any] | None:
    """The fetch (since, until: never sent) of a stream whose list sync reads whole (see the module), None for one
    ccxt reads from `since` itself."""
    if kind is Kind.TRADES and first is not None:
        return whole_trades(client, first)
    if kind is Kind.LEDGER and getattr(client, "id", None) == "luno" and "id" in params:
        return _luno_ledger(getattr(client, "fetch_ledger"), first, params)  # noqa: B009 - a ccxt exchange
    if kind in _HTX_CALLS and getattr(client, "id", None) == "htx" and not params:
        return _htx_transfers(getattr(client, _HTX_CALLS[kind]), first)
    if kind is Kind.FUNDING and first is not None:
        return _whole_funding(client, first)
    return None


_HTX_CALLS = {Kind.DEPOSITS: "fetch_deposits", Kind.WITHDRAWALS: "fetch_withdrawals"}


def _whole_funding(client: object, symbol: str) -> Callable[..., Any] | None:
    """The fetch of `symbol`'s funding where ccxt's call asks one page only (okx, mexc, gate: see the module), None
    where it asks from `since` itself."""
    exchange = getattr(client, "id", None)
    method = getattr(client, "fetch_funding_history")  # noqa: B009 - a ccxt exchange
    if exchange == "okx":
        return _okx_funding(method, symbol)
    if exchange == "mexc":
        return _by_page(method, symbol, MEXC_RECORDS, "mexc", lambda page: {"page_num": page + 1})
    if exchange == "gate":
        offset = lambda page: {"offset": page * GATE_RECORDS}  # noqa: E731 - the n-th page's
        return _by_page(method, symbol, GATE_RECORDS, "gate", offset, from_since=True)
    return None


def _htx_transfers(method: Callable[..., Any], code: str | None) -> Callable[..., Any]:
    """The fetch of htx's deposits or withdrawals from `since` (see the module)."""
    return _back_by_id(method, code, HTX_SIZE, "htx", lambda start: {"from": start or 0, "direct": "next"})


def _okx_funding(method: Callable[..., Any], symbol: str) -> Callable[..., Any]:
    """The fetch of `symbol`'s okx funding from `since` (see the module): every contract's bills, the symbol's kept."""
    return _back_by_id(method, None, OKX_BILLS, "okx", lambda start: {} if start is None else {"after": start}, symbol)


def _back_by_id(
    method: Callable[..., Any],
    first: str | None,
    size: int,
    exchange: str,
    params: Callable[[int | None], dict[str, Any]],
    symbol: str | None = None,
) -> Callable[..., Any]:
    """The fetch from `since` of a list answered newest first, `size` records a call, each call from the earliest
    record the last one held down (`params(None)` the latest): until an answer holds fewer than `size` or a record
    earlier than `since`. A record two answers hold is kept once; of a list of every symbol's, `symbol`'s only."""

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401, ARG001 - ccxt's structures; no `until`
        kept: dict[int, Any] = {}
        start = None  # the latest
        for _ in range(MAX_OFFSETS):
            answer = method(first, None, size, params(start))
            if not isinstance(answer, list):
                return answer  # refused by syncing as not a list
            kept |= {_number(entry, exchange): entry for entry in answer}
            if len(answer) < size or (since is not None and any(timestamp(entry) < since for entry in answer)):
                return [
                    entry
                    for _, entry in sorted(kept.items())
                    if (since is None or timestamp(entry) >= since)
                    and (symbol is None or entry.get("symbol") == symbol)
                ]
            start = min(_number(entry, exchange) for entry in answer)
        raise SyncFailed(
            f"{exchange!r} {method.__name__}: the records from {iso(since)} did not end within {MAX_OFFSETS} calls of "
            f"{size}; nothing of it appended, the pages appended before it are kept"
        )

    return fetch


def _by_page(
    method: Callable[..., Any],
    first: str,
    size: int,
    exchange: str,
    params: Callable[[int], dict[str, Any]],
    *,
    from_since: bool = False,
) -> Callable[..., Any]:
    """The fetch from `since` of a list answered newest first, page by page (`params(n)` the n-th page's, from 0),
    `size` records a page (each from `since` where `from_since`: ccxt sends it): until a page holds fewer than `size`
    or a record earlier than `since`. A record two pages hold (one that came meanwhile shifts the list by one) is kept
    once, by its `id` (or, without one, the exchange's record as ccxt read it)."""

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401, ARG001 - ccxt's structures; no `until`
        kept: dict[object, Any] = {}
        for page in range(MAX_OFFSETS):
            answer = method(first, since if from_since else None, size, params(page))
            if not isinstance(answer, list):
                return answer  # refused by syncing as not a list
            for entry in answer:
                ident = entry.get("id") if isinstance(entry, Mapping) else None
                kept.setdefault(
                    repr(entry.get("info") if isinstance(entry, Mapping) else entry) if ident is None else ident, entry
                )
            if len(answer) < size or (since is not None and any(timestamp(entry) < since for entry in answer)):
                found = sorted(kept.values(), key=timestamp)
                return [entry for entry in found if since is None or timestamp(entry) >= since]
        raise SyncFailed(
            f"{exchange!r} {method.__name__}: the records from {iso(since)} did not end within {MAX_OFFSETS} pages of "
            f"{size}; nothing of it appended, the pages appended before it are kept"
        )

    return fetch


def whole_trades(client: object, symbol: str) -> Callable[[int | None, int | None], Any] | None:
    """The fetch (since, until: never sent) of `symbol`'s trades stream where ccxt's call asks one page only (phemex:
    every USDT contract's, or the symbol's own; bitfinex: the newest: see the module), None where it asks from `since`
    itself."""
    traded = market(symbol)
    method: Callable[..., Any] = getattr(client, "fetch_my_trades")  # noqa: B009 - a ccxt exchange, not the Protocol
    if getattr(client, "id", None) == "bitfinex":
        return _bitfinex_trades(method, symbol)
    if getattr(client, "id", None) != "phemex":
        return None
    # a USDT contract's: every USDT contract's list; a spot or inverse market's: its own list
    asked, extra = (None, {"type": "swap"}) if traded.contract and traded.settle == "USDT" else (symbol, {})

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401, ARG001 - ccxt's structures; no `until`
        kept: list[object] = []
        seen: set[object] = set()
        for page in range(MAX_OFFSETS):
            answer = method(asked, since, PHEMEX_PAGE, {**extra, "offset": page * PHEMEX_PAGE})
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
            f"'phemex' fetch_my_trades: the USDT trade list from {iso(since)} did not end within {MAX_OFFSETS} pages "
            f"of {PHEMEX_PAGE}; nothing of it appended, the pages appended before it are kept"
        )

    return fetch


def _bitfinex_trades(method: Callable[..., Any], symbol: str) -> Callable[..., Any]:
    """The fetch of `symbol`'s bitfinex trades from `since`, oldest first (see the module)."""

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401, ARG001 - ccxt's structures; no `until`
        return method(symbol, since, BITFINEX_TRADES, {"sort": 1})

    return fetch


def _luno_ledger(method: Callable[..., Any], code: str | None, params: Mapping[str, str]) -> Callable[..., Any]:
    """The fetch of one luno account's ledger rows from `since` (see the module), each row's `account` its id."""

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401, ARG001 - ccxt's structures; no `until`
        answers: list[list[Any]] = []
        low, high = -LUNO_ROWS, 0  # the latest rows
        for _ in range(MAX_OFFSETS):
            answer = method(code, None, None, {**params, "min_row": low, "max_row": high})
            if not isinstance(answer, list):
                return answer  # refused by syncing as not a list
            answers.append(answer)
            earliest = min((_number(entry, "luno") for entry in answer), default=1)
            if earliest <= 1 or (since is not None and any(timestamp(entry) < since for entry in answer)):
                found = [entry for rows in reversed(answers) for entry in rows]
                return with_account([e for e in found if since is None or timestamp(e) >= since], params["id"])
            low, high = max(1, earliest - LUNO_ROWS), earliest
        raise SyncFailed(
            f"'luno' fetch_ledger: the rows of account {params['id']!r} from {iso(since)} did not end within "
            f"{MAX_OFFSETS} calls of {LUNO_ROWS} rows; nothing of it appended, the pages appended before it are kept"
        )

    return fetch


def _number(entry: object, exchange: str) -> int:
    """A record's number, ccxt's `id` (luno's `row_index`, htx's record id); SyncFailed for one without a number."""
    ident = entry.get("id") if isinstance(entry, Mapping) else None
    if isinstance(ident, str) and ident.isdigit():
        return int(ident)
    raise SyncFailed(f"{exchange!r}: a record without a number as its id (got {ident!r}): its list cannot be paged")


def with_account(answer: object, account: str | None) -> object:
    """`answer` (a ccxt list), each entry without an `account` given `account` (the luno account it was asked for)."""
    if account is not None and isinstance(answer, list):
        for entry in answer:
            if isinstance(entry, dict) and entry.get("account") is None:
                entry["account"] = account
    return answer
