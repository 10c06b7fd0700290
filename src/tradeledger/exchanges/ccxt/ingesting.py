"""Appending what ccxt returned: every entry mapped first (nothing written on a bad one), then one transaction.

Idempotent like any append: an event already in the log is a duplicate (counted), the same id with
other content is refused naming the entry and what the log holds, and nothing of the batch is kept. An exchange's
record seen again is judged on what it books, not on its metadata (the exchange's raw record `info` and ccxt's
fields beside it): those change while the record stays the same (ccxt writes bybit's page cursor into the first row
of each answer; exchanges add fields; ccxt versions name a network otherwise). Seen again with only its metadata
changed, in the log or earlier in the batch, it is a duplicate and the record first seen is kept (see _as_seen).

A trade of an order whose fills a bot recorded live, under its own ids with the exchange's order id, is covered by
them (covering.py): not appended, counted as covered; one that cannot be told apart from them is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tradeledger.application.ledger import Ledger
from tradeledger.application.ports import EventKey
from tradeledger.domain.events import Event
from tradeledger.domain.records import Receipt
from tradeledger.errors import FillConflict, InvalidFill
from tradeledger.exchanges.ccxt.covering import cover
from tradeledger.exchanges.ccxt.mapping import Kind, Mapped, map_entries

_BATCH_PLACE = re.compile(r"(?:fill|funding|transfer) (\d+): ")  # how the ledger names an event of a batch it refuses


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest did (`ingest --json`: appended, duplicates, skipped, seq, covered)."""

    kind: Kind
    appended: int
    duplicates: int
    skipped: tuple[tuple[int, str], ...]  # (entry index, why)
    seq: int
    covered: int = 0  # trades the fills a bot recorded live cover (covering.py): not appended

    def summary(self) -> dict[str, int]:
        counts = {"appended": self.appended, "duplicates": self.duplicates, "skipped": len(self.skipped)}
        return {**counts, "seq": self.seq, "covered": self.covered}


@dataclass(frozen=True, slots=True)
class Recorded:
    """What record_mapped did: the receipts of the events appended or found, and the trades covered (not appended)."""

    receipts: list[Receipt]
    covered: int

    @property
    def appended(self) -> int:
        return sum(not receipt.duplicate for receipt in self.receipts)

    @property
    def duplicates(self) -> int:
        return sum(receipt.duplicate for receipt in self.receipts)


def record_mapped(
    ledger: Ledger, mapped: Mapped, *, cursors: Mapping[str, str] | None = None, then: str = ""
) -> Recorded:
    """Append the mapped events (and `cursors`) in one transaction, in time order (Mapped.in_time_order), but the
    trades that fills recorded live cover (covering.py).

    A refusal names the entry by its index in the list (InvalidFill, `then` after it): an id held with other
    content, a trade the live fills of its order cannot cover, or what the ledger refuses while appending (its
    "fill N", "funding N" or "transfer N" is the N-th event of the sorted batch)."""
    seen, logged = _as_seen(ledger, mapped.in_time_order())
    covering = cover(ledger, seen, logged)
    if covering.refused:
        index, _, why = covering.refused[0]
        raise InvalidFill(f"entry {index}: {why}{then}")
    ordered = [(index, event) for index, event in seen if event.key not in covering.covered]
    try:
        receipts = ledger.record_many([event for _, event in ordered], cursors=cursors)
    except FillConflict as conflict:
        index = next(index for index, event in ordered if event.key == conflict.key)
        raise InvalidFill(f"entry {index}: {conflict}{then}") from None
    except InvalidFill as refused:
        message = str(refused)
        found = _BATCH_PLACE.match(message)
        if found is None or not 1 <= int(found[1]) <= len(ordered):
            raise
        raise InvalidFill(f"entry {ordered[int(found[1]) - 1][0]}: {message[found.end() :]}{then}") from None
    return Recorded(receipts, sum(1 for _, event in seen if event.key in covering.covered))


def _as_seen(ledger: Ledger, ordered: list[tuple[int, Event]]) -> tuple[list[tuple[int, Event]], set[EventKey]]:
    """`ordered`, each event whose key the log (or an event before it in the batch) holds with the same content but
    for its metadata replaced by that one, so that it is a duplicate; an event whose booked content differs is left
    as it is, for the append to refuse naming both. And the keys the log holds."""
    seen: dict[EventKey, Event] = {key: found.event for key, found in ledger.find(e.key for _, e in ordered).items()}
    logged = set(seen)
    kept: list[tuple[int, Event]] = []
    for index, event in ordered:
        first = seen.setdefault(event.key, event)
        kept.append((index, first if first is not event and _booked(first) == _booked(event) else event))
    return kept, logged


def _booked(event: Event) -> dict[str, Any]:
    """What an event books: its canonical content but its metadata."""
    return {field: value for field, value in event.canonical().items() if field != "metadata"}


def append_mapped(ledger: Ledger, mapped: Mapped) -> IngestReport:
    """Append the mapped events in one transaction, in time order; a refusal names the entry's index."""
    done = record_mapped(ledger, mapped, then="; nothing was ingested")
    return IngestReport(mapped.kind, done.appended, done.duplicates, mapped.skipped, ledger.head.seq, done.covered)


def ingest(
    ledger: Ledger,
    entries: Sequence[object],
    *,
    exchange: str,
    account: str = "default",
    kind: Kind | None = None,
    on_entry: Callable[[], None] | None = None,
) -> IngestReport:
    """Map a list as a ccxt call returns it (see mapping) and append it; InvalidFill names a bad entry."""
    mapped = map_entries(entries, exchange=exchange, account=account, kind=kind, on_entry=on_entry)
    return append_mapped(ledger, mapped)
