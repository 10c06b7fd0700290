"""ccxt's unified structures as events (spec section 10): pure, exact, and loud about what it cannot map.

What each structure becomes (the id is what appends are idempotent on, per account and exchange):

    trade    {id, order, timestamp, symbol, type, side, takerOrMaker, price, amount, fee, fees, info}
             → fill `<symbol>:<id>` (some exchanges number trades per symbol); `fees` wins over `fee`;
               a fee with cost null or 0 is no fee; a negative cost is a rebate. A trade the exchange
               marks as a funding row (bybit's `info.execType == "Funding"`, documented by bybit's
               execution list) → funding `<symbol>:<id>` of minus its fee (the fee is what was paid). A trade
               bybit marks as a delivery (`info.execType` Delivery or Settle: bybit closed the position at its
               delivery price, a dated future at its expiry or a contract delisted) of a dated future → that
               future's settlement (domain/settlement.py: fill `settlement:<symbol>`, marked {"settlement": true},
               no order); of any other contract a fill like any other. Two of one contract in a list (bybit's
               hedge mode) are refused.
    funding  {id, symbol, code, timestamp, amount}  → funding `<symbol>:<id>` (+ received, - paid); without
             an id of its own (none, or zeros only: hyperliquid's hash 0x000…0 on every record)
             `<symbol>@<timestamp>`, the time in ms: a contract is paid funding once at a time; in the
             contract's settle currency (`code` null, as ccxt gives mexc's funding: that currency)
    ledger   {id, direction, type, currency, amount, timestamp, fee}
             → transfer `ledger:<id>` for deposit, withdrawal and transfer entries (signed by
               `direction`: exchanges disagree on the sign of `amount`, okx writes outflows negative; ccxt's type
               `transaction`, its one word for both on kraken, kucoin, bybit, coinbase, bitfinex, ..., is a deposit
               when in, a withdrawal when out; its `status` read as a deposit's, below: ccxt writes it null on the
               ledgers that list only settled movements, binance, bitfinex, gate, kucoin's spot ledger, ...),
               funding `ledger:<id>` for funding entries that name a symbol; every other entry is skipped:
               trade and fee entries repeat what the trades carry (a fee entry may be funding that ccxt types
               fee: its skip says to take funding from the funding history), the rest moved money no event
               books and their skip says what and how to record it (unbooked.py).
    deposit / withdrawal  {id, txid, type, currency, amount, status, timestamp, fee}
             (type `withdraw` too: ccxt passes bithumb's own word on; a fee without a currency is in the transfer's;
             type null, as ccxt gives backpack's, is the kind named: the call that returned it)
             → transfer `deposit:<id>` / `withdrawal:<id>`, without an id (mexc's deposit history gives none)
               `deposit@<time in ms>:<txid>` (when, and the chain's transaction); a withdrawal's fee is taken on
               top; only an entry whose status is ok (or not given; gemini's own Complete and Advanced too) moved money:
               pending, failed, canceled and the other statuses exchanges give through ccxt (rejected, declined,
               expired, refunded, ...) are skipped; a status is read whatever its case (ccxt passes gemini's
               "Pending" on as written), and a word not known (answers.py) is refused naming it.

Numbers are taken exactly as given: strings (ccxt with `exchange.number = str`), ints, or Decimals (a
JSON file read with parse_float=Decimal); a float is refused, never converted (ccxt's default float
mode turns okx's "0.4" into 0.4000000000000001). ccxt's `info` (the exchange's raw record) goes into the
event's metadata, with `order`, `type` and `takerOrMaker`. Rules of one exchange, by the name it is ingested
or synced under: bybit's funding and delivery rows above, an exchange's own status words (answers.py), luno's
ledger rows numbered per account, and what ccxt loses of htx's and luno's fees (quirks.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Context, Decimal
from enum import StrEnum
from typing import Any

from tradeledger.application.appending import validate_event
from tradeledger.domain.events import Event
from tradeledger.domain.fills import exact_amount, shortened
from tradeledger.domain.markets import market
from tradeledger.domain.settlement import SETTLEMENT, is_settlement, settlement_id
from tradeledger.errors import InvalidArgument, InvalidFill
from tradeledger.exchanges.ccxt.answers import MOVED, NOT_MOVED, STILL_OPEN, status_meaning
from tradeledger.exchanges.ccxt.entries import EPOCH, Entry, quoted
from tradeledger.exchanges.ccxt.quirks import trade_fees, transfer_status
from tradeledger.exchanges.ccxt.unbooked import unbooked


class Kind(StrEnum):
    """What a list of ccxt structures is, by the call that returned it."""

    TRADES = "trades"  # fetch_my_trades
    FUNDING = "funding"  # fetch_funding_history
    LEDGER = "ledger"  # fetch_ledger
    DEPOSITS = "deposits"  # fetch_deposits (or fetch_deposits_withdrawals: each entry's type decides)
    WITHDRAWALS = "withdrawals"  # fetch_withdrawals


_LEDGER_KINDS = {"deposit": "deposit", "withdrawal": "withdrawal", "transfer": "internal"}
_FUNDING_ROW = "Funding"  # bybit: info.execType of a funding settlement in the execution list
# bybit: info.execType of a position the exchange closed at its delivery price (bybit v5 docs, enum execType: Delivery
# "USDC futures delivery; Position closed by contract delisted", Settle "Inverse futures settlement; Position closed
# due to delisting"; createType CreateBySettle: "recorded as a trade but not an order", its side the closing side).
_DELIVERY_ROWS = frozenset({"Delivery", "Settle"})
# ccxt types funding fee in a ledger (bitget's contract_settle_fee, binance's FUNDING_FEE, okx's bill type 8,
# crypto.com's FUNDING, kraken futures' funding rate change) as it types a trade's fee: neither is booked from a ledger.
_FEE_ENTRY = (
    "a ledger fee entry (a trade's fee is in its trade; funding typed fee here is not booked: ingest "
    "fetch_funding_history)"
)
_COST_SLACK = Decimal("0.001")  # a cost within 0.1% of amount x price x size is of contracts of that size
_PLAIN_DIGITS = 12  # a size the cost implies is written without an exponent up to 1E+12 and down to 1E-12
_SIX_DIGITS = Context(prec=6)
_WIDE = Context(prec=2 * 28 + 2)  # the exact product of two amounts of at most 28 significant digits
_NO_ID = re.compile(r"(0x)?0+")  # an id of zeros only (hyperliquid's funding hash) names nothing
_RUNS = re.compile(r"(\D*)(\d*)")  # an id's runs: text, then the digits after it


class StillOpen(str):
    """Why a transfer is skipped, when its status says it may still move money (pending, processing, ...)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Mapped:
    """The events of a list of ccxt structures, each with its entry's index, and the entries skipped.

    `still_open`: the indexes of the transfers skipped while their status says they may still move money (a sync's
    cursor stays at the earliest: a later sync books them once done)."""

    kind: Kind
    events: tuple[tuple[int, Event], ...]
    skipped: tuple[tuple[int, str], ...]  # (index, why)
    still_open: tuple[int, ...] = ()

    def in_time_order(self) -> list[tuple[int, Event]]:
        """The events as they are appended: sorted by (occurred_at, id), so the log follows the exchange's time
        whatever order the list was written in (spec section 9; exchanges answer newest first, ccxt oldest). Within
        one millisecond the ids decide, their runs of digits by number (id_order): the fills of one order share a
        millisecond, and an exchange's trade numbers grow past a power of ten (binance's per symbol: 9999, 10000)."""
        return sorted(self.events, key=lambda item: (item[1].occurred_at, id_order(item[1].event_id)))


