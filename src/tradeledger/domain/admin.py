"""The admin log: audited operations on the log itself (a rollback of its tail), hash-chained.

A rollback to seq N removes the events after N. Its record says who, when, why, from which head
to which, and carries every removed event whole (their content and hashes), so nothing an auditor
could ask about disappears: the record is itself appended to an append-only, hash-chained log.

`record_hash = SHA-256(prev_hash + "\n" + canonical JSON of ADMIN_HASHED_FIELDS)`, the same
construction as the event chain (domain/chain.py); the first record links to 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from tradeledger.domain.chain import chained_hash
from tradeledger.domain.json_values import canonical_json
from tradeledger.domain.records import Checkpoint, StoredEvent

ROLLBACK = "rollback"
HASH_PART = 1 << 20  # characters of the removed events' text escaped and hashed at a time
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
_ROW_TEXT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode

# The fields of an admin record the hash covers, in a fixed order (part of the log's format).
ADMIN_HASHED_FIELDS = (
    "id",
    "action",
    "at",
    "actor",
    "reason",
    "from_epoch",
    "from_seq",
    "from_hash",
    "to_epoch",
    "to_seq",
    "to_hash",
    "removed",
)


def _admin_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """`chained_hash(prev_hash, [the hashed fields' values])`, the same bytes hashed, the removed events' text (the
    last field, as long as the events it lists) escaped and hashed a part at a time (issue 19: the whole JSON text,
    its bytes and their concatenation were four more copies of it). JSON escapes a string one character at a time,
    so the parts' escapes joined are the whole string's."""
    values = [record[name] for name in ADMIN_HASHED_FIELDS]
    removed = values.pop()
    if not isinstance(removed, str):  # not a record's text: the values as they are (the same construction)
        return chained_hash(prev_hash, [*values, removed])
    digest = hashlib.sha256(f'{prev_hash}\n{canonical_json(values)[:-1]},"'.encode())
    for start in range(0, len(removed), HASH_PART):
        digest.update(encode_basestring(removed[start : start + HASH_PART])[1:-1].encode())
    digest.update(b'"]')
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class AdminRecord:
    """One audited operation. `removed` is the JSON array of the removed events' rows (hashes included)."""

    id: int
    action: str
    at: str
    actor: str
    reason: str
    from_epoch: int
    from_seq: int
    from_hash: str
    to_epoch: int
    to_seq: int
    to_hash: str
    removed: str
    prev_hash: str
    hash: str

    @classmethod
    def rollback(
        cls,
        *,
        record_id: int,
        at: str,
        actor: str,
        reason: str,
        head: Checkpoint,
        to: Checkpoint,
        removed: Iterable[StoredEvent],
        prev_hash: str,
    ) -> AdminRecord:
        """The sealed record of rolling the log back from `head` to `to` (a new epoch), removing `removed`."""
        values: dict[str, Any] = {
            "id": record_id,
            "action": ROLLBACK,
            "at": at,
            "actor": actor,
            "reason": reason,
            "from_epoch": head.epoch,
            "from_seq": head.seq,
            "from_hash": head.hash,
            "to_epoch": head.epoch + 1,
            "to_seq": to.seq,
            "to_hash": to.hash,
            "removed": _removed_text(removed),
        }
        return cls(**values, prev_hash=prev_hash, hash=_admin_hash(prev_hash, values))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def computed_hash(self) -> str:
        return _admin_hash(self.prev_hash, self.as_dict())

    def removed_events(self) -> list[StoredEvent]:
        """The removed events as they were stored (ValueError if the text is not what `rollback` wrote)."""
        rows = json.loads(self.removed)
        if not isinstance(rows, list):
            msg = "removed is not a list of events"
            raise ValueError(msg)  # noqa: TRY004 - a format error of stored text
        return [StoredEvent(**row) for row in rows]

    def each_removed_event(self) -> Iterator[StoredEvent]:
        """`removed_events` one at a time, each row parsed as it is reached (json.loads' values, not all at once);
        ValueError if the text is not what `rollback` wrote."""
        text = self.removed
        decoder = json.JSONDecoder()
        at = _after_space(text, 0)
        if text[at : at + 1] != "[":
            msg = "removed is not a list of events"
            raise ValueError(msg)
        at = _after_space(text, at + 1)
        if text[at : at + 1] == "]":
            at += 1
        else:
            while True:
                row, at = decoder.raw_decode(text, _after_space(text, at))
                yield StoredEvent(**row)
                at = _after_space(text, at)
                if text[at : at + 1] == "]":
                    at += 1
                    break
                if text[at : at + 1] != ",":
                    raise ValueError(f"removed: expected ',' or ']' at character {at}")
                at += 1
        if _after_space(text, at) != len(text):
            raise ValueError(f"removed: extra text at character {at}")

    def removed_read(self) -> bool:
        """Whether `removed` reads as the removed events (parsed one at a time, none kept): a record edited behind
        the ledger's back may not (verify names it); what lists them shows it as such, not a parse error."""
        try:
            deque(self.each_removed_event(), maxlen=0)
        except (ValueError, TypeError):
            return False
        return True

    @property
    def head_after(self) -> Checkpoint:
        return Checkpoint(self.to_epoch, self.to_seq, self.to_hash)


