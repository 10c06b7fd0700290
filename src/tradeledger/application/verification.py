"""verify: the hash chain, the gapless sequence and the stored projection against a fresh replay."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from tradeledger.application.anchoring import Anchor, AnchorCheck, check_anchor
from tradeledger.application.appending import BALANCES
from tradeledger.application.lots_mark import LotsNamed
from tradeledger.application.ports import PENDING, PENDING_REBUILD, Transaction
from tradeledger.application.replaying import stored_state
from tradeledger.domain.admin import ROLLBACK, AdminRecord, records_disagreeing
from tradeledger.domain.balances import BalanceKey
from tradeledger.domain.chain import GENESIS_HASH, HASHED_FIELDS_BY_TYPE
from tradeledger.domain.fills import decimal_text, time_shaped
from tradeledger.domain.positions import ZERO, Accounting, Position, PositionBook, PositionKey, Totals
from tradeledger.domain.records import Checkpoint, LedgerState, StoredEvent
from tradeledger.domain.reference import ReferenceBalances
from tradeledger.domain.stored_rows import amounts_hold, row_problem

MAX_PROBLEMS = 20
K = TypeVar("K", tuple[str, str], int)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing verify found wrong; `seq` is the event it points at (None for the whole ledger)."""

    seq: int | None
    check: str  # "sequence" | "chain" | "content" | "head" | "projection" | "snapshot" | "anchor" | ...
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    events: int
    head: Checkpoint
    problems: tuple[Problem, ...]
    rollbacks: tuple[AdminRecord, ...] = ()  # the admin log's audited rollbacks, oldest first
    anchors: tuple[AnchorCheck, ...] = ()  # each anchor checked (a failed one is also a problem)
    # What the reference fold of the log gave per (account, exchange, currency), the stored balances held
    # against it: the whole log's when `ok` (a problem may stop the walk or leave an event out of the fold).
    balances: Mapping[BalanceKey, Decimal] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [problem.seq for problem in self.problems if problem.seq is not None]
        return min(seqs) if seqs else None


def computed_hash(event: StoredEvent) -> str | None:
    """The hash the event's stored values give, or None when they cannot be hashed at all."""
    try:
        return event.computed_hash()
    except (TypeError, ValueError):  # a blob, or text that is not UTF-8, written behind the ledger's back
        return None


def _positioned(event: StoredEvent) -> bool:
    """Whether seq and epoch are whole numbers, as the schema says (SQLite stores what it is given)."""
    seq: object = event.seq
    epoch: object = event.epoch
    return isinstance(seq, int) and isinstance(epoch, int) and not isinstance(seq, bool) and not isinstance(epoch, bool)


def _content(event: StoredEvent) -> tuple[str | None, Accounting | None]:
    """What is wrong with the event's content (None: nothing), and else what accounting reads of it: parsed
    once here, folded by the caller."""
    try:
        kind = (event.type, event.version)
        if kind not in HASHED_FIELDS_BY_TYPE:
            return f"type {event.type!r} version {event.version!r} is not an event format this ledger knows", None
        accounting = event.accounting()
        if event.type == "fill":
            numbers = {"quantity": event.quantity, "price": event.price}
            if event.version == 1:
                numbers["fee"] = event.fee
            for name, text in numbers.items():
                value = Decimal(text or "NaN")
                if not value.is_finite() or value < 0 or (name != "fee" and value == 0):
                    return f"{name} {text!r} is not a valid amount", None
    except InvalidOperation:  # its message names no value: name the field that is not a number
        return f"unreadable {event.type}: {_not_a_number(event)}", None
    except (ValueError, TypeError, KeyError) as error:
        return f"unreadable {event.type}: {error}", None
    # What the folds refuse besides (domain.stored_rows), checked cheaply here, the row read again to name it: a
    # time not as `time_text` writes it (the log's filters compare its text), an amount that is not finite, a
    # transfer fee below zero. A row whose hash was computed again over it is then named by its content too.
    if not time_shaped(event.occurred_at) or not amounts_hold(accounting):
        problem = row_problem(event.execution_row())
        if problem is not None:
            return problem, None
    return None, accounting


def content_problem(event: StoredEvent) -> str | None:
    """What is wrong with an event's content, as verify would report it (None: nothing); for a reader of
    events from outside the ledger (an export) to refuse before it writes what verify would then refuse."""
    return _content(event)[0]