def id_order(ident: str) -> tuple[tuple[str, int, str, str], ...]:
    """`ident` as its runs of text and digits, a run of digits by its number ("9998" before "10000"; then by its
    leading zeros, so that no two ids that differ tie): ids alike but for the numbers in them sort by those."""
    return tuple(
        (text, len(digits.lstrip("0")), digits.lstrip("0"), digits)
        for text, digits in _RUNS.findall(ident)
        if text or digits
    )


def recognise(entry: Mapping[str, Any]) -> Kind | None:
    """The kind of one ccxt structure by its fields, None when it is none of them."""
    if "direction" in entry and "currency" in entry and "amount" in entry:
        return Kind.LEDGER
    if "side" in entry and "price" in entry and "amount" in entry:
        return Kind.TRADES
    given = entry.get("type")
    transaction = _TRANSACTION_TYPES.get(given) if isinstance(given, str) else None
    if transaction is not None and "currency" in entry and "amount" in entry:
        return Kind.WITHDRAWALS if transaction == "withdrawal" else Kind.DEPOSITS
    if "code" in entry and "symbol" in entry and "amount" in entry:
        return Kind.FUNDING
    return None


def kind_of(entries: Sequence[object]) -> Kind:
    """The one kind of a whole list, or InvalidFill naming the entry that is not one or differs."""
    found: dict[Kind, int] = {}
    for index, entry in enumerate(entries):
        kind = recognise(entry) if isinstance(entry, Mapping) else None
        if kind is None:
            raise InvalidFill(
                f"entry {index}: not a ccxt trade, funding, ledger, deposit or withdrawal structure "
                f"(got {quoted(entry)}); name the kind with --kind"
            )
        found.setdefault(kind, index)
    transactions = {Kind.DEPOSITS, Kind.WITHDRAWALS}
    if len(found) > 1 and not set(found) <= transactions:
        (first, at), (other, there) = sorted(found.items(), key=lambda item: item[1])[:2]
        raise InvalidFill(
            f"a mixed list: entry {at} is a {first.value} entry, entry {there} a {other.value} entry; "
            "ingest one kind per file"
        )
    if not found:
        return Kind.TRADES
    return Kind.DEPOSITS if set(found) <= transactions and len(found) > 1 else next(iter(found))


