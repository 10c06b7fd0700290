"""The compat read models start from the stored projection and stay current through a subscription (issue 18).

Reads are counted by a store double that counts read transactions and the events they return (never
by timing): a TradeManager opened on a long history reads the projection and the first and last
fill of each open cycle only (a cycle's trades are read when first looked into); an unchanged
ledger costs no read per call; the whole history is read once, on first use of what needs it
(statistics, the trade list, the paper wallet's cash).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from typing import Any

import pytest

from tests.compat.conftest import Clock
from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.application.ports import EventLog, ProjectionStore, Transaction, UnitOfWork
from tradeledger.compat.account import AccountBook
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import create_trade
from tradeledger.domain.positions import ClosedPosition
from tradeledger.domain.records import StoredEvent
from tradeledger.storage.memory import MemoryChangeSignal, MemoryLedgerStore

BOT = "bot"
BTC, ETH = "BTC/USD", "ETH/USD"
CLOSED_CYCLES = 600  # 1,200 fills of BTC before the open ETH cycle
HISTORY = 2 * CLOSED_CYCLES + 3  # the account's events; a lazy read also reads the event at the book's position


class CountingLog:
    """The log of one read transaction; every event its reads return is counted."""

    def __init__(self, log: EventLog, store: CountingStore) -> None:
        self._log = log
        self._store = store

    def read(self, **bounds: Any) -> Iterator[StoredEvent]:
        for event in self._log.read(**bounds):
            self._store.events += 1
            yield event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


class CountingTransaction:
    def __init__(self, tx: Transaction, store: CountingStore) -> None:
        self._tx = tx
        self._store = store

    @property
    def log(self) -> EventLog:
        return CountingLog(self._tx.log, self._store)

    @property
    def projection(self) -> ProjectionStore:
        return CountingProjection(self._tx.projection, self._store)


class CountingProjection:
    """The projection of one read transaction; reads of every closed cycle are counted."""

    def __init__(self, projection: ProjectionStore, store: CountingStore) -> None:
        self._projection = projection
        self._store = store

    def closed(self) -> list[ClosedPosition]:
        self._store.closed_reads += 1
        return self._projection.closed()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._projection, name)


class CountingStore:
    """A MemoryLedgerStore that counts read transactions and the events read in them."""

    def __init__(self) -> None:
        self.inner = MemoryLedgerStore()
        self.reads = 0
        self.events = 0
        self.closed_reads = 0

    def reset(self) -> None:
        self.reads = self.events = self.closed_reads = 0

    def changes(self) -> MemoryChangeSignal:
        return self.inner.changes()

    def unit_of_work(
        self, *, market_data: bool = False, reads_ahead: bool = False
    ) -> AbstractContextManager[UnitOfWork]:
        return self.inner.unit_of_work(market_data=market_data, reads_ahead=reads_ahead)

    @contextmanager
    def reading(self) -> Iterator[Transaction]:
        self.reads += 1
        with self.inner.reading() as tx:
            yield CountingTransaction(tx, self)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def counted(store: CountingStore, clock: Clock) -> Iterator[Ledger]:
    with Ledger(store, clock=clock) as opened:
        yield opened


def fill(symbol: str, side: str, quantity: str, price: str, account: str = BOT, fee: str = "0") -> dict[str, Any]:
    return fill_fields(account=account, symbol=symbol, side=side, quantity=quantity, price=price, fee=fee)


def long_history(ledger: Ledger, fills: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """CLOSED_CYCLES closed BTC cycles, another account's fill, then an ETH cycle of three fills (open)."""
    if fills is not None:
        ledger.record_many(fills)
        return fills
    fills = []
    for n in range(CLOSED_CYCLES):
        fills += [fill(BTC, "buy", "1", str(100 + n % 7)), fill(BTC, "sell", "1", str(101 + n % 5), fee="0.1")]
    fills += [fill(BTC, "buy", "5", "90", account="other")]
    fills += [fill(ETH, "buy", "2", "10"), fill(ETH, "buy", "1", "13"), fill(ETH, "sell", "1", "12")]
    ledger.record_many(fills)
    return fills


