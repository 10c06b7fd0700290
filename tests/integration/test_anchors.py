"""Anchors: the head signed with a key kept outside the database catches what the hash chain cannot.

Someone with write access can re-seal a tail (every later hash, the head and the checkpoint
recomputed) or forge a well-formed rollback record: the chain then verifies. An anchor taken before
does not. On SQLite and on PostgreSQL, with plain SQL around tradeledger (tests/backends.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tests.factories import fill_fields
from tradeledger.application.anchoring import Anchor, load_private_key, new_private_key, public_key_hex
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.records import Checkpoint, StoredEvent

if TYPE_CHECKING:
    from tests.backends import Backend
    from tradeledger import Ledger

pytestmark = pytest.mark.reliability
AT = "2026-02-01T00:00:00.000000+00:00"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return load_private_key(new_private_key(), "test key")


@pytest.fixture
def six(ledger: Ledger) -> Ledger:
    ledger.record_many(fill_fields(quantity=str(n), price="100") for n in range(1, 7))
    return ledger


def anchor_now(ledger: Ledger, key: Ed25519PrivateKey) -> Anchor:
    head = ledger.head
    anchor = ledger.anchor(key, at=datetime(2026, 2, 1, tzinfo=UTC))
    assert (anchor.epoch, anchor.seq, anchor.head, anchor.at) == (head.epoch, head.seq, head.hash, AT)
    return anchor


def stored_event(raw: Backend, seq: int) -> StoredEvent:
    [row] = raw.records("SELECT * FROM ledger_events WHERE seq = :seq", {"seq": seq})
    return StoredEvent(**row)


def reseal_from(raw: Backend, seq: int, quantity: str) -> str:
    """Set event `seq`'s quantity and re-seal it and every later event; the new last hash."""
    last = raw.sql("SELECT max(seq) FROM ledger_events")[0][0]
    previous = stored_event(raw, seq - 1).hash
    for n in range(seq, last + 1):
        event = stored_event(raw, n)
        event = dataclasses.replace(event, quantity=quantity if n == seq else event.quantity, prev_hash=previous)
        event = dataclasses.replace(event, hash=event.computed_hash())
        raw.sql(
            "UPDATE ledger_events SET quantity = :quantity, prev_hash = :prev_hash, hash = :hash WHERE seq = :seq",
            {"quantity": event.quantity, "prev_hash": event.prev_hash, "hash": event.hash, "seq": n},
        )
        previous = event.hash
    return previous


def forged_record(
    record: AdminRecord,
    after: str,
    edit: Callable[[StoredEvent], StoredEvent] = lambda event: event,
    to: Checkpoint | None = None,
) -> AdminRecord:
    """What an attacker with write access makes of `record`: its removed events edited by `edit` and sealed again in
    a chain from the hash `after`, the record hashed anew (kept at `to`, else where it left the log)."""
    previous, fabricated = after, []
    for removed in record.removed_events():
        edited = dataclasses.replace(edit(removed), prev_hash=previous)
        sealed = dataclasses.replace(edited, hash=edited.computed_hash())
        fabricated.append(sealed)
        previous = sealed.hash
    return AdminRecord.rollback(
        record_id=record.id,
        at=record.at,
        actor=record.actor,
        reason=record.reason,
        head=Checkpoint(record.from_epoch, record.from_seq, previous),
        to=record.head_after if to is None else to,
        removed=fabricated,
        prev_hash=record.prev_hash,
    )


def overwrite(raw: Backend, forged: AdminRecord) -> None:
    """`forged` stored over the record of its id (the admin log's guard dropped before)."""
    raw.sql(
        "UPDATE ledger_admin_log SET from_hash = :from_hash, to_hash = :to_hash, removed = :removed, hash = :hash "
        "WHERE id = :id",
        {
            "from_hash": forged.from_hash,
            "to_hash": forged.to_hash,
            "removed": forged.removed,
            "hash": forged.hash,
            "id": forged.id,
        },
    )


