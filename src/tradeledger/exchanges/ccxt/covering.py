"""Fills recorded live cover their order's exchange trades: a bot that records its fills itself (its own fill ids, the
exchange's order id) and later ingests or syncs the exchange's trade list to fill a gap does not count a fill twice.

The rule, for an order O of (account, exchange, symbol) (exchanges number orders per symbol):

- its *live fills* are the log's fills of order id O whose id is not an exchange trade's key (`<symbol>:<id>`, what
  mapping keys a trade by); its *exchange trades* are the list's trades of order O and the log's under such a key;
- in time order (occurred_at, then the ids by number, as mapping orders a batch), the first exchange trades whose
  running quantity stays within the live fills' total are *covered*: not appended (counted as `covered` by ingest and
  sync), found rather than missing to reconcile, whose live fills are then known rather than unknown; the trades
  after them are appended: the part of the order the bot missed while it was down;
- a trade of the list that the live total ends inside (a straddle: which part of it was recorded live cannot be
  told), or whose side differs from a live fill's (one of the order ids is wrong), is refused naming the order, the
  live fills and the trade.

A trade the log holds already is a duplicate as before, whatever the rule says of it. A fill recorded live without
an order id covers nothing (its trade is appended, and reconcile names the fill unknown): record the order id.

What is read: the log's fills of the list's order ids (index ix_ledger_events_order_id, revision 0009), never the log.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext

from tradeledger.application.ledger import Ledger
from tradeledger.application.ports import EventKey
from tradeledger.domain.events import Event
from tradeledger.domain.fills import Fill, decimal_text
from tradeledger.exchanges.ccxt.mapping import id_order

_CHUNK = 500  # order ids one query names at most
_NAMED = 5  # live fills a refusal names at most
_EXACT = Context(prec=1_000, traps=[Inexact, InvalidOperation])  # sums of exact amounts stay exact (or raise)

OrderKey = tuple[str, str, str, str]  # (account, exchange, symbol, order id)
_Trade = tuple[int | None, Fill]  # (the list's entry index, None: the log's), the trade


@dataclass(frozen=True, slots=True)
class Covering:
    """What the live fills of the log cover of a list of exchange trades (see the module)."""

    covered: frozenset[EventKey] = frozenset()  # the list's trades covered: not appended, not missing
    known: frozenset[int] = frozenset()  # the seqs of the live fills that cover a trade of the list
    refused: tuple[tuple[int, str, str], ...] = ()  # (entry index, "quantity" | "side", why), by index


def exchange_trade(fill: Fill) -> bool:
    """Is `fill` an exchange trade as mapping keys one (`<symbol>:<id>`), not a fill recorded live?"""
    return fill.fill_id.startswith(f"{fill.symbol}:")


def cover(ledger: Ledger, listed: Iterable[tuple[int, Event]], logged: Collection[EventKey]) -> Covering:
    """The covering of the listed trades (entry index, event) that are not in the log (`logged`: the keys of those
    that are), by the live fills of their orders the log holds."""
    orders: dict[OrderKey, dict[EventKey, _Trade]] = {}
    for index, event in listed:
        if isinstance(event, Fill) and event.order_id is not None and exchange_trade(event) and event.key not in logged:
            orders.setdefault(_order_of(event), {}).setdefault(event.key, (index, event))
    if not orders:
        return Covering()
    held = _held(ledger, orders)
    covered: set[EventKey] = set()
    known: set[int] = set()
    refused: list[tuple[int, str, str]] = []
    with localcontext(_EXACT):
        for order, new in orders.items():
            fills = held.get(order, [])
            live = [(seq, fill) for seq, fill in fills if not exchange_trade(fill)]
            if not live:
                continue
            trades = [(None, fill) for _, fill in fills if exchange_trade(fill)] + list(new.values())
            found, why = _walk(order, [fill for _, fill in live], sorted(trades, key=_when))
            covered.update(found)
            refused.extend(why)
            if found:
                known.update(seq for seq, _ in live)
    return Covering(frozenset(covered), frozenset(known), tuple(sorted(refused)))


def _walk(order: OrderKey, live: list[Fill], trades: list[_Trade]) -> tuple[list[EventKey], list[tuple[int, str, str]]]:
    """The listed trades of one order the live fills cover, and the refusal of the one they cannot (see the module)."""
    total = sum((fill.quantity for fill in live), Decimal(0))
    left = total
    covered: list[EventKey] = []
    for index, trade in trades:
        other = next((fill for fill in live if fill.side != trade.side), None)
        if index is not None and other is not None:
            return covered, [(index, "side", _other_side(order, other, trade))]
        if trade.quantity <= left:
            left -= trade.quantity
            if index is not None:
                covered.append(trade.key)
            continue
        if index is not None and left > 0:
            return covered, [(index, "quantity", _straddle(order, live, total, left, trade))]
        break
    return covered, []


def _held(ledger: Ledger, orders: Collection[OrderKey]) -> dict[OrderKey, list[tuple[int, Fill]]]:
    """The log's fills of these orders (seq, fill), in seq order: one query per account, exchange and chunk of ids."""
    ids: dict[tuple[str, str], set[str]] = {}
    for account, exchange, _, order_id in orders:
        ids.setdefault((account, exchange), set()).add(order_id)
    held: dict[OrderKey, list[tuple[int, Fill]]] = {}
    for (account, exchange), named in ids.items():
        ordered = sorted(named)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            with closing(ledger.stream_history(account=account, exchange=exchange, order_ids=chunk)) as found:
                for recorded in found:
                    fill = recorded.event
                    if isinstance(fill, Fill) and (order := _order_of(fill)) in orders:
                        held.setdefault(order, []).append((recorded.seq, fill))
    return held


def _order_of(fill: Fill) -> OrderKey:
    return (fill.account, fill.exchange, fill.symbol, fill.order_id or "")


def _when(trade: _Trade) -> tuple[datetime, tuple[tuple[str, int, str, str], ...]]:
    return trade[1].occurred_at, id_order(trade[1].fill_id)


def _named(order: OrderKey) -> str:
    return f"order {order[3]} of {order[2]}"


def _other_side(order: OrderKey, live: Fill, trade: Fill) -> str:
    return (
        f"{_named(order)}: the fill recorded live {live.fill_id} is a {live.side.value}, the exchange's trade "
        f"{trade.fill_id} a {trade.side.value}: one of them carries the wrong order id"
    )


def _straddle(order: OrderKey, live: list[Fill], total: Decimal, left: Decimal, trade: Fill) -> str:
    names = ", ".join(f"{fill.fill_id} ({decimal_text(fill.quantity)})" for fill in live[:_NAMED])
    more = f" and {len(live) - _NAMED} more" if len(live) > _NAMED else ""
    return (
        f"{_named(order)}: the fills recorded live {names}{more} cover {decimal_text(total)} of it, and the "
        f"exchange's trade {trade.fill_id} ({decimal_text(trade.quantity)}) crosses that total with "
        f"{decimal_text(left)} left to cover: which part of it was recorded live cannot be told (record the rest of "
        "the order live as the exchange filled it, or correct those fills)"
    )
