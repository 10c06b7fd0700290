"""`reconcile`: the ledger against what the exchange says it holds and lists (spec section 10).

Balances: the balances projection of (account, exchange) against `fetch_balance()`'s `total` per
currency (a currency absent on one side is 0 there); a difference within `--tolerance CUR=AMOUNT` is
dust and passes. Trades: the exchange's trade list (mapped as `ingest` maps it) against the log: a
trade the log lacks is *missing*, a trade whose accounting fields (symbol, side, quantity, price,
fees, time) differ from the recorded fill of the same id is *conflicting*, and a fill of the log on a
symbol of the list, inside the list's time span, that the list lacks is *unknown* to the exchange. Fills a bot
recorded live with the exchange's order id cover that order's trades as ingest and sync take them (covering.py): a
covered trade is not missing, the live fills that cover a trade of the list are not unknown, and a trade they can
neither cover nor leave (the live total ends inside it, or another side) is conflicting in `quantity` or `side`.

Each balance difference names its likely cause, tried in this order: the missing fills (their
effect on that currency, folded with the log, equals the difference), dust within the tolerance, the
unvalued fees in that currency on that exchange (a fee in a third currency paid from elsewhere, or never
recorded: the difference equals their sum; the account's fees on its other exchanges are not counted), else
the direction says what to look for (more on the exchange: a deposit or a transfer in not ingested, or a
missed buy; less: a withdrawal or a fee not ingested, or a missed sell).

What is read: the listed trades by key, and the log's fills inside the list's time span (a query by account,
exchange and time); the exchange's events are read (as a stream) only when trades are missing, to fold their
effect, or when a difference is neither missing fills nor dust, to sum its unvalued fees (the positions
projection keeps those per account and symbol, every exchange together). A reconcile without such a
difference costs what the list and the balances hold, not the log (issue 19).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from tradeledger.application.ledger import Ledger
from tradeledger.domain.events import Event
from tradeledger.domain.fee_parts import add_unvalued
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill, decimal_text
from tradeledger.domain.positions import Accounting, Execution, accounting_of
from tradeledger.domain.reference import reference_balances
from tradeledger.errors import InvalidArgument, InvalidFill
from tradeledger.exchanges.ccxt.covering import cover
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

ZERO = Decimal(0)
_COMPARED = ("symbol", "side", "quantity", "price", "fees", "occurred_at", "amount", "currency", "fee", "kind")


@dataclass(frozen=True, slots=True)
class BalanceRow:
    account: str
    exchange: str
    currency: str
    ledger: Decimal
    exchange_total: Decimal
    cause: str | None  # None: they agree

    @property
    def difference(self) -> Decimal:
        return self.exchange_total - self.ledger

    @property
    def differs(self) -> bool:
        """A difference that counts (dust within the tolerance does not)."""
        return self.difference != 0 and not (self.cause or "").startswith("dust")


@dataclass(frozen=True, slots=True)
class TradeDifference:
    fill_id: str
    symbol: str
    entry: int | None  # the index in the exchange's list (None: only in the log)
    seq: int | None  # the log's seq (None: not in the log)
    fields: tuple[str, ...] = ()  # conflicting: the fields that differ


@dataclass(frozen=True, slots=True)
class Reconciliation:
    seq: int
    balances: tuple[BalanceRow, ...]
    missing: tuple[TradeDifference, ...]
    unknown: tuple[TradeDifference, ...]
    conflicting: tuple[TradeDifference, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unknown or self.conflicting or any(row.differs for row in self.balances))


def exchange_totals(balance: object) -> dict[str, Decimal]:
    """`total` per currency of a `fetch_balance()` answer (its `total` map, else each currency's own
    `total`); numbers exactly as given, None read as 0. InvalidFill names a bad currency or number."""
    if not isinstance(balance, Mapping):
        raise InvalidFill(
            f"balances: expected a JSON object as fetch_balance() returns it, got {type(balance).__name__}"
        )
    totals = balance.get("total")
    if totals is None:
        totals = {
            code: value.get("total")
            for code, value in balance.items()
            if code not in ("info", "free", "used", "total", "debt") and isinstance(value, Mapping)
        }
    if not isinstance(totals, Mapping):
        raise InvalidFill(f"balances: total: expected an object of currency → amount (got {type(totals).__name__})")
    found: dict[str, Decimal] = {}
    for code, value in totals.items():
        if value is None:
            continue
        if isinstance(value, float | bool) or not isinstance(value, str | int | Decimal):
            raise InvalidFill(
                f"balances: total.{code}: must be an exact number, a string or as written (got {value!r})"
            )
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise InvalidFill(f"balances: total.{code}: must be a number (got {value!r})") from None
        if not amount.is_finite():
            raise InvalidFill(f"balances: total.{code}: must be a finite number (got {value!r})")
        found[str(code)] = amount
    return found


def reconcile(
    ledger: Ledger,
    *,
    exchange: str,
    account: str = "default",
    balance: object = None,
    trades: Sequence[object] | None = None,
    tolerances: Mapping[str, Decimal] | None = None,
    contract_sizes: Mapping[str, Decimal] | None = None,
) -> Reconciliation:
    """Compare (see the module); give `balance` (a fetch_balance() answer) and/or `trades` (a trade list);
    `contract_sizes` as mapping.map_entries takes them."""
    if balance is None and trades is None:
        raise InvalidArgument("reconcile: give --balances FILE.json and/or --trades FILE.json")
    allowed = dict(tolerances or {})
    missing: list[tuple[TradeDifference, Event]] = []
    unknown: list[TradeDifference] = []
    conflicting: list[TradeDifference] = []
    if trades is not None:
        missing, unknown, conflicting = _compare_trades(
            ledger, trades, exchange=exchange, account=account, contract_sizes=contract_sizes
        )
    rows: list[BalanceRow] = []
    if balance is not None:
        totals = exchange_totals(balance)
        held = {b.currency: b.amount for b in ledger.balances(account=account).balances if b.exchange == exchange}
        with_missing = _with(ledger, [event for _, event in missing], account, exchange) if missing else held
        unvalued: dict[str, Decimal] | None = None  # the unvalued fees on this exchange, read when first asked

        def unvalued_in(currency: str) -> Decimal:
            nonlocal unvalued
            if unvalued is None:
                unvalued = _unvalued_fees(ledger, account, exchange)
            return unvalued.get(currency, ZERO)

        for currency in sorted(set(totals) | set(held)):
            ours, theirs = held.get(currency, ZERO), totals.get(currency, ZERO)
            cause = _cause(
                theirs - ours,
                currency,
                missing_effect=with_missing.get(currency, ZERO) - ours,
                missing_ids=[d.fill_id for d, _ in missing],
                tolerance=allowed.get(currency),
                unvalued=unvalued_in,
            )
            rows.append(BalanceRow(account, exchange, currency, ours, theirs, cause))
    return Reconciliation(
        ledger.head.seq, tuple(rows), tuple(d for d, _ in missing), tuple(unknown), tuple(conflicting)
    )


def _cause(
    difference: Decimal,
    currency: str,
    *,
    missing_effect: Decimal,
    missing_ids: list[str],
    tolerance: Decimal | None,
    unvalued: Callable[[str], Decimal],
) -> str | None:
    if difference == 0:
        return None
    if missing_ids and missing_effect == difference:
        return f"missing fills: {', '.join(missing_ids)}"
    if tolerance is not None and abs(difference) <= tolerance:
        return f"dust within the tolerance {decimal_text(tolerance)} {currency}"
    fees = unvalued(currency)
    if fees != 0 and abs(difference) == abs(fees):
        return f"the unvalued fees in {currency} ({decimal_text(fees)}): paid from another wallet, or not recorded"
    if difference > 0:
        return f"more {currency} on the exchange: a deposit or transfer in not ingested, or a missed buy"
    return f"less {currency} on the exchange: a withdrawal or fee not ingested, or a missed sell"


def _unvalued_fees(ledger: Ledger, account: str, exchange: str) -> dict[str, Decimal]:
    """The unvalued fees (spec section 9: in a currency other than the quote's, without a quote_value) of the
    account's fills on `exchange`, per currency, summed over its events read as a stream: the positions projection
    keeps them per (account, symbol), every exchange together."""
    sums: dict[str, Decimal] | None = None
    with closing(ledger.stream_history(account=account, exchange=exchange)) as stream, localcontext(LEDGER_CONTEXT):
        for recorded in stream:
            event = accounting_of(recorded.seq, recorded.event)
            if isinstance(event, Execution) and event.unvalued_fees:
                sums = add_unvalued(sums, dict(event.unvalued_fees))
    return sums or {}


def _with(ledger: Ledger, extra: Sequence[Event], account: str, exchange: str) -> dict[str, Decimal]:
    """The balances of (account, exchange) with `extra` events appended after the log's: the reference fold of
    the log's events on that exchange, read as a stream, then of `extra`."""

    def events() -> Iterator[Accounting]:
        last = 0
        with closing(ledger.stream_history(account=account, exchange=exchange)) as stream:
            for recorded in stream:
                last = recorded.seq
                yield accounting_of(recorded.seq, recorded.event)
        yield from (accounting_of(last + n, event) for n, event in enumerate(extra, start=1))

    folded = reference_balances(events())
    return {
        currency: amount for (acct, exch, currency), amount in folded.items() if (acct, exch) == (account, exchange)
    }


def _compared(event: Event) -> dict[str, object]:
    canonical = event.canonical()
    return {field: canonical.get(field) for field in _COMPARED}


def _compare_trades(
    ledger: Ledger,
    trades: Sequence[object],
    *,
    exchange: str,
    account: str,
    contract_sizes: Mapping[str, Decimal] | None,
) -> tuple[list[tuple[TradeDifference, Event]], list[TradeDifference], list[TradeDifference]]:
    """The list's trades looked up by key, and the log's fills inside the list's span read: what the log holds
    elsewhere is not read (a reconcile's cost follows the list, not the log)."""
    mapped = map_entries(trades, exchange=exchange, account=account, kind=Kind.TRADES, contract_sizes=contract_sizes)
    logged = ledger.find(event.key for _, event in mapped.events)
    covering = cover(ledger, mapped.events, logged.keys())
    refused = {index: field for index, field, _ in covering.refused}
    missing: list[tuple[TradeDifference, Event]] = []
    conflicting: list[TradeDifference] = []
    listed: set[str] = set()
    for index, event in mapped.events:
        listed.add(event.event_id)
        symbol = getattr(event, "symbol", "")
        found = logged.get(event.key)
        if index in refused:  # the live fills of its order end inside it, or are of the other side
            conflicting.append(TradeDifference(event.event_id, symbol, index, None, (refused[index],)))
            continue
        if found is None:
            if event.key not in covering.covered:
                missing.append((TradeDifference(event.event_id, symbol, index, None), event))
            continue
        ours, theirs = _compared(found.event), _compared(event)
        fields = tuple(field for field in _COMPARED if ours[field] != theirs[field])
        if fields:
            conflicting.append(TradeDifference(event.event_id, symbol, index, found.seq, fields))
    fills = [event for _, event in mapped.events if isinstance(event, Fill)]
    if not fills:
        return missing, [], conflicting
    symbols = {fill.symbol for fill in fills}
    times = [fill.occurred_at for fill in fills]
    with closing(ledger.stream_history(account=account, exchange=exchange, occurred=(min(times), max(times)))) as span:
        unknown = [
            TradeDifference(r.event.event_id, r.event.symbol, None, r.seq)
            for r in span
            if isinstance(r.event, Fill)
            and r.event.symbol in symbols
            and r.event.event_id not in listed
            and r.seq not in covering.known
        ]
    return missing, unknown, conflicting
