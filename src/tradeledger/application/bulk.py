"""Long appends: a batch validated, sealed, folded and written a chunk at a time inside its one unit of work,
and the compact text of a validated event that an import keeps between validating a file and appending it.

`record_events` (Ledger.record_many) reads and validates its whole input before it takes the write lock
(a caller's iterable never runs under it), then seals, folds and writes CHUNK events at a time, so it
holds the models and a receipt per event but one chunk of sealed events and rows: every new event lands
or none does (a refusal in the last chunk rolls the earlier ones back with it). A later chunk finds what an earlier
one appended in the log, in the same transaction, so a duplicate or a conflict across chunks is
judged as one within a chunk. The positions and balances are folded on across the chunks
(appending.BatchProjection) and written at the end, with a snapshot when the batch passed a multiple of
snapshot_every, as they would be for one chunk.

`EventText` is a validated event as the text the log stores, ~0.5 KB where its model takes ~3 KB:
an import validates every line before it opens the ledger (a bad file writes nothing) and keeps
those until `append_texts` appends them, which counts them instead of returning a receipt each.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import Any, Self

from tradeledger.application.appending import (
    BatchProjection,
    FillInput,
    FoldCache,
    ahead_keys,
    ahead_settlements,
    append_reads,
    usual_fill,
    validate_event,
)
from tradeledger.application.collector import cycle_collector_paused
from tradeledger.application.exchange_names import ExchangeNames, NameCheck
from tradeledger.application.lot_picks import check_lot_picks
from tradeledger.application.ports import AccountKey, AheadReads, EventKey, LedgerStore, UnitOfWork
from tradeledger.application.replaying import account_unmoved
from tradeledger.domain.events import Event
from tradeledger.domain.fills import EVENT_FIELDS, Fill, metadata_text
from tradeledger.domain.intake import fast_canonical, fast_fill
from tradeledger.domain.occurrence import OccurrenceBounds, refuse_out_of_bounds
from tradeledger.domain.records import Checkpoint, Receipt, StoredEvent, receipt
from tradeledger.domain.settlement import (
    first_settlements,
    refuse_after_settlement,
    refuse_past_expiry,
    watched_settlements,
)
from tradeledger.domain.stored_rows import UNREADABLE, refuse_unreadable, unreadable
from tradeledger.errors import FillConflict, InvalidFill

CHUNK = 2_000  # events validated, sealed, folded and written at a time
LARGE_BATCH = 500  # events from which an append pauses the cycle collector (application/collector.py)
CURSORS = "cursors"  # the keyed table (ProjectionStore.entries) of Ledger.cursors

_TYPE = EVENT_FIELDS.index("type")
_KEY = itemgetter(*(EVENT_FIELDS.index(name) for name in ("account", "exchange", "fill_id")))
# EventText's values that repeat from event to event, kept once (sys.intern) instead of once per event.
_SHARED = ("account", "symbol", "currency")
_VALUES = itemgetter(*EVENT_FIELDS)  # a canonical dict's values in EVENT_FIELDS order, as a tuple


class EventText(tuple[Any, ...]):
    """A validated event's canonical fields (`Event.canonical()`, what the log stores and hashes) in
    EVENT_FIELDS order. Built only from an event or a mapping of its fields, validated as `record_many`
    validates them (a Fill the fast path built is taken as it is), so a text is always a valid event's."""

    __slots__ = ()

    def __new__(cls, event: FillInput, *, where: str = "fill") -> Self:
        content = fast_canonical(event) if type(event) is dict else None  # kept as its text only
        if content is None:
            content = validate_event(event, where=where).canonical()
        for name in _SHARED:
            if content[name] is not None:
                content[name] = sys.intern(content[name])
        return super().__new__(cls, _VALUES(content))

    @property
    def key(self) -> EventKey:
        """(account, exchange, event id): what makes it a duplicate."""
        key: EventKey = _KEY(self)
        return key

    @property
    def type(self) -> str:
        """fill, funding or transfer."""
        return str(self[_TYPE])

    def content(self) -> dict[str, Any]:
        """The canonical fields by name, as `Event.canonical()` gives them."""
        return dict(zip(EVENT_FIELDS, self, strict=False))  # as many values as fields: built so


