"""Anchors: the log's head signed with Ed25519 by a key the operator keeps outside the database.

A hash chain proves that nobody edited the log *unless* they recomputed every later hash, the head
and the checkpoint: someone with write access can. An anchor closes that gap. It is a statement
`{epoch, seq, head, at}` signed with a private key the database never sees; an auditor keeps the
anchors and later checks that the event at `seq` still has the hash `head`.

The exact bytes, so any Ed25519 library can check an anchor (docs/reliability.md shows how):

    message   = UTF-8 of JSON {"at", "epoch", "head", "seq"} with sorted keys, no spaces
    signature = Ed25519(private key, message), 64 bytes, written as lowercase hex
    public_key = the 32 raw bytes of the Ed25519 public key, as lowercase hex

The anchor file is that statement plus `public_key` and `signature`. The private key file is PKCS#8
PEM (unencrypted; `keygen` writes it with mode 0600).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.records import Checkpoint
from tradeledger.errors import InvalidArgument

STATEMENT_FIELDS = ("at", "epoch", "head", "seq")
ANCHOR_FIELDS = (*STATEMENT_FIELDS, "public_key", "signature")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
MAX_ANCHOR_BYTES = 4096  # an anchor is ~400 bytes; anything far larger is not one


def _signed_message(epoch: int, seq: int, head: str, at: str) -> bytes:
    """The bytes an anchor's signature covers: `{at, epoch, head, seq}` as JSON, sorted keys, no spaces."""
    statement = {"at": at, "epoch": epoch, "head": head, "seq": seq}
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Anchor:
    """A signed statement that the log's event `seq` (of `epoch`) had the hash `head` at time `at`."""

    epoch: int
    seq: int
    head: str
    at: str
    public_key: str  # lowercase hex of the 32 raw bytes
    signature: str  # lowercase hex of the 64 raw bytes

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ANCHOR_FIELDS}

    def signature_holds(self) -> bool:
        """Whether `signature` is `public_key`'s Ed25519 signature of the statement."""
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key))
        try:
            key.verify(bytes.fromhex(self.signature), _signed_message(self.epoch, self.seq, self.head, self.at))
        except InvalidSignature:
            return False
        return True


def new_private_key() -> bytes:
    """A new Ed25519 private key as PKCS#8 PEM (unencrypted: protect the file, not the bytes)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: bytes, source: str) -> Ed25519PrivateKey:
    """The Ed25519 private key in `pem`, or InvalidArgument naming `source`."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise InvalidArgument(f"{source}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidArgument(f"{source}: not an Ed25519 key (got {type(key).__name__})")
    return key


