"""AccountBook: one account's positions, started from the stored projection and kept current by a subscription.

Every legacy view (TradeManager, ctx.positions, the PositionMonitor, the paper wallet) reads an
AccountBook. It is a cache of the log, never a source, and it never folds the whole history to start:

- **At start** (and after a rollback) it reads, in one read transaction (`Ledger.account_start`):
  the account's rows of the stored projection (each symbol's open cycle and closed-cycle totals),
  the projection's checkpoint, and the first and last event of each open cycle: what the legacy
  shapes of open positions need at once (the fill that opened each: its price and strategy; the last
  fill time). Positions and totals continue from those rows (`PositionFold` started from them, as a
  replay starts from a snapshot), so they are the stored projection's, to the digit. What it reads
  grows with the open positions, never with the history (nor with the length of an open cycle).
- **Lazily, on first use** (`Ledger.account_closed`): the stored closed cycles up to the start's
  checkpoint (`positions.closed`: the legacy closed positions and their count); the cycles closed
  since are folded, so a trade that closes a cycle finds it without that read (`closed_at`).
- **Lazily, on first use** (`Ledger.account_history`, one read of the account's events up to the
  book's position, which must still be in the log): the full trade list and what is summed over it
  (`trades`, `by_symbol`, `volume`, `fees`: the legacy statistics, the trade history, the state
  file, a paper id check, the trades of a cycle before the checkpoint, which `cycle_trades` hands out
  as a `CycleTrades` read when first looked into),
  and the paper wallet (`wallet`). The wallet's cash is not derived from the projection: it is
  `B0 + realized + funding - fees - Σ|s|·avg` only up to the rounding of `avg` in the 28th digit
  (domain.wallet's invariant allows exactly that), and the legacy figures are the fold's, so the
  wallet is a fold of the account's events (never other accounts'), kept current after. It starts
  from the wallet's checkpoint when one is stored and the log still has its position (`WalletSource`:
  compat.paper_wallet.checkpoint), folding only the account's events after it; else from the first
  event, once (and the trades that read brings are kept).
- **Staying current** (`refresh()`): a subscription (`Ledger.subscribe`) after the checkpoint. A
  refresh first asks, without reading, whether anything may have changed: `Ledger.writes` moved (an
  append or rollback by this process, visible as soon as it returned, before any PostgreSQL NOTIFY
  arrives) or the store's change signal fired (another process committed: `PRAGMA data_version` on
  SQLite, LISTEN/NOTIFY on PostgreSQL). When neither did, a refresh costs no read transaction. Else
  it reads the notices after its position in batches (every account's events, filtered here) and
  folds this account's. A `RollbackNotice` resets the book: the stored projection is loaded again.

The subscription holds a connection of its own (a SQLite connection, or a PostgreSQL connection out
of the pool): `close()` releases it (TradeManager.close, PaperWallet.shutdown), a `weakref.finalize`
does when the book is collected, and so does `Ledger.close()`. A closed book still answers, reading
on every refresh as it did before subscriptions.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Protocol, overload

from tradeledger.application.ledger import Ledger
from tradeledger.application.subscribing import RollbackNotice
from tradeledger.compat.trades import Trade
from tradeledger.domain.events import Funding
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import (
    ZERO,
    ClosedPosition,
    Outcome,
    Position,
    Totals,
    accounting_of,
    portfolio_totals,
)
from tradeledger.domain.records import Checkpoint, RecordedFill
from tradeledger.domain.wallet import WalletBook, WalletReplay


class CycleTrades(Sequence[Trade]):
    """The trades of a position cycle, read from the log when first looked into (`len`, iteration, an index
    other than 0); the first, the fill that opened the cycle, is at hand. Equal to a tuple of the same trades."""

    __slots__ = ("_first", "_load", "_trades")

    def __init__(self, first: Trade, load: Callable[[], tuple[Trade, ...]]) -> None:
        self._first = first
        self._load = load
        self._trades: tuple[Trade, ...] | None = None

    def _all(self) -> tuple[Trade, ...]:
        if self._trades is None:
            self._trades = self._load()
        return self._trades

    @overload
    def __getitem__(self, index: int) -> Trade: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Trade, ...]: ...
    def __getitem__(self, index: int | slice) -> Trade | tuple[Trade, ...]:
        if isinstance(index, int) and index == 0:
            return self._first
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __bool__(self) -> bool:
        return True  # a cycle has at least the fill that opened it

    def __iter__(self) -> Iterator[Trade]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return self._all() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all()) if self._trades is not None else f"CycleTrades(first={self._first!r}, ...)"


@dataclass(frozen=True, slots=True)
class ResumedWallet:
    """Where a paper wallet's fold starts: a checkpoint's wallet at `at` (None: none, fold from the first
    event, `at` at seq 0) and the account's events after it, up to the book's position."""

    replay: WalletReplay | None
    at: Checkpoint
    events: list[RecordedFill]


class WalletSource(Protocol):
    """Where a paper wallet's fold is kept between runs (compat.paper_wallet.checkpoint)."""

    @property
    def initial_balance(self) -> Decimal: ...

    def resume(self, at: Checkpoint) -> ResumedWallet | None:
        """The wallet to start from for a book at `at`; None when the log no longer has `at`."""


