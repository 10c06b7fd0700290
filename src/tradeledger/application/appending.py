"""Appending: events validated, and folded into the projection as they are written (the sealing and the
chunks of a batch: application/bulk.py)."""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable, Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tradeledger.application.exchange_names import ExchangeNames
from tradeledger.application.ports import (
    LAST_REBUILD,
    READ_AHEAD_KEYS,
    REBUILDS,
    AccountKey,
    AheadReads,
    EventKey,
    PositionRow,
    ProjectionStore,
    UnitOfWork,
)
from tradeledger.domain.balances import BalanceKey, all_touched, touched_balances
from tradeledger.domain.events import EVENT_TYPES, Event, Funding, Transfer
from tradeledger.domain.fills import Fill, decimal_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.intake import fast_fill
from tradeledger.domain.json_values import canonical_json
from tradeledger.domain.positions import Position, PositionKey, Totals
from tradeledger.domain.records import Checkpoint, StoredEvent
from tradeledger.domain.settlement import (
    early_settlement_refusal,
    is_stored_settlement,
    settlement_refusal,
    watched_settlements_of,
)
from tradeledger.errors import InvalidFill

FillInput = Fill | Funding | Transfer | Mapping[str, Any]

_LONG_INT_BITS = 10_000  # about 3,000 digits


class _Quoted(reprlib.Repr):
    """Values quoted in messages: whole up to a point, never a megabyte or a 10,000-deep structure."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = 240
        self.maxlevel = 3

    def repr(self, x: object) -> str:
        """The value as Python writes it when that is short, else reprlib's abbreviation."""
        try:
            whole = repr(x)
        except (RecursionError, ValueError):  # 10,000 levels deep, or an int past the int-to-text limit
            return super().repr(x)
        return whole if len(whole) <= self.maxstring else super().repr(x)

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > _LONG_INT_BITS:  # near Python's int-to-text limit (4,300 digits): say how long it is
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_QUOTED = _Quoted()


def describe_validation_error(error: ValidationError, *, where: str = "fill") -> str:
    """One line per bad field: its name, what is wrong, and the value given."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if not field:  # a check across fields names its field itself ("fee: ...", "symbol: ...")
            parts.append(message)
        elif item["type"] == "missing":
            parts.append(f"{field}: is required")
        elif item["type"] == "extra_forbidden":
            parts.append(f"{field}: is not a fill field (got {_QUOTED.repr(item['input'])})")
        elif "(got " in message:  # our validators name the value already
            parts.append(f"{field}: {message}")
        else:
            parts.append(f"{field}: {message} (got {_QUOTED.repr(item['input'])})")
    return f"{where}: " + "; ".join(parts)


def validate_fill(value: FillInput, *, where: str = "fill") -> Fill:
    """A Fill from a Fill or a mapping of its fields (no other type), or InvalidFill naming each bad field."""
    event = validate_event(value, where=where)
    if not isinstance(event, Fill):
        raise InvalidFill(f"{where}: type: must be fill here (got {event.type!r})")
    return event


def usual_fill(value: FillInput) -> Fill | None:
    """The usual fill (a dict or a Fill) checked by the model's rules without pydantic's machinery
    (domain.intake), or None: `validate_event` then takes it through the model."""
    return fast_fill(value) if type(value) is dict or type(value) is Fill else None


def validate_event(value: FillInput, *, where: str = "fill") -> Event:
    """An event from a model or a mapping of its fields (`type` names it: fill, the default, funding or
    transfer), or InvalidFill naming each bad field and value."""
    fast = usual_fill(value)
    if fast is not None:
        return fast
    if isinstance(value, Fill | Funding | Transfer):
        model: type[Fill | Funding | Transfer] = type(value)
        data: Any = value
    elif isinstance(value, Mapping):
        kind = value.get("type", "fill")
        found = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        if found is None:
            raise InvalidFill(f"{where}: type: must be one of {', '.join(EVENT_TYPES)} (got {_QUOTED.repr(kind)})")
        model, data = found, dict(value)
    else:
        raise InvalidFill(
            f"{where}: expected a Fill or a mapping of fill fields, got {type(value).__name__} "
            "(a Funding or a Transfer is taken too)"
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidFill(describe_validation_error(error, where=where)) from None


BALANCES = "balances"  # the keyed table (ProjectionStore.entries) the balances projection lives in


def balance_entry(key: BalanceKey) -> str:
    """A balance's key in its keyed table: the JSON array [account, exchange, currency]."""
    return canonical_json(list(key))  # json.dumps(..., separators=(",", ":"), ensure_ascii=False), faster


