"""Export the log as NDJSON with its hashes, and read such an export back (for `import` into an empty ledger).

The format, one JSON object per line:

    {"type": "header", "format": "tradeledger-export", "version": 2, "head": {"epoch", "seq", "hash"},
     "events": N, "rollbacks": M, "event_versions": {"fill": [1, 2], ...}}
    {"type": "event", <every column of ledger_events: seq, epoch, recorded_at, fill_id, ..., prev_hash, hash,
                       with the event's own type as "event_type", version, fees, amount, currency, kind>}
    ...                                   (N lines, in seq order)
    {"type": "rollback", <every column of ledger_admin_log: id, action, at, ..., removed, prev_hash, hash>}
    ...                                   (M lines, in id order)

Values are exactly as stored (amounts and times as their canonical text), so an auditor can
recompute every hash from the file alone (domain/chain.py and domain/admin.py say how). A version 1
export (written before the typed events of spec section 9) has no event_type, version, fees, amount,
currency or kind: its events are v1 fills, and it imports as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from tradeledger.application.ports import LedgerStore
from tradeledger.application.verification import content_problem
from tradeledger.domain.admin import ADMIN_HASHED_FIELDS, AdminRecord
from tradeledger.domain.chain import HASHED_FIELDS_BY_TYPE
from tradeledger.domain.records import Checkpoint, StoredEvent
from tradeledger.errors import InvalidArgument

FORMAT = "tradeledger-export"
VERSION = 2
READABLE_VERSIONS = (1, 2)
EVENT_FIELDS = tuple(field.name for field in fields(StoredEvent))
# An event line's own type is "event"; the event's type column is written as "event_type".
_LINE_FIELDS = tuple("event_type" if name == "type" else name for name in EVENT_FIELDS)
_COLUMNS = attrgetter(*EVENT_FIELDS)  # an event's columns, in EVENT_FIELDS order
_V1_FIELDS = EVENT_FIELDS[: EVENT_FIELDS.index("hash") + 1]
ADMIN_FIELDS = tuple(field.name for field in fields(AdminRecord))
_INTEGERS = {"seq", "epoch", "id", "from_epoch", "from_seq", "to_epoch", "to_seq", "version"}
_OPTIONAL = {
    "strategy",
    "order_id",
    "client_order_id",
    "metadata",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "fees",
    "amount",
    "currency",
    "kind",
}


def export_log(store: LedgerStore, write: Callable[[dict[str, Any]], object]) -> Checkpoint:
    """Write the header, every event and every admin record, read in one snapshot; returns the head."""
    with store.reading() as tx:
        head = tx.log.head()
        records = tx.log.admin_records()
        write(
            {
                "type": "header",
                "format": FORMAT,
                "version": VERSION,
                "head": {"epoch": head.epoch, "seq": head.seq, "hash": head.hash},
                "events": head.seq,
                "rollbacks": len(records),
                "event_versions": tx.log.formats(),
                # How to recompute every hash from this file alone (domain/chain.py, domain/admin.py):
                "hashes": {
                    "construction": 'sha256(prev_hash + "\\n" + JSON array of the fields\' values, '
                    'separators "," and ":", non-ASCII as itself); the first prev_hash is 64 zeros',
                    "event_fields": {
                        f"{kind}/{version}": list(names) for (kind, version), names in HASHED_FIELDS_BY_TYPE.items()
                    },
                    "rollback_fields": list(ADMIN_HASHED_FIELDS),
                    "removed_events": "a rollback's removed events: the JSON text of their full rows, as hashed",
                },
            }
        )
        for event in tx.log.read():
            line: dict[str, Any] = {"type": "event"}
            line.update(zip(_LINE_FIELDS, _COLUMNS(event), strict=True))
            write(line)
        for record in records:
            write({"type": "rollback", **record.as_dict()})
    return head


def is_export(first_line: str) -> bool:
    """Whether a file's first line is an export header (so `import` reads it as an export, not as fills)."""
    try:
        value = json.loads(first_line)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit: not a header
        return False
    return isinstance(value, dict) and value.get("type") == "header" and value.get("format") == FORMAT


@dataclass(frozen=True, slots=True)
class Export:
    """A parsed export: the head it claims, its events and admin records, all as stored."""

    head: Checkpoint
    events: Sequence[StoredEvent]
    records: Sequence[AdminRecord]


def _values(line: int, data: dict[str, Any], names: Sequence[str], what: str) -> dict[str, Any]:
    keys = set(data) - {"type"}
    if keys != set(names):
        missing, unknown = sorted(set(names) - keys), sorted(keys - set(names))
        raise InvalidArgument(f"line {line}: {what} with missing fields {missing} and unknown fields {unknown}")
    for name in names:
        value = data[name]
        ok = (
            (type(value) is int and value >= 0)
            if name in _INTEGERS
            else isinstance(value, str) or (value is None and name in _OPTIONAL)
        )
        if not ok:
            raise InvalidArgument(f"line {line}: {what} field {name} has the wrong kind of value (got {value!r})")
    return {name: data[name] for name in names}


