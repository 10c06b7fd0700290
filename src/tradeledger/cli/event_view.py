"""An event as `history`, `watch` and a rollback show it: its JSON (spec section 9's fields with `type`) and its
cells in a table row.

A fill's JSON is built from its values, not from `canonical()` and back (the dict of every stored column, the
fees' canonical text parsed again): the same keys in the same order and the same texts, ~40 % less CPU (a
cProfile of `history --json`; tests/e2e/test_history_bytes.py holds `history` to the bytes it wrote before).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from tradeledger.domain.display import display_text
from tradeledger.domain.events import Event, Funding
from tradeledger.domain.fills import LEDGER_CONTEXT, FeeSplit, Fill, decimal_text, time_text
from tradeledger.domain.markets import market
from tradeledger.domain.records import RecordedFill

_NOT_OF_THIS_TYPE = {"symbol", "side", "quantity", "price", "strategy", "order_id", "client_order_id"}
_IDS = ("strategy", "order_id", "client_order_id")


def iso(value: datetime) -> str:
    return time_text(value)


def shown(value: Any) -> str:  # noqa: ANN401 - a Decimal (output.shown, without importing Rich)
    return display_text(value)


def event_json(event: Event) -> dict[str, Any]:
    """An event as history shows it: its NDJSON fields (spec section 9) with `type`; a fill also keeps
    `fee`, the quote value of its valued fees (what a fill of spec section 3 called its fee)."""
    if isinstance(event, Fill):
        return _fill_json(event)
    body = event.canonical()
    for name in ("version", "fee", "fees", "amount", "currency", "kind", "type"):
        body.pop(name, None)
    body = {key: value for key, value in body.items() if not (value is None and key in _NOT_OF_THIS_TYPE)}
    body["metadata"] = event.metadata
    if isinstance(event, Funding):
        body = {
            "funding_id": body.pop("fill_id"),
            **body,
            "amount": decimal_text(event.amount),
            "currency": event.currency,
        }
    else:
        body = {
            "transfer_id": body.pop("fill_id"),
            **body,
            "currency": event.currency,
            "amount": decimal_text(event.amount),
            "fee": decimal_text(event.fee),
            "kind": event.kind.value,
        }
    return {"type": event.type, **body}


def _fill_json(fill: Fill) -> dict[str, Any]:
    """A fill's JSON as the other types' (its canonical fields without the stored-only ones, ids that are None
    left out, metadata as its value), then `fee` and `fees` (json.loads of fees_text: zero amounts left out,
    sorted by currency, amount and quote value), built straight from its values."""
    body: dict[str, Any] = {
        "type": "fill",
        "fill_id": fill.fill_id,
        "account": fill.account,
        "exchange": fill.exchange,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": decimal_text(fill.quantity),
        "price": decimal_text(fill.price),
        "occurred_at": time_text(fill.occurred_at),
    }
    for name in _IDS:
        value = getattr(fill, name)
        if value is not None:
            body[name] = value
    body["metadata"] = fill.metadata
    body["fee"] = decimal_text(_quote_fee(fill, fill.fee_split()))
    entries = sorted(
        (fee.currency or "", fee.amount, "" if fee.quote_value is None else decimal_text(fee.quote_value))
        for fee in fill.fees
        if fee.amount != 0
    )
    body["fees"] = [
        {"amount": decimal_text(amount), "currency": currency, "quote_value": quote_value}
        if quote_value
        else {"amount": decimal_text(amount), "currency": currency}
        for currency, amount, quote_value in entries
    ]
    return body


def _quote_fee(fill: Fill, split: FeeSplit) -> Any:  # noqa: ANN401 - a Decimal
    """`fill.fee` from its split, made once for both the fee and its unvalued part (Fill.quote_fees)."""
    with localcontext(LEDGER_CONTEXT):
        return split.valued + split.base * fill.price


def fee_cell(fill: Fill) -> str:
    """A fill's fees for people, each in the currency it was paid in: fees all in the quote currency as their sum
    (the Fee column is in the quote currency, as the Price column), else every fee named by its currency, " + "
    between them: the quote fees' sum, the base fees' sum (never only their value at the fill price: "0.001 BTC",
    not "50"), then per other currency its valued fees with their quote value ("0.02 BNB (6.1 USDT)") and its
    unvalued fees ("3 FEE unvalued"). A sum of 0 is left out; no fee at all is "0"."""
    traded = market(fill.symbol)
    quote, base = Decimal(0), Decimal(0)
    valued: dict[str, tuple[Decimal, Decimal]] = {}
    unvalued: dict[str, Decimal] = {}
    with localcontext(LEDGER_CONTEXT):
        for fee in fill.fees:
            currency = fee.currency or traded.quote
            if currency == traded.quote:
                quote += fee.amount
            elif currency == traded.base:
                base += fee.amount
            elif fee.quote_value is not None:
                amount, value = valued.get(currency, (Decimal(0), Decimal(0)))
                valued[currency] = (amount + fee.amount, value + fee.quote_value)
            else:
                unvalued[currency] = unvalued.get(currency, Decimal(0)) + fee.amount
    others = [
        *([f"{shown(base)} {traded.base}"] if base else []),
        *(f"{shown(a)} {c} ({shown(v)} {traded.quote})" for c, (a, v) in sorted(valued.items()) if a or v),
        *(f"{shown(a)} {c} unvalued" for c, a in sorted(unvalued.items()) if a),
    ]
    if not others:
        return shown(quote)
    return " + ".join([*([f"{shown(quote)} {traded.quote}"] if quote else []), *others])


def event_cells(event: Event) -> tuple[str, str, str, str, str, str]:
    """An event in a table row: id, symbol (a transfer: its currency), side (or type), quantity (or amount),
    price, fee (a fill's fees each in its currency: fee_cell)."""
    if isinstance(event, Fill):
        fee = fee_cell(event)
        return (event.fill_id, event.symbol, event.side.value, shown(event.quantity), shown(event.price), fee)
    if isinstance(event, Funding):
        return (event.funding_id, event.symbol, "funding", f"{shown(event.amount)} {event.currency}", "", "")
    fee = f"{shown(event.fee)} {event.currency}" if event.fee else ""
    return (event.transfer_id, event.currency, event.kind.value, f"{shown(event.amount)} {event.currency}", "", fee)


def recorded_json(recorded: RecordedFill) -> dict[str, Any]:
    fill = event_json(recorded.fill)
    return {
        "seq": recorded.seq,
        "epoch": recorded.epoch,
        "recorded_at": iso(recorded.recorded_at),
        **fill,
        "prev_hash": recorded.prev_hash,
        "hash": recorded.hash,
    }
