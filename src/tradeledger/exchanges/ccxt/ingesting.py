"""Appending what ccxt returned: every entry mapped first (nothing written on a bad one), then one transaction.

Idempotent like any append: an event already in the log is a duplicate (counted), the same id with
other content is refused naming the entry and what the log holds, and nothing of the batch is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tradeledger.application.ledger import Ledger
from tradeledger.domain.records import Receipt
from tradeledger.errors import FillConflict, InvalidFill
from tradeledger.exchanges.ccxt.mapping import Kind, Mapped, map_entries

_BATCH_PLACE = re.compile(r"fill (\d+): ")  # how the ledger names an event of a batch it refuses


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest did (`ingest --json`: appended, duplicates, skipped, seq)."""

    kind: Kind
    appended: int
    duplicates: int
    skipped: tuple[tuple[int, str], ...]  # (entry index, why)
    seq: int

    def summary(self) -> dict[str, int]:
        return {"appended": self.appended, "duplicates": self.duplicates, "skipped": len(self.skipped), "seq": self.seq}


def record_mapped(
    ledger: Ledger, mapped: Mapped, *, cursors: Mapping[str, str] | None = None, then: str = ""
) -> list[Receipt]:
    """Append the mapped events (and `cursors`) in one transaction, in time order (Mapped.in_time_order).

    A refusal names the entry by its index in the list (InvalidFill, `then` after it): an id held with other
    content, or what the ledger refuses while appending (its "fill N" is the N-th event of the sorted batch)."""
    ordered = mapped.in_time_order()
    try:
        return ledger.record_many([event for _, event in ordered], cursors=cursors)
    except FillConflict as conflict:
        index = next(index for index, event in ordered if event.key == conflict.key)
        raise InvalidFill(f"entry {index}: {conflict}{then}") from None
    except InvalidFill as refused:
        message = str(refused)
        found = _BATCH_PLACE.match(message)
        if found is None or not 1 <= int(found[1]) <= len(ordered):
            raise
        raise InvalidFill(f"entry {ordered[int(found[1]) - 1][0]}: {message[found.end() :]}{then}") from None


def append_mapped(ledger: Ledger, mapped: Mapped) -> IngestReport:
    """Append the mapped events in one transaction, in time order; a refusal names the entry's index."""
    receipts = record_mapped(ledger, mapped, then="; nothing was ingested")
    appended = sum(not receipt.duplicate for receipt in receipts)
    return IngestReport(mapped.kind, appended, len(receipts) - appended, mapped.skipped, ledger.head.seq)


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