@dataclass(frozen=True, slots=True)
class Folded:
    """One fill the book caught up with, and what it did to its position."""

    seq: int
    trade: Trade
    before: Position | None
    outcome: Outcome


class AccountBook:
    """The positions, trades, statistics (and optionally the paper wallet) of one account."""

    def __init__(
        self,
        ledger: Ledger,
        account: str,
        *,
        wallet: WalletSource | None = None,
        guard: AbstractContextManager[object] | None = None,
    ) -> None:
        self._ledger = ledger
        self.account = account
        self._guard = threading.RLock() if guard is None else guard  # held while a CycleTrades reads its trades
        self._wallet_source = wallet
        self.resets = -1  # _reset() counts: 0 after construction, +1 each time the log went backwards
        self.reads = 0  # read transactions this book opened (for tests: an unchanged ledger costs none)
        self.events_read = 0  # events those reads returned (for tests: the start reads no whole history)
        self._subscription = ledger.subscribe(after=0)
        self._finalizer = weakref.finalize(self, self._subscription.close)
        self._reset()

    def close(self) -> None:
        """Release the subscription's connection (a later refresh reads every time instead)."""
        self._finalizer()

    # --- loading ------------------------------------------------------------------------------

    def _reset(self) -> None:
        """Start (again) from the stored projection at its checkpoint (see the module)."""
        self.resets += 1
        self._subscription.changed()  # the signal watches from before the read: no commit after it is missed
        self._seen_writes = self._ledger.writes
        start = self._ledger.account_start(self.account)
        self.reads += 1
        self.events_read += len(start.fills)
        self._subscription.seek(start.position)
        self.seq, self.epoch = start.position.seq, start.position.epoch
        self._start_seq = start.position.seq
        self._fold_positions = PositionFold(start.rows, last_seq=start.position.seq)  # .closed: those since
        self._closed_loaded = False
        self.open: dict[str, Position] = {
            position.symbol: position
            for position, _ in sorted(
                (row for row in start.rows.values() if row[0] is not None),
                key=lambda row: row[0].opened_seq if row[0] is not None else 0,
            )
            if position is not None
        }
        self._trades: list[tuple[int, Trade]] = []
        self._by_symbol: dict[str, list[tuple[int, Trade]]] = defaultdict(list)
        self._legs: list[Fill] = []  # the fill of each trade (the statistics sum its quantity·price and fee)
        self._trades_after = start.position.seq  # the book holds every trade of the account after this seq
        # ... and, before it, the fills that opened the open cycles and the last fill of each (trade_at, last_fill_time)
        self._known = {r.seq: Trade.from_fill(r.fill) for r in start.fills if isinstance(r.fill, Fill)}
        self._sums: tuple[Decimal, Decimal] | None = None  # (volume, fees) once the whole history is read
        self._wallet: WalletReplay | None = None
        self._wallet_seq = 0  # the log position the wallet is folded to (ahead of the book: a later checkpoint)
        self._wallet_ahead: Checkpoint | None = None  # that checkpoint, until the book reads its event

    def _history(self) -> list[RecordedFill]:
        """The account's events up to the book's position; resets the book first when a rollback removed it."""
        while True:
            at = self._subscription.position
            found = self._ledger.account_history(self.account, at=at, until_seq=at.seq)
            self.reads += 1
            if found is not None:
                self.events_read += len(found)
                return found
            self._reset()

    def _load_closed(self) -> None:
        """The stored closed cycles before the start's checkpoint, put before those folded since (once)."""
        while not self._closed_loaded:
            at = self._subscription.position
            found = self._ledger.account_closed(self.account, at=at, until_seq=self._start_seq)
            self.reads += 1
            if found is None:
                self._reset()
                continue
            self._fold_positions.closed[:0] = found
            self._closed_loaded = True

    def _load_history(self, history: list[RecordedFill] | None = None) -> None:
        """Every trade of the account (read lazily: the statistics, the history, closed cycles' trades)."""
        if self._trades_after > 0:
            earlier = [r for r in (self._history() if history is None else history) if r.seq <= self._trades_after]
            kept, by_symbol, legs = self._trades, self._by_symbol, self._legs
            self._trades, self._by_symbol, self._legs = [], defaultdict(list), []
            for recorded in earlier:
                self._keep_trade(recorded)
            self._trades.extend(kept)
            self._legs.extend(legs)
            for symbol, pairs in by_symbol.items():
                self._by_symbol[symbol].extend(pairs)
            self._trades_after = 0
        if self._sums is None:
            volume = fees = ZERO
            with localcontext(LEDGER_CONTEXT):
                for fill in self._legs:  # in log order, as the legacy statistics summed them
                    volume += fill.quantity * fill.price
                    fees += fill.fee
            self._sums = (volume, fees)

    def _load_wallet(self, source: WalletSource) -> WalletReplay:
        """The paper wallet: its checkpoint and the account's events after it, else folded from the account's
        first event (lazily; see the module for why it is not derived from the projection)."""
        while self._wallet is None:
            at = self._subscription.position
            found = source.resume(at)
            self.reads += 1
            if found is None:  # a rollback removed the book's position
                self._reset()
                continue
            self.events_read += len(found.events)
            replay = WalletReplay(source.initial_balance) if found.replay is None else found.replay
            for recorded in found.events:
                replay.apply(accounting_of(recorded.seq, recorded.fill))
            if found.replay is None:
                self._load_history(found.events)  # the whole history was read: its trades too
            self._wallet, self._wallet_seq = replay, max(found.at.seq, at.seq)
            self._wallet_ahead = found.at if found.at.seq > at.seq else None
        return self._wallet

    def wallet_at(self) -> tuple[WalletReplay, Checkpoint] | None:
        """The paper wallet as folded and the log position it is current at: the book's (None before it is
        folded, and while a checkpoint it started from is ahead of the book)."""
        at = self._subscription.position
        if self._wallet is None or self._wallet_seq > at.seq:
            return None
        return self._wallet, at

    # --- staying current ----------------------------------------------------------------------

    @property
    def position(self) -> Checkpoint:
        """The log position the book is current at (its last refresh's)."""
        return self._subscription.position

    def refresh(self, *, force: bool = False) -> list[Folded]:
        """Fold the account's events recorded since the last refresh; returns its fills in seq order.

        Reads nothing when neither this process's ledger wrote nor the change signal fired, unless `force`
        (the log is known to have moved: a PostgreSQL NOTIFY may not have reached the signal yet)."""
        writes = self._ledger.writes
        signalled = self._subscription.changed()
        if writes == self._seen_writes and not signalled and not force:
            return []
        self._seen_writes = writes
        folded: list[Folded] = []
        while True:
            notices = self._subscription.read()
            self.reads += 1
            events = 0
            try:
                for notice in notices:
                    if isinstance(notice, RollbackNotice):
                        self._reset()
                        return []
                    events += 1
                    self.events_read += 1
                    self._check_wallet_ahead(notice.seq, notice.hash)
                    self.seq, self.epoch = notice.seq, max(self.epoch, notice.epoch)
                    if notice.event.fill.account == self.account:
                        found = self._fold(notice.event)
                        if found is not None:
                            folded.append(found)
            except BaseException:
                # The subscription is past every notice read: a fold that failed part-way (the wallet's
                # invariant, an interrupt) would leave a book behind it, its wallet labelled with a
                # position it never reached. Start again from the stored projection; the error stands.
                self._reset()
                raise
            if events < self._subscription.batch:
                self._check_wallet_ahead(self._subscription.position.seq, None)
                return folded

    def _check_wallet_ahead(self, seq: int, found: str | None) -> None:
        """Drop a wallet resumed from a checkpoint ahead of the book when the log, read up to it, no longer
        has the checkpoint's event (a rollback that left the book's position alone: no notice): the event
        at its seq has another hash (`found`), or the log ends before it (`found` None, read to the head)."""
        ahead = self._wallet_ahead
        if ahead is None or (seq >= ahead.seq if found is None else seq != ahead.seq):
            return
        self._wallet_ahead = None
        if found != ahead.hash:
            self._wallet = None  # folded again, from the first event, when next asked for

    def _fold(self, recorded: RecordedFill) -> Folded | None:
        """Fold one event; a fill's trade (funding moves its position's PnL, a transfer nothing here)."""
        fill = recorded.fill
        accounting = accounting_of(recorded.seq, fill)
        key = (self.account, getattr(fill, "symbol", ""))
        before = self._fold_positions.position(key) if isinstance(fill, Fill | Funding) else None
        outcome = self._fold_positions.apply(accounting)
        if self._wallet is not None and recorded.seq > self._wallet_seq:  # not already in a later checkpoint
            self._wallet.apply(accounting)
            self._wallet_seq = recorded.seq
        if isinstance(fill, Funding) and outcome.position is not None:
            self.open[fill.symbol] = outcome.position
        if not isinstance(fill, Fill):
            return None
        held = self.open.get(fill.symbol)
        if outcome.position is None or (held is not None and held.opened_seq != outcome.position.opened_seq):
            self.open.pop(fill.symbol, None)  # closed, or flipped: a new cycle goes after those opened before it
        if outcome.position is not None:
            self.open[fill.symbol] = outcome.position  # open positions stay in opened_seq order, as at start
        trade = self._keep_trade(recorded)
        assert trade is not None
        if self._sums is not None:
            with localcontext(LEDGER_CONTEXT):
                self._sums = (self._sums[0] + fill.quantity * fill.price, self._sums[1] + fill.fee)
        return Folded(recorded.seq, trade, before, outcome)

    def _keep_trade(self, recorded: RecordedFill) -> Trade | None:
        fill = recorded.fill
        if not isinstance(fill, Fill):
            return None
        trade = Trade.from_fill(fill)
        self._trades.append((recorded.seq, trade))
        self._legs.append(fill)
        self._by_symbol[fill.symbol].append((recorded.seq, trade))
        return trade

    # --- reading ------------------------------------------------------------------------------

    @property
    def trades(self) -> list[tuple[int, Trade]]:
        """Every trade of the account with its seq, in log order (the history is read on first use)."""
        self._load_history()
        return self._trades

    @property
    def by_symbol(self) -> dict[str, list[tuple[int, Trade]]]:
        """Every trade of the account by symbol (the history is read on first use)."""
        self._load_history()
        return self._by_symbol

    @property
    def volume(self) -> Decimal:
        """Σ quantity·price of every fill of the account (the history is read on first use)."""
        self._load_history()
        assert self._sums is not None
        return self._sums[0]

    @property
    def fees(self) -> Decimal:
        """Σ fee of every fill of the account (the history is read on first use)."""
        self._load_history()
        assert self._sums is not None
        return self._sums[1]

    def cycle_trades(self, symbol: str, opened_seq: int, last_seq: int) -> Sequence[Trade]:
        """The trades of one position cycle: from the fill that opened it to the last one it saw. Those before
        the start's checkpoint are read when first looked into (`CycleTrades`), the cycle's only."""
        if opened_seq <= self._trades_after:
            resets = self.resets
            return CycleTrades(
                self.trade_at(symbol, opened_seq), lambda: self._read_cycle(symbol, opened_seq, last_seq, resets)
            )
        return _between(self._by_symbol.get(symbol, []), opened_seq, last_seq)

    def _read_cycle(self, symbol: str, opened_seq: int, last_seq: int, resets: int) -> tuple[Trade, ...]:
        with self._guard:
            if self.resets != resets:
                msg = f"the {symbol} cycle opened at seq {opened_seq} was rolled back since; read the position again"
                raise LookupError(msg)
            earlier: list[Trade] = []
            if opened_seq <= self._trades_after:
                at = self._subscription.position
                found = self._ledger.account_history(
                    self.account, at=at, until_seq=self._trades_after, symbol=symbol, after_seq=opened_seq - 1
                )
                self.reads += 1
                if found is None:
                    self._reset()
                    return self._read_cycle(symbol, opened_seq, last_seq, resets)
                self.events_read += len(found)
                earlier = [Trade.from_fill(r.fill) for r in found if isinstance(r.fill, Fill) and r.seq <= last_seq]
            return (*earlier, *_between(self._by_symbol.get(symbol, []), opened_seq, last_seq))

    def trade_at(self, symbol: str, seq: int) -> Trade:
        if seq <= self._trades_after:
            known = self._known.get(seq)
            if known is not None and known.symbol == symbol:
                return known
            self._load_history()
        for at, trade in reversed(self._by_symbol.get(symbol, ())):
            if at == seq:
                return trade
        msg = f"no fill of {symbol} at seq {seq} in account {self.account!r}"
        raise LookupError(msg)

    def last_fill_time(self, symbol: str) -> datetime:
        if not self._by_symbol.get(symbol):
            position = self.open.get(symbol)
            known = None if position is None else self._known.get(position.last_seq)
            if known is not None and known.symbol == symbol:  # an open cycle's last event, a fill of it
                return known.timestamp
            self._load_history()
        return self._by_symbol[symbol][-1][1].timestamp

    @property
    def positions(self) -> PositionFold:
        """The account's positions: open cycles, closed cycles (`.closed`; stored ones read on first use), totals."""
        self._load_closed()
        return self._fold_positions

    def closed_at(self, symbol: str, seq: int) -> ClosedPosition | None:
        """The cycle of `symbol` a fill at `seq` closed (None if none): folded since the start, else stored."""
        for attempt in range(2):
            for cycle in reversed(self._fold_positions.closed):
                if cycle.symbol == symbol and cycle.closed_seq == seq:
                    return cycle
            if attempt or self._closed_loaded or seq > self._start_seq:
                return None
            self._load_closed()
        return None  # pragma: no cover - the loop returns on its second pass

    @property
    def wallet(self) -> WalletBook | None:
        """The paper wallet, when the book was given one (folded, or resumed, on first use)."""
        if self._wallet_source is None:
            return None
        return self._load_wallet(self._wallet_source).wallet

    @property
    def totals(self) -> Totals:
        """Lifetime realized PnL (gross) and fees of every cycle of the account, its symbols added in symbol order
        as `LedgerState.totals` adds them: a sum of 28-digit Decimals rounds where its order makes it, so the
        order the symbols were first traded in would give another last digit than the ledger's."""
        return portfolio_totals(totals for _, totals in sorted(self._fold_positions.totals().items()))


def _seq(pair: tuple[int, Trade]) -> int:
    return pair[0]


def _between(pairs: list[tuple[int, Trade]], first: int, last: int) -> tuple[Trade, ...]:
    """The trades of `pairs` (a symbol's, in seq order) from seq `first` to `last`, found by a binary search:
    a scan of the symbol's whole history for each cycle made the closed positions quadratic in it."""
    return tuple(trade for _, trade in pairs[bisect_left(pairs, first, key=_seq) : bisect_right(pairs, last, key=_seq)])