def _not_a_number(event: StoredEvent) -> str:
    """Which of an event's amounts does not read as a number (only called once one did not)."""
    for name in ("quantity", "price", "fee", "amount"):
        text = getattr(event, name)
        if text is not None:
            try:
                Decimal(text)
            except InvalidOperation:
                return f"{name} {text!r} is not a number"
    return f"fees {event.fees!r} hold an amount that is not a number"


def _event_problems(event: StoredEvent, previous: StoredEvent | None) -> tuple[list[Problem], Accounting | None]:
    """What is wrong with one event given the one before it; what accounting reads of it when its content
    reads (None when it has a content problem, or no whole-number position in the log)."""
    if not _positioned(event):
        return [Problem(None, "content", f"seq {event.seq!r} and epoch {event.epoch!r} must be whole numbers")], None
    problems: list[Problem] = []
    expected_seq = 1 if previous is None else previous.seq + 1
    gap = event.seq > expected_seq
    if gap:
        missing = f"{expected_seq}" if event.seq == expected_seq + 1 else f"{expected_seq}..{event.seq - 1}"
        problems.append(
            Problem(expected_seq, "sequence", f"seq {missing} missing: seq {event.seq} follows {expected_seq - 1}")
        )
    elif event.seq != expected_seq:
        problems.append(Problem(event.seq, "sequence", f"expected seq {expected_seq}, found {event.seq}"))
    if previous is not None and event.epoch < previous.epoch:
        problems.append(Problem(event.seq, "sequence", f"epoch {event.epoch} after epoch {previous.epoch}"))
    own_hash_ok = computed_hash(event) == event.hash
    if not own_hash_ok:
        problems.append(Problem(event.seq, "chain", "stored content does not match its hash (edited after append)"))
    expected_prev = GENESIS_HASH if previous is None else previous.hash
    if event.prev_hash != expected_prev and not gap:
        # A gap already explains a broken link; otherwise blame the side whose own hash fails.
        if own_hash_ok and previous is not None:
            # This event is intact, so the one before it had its hash rewritten.
            detail = f"hash was rewritten: seq {event.seq} links to {event.prev_hash}"
            problems.append(Problem(previous.seq, "chain", detail))
        else:
            detail = f"prev_hash {event.prev_hash} does not link to {expected_prev}"
            problems.append(Problem(event.seq, "chain", detail))
    content, accounting = _content(event)
    if content is not None:
        problems.append(Problem(event.seq, "content", content))
    return problems, accounting


def _check_chain(
    events: Iterable[StoredEvent],
    head: Checkpoint,
    book: ReferenceBalances,
    after: Callable[[StoredEvent], None] | None = None,
) -> tuple[int, list[Problem]]:
    """Walk the log once: gapless seq from 1, each hash recomputed, each link to the previous hash.

    Events are folded into `book` on the way, so the projection check needs no second pass; `after`
    sees each event once the book holds it (snapshots are checked there).
    """
    problems: list[Problem] = []
    previous: StoredEvent | None = None
    count = 0
    truncated = False
    for event in events:
        count += 1
        found, accounting = _event_problems(event, previous)
        problems.extend(found)
        if not _positioned(event):
            continue  # a row without a position in the log cannot be the next link either
        if accounting is not None:  # its content reads: folded as parsed by the content check
            book.apply(accounting)
            if after is not None:
                after(event)
        previous = event
        if len(problems) >= MAX_PROBLEMS:
            truncated = True
            break
    if truncated:
        return count, problems
    # The head's epoch is checked with the admin log (check_admin): a rollback moves it past the last event's.
    if previous is not None and (previous.seq, previous.hash) != (head.seq, head.hash):
        detail = (
            f"the head says epoch {head.epoch} seq {head.seq} {head.hash}, "
            f"the log ends at epoch {previous.epoch} seq {previous.seq} {previous.hash}"
        )
        # Events missing from the end are named at the first missing seq, as a gap inside the log is.
        at = previous.seq + 1 if head.seq > previous.seq else previous.seq
        problems.append(Problem(at, "head", detail))
    if previous is None and head.seq != 0:
        problems.append(Problem(1, "head", f"the head says seq {head.seq} but the log is empty"))
    return count, problems


def _differences(
    what: str, stored: Mapping[K, V], replayed: Mapping[K, V], seq_of: Callable[[K, V], int | None]
) -> list[Problem]:
    return [
        Problem(
            seq_of(key, stored.get(key) or replayed[key]),
            "projection",
            f"{what} {key}: stored {stored.get(key)}, replay gives {replayed.get(key)}",
        )
        for key in sorted(stored.keys() | replayed.keys())
        if stored.get(key) != replayed.get(key)
    ]