def test_a_trade_manager_on_a_long_history_reads_the_projection_and_its_open_cycles_ends_only(
    counted: Ledger, store: CountingStore, clock: Clock
) -> None:
    long_history(counted)
    realized = counted.state(account=BOT).totals.realized_pnl
    store.reset()

    tm = TradeManager(counted, account=BOT, clock=clock)
    position = tm.get_position(ETH)

    assert store.events == 2  # the open ETH cycle's first and last fill, not the 1,203 before them
    assert store.closed_reads == 0  # nor the 600 closed cycles
    assert position is not None
    assert (position.total_amount, position.average_price) == (Decimal(2), Decimal(11))
    assert position.trades[0].price == Decimal(10)  # the fill that opened the cycle: at hand
    assert store.events == 2
    assert [t.price for t in position.trades] == [Decimal(10), Decimal(13), Decimal(12)]
    # The cycle's trades, read when first looked into: that cycle's only (after the event at the book's
    # position, which tells whether a rollback removed it).
    assert store.events == 2 + 1 + 3
    assert tm.get_position(BTC) is None
    assert len(tm.get_all_positions()) == 1
    assert store.events == 6

    # The statistics need every trade: read once, on first use, the account's only.
    statistics = tm.get_statistics()
    assert statistics["total_trades"] == HISTORY
    assert store.events == 6 + HISTORY + 1
    assert statistics["total_realized_pnl"] == realized
    assert len(tm.get_closed_positions()) == CLOSED_CYCLES  # read now, once
    assert store.closed_reads == 1
    tm.record_trade(create_trade(ETH, "sell", "2", "12", timestamp=clock()))  # closes the ETH cycle
    assert [p.symbol for p in tm.get_closed_positions()][-1] == ETH
    assert tm.get_portfolio_summary()["closed_positions_count"] == CLOSED_CYCLES + 1
    assert store.closed_reads == 1
    assert len(tm.get_trade_history()) == HISTORY + 1
    # Since the statistics: the event at its position (checked before the closed cycles are read) and the close.
    assert store.events == 6 + HISTORY + 1 + 1 + 1
    tm.close()


def test_the_legacy_figures_equal_those_of_a_book_folded_from_seq_one(counted: Ledger, clock: Clock) -> None:
    fills = long_history(counted)
    tm = TradeManager(counted, account=BOT, clock=clock)
    tm.update_price(ETH, "14")
    expected = tm.get_portfolio_summary()
    closed = [p.to_dict() for p in tm.get_closed_positions()]
    tm.close()

    # A TradeManager opened on an empty ledger that then folds every fill through its subscription.
    store = CountingStore()
    with Ledger(store, clock=clock) as fresh:
        follower = TradeManager(fresh, account=BOT, clock=clock)
        long_history(fresh, fills)
        follower.get_all_positions()  # caught up (update_price reads the book as it is)
        follower.update_price(ETH, "14")
        assert follower.get_portfolio_summary() == expected
        assert [p.to_dict() for p in follower.get_closed_positions()] == closed
        follower.close()


def test_an_unchanged_ledger_costs_no_read_per_call(counted: Ledger, store: CountingStore, clock: Clock) -> None:
    long_history(counted)
    tm = TradeManager(counted, account=BOT, clock=clock)
    tm.get_all_positions()
    store.reset()

    for _ in range(50):
        tm.get_position(ETH)
        tm.get_all_positions()
        dict(tm.legacy_positions())
        tm.get_total_unrealized_pnl()

    assert store.reads == 0

    counted.record(fill(ETH, "sell", "1", "15"))  # this process's append: seen at once, one read
    store.reset()
    position = tm.get_position(ETH)
    assert position is not None
    assert position.total_amount == Decimal(1)
    assert store.reads == 1
    assert store.events == 1
    tm.close()


def test_another_ledgers_append_is_seen_through_the_change_signal(
    counted: Ledger, store: CountingStore, clock: Clock
) -> None:
    tm = TradeManager(counted, account=BOT, clock=clock)
    tm.get_all_positions()
    # Another Ledger object on the same store: its appends do not move this one's counter.
    other = Ledger(store, clock=clock)
    other.record(fill(BTC, "buy", "1", "100"))
    other.record(fill(BTC, "buy", "1", "100", account="someone else"))

    position = tm.get_position(BTC)

    assert position is not None
    assert position.total_amount == Decimal(1)
    tm.close()


def test_a_paper_wallet_folds_its_cash_on_first_use_and_then_keeps_it_current(
    counted: Ledger, store: CountingStore, clock: Clock
) -> None:
    long_history(counted)
    store.reset()

    wallet = PaperWallet(counted, 100_000, account=BOT, clock=clock)
    assert store.events == 2  # constructed: the projection and the open cycle's first and last fill only
    assert list(wallet.positions) == [ETH]  # the open positions need no more
    assert store.events == 2

    balance = wallet.balance  # the cash: the account's events, once
    assert store.events == 2 + HISTORY + 1
    assert balance == counted.replay_wallet(Decimal(100_000), account=BOT).cash
    wallet.open(BTC, "buy", 1, 100)
    assert wallet.balance == balance - 100
    assert wallet.balance == counted.replay_wallet(Decimal(100_000), account=BOT).cash
    wallet.check_invariant()
    wallet.shutdown()
    assert wallet.balance == balance - 100  # still answers: it reads the log on each call


def test_a_rollback_resets_the_book_to_the_stored_projection(counted: Ledger, clock: Clock) -> None:
    long_history(counted)
    tm = TradeManager(counted, account=BOT, clock=clock)
    head = counted.head.seq
    counted.record(fill(BTC, "buy", "3", "100"))
    assert tm.get_position(BTC) is not None

    counted.rollback(to_seq=head, reason="bad fill", actor="test")

    assert tm.get_position(BTC) is None
    assert tm._book.resets == 1
    eth = tm.get_position(ETH)
    assert eth is not None
    assert eth.total_amount == Decimal(2)
    tm.close()


