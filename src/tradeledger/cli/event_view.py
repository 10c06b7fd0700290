"""An event as `history`, `watch` and a rollback show it: its JSON (spec section 9's fields with `type`) and its
cells in a table row.

A fill's JSON is built from its values, not from `canonical()` and back (the dict of every stored column, the
fees' canonical text parsed again): the same keys in the same order and the same texts, ~40 % less CPU (a
cProfile of `history --json`; tests/e2e/test_history_bytes.py holds `history` to the bytes it wrote before).
"""

from __future__ import annotations

from datetime import datetime
from decimal import localcontext
from typing import Any

from tradeledger.domain.display import display_text
from tradeledger.domain.events import Event, Funding
from tradeledger.domain.fills import LEDGER_CONTEXT, FeeSplit, Fill, decimal_text, time_text
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


def event_cells(event: Event) -> tuple[str, str, str, str, str, str]:
    """An event in a table row: id, symbol (a transfer: its currency), side (or type), quantity (or amount),
    price, fee (a fill's fees in quote, with its fees in other currencies named)."""
    if isinstance(event, Fill):
        split = event.fee_split()
        fee = shown(_quote_fee(event, split))
        if split.unvalued:
            fee += " + " + ", ".join(f"{shown(amount)} {currency} unvalued" for currency, amount in split.unvalued)
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