def _after_space(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    assert found is not None
    return found.end()


def _removed_text(events: Iterable[StoredEvent]) -> str:
    """The canonical JSON of removed events (sorted keys, no spaces), as the record stores and hashes it: `json.dumps`
    of the list of their rows, byte for byte, each row encoded as it is read (issue 19: not a list of every row)."""
    return "".join(_row_texts(events))


def _row_texts(events: Iterable[StoredEvent]) -> Iterator[str]:
    """The pieces of `_removed_text`: each row's text after "[" or ",", then "]" (joined once: no second copy)."""
    separator = "["
    for event in events:
        yield separator + _ROW_TEXT(event.as_dict())
        separator = ","
    yield "[]" if separator == "[" else "]"


def records_disagreeing(records: Sequence[AdminRecord], live: Mapping[int, str]) -> list[tuple[int, str]]:
    """Each rollback left the log at `to_seq` with `to_hash`; that event stays as it was until a later rollback
    removes it (that record lists it) or keeps it as its own `to_seq` (its `to_hash`), else it is in the log now.

    Each record chains on its own (verify checks that), so without this a later record could list another
    history before an anchored seq (the anchor found in an earlier record) and nothing would say so."""
    problems: list[tuple[int, str]] = []
    for index, record in enumerate(records):
        seq, left = record.to_seq, record.to_hash
        if seq == 0:
            continue
        for later in records[index + 1 :]:
            if seq > later.to_seq:
                found = _removed_hash(later, seq)
                if found != left:
                    detail = (
                        f"admin record {later.id}: the log it rolled back had seq {seq} {found}, admin record "
                        f"{record.id} left seq {seq} {left}"
                    )
                    problems.append((later.to_seq + 1, detail))
                break
            if seq == later.to_seq:
                if later.to_hash != left:
                    detail = (
                        f"admin record {later.id}: it left seq {seq} {later.to_hash}, admin record {record.id} "
                        f"left seq {seq} {left} and no rollback between removed it"
                    )
                    problems.append((seq, detail))
                break
        else:
            found = live.get(seq)
            if found is not None and found != left:
                detail = f"admin record {record.id} left seq {seq} {left}, the log has {found} there"
                problems.append((seq, detail))
    return problems


def _removed_hash(record: AdminRecord, seq: int) -> str | None:
    """The hash of the event at `seq` that `record` removed (None: it lists none there), its removed events read
    only up to it (they are in seq order from to_seq + 1: a record of a million is never read whole for this)."""
    for event in record.each_removed_event():
        if event.seq >= seq:
            return event.hash if event.seq == seq else None
    return None