def _check_projection(stored: LedgerState, replayed: LedgerState) -> list[Problem]:
    """Differences between the stored projection and a fresh replay, first difference first."""
    problems: list[Problem] = []
    if (stored.epoch, stored.seq, stored.hash) != (replayed.epoch, replayed.seq, replayed.hash):
        detail = (
            f"checkpoint at epoch {stored.epoch} seq {stored.seq} {stored.hash}, "
            f"log head at epoch {replayed.epoch} seq {replayed.seq} {replayed.hash}"
        )
        problems.append(Problem(None, "projection", detail))
    problems += _differences(
        "open position", {p.key: p for p in stored.open}, {p.key: p for p in replayed.open}, lambda _, p: p.last_seq
    )
    problems += _differences(
        "closed cycle",
        {c.closed_seq: c for c in stored.closed},
        {c.closed_seq: c for c in replayed.closed},
        lambda seq, _: seq,
    )
    problems += _differences("lifetime totals", stored.symbol_totals, replayed.symbol_totals, lambda _k, _v: None)
    problems.sort(key=lambda problem: (problem.seq is None, problem.seq or 0))
    return problems


def _check_balances(stored: Mapping[BalanceKey, Decimal], replayed: Mapping[BalanceKey, Decimal]) -> list[Problem]:
    """Differences between the stored balances and a fold of the log from zero (spec section 9)."""
    said = "balance {}: stored {}, a fold of the log gives {}"
    found = [said.format(key, _said(stored.get(key)), _said(replayed.get(key))) for key in _unequal(stored, replayed)]
    return [Problem(None, "balances", detail) for detail in found[:MAX_PROBLEMS]]


def _said(amount: Decimal | None) -> str:
    return "no row" if amount is None else decimal_text(amount)


def _unequal(stored: Mapping[BalanceKey, Decimal], replayed: Mapping[BalanceKey, Decimal]) -> list[BalanceKey]:
    """The keys whose balances differ, or that only one side holds."""
    return [
        key
        for key in sorted(stored.keys() | replayed.keys())
        if stored.get(key, ZERO) != replayed.get(key, ZERO) or (key in stored) != (key in replayed)
    ]


_KEY_PARTS = 3  # a balance's key: account, exchange, currency


def _read_balances(entries: Mapping[str, str]) -> dict[BalanceKey, Decimal] | str:
    """Balances as the keyed table `balances` holds them (key text, amount text), read as a fold gives them; what
    cannot be read (a key not a JSON array of three texts, an amount not a finite number) names its entry."""
    read: dict[BalanceKey, Decimal] = {}
    for text, amount in entries.items():
        try:
            key = json.loads(text)
        except (ValueError, TypeError):
            key = None
        try:
            value = Decimal(amount)
        except (ValueError, TypeError, InvalidOperation):
            value = Decimal("NaN")
        if not (isinstance(key, list) and len(key) == _KEY_PARTS and all(isinstance(part, str) for part in key)):
            return f"balance {text!r}: its key is not [account, exchange, currency]"
        if not value.is_finite():
            return f"balance {text!r}: amount {amount!r} is not a number"
        read[(key[0], key[1], key[2])] = value
    return read


def _check_snapshot_balances(
    seq: int, stored: Mapping[str, str], replayed: Mapping[BalanceKey, Decimal]
) -> list[Problem]:
    """Differences between the balances of the stored snapshot at `seq` and the fold as of the same event."""
    held = _read_balances(stored)
    if isinstance(held, str):
        return [Problem(seq, "snapshot", f"snapshot at seq {seq}: its balances cannot be read ({held})")]
    return [
        Problem(
            seq,
            "snapshot",
            f"snapshot at seq {seq}, balance {key}: stored {held.get(key)}, replay gives {replayed.get(key)}",
        )
        for key in _unequal(held, replayed)
    ][:MAX_PROBLEMS]


PROGRESS_EVERY = 10_000  # events verify reads between two progress reports


def _reporting(events: Iterable[StoredEvent], on_progress: Callable[[int], object]) -> Iterator[StoredEvent]:
    """`events`, calling `on_progress(events read)` every PROGRESS_EVERY of them and once at their end."""
    read = 0
    for event in events:
        yield event
        read += 1
        if read % PROGRESS_EVERY == 0:
            on_progress(read)
    on_progress(read)


