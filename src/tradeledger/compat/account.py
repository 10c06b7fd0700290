"""AccountBook: one account's fills folded in memory, caught up with the ledger on demand.

Every legacy view (TradeManager, ctx.positions, the paper wallet) reads an AccountBook. It is a
cache of the log, never a source: `refresh()` reads the head and the fills after the last one it
folded, in one snapshot, and folds them with `domain.wallet.WalletReplay` (the engine that writes
the stored projection, and the paper wallet when the book has an initial balance). A head that went
backwards or a new epoch (a rollback) makes it fold the account again from seq 1.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from tradeledger.application.ledger import Ledger
from tradeledger.compat.trades import Trade
from tradeledger.domain.events import Funding
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import ZERO, Outcome, Position, Totals, accounting_of, portfolio_totals
from tradeledger.domain.records import RecordedFill
from tradeledger.domain.wallet import WalletBook, WalletReplay


@dataclass(frozen=True, slots=True)
class Folded:
    """One fill the book caught up with, and what it did to its position."""

    seq: int
    trade: Trade
    before: Position | None
    outcome: Outcome


class AccountBook:
    """The positions, trades, statistics (and optionally the paper wallet) of one account."""

    def __init__(self, ledger: Ledger, account: str, *, wallet_balance: Decimal | None = None) -> None:
        self._ledger = ledger
        self.account = account
        self._wallet_balance = wallet_balance
        self.resets = -1  # _reset() counts: 0 after construction, +1 each time the log went backwards
        self._reset()

    def _reset(self) -> None:
        self.resets += 1
        self.seq = 0
        self.epoch = 0
        self._replay = WalletReplay(self._wallet_balance)
        self.trades: list[tuple[int, Trade]] = []
        self.by_symbol: dict[str, list[tuple[int, Trade]]] = defaultdict(list)
        self.open: dict[str, Position] = {}  # by symbol
        self.volume = ZERO
        self.fees = ZERO

    def refresh(self) -> list[Folded]:
        """Fold the account's fills recorded since the last refresh; returns them in seq order."""
        head, fills = self._ledger.follow(self.seq, account=self.account)
        if (self.seq and head.epoch != self.epoch) or head.seq < self.seq:
            self._reset()
            head, fills = self._ledger.follow(0, account=self.account)
        folded = [found for recorded in fills if (found := self._fold(recorded)) is not None]
        self.seq, self.epoch = head.seq, head.epoch
        return folded

    def _fold(self, recorded: RecordedFill) -> Folded | None:
        """Fold one event; a fill's trade (funding moves its position's PnL, a transfer nothing here)."""
        fill = recorded.fill
        step = self._replay.apply(accounting_of(recorded.seq, fill))
        before, outcome = step.before, step.outcome
        if isinstance(fill, Funding) and outcome.position is not None:
            self.open[fill.symbol] = outcome.position
        if not isinstance(fill, Fill):
            return None
        if outcome.position is None:
            self.open.pop(fill.symbol, None)
        else:
            self.open[fill.symbol] = outcome.position
        trade = Trade.from_fill(fill)
        self.trades.append((recorded.seq, trade))
        self.by_symbol[fill.symbol].append((recorded.seq, trade))
        with localcontext(LEDGER_CONTEXT):
            self.volume += fill.quantity * fill.price
            self.fees += fill.fee
        return Folded(recorded.seq, trade, before, outcome)

    def cycle_trades(self, symbol: str, opened_seq: int, last_seq: int) -> tuple[Trade, ...]:
        """The trades of one position cycle: from the fill that opened it to the last one it saw."""
        return tuple(trade for seq, trade in self.by_symbol.get(symbol, ()) if opened_seq <= seq <= last_seq)

    def trade_at(self, symbol: str, seq: int) -> Trade:
        for at, trade in reversed(self.by_symbol[symbol]):
            if at == seq:
                return trade
        msg = f"no fill of {symbol} at seq {seq} in account {self.account!r}"
        raise LookupError(msg)

    def last_fill_time(self, symbol: str) -> datetime:
        return self.by_symbol[symbol][-1][1].timestamp

    @property
    def positions(self) -> PositionFold:
        """The account's positions: open cycles, closed cycles (`.closed`) and totals."""
        return self._replay.positions

    @property
    def wallet(self) -> WalletBook | None:
        """The paper wallet, when the book was given an initial balance."""
        return self._replay.wallet

    @property
    def totals(self) -> Totals:
        """Lifetime realized PnL (gross) and fees of every cycle of the account."""
        return portfolio_totals(self.positions.totals().values())