@dataclass(frozen=True, slots=True)
class Appended:
    """What `append_texts` did: events appended, duplicates skipped (of the log or earlier in the batch), and
    the head after."""

    appended: int
    duplicates: int
    head: Checkpoint


def append_chunk(
    uow: UnitOfWork,
    contents: Sequence[Mapping[str, Any]],
    *,
    projection: BatchProjection,
    first: int,
    start: int,
    bounds: OccurrenceBounds,
    receipts: list[Receipt] | None,
    names: NameCheck,
) -> int:
    """Seal the events of `contents` (canonical fields; events `first`, `first` + 1, ... of their batch, as
    messages name them) the log lacks after its head, fold them into the batch's `projection` and append
    them; how many. A receipt per event goes to `receipts` when given (a duplicate carries the original's
    seq and hash). An event whose key holds other content is refused (FillConflict: earlier in the batch
    when the original is after the seq `start` the log's head had when the batch began), and so is an exchange name
    differing only in case from one in the ledger or earlier in the batch (`names`: exchange_names.py).

    Duplicates are judged on the upcast content: a v1 fill with fee F is the same fill as one sent now
    with fees [{F, quote}] (spec section 9)."""
    names.admit(contents, first)
    head = uow.log.head()
    recorded_at = bounds.clock
    seq, epoch, prev_hash = head.seq, head.epoch, head.hash  # followed event by event (no Checkpoint each)
    keys = [(content["account"], content["exchange"], content["fill_id"]) for content in contents]
    watched = watched_settlements(contents)  # of the contracts this chunk fills or funds: none follows its settlement
    existing = dict(uow.log.find(set(keys)))
    logged = uow.log.find_anywhere(watched) if watched else []
    new: list[StoredEvent] = []
    index_of: dict[int, str] = {}  # a new event's seq -> how a refusal names it: "fill 3", "funding 4", as sent
    earliest, latest = bounds.earliest, bounds.latest
    outside = False  # a new event occurred outside `bounds` (two comparisons of its time text as it is sealed)
    for index, (key, content) in enumerate(zip(keys, contents, strict=True), start=first):
        original = existing.get(key)
        if original is not None:
            stored = _content_of(original)
            if stored != content:
                refuse_unreadable(original.execution_row())  # edited: not another event
                raise FillConflict(key, stored, dict(content), in_log=original.seq <= start)
            if receipts is not None:
                receipts.append(receipt(original.seq, original.epoch, original.hash, duplicate=True, fill_id=key[2]))
            continue
        seq += 1
        if not earliest <= content["occurred_at"] <= latest:
            outside = True
        event = StoredEvent.seal(content, seq=seq, epoch=epoch, recorded_at=recorded_at, prev_hash=prev_hash)
        prev_hash = event.hash
        index_of[seq] = f"{content['type']} {index}"
        new.append(event)
        existing[key] = event
        if receipts is not None:
            receipts.append(receipt(seq, epoch, prev_hash, duplicate=False, fill_id=key[2]))

    def named(seq: int) -> str:
        return index_of[seq]

    refuse_past_expiry(new, named=named)
    if outside:
        refuse_out_of_bounds(new, bounds, named=named)
    if watched:
        refuse_after_settlement(new, first_settlements([*logged, *new]), start=start, named=named)
    check_lot_picks(uow.log, new, named=named, open_cycle=projection.open_cycle)
    projection.append(new, named=named, settlements=True)
    return len(new)


def _content_of(event: StoredEvent) -> dict[str, Any]:
    """The content of the event stored under a key, as duplicates are judged on it (`StoredEvent.content`); a
    row edited behind the ledger's back so that it does not read (a v1 fill's symbol the upcast cannot read) is
    a StorageError naming its seq and field (`domain.stored_rows`)."""
    try:
        return event.content()
    except UNREADABLE as error:
        raise unreadable(event.execution_row(), error) from None


def _paused_for(chunk: Sized) -> AbstractContextManager[None]:
    """The cycle collector paused for a batch whose first chunk is large (application/collector.py)."""
    return cycle_collector_paused() if len(chunk) >= LARGE_BATCH else nullcontext()


def _kind(value: FillInput) -> str:
    """What an input says it is, for messages: its model's or mapping's type (a fill by default)."""
    kind = value.get("type", "fill") if isinstance(value, Mapping) else getattr(value, "type", "fill")
    return kind if kind in ("funding", "transfer") else "fill"


