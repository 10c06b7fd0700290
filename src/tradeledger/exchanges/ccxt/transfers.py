"""What a sync asks of an exchange's transfers, by what ccxt's `has` offers, and what a sync reports (see syncing).

Transfers come from the separate deposit and withdrawal lists; on an exchange without either, from its ledger; on
one without a ledger either, from ccxt's combined `fetchDepositsWithdrawals` (gemini, coinmate, indodax), each
entry's own `type` deciding. An exchange with both a ledger and the combined list (bitfinex, cex) keeps its ledger
stream: the two name one transfer by different ids, so a switch would book again what a ledger synced before holds.
What it cannot list (none of the calls, or one of the two lists only) is reported as unavailable, never left out
without a word; so are the executions a trade list leaves out (unlisted_executions), and what lies before the latest
page of a list ccxt asks that page of only (latest_page_only).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from tradeledger.exchanges.ccxt.answers import timestamp
from tradeledger.exchanges.ccxt.mapping import Kind

# The ccxt calls that list an exchange's transfers, in the order sync prefers them.
TRANSFER_CALLS = ("fetchDeposits", "fetchWithdrawals", "fetchDepositsWithdrawals", "fetchLedger")
_RECORD_THEM = "(record them with record-transfer)"
# ccxt's bybit.fetch_my_trades (4.5.90) sends execType=Trade, which bybit's execution list takes as a filter (bybit v5
# docs, /v5/execution/list: execType optional): what the exchange closed itself never comes back.
_TRADES_ONLY = re.compile(r"""['"]execType['"]\s*:\s*['"]Trade['"]""")


# The calls whose ccxt 4.5.90 code asks the exchange for its latest page only, whatever `since` (no start, page or
# cursor sent), and sync does not read whole yet (paged.py reads the others): (exchange id, call) -> what that page is.
# What came since the cursor before that page is named in the report as not synced (latest_page_only).
_LATEST_PAGE: dict[tuple[str, str], str] = {
    # /api-data/(g-)futures/funding-fees: offset and limit only, 20 unless told, newest first; rows without an id
    ("phemex", "fetch_funding_history"): "20 records",
    # /exchange/wallets/depositList, withdrawList: currency, offset, limit; "recent ... within 3 months"
    ("phemex", "fetch_deposits"): "of the last 3 months",
    ("phemex", "fetch_withdrawals"): "of the last 3 months",
    # v2 /accounts/{id}/deposits, withdrawals: 25 unless told, newest first, paged by starting_after
    ("coinbase", "fetch_deposits"): "25 of an account",
    ("coinbase", "fetch_withdrawals"): "25 of an account",
    # private/get_deposits, get_withdrawals: count 10 unless told, offset, newest first
    ("deribit", "fetch_deposits"): "10 of a currency",
    ("deribit", "fetch_withdrawals"): "10 of a currency",
    # POST user_transactions/{pair}: limit 100 unless told, sort desc; since_timestamp never sent
    ("bitstamp", "fetch_my_trades"): "the last 100 transactions of the pair",
}
_RECORD_WITH = {"fetch_funding_history": "record-funding", "fetch_my_trades": "record"}


def latest_page_only(exchange_id: str, streams: Sequence[tuple[str, str]]) -> list[Unavailable]:
    """What the (label, ccxt call) streams planned on `exchange_id` leave out before the exchange's latest page (see
    _LATEST_PAGE), once per label (a deposit stream per currency: once, as `deposits`)."""
    named: dict[str, Unavailable] = {}
    for label, call in streams:
        page = _LATEST_PAGE.get((exchange_id, call))
        if page is None:
            continue
        stream = label if call in _RECORD_WITH else label.split(" ")[0]
        reason = (
            f"{exchange_id!r} answers ccxt 4.5.90's {call} its latest page only ({page}), whatever the cursor: those "
            f"before it are not synced (record them with {_RECORD_WITH.get(call, 'record-transfer')})"
        )
        named.setdefault(stream, Unavailable(stream, reason))
    return list(named.values())


class TransferCall(NamedTuple):
    call: str  # ccxt's method
    label: str  # the stream's name (and its cursor's)
    kind: Kind
    typed: bool = False  # deposits and withdrawals in one list, each entry's `type` deciding


@dataclass(frozen=True, slots=True)
class Unavailable:
    """What a sync cannot fetch on this exchange (`stream`: "transfers", "deposits" or "withdrawals"), and why."""

    stream: str
    reason: str


def transfer_calls(has: Mapping[str, Any], exchange: str) -> tuple[list[TransferCall], list[Unavailable]]:
    """The calls a sync lists `exchange`'s transfers with, by ccxt's `has` (see the module), and what it cannot."""
    deposits, withdrawals = bool(has.get("fetchDeposits")), bool(has.get("fetchWithdrawals"))
    if deposits or withdrawals:
        calls = [TransferCall("fetch_deposits", "deposits", Kind.DEPOSITS)] if deposits else []
        calls += [TransferCall("fetch_withdrawals", "withdrawals", Kind.WITHDRAWALS)] if withdrawals else []
        if deposits and withdrawals:
            return calls, []
        listed, lacking, missing = (
            ("fetchDeposits", "fetchWithdrawals", "withdrawals")
            if deposits
            else ("fetchWithdrawals", "fetchDeposits", "deposits")
        )
        reason = f"{exchange!r} has {listed} but not {lacking} in ccxt: its {missing} are not synced {_RECORD_THEM}"
        return calls, [Unavailable(missing, reason)]
    if has.get("fetchLedger"):  # its deposits and withdrawals would repeat the calls above: one or the other
        return [TransferCall("fetch_ledger", "ledger", Kind.LEDGER)], []
    if has.get("fetchDepositsWithdrawals"):
        return [TransferCall("fetch_deposits_withdrawals", "deposits and withdrawals", Kind.DEPOSITS, typed=True)], []
    reason = (
        f"{exchange!r} has none of {', '.join(TRANSFER_CALLS[:-1])} or {TRANSFER_CALLS[-1]} in ccxt: its deposits and "
        f"withdrawals are not synced {_RECORD_THEM}"
    )
    return [], [Unavailable("transfers", reason)]


def unlisted_executions(
    fetch_my_trades: Callable[..., object], contracts: Sequence[str], exchange: str
) -> list[Unavailable]:
    """The executions of `contracts` ccxt's `fetch_my_trades` cannot list, named: one whose code asks the exchange for
    execType Trade only (ccxt's bybit) never lists a liquidation, an auto-deleveraging or a delivery (mapping books
    them from a file: a delivery of a dated future as its settlement). A call without source to read names none."""
    try:
        source = inspect.getsource(fetch_my_trades)
    except (OSError, TypeError):  # no source to read (a compiled build, a test's stand-in): not known to filter
        return []
    if not contracts or _TRADES_ONLY.search(source.split('"""', 2)[-1]) is None:
        return []
    reason = (
        f"fetch_my_trades of {exchange!r} in ccxt asks for execType Trade only: what {exchange!r} closed itself on "
        f"{', '.join(contracts)} (liquidations BustTrade, auto-deleveraging AdlTrade, deliveries Delivery and Settle) "
        "is not synced (ingest ccxt what fetch_my_trades(symbol, params={'execType': TYPE}) returns)"
    )
    return [Unavailable("executions", reason)]


@dataclass(slots=True)
class StreamReport:
    """What one stream appended in this run, and its cursor after it (ms since 1970, None if never set)."""

    label: str
    appended: int = 0
    duplicates: int = 0
    skipped: int = 0
    pages: int = 0
    cursor: int | None = None
    covered: int = 0  # trades the fills a bot recorded live cover (covering.py): not appended
    # transfers still open past syncing.HOLD_DAYS, no longer holding the cursor: {"id", "status", "at"} each
    unsettled: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class SyncReport:
    streams: list[StreamReport] = field(default_factory=list)
    seq: int = 0
    unavailable: list[Unavailable] = field(default_factory=list)

    @property
    def appended(self) -> int:
        return sum(stream.appended for stream in self.streams)

    @property
    def duplicates(self) -> int:
        return sum(stream.duplicates for stream in self.streams)

    @property
    def skipped(self) -> int:
        return sum(stream.skipped for stream in self.streams)

    def summary(self) -> dict[str, Any]:
        return {
            "appended": self.appended,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "seq": self.seq,
            "covered": sum(stream.covered for stream in self.streams),
            "streams": [
                {
                    "stream": stream.label,
                    "appended": stream.appended,
                    "duplicates": stream.duplicates,
                    "skipped": stream.skipped,
                    "pages": stream.pages,
                    "cursor": iso(stream.cursor),
                    "covered": stream.covered,
                    "unsettled": stream.unsettled,
                }
                for stream in self.streams
            ],
            "unavailable": [{"stream": gap.stream, "reason": gap.reason} for gap in self.unavailable],
        }


def held_open(
    page: Sequence[object], still_open: Sequence[int], since: int, released: list[dict[str, Any]]
) -> int | None:
    """The time of the earliest entry of `page` still open (`still_open`: their indexes) at or after `since`, which
    holds its stream's cursor; those before `since` are added to `released` as a sync's report names them (the
    exchange's id, status and time) and hold nothing."""
    recent = [index for index in still_open if timestamp(page[index]) >= since]
    for index in still_open:
        if index not in recent:
            entry = page[index]
            given: Mapping[str, Any] = entry if isinstance(entry, Mapping) else {}
            released.append({"id": given.get("id"), "status": given.get("status"), "at": iso(timestamp(entry))})
    return min((timestamp(page[index]) for index in recent), default=None)


def iso(cursor: int | None) -> str | None:
    """A cursor (ms since 1970) as ISO 8601 text, None as None."""
    return None if cursor is None else datetime.fromtimestamp(cursor / 1000, tz=UTC).isoformat()
