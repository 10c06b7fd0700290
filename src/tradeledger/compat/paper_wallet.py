"""The drop-in PaperWallet (spec section 5): the legacy cash-secured spot wallet as a projection of the log.

Cash, positions and counters are folded from every fill of the wallet's account (`AccountBook` with a
`WalletBook`), whoever recorded them, on every read; the wallet keeps no state a caller could change.
A command (`open`, `close`, `buy`, `sell`) checks the current books and appends ONE fill, through the
TradeManager when the wallet has one (so its callbacks, risk levels and state file follow), else
straight into the ledger. A refused command appends nothing and raises `TradeRefused`, which is also
a `RuntimeError` as the legacy wallet raised.

Differences from the legacy wallet, on purpose (legacy-system.md sections 2 and 8):

- `balance` and every other figure are derived: writing one raises `ReadOnlyView`; nothing is
  clamped (a fill recorded elsewhere may leave the cash below 0, and the wallet shows it);
- a long close credits the proceeds `q·p` (the model the legacy tests pin, not the later regression
  that credited only the PnL); a short close credits `q·(2·avg - p)`; fees are deducted;
- `close` of a missing position and of more than is open raise instead of returning 0 / clamping;
- positions are keyed by symbol, one netting position each: `open` on a symbol with an open
  position is refused, and the legacy `open(side, amount, price)` form without a symbol is refused;
- `total_trades` counts position cycles opened, `winning_trades` the closed cycles whose net PnL
  (realized - fees) is above 0, so partial closes of one cycle count once.

Concurrency: the wallet's own commands are serialised, and each checks the books as of its append;
a fill another writer appends between a command's check and its append is not re-checked (the log
has no wallet rule), but it is folded and shown like any other fill.
"""

from __future__ import annotations

import io
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tradeledger.application.ledger import Ledger
from tradeledger.compat.account import AccountBook
from tradeledger.compat.files import write_atomically
from tradeledger.compat.trade_manager import TradeManager, as_price, utc_now
from tradeledger.compat.trades import Trade, legacy_float, to_decimal
from tradeledger.compat.views import ReadOnlyDict, ReadOnlyPositions
from tradeledger.domain.fills import LEDGER_CONTEXT, MAX_DIGITS, Side, significant_digits
from tradeledger.domain.positions import ZERO, Position, PositionSide, pnl
from tradeledger.domain.wallet import WalletBook
from tradeledger.errors import InvalidArgument, ReadOnlyView, TradeRefused

logger = logging.getLogger("tradeledger.compat")

Amount = Decimal | int | str | float
# The exchange of the wallet's simulated fills: part of their identity, apart from real exchange fills.
PAPER_EXCHANGE = "paper"
# `open` may spend at most this share of the cash (the legacy 5 % safety margin); `buy` has none.
OPEN_MARGIN = Decimal("0.95")
WALLET_ADVICE = (
    "record a fill with paper_wallet.open/close/buy/sell or trade_manager.record_trade(create_trade(...)) instead"
)
STATE_HEADER = (
    "# Written by tradeledger from the ledger after every trade: a read model for dashboards.\n"
    "# It is never read back; edits are overwritten.\n"
)
_SIDES = {"buy": Side.BUY, "long": Side.BUY, "sell": Side.SELL, "short": Side.SELL}
# Legacy attributes that are figures of the log here: assigning one raises ReadOnlyView.
_DERIVED = frozenset(
    {"balance", "initial_balance", "positions", "realized_pnl", "total_trades", "winning_trades", "win_rate"}
)


def _positive(value: object, name: str) -> Decimal:
    """A finite Decimal above 0 (a float is read as the decimal it prints as)."""
    if not isinstance(value, Decimal | int | float | str):
        raise InvalidArgument(f"{name}: must be a number (got {type(value).__name__} {value!r})")
    return as_price(value, name)


def _side(value: object) -> Side:
    side = _SIDES.get(value) if isinstance(value, str) else None
    if side is None:
        raise InvalidArgument(f"side: must be one of buy, sell, long, short (got {value!r})")
    return side


