"""The paper wallet's command rules: its arguments read, and when `open`, `close`, `buy` and `sell` are refused.

Each check reads the account's books as the command found them and raises `TradeRefused` (nothing
appended) or `InvalidArgument` (a bad argument); none of them appends or changes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from tradeledger.compat.account import AccountBook
from tradeledger.compat.trades import Trade, as_price, to_decimal
from tradeledger.domain.fills import LEDGER_CONTEXT, Side
from tradeledger.domain.positions import ZERO, Position, PositionSide, pnl, unrealized_at
from tradeledger.domain.wallet import WalletBook
from tradeledger.errors import InvalidArgument, TradeRefused

Amount = Decimal | int | str | float
# The exchange of the wallet's simulated fills: part of their identity, apart from real exchange fills.
PAPER_EXCHANGE = "paper"
# `open` may spend at most this share of the cash (the legacy 5 % safety margin); `buy` has none.
OPEN_MARGIN = Decimal("0.95")


@dataclass(frozen=True, slots=True)
class Fee:
    """A command's fee: an amount in `currency` (None: the quote), valued by `quote_value` in a third one."""

    amount: Amount
    currency: str | None = None
    quote_value: Amount | None = None


def value_at_marks(
    wallet: WalletBook, positions: Iterable[Position], marks: Mapping[str, Decimal]
) -> tuple[Decimal, Decimal]:
    """(Σ unrealized PnL at `marks`, an unmarked position adding 0; the equity: cash + Σ open |s|·avg + that PnL)."""
    held = list(positions)
    gain = unrealized_at(held, marks)[0]
    with localcontext(LEDGER_CONTEXT):
        return gain, wallet.cash + sum((p.quantity * p.avg_price for p in held), ZERO) + gain


_SIDES = {"buy": Side.BUY, "long": Side.BUY, "sell": Side.SELL, "short": Side.SELL}


def positive(value: object, name: str) -> Decimal:
    """A finite Decimal above 0 (a float is read as the decimal it prints as)."""
    if not isinstance(value, Decimal | int | float | str):
        raise InvalidArgument(f"{name}: must be a number (got {type(value).__name__} {value!r})")
    return as_price(value, name)


def order_side(value: object) -> Side:
    side = _SIDES.get(value) if isinstance(value, str) else None
    if side is None:
        raise InvalidArgument(f"side: must be one of buy, sell, long, short (got {value!r})")
    return side


def fee(value: object) -> Decimal:
    amount = to_decimal(value, "fee")
    if not amount.is_finite() or amount < 0:
        raise InvalidArgument(f"fee: must be a finite number of 0 or more (got {value!r})")
    return amount


def described(position: Position) -> str:
    return f"{position.side.value} {position.symbol} of size {position.quantity} at {position.avg_price}"


def require_symbol(symbol: object, command: str, usage: str, *, ids: bool = False) -> None:
    """A BASE/QUOTE symbol (or, with `ids`, any text: a position id); the legacy form without one is refused."""
    if isinstance(symbol, str) and ("/" in symbol or ids):
        return
    raise InvalidArgument(
        f"symbol: {command}() needs a BASE/QUOTE symbol like BTC/USD first (got {symbol!r}); the legacy "
        f"form without a symbol is not supported, every fill belongs to a symbol: {usage}"
    )


def cost(trade: Trade) -> Decimal:
    """What a buying or opening fill takes from the cash: amount·price + its fee's quote value, but a
    fee in the base currency takes coins, not cash, and an unvalued fee is not in the cash (spec 9)."""
    with localcontext(LEDGER_CONTEXT):
        return trade.amount * trade.price + trade.cash_fees


def check_room(book: AccountBook, symbol: str, command: str, max_open_trades: int) -> None:
    if len(book.open) >= max_open_trades:
        raise TradeRefused(
            f"{command}: {len(book.open)} positions are open ({', '.join(sorted(book.open))}), "
            f"max_open_trades is {max_open_trades}: cannot open {symbol}; nothing was recorded"
        )


def check_size(command: str, quantity: Decimal, position: Position) -> None:
    """A reducing fill takes at most the open size: the wallet never clamps."""
    if quantity > position.quantity:
        raise TradeRefused(
            f"{command}: amount {quantity} is more than the open {described(position)}; "
            f"{command} at most {position.quantity} (the wallet never clamps); nothing was recorded"
        )


