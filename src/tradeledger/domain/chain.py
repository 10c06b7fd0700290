"""The hash chain: canonical bytes of a recorded fill and the prev_hash -> hash link."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from operator import attrgetter, itemgetter

from tradeledger.domain.fills import FILL_FIELDS
from tradeledger.domain.json_values import canonical_json

GENESIS_HASH = "0" * 64


# The fields of a stored event that the hash covers, in a fixed order, per (type, version). Changing a
# list changes every hash of its kind: they are part of the log's format (see ARCHITECTURE.md). A v1
# fill (every event written before the typed events) is hashed as it always was, without its type.
HASHED_FIELDS = ("seq", "epoch", "recorded_at", *FILL_FIELDS)
_TYPED = ("seq", "epoch", "recorded_at", "type", "version", "fill_id", "account", "exchange")
HASHED_FIELDS_BY_TYPE: dict[tuple[str, int], tuple[str, ...]] = {
    ("fill", 1): HASHED_FIELDS,
    ("fill", 2): (
        *_TYPED,
        "symbol",
        "side",
        "quantity",
        "price",
        "fees",
        "occurred_at",
        "strategy",
        "order_id",
        "client_order_id",
        "metadata",
    ),
    ("funding", 1): (*_TYPED, "symbol", "amount", "currency", "occurred_at", "metadata"),
    ("transfer", 1): (*_TYPED, "currency", "amount", "fee", "kind", "occurred_at", "metadata"),
}


def hashed_fields(event: Mapping[str, object]) -> tuple[str, ...]:
    """The fields the hash of `event` covers, by its type and version (a v1 fill when it names none)."""
    kind = (event.get("type", "fill"), event.get("version", 1))
    try:
        return HASHED_FIELDS_BY_TYPE[kind]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"type {kind[0]!r} version {kind[1]!r} is not an event format this ledger knows") from None


# Every format's hashed fields start with seq, epoch and recorded_at (a test holds them to it): the rest,
# taken from an event's canonical fields in that order, per (type, version).
_POSITION = ("seq", "epoch", "recorded_at")
_CONTENT_VALUES = {kind: itemgetter(*fields[len(_POSITION) :]) for kind, fields in HASHED_FIELDS_BY_TYPE.items()}


def sealed_hash(prev_hash: str, canonical: Mapping[str, object], *, seq: int, epoch: int, recorded_at: str) -> str:
    """`event_hash(prev_hash, {**canonical, "seq": seq, "epoch": epoch, "recorded_at": recorded_at})`, the hash of
    the event `canonical` (its canonical fields) sealed at that place, without building the merged mapping."""
    kind = (canonical.get("type", "fill"), canonical.get("version", 1))
    try:
        values = _CONTENT_VALUES[kind]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"type {kind[0]!r} version {kind[1]!r} is not an event format this ledger knows") from None
    return chained_hash(prev_hash, [seq, epoch, recorded_at, *values(canonical)])


def event_hash(prev_hash: str, event: Mapping[str, object]) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON bytes.

    The bytes are: prev_hash (64 hex digits), a newline, then the UTF-8 encoding of the JSON array
    of the values of its hashed fields (HASHED_FIELDS_BY_TYPE for its type and version) in that
    order, written with separators "," and ":" and non-ASCII characters as themselves (Python's
    json.dumps(..., separators=(",", ":"), ensure_ascii=False)). Amounts and times are strings in
    their canonical text, the version a whole number, a v2 fill's fees their canonical JSON text;
    absent optional fields are null.
    """
    return chained_hash(prev_hash, [event[name] for name in hashed_fields(event)])


_ATTRIBUTES = {kind: attrgetter(*fields) for kind, fields in HASHED_FIELDS_BY_TYPE.items()}


def attributes_hash(prev_hash: str, stored: object, kind: tuple[object, object]) -> str:
    """`event_hash(prev_hash, event)` of an event whose fields are attributes of `stored` (a stored event's
    slots) and whose (type, version) is `kind`: its hashed fields read off it, without building the mapping."""
    try:
        values = _ATTRIBUTES[kind]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"type {kind[0]!r} version {kind[1]!r} is not an event format this ledger knows") from None
    return chained_hash(prev_hash, list(values(stored)))


def chained_hash(prev_hash: str, values: list[object]) -> str:
    """SHA-256 of prev_hash, a newline and the canonical JSON array of `values`: every chain's link
    (the log's events here, the admin log's records in domain/admin.py)."""
    body = canonical_json(values).encode("utf-8")
    return hashlib.sha256(prev_hash.encode("utf-8") + b"\n" + body).hexdigest()