def _objects(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line as (number, JSON object), read one at a time; anything else refused naming its number."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            raise InvalidArgument(f"line {number}: not JSON ({error})") from None
        except RecursionError:
            raise InvalidArgument(f"line {number}: JSON nested too deep to read") from None
        if not isinstance(value, dict):
            raise InvalidArgument(f"line {number}: expected a JSON object (got {type(value).__name__})")
        yield number, value


def _header(header: dict[str, Any]) -> Checkpoint:
    if header.get("type") != "header":
        raise InvalidArgument("line 1: an export starts with its header line")
    if header.get("format") != FORMAT or header.get("version") not in READABLE_VERSIONS:
        shown = (header.get("format"), header.get("version"))
        raise InvalidArgument(f"line 1: not a {FORMAT} file of version 1 or 2 (got {shown})")
    head = header.get("head")
    if not isinstance(head, dict) or set(head) != {"epoch", "seq", "hash"}:
        raise InvalidArgument(f"line 1: the header's head must be {{epoch, seq, hash}} (got {head!r})")
    for name in ("epoch", "seq"):
        if type(head[name]) is not int or head[name] < 0:
            raise InvalidArgument(f"line 1: the header's head {name} must be a whole number (got {head[name]!r})")
    if not isinstance(head["hash"], str):
        raise InvalidArgument(f"line 1: the header's head hash must be a string (got {head['hash']!r})")
    return Checkpoint(head["epoch"], head["seq"], head["hash"])


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What a whole export holds, every line checked (`scan_export`): its head, how many events, its admin log."""

    head: Checkpoint
    events: int
    records: Sequence[AdminRecord]


def _items(lines: Iterable[str], *, check_content: bool = True) -> Iterator[Checkpoint | StoredEvent | AdminRecord]:
    """An export's head, then each event, then each admin record, a line at a time; any line that is not
    what the format says is refused naming its number, as is a file that does not hold what its header says."""
    parsed = _objects(lines)
    first = next(parsed, None)
    if first is None:
        raise InvalidArgument("line 1: an export starts with its header line (the file is empty)")
    header = first[1]
    yield _header(header)
    names = _LINE_FIELDS if header.get("version") == VERSION else _V1_FIELDS
    events = records = 0
    for line, item in parsed:
        kind = item.get("type")
        if kind == "event" and not records:
            values = _values(line, item, names, "event")
            if "event_type" in values:
                values["type"] = values.pop("event_type")
            event = StoredEvent(**values)
            # What verify would refuse once written (its hash may well hold: an edited file rehashed) is
            # refused here, before the target is opened.
            problem = content_problem(event) if check_content else None
            if problem is not None:
                raise InvalidArgument(f"line {line}: seq {event.seq}: {problem}; nothing was imported")
            events += 1
            yield event
        elif kind == "rollback":
            records += 1
            yield AdminRecord(**_values(line, item, ADMIN_FIELDS, "rollback record"))
        else:
            raise InvalidArgument(f"line {line}: unexpected line type {kind!r} (events first, then rollbacks)")
    if (events, records) != (header.get("events"), header.get("rollbacks")):
        raise InvalidArgument(
            f"the header announces {header.get('events')} events and {header.get('rollbacks')} rollbacks, "
            f"the file holds {events} and {records}: it is incomplete"
        )


def scan_export(lines: Iterable[str]) -> ExportSummary:
    """Check every line of an export, a line at a time, keeping its admin log but none of its events (an
    import reads them again with `export_events` to write them: its memory does not grow with the log)."""
    items = _items(lines)
    head = next(items)
    assert isinstance(head, Checkpoint)
    events, records = 0, []
    for item in items:
        if isinstance(item, AdminRecord):
            records.append(item)
        else:
            events += 1
    return ExportSummary(head, events, records)


def export_events(lines: Iterable[str]) -> Iterator[StoredEvent]:
    """The events of an export `scan_export` has checked, read again a line at a time (their content is
    checked again as they are written: `import_log`)."""
    return (item for item in _items(lines, check_content=False) if isinstance(item, StoredEvent))


def read_export(lines: Iterable[str]) -> Export:
    """Parse a whole export into memory; any line that is not what the format says is refused naming its number."""
    items = list(_items(lines))
    head = items[0]
    assert isinstance(head, Checkpoint)
    events = [item for item in items if isinstance(item, StoredEvent)]
    records = [item for item in items if isinstance(item, AdminRecord)]
    return Export(head, events, records)