def map_entries(
    entries: Sequence[object],
    *,
    exchange: str,
    account: str = "default",
    kind: Kind | None = None,
    on_entry: Callable[[], None] | None = None,
    contract_sizes: Mapping[str, Decimal] | None = None,
    typed: bool = False,
) -> Mapped:
    """Events for a list as a ccxt call returns it; InvalidFill naming the first bad entry's index and field.

    `kind` None recognises it from the fields (a mixed or unrecognised list is refused). `contract_sizes`: the
    base units of one contract per contract symbol (ccxt's market `contractSize`); a trade's amount on a contract
    is in contracts. `typed` (with `kind` deposits or withdrawals): a list as fetch_deposits_withdrawals returns it,
    each entry's own `type` deciding (an entry without one is refused)."""
    if typed and kind not in _TRANSACTIONS:
        raise InvalidArgument(f"typed: only a list of deposits or withdrawals is typed by its entries (got {kind})")
    chosen = kind if kind is not None else kind_of(entries)
    sizes = _checked_sizes(contract_sizes or {})
    events: list[tuple[int, Event]] = []
    skipped: list[tuple[int, str]] = []
    held: list[int] = []
    settled: dict[str, int] = {}  # a settlement's fill id: the entry that is it
    for index, raw in enumerate(entries):
        if not isinstance(raw, Mapping):
            raise InvalidFill(f"entry {index}: expected a JSON object (got {quoted(raw)})")
        entry = Entry(raw, index)
        if chosen is Kind.TRADES:
            fields = _trade(entry, sizes, exchange)
        elif chosen in _TRANSACTIONS:
            fields = _transaction(entry, None if typed else kind, exchange)
        elif chosen is Kind.LEDGER:
            fields = _ledger(entry, exchange)
        else:
            fields = _MAPPERS[chosen](entry)
        if on_entry is not None:
            on_entry()
        if isinstance(fields, str):
            skipped.append((index, str(fields)))
            held += [index] if isinstance(fields, StillOpen) else []
            continue
        if is_settlement(fields.get("metadata")) and settled.setdefault(fields["fill_id"], index) != index:
            raise entry.refuse(
                "info.execType",
                f"a second bybit {raw['info']['execType']} of {fields['symbol']} in the list (entry "
                f"{settled[fields['fill_id']]} is one): the ledger books one settlement of a contract's net position; "
                "record it with record-settlement",
            )
        fields |= {"account": account, "exchange": exchange}
        events.append((index, validate_event(fields, where=f"entry {index}")))
    return Mapped(chosen, tuple(events), tuple(skipped), tuple(held))