def stored_balances(
    projection: ProjectionStore, keys: Collection[BalanceKey] | None = None
) -> dict[BalanceKey, Decimal]:
    """The stored balances (of these keys; every one when None)."""
    if keys is None:
        return parsed_balances(projection.entries(BALANCES))
    wanted = {balance_entry(key): key for key in keys}  # the keys asked for, by their text: no JSON read back
    found = projection.entries(BALANCES, list(wanted))
    return {wanted[text]: Decimal(amount) for text, amount in found.items()}


def parsed_balances(entries: Mapping[str, str]) -> dict[BalanceKey, Decimal]:
    """The balances of entries of the keyed table `balances` (key text, amount text)."""
    return {_balance_key(text): Decimal(amount) for text, amount in entries.items()}


def _balance_key(text: str) -> BalanceKey:
    account, exchange, currency = json.loads(text)
    return (account, exchange, currency)


def balance_entries(balances: Mapping[BalanceKey, Decimal]) -> dict[str, str]:
    """The balances as the keyed table `balances` holds them (key text, amount text)."""
    return {balance_entry(key): decimal_text(amount) for key, amount in balances.items()}


def write_balances(projection: ProjectionStore, balances: Mapping[BalanceKey, Decimal]) -> None:
    projection.put_entries(BALANCES, balance_entries(balances))


def rebuild_mark(projection: ProjectionStore) -> str | None:
    """The token the last rebuild left (None: no rebuild since the ledger began)."""
    return projection.entries(REBUILDS, [LAST_REBUILD]).get(LAST_REBUILD)


@dataclass(slots=True)
class _Warm:
    """What a committed batch's fold knows, and the head and rebuild token it committed with (FoldCache)."""

    head: Checkpoint
    mark: str | None
    fold: PositionFold
    positions: set[PositionKey]
    balances: set[BalanceKey]


class FoldCache:
    """The fold a Ledger's last committed batch left, with the head it committed: the next batch starts
    from it, instead of reading the positions and balances it moves from the store, when the log's head
    is still that one (an append by anyone else, a rollback or a copy moves the head: the batch then reads
    them) and no rebuild ran since (in any process: a rebuild leaves a new token under REBUILDS; the
    fold may have read a projection the rebuild repaired). A batch takes it (`take`, leaving none: a
    batch that fails keeps nothing) and gives its own back only once it committed (`keep`). Beside the fold it
    keeps the exchange names the Ledger knows the ledger holds (`names`, trusted in their epoch: exchange_names.py)."""

    __slots__ = ("_held", "names")

    def __init__(self) -> None:
        self._held: _Warm | None = None
        self.names = ExchangeNames()

    def take(self, head: Checkpoint, mark: str | None) -> _Warm | None:
        held, self._held = self._held, None
        return held if held is not None and held.head == head and held.mark == mark else None

    def keep(self, warm: _Warm) -> None:
        self._held = warm

    def known(self) -> tuple[AbstractSet[PositionKey], AbstractSet[BalanceKey]]:
        """The positions and balances the held fold knows (none when it holds none): a batch expecting to
        start from it need not read them ahead. Should the head have moved meanwhile, the batch reads them
        when it meets them."""
        held = self._held
        return (frozenset(), frozenset()) if held is None else (held.positions, held.balances)