def _fee(value: object) -> Decimal:
    fee = to_decimal(value, "fee")
    if not fee.is_finite() or fee < 0:
        raise InvalidArgument(f"fee: must be a finite number of 0 or more (got {value!r})")
    return fee


def _described(position: Position) -> str:
    return f"{position.side.value} {position.symbol} of size {position.quantity} at {position.avg_price}"


class PaperWallet:
    """The legacy paper wallet's API over one ledger account: cash and positions folded from its fills.

    `initial_balance` is the cash before the account's first fill (B0). `open` is refused at
    `max_open_trades` open positions and above 95 % of the cash; `allow_short` allows a short `open`.
    With `trade_manager` every command is recorded through `trade_manager.record_trade` (same ledger
    and account required). With `state_file` and `auto_save` the legacy YAML state file is rewritten
    after every command and, with a TradeManager, after every trade it records.
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
    ) -> None:
        balance = to_decimal(initial_balance, "initial_balance")
        if not balance.is_finite() or balance < 0:
            raise InvalidArgument(f"initial_balance: must be a finite number of 0 or more (got {initial_balance!r})")
        if significant_digits(balance) > MAX_DIGITS:
            raise InvalidArgument(
                f"initial_balance: at most {MAX_DIGITS} significant digits are kept exactly (got {initial_balance!r})"
            )
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
        self._after_command: list[Callable[[], object]] = []
        self._clock = clock
        self._initial = balance
        self._book = AccountBook(ledger, account, wallet_balance=balance)
        # Two locks: a command holds the command lock across check and append but releases the book
        # lock before appending, because an append through the TradeManager runs this wallet's
        # after_record hook (which reads the book) while holding the TradeManager's lock, and a
        # TradeManager thread does the same: lock order is command -> TradeManager -> book.
        self._book_lock = threading.RLock()  # guards the book: every read and every fold
        self._command_lock = threading.RLock()  # one command at a time: check, then append
        with self._book_lock:
            self._refresh()
        if trade_manager is not None:
            trade_manager.after_record(self._save_if_auto)

    def __setattr__(self, name: str, value: object) -> None:
        if name in _DERIVED:
            raise ReadOnlyView(
                f"paper_wallet.{name} is derived from the log (the initial balance and the account's fills) "
                f"and cannot be set (got {value!r}); {WALLET_ADVICE}"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in _DERIVED:
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
    ) -> str:
        """Open a position: buy (long) or sell (short) `amount` at `price`; returns the fill id.

        Refused (TradeRefused, nothing appended) when the symbol already has an open position, when
        the cost `amount·price + fee` is above 95 % of the cash, at `max_open_trades` open positions,
        and for a short when `allow_short` is off. `price` is required: its default only lets the
        legacy `open(side, amount, price)` call reach a clear error. `identifier` becomes the fill id
        (a new uuid4 when None) and must not have been used by another paper fill of the account.
        """
        self._require_symbol(symbol, "open", "open(symbol, side, amount, price[, identifier])")
        order_side = _side(side)
        quantity = _positive(amount, "amount")
        if price is None:
            raise InvalidArgument("price: required (open(symbol, side, amount, price))")
        trade = self._trade(symbol, order_side, quantity, price, fee, strategy, identifier)
        with self._command_lock:
            with self._book_lock:
                wallet = self._refresh()
                self._check_open(trade, wallet)
            self._append(trade)
        self._save_after_command()
        return trade.id

    def close(
        self, symbol: str, amount: Amount, price: Amount | None = None, *, fee: Amount = 0, strategy: str = ""
    ) -> Decimal:
        """Reduce or close the open position of `symbol` (or of the id `open` returned) by `amount` at `price`.

        Appends the opposite fill and returns its gross realized PnL: `(price - avg)·amount` for a
        long, `(avg - price)·amount` for a short. Refused (TradeRefused) when there is no open
        position (the legacy wallet returned 0.0) or `amount` is more than its size (the legacy
        wallet clamped; the wallet never clamps).
        """
        self._require_symbol(symbol, "close", "close(symbol, amount, price)", ids=True)
        quantity = _positive(amount, "amount")
        if price is None:
            raise InvalidArgument("price: required (close(symbol, amount, price))")
        with self._command_lock:
            with self._book_lock:
                self._refresh()
                resolved = self._resolve(symbol)
                position = None if resolved is None else self._book.open.get(resolved)
                if resolved is None or position is None:
                    raise TradeRefused(
                        f"close: account {self.account!r} has no open position in {symbol} "
                        "(the legacy wallet returned 0.0 here); nothing was recorded"
                    )
                if quantity > position.quantity:
                    raise TradeRefused(
                        f"close: amount {quantity} is more than the open {_described(position)}; "
                        f"close at most {position.quantity} (the wallet never clamps); nothing was recorded"
                    )
                closing = Side.SELL if position.side is PositionSide.LONG else Side.BUY
                trade = self._trade(resolved, closing, quantity, price, fee, strategy)
            self._append(trade)
        self._save_after_command()
        return _realized(position, trade)

    def buy(self, symbol: str, amount: Amount, price: Amount, *, fee: Amount = 0, strategy: str = "") -> str:
        """Spot buy: open a long or add to it (weighted average entry); returns the fill id.

        Refused when the cost `amount·price + fee` is above the cash (no 5 % margin here, as in the
        legacy `buy`), when the symbol is short (close the short first), and when it would open a
        position beyond `max_open_trades`.
        """
        self._require_symbol(symbol, "buy", "buy(symbol, amount, price)")
        trade = self._trade(symbol, Side.BUY, _positive(amount, "amount"), price, fee, strategy)
        with self._command_lock:
            with self._book_lock:
                wallet = self._refresh()
                position = self._book.open.get(symbol)
                if position is not None and position.side is PositionSide.SHORT:
                    raise TradeRefused(
                        f"buy: {symbol} has an open {_described(position)}; buy() only opens or adds to a long, "
                        "close the short with close(); nothing was recorded"
                    )
                if position is None:
                    self._check_room(symbol, "buy")
                with localcontext(LEDGER_CONTEXT):
                    cost = trade.amount * trade.price + trade.fees
                if cost > wallet.cash:
                    raise TradeRefused(
                        f"buy: {symbol} {trade.amount} at {trade.price} costs {cost} (fee {trade.fees} included), "
                        f"more than the cash {wallet.cash}; nothing was recorded"
                    )
            self._append(trade)
        self._save_after_command()
        return trade.id

    def sell(self, symbol: str, amount: Amount, price: Amount, *, fee: Amount = 0, strategy: str = "") -> Decimal:
        """Spot sell: reduce an open long by `amount` (at most its size); returns the gross realized PnL."""
        self._require_symbol(symbol, "sell", "sell(symbol, amount, price)")
        trade = self._trade(symbol, Side.SELL, _positive(amount, "amount"), price, fee, strategy)
        with self._command_lock:
            with self._book_lock:
                self._refresh()
                position = self._book.open.get(symbol)
                if position is None or position.side is not PositionSide.LONG:
                    held = "no open position" if position is None else f"an open {_described(position)}"
                    raise TradeRefused(
                        f"sell: {symbol} has {held}; sell() only reduces a long (use open(symbol, 'sell', ...) "
                        "to open a short); nothing was recorded"
                    )
                if trade.amount > position.quantity:
                    raise TradeRefused(
                        f"sell: amount {trade.amount} is more than the open {_described(position)}; "
                        f"sell at most {position.quantity} (the wallet never clamps); nothing was recorded"
                    )
            self._append(trade)
        self._save_after_command()
        return _realized(position, trade)

    # --- reading --------------------------------------------------------------------------------

    @property
    def balance(self) -> Decimal:
        """The cash: B0 - costs of opening and adding + long proceeds + short credits - fees. Read-only."""
        with self._book_lock:
            return self._refresh().cash

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
        return ReadOnlyPositions("paper_wallet.positions", self._entries, WALLET_ADVICE)

    @property
    def realized_pnl(self) -> Decimal:
        """Realized PnL of every cycle of the account, gross of fees."""
        with self._book_lock:
            return self._refresh().realized_pnl

    @property
    def total_trades(self) -> int:
        """Position cycles opened (by any fill of the account)."""
        with self._book_lock:
            return self._refresh().cycles_opened

    @property
    def winning_trades(self) -> int:
        """Closed cycles whose net PnL (realized - fees) is above 0."""
        with self._book_lock:
            return self._refresh().winning_cycles

    @property
    def win_rate(self) -> Decimal:
        """winning_trades / total_trades x 100 (0 before the first cycle)."""
        with self._book_lock:
            return self._refresh().win_rate

    def unrealized(self, price_or_symbol: Amount | Mapping[str, Amount], price: Amount | None = None) -> Decimal:
        """Σ unrealized PnL at the given marks: `(m - avg)·q` for a long, `(avg - m)·q` for a short.

        The legacy call forms: `unrealized(price)` when exactly one position is open,
        `unrealized(symbol, price)` and `unrealized({symbol: price, ...})`. A symbol may also be the
        id `open` returned; a symbol with no open position adds 0.
        """
        with self._book_lock:
            self._refresh()
            marks = self._marks(price_or_symbol, price)
            total = ZERO
            with localcontext(LEDGER_CONTEXT):
                for symbol, mark in marks.items():
                    position = self._book.open.get(symbol)
                    if position is not None:
                        total += position.unrealized_pnl(mark)
            return total

    def get_wallet_summary(self) -> dict[str, Any]:
        """The legacy wallet summary, exact Decimals from the log.

        `available_balance` is 95 % of the cash: what `open` may spend (the legacy value subtracted
        the positions' cost a second time). `is_healthy` is true while the cash is not below 0.
        """
        with self._book_lock:
            wallet = self._refresh()
            with localcontext(LEDGER_CONTEXT):
                held = sum(wallet.cost_basis.values(), ZERO)
                available = OPEN_MARGIN * wallet.cash
            return {
                "balance": wallet.cash,
                "initial_balance": wallet.initial_balance,
                "total_position_value": held,
                "available_balance": available,
                "position_count": len(self._book.open),
                "total_trades": wallet.cycles_opened,
                "winning_trades": wallet.winning_cycles,
                "win_rate": wallet.win_rate,
                "is_healthy": wallet.cash >= 0,
            }

    def get_position_summary(self) -> dict[str, Any]:
        """The legacy position summary: the counters and the open positions as legacy dicts.

        `positions` maps symbol to {symbol, side, size, entry_price, reserved, entry_time}; numbers
        are exact Decimals from the log.
        """
        with self._book_lock:
            wallet = self._refresh()
            entries = self._entries()
            return {
                "balance": wallet.cash,
                "initial_balance": wallet.initial_balance,
                "realized_pnl": wallet.realized_pnl,
                "total_trades": wallet.cycles_opened,
                "winning_trades": wallet.winning_cycles,
                "win_rate": wallet.win_rate,
                "open_positions": len(entries),
                "positions": {
                    symbol: {
                        key: entry[key] for key in ("symbol", "side", "size", "entry_price", "reserved", "entry_time")
                    }
                    for symbol, entry in entries.items()
                },
            }

    def sync_from_trade_manager(self, *_args: object, **_kwargs: object) -> None:
        """Accepted for legacy callers and does nothing: the wallet reads the log, so it is always in sync.

        The legacy method wiped the wallet's positions and rebuilt them from the TradeManager's; here
        both read the same fills, so there is nothing to copy.
        """

    def check_invariant(self) -> None:
        """Raise InvariantViolation unless cash + Σ_open |s|·avg = B0 + Σ realized - Σ fees.

        The fold already checks this after every fill it reads; this re-checks the current books.
        """
        with self._book_lock:
            self._refresh().check(self._book.seq)

    # --- legacy state file ----------------------------------------------------------------------

    def save_state(self, path: str | Path | None = None) -> Path:
        """Write the legacy `paper_wallet_state.yaml` (numbers as floats), atomically. Never read back."""
        target = Path(path) if path is not None else self.state_file
        if target is None:
            raise InvalidArgument("save_state: no path given and the PaperWallet has no state_file")
        with self._book_lock:
            wallet = self._refresh()
            state = {
                "balance": legacy_float(wallet.cash),
                "initial_balance": legacy_float(wallet.initial_balance),
                "realized_pnl": legacy_float(wallet.realized_pnl),
                "total_trades": wallet.cycles_opened,
                "winning_trades": wallet.winning_cycles,
                "positions": {
                    symbol: {
                        key: legacy_float(value) if isinstance(value, Decimal) else value
                        for key, value in entry.items()
                    }
                    for symbol, entry in self._entries().items()
                },
            }
            yaml = YAML(typ="safe", pure=True)
            yaml.default_flow_style = False
            text = io.StringIO()
            yaml.dump(state, text)
            # Written under the book lock, so a later save never overwrites a newer one.
            return write_atomically(target, STATE_HEADER + text.getvalue())

    # --- internals ------------------------------------------------------------------------------

    def _refresh(self) -> WalletBook:
        """Fold the account's fills recorded since the last read (the caller holds the book lock)."""
        self._book.refresh()
        wallet = self._book.wallet
        assert wallet is not None  # the book was built with wallet_balance
        return wallet

    def _trade(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Amount,
        fee: Amount,
        strategy: str,
        identifier: str | None = None,
    ) -> Trade:
        """The fill a command appends, validated now (symbol, digits, names) so a bad one appends nothing."""
        return Trade(
            id=str(uuid.uuid4()) if identifier is None else identifier,
            symbol=symbol,
            side=side.value,
            amount=quantity,
            price=_positive(price, "price"),
            timestamp=self._clock(),
            strategy=strategy,
            exchange=PAPER_EXCHANGE,
            fees=_fee(fee),
        )

    def _check_open(self, trade: Trade, wallet: WalletBook) -> None:
        symbol = trade.symbol
        position = self._book.open.get(symbol)
        if position is not None:
            raise TradeRefused(
                f"open: {symbol} already has an open {_described(position)}; close it first, or add to a long "
                "with buy(); nothing was recorded"
            )
        if trade.side == Side.SELL and not self.allow_short:
            raise TradeRefused(f"open: shorts are not allowed (allow_short=False): sell {symbol}; nothing was recorded")
        self._check_room(symbol, "open")
        for _, earlier in self._book.trades:
            if earlier.id == trade.id and earlier.exchange == PAPER_EXCHANGE:
                raise TradeRefused(
                    f"open: identifier {trade.id!r} is already the id of a paper fill of account {self.account!r} "
                    f"({earlier.side} {earlier.symbol} {earlier.amount} at {earlier.price}); ids are never reused"
                )
        with localcontext(LEDGER_CONTEXT):
            cost = trade.amount * trade.price + trade.fees
            available = OPEN_MARGIN * wallet.cash
        if cost > available:
            raise TradeRefused(
                f"open: {trade.side} {symbol} {trade.amount} at {trade.price} costs {cost} (fee {trade.fees} "
                f"included), more than 95 % of the cash {wallet.cash} ({available}); nothing was recorded"
            )

    def _check_room(self, symbol: str, command: str) -> None:
        if len(self._book.open) >= self.max_open_trades:
            raise TradeRefused(
                f"{command}: {len(self._book.open)} positions are open ({', '.join(sorted(self._book.open))}), "
                f"max_open_trades is {self.max_open_trades}: cannot open {symbol}; nothing was recorded"
            )

    def _append(self, trade: Trade) -> None:
        if self.trade_manager is not None:
            self.trade_manager.record_trade(trade)  # its after_record hook saves the state file
        else:
            self.ledger.record(trade.to_fill(self.account))

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
        if not self.auto_save or self.state_file is None:
            return
        try:
            self.save_state()
        except OSError:
            logger.exception(
                "paper wallet state file %s was not rewritten; the ledger has the fill, the next save rewrites it",
                self.state_file,
            )

    @staticmethod
    def _require_symbol(symbol: object, command: str, usage: str, *, ids: bool = False) -> None:
        if isinstance(symbol, str) and ("/" in symbol or ids):
            return
        raise InvalidArgument(
            f"symbol: {command}() needs a BASE/QUOTE symbol like BTC/USD first (got {symbol!r}); the legacy "
            f"form without a symbol is not supported, every fill belongs to a symbol: {usage}"
        )

    def _resolve(self, key: object) -> str | None:
        """A symbol as given, or the symbol of the open position `open` returned the id `key` for, else None.

        The caller holds the book lock.
        """
        if not isinstance(key, str):
            raise InvalidArgument(f"symbol: must be a BASE/QUOTE symbol or a position id (got {key!r})")
        if "/" in key:
            return key
        for symbol, position in self._book.open.items():
            if self._book.trade_at(symbol, position.opened_seq).id == key:
                return symbol
        return None

    def _mark_key(self, key: object) -> str:
        symbol = self._resolve(key)
        if symbol is None:
            raise InvalidArgument(
                f"symbol: {key!r} is neither a BASE/QUOTE symbol nor the id of an open position "
                f"of account {self.account!r}"
            )
        return symbol

    def _marks(self, price_or_symbol: Amount | Mapping[str, Amount], price: Amount | None) -> dict[str, Decimal]:
        if isinstance(price_or_symbol, Mapping):
            if price is not None:
                raise InvalidArgument(f"price: not used with a mapping of marks (got {price!r})")
            return {self._mark_key(key): as_price(value, f"price of {key}") for key, value in price_or_symbol.items()}
        if price is not None:
            return {self._mark_key(price_or_symbol): as_price(price)}
        if isinstance(price_or_symbol, str) and "/" in price_or_symbol:
            raise InvalidArgument(f"price: unrealized({price_or_symbol!r}) needs a price: unrealized(symbol, price)")
        if len(self._book.open) != 1:
            raise InvalidArgument(
                f"unrealized(price) needs exactly one open position, there are {len(self._book.open)} "
                f"({', '.join(sorted(self._book.open))}); use unrealized({{symbol: price, ...}})"
            )
        (symbol,) = self._book.open
        return {symbol: as_price(price_or_symbol)}

    def _entries(self) -> dict[str, ReadOnlyDict]:
        with self._book_lock:
            self._refresh()
            marks = {} if self.trade_manager is None else self.trade_manager.price_cache
            return {
                symbol: ReadOnlyDict(_entry(self._book.open[symbol], marks.get(symbol)), WALLET_ADVICE)
                for symbol in sorted(self._book.open)
            }


def _entry(position: Position, mark: Decimal | None) -> dict[str, Any]:
    """One position in the legacy wallet shape (both quantity keys, pnl as a fraction)."""
    current = position.avg_price if mark is None else mark
    long = position.side is PositionSide.LONG
    with localcontext(LEDGER_CONTEXT):
        change = (current - position.avg_price) / position.avg_price
        reserved = ZERO if long else position.quantity * position.avg_price
        pnl = change if long else -change
    entered = position.opened_at.isoformat()
    return {
        "symbol": position.symbol,
        "side": position.side.value,
        "size": position.quantity,
        "amount": position.quantity,
        "entry_price": position.avg_price,
        "current_price": current,
        "pnl": pnl,
        "fees_paid": position.fees,
        "reserved": reserved,
        "entry_time": entered,
        "timestamp": entered,
    }


def _realized(position: Position, trade: Trade) -> Decimal:
    """The gross PnL a reducing fill books against the position it was checked against."""
    with localcontext(LEDGER_CONTEXT):
        return pnl(position.side, position.avg_price, trade.price, trade.amount)