def test_closing_the_ledger_releases_the_subscriptions_still_open(counted: Ledger, clock: Clock) -> None:
    tm = TradeManager(counted, account=BOT, clock=clock)
    subscription = tm._book._subscription
    assert subscription._signal is not None

    counted.close()

    assert subscription._signal is None


def test_a_trade_that_closes_a_cycle_finds_it_without_reading_the_stored_closed_cycles(
    counted: Ledger, store: CountingStore, clock: Clock
) -> None:
    long_history(counted)
    tm = TradeManager(counted, account=BOT, clock=clock)
    closed: list[str] = []
    tm.add_position_callback(lambda position: closed.append(f"{position.symbol} {position.total_amount}"))
    store.reset()

    tm.record_trade(create_trade(ETH, "sell", "2", "12", timestamp=clock()))

    assert closed == ["ETH/USD 0"]
    assert store.closed_reads == 0
    assert store.events == 1  # the event it appended, seen through the subscription
    tm.close()


def test_a_long_open_cycle_costs_the_start_two_events_and_its_trades_are_read_when_looked_into(
    counted: Ledger, store: CountingStore, clock: Clock
) -> None:
    folded = TradeManager(counted, account=BOT, clock=clock)  # on an empty ledger: it folds every trade it sees
    buys = [fill(ETH, "buy", "1", str(100 + n % 9)) for n in range(300)]
    counted.record_many([*buys, fill(BTC, "buy", "1", "50", account="other")])
    expected = folded.get_position(ETH)
    assert expected is not None
    assert isinstance(expected.trades, tuple)
    store.reset()

    tm = TradeManager(counted, account=BOT, clock=clock)
    position = tm.get_position(ETH)

    assert store.events == 2  # the fills at the cycle's opened_seq and last_seq, whatever its length
    assert position is not None
    assert position.last_update == expected.last_update
    assert position.trades == expected.trades  # read now: the cycle's 300 trades, equal to a tuple of them
    assert store.events == 2 + 1 + 300
    assert len(position.trades) == 300
    assert position.to_dict() == expected.to_dict()
    assert store.events == 2 + 1 + 300  # read once
    folded.close()
    tm.close()


def test_the_trades_of_a_cycle_a_rollback_removed_are_refused_naming_it(counted: Ledger, clock: Clock) -> None:
    counted.record(fill(ETH, "buy", "1", "10"))
    head = counted.head.seq
    counted.record_many([fill(BTC, "buy", "1", "100"), fill(BTC, "buy", "1", "110")])
    tm = TradeManager(counted, account=BOT, clock=clock)
    position = tm.get_position(BTC)
    assert position is not None

    counted.rollback(to_seq=head, reason="bad fills", actor="test")
    assert tm.get_position(BTC) is None  # the book saw the rollback

    with pytest.raises(LookupError, match=r"BTC/USD cycle opened at seq 2 was rolled back"):
        list(position.trades)
    tm.close()


def test_an_open_cycle_whose_last_event_is_funding_still_shows_its_last_fill_time(
    counted: Ledger, store: CountingStore, clock: Clock
) -> None:
    perp = "BTC/USDT:USDT"
    opened = fill(perp, "buy", "1", "100") | {"exchange": "bybit"}
    funding = {
        "type": "funding",
        "funding_id": "f-1",
        "account": BOT,
        "exchange": "bybit",
        "symbol": perp,
        "amount": "-2",
        "currency": "USDT",
        "occurred_at": "2026-01-06T10:00:00+00:00",
    }
    counted.record_many([opened, funding])
    store.reset()

    tm = TradeManager(counted, account=BOT, clock=clock)
    position = tm.get_position(perp)

    assert position is not None
    assert position.last_update.isoformat() == opened["occurred_at"]  # the fill's time, not the funding's
    assert [t.id for t in position.trades] == [opened["fill_id"]]
    tm.close()


def test_a_book_keeps_its_open_positions_in_the_order_their_cycles_opened_whether_folded_or_started(
    counted: Ledger, clock: Clock
) -> None:
    # BTC opens, ETH opens, then BTC flips short: its open cycle now starts after ETH's. The sums over the
    # open positions (unrealized PnL) add in this order, so a book that folded the flip and a book that
    # started from the stored projection after it must hold the same order.
    follower = AccountBook(counted, BOT)
    counted.record_many([fill(BTC, "buy", "1", "100"), fill(ETH, "buy", "1", "10"), fill(BTC, "sell", "3", "110")])
    follower.refresh()
    started = AccountBook(counted, BOT)

    assert list(follower.open) == [ETH, BTC]
    assert list(started.open) == [ETH, BTC]
    assert [p.opened_seq for p in follower.open.values()] == [2, 3]
    follower.close()
    started.close()