class BatchProjection:
    """The positions and balances projections of a batch, folded forward as its events are appended (chunk
    after chunk, in one unit of work) and written, as stored, at its end (`write`).

    A chunk's new (account, symbol)s and balances are read from the store when it first meets them; the
    ones met before stay in the fold, which carries them on as it would carry them through one chunk.
    Given a FoldCache, the batch starts from the fold the last committed batch left when the head is
    still the one it committed (`keep` gives the batch's fold back to the cache after the commit)."""

    def __init__(self, uow: UnitOfWork, cache: FoldCache | None = None, *, snapshot_every: int) -> None:
        self._uow = uow
        self._every = snapshot_every
        self._snapshotted: set[int] = set()  # the seqs this batch took a snapshot at
        head = uow.log.head()
        self._first = head.seq
        self._mark = None if cache is None else rebuild_mark(uow.projection)
        warm = None if cache is None else cache.take(head, self._mark)
        if warm is None:
            warm = _Warm(head, self._mark, PositionFold(balances={}, keep_closed=False), set(), set())
        warm.fold.keep_closed_values()  # the cycles this batch closes, as plain values (written so)
        self._fold = warm.fold
        self._known_positions, self._known_balances = warm.positions, warm.balances  # in the fold
        self._touched: set[PositionKey] = set()  # moved by this batch: written at its end
        self._balance_keys: set[BalanceKey] = set()

    def append(
        self, new: Sequence[StoredEvent], *, named: Callable[[int], str] | None = None, settlements: bool = False
    ) -> None:
        """Fold sealed events (as stored: their text, exactly as replay and rebuild fold them) and append
        them to the log. A size that cannot stay exact is refused (InvalidFill, prefixed with `named(seq)`
        of the event when given); with `settlements` (new events recorded, not a log copied), so is a settlement
        that is not the fill closing the position the fold holds just before it (`settlement_refusal`) or that
        occurred before a fill of its contract in its account (`early_settlement_refusal`)."""
        if not new:
            return
        uow, fold = self._uow, self._fold
        touched = {(event.account, event.symbol) for event in new if event.symbol is not None} - self._touched
        balance_keys = all_touched((e.account, e.exchange, e.symbol, e.type, e.fees, e.currency) for e in new)
        balance_keys -= self._balance_keys
        self._touched |= touched
        self._balance_keys |= balance_keys
        unread = touched - self._known_positions
        if unread:
            fold.add_start({key: (None, Totals()) for key in unread} | uow.projection.positions(unread))
            self._known_positions |= unread
        unread_balances = balance_keys - self._known_balances
        if unread_balances:
            assert fold.balances is not None
            fold.balances.update(stored_balances(uow.projection, unread_balances))  # keys the fold has not met
            self._known_balances |= unread_balances
        # The events' seqs follow each other: a snapshot at each multiple of `snapshot_every` among them, as a
        # rebuild takes them, so that a replay inside a long batch folds at most that many events.
        every, first = self._every, new[0].seq
        cut, multiple = 0, -(-first // every) * every
        try:
            while multiple <= new[-1].seq:
                end = multiple - first + 1
                self._fold_rows(new[cut:end], new if settlements else None)
                self._snapshot(new[end - 1], before=self._touched - touched, part=new[:end])
                cut, multiple = end, multiple + every
            self._fold_rows(new[cut:], new if settlements else None)
        except InvalidFill as error:
            if named is None:
                raise
            failed = min(event.seq for event in new if event.seq > fold.last_seq)  # the one after the last folded
            raise InvalidFill(f"{named(failed)}: {error}") from None
        uow.log.append(new)

    def _fold_rows(self, events: Sequence[StoredEvent], chunk: Sequence[StoredEvent] | None) -> None:
        """Fold `events` (of `chunk`, the events being appended, when they are recorded: each settlement among them
        then held to the position folded up to it and to the times of the fills before it)."""
        fold, cut = self._fold, 0
        if chunk is not None:
            for at, event in enumerate(events):
                if is_stored_settlement(event):
                    fold.apply_rows(before.execution_row() for before in events[cut:at])
                    refusal = settlement_refusal(event, fold.position((event.account, str(event.symbol))))
                    later = None if refusal is not None else self._fill_after(event, chunk)
                    if later is not None:
                        refusal = early_settlement_refusal(event, later, in_log=later.seq <= self._first)
                    if refusal is not None:  # named by the caller: the event after the last one folded
                        raise InvalidFill(refusal)
                    cut = at
        fold.apply_rows(event.execution_row() for event in events[cut:])

    def _fill_after(self, settlement: StoredEvent, chunk: Sequence[StoredEvent]) -> StoredEvent | None:
        """A fill or funding payment of the settlement's account and contract before it in the log (earlier chunks of
        the batch included) or in `chunk` that occurred after it, if any."""
        account, symbol, at = settlement.account, settlement.symbol, settlement.occurred_at
        for event in self._uow.log.read(account=account, symbol=symbol, occurred_from=at):
            if event.occurred_at > at:  # a fill or funding: the events that name a symbol
                return event
        for event in chunk:
            if event.seq >= settlement.seq:
                break
            same = event.account == account and event.symbol == symbol
            if same and event.occurred_at > at:
                return event
        return None

    def open_cycle(self, key: PositionKey) -> Position | None:
        """The open cycle of `key` (None when flat) after the events this batch appended so far: what a check of the
        next chunk, before it is folded, reads (application/lot_pick_fold.py)."""
        if key in self._known_positions:
            return self._fold.folded((key,))[key][0]
        found = self._uow.projection.positions({key}).get(key)
        return None if found is None else found[0]

    def _snapshot(self, at: StoredEvent, *, before: AbstractSet[PositionKey], part: Sequence[StoredEvent]) -> None:
        """A snapshot as of `at`, folded to it: the stored rows (as they were before the batch) with those the
        batch moved so far (`before` this chunk, and this chunk's `part` up to `at`) as the fold has them."""
        moved = before | {(event.account, event.symbol) for event in part if event.symbol is not None}
        projection, fold = self._uow.projection, self._fold
        rows: dict[PositionKey, PositionRow] = dict(projection.positions())
        rows.update(fold.folded(moved).items())
        assert fold.balances is not None
        # The stored balances, with those the fold holds as of `at` (every one it knows is current there).
        balances = projection.entries(BALANCES) | balance_entries(fold.balances)
        projection.write_snapshot(at.checkpoint, rows, balances)
        self._snapshotted.add(at.seq)

    def write(self) -> None:
        """Write the positions and balances the batch moved, and a snapshot at its end when the log passed a
        multiple of `snapshot_every` (unless it ends at one: snapshotted as it was folded)."""
        uow, fold = self._uow, self._fold
        head = uow.log.head()
        if head.seq == self._first:
            return
        uow.projection.write(fold.folded(self._touched), fold.take_closed_values(), head)
        assert fold.balances is not None
        write_balances(uow.projection, {key: fold.balances[key] for key in self._balance_keys if key in fold.balances})
        if head.seq // self._every > self._first // self._every and head.seq not in self._snapshotted:
            uow.projection.write_snapshot(head, uow.projection.positions(), uow.projection.entries(BALANCES))

    def keep(self, cache: FoldCache, head: Checkpoint) -> None:
        """Give the batch's fold to `cache`, as of `head`: call it once the batch committed."""
        self._fold.drop_cells()  # or each later call would write back every cell the batches ever made
        cache.keep(_Warm(head, self._mark, self._fold, self._known_positions, self._known_balances))


def project_events(
    uow: UnitOfWork, new: Sequence[StoredEvent], *, snapshot_every: int, named: Callable[[int], str] | None = None
) -> None:
    """Append sealed events to the log and fold the positions and balances projections forward with them, as
    stored (BatchProjection, for one chunk)."""
    projection = BatchProjection(uow, snapshot_every=snapshot_every)
    projection.append(new, named=named)
    projection.write()


READ_AHEAD_EVENTS = READ_AHEAD_KEYS  # up to this many events, an append says what it reads (a batch: IN lookups)


def ahead_keys(events: Sequence[Event]) -> list[EventKey]:
    """The keys of `events` as `append_reads` names them, for UnitOfWork.read_ahead (none for a batch of more)."""
    return [event.key for event in events] if len(events) <= READ_AHEAD_EVENTS else []


def ahead_settlements(events: Sequence[Event]) -> list[AccountKey]:
    """The settlements of the dated futures `events` fill or fund (`watched_settlements_of`), looked up on any
    exchange, as `append_reads` names them (none for a batch of more than READ_AHEAD_EVENTS)."""
    return watched_settlements_of(events) if len(events) <= READ_AHEAD_EVENTS else []


def append_reads(
    events: Sequence[Event],
    known: tuple[AbstractSet[PositionKey], AbstractSet[BalanceKey]] = (frozenset(), frozenset()),
) -> AheadReads:
    """What appending `events` reads besides the head (UnitOfWork.read_ahead): the events stored under their
    keys and the settlements of the dated futures they fill or fund on any exchange (`watched_settlements_of`), and the
    positions and balances they move, as `bulk.append_chunk` and `project_events` ask for them, but for those
    `known` (`FoldCache.known`: the batch starts from a fold holding them)."""
    if len(events) > READ_AHEAD_EVENTS:
        return AheadReads()
    positions: set[PositionKey] = set()
    balances: set[BalanceKey] = set()
    for event in events:
        account, exchange = event.account, event.exchange
        if isinstance(event, Fill):  # its fees' currencies as fees_text stores them (zero amounts left out)
            balances |= touched_balances(account, exchange, event.symbol, "fill", None, None)
            balances.update((account, exchange, fee.currency) for fee in event.fees if fee.amount and fee.currency)
        else:
            balances |= touched_balances(account, exchange, None, event.type, None, event.currency)
        if not isinstance(event, Transfer):
            positions.add((account, event.symbol))
    # Looked up, never iterated: another thread's batch may be growing those sets (it took the fold).
    positions = {key for key in positions if key not in known[0]}
    balances = {key for key in balances if key not in known[1]}
    keys = [event.key for event in events]
    entries = {BALANCES: [balance_entry(key) for key in balances], REBUILDS: [LAST_REBUILD]}
    return AheadReads(keys, positions, entries, watched_settlements_of(events))
