"""`sync`: fetch through ccxt from per-stream cursors kept in the ledger, append page by page.

A stream is one paged ccxt call: the trades of a symbol (`fetch_my_trades`), the funding of a
contract (`fetch_funding_history`), the deposits and the withdrawals (`fetch_deposits`,
`fetch_withdrawals`), or, on an exchange without those, the ledger's transfers (`fetch_ledger`), or, without a
ledger either, ccxt's combined list (`fetch_deposits_withdrawals`: gemini, coinmate, indodax; each entry's `type`
decides). What an exchange cannot list at all (no transfer call, or one of the two lists only; a contract's funding
without fetchFundingHistory; a contract's liquidations and deliveries ccxt's bybit never lists: transfers.py) is
named in the report (`unavailable`), never left out without a word.
Each page is mapped (see mapping) and appended in one transaction together with its stream's cursor
(the page's latest timestamp), so a crash loses nothing and the next sync repeats nothing: it asks
again from the cursor, inclusive, so the last entry of a page comes back and is a duplicate, and a
page with nothing new ends the stream, unless the cursor lies more than the stream's window in the past: some
exchanges answer only a span after `since` (bybit's execution list a week; ccxt's binance on linear contracts
sets that end itself), so a bot down for longer would never get past the empty span. The stream then asks again
from the span after, and stores that as its cursor (a span in the past that answered nothing holds nothing),
until it reaches the present. The window is the longest span ccxt's `features` says the call takes
(`untilDays` of `fetchMyTrades` for the symbol's market), else a day: an exchange without such windows costs one
empty call a window of the gap, once. An answer from the cursor that may be a page cut within the cursor's ms (see
cut_at) is followed by one from the ms after. Some exchanges answer their newest page first (bybit's executions, 50
a page; okx's and kucoin's fills): when an answer's earliest entry is later than the cursor (or at it, with later
ones, where the entries of the cursor's ms may not all have been seen: see _before), what lies between them is asked
for before the page is appended, backward with ccxt's `until` (see _before), and appended with the page in one
transaction, oldest first; the cursor moves only then. That is done only where ccxt's call reads `until` (see
_reads_until), and stopped where it would still send it to the exchange (see _until_read). A cursor holds the epoch
it was written in: after a rollback it is not used. A stream without a usable cursor (and no `--since`) starts at
the latest of its events the ledger holds (`Ledger.last_occurred`: a trades stream's fills of its symbol on the
exchange, a deposit stream's deposits, a ledger stream's transfers, ...), or at its cursor of the epoch before when
that is earlier (held at a transfer still pending, a ledger's too: see mapping.Mapped.still_open): what a rollback
removed, or what came after a file ingested, is fetched again; duplicates are skipped.

ccxt is the optional extra `tradeledger[ccxt]`, imported only by `connect`. It runs in string number
mode (`number = str`: amounts exactly as the exchange wrote them) with its rate limiter on. A ccxt
error (network or exchange), or an answer ccxt's parser cannot read, ends the sync with one line naming the
exchange, the call and the cursor (calls.py); the pages appended before it stay. An entry the mapping refuses ends
it the same way, named by its exchange, call, stream and cursor.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from tradeledger.application.ledger import Ledger
from tradeledger.domain.fills import MAX_ADJUSTED_EXPONENT
from tradeledger.domain.markets import market
from tradeledger.errors import InvalidArgument, InvalidFill
from tradeledger.exchanges.ccxt.answers import cut_at, step, timestamp
from tradeledger.exchanges.ccxt.calls import SyncFailed, ccxt_call
from tradeledger.exchanges.ccxt.currencies import Listing, listings, needs_code
from tradeledger.exchanges.ccxt.ingesting import record_mapped
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries
from tradeledger.exchanges.ccxt.paged import whole_list, with_account
from tradeledger.exchanges.ccxt.transfers import (
    StreamReport,
    SyncReport,
    Unavailable,
    held_open,
    iso,
    latest_page_only,
    transfer_calls,
    unlisted_executions,
)

MAX_PAGES = 100_000  # per stream and run: a guard against an exchange that pages forever
DAY_MS = 86_400_000  # a stream's window when ccxt's features name none (see the module)
HOLD_DAYS = 30  # how long a transfer still open holds its stream's cursor (see _run)
_SYMBOLED = frozenset({Kind.TRADES, Kind.FUNDING})  # the streams of one symbol
_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How a ccxt method's code reads its `until` parameter, and returns another method's answer (see _reads_until).
_UNTIL_KEY = re.compile(r"""['"](?:until|till)['"]""")
_DELEGATION = re.compile(r"return self\.(fetch_\w+)\(")


