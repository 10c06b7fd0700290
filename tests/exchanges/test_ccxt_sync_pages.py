"""`tradeledger sync` against the trade lists of okx, kucoin and binance as their API documentation describes
them: ccxt's real exchange classes (markets as tests/exchanges/offline.py sets them), their HTTP `fetch` answered
by an emulation built from the recorded raw answers (/work/shared/fixtures/exchange-ccxt), so the paging sync
does on each exchange's real requests is tested without a network.

- okx `GET /api/v5/trade/fills-history` (ccxt's fetch_my_trades; `/trade/fills`, the last 3 days, it does not
  call): the fills of the last 3 months with `begin` <= ts <= `end`, newest first, `limit` of them (default 100).
- kucoin `GET /api/v1/fills` (classic spot): the fills of [`startAt`, `endAt`], newest first, a page of
  `pageSize` (default 50) from `currentPage` (default 1); the span is at most 7 days (one end given: the other 7
  days from it; none: the last 7 days).
- binance `GET /api/v3/myTrades`: the trades of [`startTime`, `endTime`], oldest first, `limit` of them (default
  500); at most 24 hours between the two (one given: the other 24 hours from it), else error -1127; none: the
  most recent 500.

Each refuses a parameter it does not know, as binance does (-1104): ccxt sends what a method does not read as it is.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import pytest

from tests.exchanges.offline import fixture, offline_exchange
from tests.exchanges.test_ccxt_sync import DAY_MS, NewestFirst, at, sync, trade_ids
from tradeledger.cli import main
from tradeledger.exchanges.ccxt import syncing

SYMBOL = "LTC/USDT"  # the market of each exchange's recorded trade
FIRST = 1_700_000_000_000  # 2023-11-14T22:13:20Z: the trade synced before each burst


def recorded_trade(exchange: str, index: int = 0) -> Any:
    return fixture(exchange)["methods"]["fetchMyTrades"][index]["httpResponse"]


class Emulated:
    """One exchange's trade list over `trades` ((id, ms) of LTC/USDT), answered as the exchange documents it
    (see the module), with nothing in its other lists; `now` (ms) is the exchange's clock."""

    name = ""
    trades_path = ""
    known: frozenset[str] = frozenset()  # the parameters the trade list takes

    def __init__(self, trades: list[tuple[str, int]], now: int) -> None:
        self.trades, self.now = trades, now
        self.urls: list[str] = []

    def __call__(self, name: str, environ: object) -> ccxt.Exchange:  # noqa: ARG002 - syncing.connect's signature
        exchange = offline_exchange(self.name)
        exchange.fetch = self.fetch
        return exchange

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        self.urls.append(url)
        if urlsplit(url).path != self.trades_path:
            return self.nothing(url)
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        unknown = sorted(set(query) - self.known)
        if unknown:
            raise ccxt.BadRequest(f"{self.name} refuses the parameters {unknown} of {url}")
        return self.answer(query)

    def nothing(self, url: str) -> Any:
        raise AssertionError(f"unexpected call {url}")

    def answer(self, query: dict[str, str]) -> Any:
        raise NotImplementedError

    def between(self, start: int, end: int) -> list[tuple[str, int]]:
        """The trades of [start, end], oldest first."""
        return sorted(((i, ms) for i, ms in self.trades if start <= ms <= end), key=lambda trade: trade[1])

    def asked(self) -> list[dict[str, str]]:
        """The query of each trade list asked for, in order."""
        return [
            {key: values[0] for key, values in parse_qs(urlsplit(u).query).items()}
            for u in self.urls
            if urlsplit(u).path == self.trades_path
        ]


class Okx(Emulated):
    name = "okx"
    trades_path = "/api/v5/trade/fills-history"
    known = frozenset({"instType", "instId", "ordId", "subType", "after", "before", "begin", "end", "limit"})

    def nothing(self, url: str) -> Any:
        if urlsplit(url).path in ("/api/v5/asset/deposit-history", "/api/v5/asset/withdrawal-history"):
            return {"code": "0", "data": [], "msg": ""}
        return super().nothing(url)

    def answer(self, query: dict[str, str]) -> Any:
        assert query["instType"] == "SPOT"
        begin = max(int(query.get("begin", 0)), self.now - 90 * DAY_MS)
        end = int(query.get("end", self.now))
        shown = self.between(begin, end)[::-1][: int(query.get("limit", 100))]
        answer = copy.deepcopy(recorded_trade("okx"))
        (row,) = answer["data"]
        answer["data"] = [
            {**row, "tradeId": i, "billId": f"9{i}", "ts": str(ms), "fillTime": str(ms)} for i, ms in shown
        ]
        return answer