def _check_snapshot(
    seq: int,
    epoch: int,
    stored: Mapping[PositionKey, tuple[Position | None, Totals]],
    event: StoredEvent,
    book: PositionBook,
) -> list[Problem]:
    """Differences between a stored snapshot at `seq` and the replay `book` as of the same event."""
    if epoch != event.epoch:
        detail = f"snapshot at seq {seq} is of epoch {epoch}, the event of epoch {event.epoch}"
        return [Problem(seq, "snapshot", detail)]
    replayed = {key: (book.open.get(key), totals) for key, totals in book.closed_totals.items()}
    return [
        Problem(
            seq,
            "snapshot",
            f"snapshot at seq {seq}, {key}: stored {stored.get(key)}, replay gives {replayed.get(key)}",
        )
        for key in sorted(stored.keys() | replayed.keys())
        if stored.get(key) != replayed.get(key)
    ][:MAX_PROBLEMS]


@dataclass(slots=True)
class EpochWalk:
    """Where the live log changes epoch, collected while verify walks it: (seq, epoch before, epoch, hash before)."""

    boundaries: list[tuple[int, int, int, str]] = field(default_factory=list)
    last: StoredEvent | None = None

    def see(self, event: StoredEvent) -> None:
        epoch_before, hash_before = (1, GENESIS_HASH) if self.last is None else (self.last.epoch, self.last.hash)
        if event.epoch != epoch_before:
            self.boundaries.append((event.seq, epoch_before, event.epoch, hash_before))
        self.last = event


def _record_problems(record: AdminRecord, previous: AdminRecord | None) -> list[Problem]:
    """What is wrong with one admin record given the one before it (its chain, its epochs, its removed events)."""
    name = f"admin record {record.id}"
    at = record.to_seq + 1
    problems: list[Problem] = []
    expected_id, expected_prev = (1, GENESIS_HASH) if previous is None else (previous.id + 1, previous.hash)
    if record.id != expected_id or record.prev_hash != expected_prev or record.computed_hash() != record.hash:
        problems.append(Problem(at, "admin", f"{name}: the admin log's hash chain does not hold there"))
    from_epoch = 1 if previous is None else previous.to_epoch
    if record.action != ROLLBACK or record.from_epoch != from_epoch or record.to_epoch != record.from_epoch + 1:
        detail = (
            f"{name}: a {record.action} from epoch {record.from_epoch} to {record.to_epoch}, expected from {from_epoch}"
        )
        problems.append(Problem(at, "admin", detail))
    link, seq = record.to_hash, record.to_seq
    broken: Problem | None = None
    try:  # parsed one at a time (issue 19), every one of them, as a parse of the whole text would
        for event in record.each_removed_event():
            if broken is not None:
                continue
            seq += 1
            if event.seq != seq or event.prev_hash != link or computed_hash(event) != event.hash:
                broken = Problem(at, "admin", f"{name}: removed event seq {event.seq} does not chain")
                continue
            link = event.hash
    except (ValueError, TypeError) as error:
        return [*problems, Problem(at, "admin", f"{name}: its removed events cannot be read ({error})")]
    if broken is not None:
        problems.append(broken)
    if (seq, link) != (record.from_seq, record.from_hash):
        detail = (
            f"{name}: the removed events end at seq {seq} {link}, the head was seq {record.from_seq} {record.from_hash}"
        )
        problems.append(Problem(at, "admin", detail))
    return problems


def check_admin(
    records: Sequence[AdminRecord], walk: EpochWalk, head: Checkpoint, live: Mapping[int, str] | None = None
) -> list[Problem]:
    """The admin log chains; every epoch change in the log is a recorded rollback; the head's epoch is right;
    the records agree with each other and with the log (`live`: the log's hash at each record's `to_seq`)."""
    problems: list[Problem] = []
    previous: AdminRecord | None = None
    for record in records:
        problems += _record_problems(record, previous)
        previous = record
    if not problems:
        problems += [Problem(seq, "admin", detail) for seq, detail in records_disagreeing(records, live or {})]
    last_record = previous
    by_epoch = {record.to_epoch: record for record in records}
    for seq, _epoch_before, epoch, hash_before in walk.boundaries:
        opening = by_epoch.get(epoch)
        if opening is None or (opening.to_seq, opening.to_hash) != (seq - 1, hash_before):
            detail = f"epoch {epoch} starts at seq {seq} without a recorded rollback to seq {seq - 1}"
            problems.append(Problem(seq, "admin", detail))
    last_epoch = 1 if walk.last is None else walk.last.epoch
    expected = max(last_epoch, 1 if last_record is None else last_record.to_epoch)
    if head.epoch != expected:
        detail = f"the head says epoch {head.epoch}, the log and the admin log say {expected}"
        problems.append(Problem(head.seq or 1, "head", detail))
    if (
        previous is not None
        and previous.to_epoch > last_epoch
        and (head.seq, head.hash) != (previous.to_seq, previous.to_hash)
    ):
        detail = f"the last rollback left the head at seq {previous.to_seq}, the head says seq {head.seq}"
        problems.append(Problem(head.seq or 1, "head", detail))
    return problems


