"""Subscriptions (spec section 12): every event after a position in seq order, then the live ones.

A position is `(epoch, seq, hash)` of the last event a subscriber has seen (seq 0: none). Each read
looks at the head in one read transaction: when the event at the position's seq no longer has the
position's hash, audited rollbacks removed what the subscriber saw, and it first gets a
`RollbackNotice` (the new epoch and head, and `to_seq`: the last seq it saw that is still in the log,
so it drops what it built after that), then the events after `to_seq`. Events come in batches read by
seq, never from a notification: the store's change signal (`LedgerStore.changes`: LISTEN/NOTIFY on
PostgreSQL, `PRAGMA data_version` on SQLite) only says when to look, and a heartbeat looks anyway, so
a missed signal costs latency, never an event.

A named subscriber keeps its position in the ledger (the keyed table `subscribers`): `save()` writes
it, with the subscriber's own keyed entries when its read model lives there, in one transaction, so
a restart resumes with no gap and no repeat.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncGenerator, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Self

from tradeledger.application.ports import REBUILDS, ChangeSignal, LedgerStore, Transaction
from tradeledger.application.replaying import event_at, recorded
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.records import Checkpoint, RecordedFill
from tradeledger.errors import ConnectionLost, InvalidArgument

SUBSCRIBERS = "subscribers"  # the keyed table of named subscribers' positions
# The ledger's own keyed tables, never a subscriber's or a read model's: REBUILDS holds the token a kept fold
# checks (appending.FoldCache), which no one but a rebuild may write.
RESERVED_TABLES = frozenset({SUBSCRIBERS, "balances", "cursors", "pending", REBUILDS})
BATCH = 1000  # events per read while catching up
HEARTBEAT_S = 1.0  # the longest a subscriber waits without reading, whatever the signal says
START = Checkpoint(0, 0, GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class EventNotice:
    """An event of the log, in seq order."""

    epoch: int
    seq: int
    hash: str
    event: RecordedFill
    kind: Literal["event"] = "event"


@dataclass(frozen=True, slots=True)
class RollbackNotice:
    """Audited rollbacks removed events after `to_seq` that the subscriber saw: rewind to `to_seq`."""

    epoch: int  # the log's epoch now
    to_seq: int
    head_hash: str  # the log's head now
    kind: Literal["rollback"] = "rollback"


Notice = EventNotice | RollbackNotice


def position_text(position: Checkpoint) -> str:
    return json.dumps({"epoch": position.epoch, "seq": position.seq, "hash": position.hash}, separators=(",", ":"))


def position_of(text: str) -> Checkpoint:
    value = json.loads(text)
    return Checkpoint(int(value["epoch"]), int(value["seq"]), str(value["hash"]))


class Subscription:
    """Notices after a position (see the module). Iterate (blocks for live events) or `poll(timeout)`."""

    def __init__(self, store: LedgerStore, position: Checkpoint, *, name: str | None, batch: int = BATCH) -> None:
        self._store = store
        self.position = position
        self.name = name
        self._batch = batch
        self._signal: ChangeSignal | None = None
        self._release: weakref.finalize[[], Subscription] | None = None  # closes the signal, also when never closed
        self._stopped = False
        self._verified_epoch = position.epoch  # the head's epoch the position was last found still in the log

    # --- reading ------------------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0) -> list[Notice]:
        """What is there after the position now; when nothing is, wait up to `timeout` seconds for more.

        The position moves to the last notice returned: a batch is handed over whole."""
        found = self._wait(timeout)
        if found:
            self.position = found[-1][1]
        return [notice for notice, _ in found]

    def __iter__(self) -> Iterator[Notice]:
        """Every notice, then the live ones, until `stop()`; the position moves as each notice is handed
        over, so a `save()` after a notice stores exactly that one as seen."""
        while not self._stopped:
            for notice, after in self._wait(HEARTBEAT_S):
                self.position = after
                yield notice
                if self.stopped():  # stop() while the notice was handled: the rest of the batch waits
                    return

    async def notices(self) -> AsyncGenerator[Notice]:
        """The same as iterating, for asyncio: each wait runs in a worker thread."""
        while not self._stopped:
            for notice, after in await asyncio.to_thread(self._wait, HEARTBEAT_S):
                self.position = after
                yield notice
                if self.stopped():  # stop() while the notice was handled: the rest of the batch waits
                    return

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _wait(self, timeout: float) -> list[tuple[Notice, Checkpoint]]:
        """The notices after the position, each with the position after it; waits up to `timeout` for some."""
        # `close()` may come from another thread meanwhile: this wait keeps its own reference to the signal
        # (closing it makes its wait return), opens none once stopped, and reads no more once stopped.
        signal = self._signal
        if signal is None and not self._stopped:
            signal = self._open_signal()
        found = self._read()
        deadline = time.monotonic() + timeout
        while not found and not self._stopped and signal is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            signal.wait(min(remaining, HEARTBEAT_S))
            if self.stopped():  # by another thread while this one waited
                break
            found = self._read()
        return found

    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the iteration (from a callback, another thread or a signal handler)."""
        self._stopped = True

    # --- a read model's cheap catch-up (compat.account) ---------------------------------------------

    def changed(self) -> bool:
        """Without waiting: may the log have changed since the last look? No read transaction.

        True on the first call (the signal opens then: nothing watched the log before) and on a
        stopped or closed subscription (it watches nothing any more, so every look must read)."""
        if self._stopped:
            return True
        if self._signal is None:
            self._open_signal()
            return True
        return self._signal.wait(0)

    def _open_signal(self) -> ChangeSignal:
        """The store's change signal, closed by `close()` or else when the subscription is collected: a
        subscription dropped without close() leaves no connection open (the ledger's set of them is weak)."""
        signal = self._signal = self._store.changes()
        self._release = weakref.finalize(self, signal.close)
        return signal

    def read(self) -> list[Notice]:
        """One batch of what is after the position now (at most `batch` events, after a rollback notice), no wait;
        the position moves to its last notice."""
        found = self._read()
        if found:
            self.position = found[-1][1]
        return [notice for notice, _ in found]

    @property
    def batch(self) -> int:
        return self._batch

    def seek(self, position: Checkpoint) -> None:
        """Continue after `position` (a read model that loaded the stored projection at that checkpoint)."""
        self.position = position
        self._verified_epoch = position.epoch

    def close(self) -> None:
        self.stop()
        release, self._signal, self._release = self._release, None, None
        if release is not None:
            release()  # the signal's close, once

    def _read(self) -> list[tuple[Notice, Checkpoint]]:
        """`_read_once`, made again once when its connection was lost (a server restart: the store connects anew,
        and a read changes nothing), so a long-lived reader reads on; a second loss (the server down) is raised."""
        try:
            return self._read_once()
        except ConnectionLost:
            return self._read_once()

    def _read_once(self) -> list[tuple[Notice, Checkpoint]]:
        """One read transaction: a rollback notice when one is due, then a batch of events by seq."""
        with self._store.reading() as tx:
            head = tx.log.head()
            rewind = self._rewind(tx, head)
            at = self.position
            found: list[tuple[Notice, Checkpoint]] = []
            if rewind is not None:
                at = Checkpoint(head.epoch, rewind.to_seq, _hash_at(tx, rewind.to_seq))
                found.append((rewind, at))
            events = list(tx.log.read(after_seq=at.seq, until_seq=at.seq + self._batch))
        found.extend(
            (EventNotice(e.epoch, e.seq, e.hash, e), Checkpoint(e.epoch, e.seq, e.hash)) for e in recorded(events)
        )
        return found

    def _rewind(self, tx: Transaction, head: Checkpoint) -> RollbackNotice | None:
        """A notice when the event at the position is gone or another (audited rollbacks), else None."""
        at = self.position
        if at.seq == 0 or (head.epoch == self._verified_epoch and head.seq >= at.seq):
            return None
        if head.seq >= at.seq and _hash_at(tx, at.seq) == at.hash:
            self._verified_epoch = head.epoch  # a rollback happened, but after what this subscriber saw
            return None
        self._verified_epoch = head.epoch
        cuts = [r.to_seq for r in tx.log.admin_records() if r.from_epoch >= at.epoch and r.to_seq < at.seq]
        to_seq = min([at.seq, head.seq, *cuts])
        return RollbackNotice(head.epoch, to_seq, head.hash)

    # --- a named subscriber's position ----------------------------------------------------------

    def save(self, entries: Mapping[str, Mapping[str, str | None]] | None = None) -> None:
        """Store the position (a named subscriber), with the subscriber's own keyed entries, in one transaction."""
        if self.name is None:
            raise InvalidArgument("save: only a named subscription keeps its position in the ledger")
        tables = dict(entries or {})
        for table in tables:
            if table in RESERVED_TABLES or not table:
                raise InvalidArgument(f"entries: {table!r} is a table of the ledger's own; name another")
        with self._store.unit_of_work() as uow:
            uow.log.head()
            for table, values in tables.items():
                uow.projection.put_entries(table, dict(values))
            uow.projection.put_entries(SUBSCRIBERS, {self.name: position_text(self.position)})
            uow.commit()


def _hash_at(tx: Transaction, seq: int) -> str:
    """The hash of the event at `seq` (the genesis hash at 0, "" when the log has none there)."""
    if seq == 0:
        return GENESIS_HASH
    found = event_at(tx.log, seq)
    return "" if found is None else found.hash


def stored_position(store: LedgerStore, name: str) -> Checkpoint:
    """A named subscriber's stored position (the start when it has none)."""
    with store.reading() as tx:
        text = tx.projection.entries(SUBSCRIBERS, [name]).get(name)
    return START if text is None else position_of(text)