class Kucoin(Emulated):
    name = "kucoin"
    trades_path = "/api/v1/fills"
    known = frozenset({"symbol", "orderId", "side", "type", "tradeType", "startAt", "endAt", "currentPage", "pageSize"})

    def nothing(self, url: str) -> Any:
        if urlsplit(url).path in ("/api/v1/deposits", "/api/v1/withdrawals"):
            return {
                "code": "200000",
                "data": {"currentPage": 1, "pageSize": 50, "totalNum": 0, "totalPage": 0, "items": []},
            }
        return super().nothing(url)

    def answer(self, query: dict[str, str]) -> Any:
        week = 7 * DAY_MS
        start, end = query.get("startAt"), query.get("endAt")
        begin = int(start) if start is not None else int(end) - week if end is not None else self.now - week
        until = int(end) if end is not None else begin + week
        if until - begin > week:
            raise ccxt.BadRequest('kucoin {"code":"400100","msg":"startAt and endAt range cannot exceed 7 days"}')
        size, number = int(query.get("pageSize", 50)), int(query.get("currentPage", 1))
        shown = self.between(begin, until)[::-1]
        answer = copy.deepcopy(recorded_trade("kucoin"))
        (row,) = answer["data"]["items"]
        items = [{**row, "tradeId": i, "createdAt": ms} for i, ms in shown[(number - 1) * size : number * size]]
        answer["data"].update(
            currentPage=number, pageSize=size, totalNum=len(shown), totalPage=-(-len(shown) // size), items=items
        )
        return answer


class Binance(Emulated):
    name = "binance"
    trades_path = "/api/v3/myTrades"
    known = frozenset(
        {"symbol", "orderId", "startTime", "endTime", "fromId", "limit", "timestamp", "recvWindow", "signature"}
    )

    def nothing(self, url: str) -> Any:
        if urlsplit(url).path in ("/sapi/v1/capital/deposit/hisrec", "/sapi/v1/capital/withdraw/history"):
            return []
        return super().nothing(url)

    def answer(self, query: dict[str, str]) -> Any:
        start, end, limit = query.get("startTime"), query.get("endTime"), int(query.get("limit", 500))
        if start is None and end is None:
            return self.rows(self.between(0, self.now)[-limit:])
        begin = int(start) if start is not None else int(end) - DAY_MS  # type: ignore[arg-type]
        until = int(end) if end is not None else begin + DAY_MS
        if until - begin > DAY_MS:
            raise ccxt.BadRequest('binance {"code":-1127,"msg":"More than 24 hours between startTime and endTime."}')
        return self.rows(self.between(begin, until)[:limit])

    def rows(self, shown: list[tuple[str, int]]) -> list[Any]:
        (row,) = recorded_trade("binance")
        return [{**row, "id": i, "time": str(ms)} for i, ms in shown]


def run_sync(
    db_url: str, emulated: Emulated, monkeypatch: pytest.MonkeyPatch, *extra: str, symbol: str = SYMBOL
) -> int:
    monkeypatch.setattr(syncing, "connect", emulated)
    return main(["--db", db_url, "sync", emulated.name, "--symbols", symbol, *extra, "--json"])


def report(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def burst(count: int, start: int, every: int = 60_000) -> list[tuple[str, int]]:
    return [(f"{n + 1:05}", start + every * (n + 1)) for n in range(count)]


EXCHANGES: list[tuple[Callable[[list[tuple[str, int]], int], Emulated], int]] = [
    (Okx, 100),
    (Kucoin, 50),
    (Binance, 500),
]


@pytest.mark.parametrize(("emulation", "page"), EXCHANGES, ids=["okx", "kucoin", "binance"])
def test_a_burst_of_more_trades_than_a_page_after_the_cursor_is_synced_whole_in_time_order(
    emulation: Callable[[list[tuple[str, int]], int], Emulated],
    page: int,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with at(FIRST + 1000):
        assert run_sync(db_url, emulation([("00000", FIRST)], FIRST + 1000), monkeypatch) == 0
    trades = burst(2 * page + page // 2, FIRST, every=20_000)  # 2.5 pages within the next day
    now = trades[-1][1] + 60_000
    with at(now):
        capsys.readouterr()
        status = run_sync(db_url, emulation([("00000", FIRST), *trades], now), monkeypatch)

    assert status == 0
    assert trade_ids(db_url) == [f"{SYMBOL}:{i}" for i in ["00000", *(i for i, _ in trades)]]
    done = report(capsys)
    assert (done["appended"], done["streams"][0]["cursor"]) == (len(trades), iso(trades[-1][1]))


def assert_synced_in_time_order(db_url: str, trades: list[tuple[str, int]]) -> None:
    """The ledger holds each of `trades` once, in time order (the order within one ms is the exchange's)."""
    held = trade_ids(db_url)
    times = dict(trades)
    assert sorted(held) == sorted(f"{SYMBOL}:{i}" for i, _ in trades)
    ordered = [times[ident.removeprefix(f"{SYMBOL}:")] for ident in held]
    assert ordered == sorted(ordered)


@pytest.mark.parametrize("later", [20, 0], ids=["trades-after-it", "the-latest"])
@pytest.mark.parametrize(("emulation", "page"), EXCHANGES[:2], ids=["okx", "kucoin"])
def test_the_trades_before_a_millisecond_that_fills_a_page_of_a_newest_first_exchange_are_synced(
    emulation: Callable[[list[tuple[str, int]], int], Emulated],
    page: int,
    later: int,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One order swept the book: a page's worth of fills in one ms, after 30 trades and before `later` others. With
    # 20 after it, the newest page holds them and part of the sweep; the answer up to the sweep's ms holds only the
    # sweep. With none (the sweep the latest thing done), the newest page and the answer up to its ms hold only the
    # sweep: nothing in either tells that the 30 lie before it.
    with at(FIRST + 1000):
        assert run_sync(db_url, emulation([("00000", FIRST)], FIRST + 1000), monkeypatch) == 0
    before, sweep_ms = burst(30, FIRST), FIRST + 31 * 60_000
    sweep = [(f"s{n:04}", sweep_ms) for n in range(page)]
    after = [(f"z{n:04}", sweep_ms + 60_000 * (n + 1)) for n in range(later)]
    now = sweep_ms + 60_000 * (later + 1)
    with at(now):
        capsys.readouterr()
        status = run_sync(db_url, emulation([("00000", FIRST), *before, *sweep, *after], now), monkeypatch)

    assert status == 0
    assert_synced_in_time_order(db_url, [("00000", FIRST), *before, *sweep, *after])
    assert report(capsys)["appended"] == 30 + page + later


def test_an_exchange_answering_oldest_first_costs_one_extra_call_when_a_page_begins_after_the_cursor(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # --since an hour before a burst of 600 trades (two of binance's pages of 500) within 20 hours.
    trades = burst(600, FIRST + 3_600_000, every=120_000)
    now = trades[-1][1] + 60_000
    binance = Binance(trades, now)

    with at(now):
        status = run_sync(db_url, binance, monkeypatch, "--since", iso(FIRST))

    assert status == 0
    assert_synced_in_time_order(db_url, trades)
    done = report(capsys)
    assert (done["appended"], done["duplicates"], done["streams"][0]["pages"]) == (600, 3, 4)
    asked = [(q.get("startTime"), q.get("endTime")) for q in binance.asked()]
    # from --since: trades 1-500 (beginning after it); what lies before trade 1 (only trade 1 again: the one extra
    # call); from trade 500: 500-600; from trade 600: only it (each a duplicate)
    assert asked == [
        (str(FIRST), None),
        (str(FIRST), str(trades[0][1])),
        (str(trades[499][1]), None),
        (str(trades[599][1]), None),
    ]


def test_an_exchange_answering_oldest_first_steps_over_empty_days_and_asks_what_lies_before_within_its_day(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bot down for three days: the cursor's day and the two after it are empty; binance refuses a span over a
    # day, so what lies before the third day's first trade is asked within that day.
    with at(FIRST + 1000):
        assert run_sync(db_url, Binance([("00000", FIRST)], FIRST + 1000), monkeypatch) == 0
    trades = burst(3, FIRST + 3 * DAY_MS + 3_600_000)
    now = FIRST + 4 * DAY_MS
    binance = Binance([("00000", FIRST), *trades], now)

    with at(now):
        capsys.readouterr()
        status = run_sync(db_url, binance, monkeypatch)

    assert status == 0
    assert_synced_in_time_order(db_url, [("00000", FIRST), *trades])
    asked = [(q.get("startTime"), q.get("endTime")) for q in binance.asked()]
    assert asked == [
        (str(FIRST), None),  # only the trade synced before
        (str(FIRST + DAY_MS), None),  # empty: the next day
        (str(FIRST + 2 * DAY_MS), None),  # empty
        (str(FIRST + 3 * DAY_MS), None),  # the three trades, beginning after the stepped cursor
        (str(FIRST + 3 * DAY_MS), str(trades[0][1])),  # the one extra call: only the first of them again
        (str(trades[-1][1]), None),  # from the last: only it
    ]
    assert report(capsys)["streams"][0]["cursor"] == iso(trades[-1][1])


MEXC_SWAP = {
    "id": "BTC_USDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT", "baseId": "BTC",
    "quoteId": "USDT", "settleId": "USDT", "type": "swap", "spot": False, "margin": False, "swap": True,
    "future": False, "option": False, "active": True, "contract": True, "linear": True, "inverse": False,
    "contractSize": "0.0001", "precision": {"amount": "1", "price": "0.1"}, "limits": {}, "info": {},
}  # fmt: skip
# mexc's contract deal, as ccxt's mexc.parse_trade documents it (ccxt 4.5.90), on BTC_USDT
MEXC_DEAL = {
    "id": "299444585", "symbol": "BTC_USDT", "side": "1", "vol": "1", "price": "36000.5", "feeCurrency": "USDT",
    "fee": "0.00147273", "timestamp": "1648924557000", "profit": "0", "category": "1",
    "orderId": "265307163526610432", "positionMode": "1", "taker": True,
}  # fmt: skip


class MexcSwap(Emulated):
    """mexc's contract deals (`GET /api/v1/private/order/list/order_deals`): those of [start_time, end_time] (at
    most 90 days; none given: the last 90), newest first, a page of `page_size` (default 20). ccxt's
    mexc.fetch_my_trades reads `until` only for spot trades: on a contract it would send it on as it is."""

    name = "mexc"
    trades_path = "/api/v1/private/order/list/order_deals"
    known = frozenset({"symbol", "start_time", "end_time", "page_num", "page_size"})

    def __call__(self, name: str, environ: object) -> ccxt.Exchange:  # noqa: ARG002 - syncing.connect's signature
        exchange = ccxt.mexc({"apiKey": "key", "secret": "secretsecret", "enableRateLimit": False})
        exchange.number = str
        exchange.set_markets([MEXC_SWAP])
        exchange.fetch = self.fetch
        return exchange

    def nothing(self, url: str) -> Any:
        path = urlsplit(url).path
        if path == "/api/v1/private/position/funding_records":
            return {"success": True, "code": 0, "data": {"currentPage": 1, "totalPage": 0, "resultList": []}}
        if path in ("/api/v3/capital/deposit/hisrec", "/api/v3/capital/withdraw/history"):
            return []
        return super().nothing(url)

    def answer(self, query: dict[str, str]) -> Any:
        span = 90 * DAY_MS
        start = int(query["start_time"]) if "start_time" in query else self.now - span
        end = int(query.get("end_time", start + span))
        assert end - start <= span
        shown = self.between(start, end)[::-1][: int(query.get("page_size", 20))]
        deals = [{**MEXC_DEAL, "id": i, "timestamp": str(ms)} for i, ms in shown]
        return {"success": True, "code": 0, "data": deals}


def test_a_call_whose_code_reads_until_only_for_another_market_type_is_not_sent_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with at(FIRST + 1000):
        assert run_sync(db_url, MexcSwap([("00000", FIRST)], FIRST + 1000), monkeypatch, symbol="BTC/USDT:USDT") == 0
    trades = burst(30, FIRST)
    now = trades[-1][1] + 60_000
    mexc = MexcSwap([("00000", FIRST), *trades], now)

    with at(now):
        capsys.readouterr()
        status = run_sync(db_url, mexc, monkeypatch, symbol="BTC/USDT:USDT")

    assert status == 0
    assert not any("until" in query for query in mexc.asked())
    # a newest-first call that does not read `until`: the known limit, only the newest page (20) comes
    done = report(capsys)
    assert (done["appended"], done["streams"][0]["cursor"]) == (20, iso(trades[-1][1]))


def test_the_calls_for_what_lies_before_a_page_count_against_max_pages_and_exceeding_it_appends_none_of_them(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # bybit, 50 a page: 250 trades after the cursor take the page and five calls before it; the guard allows four
    # calls in all.
    with at(FIRST + 1000):
        sync(db_url, NewestFirst([("a", FIRST)], now=FIRST + 1000), monkeypatch, capsys)
    trades = [(f"t{n:03}", FIRST + 60_000 * (n + 1)) for n in range(250)]
    monkeypatch.setattr(syncing, "MAX_PAGES", 4)

    with at(FIRST + DAY_MS):
        status, error = sync(db_url, NewestFirst([("a", FIRST), *trades], now=FIRST + DAY_MS), monkeypatch, capsys)

    assert status == 2
    assert error == (
        "error: 'bybit' fetch_my_trades: more than MAX_PAGES (4) calls in stream 'trades BTC/USDT', asking for what "
        "lies before a page beginning at 2023-11-15T01:34:20+00:00 after the cursor 2023-11-14T22:13:20+00:00; none of "
        "them appended, the pages appended before it are kept\n"
    )
    assert trade_ids(db_url) == ["BTC/USDT:a"]
