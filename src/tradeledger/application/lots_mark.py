"""verify's check of the head's mark of when an event naming lots last occurred (`lots_named_until`, revision 0010):
a process still running code from before that revision (after another upgraded the ledger) appends events naming
lots without moving it, and any other bug leaving it too early lets a backfill skip the lot check it needs
(application/lot_picks.py); `rebuild` sets it from the log (`EventLog.mark_lots_named`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tradeledger.domain.records import NAMES_LOTS, StoredEvent


@dataclass(slots=True)
class LotsNamed:
    """The latest `occurred_at` of the events whose metadata may name lots (the text `"lots"`), collected while verify
    walks the log: the rule `domain.records.latest_naming_lots` and a rollback's recomputation follow, against which
    the head's mark (`EventLog.lots_named_until`, revision 0010) is held. A mark earlier than the log's lets a backfill
    dated between them skip the lot check it needs (application/lot_picks.py); a later one costs a check more, never
    one less (a rollback's on SQLite, whose LIKE ignores case, may be later), and is not a problem."""

    latest: str | None = None
    seq: int | None = None

    def seen(self, events: Iterable[StoredEvent]) -> Iterator[StoredEvent]:
        """`events`, each seen on its way (every row read counts, whatever verify finds wrong with it)."""
        for event in events:
            metadata, occurred = event.metadata, event.occurred_at
            naming = isinstance(metadata, str) and NAMES_LOTS in metadata and isinstance(occurred, str)
            if naming and (self.latest is None or occurred > self.latest):
                self.latest, self.seq = occurred, event.seq
            yield event

    def behind(self, mark: str | None) -> list[str]:
        """What is wrong with the head's `mark` against the log's (of the events walked: of part of the log, a later
        one there is too): nothing, or that it is earlier, saying what the mark is and what the log says."""
        if self.latest is None or (mark is not None and mark >= self.latest):
            return []
        said = (
            "the head says no event names lots (lots_named_until NULL)"
            if mark is None
            else f"the head says events naming lots occurred until {mark} (lots_named_until)"
        )
        detail = (
            f"{said}, the log's latest event whose metadata may name lots occurred at {self.latest} (seq {self.seq}): "
            "a backfill before it would not be checked against the lots named; `tradeledger rebuild` "
            "(`Ledger.rebuild()`) sets the mark from the log"
        )
        return [detail]