def test_an_anchor_of_an_honest_log_holds(six: Ledger, key: Ed25519PrivateKey) -> None:
    anchor = anchor_now(six, key)

    report = six.verify([("a.json", anchor)], trusted_key=public_key_hex(key))

    assert report.ok, report.problems
    [check] = report.anchors
    assert (check.status, check.ok, check.anchor.seq) == ("holds", True, 6)


def test_a_resealed_tail_passes_the_chain_but_not_an_anchor_taken_before(
    six: Ledger, backend: Backend, key: Ed25519PrivateKey
) -> None:
    anchor = anchor_now(six, key)
    backend.drop_append_only_guard()
    backend.drop_head_guard()
    last_hash = reseal_from(backend, 5, quantity="50")
    backend.sql("UPDATE ledger_head SET hash = :hash", {"hash": last_hash})
    six.rebuild()

    assert six.verify().ok  # the chain alone cannot tell: every hash, the head and the projection agree
    report = six.verify([("before-the-edit.json", anchor)])

    assert not report.ok
    assert [(p.seq, p.check) for p in report.problems] == [(6, "anchor")]
    assert "before-the-edit.json: seq 6 has the hash" in report.problems[0].detail
    assert report.anchors[0].status == "changed"


def test_an_anchor_whose_event_an_audited_rollback_removed_is_reported_with_the_record(
    six: Ledger, key: Ed25519PrivateKey
) -> None:
    anchor = anchor_now(six, key)
    six.rollback(to_seq=4, reason="bad feed", actor="ops")
    six.record(fill_fields(quantity="9"))

    report = six.verify([("a.json", anchor)])

    assert report.ok, report.problems
    [check] = report.anchors
    assert check.status == "rolled back"
    assert check.record is not None
    assert (check.record.id, check.record.reason, check.record.actor) == (1, "bad feed", "ops")


def test_a_forged_rollback_record_with_a_matching_head_is_caught_by_an_anchor(
    six: Ledger, backend: Backend, key: Ed25519PrivateKey
) -> None:
    # The attacker rolls back (audited) and then rewrites the record so that it lists other events
    # (a self-consistent chain from seq 4 with the hashes recomputed): verify alone has no way to know.
    anchor = anchor_now(six, key)
    report = six.rollback(to_seq=4, reason="cover-up", actor="mallory")
    record = report.record
    assert record is not None
    forged = forged_record(
        record, stored_event(backend, 4).hash, lambda event: dataclasses.replace(event, quantity="1000")
    )
    backend.drop_admin_guard()
    overwrite(backend, forged)

    assert six.verify().ok
    checked = six.verify([("a.json", anchor)])

    assert not checked.ok
    assert [(p.seq, p.check) for p in checked.problems] == [(6, "anchor")]
    assert checked.anchors[0].status == "missing"


def test_an_anchor_signed_by_another_key_fails_when_the_auditors_key_is_pinned(
    six: Ledger, key: Ed25519PrivateKey
) -> None:
    other = load_private_key(new_private_key(), "other key")
    forged = anchor_now(six, other)

    report = six.verify([("forged.json", forged)], trusted_key=public_key_hex(key))

    assert not report.ok
    assert report.anchors[0].status == "untrusted key"
    assert public_key_hex(key) in report.problems[0].detail


def test_an_anchor_whose_statement_was_edited_fails_its_signature(six: Ledger, key: Ed25519PrivateKey) -> None:
    anchor = anchor_now(six, key)
    edited = dataclasses.replace(anchor, seq=5, head=stored_hash(six, 5))

    report = six.verify([("edited.json", edited)])

    assert not report.ok
    assert (report.anchors[0].status, report.problems[0].seq) == ("bad signature", 5)


def stored_hash(ledger: Ledger, seq: int) -> str:
    return next(r.hash for r in ledger.history() if r.seq == seq)