def check_open(
    book: AccountBook, trade: Trade, wallet: WalletBook, *, allow_short: bool, max_open_trades: int, new_id: bool
) -> None:
    """`open`: a symbol with no open position, shorts allowed, room, an unused id, cost within 95 % of the cash.

    `new_id`: the id is a uuid4 just drawn, not looked up in the account's trades (which would read the
    whole history after a start from the checkpoint); the log's dedupe key would refuse a repeat anyway."""
    symbol = trade.symbol
    position = book.open.get(symbol)
    if position is not None:
        raise TradeRefused(
            f"open: {symbol} already has an open {described(position)}; close it first, or add to a long "
            "with buy(); nothing was recorded"
        )
    if trade.side == Side.SELL and not allow_short:
        raise TradeRefused(f"open: shorts are not allowed (allow_short=False): sell {symbol}; nothing was recorded")
    check_room(book, symbol, "open", max_open_trades)
    for _, earlier in () if new_id else book.trades:
        if earlier.id == trade.id and earlier.exchange == PAPER_EXCHANGE:
            raise TradeRefused(
                f"open: identifier {trade.id!r} is already the id of a paper fill of account {book.account!r} "
                f"({earlier.side} {earlier.symbol} {earlier.amount} at {earlier.price}); ids are never reused"
            )
    spent = cost(trade)
    with localcontext(LEDGER_CONTEXT):
        available = OPEN_MARGIN * wallet.cash
    if spent > available:
        raise TradeRefused(
            f"open: {trade.side} {symbol} {trade.amount} at {trade.price} costs {spent} (fee {trade.cash_fees} "
            f"included), more than 95 % of the cash {wallet.cash} ({available}); nothing was recorded"
        )


def check_close(book: AccountBook, symbol: str, resolved: str | None, quantity: Decimal) -> tuple[str, Position]:
    """`close`: the open position of `resolved` (the symbol or id given as `symbol`), at least `quantity` large."""
    position = None if resolved is None else book.open.get(resolved)
    if resolved is None or position is None:
        raise TradeRefused(
            f"close: account {book.account!r} has no open position in {symbol} "
            "(the legacy wallet returned 0.0 here); nothing was recorded"
        )
    check_size("close", quantity, position)
    return resolved, position


def check_buy(book: AccountBook, trade: Trade, wallet: WalletBook, max_open_trades: int) -> None:
    """`buy`: opens or adds to a long, with room for a new position, its cost within the cash."""
    symbol = trade.symbol
    position = book.open.get(symbol)
    if position is not None and position.side is PositionSide.SHORT:
        raise TradeRefused(
            f"buy: {symbol} has an open {described(position)}; buy() only opens or adds to a long, "
            "close the short with close(); nothing was recorded"
        )
    if position is None:
        check_room(book, symbol, "buy", max_open_trades)
    spent = cost(trade)
    if spent > wallet.cash:
        raise TradeRefused(
            f"buy: {symbol} {trade.amount} at {trade.price} costs {spent} (fee {trade.cash_fees} included), "
            f"more than the cash {wallet.cash}; nothing was recorded"
        )


def check_sell(book: AccountBook, trade: Trade) -> Position:
    """`sell`: reduces an open long by at most its size; returns that long."""
    symbol = trade.symbol
    position = book.open.get(symbol)
    if position is None or position.side is not PositionSide.LONG:
        held = "no open position" if position is None else f"an open {described(position)}"
        raise TradeRefused(
            f"sell: {symbol} has {held}; sell() only reduces a long (use open(symbol, 'sell', ...) "
            "to open a short); nothing was recorded"
        )
    check_size("sell", trade.amount, position)
    return position


def realized(position: Position, trade: Trade) -> Decimal:
    """The gross PnL a reducing fill books against the position it was checked against."""
    with localcontext(LEDGER_CONTEXT):
        return pnl(position.side, position.avg_price, trade.price, trade.amount)


def resolve(book: AccountBook, key: object) -> str | None:
    """A symbol as given, or the symbol of the open position `open` returned the id `key` for, else None.

    The caller holds the book's lock.
    """
    if not isinstance(key, str):
        raise InvalidArgument(f"symbol: must be a BASE/QUOTE symbol or a position id (got {key!r})")
    if "/" in key:
        return key
    for symbol, position in book.open.items():
        if book.trade_at(symbol, position.opened_seq).id == key:
            return symbol
    return None


def _mark_key(book: AccountBook, key: object) -> str:
    symbol = resolve(book, key)
    if symbol is None:
        raise InvalidArgument(
            f"symbol: {key!r} is neither a BASE/QUOTE symbol nor the id of an open position of account {book.account!r}"
        )
    return symbol


def marks(
    book: AccountBook, price_or_symbol: Amount | Mapping[str, Amount], price: Amount | None
) -> dict[str, Decimal]:
    """The marks `unrealized` was given, in its legacy call forms (see PaperWallet.unrealized), by symbol."""
    if isinstance(price_or_symbol, Mapping):
        if price is not None:
            raise InvalidArgument(f"price: not used with a mapping of marks (got {price!r})")
        return {_mark_key(book, key): as_price(value, f"price of {key}") for key, value in price_or_symbol.items()}
    if price is not None:
        return {_mark_key(book, price_or_symbol): as_price(price)}
    if isinstance(price_or_symbol, str) and "/" in price_or_symbol:
        raise InvalidArgument(f"price: unrealized({price_or_symbol!r}) needs a price: unrealized(symbol, price)")
    if len(book.open) != 1:
        raise InvalidArgument(
            f"unrealized(price) needs exactly one open position, there are {len(book.open)} "
            f"({', '.join(sorted(book.open))}); use unrealized({{symbol: price, ...}})"
        )
    (symbol,) = book.open
    return {symbol: as_price(price_or_symbol)}
