"""`sync` loses nothing and books nothing twice, whatever the exchange's paging (syncing's module docstring).

A model exchange (a plain client, not ccxt: what syncing uses of one) holds drawn trades of a few symbols, each
visible from its own millisecond on, and answers `fetch_my_trades` as drawn: oldest first or newest first, a page
of 1..60, only a window after `since` (ccxt's `untilDays`) or all after it, reading ccxt's `until` or not. A
drawn schedule runs `sync` at increasing clock times (freezegun), some runs cut by a ccxt.NetworkError at one of
the exchange's calls, some followed by a rollback of the ledger; the last runs after every trade.

Then every trade is in the ledger once, in time order per symbol, where the model reads `until` or answers oldest
first. README's known limits, where only "nothing booked twice, nothing invented" is asserted: a newest-first
model that does not read `until` loses what lies before the newest page of an answer that begins after the cursor
(sync cannot ask backward); an oldest-first model answering one entry a page never gets past the cursor's entry
(its answer from the cursor is that entry again, which ends the stream). A millisecond holding more trades of a
symbol than a page is not drawn (it keeps only a page of them).

A stream that has neither a cursor of the ledger's epoch nor any of its trades in the ledger (the first run, or
after a rollback that removed all of its symbol's trades) starts where the exchange starts without `since`
(README: often only its latest page): the schedule passes `since` (the start of the trades) to such a run, as a
user must.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ccxt
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from tests.property.conftest import LedgerTemplate
from tradeledger import Ledger
from tradeledger.domain.fills import Fill
from tradeledger.exchanges.ccxt import syncing
from tradeledger.exchanges.ccxt.calls import SyncFailed
from tradeledger.exchanges.ccxt.syncing import DAY_MS

EXCHANGE = "model"
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
T0 = 1_700_000_000_000  # the earliest trade's ms
SPAN = 10 * DAY_MS  # every trade lies in [T0, T0 + SPAN]


@dataclass(frozen=True, slots=True)
class Behaviour:
    newest_first: bool
    page: int  # entries an answer holds at most
    window_days: int | None  # the span after `since` an answer covers (untilDays), None: all after it
    reads_until: bool


@dataclass(frozen=True, slots=True)
class Trade:
    ident: str
    ms: int
    symbol: str

    @property
    def event_id(self) -> str:
        return f"{self.symbol}:{self.ident}"


@dataclass(frozen=True, slots=True)
class Run:
    at: int  # the clock, ms
    failing_call: int | None  # the exchange's call (counted from 1 in the run) that raises NetworkError
    rollback_to: int | None  # per mille of the head's seq the ledger is rolled back to after the run


class Model:
    """The exchange: `trades`, each visible once the clock reaches its ms, answered as `behaviour` says."""

    id = EXCHANGE
    has: dict[str, Any] = {"fetchMyTrades": True}  # noqa: RUF012 - ccxt's shape

    def __init__(self, behaviour: Behaviour, trades: list[Trade]) -> None:
        self.behaviour, self.trades = behaviour, trades
        days = behaviour.window_days
        self.features: dict[str, Any] = {} if days is None else {"spot": {"fetchMyTrades": {"untilDays": days}}}
        self.calls = 0
        self.failing_call: int | None = None

    def __repr__(self) -> str:
        return f"Model({self.behaviour})"

    def load_markets(self) -> dict[str, Any]:
        return {symbol: {"symbol": symbol, "spot": True, "contract": False} for symbol in SYMBOLS}

    def answer(self, symbol: str, since: int | None, until: int | None) -> list[dict[str, Any]]:
        self.calls += 1
        if self.calls == self.failing_call:
            raise ccxt.NetworkError(f"{EXCHANGE} call {self.calls} timed out")
        now = int(datetime.now(UTC).timestamp() * 1000)
        window = None if self.behaviour.window_days is None else self.behaviour.window_days * DAY_MS
        if since is None:  # the exchange's latest page: the window before now
            start, end = (0 if window is None else now - window), now if until is None else until
        else:
            start = since
            end = until if until is not None else now if window is None else since + window
        if window is not None and end - start > window:
            raise ccxt.BadRequest(f"{EXCHANGE}: more than {window} ms between since {start} and until {end}")
        shown = sorted(
            (t for t in self.trades if t.symbol == symbol and start <= t.ms <= min(end, now)),
            key=lambda t: (t.ms, t.ident),
            reverse=self.behaviour.newest_first,
        )
        if since is None and not self.behaviour.newest_first:
            shown = shown[-self.behaviour.page :]  # the latest page, oldest first
        return [
            {"id": t.ident, "timestamp": t.ms, "symbol": t.symbol, "side": "buy", "price": "70", "amount": "1"}
            for t in shown[: self.behaviour.page]
        ]


class ReadsUntil(Model):
    def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        assert limit is None
        until = (params or {}).get("until")
        return self.answer(symbol, since, until)


class IgnoresUntil(Model):
    def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        assert limit is None
        assert params is None  # sync sends no parameter to a call that does not read it
        return self.answer(symbol, since, None)


def behaviours() -> st.SearchStrategy[Behaviour]:
    return st.builds(
        Behaviour,
        newest_first=st.booleans(),
        page=st.integers(1, 4) | st.integers(1, 60),  # small pages: many pages, full ones of one ms
        window_days=st.none() | st.integers(1, 7),
        reads_until=st.booleans(),
    )


@st.composite
def trade_sets(draw: st.DrawFn, page: int) -> list[Trade]:
    """Up to 40 trades over SPAN in a few symbols; with `same_ms`, each instant holds 1..page trades of a symbol
    (at most a page: README's known limit is a millisecond holding more than a page)."""
    same_ms = draw(st.booleans())
    counts = st.integers(1, page) if same_ms else st.just(1)
    groups = draw(st.lists(st.tuples(st.integers(0, SPAN), st.sampled_from(SYMBOLS), counts), max_size=20))
    trades: list[Trade] = []
    for offset, symbol, count in groups:
        if any(t.symbol == symbol and t.ms == T0 + offset for t in trades):
            continue  # an instant's trades are drawn once
        trades += [Trade(f"t{len(trades) + n:03}", T0 + offset, symbol) for n in range(count)]
    return trades[:40]


@st.composite
def schedules(draw: st.DrawFn) -> list[Run]:
    """Runs at increasing clock times within the trades' span, then one a day after it, without a failure."""
    times = sorted(set(draw(st.lists(st.integers(0, SPAN), max_size=4))))
    runs = [
        Run(
            T0 + offset,
            draw(st.none() | st.integers(1, 30)),
            draw(st.none() | st.integers(0, 1000)),
        )
        for offset in times
    ]
    return [*runs, Run(T0 + SPAN + DAY_MS, None, None)]


def needs_since(ledger: Ledger, symbols: tuple[str, ...]) -> bool:
    """Whether a stream has neither a cursor of the ledger's epoch nor a trade in the ledger (see the module)."""
    epoch = ledger.head.epoch
    for symbol in symbols:
        key = syncing.cursor_key("default", EXCHANGE, f"trades {symbol}")
        stored = ledger.cursors([key]).get(key)
        if stored is not None and json.loads(stored)["epoch"] == epoch:
            continue
        if ledger.last_occurred(account="default", exchange=EXCHANGE, types=("fill",), symbol=symbol) is None:
            return True
    return False


def run_schedule(ledger: Ledger, model: Model, runs: list[Run]) -> None:
    for run in runs:
        model.calls, model.failing_call = 0, run.failing_call
        since = datetime.fromtimestamp(T0 / 1000, tz=UTC) if needs_since(ledger, SYMBOLS) else None
        failure: str | None = None
        with freeze_time(datetime.fromtimestamp(run.at / 1000, tz=UTC)):
            try:
                syncing.sync(ledger, model, exchange=EXCHANGE, symbols=SYMBOLS, since=since)  # type: ignore[arg-type]
            except SyncFailed as failed:
                failure = str(failed)
        # only the planned failure ends a run early (the model refuses nothing else sync should ask)
        expected = None if run.failing_call is None else f"call {run.failing_call} timed out"
        assert failure is None or (expected is not None and expected in failure), failure
        head = ledger.head.seq
        if run.rollback_to is not None and head * run.rollback_to // 1000 < head:
            ledger.rollback(to_seq=head * run.rollback_to // 1000, reason="property", actor="test")


@given(data=st.data(), behaviour=behaviours(), runs=schedules())
def test_sync_books_every_trade_once_in_time_order_whatever_the_exchanges_paging(
    empty_ledger: LedgerTemplate, data: st.DataObject, behaviour: Behaviour, runs: list[Run]
) -> None:
    trades = data.draw(trade_sets(behaviour.page), label="trades")
    model = (ReadsUntil if behaviour.reads_until else IgnoresUntil)(behaviour, trades)
    with empty_ledger.fresh() as ledger:
        run_schedule(ledger, model, runs)
        fills = [recorded.fill for recorded in ledger.history()]
    booked = [(fill.event_id, fill.symbol, fill.occurred_at) for fill in fills if isinstance(fill, Fill)]
    assert len(booked) == len(fills)  # trades only

    counted = Counter(event_id for event_id, _, _ in booked)
    assert [event_id for event_id, times in counted.items() if times > 1] == []  # nothing booked twice
    assert set(counted) <= {t.event_id for t in trades}  # nothing invented
    if behaviour.reads_until if behaviour.newest_first else behaviour.page > 1:
        assert set(counted) == {t.event_id for t in trades}  # nothing lost
        for symbol in SYMBOLS:
            times = [occurred for _, of, occurred in booked if of == symbol]
            assert times == sorted(times), symbol


def synced(empty_ledger: LedgerTemplate, model: Model, runs: list[Run]) -> list[str]:
    """The event ids the ledger holds after `runs` against `model`, in log order."""
    with empty_ledger.fresh() as ledger:
        run_schedule(ledger, model, runs)
        return [recorded.fill.event_id for recorded in ledger.history()]


def test_an_oldest_first_page_cut_within_the_cursors_millisecond_does_not_end_the_stream(
    empty_ledger: LedgerTemplate,
) -> None:
    # Two a page, oldest first: from T0 a and b (b's ms the cursor), from b's ms b and c, both of the cursor's ms
    # (a full page: the exchange may hold more of it), then d after them.
    trades = [Trade("a", T0, "BTC/USDT"), Trade("b", T0 + 1, "BTC/USDT"), Trade("c", T0 + 1, "BTC/USDT")]
    trades.append(Trade("d", T0 + 2, "BTC/USDT"))
    model = IgnoresUntil(Behaviour(newest_first=False, page=2, window_days=None, reads_until=False), trades)

    ids = synced(empty_ledger, model, [Run(T0 + DAY_MS, None, None)])

    assert ids == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c", "BTC/USDT:d"]


def test_a_newest_first_answer_cut_within_the_millisecond_it_starts_at_loses_none_of_it(
    empty_ledger: LedgerTemplate,
) -> None:
    # Two a page, newest first, from T0 (the first sync: `since`): c, then b of T0's ms; a, also of T0's ms, is
    # left out of the page by c, and the answer begins at the cursor, not after it.
    trades = [Trade("a", T0, "BTC/USDT"), Trade("b", T0, "BTC/USDT"), Trade("c", T0 + 1, "BTC/USDT")]
    model = ReadsUntil(Behaviour(newest_first=True, page=2, window_days=None, reads_until=True), trades)

    ids = synced(empty_ledger, model, [Run(T0 + DAY_MS, None, None)])

    assert sorted(ids) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c"]


def test_a_newest_first_answer_asked_backward_cut_within_the_millisecond_of_the_cursor_loses_none_of_it(
    empty_ledger: LedgerTemplate,
) -> None:
    # Three a page, newest first, from T0 (the first sync: `since`): e, d, c, beginning after the cursor; asked up
    # to c's ms: d, c and b, reaching the cursor's ms, where a is left out by the page.
    trades = [Trade("a", T0, "BTC/USDT"), Trade("b", T0, "BTC/USDT"), Trade("c", T0 + 1, "BTC/USDT")]
    trades += [Trade("d", T0 + 1, "BTC/USDT"), Trade("e", T0 + 2, "BTC/USDT")]
    model = ReadsUntil(Behaviour(newest_first=True, page=3, window_days=None, reads_until=True), trades)

    ids = synced(empty_ledger, model, [Run(T0 + DAY_MS, None, None)])

    assert sorted(ids) == ["BTC/USDT:a", "BTC/USDT:b", "BTC/USDT:c", "BTC/USDT:d", "BTC/USDT:e"]