def public_key_hex(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def sign(key: Ed25519PrivateKey, head: Checkpoint, at: str) -> Anchor:
    """The anchor of `head` at time `at` (canonical UTC ISO 8601 text), signed with `key`."""
    if head.seq == 0:
        raise InvalidArgument("the ledger is empty: there is no event to anchor yet")
    signature = key.sign(_signed_message(head.epoch, head.seq, head.hash, at))
    return Anchor(head.epoch, head.seq, head.hash, at, public_key_hex(key), signature.hex())


def parse_public_key(text: str, option: str = "--public-key") -> str:
    """A public key as lowercase hex of its 32 raw bytes (what keygen prints), or InvalidArgument."""
    value = text.strip().lower()
    if not _HEX64.fullmatch(value):
        raise InvalidArgument(f"{option}: expected 64 hex digits, the raw Ed25519 public key (got {text!r:.80})")
    return value


def read_anchor(text: str, source: str) -> Anchor:
    """An anchor from its JSON text, or InvalidArgument naming `source` and the field."""
    if len(text) > MAX_ANCHOR_BYTES:
        raise InvalidArgument(f"{source}: {len(text)} characters is not an anchor (at most {MAX_ANCHOR_BYTES})")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidArgument(f"{source}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{source}: an anchor is a JSON object (got {type(data).__name__})")
    missing = [name for name in ANCHOR_FIELDS if name not in data]
    unknown = sorted(set(data) - set(ANCHOR_FIELDS))
    if missing or unknown:
        wrong = [f"missing fields {missing}"] if missing else []
        wrong += [f"unknown fields {unknown}"] if unknown else []
        raise InvalidArgument(f"{source}: not an anchor: {', '.join(wrong)}")
    return Anchor(
        epoch=_count(data, "epoch", source, least=1),
        seq=_count(data, "seq", source, least=1),
        head=_matching(data, "head", _HEX64, source),
        at=_text(data, "at", source),
        public_key=_matching(data, "public_key", _HEX64, source),
        signature=_matching(data, "signature", _HEX128, source),
    )


def _count(data: Mapping[str, object], name: str, source: str, *, least: int) -> int:
    value = data[name]
    if type(value) is not int or value < least:
        raise InvalidArgument(f"{source}: {name}: expected a whole number >= {least} (got {value!r:.80})")
    return value


def _text(data: Mapping[str, object], name: str, source: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not value or len(value) > 64:  # noqa: PLR2004 - an ISO 8601 time
        raise InvalidArgument(f"{source}: {name}: expected an ISO 8601 time (got {value!r:.80})")
    return value


def _matching(data: Mapping[str, object], name: str, pattern: re.Pattern[str], source: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        digits = pattern.pattern.rsplit("{", 1)[1].rstrip("}")
        raise InvalidArgument(f"{source}: {name}: expected {digits} lowercase hex digits (got {value!r:.80})")
    return value


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """What `verify --anchor` found for one anchor: `ok` unless the log contradicts a valid anchor."""

    source: str
    anchor: Anchor
    status: str  # "holds" | "rolled back" | "bad signature" | "untrusted key" | "changed" | "missing"
    detail: str
    record: AdminRecord | None = None  # the audited rollback that removed the anchored event

    @property
    def ok(self) -> bool:
        return self.status in ("holds", "rolled back")


def check_anchor(
    source: str,
    anchor: Anchor,
    *,
    trusted_key: str | None,
    event_at_seq: tuple[int, str] | None,
    records: Sequence[AdminRecord],
) -> AnchorCheck:
    """Check one anchor against the log: its signature (by the trusted key, when one is pinned), then
    that the event at its seq still has its epoch and hash, or that an audited rollback removed it.

    `event_at_seq` is the (epoch, hash) of the log's event at `anchor.seq`, None when the log is shorter.
    """
    if trusted_key is not None and anchor.public_key != trusted_key:
        detail = f"signed by the key {anchor.public_key}, not by the trusted key {trusted_key}"
        return AnchorCheck(source, anchor, "untrusted key", detail)
    if not anchor.signature_holds():
        return AnchorCheck(source, anchor, "bad signature", "the signature does not match the statement")
    # The hash covers the event's seq, epoch, content and the previous hash, so an equal hash is the
    # same event and the same history before it. (`epoch` is the head's when anchored: after a rollback
    # with no append since, the head is in a new epoch while the event at its seq keeps its own.)
    if event_at_seq is not None and event_at_seq[1] == anchor.head:
        return AnchorCheck(source, anchor, "holds", f"seq {anchor.seq} still has the anchored hash {anchor.head}")
    for record in records:
        for removed in record.removed_events():
            if (removed.seq, removed.hash) == (anchor.seq, anchor.head):
                detail = (
                    f"seq {anchor.seq} was removed by the audited rollback #{record.id} at {record.at} by "
                    f"{record.actor} (reason: {record.reason})"
                )
                return AnchorCheck(source, anchor, "rolled back", detail, record)
    if event_at_seq is None:
        detail = f"the log no longer reaches seq {anchor.seq} and no audited rollback removed it"
        return AnchorCheck(source, anchor, "missing", detail)
    epoch, found = event_at_seq
    detail = (
        f"seq {anchor.seq} has the hash {found} (epoch {epoch}), the anchor says {anchor.head}, and no "
        "audited rollback removed the anchored event"
    )
    return AnchorCheck(source, anchor, "changed", detail)