def _checked_sizes(sizes: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Contract sizes as a fill amount is held: a Decimal greater than 0 within 1E-24..1E+24 (28 digits)."""
    given: Mapping[str, object] = sizes  # a caller's, checked at run time
    for symbol, size in given.items():
        if not isinstance(size, Decimal) or not size.is_finite() or size <= 0:
            raise InvalidArgument(f"contract_sizes: {symbol}: must be a Decimal greater than 0 (got {quoted(size)})")
        try:
            exact_amount(size)
        except ValueError as error:
            raise InvalidArgument(f"contract_sizes: {symbol}: {error}") from None
    return dict(sizes)


def _trade(entry: Entry, sizes: Mapping[str, Decimal], exchange: str = "") -> dict[str, Any] | str:
    ident, symbol = entry.text("id"), entry.symbol()
    occurred_at = entry.occurred_at()
    info = entry.raw.get("info")
    executed = info.get("execType") if isinstance(info, Mapping) else None
    if executed == _FUNDING_ROW:
        paid = sum((Decimal(str(fee["amount"])) for fee in entry.fees()), Decimal(0))
        return {
            "type": "funding",
            "funding_id": f"{symbol}:{ident}",
            "symbol": symbol,
            "amount": -paid,
            "currency": market(symbol).settle or market(symbol).quote,
            "occurred_at": occurred_at,
            "metadata": entry.metadata("order"),
        }
    side = entry.raw.get("side")
    if side not in ("buy", "sell"):
        raise entry.refuse("side", f"must be buy or sell (got {quoted(side)})")
    order = entry.raw.get("order")
    quantity, size = _base_quantity(entry, symbol, sizes)
    settles = executed in _DELIVERY_ROWS and market(symbol).expiry is not None
    return {
        "fill_id": settlement_id(symbol) if settles else f"{symbol}:{ident}",
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "price": entry.amount("price"),
        "fees": trade_fees(entry, exchange),  # htx's contract fee sign, luno's counter fee (quirks)
        "occurred_at": occurred_at,
        "order_id": str(order)
        if isinstance(order, str | int) and not isinstance(order, bool) and not settles
        else None,
        "metadata": ({SETTLEMENT: True} if settles else {})
        | entry.metadata("type", "takerOrMaker")
        | ({} if size == 1 else {"contract_size": str(size)}),
    }


def _base_quantity(entry: Entry, symbol: str, sizes: Mapping[str, Decimal]) -> tuple[Decimal, Decimal]:
    """A trade's amount in base units, and the contract size it was multiplied by (1 on a spot market).

    ccxt gives a contract trade's amount in contracts, and its cost (what the exchange says changed hands, or ccxt's
    amount x price x contract size): the cost decides. With a size given (`sizes`, from --contract-size or ccxt's
    markets), a cost of amount x price x size (within 0.1%: exchanges round the cost they report) is contracts of
    that size, and a cost of amount x price an amount already in base units (deribit's linear contracts, whose
    markets ccxt sizes otherwise); without one, a cost of amount x price is contracts of 1 base unit. Any other
    cost, or none without a size, is refused naming it: the contract's size is not in the trade (kucoin's
    LTC/USDT:USDT contract is 0.1 LTC, okx's BTC/USDT:USDT 0.01 BTC)."""
    amount = entry.held("amount")  # named as the file names it (the fill's own rules would name its quantity)
    if amount <= 0:
        raise entry.refuse("amount", f"must be greater than 0 (got {shortened(amount)})")
    if market(symbol).settle is None:
        return amount, Decimal(1)
    given = sizes.get(symbol)
    price = entry.held("price")
    if price <= 0:
        return amount, Decimal(1)  # refused by the fill's own rule, naming price
    notional = amount * price
    cost = None if entry.raw.get("cost") is None else entry.held("cost", digits=False)
    if cost is None and given is not None:
        return _in_base_units(entry, amount, given, symbol), given
    if cost is not None:
        for size in dict.fromkeys(size for size in (given, Decimal(1)) if size is not None):
            if abs(cost - notional * size) <= notional * size * _COST_SLACK:
                return _in_base_units(entry, amount, size, symbol), size
    base = market(symbol).base
    if cost is None:
        said = "no cost"
    elif given is None:
        said = f"cost {shortened(cost)}, not amount x price = {shortened(notional)}"
    else:
        said = (
            f"cost {shortened(cost)}, neither amount x price x {shortened(given)} (the contract size given) = "
            f"{shortened(notional * given)} nor amount x price = {shortened(notional)}"
        )
    implied = "" if cost is None else f" (the cost says about {_significant(cost / notional)} {base} a contract)"
    raise entry.refuse(
        "cost",
        f"{shortened(amount)} contracts of {symbol} at {shortened(price)} {said}{implied}; give the contract's size "
        f"in {base} (ccxt's market contractSize) with --contract-size {symbol}=SIZE",
    )