def _projection_problems(
    tx: Transaction, replayed: LedgerState, balances: Mapping[BalanceKey, Decimal], unmatched_snapshots: list[int]
) -> list[Problem]:
    """The stored projection and balances against those of the replay, and the snapshots no event matched."""
    problems = _check_projection(stored_state(tx.projection), replayed)
    held = _read_balances(tx.projection.entries(BALANCES))
    if isinstance(held, str):
        problems.append(Problem(None, "balances", f"the stored balances cannot be read ({held})"))
    else:
        problems += _check_balances(held, balances)
    problems += [
        Problem(seq, "snapshot", f"snapshot at seq {seq}: the log has no such event") for seq in unmatched_snapshots
    ]
    return problems


def verify_ledger(
    tx: Transaction,
    anchors: Sequence[tuple[str, Anchor]] = (),
    *,
    trusted_key: str | None = None,
    on_progress: Callable[[int], object] | None = None,
) -> VerifyReport:
    """Every check of `Ledger.verify`, in one read transaction; `on_progress(events read)` every PROGRESS_EVERY
    events and once at the end of the log."""
    balances, lots = ReferenceBalances(), LotsNamed()  # lots: the log's latest event naming lots, for the head's mark
    book = balances.book
    anchored: dict[int, tuple[int, str]] = {}
    head = tx.log.head()
    records = tx.log.admin_records()
    wanted = {anchor.seq for _, anchor in anchors} | {record.to_seq for record in records}

    def noting_anchored(events: Iterable[StoredEvent]) -> Iterator[StoredEvent]:
        for event in lots.seen(events):
            if event.seq in wanted:
                anchored[event.seq] = (event.epoch, event.hash)
            yield event

    pending = tx.projection.snapshot_seqs()
    snapshot_problems: list[Problem] = []
    epochs = EpochWalk()

    def check_snapshots(event: StoredEvent) -> None:
        epochs.see(event)
        while pending and pending[0] <= event.seq:
            seq = pending.pop(0)
            stored = tx.projection.load_snapshot(until_seq=seq)
            if seq == event.seq and stored is not None:
                snapshot_problems.extend(_check_snapshot(seq, stored.epoch, stored.positions, event, book))
                if stored.epoch == event.epoch:
                    snapshot_problems.extend(_check_snapshot_balances(seq, stored.balances, balances.balances))

    events = tx.log.read() if on_progress is None else _reporting(tx.log.read(), on_progress)
    count, problems = _check_chain(noting_anchored(events), head, balances, after=check_snapshots)
    problems += check_admin(records, epochs, head, {seq: hash_ for seq, (_, hash_) in anchored.items()})
    problems += [Problem(None, "head", detail) for detail in lots.behind(tx.log.lots_named_until())]
    not_rebuilt = tx.projection.entries(PENDING, [PENDING_REBUILD]).get(PENDING_REBUILD)
    if not_rebuilt is not None:  # an audit's open of a log that does not fold (bootstrap.open_ledger)
        detail = f"the rebuild a schema upgrade asked for has not run ({not_rebuilt}): the projections are not checked"
        problems.append(Problem(None, "projection", detail))
    elif not problems:
        problems = _projection_problems(tx, LedgerState.from_book(book, head), balances.balances, pending)
    problems += snapshot_problems
    checks = tuple(
        check_anchor(source, anchor, trusted_key=trusted_key, event_at_seq=anchored.get(anchor.seq), records=records)
        for source, anchor in anchors
    )
    problems += [Problem(c.anchor.seq, "anchor", f"{c.source}: {c.detail}") for c in checks if not c.ok]
    problems.sort(key=lambda problem: (problem.seq is None, problem.seq or 0))
    return VerifyReport(
        events=count,
        head=head,
        problems=tuple(problems),
        rollbacks=tuple(records),
        anchors=checks,
        balances=balances.balances,
    )