def test_an_auditor_checks_an_anchor_with_cryptography_and_json_alone(six: Ledger, key: Ed25519PrivateKey) -> None:
    anchor = json.loads(json.dumps(anchor_now(six, key).as_dict()))  # as the file holds it

    statement = {name: anchor[name] for name in ("epoch", "seq", "head", "at")}
    message = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(anchor["public_key"]))
    public.verify(bytes.fromhex(anchor["signature"]), message)  # raises InvalidSignature if it does not hold

    assert message.startswith(b'{"at":"2026-02-01T00:00:00.000000+00:00","epoch":1,"head":"')
    assert anchor["head"] == stored_hash(six, anchor["seq"])


def test_a_later_rollback_record_rewritten_to_change_an_event_before_an_anchored_seq_is_caught(
    six: Ledger, backend: Backend, key: Ed25519PrivateKey
) -> None:
    # Anchored at seq 6; rollback 1 removes 5-6 (it lists them, chained from seq 4); new events 5-6; rollback 2
    # removes 3-6. The attacker rewrites rollback 2 so that it lists another seq 3 (re-sealed to its end): every
    # record chains on its own, and anchor 6 is still found in rollback 1. But rollback 1 left seq 4 with a hash
    # that rollback 2's seq 4 no longer has: the admin log contradicts itself.
    anchor = anchor_now(six, key)
    six.rollback(to_seq=4, reason="bad feed", actor="ops")
    six.record_many(fill_fields(quantity=str(n), price="101") for n in (7, 8))
    second = six.rollback(to_seq=2, reason="cover-up", actor="mallory").record
    assert second is not None
    six.record(fill_fields(quantity="9"))
    kept_four = stored_event_hash_in(second, 4)
    forged = forged_record(
        second,
        second.to_hash,
        lambda event: dataclasses.replace(event, quantity="1000") if event.seq == 3 else event,  # another seq 3
    )
    backend.drop_admin_guard()
    overwrite(backend, forged)
    forged_four = stored_event_hash_in(forged, 4)

    checked = six.verify([("a.json", anchor)])

    assert not checked.ok
    assert [(p.seq, p.check, p.detail) for p in checked.problems] == [
        (
            3,
            "admin",
            f"admin record 2: the log it rolled back had seq 4 {forged_four}, admin record 1 left seq 4 {kept_four}",
        )
    ]
    assert six.verify().problems == checked.problems  # the admin log alone says so, the anchor is not needed


def stored_event_hash_in(record: AdminRecord, seq: int) -> str:
    return next(event.hash for event in record.removed_events() if event.seq == seq)


def test_a_log_resealed_before_an_anchored_seq_behind_two_rollbacks_to_the_same_seq_is_caught(
    six: Ledger, backend: Backend, key: Ed25519PrivateKey
) -> None:
    # Anchored at seq 6; rollback 1 to seq 4 (lists 5-6); a new seq 5; rollback 2 to seq 4 again; a new seq 5.
    # The attacker re-seals the log from seq 3 and rewrites rollback 2 to match (its seq 4 and what it removed).
    # Rollback 1 still holds the anchored seq 6, chained from the seq 4 it left: the log no longer has that seq 4.
    anchor = anchor_now(six, key)
    first = six.rollback(to_seq=4, reason="bad feed", actor="ops").record
    assert first is not None
    six.record(fill_fields(quantity="7"))
    second = six.rollback(to_seq=4, reason="again", actor="ops").record
    assert second is not None
    six.record(fill_fields(quantity="8"))
    backend.drop_append_only_guard()
    backend.drop_head_guard()
    backend.drop_admin_guard()
    reseal_from(backend, 3, "1000")
    new_four = stored_event(backend, 4).hash
    epoch3_five = stored_event(backend, 5).hash
    overwrite(backend, forged_record(second, new_four, to=Checkpoint(second.to_epoch, 4, new_four)))
    backend.sql("UPDATE ledger_head SET hash = :hash", {"hash": epoch3_five})
    six.rebuild()

    checked = six.verify([("a.json", anchor)])

    assert not checked.ok
    assert [(p.seq, p.check, p.detail) for p in checked.problems] == [
        (
            4,
            "admin",
            (
                f"admin record 2: it left seq 4 {new_four}, admin record 1 left seq 4 {first.to_hash} and no rollback "
                "between removed it"
            ),
        )
    ]