def _validated(value: FillInput, index: int) -> Event:
    """The event `value` gives (the fast path for the usual fill; its message names it by its place). A Fill
    built here from a dict is the batch's own (no caller holds it): not remembered (domain/intake.py)."""
    fast = fast_fill(value, remember=False) if type(value) is dict else usual_fill(value)
    return fast if fast is not None else validate_event(value, where=f"{_kind(value)} {index}")


def _validated_all(fills: Iterable[FillInput]) -> tuple[list[Event], dict[int, str]]:
    """The events of `fills`, each validated as the iterable gives it; and, when the iterable is not a list or
    a tuple (its code runs between one input and the next), the metadata text of each event that has some,
    made right after its check, by its place: a source that reuses a dict it gave (a nested metadata dict it
    clears and fills again, say) while yielding the next changes neither what was checked nor what is stored."""
    events: list[Event] = []
    kept: dict[int, str] = {}
    plain = isinstance(fills, list | tuple)
    for at, value in enumerate(fills):
        event = _validated(value, at + 1)
        text = None if plain else metadata_text(event.metadata)
        if text is not None:
            kept[at] = text
        events.append(event)
    return events, kept


def _contents(events: Sequence[Event], kept: Mapping[int, str], first: int) -> list[dict[str, Any]]:
    """The canonical fields of the chunk of `events` from `first`, with the metadata texts `kept` for them."""
    chunk = range(first, min(first + CHUNK, len(events)))
    if not kept:
        return [events[at].canonical() for at in chunk]
    contents: list[dict[str, Any]] = []
    for at in chunk:
        text = kept.get(at)
        if text is None:
            contents.append(events[at].canonical())
        else:  # the metadata as it was checked, whatever its dicts hold now
            content = events[at].model_copy(update={"metadata": None}).canonical()
            content["metadata"] = text
            contents.append(content)
    return contents


class ViewMoved(Exception):
    """An append on a condition (`record_events`' `current`) found the log moved past what the caller checked:
    nothing was written."""


def record_events(
    store: LedgerStore,
    fills: Iterable[FillInput],
    *,
    cursors: Mapping[str, str] | None,
    clock: Callable[[], datetime],
    snapshot_every: int,
    cache: FoldCache | None = None,
    current: Callable[[UnitOfWork], bool] | None = None,
) -> list[Receipt]:
    """Ledger.record_many: the events of `fills` appended in one unit of work, a chunk at a time, with
    `cursors` stored in it; a receipt per event. Every input is read and validated before the unit of work
    opens: neither the caller's iterable (a paged fetch, say) nor a refusal runs under the write lock. Each
    event is stored as it was when the iterable gave it (`_validated_all`). The batch starts from the fold in
    `cache` when it is current, and leaves its own there once committed. With `current`, asked under the
    head's lock before anything is appended: ViewMoved, nothing written, unless it answers True."""
    events, kept = _validated_all(fills)
    if not events and not cursors:
        return []
    receipts: list[Receipt] = []
    known = cache.known() if cache is not None else (frozenset(), frozenset())  # not read ahead
    chunks = (_contents(events, kept, at) for at in range(0, len(events), CHUNK))

    def refused(message: str, first: int) -> str:
        return as_sent(message, events[first - 1 : first - 1 + CHUNK], first=first)

    with _paused_for(events):
        # On PostgreSQL the head's lock comes with the reads of the first chunk (only a store that reads
        # ahead calls it).
        _append_chunks(
            store,
            chunks,
            reads=partial(append_reads, events[:CHUNK], known),
            keys=ahead_keys(events),
            anywhere=ahead_settlements(events),
            clock=clock,
            snapshot_every=snapshot_every,
            cache=cache,
            receipts=receipts,
            cursors=cursors,
            refused=refused,
            current=current,
        )
    return receipts


def record_all_unmoved(
    store: LedgerStore,
    fills: Iterable[FillInput],
    account: str,
    at: Checkpoint,
    *,
    clock: Callable[[], datetime],
    snapshot_every: int,
    cache: FoldCache | None = None,
) -> list[Receipt] | None:
    """Ledger.record_many_if_current: `fills` appended as `record_events` appends them, in one unit of work, while
    the log still has `at` and holds no event of `account` after it (asked under the head's lock); None, nothing
    written, otherwise."""
    try:
        return record_events(
            store,
            fills,
            cursors=None,
            clock=clock,
            snapshot_every=snapshot_every,
            cache=cache,
            current=lambda uow: account_unmoved(uow, account, at),
        )
    except ViewMoved:
        return None


