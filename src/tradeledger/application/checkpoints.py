"""Read-model checkpoints: a read model's folded state kept in a keyed table of its own, at a log position.

A read model whose state cannot be derived from the stored projection (the paper wallet's cash: see
`domain.wallet`) folds it once and keeps it here, so its next start folds only what came after.
An entry of the table is the JSON `{"epoch", "seq", "hash", "state"}`: the read model's own text
(`state`, which the ledger stores and hands back, never reads) as of the event at `seq`, whose hash
was `hash`. It holds only while the log still has that event: an audited rollback that removed it
voids the checkpoint (the reader folds from the first event again and saves a new one). Entries are
not part of the log or its chain: an export leaves them out, a copy carries them, a rebuild keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tradeledger.application.ports import Transaction, UnitOfWork
from tradeledger.application.replaying import recorded, still_at
from tradeledger.application.subscribing import RESERVED_TABLES
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.records import Checkpoint, RecordedFill
from tradeledger.errors import InvalidArgument, StorageError


@dataclass(frozen=True, slots=True)
class ResumedAccount:
    """Where an account's read model resumes: its checkpoint (`state` None: none, or a rollback voided it,
    and `at` is seq 0) and the account's events after it, up to the reader's position."""

    at: Checkpoint
    state: str | None
    events: list[RecordedFill]


def checkpoint_table(table: str) -> str:
    """`table` when a read model may keep checkpoints in it (not one of the ledger's own tables)."""
    if not table or not table.isprintable() or table in RESERVED_TABLES:
        raise InvalidArgument(f"table: {table!r} is a table of the ledger's own or not a name; name another")
    return table


def _entry(text: str, table: str, key: str) -> tuple[Checkpoint, str]:
    try:
        value = json.loads(text)
        return Checkpoint(int(value["epoch"]), int(value["seq"]), str(value["hash"])), str(value["state"])
    except (ValueError, KeyError, TypeError) as error:
        raise StorageError(f"checkpoint {key!r} of table {table!r} cannot be read ({error}); remove it") from None


def save_checkpoint(
    uow: UnitOfWork, table: str, key: str, state: str, at: Checkpoint, *, replacing: Checkpoint | None = None
) -> bool:
    """Store `state` as of `at` under `key`; False (nothing written) when the log no longer has `at`, or when
    the entry already there is of a later position the log still has (another process went further), unless it
    is the one at `replacing`: an entry the reader read and dropped (a format it no longer reads), replaced even
    from an earlier position so that it is dropped once, not at every start (one saved since is kept)."""
    checkpoint_table(table)
    uow.log.head()  # the write lock first: the entry read below is the one this write replaces
    if not still_at(uow, at):
        return False
    text = uow.projection.entries(table, [key]).get(key)
    if text is not None:
        stored, _ = _entry(text, table, key)
        if stored.seq > at.seq and stored != replacing and still_at(uow, stored):
            return False
    entry = {"epoch": at.epoch, "seq": at.seq, "hash": at.hash, "state": state}
    uow.projection.put_entries(table, {key: json.dumps(entry, separators=(",", ":"))})
    return True


def resume_account(tx: Transaction, table: str, key: str, *, account: str, at: Checkpoint) -> ResumedAccount | None:
    """The checkpoint under `key` and the events of `account` after it up to `at` (all of them when there is
    no checkpoint the log still has), in one read transaction; None when the log no longer has `at`.

    A checkpoint of a later position than `at` (another process went further) comes with no events."""
    checkpoint_table(table)
    if not still_at(tx, at):
        return None
    text = tx.projection.entries(table, [key]).get(key)
    since, state = Checkpoint(at.epoch, 0, GENESIS_HASH), None
    if text is not None:
        stored, stored_state = _entry(text, table, key)
        if still_at(tx, stored):
            since, state = stored, stored_state
    events = recorded(tx.log.read(account=account, after_seq=since.seq, until_seq=at.seq)) if since.seq < at.seq else []
    return ResumedAccount(since, state, events)