def _in_base_units(entry: Entry, amount: Decimal, size: Decimal, symbol: str) -> Decimal:
    """`amount` contracts of `size` base units, exactly: a product of more than 28 significant digits is refused
    naming the trade's amount, never rounded."""
    try:
        return exact_amount(_WIDE.multiply(amount, size))
    except ValueError as error:
        base = market(symbol).base
        raise entry.refuse("amount", f"{shortened(amount)} contracts of {shortened(size)} {base}: {error}") from None


def _significant(value: Decimal) -> str:
    rounded = value.normalize(_SIX_DIGITS)
    return f"{rounded:f}" if abs(rounded.adjusted()) <= _PLAIN_DIGITS else str(rounded)


def _funding(entry: Entry) -> dict[str, Any] | str:
    symbol, occurred_at = entry.symbol(), entry.occurred_at()
    ident = entry.raw.get("id")
    if ident is None or (isinstance(ident, str) and _NO_ID.fullmatch(ident)):
        # No id of its own (hyperliquid writes the hash 0x000…0 on every funding record): a contract is paid
        # funding once at a time, so its symbol and time (in ms) name the payment.
        funding_id = f"{symbol}@{(occurred_at - EPOCH) // timedelta(milliseconds=1)}"
    else:
        funding_id = f"{symbol}:{entry.text('id')}"
    return {
        "type": "funding",
        "funding_id": funding_id,
        "symbol": symbol,
        "amount": entry.amount("amount"),
        "currency": _funding_currency(entry, symbol),
        "occurred_at": occurred_at,
        "metadata": entry.metadata(),
    }


def _funding_currency(entry: Entry, symbol: str) -> str:
    """The funding's `code`, which must be the contract's settle currency; none given (ccxt 4.5.90 writes code null
    on every mexc funding payment: mexc's answer names none), the settle currency, the only one funding is paid in."""
    settle = market(symbol).settle
    if entry.raw.get("code") is None and settle is not None:
        return settle
    return _settled_in(entry, symbol, entry.currency("code"), "code")


def _settled_in(entry: Entry, symbol: str, currency: str, field: str) -> str:
    """`currency` if it is the contract's settle currency, else refused naming the ccxt entry's own field (the
    event model would name its `currency`; ccxt 4.5.90 writes USD on woo's USDT contracts' funding)."""
    settle = market(symbol).settle
    if settle is not None and currency != settle:
        raise entry.refuse(field, f"funding on {symbol} is paid in its settle currency {settle} (got {currency!r})")
    return currency


def _ledger(entry: Entry, exchange: str = "") -> dict[str, Any] | str:
    kind = entry.raw.get("type")
    if kind == "funding" and entry.raw.get("symbol") is None:
        raise entry.refuse(
            "symbol", "a ledger's funding entry needs the contract's symbol; ingest fetch_funding_history"
        )
    if kind == "fee":
        return _FEE_ENTRY
    if not isinstance(kind, str) or (kind not in ("funding", "transaction") and kind not in _LEDGER_KINDS):
        return unbooked(entry, kind, exchange)
    ident = entry.text("id")
    if exchange in _ROWS_PER_ACCOUNT:
        if entry.raw.get("account") is None:
            raise entry.refuse(
                "account",
                f"{exchange!r} numbers its ledger rows per account (row 1, 2, ... in each): the row's account is "
                "required (got None; sync writes it, ingest needs it in the file)",
            )
        ident = f"{entry.text('account')}:{ident}"
    direction = entry.raw.get("direction")
    if direction not in ("in", "out"):
        raise entry.refuse("direction", f"must be in or out (got {quoted(direction)})")
    amount = abs(entry.amount("amount")) * (1 if direction == "in" else -1)
    currency = entry.currency("currency")
    if kind == "transaction":  # ccxt's one type for both (kraken, kucoin, bybit, coinbase, bitfinex, ...)
        kind = "deposit" if direction == "in" else "withdrawal"
    if kind != "funding" and (unmoved := _not_moved(entry, f"ledger {kind}", exchange)) is not None:
        return unmoved
    if kind == "funding":
        return {
            "type": "funding",
            "funding_id": f"ledger:{ident}",
            "symbol": entry.symbol(),
            "amount": amount,
            "currency": currency,
            "occurred_at": entry.occurred_at(),
            "metadata": entry.metadata("referenceId", "account"),
        }
    return _transfer(entry, f"ledger:{ident}", _LEDGER_KINDS[kind], amount, currency, ("referenceId", "account"))


