"""The PaperWallet class: the commands and reads of one account's wallet (the package docstring says how)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from tradeledger.application.ledger import Ledger
from tradeledger.compat.account import AccountBook
from tradeledger.compat.files import write_atomically
from tradeledger.compat.following_file import FollowingFile
from tradeledger.compat.paper_wallet import rules, shapes
from tradeledger.compat.paper_wallet.checkpoint import WalletCheckpoints
from tradeledger.compat.paper_wallet.rules import PAPER_EXCHANGE, Amount, Fee
from tradeledger.compat.paper_wallet.shapes import WALLET_ADVICE
from tradeledger.compat.trade_manager import TradeManager, utc_now
from tradeledger.compat.trades import Trade, to_decimal
from tradeledger.compat.views import ReadOnlyDict, ReadOnlyPositions
from tradeledger.domain.fills import Side
from tradeledger.domain.positions import Position, PositionSide, unrealized_at
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.wallet import WalletBook, starting_cash
from tradeledger.errors import InvalidArgument, ReadOnlyView, TradeRefused

T = TypeVar("T")
COMMAND_ATTEMPTS = 50  # checks of one command, each after another process appended to the account meanwhile


class PaperWallet:
    """The legacy paper wallet's API over one ledger account: cash and positions folded from its fills.

    `initial_balance` is the cash before the account's first fill (B0). `open` is refused at
    `max_open_trades` open positions and above 95 % of the cash; `allow_short` allows a short `open`.
    With `trade_manager` every command is recorded through `trade_manager.record_trade` (same ledger
    and account required). With `state_file` and `auto_save` the legacy YAML state file is rewritten
    after every command and, with a TradeManager, after every trade it records; fills other writers record
    (and a rollback) reach it at the wallet's next read (or its TradeManager's tick) `state_write_interval_s`
    of `monotonic` after its last write, and a wallet rewrites it at its first read after it starts.
    """

    def __init__(
        self,
        ledger: Ledger,
        initial_balance: Amount,
        max_open_trades: int = 10,
        allow_short: bool = True,
        *,
        account: str = "default",
        trade_manager: TradeManager | None = None,
        state_file: str | Path | None = None,
        auto_save: bool = True,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        state_write_interval_s: float = 1.0,
    ) -> None:
        balance = starting_cash(to_decimal(initial_balance, "initial_balance"))
        if type(max_open_trades) is not int or max_open_trades < 0:
            raise InvalidArgument(f"max_open_trades: must be a whole number of 0 or more (got {max_open_trades!r})")
        if trade_manager is not None:
            if trade_manager.account != account:
                raise InvalidArgument(
                    f"trade_manager: keeps account {trade_manager.account!r} but the wallet is for account "
                    f"{account!r}; a wallet and its TradeManager must read the same account"
                )
            if trade_manager.ledger is not ledger:
                raise InvalidArgument("trade_manager: records into another Ledger; pass the TradeManager's ledger")
        self.ledger = ledger
        self.account = account
        self.max_open_trades = max_open_trades
        self.allow_short = bool(allow_short)
        self.trade_manager = trade_manager
        self.state_file = None if state_file is None else Path(state_file)
        self.auto_save = auto_save
        self._state = FollowingFile(
            self.state_file,
            follows=auto_save,
            interval_s=state_write_interval_s,
            monotonic=monotonic,
            failure="paper wallet state file {path} was not rewritten ({error}); the ledger has every fill, "
            "the next save rewrites it",
        )
        self._after_command: list[Callable[[], object]] = []
        self._clock = clock
        self._initial = balance
        self._checkpoints = WalletCheckpoints(ledger, account, balance)  # its fold kept in the ledger
        self._book = AccountBook(ledger, account, wallet=self._checkpoints)
        # Two locks: a command holds the command lock across check and append but releases the book
        # lock before appending, because an append through the TradeManager runs this wallet's
        # after_record hook (which reads the book) while holding the TradeManager's lock, and a
        # TradeManager thread does the same: lock order is command -> TradeManager -> book.
        self._book_lock = threading.RLock()  # guards the book: every read and every fold
        self._command_lock = threading.RLock()  # one command at a time: check, then append
        with self._book_lock:
            self._book.refresh()  # the wallet's cash is folded on first use (compat.account)
            self._resets_seen = self._book.resets
        if trade_manager is not None:
            trade_manager.after_record(self._save_if_auto)
            if self._state.follows:
                trade_manager.after_tick(self._tick)  # the bot may read only the TradeManager: its ticks

    def __setattr__(self, name: str, value: object) -> None:
        if name in shapes.DERIVED:
            raise ReadOnlyView(
                f"paper_wallet.{name} is derived from the log (the initial balance and the account's fills) "
                f"and cannot be set (got {value!r}); {WALLET_ADVICE}"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in shapes.DERIVED:
            raise ReadOnlyView(f"paper_wallet.{name} is derived from the log and cannot be deleted; {WALLET_ADVICE}")
        object.__delattr__(self, name)

    # --- commands -------------------------------------------------------------------------------

    def open(
        self,
        symbol: str,
        side: str,
        amount: Amount,
        price: Amount | None = None,
        identifier: str | None = None,
        *,
        fee: Amount = 0,
        strategy: str = "",
        fee_currency: str | None = None,
        fee_quote_value: Amount | None = None,
    ) -> str:
        """Open a position: buy (long) or sell (short) `amount` at `price`; returns the fill id.

        Refused (TradeRefused, nothing appended) when the symbol already has an open position, when
        the cost `amount·price + fee` is above 95 % of the cash, at `max_open_trades` open positions,
        and for a short when `allow_short` is off. `price` is required: its default only lets the
        legacy `open(side, amount, price)` call reach a clear error. `identifier` becomes the fill id
        (a new uuid4 when None) and must not have been used by another paper fill of the account.
        """
        rules.require_symbol(symbol, "open", "open(symbol, side, amount, price[, identifier])")
        order_side = rules.order_side(side)
        quantity = rules.positive(amount, "amount")
        if price is None:
            raise InvalidArgument("price: required (open(symbol, side, amount, price))")
        trade = self._trade(
            symbol, order_side, quantity, price, Fee(fee, fee_currency, fee_quote_value), strategy, identifier
        )

        def checked(wallet: WalletBook) -> tuple[Trade, None]:
            rules.check_open(
                self._book,
                trade,
                wallet,
                allow_short=self.allow_short,
                max_open_trades=self.max_open_trades,
                new_id=identifier is None,
            )
            return trade, None

        self._command("open", checked)
        return trade.id

    def close(
        self,
        symbol: str,
        amount: Amount,
        price: Amount | None = None,
        *,
        fee: Amount = 0,
        strategy: str = "",
        fee_currency: str | None = None,
        fee_quote_value: Amount | None = None,
    ) -> Decimal:
        """Reduce or close the open position of `symbol` (or of the id `open` returned) by `amount` at `price`.

        Appends the opposite fill and returns its gross realized PnL: `(price - avg)·amount` for a
        long, `(avg - price)·amount` for a short. Refused (TradeRefused) when there is no open
        position (the legacy wallet returned 0.0) or `amount` is more than its size (the legacy
        wallet clamped; the wallet never clamps).
        """
        rules.require_symbol(symbol, "close", "close(symbol, amount, price)", ids=True)
        quantity = rules.positive(amount, "amount")
        if price is None:
            raise InvalidArgument("price: required (close(symbol, amount, price))")

        def checked(_: WalletBook) -> tuple[Trade, Position]:
            resolved, position = rules.check_close(self._book, symbol, rules.resolve(self._book, symbol), quantity)
            closing = Side.SELL if position.side is PositionSide.LONG else Side.BUY
            fees = Fee(fee, fee_currency, fee_quote_value)
            return self._trade(resolved, closing, quantity, price, fees, strategy), position

        trade, position = self._command("close", checked)
        return rules.realized(position, trade)

    def buy(
        self,
        symbol: str,
        amount: Amount,
        price: Amount,
        *,
        fee: Amount = 0,
        strategy: str = "",
        fee_currency: str | None = None,
        fee_quote_value: Amount | None = None,
    ) -> str:
        """Spot buy: open a long or add to it (weighted average entry); returns the fill id.

        Refused when the cost `amount·price + fee` is above the cash (no 5 % margin here, as in the
        legacy `buy`), when the symbol is short (close the short first), and when it would open a
        position beyond `max_open_trades`.
        """
        rules.require_symbol(symbol, "buy", "buy(symbol, amount, price)")
        fees = Fee(fee, fee_currency, fee_quote_value)
        trade = self._trade(symbol, Side.BUY, rules.positive(amount, "amount"), price, fees, strategy)

        def checked(wallet: WalletBook) -> tuple[Trade, None]:
            rules.check_buy(self._book, trade, wallet, self.max_open_trades)
            return trade, None

        self._command("buy", checked)
        return trade.id

    def sell(
        self,
        symbol: str,
        amount: Amount,
        price: Amount,
        *,
        fee: Amount = 0,
        strategy: str = "",
        fee_currency: str | None = None,
        fee_quote_value: Amount | None = None,
    ) -> Decimal:
        """Spot sell: reduce an open long by `amount` (at most its size); returns the gross realized PnL."""
        rules.require_symbol(symbol, "sell", "sell(symbol, amount, price)")
        fees = Fee(fee, fee_currency, fee_quote_value)
        trade = self._trade(symbol, Side.SELL, rules.positive(amount, "amount"), price, fees, strategy)

        def checked(_: WalletBook) -> tuple[Trade, Position]:
            return trade, rules.check_sell(self._book, trade)

        _, position = self._command("sell", checked)
        return rules.realized(position, trade)

    # --- reading --------------------------------------------------------------------------------

    @property
    def balance(self) -> Decimal:
        """The cash: B0 - costs of opening and adding + long proceeds + short credits - fees. Read-only."""
        return self._read(lambda wallet: wallet.cash)

    @property
    def initial_balance(self) -> Decimal:
        return self._initial

    @property
    def positions(self) -> ReadOnlyPositions:
        """Open positions by symbol in the legacy shape, read-only, recomputed from the log on every read.

        Each entry: symbol, side ('long'|'short'), size and amount (the same number), entry_price
        (average), current_price (the TradeManager's mark, else the entry price), pnl (a fraction,
        signed for shorts), fees_paid, reserved (size·entry for a short, 0 for a long), entry_time
        and timestamp (ISO 8601, the time the cycle opened).
        """
        return ReadOnlyPositions("paper_wallet.positions", self._read_entries, WALLET_ADVICE)

    @property
    def realized_pnl(self) -> Decimal:
        """Realized PnL of every cycle of the account, gross of fees."""
        return self._read(lambda wallet: wallet.realized_pnl)

    @property
    def total_trades(self) -> int:
        """Position cycles opened (by any fill of the account)."""
        return self._read(lambda wallet: wallet.cycles_opened)

    @property
    def winning_trades(self) -> int:
        """Closed cycles whose net PnL (realized - fees) is above 0."""
        return self._read(lambda wallet: wallet.winning_cycles)

    @property
    def win_rate(self) -> Decimal:
        """winning_trades / total_trades x 100 (0 before the first cycle)."""
        return self._read(lambda wallet: wallet.win_rate)

    def unrealized(self, price_or_symbol: Amount | Mapping[str, Amount], price: Amount | None = None) -> Decimal:
        """Σ unrealized PnL at the given marks: `(m - avg)·q` for a long, `(avg - m)·q` for a short.

        The legacy call forms: `unrealized(price)` when exactly one position is open,
        `unrealized(symbol, price)` and `unrealized({symbol: price, ...})`. A symbol may also be the
        id `open` returned; a symbol with no open position adds 0.
        """
        with self._book_lock:
            self._refresh()
            marks = rules.marks(self._book, price_or_symbol, price)
            return unrealized_at(self._book.open.values(), marks)[0]

    def unrealized_total(self) -> Decimal:
        """Σ unrealized PnL at the TradeManager's marks, an unmarked position adding 0 (the legacy stub returned 0)."""
        return self._at_marks()[0]

    @property
    def total_value(self) -> Decimal:
        """The equity: cash + the open positions at cost + unrealized_total() (legacy: the cash + the stub's 0)."""
        return self._at_marks()[1]

    def _at_marks(self) -> tuple[Decimal, Decimal]:
        with self._book_lock:
            marks = {} if self.trade_manager is None else self.trade_manager.price_cache
            return rules.value_at_marks(self._refresh(), self._book.open.values(), marks)

    def get_wallet_summary(self) -> dict[str, Any]:
        """The legacy wallet summary, exact Decimals from the log.

        `available_balance` is 95 % of the cash: what `open` may spend (the legacy value subtracted
        the positions' cost a second time). `is_healthy` is true while the cash is not below 0.
        """
        with self._book_lock:
            return shapes.wallet_summary(self._refresh(), len(self._book.open))

    def get_position_summary(self) -> dict[str, Any]:
        """The legacy position summary: the counters and the open positions as legacy dicts.

        `positions` maps symbol to {symbol, side, size, entry_price, reserved, entry_time}; numbers
        are exact Decimals from the log.
        """
        with self._book_lock:
            return shapes.position_summary(self._refresh(), self._entries())

    def sync_from_trade_manager(self, *_args: object, **_kwargs: object) -> None:
        """Accepted for legacy callers and does nothing: the wallet reads the log, so it is always in sync.

        The legacy method wiped the wallet's positions and rebuilt them from the TradeManager's; here
        both read the same fills, so there is nothing to copy.
        """

    def refresh(self) -> None:
        """Read the log now for what other processes recorded, whether or not its change signal (a PostgreSQL
        NOTIFY) has reached this process yet (`TradeManager.refresh`)."""
        with self._book_lock:
            self._refresh(force=True)

    def check_invariant(self) -> None:
        """Raise InvariantViolation unless cash + Σ_open |s|·avg = B0 + Σ realized - Σ fees.

        The fold already checks this after every fill it reads; this re-checks the current books.
        """
        with self._book_lock:
            self._refresh().check(self._book.seq)

    def shutdown(self) -> None:
        """Save the wallet's checkpoint when it moved since the last (see `checkpoint`) and release its
        subscription (its own connection); the wallet still answers after, reading the log on every read.
        (`close` is the legacy command that closes a position.)"""
        with self._book_lock:
            self._checkpoints.save(self._book, due_every=1)
            self._book.close()

    # --- legacy state file ----------------------------------------------------------------------

    def save_state(self, path: str | Path | None = None) -> Path:
        """Write the legacy `paper_wallet_state.yaml` (numbers as floats), atomically. Never read back."""
        target = Path(path) if path is not None else self.state_file
        if target is None:
            raise InvalidArgument("save_state: no path given and the PaperWallet has no state_file")
        with self._book_lock:
            # Written under the book lock, so a later save never overwrites a newer one.
            written = write_atomically(target, shapes.state_text(self._fold(), self._entries()))
            self._state.written(written)
            return written

    # --- internals ------------------------------------------------------------------------------

    def _read(self, figure: Callable[[WalletBook], T]) -> T:
        """One figure of the books, read under the book lock after folding the fills recorded since."""
        with self._book_lock:
            return figure(self._refresh())

    def _refresh(self, *, force: bool = False) -> WalletBook:
        """`_fold`, and the wallet's tick: the state file is rewritten when another writer's fills (or a rollback)
        left it behind and its interval has passed (the caller holds the book lock)."""
        wallet = self._fold(force=force)
        self._state.write_if_due(self.save_state)
        return wallet

    def _tick(self) -> None:
        with self._book_lock:
            self._refresh()

    def _read_entries(self) -> dict[str, ReadOnlyDict]:
        """`_entries` for a reader of `positions`: a tick of the state file too."""
        with self._book_lock:
            self._catch_up()
            self._state.write_if_due(self.save_state)
            return self._entries()

    def _catch_up(self, *, force: bool = False) -> None:
        """Fold the account's open positions since the last read (the cash is folded on first use); the state
        file is behind when any fill was folded or a rollback reset the book."""
        if self._book.refresh(force=force) or self._book.resets != self._resets_seen:
            self._resets_seen = self._book.resets
            self._state.moved()

    def _fold(self, *, force: bool = False) -> WalletBook:
        """Fold the account's fills recorded since the last read (the caller holds the book lock); save the
        wallet's checkpoint when due. `force`: read even before the change signal fired (AccountBook.refresh)."""
        self._catch_up(force=force)
        wallet = self._book.wallet
        assert wallet is not None  # the book was built with a wallet
        self._checkpoints.save(self._book)
        return wallet

    def _trade(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Amount,
        fee: Fee,
        strategy: str,
        identifier: str | None = None,
    ) -> Trade:
        """The fill a command appends, validated now (symbol, digits, names) so a bad one appends nothing."""
        return Trade(
            id=str(uuid.uuid4()) if identifier is None else identifier,
            symbol=symbol,
            side=side.value,
            amount=quantity,
            price=rules.positive(price, "price"),
            timestamp=self._clock(),
            strategy=strategy,
            exchange=PAPER_EXCHANGE,
            fees=rules.fee(fee.amount),
            fee_currency=fee.currency,
            fee_quote_value=None if fee.quote_value is None else to_decimal(fee.quote_value, "fee_quote_value"),
        )

    def _command(self, name: str, checked: Callable[[WalletBook], tuple[Trade, T]]) -> tuple[Trade, T]:
        """A command's fill, checked against the account's books (`checked`: TradeRefused, or the fill and what
        the command returns) and appended while those books are still the log's, under the ledger's write
        lock: when another process appended to the account (or a rollback removed what the books hold) between
        the check and the append, nothing is appended and the command is checked again on the books read anew
        (a close checked twice on the same long is refused the second time, never sold twice)."""
        with self._command_lock:
            force = False
            for _ in range(COMMAND_ATTEMPTS):
                with self._book_lock:
                    wallet = self._fold(force=force)  # the command writes the state file after
                    trade, found = checked(wallet)
                    at = self._book.position
                if self._append(trade, at):
                    break
                force = True  # the log moved: read it, whether or not its change signal has arrived yet
            else:
                raise TradeRefused(
                    f"{name}: the account {self.account!r} changed in another process before each of "
                    f"{COMMAND_ATTEMPTS} checks could be appended; nothing was recorded"
                )
        self._save_after_command()
        return trade, found

    def _append(self, trade: Trade, at: Checkpoint) -> bool:
        """Append the fill while the account's books at `at` are the log's; False, nothing appended, otherwise."""
        if self.trade_manager is not None:  # its after_record hook saves the state file
            return self.trade_manager.record_trade_if_current(trade, at=at)
        return self.ledger.record_if_current(trade.to_fill(self.account), account=self.account, at=at) is not None

    def after_record(self, hook: Callable[[], object]) -> None:
        """Run `hook` after every fill this wallet appends itself (with a TradeManager, its own hooks run)."""
        self._after_command.append(hook)

    def _save_after_command(self) -> None:
        if self.trade_manager is None:  # with one, its after_record hooks have run already
            self._save_if_auto()
            for hook in list(self._after_command):
                hook()

    def _save_if_auto(self) -> None:
        """Rewrite the state file when auto_save is on; a failed write is logged: the fill is in the log."""
        self._state.write_now(self.save_state)

    def _entries(self) -> dict[str, ReadOnlyDict]:
        """The open positions in the legacy shape, as the book holds them: each caller has just folded it (`_refresh`,
        `_fold` or `_catch_up`), so the entries are of the same fold as the figures beside them."""
        with self._book_lock:
            marks = {} if self.trade_manager is None else self.trade_manager.price_cache
            return {
                symbol: ReadOnlyDict(shapes.entry(self._book.open[symbol], marks.get(symbol)), WALLET_ADVICE)
                for symbol in sorted(self._book.open)
            }
