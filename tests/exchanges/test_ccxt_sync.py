"""`tradeledger sync`: ccxt's real bybit class, its HTTP call answered from recorded responses (the way
ccxt's static tests run), so paging, cursors, crashes and keys are tested without a network."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import pytest
from freezegun import freeze_time

from tests.exchanges.test_ccxt_ingest import RECORDED
from tradeledger import open_ledger
from tradeledger.cli import main
from tradeledger.errors import InvalidArgument
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.ingesting import ingest
from tradeledger.exchanges.ccxt.mapping import Kind

RECORDED_TRADES = json.loads((RECORDED / "bybit.json").read_text())["methods"]["fetchMyTrades"][0]["httpResponse"]
T = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms: the pages' trades are T + 1000, T + 2000, ...
NO_ROWS = {"retCode": 0, "retMsg": "success", "result": {"rows": [], "nextPageCursor": ""}, "time": 1700000000000}


def page(*trades: tuple[str, int]) -> dict[str, Any]:
    """bybit's answer to execution/list holding the recorded spot trade once per (execId, execTime)."""
    answer: dict[str, Any] = copy.deepcopy(RECORDED_TRADES)
    (row,) = answer["result"]["list"]
    answer["result"]["list"] = [{**row, "execId": ident, "execTime": str(ms)} for ident, ms in trades]
    return answer


def market(ident: str, symbol: str, base: str, quote: str) -> dict[str, Any]:
    return {
        "id": ident, "symbol": symbol, "base": base, "quote": quote, "settle": None, "baseId": base,
        "quoteId": quote, "settleId": None, "type": "spot", "spot": True, "margin": False, "swap": False,
        "future": False, "option": False, "active": True, "contract": False, "linear": None, "inverse": None,
        "contractSize": None, "precision": {"amount": "0.000001", "price": "0.01"}, "limits": {}, "info": {},
    }  # fmt: skip


class Offline:
    """bybit answering from `pages` (the execution list, in order), and no deposits or withdrawals."""

    def __init__(self, pages: list[dict[str, Any] | Exception]) -> None:
        self.pages = pages
        self.urls: list[str] = []

    def __call__(self, name: str, environ: object) -> Any:  # noqa: ARG002 - syncing.connect's signature
        exchange = ccxt.bybit({"apiKey": "key", "secret": "secret"})
        exchange.number = str
        exchange.set_markets([market("BTCUSDT", "BTC/USDT", "BTC", "USDT")])
        exchange.fetch = self.fetch
        return exchange

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        self.urls.append(url)
        if "/v5/execution/list" in url:
            answer = self.pages.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if "/v5/asset/deposit/query-record" in url or "/v5/asset/withdraw/query-record" in url:
            return NO_ROWS
        raise AssertionError(f"unexpected call {url}")


