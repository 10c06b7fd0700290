"""Settling an expired dated future (`Ledger.record_settlement`): the open position read, and the fill that closes
it (`domain.settlement.settlement_fields`) appended only while that position is still the log's.

The position and the log's head are read in one read transaction; the fill is appended on the condition that the
account has no event after that head (`Ledger.record_if_current`, asked under the write lock): an append to the
account in between (another process's fill) makes it read the position again, so the quantity settled is always
the whole open quantity the log holds when the settlement lands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Required, TypedDict

from tradeledger.application.appending import validate_fill
from tradeledger.application.ports import EventLog, LedgerStore
from tradeledger.application.replaying import event_at
from tradeledger.domain.fills import Side
from tradeledger.domain.markets import market
from tradeledger.domain.positions import Position
from tradeledger.domain.records import Checkpoint, Receipt, StoredEvent, receipt
from tradeledger.domain.settlement import closing_fields, settlement_fields, settlement_id
from tradeledger.errors import FillConflict, InvalidArgument

ATTEMPTS = 50  # reads of the position before giving up while other appends to the account keep landing

RecordIfCurrent = Callable[..., Receipt | None]


class SettlementTerms(TypedDict, total=False):
    """What `Ledger.record_settlement` takes besides the symbol: `price` and `occurred_at` are required."""

    price: Required[Decimal | str]
    occurred_at: Required[datetime]
    account: str
    exchange: str | None
    fees: Sequence[Mapping[str, Any]]
    fee_rate: Decimal | str | None


def record_settlement(
    store: LedgerStore, record_if_current: RecordIfCurrent, symbol: str, terms: SettlementTerms
) -> Receipt:
    """The settlement of the open position of `symbol` in `terms["account"]` (default "default"), appended (see the
    module's docstring)."""
    dated(symbol)
    settled_at = decimal_argument("price", terms["price"])
    given_rate = terms.get("fee_rate")
    rate = None if given_rate is None else decimal_argument("fee_rate", given_rate)
    account, exchange = terms.get("account", "default"), terms.get("exchange")
    occurred_at, fees = terms["occurred_at"], terms.get("fees", ())
    if rate is not None and fees:
        raise InvalidArgument("fee_rate: give the delivery fee as fees or as a rate of the value, not both")
    for _ in range(ATTEMPTS):
        found = open_position(store, symbol, account=account, exchange=exchange)
        if isinstance(found, StoredEvent):  # settled already: the same settlement is a duplicate, another a conflict
            closed = (found.account, symbol, Side(str(found.side)), Decimal(str(found.quantity)))
            again = closing_fields(
                closed, exchange=found.exchange, price=settled_at, occurred_at=occurred_at, fees=fees, fee_rate=rate
            )
            content = validate_fill(again, where="settlement").canonical()
            if content != found.content():
                raise FillConflict(found.key, found.content(), content)
            return receipt(found.seq, found.epoch, found.hash, duplicate=True, fill_id=found.fill_id)
        position, venue, at = found
        fill = settlement_fields(
            position, exchange=venue, price=settled_at, occurred_at=occurred_at, fees=fees, fee_rate=rate
        )
        appended = record_if_current(fill, account=account, at=at)
        if appended is not None:
            return appended
    raise InvalidArgument(
        f"account: {account!r} kept moving while its position in {symbol} was read {ATTEMPTS} times; nothing was "
        "settled: try again"
    )


def dated(symbol: str) -> None:
    """InvalidArgument unless `symbol` is a dated future's (a bad symbol: what is wrong with it)."""
    try:
        traded = market(symbol)
    except ValueError as error:
        raise InvalidArgument(f"symbol: {error}") from None
    if traded.expiry is None:
        raise InvalidArgument(
            f"symbol: only a dated future (BASE/QUOTE:SETTLE-YYMMDD) settles at an expiry (got {symbol!r})"
        )


def decimal_argument(name: str, value: object) -> Decimal:
    """`value` as a finite Decimal (a Decimal, or a decimal string in ASCII), else InvalidArgument naming `name`."""
    found: Decimal | None = value if isinstance(value, Decimal) else None
    if isinstance(value, str) and value.isascii():
        try:
            found = Decimal(value)
        except InvalidOperation:
            found = None
    if found is None or not found.is_finite():
        raise InvalidArgument(f"{name}: must be a finite Decimal or decimal string (got {value!r})")
    return found


def open_position(
    store: LedgerStore, symbol: str, *, account: str, exchange: str | None
) -> tuple[Position, str, Checkpoint] | StoredEvent:
    """The open position of `symbol` in `account`, the exchange to settle it on (`exchange`, else that of the cycle's
    last fill) and the log's head, read in one transaction. When none is open: the contract's settlement the log
    holds already, else InvalidArgument."""
    with store.reading() as tx:
        found = tx.projection.open_positions(account=account, symbol=symbol)
        head = tx.log.head()
        if not found:
            settled = _settled(tx.log, symbol, account=account, exchange=exchange)
            if settled is not None:
                return settled
            raise InvalidArgument(f"symbol: account {account!r} holds no open position in {symbol}; nothing to settle")
        position = found[0]
        if exchange is None:
            last = event_at(tx.log, position.last_seq)
            exchange = "" if last is None else last.exchange
    return position, exchange, head


def _settled(log: EventLog, symbol: str, *, account: str, exchange: str | None) -> StoredEvent | None:
    """The settlement of `symbol` in `account` the log holds, on whichever exchange (a contract settles once per
    account: its positions net across exchanges), None without one; InvalidArgument when `exchange` is named and the
    contract was settled on another (nothing is open to settle there)."""
    ident = settlement_id(symbol)
    found = next((event for event in log.find_anywhere({(account, ident)}) if event.type == "fill"), None)
    if found is not None and exchange is not None and found.exchange != exchange:
        raise InvalidArgument(
            f"exchange: account {account!r} settled {symbol} on {found.exchange!r} at seq {found.seq} (a contract "
            f"settles once per account, whichever of its exchanges it was filled on); nothing is open to settle on "
            f"the exchange named (got {exchange!r})"
        )
    return found