class Client(Protocol):
    """The part of a ccxt exchange a sync uses."""

    id: str
    has: Mapping[str, Any]

    # ccxt's calls also take `params` (a dict) after `limit`: sync passes it only to a call that reads `until`.
    # `fetch_deposits_withdrawals` (same parameters) is called, by name, only where `has` names it (see streams).
    def load_markets(self) -> Any: ...  # noqa: ANN401 - ccxt's own structures
    def fetch_my_trades(self, symbol: str | None, since: int | None, limit: int | None) -> Any: ...  # noqa: ANN401
    def fetch_funding_history(self, symbol: str | None, since: int | None, limit: int | None) -> Any: ...  # noqa: ANN401
    def fetch_deposits(self, code: str | None, since: int | None, limit: int | None) -> Any: ...  # noqa: ANN401
    def fetch_withdrawals(self, code: str | None, since: int | None, limit: int | None) -> Any: ...  # noqa: ANN401
    def fetch_ledger(self, code: str | None, since: int | None, limit: int | None) -> Any: ...  # noqa: ANN401


def credentials_variables(name: str) -> dict[str, str]:
    """The environment variable of each ccxt credential for exchange `name`."""
    prefix = f"TRADELEDGER_{name.upper()}_"
    return {"apiKey": f"{prefix}API_KEY", "secret": f"{prefix}SECRET", "password": f"{prefix}PASSWORD"}


def connect(name: str, environ: Mapping[str, str]) -> Client:
    """A ccxt exchange by its id, keyed from `environ`, in string number mode with rate limiting on."""
    try:
        import ccxt  # noqa: PLC0415 - the optional extra, imported only to talk to an exchange
    except ImportError:
        raise InvalidArgument('sync: ccxt is not installed; pip install "tradeledger[ccxt]"') from None
    if name not in ccxt.exchanges:
        raise InvalidArgument(f"EXCHANGE: {name!r} is not a ccxt exchange id (such as binance, bybit, okx, kraken)")
    exchange_class = getattr(ccxt, name)
    config: dict[str, Any] = {"enableRateLimit": True}
    variables = credentials_variables(name)
    required = exchange_class.requiredCredentials
    for credential, variable in variables.items():
        if environ.get(variable):
            config[credential] = environ[variable]
        elif required.get(credential):
            raise InvalidArgument(f"sync {name!r}: the environment variable {variable} is not set ({name!r} needs it)")
    client = exchange_class(config)
    client.number = str
    return client  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class _Stream:
    label: str  # "trades BTC/USDT", "funding BTC/USDT:USDT", "deposits", ...
    call: str  # the ccxt method, for messages
    kind: Kind
    fetch: Callable[[int | None, int | None], Any]  # (since, until): until None is not sent
    window: int = DAY_MS  # ms: the span the exchange may answer after a `since` alone (see the module)
    backward: bool = False  # whether the call reads ccxt's `until` (see _reads_until): what lies before a page
    symbol: str | None = None  # of a trades or funding stream
    typed: bool = False  # a list of deposits and withdrawals, each entry's `type` deciding (fetch_deposits_withdrawals)
    listing: Listing | None = None  # of a call ccxt reads one currency (luno: one account) at a time (see currencies)


# The events of the log a stream's entries become, whose latest a stream without a usable cursor starts at: (event
# types, transfer kinds: all when empty). A ledger stream's funding is left out: the funding streams, run before it,
# append funding up to the present (its transfers before that would never be asked for).
_HELD: dict[Kind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Kind.TRADES: (("fill",), ()),
    Kind.FUNDING: (("funding",), ()),
    Kind.DEPOSITS: (("transfer",), ("deposit",)),
    Kind.WITHDRAWALS: (("transfer",), ("withdrawal",)),
    Kind.LEDGER: (("transfer",), ()),
}
_HELD_TYPED = (("transfer",), ("deposit", "withdrawal"))  # a stream of fetch_deposits_withdrawals


