"""Appending what ccxt returned: every entry mapped first (nothing written on a bad one), then one transaction.

Idempotent like any append: an event already in the log is a duplicate (counted), the same id with
other content is refused naming the entry and what the log holds, and nothing of the batch is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tradeledger.application.ledger import Ledger
from tradeledger.errors import FillConflict, InvalidFill
from tradeledger.exchanges.ccxt.mapping import Kind, Mapped, map_entries


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


def append_mapped(ledger: Ledger, mapped: Mapped) -> IngestReport:
    """Append the mapped events in one transaction, in time order (Mapped.in_time_order); a conflict names the
    entry's index."""
    ordered = mapped.in_time_order()
    try:
        receipts = ledger.record_many([event for _, event in ordered])
    except FillConflict as conflict:
        index = next(index for index, event in ordered if event.key == conflict.key)
        raise InvalidFill(f"entry {index}: {conflict}; nothing was ingested") from None
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