def append_texts(
    store: LedgerStore,
    texts: Iterable[EventText],
    *,
    clock: Callable[[], datetime],
    snapshot_every: int,
    cache: FoldCache | None = None,
) -> Appended:
    """Ledger.append_texts: validated events appended in one unit of work, a chunk at a time; counted. An
    iterable that is not a collection is taken whole first: no caller's code runs under the write lock.
    `cache` as in `record_events`."""
    items = iter(texts if isinstance(texts, Collection) else tuple(texts))
    first = [text.content() for text in islice(items, CHUNK)]
    if not first:
        with store.reading() as tx:
            return Appended(0, 0, tx.log.head())

    def chunks() -> Iterator[list[dict[str, Any]]]:  # a chunk's dicts built when it is appended
        chunk = first
        while chunk:
            yield chunk
            chunk = [text.content() for text in islice(items, CHUNK)]

    with _paused_for(first):
        # A batch looks its keys up by IN (...): nothing to read ahead.
        return _append_chunks(
            store, chunks(), reads=AheadReads, clock=clock, snapshot_every=snapshot_every, cache=cache
        )


def _append_chunks(
    store: LedgerStore,
    chunks: Iterable[Sequence[Mapping[str, Any]]],
    *,
    reads: Callable[[], AheadReads],
    keys: Sequence[EventKey] = (),
    anywhere: Sequence[AccountKey] = (),
    clock: Callable[[], datetime],
    snapshot_every: int,
    cache: FoldCache | None,
    receipts: list[Receipt] | None = None,
    cursors: Mapping[str, str] | None = None,
    refused: Callable[[str, int], str] | None = None,
    current: Callable[[UnitOfWork], bool] | None = None,
) -> Appended:
    """The frame of a batch: its chunks of canonical fields appended in one unit of work (`append_chunk`,
    a receipt per event to `receipts` when given), the positions and balances written once at the end,
    `cursors` stored with them, and the batch's fold left in `cache` once committed. A refusal's message
    is `refused(message, n)` of the chunk starting at the batch's event n, when given; `current` as in
    `record_events`."""
    appended = total = 0
    with store.unit_of_work(reads_ahead=True) as uow:
        uow.read_ahead(reads, keys, anywhere)  # the head's lock first: recorded_at never goes backwards along seq
        if current is not None and not current(uow):
            raise ViewMoved
        bounds = OccurrenceBounds.at(clock())  # the one reading of the clock: recorded_at and the latest occurred_at
        head = uow.log.head()
        start = head.seq
        names = (ExchangeNames() if cache is None else cache.names).check(uow, head.epoch)
        projection = BatchProjection(uow, cache, snapshot_every=snapshot_every)
        for chunk in chunks:
            try:
                appended += append_chunk(
                    uow,
                    chunk,
                    projection=projection,
                    first=total + 1,
                    start=start,
                    bounds=bounds,
                    receipts=receipts,
                    names=names,
                )
            except InvalidFill as error:
                if refused is None:
                    raise
                raise InvalidFill(refused(str(error), total + 1)) from None
            total += len(chunk)
        projection.write()
        if cursors:
            uow.projection.put_entries(CURSORS, dict(cursors))
        head = uow.log.head()
        uow.commit()
    if cache is not None:
        projection.keep(cache, head)
        cache.names.keep(names)
    return Appended(appended, total - appended, head)


_BASE_FEE_REFUSED = re.compile(r"fill (\d+): fees\[\d+\]")


def as_sent(message: str, events: Sequence[Event], *, first: int = 1) -> str:
    """A refusal of a base fee (`fill N: fees[i]: ...`) names the fee by its place in the fill as sent, the
    event N of a batch whose `events` are its events `first`, `first` + 1, ... (the log stores fees sorted)."""
    found = _BASE_FEE_REFUSED.match(message)
    if found is None:
        return message
    fill = events[int(found[1]) - first]
    if not isinstance(fill, Fill):
        return message
    base = fill.market.base
    index = next((i for i, fee in enumerate(fill.fees) if fee.currency == base), 0)
    return f"fill {found[1]}: fees[{index}]" + message[found.end() :]