def _stream(
    client: Client, call: str, first: str | None, label: str, kind: Kind, window: int = DAY_MS, *, typed: bool = False,
    listing: Listing | None = None,
) -> _Stream:  # fmt: skip
    method: Callable[..., Any] = getattr(client, call)
    params = dict(listing.params) if listing is not None else {}
    account = listing.account if listing is not None else None

    def fetch(since: int | None, until: int | None) -> Any:  # noqa: ANN401 - ccxt's own structures
        if until is None:
            return with_account(method(first, since, None, params) if params else method(first, since, None), account)
        answer = _until_read(client, until, lambda: method(first, since, None, {**params, "until": until}))
        return with_account(answer, account)

    symbol = first if kind in _SYMBOLED else None
    whole = whole_list(client, kind, first, params)  # phemex's USDT trades, luno's ledger: see paged
    return _Stream(label, call, kind, whole or fetch, window, _reads_until(method), symbol, typed, listing)


class _UntilNotRead(Exception):
    """ccxt was about to send `until` to the exchange as it is: its call does not read it on this path."""


def _until_read(client: object, until: int, action: Callable[[], Any]) -> Any:  # noqa: ANN401 - ccxt's structures
    """`action()`, a ccxt call given `until`, stopped by _UntilNotRead before its request is sent if the request
    still holds `until` as sync gave it: the call's code names it, but only on another path (ccxt's mexc reads it
    for spot trades, not for contracts). A request holding an `until` of the exchange's own, written from it
    (alpaca's, in ISO 8601), is sent. ccxt builds every request through its exchange's `sign(path, api, method,
    params, ...)`, which is watched for that one call."""
    sign = getattr(client, "sign", None)
    if not callable(sign):
        return action()
    own = "sign" in getattr(client, "__dict__", {})

    def watched(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - ccxt's own structures
        params = kwargs.get("params", args[3] if len(args) > 3 else None)  # noqa: PLR2004 - sign's 4th parameter
        if isinstance(params, Mapping) and params.get("until") == until:
            raise _UntilNotRead
        return sign(*args, **kwargs)

    setattr(client, "sign", watched)  # noqa: B010 - an attribute of ccxt's exchange, not of the Client protocol
    try:
        return action()
    finally:
        if own:
            setattr(client, "sign", sign)  # noqa: B010
        else:
            delattr(client, "sign")


def streams(
    client: Client, symbols: Sequence[str], *, exchange: str, listed: Callable[[], list[Listing]] | None = None
) -> tuple[list[_Stream], list[Unavailable]]:
    """The streams a sync of `symbols` runs on `client`, and the transfers it cannot list (see transfers); a call
    ccxt reads one currency at a time, once per listing `listed()` gives (see currencies)."""
    has = client.has
    features = getattr(client, "features", None)
    found = [
        _stream(client, "fetch_my_trades", symbol, f"trades {symbol}", Kind.TRADES, _window(features, symbol))
        for symbol in symbols
    ]
    contracts = [symbol for symbol in symbols if market(symbol).settle is not None]
    if has.get("fetchFundingHistory"):
        found += [_stream(client, "fetch_funding_history", s, f"funding {s}", Kind.FUNDING) for s in contracts]
    calls, unavailable = transfer_calls(has, exchange)
    unavailable = unlisted_executions(client.fetch_my_trades, contracts, exchange) + unavailable
    lists: list[Listing] | None = None
    for call in calls:
        if not needs_code(getattr(client, call.call)):
            found.append(_stream(client, call.call, None, call.label, call.kind, typed=call.typed))
            continue
        lists = lists if lists is not None else listed() if listed is not None else []
        found += [
            _stream(client, call.call, at.code, f"{call.label} {at.label}", call.kind, typed=call.typed, listing=at)
            for at in lists
        ]
    if contracts and not has.get("fetchFundingHistory"):
        reason = (
            f"{exchange!r} has no fetchFundingHistory in ccxt: the funding of {', '.join(contracts)} is not synced "
            "(record it with record-funding, or ingest ccxt --kind funding)"
        )
        unavailable.append(Unavailable("funding", reason))
    return found, unavailable + latest_page_only(client.id, [(stream.label, stream.call) for stream in found])


def _reads_until(method: Callable[..., Any], *, depth: int = 1) -> bool:
    """Whether ccxt's `method` reads its unified `until` parameter: its code (after the docstring) names it, as
    ccxt's `handle_until_option` or an `'until'` key, or it returns what other `fetch_` methods of its exchange
    return (kucoin's trades: by market type) and each of them reads it (one level; ccxt's own pagination helpers,
    run only with its `paginate` option, are not counted). ccxt sends a parameter a method does not read to the
    exchange as it is, where it may be refused, so sync sends `until` only to a method that reads it."""
    try:
        source = inspect.getsource(method)
    except (OSError, TypeError):  # no source to read (a compiled build): not known to read it
        return False
    code = source.split('"""', 2)[-1]
    if "handle_until_option" in code or _UNTIL_KEY.search(code) is not None:
        return True
    owner = getattr(method, "__self__", None)
    delegates = [
        getattr(owner, name, None) for name in _DELEGATION.findall(code) if not name.startswith("fetch_paginated")
    ]
    return (
        depth > 0
        and bool(delegates)
        and all(callable(delegate) and _reads_until(delegate, depth=depth - 1) for delegate in delegates)
    )


def _window(features: object, symbol: str) -> int:
    """The span in ms an exchange's `fetch_my_trades` takes for `symbol` (ccxt's `features`: `untilDays` of the
    spot, or the linear swap or future, market), a day when ccxt names none."""
    traded = market(symbol)
    kind = "spot" if not traded.contract else "future" if traded.expiry else "swap"
    found = features.get(kind) if isinstance(features, Mapping) else None
    if kind != "spot" and isinstance(found, Mapping):
        found = found.get("linear")
    calls = found.get("fetchMyTrades") if isinstance(found, Mapping) else None
    days = calls.get("untilDays") if isinstance(calls, Mapping) else None
    return days * DAY_MS if isinstance(days, int) and not isinstance(days, bool) and days > 0 else DAY_MS


def sync(
    ledger: Ledger,
    client: Client,
    *,
    exchange: str,
    account: str = "default",
    symbols: Sequence[str] = (),
    since: datetime | None = None,
    on_page: Callable[[], None] | None = None,
) -> SyncReport:
    """Append what the exchange has after each stream's cursor (see the module); SyncFailed on a ccxt error."""
    chosen = checked_symbols(symbols) or ledger.symbols(account=account, exchange=exchange)
    if not chosen:
        raise InvalidArgument(
            f"sync {exchange!r}: name the symbols with --symbols (the ledger holds none for account {account!r} "
            f"on {exchange!r})"
        )
    markets = ccxt_call(exchange, "load_markets", None, client.load_markets)
    sizes = contract_sizes(markets, chosen)
    report = SyncReport()
    start = None if since is None else int(since.timestamp() * 1000)
    held = {b.currency for b in ledger.balances(account=account).balances if b.exchange == exchange}

    def listed() -> list[Listing]:
        return listings(client, exchange, chosen, held, lambda call, action: ccxt_call(exchange, call, None, action))

    planned, report.unavailable = streams(client, chosen, exchange=exchange, listed=listed)
    for stream in planned:
        report.streams.append(
            _run(ledger, stream, exchange=exchange, account=account, start=start, on_page=on_page, sizes=sizes)
        )
    report.seq = ledger.head.seq
    return report


def checked_symbols(symbols: Sequence[str]) -> list[str]:
    """The symbols once each, or InvalidArgument naming one that is not a supported unified symbol."""
    for symbol in symbols:
        try:
            market(symbol)
        except ValueError as error:
            raise InvalidArgument(f"--symbols: {symbol!r} {error}") from None
    return list(dict.fromkeys(symbols))


def contract_sizes(markets: object, symbols: Sequence[str]) -> dict[str, Decimal]:
    """The contract size of each contract symbol synced, from ccxt's markets (`contractSize`): a trade's amount
    on a contract is in contracts. A market ccxt does not size is left out (mapping then asks the trade's cost)."""
    sizes: dict[str, Decimal] = {}
    for symbol in symbols:
        found = markets.get(symbol) if isinstance(markets, Mapping) else None
        size = found.get("contractSize") if isinstance(found, Mapping) and market(symbol).contract else None
        if isinstance(size, float):
            size = repr(size)  # ccxt writes some markets' sizes as float literals (0.1): their shortest text
        if isinstance(size, str | int | Decimal) and not isinstance(size, bool):
            try:
                value = Decimal(size)
            except InvalidOperation:
                continue
            if value.is_finite() and value > 0 and abs(value.adjusted()) <= MAX_ADJUSTED_EXPONENT:
                sizes[symbol] = +value  # as a fill amount is held (28 digits)
    return sizes


def cursor_key(account: str, exchange: str, label: str) -> str:
    return json.dumps([account, exchange, label], ensure_ascii=False, separators=(",", ":"))


def _run(
    ledger: Ledger,
    stream: _Stream,
    *,
    exchange: str,
    account: str,
    start: int | None,
    on_page: Callable[[], None] | None,
    sizes: Mapping[str, Decimal],
) -> StreamReport:
    key = cursor_key(account, exchange, stream.label)
    epoch = ledger.head.epoch
    cursor, unseen = _first_cursor(ledger, stream, key, epoch, exchange=exchange, account=account, start=start)
    done = StreamReport(stream.label, cursor=cursor)
    held: int | None = None  # the earliest transfer seen in this run that may still move money (Mapped.still_open)
    now = int(datetime.now(UTC).timestamp() * 1000)
    backward = stream.backward  # False from a call on that would have sent `until` as it is (see _until_read)
    longest = 0  # the longest answer from a cursor yet in this run (see answers.cut_at)
    for _ in range(MAX_PAGES):
        page = _fetched(exchange, stream, cursor, None)
        done.pages += 1
        cut, longest = cut_at(cursor, page, longest), max(longest, len(page))
        earliest = min((timestamp(entry) for entry in page), default=None)
        # What lies before an answer that begins after the cursor, or at it where the entries of the cursor's ms
        # may not all have been seen and later ones came: a newest-first answer may be cut within that ms.
        if (
            backward
            and cursor is not None
            and earliest is not None
            and (earliest > cursor or (unseen and earliest == cursor < max(map(timestamp, page))))
        ):
            try:
                before = _before(exchange, stream, cursor, page, MAX_PAGES - done.pages, unseen=unseen)
            except _UntilNotRead:  # as on a call whose code does not read it (see the module)
                backward, before = False, []
            done.pages += len(before)
            page = [entry for answer in reversed(before) for entry in answer] + page
        latest = max((timestamp(entry) for entry in page), default=None)
        moved = latest is not None and (cursor is None or latest > cursor)
        try:
            mapped = map_entries(
                page, exchange=exchange, account=account, kind=stream.kind, contract_sizes=sizes, typed=stream.typed
            )
            # The transfers that may still move money (a deposit's, a withdrawal's or a ledger's status: mapping),
            # held for HOLD_DAYS at most: one older is named in the report and the cursor goes past it
            opened = held_open(page, mapped.still_open, now - HOLD_DAYS * DAY_MS, done.unsettled)
            held = opened if held is None else held if opened is None else min(held, opened)
            after = latest if moved else step(cursor, stream.window, now, cut=cut)
            # The cursor stored stays at the earliest transfer still open: the next sync asks again from there.
            kept = after if held is None or after is None else min(after, held)
            value = {key: json.dumps({"since": kept, "epoch": epoch})} if after is not None else {}
            recorded = record_mapped(ledger, mapped, cursors=value)
        except InvalidFill as refused:
            raise InvalidFill(
                f"sync {exchange!r}: {stream.call} (stream {stream.label!r}, cursor {iso(cursor)}): {refused}; "
                "the pages appended before it are kept"
            ) from None
        done.appended += recorded.appended
        done.duplicates += recorded.duplicates
        done.covered += recorded.covered
        done.skipped += len(mapped.skipped)
        if on_page is not None:
            on_page()
        if after is None:  # empty, or only what the cursor had (asked again, inclusive), and no window to step
            return done
        cursor, done.cursor, unseen = after, kept, not moved
    raise SyncFailed(
        f"{exchange!r} {stream.call}: stream {stream.label!r} did not end within MAX_PAGES ({MAX_PAGES}) answers; the "
        f"pages appended are kept, and the next sync goes on from its cursor {iso(done.cursor)}"
    )


def _first_cursor(
    ledger: Ledger, stream: _Stream, key: str, epoch: int, *, exchange: str, account: str, start: int | None
) -> tuple[int | None, bool]:
    """Where a stream starts (see the module; one currency's list without a cursor of this epoch: where the exchange
    starts, see currencies), and whether the entries of that ms may not all have been seen (not a page's cursor)."""
    stored = ledger.cursors([key]).get(key)
    cursor, stale, unseen = start, None, True
    if start is None and stored is not None:
        saved = json.loads(stored)
        cursor, stale, unseen = (
            (saved["since"], None, False) if saved["epoch"] == epoch else (None, saved["since"], True)
        )
    if cursor is None and stream.listing is None:  # no --since and no cursor of this epoch: the ledger's latest
        types, kinds = _HELD_TYPED if stream.typed else _HELD[stream.kind]
        last = ledger.last_occurred(account=account, exchange=exchange, types=types, symbol=stream.symbol, kinds=kinds)
        cursor = None if last is None else (last - _EPOCH) // _MS
        if cursor is not None and stale is not None:  # or earlier, where a transfer still open held it (see held)
            cursor = min(cursor, stale)
    return cursor, unseen


def _fetched(exchange: str, stream: _Stream, since: int | None, until: int | None) -> list[object]:
    """One answer of the stream's call from `since` (and up to `until`, ccxt's parameter, when not None)."""
    answer = ccxt_call(exchange, stream.call, since, lambda: stream.fetch(since, until))
    if not isinstance(answer, list):
        raise SyncFailed(
            f"{exchange!r} {stream.call}: expected a list, got {type(answer).__name__}; cursor {iso(since)}"
        )
    return answer


def _before(
    exchange: str, stream: _Stream, since: int, page: Sequence[object], budget: int, *, unseen: bool
) -> list[list[object]]:
    """The answers for what lies from `since` up to `page`'s earliest entry, `page` an answer from `since` that
    begins after it (or at it, holding later entries, where `unseen`), newest first. An exchange that answers its
    newest page first (bybit's executions, 50 a page; okx's and kucoin's fills) leaves out what came before that
    page: each answer is asked up to the earliest entry the last one held (ccxt's `until`, inclusive: an entry of
    that very ms left out comes too, the others again as duplicates), until an answer holds nothing earlier (an
    exchange that answers from `since` first: one call) or reaches `since`. An answer that holds nothing earlier but
    more entries of that ms than the last one did, or as many as the longest answer yet (a full page: the page
    itself may be all of one ms), was cut within the ms (a page's worth of fills of one order): what lies strictly
    before it is asked next. Where the entries of `since`'s ms may not all have been seen (`unseen`: a cursor from
    `--since` or from the ledger's latest event, or stepped to), an answer reaching `since` with later entries may
    be cut within its ms: its ms alone is asked next. At most `budget` calls (what MAX_PAGES leaves of the stream's
    run), else SyncFailed: none of them can be appended without those before them."""
    answers: list[list[object]] = []
    until = min(timestamp(entry) for entry in page)
    seen = sum(timestamp(entry) == until for entry in page)  # the entries of `until`'s ms the last answer held
    longest = len(page)  # the longest answer yet: one as long holding only `until`'s ms may be a page cut in it
    while True:  # `until` falls with every answer and stays at or above `since`: it ends
        if len(answers) >= budget:
            raise SyncFailed(
                f"{exchange!r} {stream.call}: more than MAX_PAGES ({MAX_PAGES}) calls in stream {stream.label!r}, "
                f"asking for what lies before a page beginning at {iso(min(timestamp(entry) for entry in page))}"
                f" after the cursor {iso(since)}; none of them appended, the pages appended before it are kept"
            )
        answer = _fetched(exchange, stream, since, until)
        answers.append(answer)
        longest = max(longest, len(answer))
        earliest = min((timestamp(entry) for entry in answer), default=None)
        if earliest is None or earliest < since or (earliest == since and not (unseen and until > since)):
            return answers
        if earliest < until:
            until, seen = earliest, sum(timestamp(entry) == earliest for entry in answer)
        elif earliest == until and (
            sum(timestamp(entry) == until for entry in answer) > seen or len(answer) >= longest
        ):
            until, seen = until - 1, 0  # all of `until`'s ms, more of it than before or a full page: cut within it
        else:
            return answers
