"""What a page of a sync's answers says (see syncing): its entries' times, where a stream asks next when it holds
nothing new, and the words of a transfer's status (whether it moved money, may still move it, or never will)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# ccxt's statuses of a deposit or withdrawal (4.5.90: its unified ok, pending, failed and canceled, and the words of
# an exchange it passes on as written), compared casefolded: ccxt's gemini maps exactly "Advanced" and "Complete" to
# ok and passes any other word on ("Pending"). MOVED: money moved; STILL_OPEN: it may still move money (pending, and
# what exchanges say while they work on it); NOT_MOVED: final, no money moved. Any other word is refused (mapping).
MOVED = frozenset({"ok", "complete", "advanced"})
STILL_OPEN = frozenset({"pending", "processing", "initiated", "unknown"})
NOT_MOVED = frozenset({"failed", "fail", "canceled", "cancelled", "rejected", "declined", "expired", "refunded"})


def step(cursor: int | None, window: int, now: int, *, cut: bool) -> int | None:
    """Where a stream whose answer from `cursor` held nothing new asks next: after the cursor's ms where the answer
    was a page cut within it (see cut_at), else the next window where the window after the cursor is past (see
    syncing); None: it is done."""
    if cursor is None:
        return None
    if cut:
        return cursor + 1
    return None if cursor + window >= now else cursor + window


def cut_at(cursor: int | None, page: Sequence[object], longest: int) -> bool:
    """Whether `page`, an answer from `cursor`, may be a page cut within the cursor's ms: two entries or more, all of
    that ms, and as many as the longest answer from a cursor yet in the run (a full page). An exchange that answers
    oldest first would answer the same page again from there, never reaching what came after it: what lies after
    that ms is asked next (more entries of it than a page holds keep a page of them; README's known limits). One
    entry a page cannot be told from the cursor's entry repeated."""
    return (
        cursor is not None
        and len(page) > 1
        and len(page) >= longest
        and all(timestamp(entry) == cursor for entry in page)
    )


def still_open(status: object) -> bool:
    """Whether a transfer's `status` says it may still move money, whatever its case ("pending", gemini's "Pending"):
    skipped until then, and a sync's stored cursor stays at it (mapping.Mapped.still_open), or the transfer, once
    done, would lie before the cursor and never be fetched; what it asks again comes back as duplicates."""
    return isinstance(status, str) and status.casefold() in STILL_OPEN


def timestamp(entry: object) -> int:
    value = entry.get("timestamp") if isinstance(entry, Mapping) else None
    return int(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else 0