def sync(
    url: str, offline: Offline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any] | str]:
    monkeypatch.setattr(syncing, "connect", offline)
    status = main(["--db", url, "sync", "bybit", "--symbols", "BTC/USDT", *extra, "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if status == 0 else captured.err


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(autouse=True)
def a_day_after_the_recorded_trades() -> Iterator[None]:
    """The clock a day after the pages' trades (T + 1000-3000 ms), so that no cursor lies a week in the past
    (sync then steps a week at a time: the tests of that set their own clock); a later trade's time is in the future."""
    with freeze_time("2026-01-02"):
        yield


def trade_ids(url: str) -> list[str]:
    with open_ledger(url) as ledger:
        return [recorded.event.event_id for recorded in ledger.history()]


def test_a_second_page_that_repeats_the_first_pages_last_trade_appends_it_once(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offline = Offline(
        [page(("a", T + 1000), ("b", T + 2000)), page(("b", T + 2000), ("c", T + 3000)), page(("c", T + 3000))]
    )

    status, report = sync(url, offline, monkeypatch, capsys)

    assert status == 0
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"], report["skipped"]) == (3, 2, 0)
    trades = report["streams"][0]
    assert (trades["stream"], trades["pages"], trades["cursor"]) == ("trades BTC/USDT", 3, "2026-01-01T00:00:03+00:00")
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c"]
    execution = [u for u in offline.urls if "execution/list" in u]
    assert "startTime" not in execution[0]
    assert f"startTime={T + 2000}" in execution[1]
    assert f"startTime={T + 3000}" in execution[2]


def test_a_second_sync_starts_at_the_stored_cursor_and_appends_nothing_new(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(url, Offline([page(("a", T + 1000), ("b", T + 2000)), page(("b", T + 2000))]), monkeypatch, capsys)
    again = Offline([page(("b", T + 2000))])

    status, report = sync(url, again, monkeypatch, capsys)

    assert status == 0
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"]) == (0, 1)
    assert f"startTime={T + 2000}" in next(u for u in again.urls if "execution/list" in u)


def test_a_network_error_mid_sync_names_the_exchange_call_and_cursor_and_keeps_what_was_appended(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = Offline(
        [page(("a", T + 1000), ("b", T + 2000)), ccxt.NetworkError("bybit GET https://api.bybit.com timed out")]
    )

    status, message = sync(url, broken, monkeypatch, capsys)

    assert status == 2
    assert message == (
        "error: 'bybit' fetch_my_trades failed at cursor 2026-01-01T00:00:02+00:00: NetworkError: bybit GET "
        "https://api.bybit.com timed out; the pages appended before it are kept\n"
    )
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b"]

    resumed = Offline([page(("b", T + 2000), ("c", T + 3000)), page(("c", T + 3000))])
    status, report = sync(url, resumed, monkeypatch, capsys)
    assert status == 0
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"]) == (1, 2)
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c"]


def test_a_stream_that_reaches_max_pages_fails_naming_it_and_the_next_sync_goes_on_from_its_cursor(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(syncing, "MAX_PAGES", 2)
    endless = Offline([page(("a", T + 1000), ("b", T + 2000)), page(("b", T + 2000), ("c", T + 3000))])

    status, message = sync(url, endless, monkeypatch, capsys)

    assert status == 2
    assert message == (
        "error: 'bybit' fetch_my_trades: stream 'trades BTC/USDT' did not end within MAX_PAGES (2) answers; the pages "
        "appended are kept, and the next sync goes on from its cursor 2026-01-01T00:00:03+00:00\n"
    )
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c"]

    resumed = Offline([page(("c", T + 3000), ("d", T + 4000)), page(("d", T + 4000))])
    status, report = sync(url, resumed, monkeypatch, capsys)
    assert status == 0
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"]) == (1, 2)
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c", "BTC/USDT:d"]


def test_after_a_rollback_a_stream_starts_at_the_latest_trade_the_log_still_holds_and_the_removed_come_back(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(url, Offline([page(("a", T + 1000), ("b", T + 2000)), page(("b", T + 2000))]), monkeypatch, capsys)
    with open_ledger(url) as ledger:
        ledger.rollback(to_seq=1, reason="test", actor="ops")
    # from a's ms: a and b; then up to a's ms (the log may not hold all of it: see syncing's _run): a; then from b
    again = Offline([page(("a", T + 1000), ("b", T + 2000)), page(("a", T + 1000)), page(("b", T + 2000))])

    status, report = sync(url, again, monkeypatch, capsys)

    assert status == 0
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"]) == (1, 3)
    # the cursor (at b, removed) is of the epoch before; a (ms T + 1000) is what the log still holds of the stream
    assert starts(again) == [T + 1000, T + 1000, T + 2000]
    assert ends(again) == [None, T + 1000, None]
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b"]


def test_a_first_sync_starts_each_stream_at_the_latest_of_its_events_the_ledger_already_holds(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Trades ingested from a file before any sync: the first sync asks from the latest of them, not for the
    # exchange's newest page (bybit's: the last 50 of the week, which would leave out what lies between).
    first = 1_700_000_000_000
    with open_ledger(url) as ledger:
        ingest(ledger, [_trade("x", first - DAY_MS), _trade("y", first)], exchange="bybit")
        ingest(ledger, [_trade("z", first + DAY_MS, "ETH/USDT")], exchange="bybit")  # another symbol's stream
    burst = [(f"t{n:03}", first + 60_000 * (n + 1)) for n in range(120)]
    newest_first = NewestFirst(burst, now=first + 2 * DAY_MS)  # (x and y came from a file)

    with at(first + 2 * DAY_MS):
        status, report = sync(url, newest_first, monkeypatch, capsys)

    assert status == 0
    assert starts(newest_first)[0] == first
    assert trade_ids(url)[3:] == [f"BTC/USDT:{ident}" for ident, _ in burst]
    assert isinstance(report, dict)
    assert report["appended"] == 120


def _trade(ident: str, ms: int, symbol: str = "BTC/USDT") -> dict[str, Any]:
    return {"id": ident, "timestamp": ms, "symbol": symbol, "side": "buy", "price": "70", "amount": "2"}


def test_since_starts_a_stream_there(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offline = Offline([page(("a", 1700000000000)), page(("a", 1700000000000))])

    with freeze_time("2023-11-15"):  # a day after the trade, as for the other pages
        status, _ = sync(url, offline, monkeypatch, capsys, "--since", "2023-11-14T22:13:20+00:00")

    assert status == 0
    assert "startTime=1700000000000" in next(u for u in offline.urls if "execution/list" in u)


def test_missing_keys_are_named_by_their_environment_variable() -> None:
    make: Callable[..., Any] = syncing.connect

    with pytest.raises(InvalidArgument, match="TRADELEDGER_BYBIT_API_KEY is not set"):
        make("bybit", {})
    exchange = make("bybit", {"TRADELEDGER_BYBIT_API_KEY": "k", "TRADELEDGER_BYBIT_SECRET": "s"})
    assert (exchange.apiKey, exchange.secret, exchange.number, exchange.enableRateLimit) == ("k", "s", str, True)


DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


class Windowed(Offline):
    """bybit as its v5 execution list documents it: the executions of [startTime, endTime] (endTime, ccxt's `until`,
    defaults to a week after startTime; given neither, the last 7 days before `now`, ms), newest first, at most
    `limit` of them (None: all)."""

    def __init__(self, trades: list[tuple[str, int]], now: int, limit: int | None = None) -> None:
        super().__init__([])
        self.trades, self.now, self.limit = trades, now, limit

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        if "/v5/execution/list" not in url:
            return super().fetch(url)
        self.urls.append(url)
        asked = parse_qs(urlsplit(url).query)
        start = int(asked["startTime"][0]) if "startTime" in asked else self.now - WEEK_MS
        end = int(asked["endTime"][0]) if "endTime" in asked else start + WEEK_MS
        shown = sorted(((i, ms) for i, ms in self.trades if start <= ms <= end), key=lambda trade: -trade[1])
        return page(*shown[: self.limit])


def starts(offline: Offline) -> list[int]:
    """The startTime of each execution list asked for, in order."""
    return [int(parse_qs(urlsplit(u).query)["startTime"][0]) for u in offline.urls if "/v5/execution/list" in u]


def ends(offline: Offline) -> list[int | None]:
    """The endTime of each execution list asked for (None: not given), in order."""
    asked = [parse_qs(urlsplit(u).query) for u in offline.urls if "/v5/execution/list" in u]
    return [int(query["endTime"][0]) if "endTime" in query else None for query in asked]


def at(ms: int) -> Any:  # freezegun's context manager
    return freeze_time(datetime.fromtimestamp(ms / 1000, tz=UTC))


def test_a_trade_more_than_a_week_after_the_cursor_is_synced(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # bybit (and ccxt's binance on linear contracts, which sets endTime = since + 7 days itself) answers a week
    # from the cursor: a trade 20 days after the last one synced lies outside the first window sync asks for.
    first, later = 1_700_000_000_000, 1_700_000_000_000 + 20 * DAY_MS
    with at(first + DAY_MS):
        sync(url, Windowed([("a", first)], now=first + DAY_MS), monkeypatch, capsys)
    windowed = Windowed([("a", first), ("b", later)], now=later + DAY_MS)

    with at(later + DAY_MS):
        status, report = sync(url, windowed, monkeypatch, capsys)

    assert status == 0
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b"]
    asked = starts(windowed)
    # the cursor's week (only a again), the next one (empty), the third (days 14-21: b), what lies before b in it
    # (b's answer began after the cursor: only b again, as long as that answer, all of b's ms: it may have been cut
    # within it), what lies strictly before b (empty), then from b (b again)
    assert asked == [first, first + WEEK_MS, first + 2 * WEEK_MS, first + 2 * WEEK_MS, first + 2 * WEEK_MS, later]
    assert ends(windowed) == [None, None, None, later, later - 1, None]
    assert isinstance(report, dict)
    assert report["streams"][0]["cursor"] == datetime.fromtimestamp(later / 1000, tz=UTC).isoformat()


def test_the_empty_weeks_a_sync_stepped_over_are_not_asked_again(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = 1_700_000_000_000
    with at(first + DAY_MS):
        sync(url, Windowed([("a", first)], now=first + DAY_MS), monkeypatch, capsys)
    with at(first + 30 * DAY_MS):
        sync(url, Windowed([("a", first)], now=first + 30 * DAY_MS), monkeypatch, capsys)
    again = Windowed([("a", first)], now=first + 31 * DAY_MS)

    with at(first + 31 * DAY_MS):
        status, report = sync(url, again, monkeypatch, capsys)

    assert status == 0
    # the last week stepped to (its start 28 days after a) is where the third sync starts: one call, nothing new
    assert starts(again) == [first + 4 * WEEK_MS]
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"]) == (0, 0)
    assert trade_ids(url) == ["BTC/USDT:a"]


@pytest.mark.parametrize(
    ("exchange", "symbol", "days"),
    [
        ("bybit", "BTC/USDT", 7),  # the execution list: a week after startTime
        ("binance", "BTC/USDT", 1),  # spot trades: at most a day between start and end
        ("binance", "BTC/USDT:USDT", 7),  # linear contracts: ccxt sets the end a week after since
        ("kucoin", "BTC/USDT", 7),
        ("kraken", "BTC/USDT", 1),  # ccxt names no span: a day, the shortest any exchange answers
    ],
)
def test_a_trades_streams_window_is_the_span_ccxts_features_give_its_market(
    exchange: str, symbol: str, days: int
) -> None:
    client = getattr(ccxt, exchange)()

    assert syncing._window(client.features, symbol) == days * DAY_MS


@pytest.mark.parametrize("until_days", [None, 0, -7, True, "7", 7.5])
def test_a_window_ccxt_does_not_give_as_a_whole_number_of_days_is_a_day(until_days: object) -> None:
    features = {"spot": {"fetchMyTrades": {"untilDays": until_days}}}

    assert syncing._window(features, "BTC/USDT") == DAY_MS
    assert syncing._window(None, "BTC/USDT") == DAY_MS


class NewestFirst(Windowed):
    """bybit's execution list with its paging: Windowed, at most bybit's default of 50 executions an answer."""

    def __init__(self, trades: list[tuple[str, int]], now: int, limit: int = 50) -> None:
        super().__init__(trades, now, limit)


def synced_after_a_burst(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[NewestFirst, list[tuple[str, int]], int, dict[str, Any] | str]:
    """A bot down for two days: `a` synced at `first`, then 120 trades after it a minute apart, where bybit answers
    the newest 50 of the week first; the exchange, the burst, and the second sync's status and report."""
    first = 1_700_000_000_000
    with at(first + 1000):
        sync(url, NewestFirst([("a", first)], now=first + 1000), monkeypatch, capsys)
    burst = [(f"t{n:03}", first + 60_000 * (n + 1)) for n in range(120)]
    newest_first = NewestFirst([("a", first), *burst], now=first + 2 * DAY_MS)
    with at(first + 2 * DAY_MS):
        status, report = sync(url, newest_first, monkeypatch, capsys)
    return newest_first, burst, status, report


def test_trades_beyond_the_newest_page_an_exchange_answers_first_are_synced_in_time_order(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, burst, status, report = synced_after_a_burst(url, monkeypatch, capsys)

    assert status == 0
    assert trade_ids(url) == ["BTC/USDT:a", *(f"BTC/USDT:{ident}" for ident, _ in burst)]
    assert isinstance(report, dict)
    assert (report["appended"], report["streams"][0]["cursor"]) == (
        120,
        datetime.fromtimestamp(burst[-1][1] / 1000, tz=UTC).isoformat(),
    )


class FailingOnce(NewestFirst):
    """NewestFirst whose `failing`-th execution list (counted from 1) times out."""

    def __init__(self, trades: list[tuple[str, int]], now: int, failing: int) -> None:
        super().__init__(trades, now)
        self.failing = failing

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        if "/v5/execution/list" in url and len(starts(self)) + 1 == self.failing:
            self.urls.append(url)
            raise ccxt.NetworkError("bybit GET https://api.bybit.com timed out")
        return super().fetch(url)


def test_a_failure_while_asking_what_lies_before_a_newest_page_appends_none_of_it_and_the_next_sync_gets_all(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = 1_700_000_000_000
    with at(first + 1000):
        sync(url, NewestFirst([("a", first)], now=first + 1000), monkeypatch, capsys)
    burst = [(f"t{n:03}", first + 60_000 * (n + 1)) for n in range(120)]
    with at(first + 2 * DAY_MS):
        # the newest 50, then the 50 before them, then the call for the first 20 fails
        status, error = sync(url, FailingOnce([("a", first), *burst], first + 2 * DAY_MS, 3), monkeypatch, capsys)
        assert (status, trade_ids(url)) == (2, ["BTC/USDT:a"])  # not the newest 100 with a gap before them
        assert isinstance(error, str)
        assert "NetworkError" in error
        assert "cursor 2023-11-14T22:13:20+00:00" in error

        status, report = sync(url, NewestFirst([("a", first), *burst], now=first + 2 * DAY_MS), monkeypatch, capsys)

    assert status == 0
    assert trade_ids(url) == ["BTC/USDT:a", *(f"BTC/USDT:{ident}" for ident, _ in burst)]
    assert isinstance(report, dict)
    assert report["appended"] == 120


def test_the_calls_for_what_lies_before_a_newest_page_end_at_the_cursor_each_up_to_the_earliest_entry_yet(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    newest_first, burst, status, report = synced_after_a_burst(url, monkeypatch, capsys)

    assert status == 0
    # from the cursor: t070-t119; up to t070: t021-t070; up to t021: a, t000-t021 (reaches the cursor); from t119
    assert starts(newest_first) == [1_700_000_000_000] * 3 + [burst[-1][1]]
    assert ends(newest_first) == [None, burst[70][1], burst[21][1], None]
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"], report["streams"][0]["pages"]) == (120, 4, 4)


@pytest.mark.parametrize(
    ("exchange", "call", "reads"),
    [
        ("bybit", "fetch_my_trades", True),  # handle_until_option('endTime', ...)
        ("okx", "fetch_my_trades", True),
        ("kucoin", "fetch_funding_history", True),
        ("binance", "fetch_deposits", True),
        ("kucoin", "fetch_my_trades", True),  # returns what its spot, contract or UTA method returns: each reads it
        ("bitvavo", "fetch_my_trades", False),  # only through ccxt's own pagination (its `paginate` option)
        ("bitstamp", "fetch_my_trades", False),  # would send `until` to bitstamp as it is
        ("gemini", "fetch_my_trades", False),
    ],
)
def test_until_is_sent_only_to_a_ccxt_call_whose_code_reads_it(exchange: str, call: str, *, reads: bool) -> None:
    assert syncing._reads_until(getattr(getattr(ccxt, exchange)(), call)) is reads


def test_a_call_without_source_to_read_is_not_sent_until() -> None:
    assert syncing._reads_until(len) is False


def test_without_symbols_a_sync_takes_those_the_account_holds_on_that_exchange(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(url, Offline([page(("a", T + 1000)), page(("a", T + 1000))]), monkeypatch, capsys)
    with open_ledger(url) as ledger:  # a fill of the account on another exchange, and one of another account
        ledger.record_many(
            [
                {"fill_id": "k", "exchange": "kraken", "symbol": "ETH/USD", "side": "buy", "quantity": "1",
                 "price": "2000", "occurred_at": "2026-01-01T00:00:05+00:00"},
                {"fill_id": "o", "account": "other", "exchange": "bybit", "symbol": "SOL/USDT", "side": "buy",
                 "quantity": "1", "price": "20", "occurred_at": "2026-01-01T00:00:05+00:00"},
            ]
        )  # fmt: skip
    again = Offline([page(("a", T + 1000))])
    monkeypatch.setattr(syncing, "connect", again)

    status = main(["--db", url, "sync", "bybit", "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 0
    assert [stream["stream"] for stream in report["streams"]] == ["trades BTC/USDT", "deposits", "withdrawals"]


def test_without_symbols_a_sync_of_an_account_that_holds_none_there_asks_for_them(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(syncing, "connect", Offline([]))

    status = main(["--db", url, "sync", "bybit"])

    assert status == 2
    assert capsys.readouterr().err == (
        "error: sync 'bybit': name the symbols with --symbols (the ledger holds none for account 'default' on "
        "'bybit')\n"
    )


def test_a_call_that_reads_until_into_a_parameter_of_its_own_of_that_name_is_sent_it() -> None:
    # ccxt's alpaca.fetch_my_trades reads `until` and writes alpaca's own `until` (ISO 8601): that request is sent,
    # only one still holding the value sync gave (ccxt passing it on unread) is stopped.
    alpaca = ccxt.alpaca({"apiKey": "key", "secret": "secret"})
    alpaca.number = str
    alpaca.set_markets([market("BTC/USD", "BTC/USD", "BTC", "USD")])
    asked: list[str] = []

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        asked.append(url)
        return []  # no fills

    alpaca.fetch = fetch
    stream = syncing._stream(alpaca, "fetch_my_trades", "BTC/USD", "trades BTC/USD", Kind.TRADES)

    assert stream.backward is True
    assert stream.fetch(1_700_000_000_000, 1_700_000_100_000) == []
    (url,) = asked
    assert url == (
        "https://api.alpaca.markets/v2/account/activities/FILL"
        "?until=2023-11-14T22%3A15%3A00.000Z&after=2023-11-14T22%3A13%3A20.000Z"
    )


def newest_first(*trades: tuple[str, int]) -> dict[str, Any]:
    """bybit's answer with its trades newest first and its page cursor beside them, as bybit writes it (the recorded
    row holds the cursor ccxt wrote into it when it was recorded: left out). ccxt writes the cursor into the first."""
    answer = page(*sorted(trades, key=lambda trade: -trade[1]))
    for row in answer["result"]["list"]:
        del row["nextPageCursor"]
    answer["result"]["nextPageCursor"] = f"{trades[-1][0]}%3A0%2C{trades[0][0]}%3A0"
    return answer


@pytest.mark.parametrize("grown", [{}, {"extraFees": ""}], ids=["as-it-was", "a-field-added"])
def test_a_trade_seen_again_with_only_its_raw_record_changed_is_a_duplicate_and_the_sync_goes_on(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], grown: dict[str, str]
) -> None:
    # A sync asks again from its cursor, inclusive: its last trade b comes back. ccxt writes bybit's page cursor
    # (nextPageCursor, another for each answer) into the raw record of the first row of each answer, the newest: b's
    # in the first answer and in the one from b; c's, newer, in the next sync's, where b has none. Its `info` differs
    # each time; bybit also adds fields to its records over time (extraFees). b's accounting is unchanged: it is the
    # same fill, a duplicate (the log keeps its record as first seen), and each sync goes on.
    first = sync(
        url,
        Offline([newest_first(("a", T + 1000), ("b", T + 2000)), newest_first(("b", T + 2000))]),
        monkeypatch,
        capsys,
    )
    assert first[0] == 0, first[1]
    answer = newest_first(("b", T + 2000), ("c", T + 3000))
    for row in answer["result"]["list"]:
        row.update(grown)
    again = Offline([answer, newest_first(("c", T + 3000))])

    status, report = sync(url, again, monkeypatch, capsys)

    assert status == 0, report
    assert isinstance(report, dict)
    assert (report["appended"], report["duplicates"]) == (1, 2)
    assert trade_ids(url) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c"]
    with open_ledger(url) as ledger:
        kept = ledger.history()[1].event.metadata
    assert kept is not None
    assert kept["info"]["nextPageCursor"] == "b%3A0%2Ca%3A0"
    assert "extraFees" not in kept["info"]