def _transaction(entry: Entry, named: Kind | None, exchange: str = "") -> dict[str, Any] | str:
    """A deposit or a withdrawal by its own `type`; with --kind named, only that one; its status read as `exchange`'s
    words where that exchange has its own (answers.status_meaning)."""
    given = entry.raw.get("type")
    kind = _TRANSACTION_TYPES.get(given) if isinstance(given, str) else None
    if given is None and named is not None:
        kind = _TRANSACTIONS[named]  # no type of its own (ccxt's backpack): what the call that returned it says
    allowed = ("deposit", "withdrawal") if named is None else (_TRANSACTIONS[named],)
    if kind not in allowed:
        raise entry.refuse("type", f"must be {' or '.join(allowed)} (got {quoted(given)})")
    if (unmoved := _not_moved(entry, str(kind), exchange)) is not None:
        return unmoved
    amount = abs(entry.amount("amount"))
    signed = amount if kind == "deposit" else -amount
    return _transfer(entry, f"{kind}{_transaction_id(entry)}", str(kind), signed, entry.currency("currency"))


def _not_moved(entry: Entry, what: str, exchange: str = "") -> str | None:
    """Why a transfer (`what`: "withdrawal", "ledger transfer", ...) is skipped when its `status` says no money moved,
    yet (StillOpen) or at all; None when it moved (ok, or no status: what a ledger lists is settled). A status read
    whatever its case, and as `exchange`'s own word where that exchange has its own for a deposit or a withdrawal
    (answers.status_meaning); InvalidFill naming a status that is no word of answers.py's (never guessed to be money
    that moved, or that did not)."""
    status = transfer_status(entry, exchange, what)  # htx's own deposit state where ccxt lost it (quirks)
    if status is None:
        return None
    meaning = status_meaning(status, exchange, what)
    if meaning is None:
        known = ", ".join(sorted(MOVED | STILL_OPEN | NOT_MOVED))
        raise entry.refuse(
            "status", f"is not a transfer status the ledger knows (got {quoted(status)}); known, in any case: {known}"
        )
    if meaning is MOVED:
        return None
    why = f"a {status} {what} (no money moved)"
    return StillOpen(why) if meaning is STILL_OPEN else why


def _transaction_id(entry: Entry) -> str:
    """`:<id>`, or without an id of its own (ccxt writes id null on mexc's deposits) `@<time in ms>:<txid>`, the
    chain's transaction that moved it and when (a txid an exchange writes on its internal moves may repeat);
    InvalidFill naming both when neither is given."""
    if entry.raw.get("id") is None and entry.raw.get("txid") is not None:
        return f"@{(entry.occurred_at() - EPOCH) // timedelta(milliseconds=1)}:{entry.text('txid')}"
    if entry.raw.get("id") is None:
        raise entry.refuse("id", "is required, as text, or the transaction's txid (got None, and txid None)")
    return f":{entry.text('id')}"


def _transfer(
    entry: Entry, ident: str, kind: str, amount: Decimal, currency: str, extra: tuple[str, ...] = ("txid", "network")
) -> dict[str, Any]:
    fee = Decimal(0)
    for paid in entry.fees(currency):  # a fee that names no currency is in the transfer's (bithumb's, bydfi's)
        if paid["currency"] != currency:
            raise entry.refuse(
                "fee.currency", f"a transfer's fee is in its own currency {currency} (got {paid['currency']})"
            )
        fee += Decimal(str(paid["amount"]))
    if fee < 0:
        raise entry.refuse("fee.cost", f"a transfer's fee is not negative (got {shortened(fee)})")
    return {
        "type": "transfer",
        "transfer_id": ident,
        "currency": currency,
        "amount": amount,
        "fee": fee,
        "kind": kind,
        "occurred_at": entry.occurred_at(),
        "metadata": entry.metadata(*extra),
    }


_MAPPERS = {Kind.FUNDING: _funding}
# Exchanges whose ledger numbers its rows per account (luno's row_index: 1, 2, 3, ... in each of its accounts, one a
# currency): a row is `ledger:<account>:<row>` there.
_ROWS_PER_ACCOUNT = frozenset({"luno"})
_TRANSACTIONS = {Kind.DEPOSITS: "deposit", Kind.WITHDRAWALS: "withdrawal"}
# A transaction's `type` as ccxt writes it: its unified words, and bithumb's own "withdraw" (ccxt 4.5.90 passes it on).
_TRANSACTION_TYPES = {"deposit": "deposit", "withdrawal": "withdrawal", "withdraw": "withdrawal"}
