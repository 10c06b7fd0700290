"""The Ledger: record fills, read positions, replay history, rebuild and verify."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import ValidationError

from tradeledger.application.ports import LedgerStore
from tradeledger.application.verification import VerifyReport, check_chain, check_projection
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import Fill, time_text
from tradeledger.domain.positions import ClosedPosition, Position, PositionBook, PositionKey, Totals, apply_fill
from tradeledger.domain.records import Checkpoint, LedgerState, Receipt, RecordedFill, StoredEvent
from tradeledger.errors import FillConflict, InvalidArgument, InvalidFill, StorageError

FillInput = Fill | Mapping[str, Any]
Clock = Callable[[], datetime]


def describe_validation_error(error: ValidationError, *, where: str = "fill") -> str:
    """One line per bad field: its name, what is wrong, and the value given."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "fill"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            parts.append(f"{field}: is required")
        elif item["type"] == "extra_forbidden":
            parts.append(f"{field}: is not a fill field (got {item['input']!r})")
        elif "(got " in message:  # our validators name the value already
            parts.append(f"{field}: {message}")
        else:
            parts.append(f"{field}: {message} (got {item['input']!r})")
    return f"{where}: " + "; ".join(parts)


def validate_fill(value: FillInput, *, where: str = "fill") -> Fill:
    """A Fill from a Fill or a mapping of its fields, or InvalidFill naming each bad field and value."""
    if not isinstance(value, Fill | Mapping):
        raise InvalidFill(f"{where}: expected a Fill or a mapping of fill fields, got {type(value).__name__}")
    try:
        return Fill.model_validate(value if isinstance(value, Fill) else dict(value))
    except ValidationError as error:
        raise InvalidFill(describe_validation_error(error, where=where)) from None


class Ledger:
    """One ledger: an append-only fill log and the positions projected from it."""

    def __init__(self, store: LedgerStore, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # --- appending -------------------------------------------------------------------------

    def record(self, fill: FillInput) -> Receipt:
        """Append one fill (idempotent on account, exchange, fill_id) and update positions with it."""
        return self.record_many([fill])[0]

    def record_many(self, fills: Iterable[FillInput]) -> list[Receipt]:
        """Append fills in one transaction: every new fill lands, or none does."""
        validated = [validate_fill(fill, where=f"fill {index}") for index, fill in enumerate(fills, start=1)]
        if not validated:
            return []
        with self._store.append_batch() as batch:
            head = batch.head()
            # Read after the lock, so recorded_at never goes backwards along seq.
            recorded_at = time_text(self._clock())
            existing = dict(batch.select_existing({fill.key for fill in validated}))
            in_log = set(existing)
            touched = {(fill.account, fill.symbol) for fill in validated if fill.key not in existing}
            book: dict[PositionKey, tuple[Position | None, Totals]] = {key: (None, Totals()) for key in touched} | dict(
                batch.select_positions(touched)
            )
            receipts: list[Receipt] = []
            new_events: list[StoredEvent] = []
            closed: list[ClosedPosition] = []
            for index, fill in enumerate(validated, start=1):
                content = fill.canonical()
                original = existing.get(fill.key)
                if original is not None:
                    if original.content() != content:
                        raise FillConflict(fill.key, original.content(), content, in_log=fill.key in in_log)
                    receipts.append(
                        Receipt(original.seq, original.epoch, original.hash, duplicate=True, fill_id=fill.fill_id)
                    )
                    continue
                event = StoredEvent.seal(
                    content, seq=head.seq + 1, epoch=head.epoch, recorded_at=recorded_at, prev_hash=head.hash
                )
                key = (fill.account, fill.symbol)
                position, closed_totals = book[key]
                try:
                    # Fold the event as stored (its text read back), so replay folds the very same values.
                    outcome = apply_fill(position, event.execution())
                except InvalidFill as error:
                    raise InvalidFill(f"fill {index}: {error}") from None
                if outcome.closed is not None:
                    closed.append(outcome.closed)
                    closed_totals = closed_totals.plus(outcome.closed.realized_pnl, outcome.closed.fees)
                book[key] = (outcome.position, closed_totals)
                new_events.append(event)
                existing[fill.key] = event
                head = Checkpoint(event.epoch, event.seq, event.hash)
                receipts.append(Receipt(event.seq, event.epoch, event.hash, duplicate=False, fill_id=fill.fill_id))
            batch.commit(new_events, book, closed, head)
        return receipts

    # --- reading the projection ------------------------------------------------------------

    def state(self, *, account: str | None = None) -> LedgerState:
        """Open positions, closed cycles and lifetime totals as stored, with their checkpoint."""
        with self._store.snapshot() as snapshot:
            return snapshot.load_state().for_account(account)

    def positions(self, *, account: str | None = None) -> tuple[Position, ...]:
        """Open positions ordered by (account, symbol)."""
        with self._store.snapshot() as snapshot:
            return snapshot.open_positions(account=account)

    def position(self, symbol: str, *, account: str = "default") -> Position | None:
        """The open position of one symbol, or None when flat."""
        with self._store.snapshot() as snapshot:
            found = snapshot.open_positions(account=account, symbol=symbol)
        return found[0] if found else None

    def closed_positions(self, *, account: str | None = None) -> tuple[ClosedPosition, ...]:
        """Every closed cycle, ordered by closed_seq."""
        return self.state(account=account).closed

    @property
    def head(self) -> Checkpoint:
        """The last event of the log: (epoch, seq, hash); seq 0 when empty."""
        with self._store.snapshot() as snapshot:
            return snapshot.head()

    # --- history ---------------------------------------------------------------------------

    def history(self, *, symbol: str | None = None, account: str | None = None) -> list[RecordedFill]:
        """Recorded fills in seq order."""
        with self._store.snapshot() as snapshot:
            events = list(snapshot.read_events(symbol=symbol, account=account))
        fills = []
        for event in events:
            try:
                fills.append(event.recorded_fill())
            except (ValidationError, ValueError) as error:
                raise StorageError(f"seq {event.seq}: the stored fill cannot be read ({error}); run verify") from None
        return fills

    def replay(self, *, until_seq: int | None = None, until_time: datetime | None = None) -> LedgerState:
        """The state as of a seq and/or an occurred_at time, folded from the log alone; changes nothing.

        `until_time` keeps the fills that occurred at or before it, applied in log order (a fill
        reported late still counts at the time it occurred); the state's seq and hash are those of
        the last fill included.
        """
        if until_seq is not None and until_seq < 0:
            raise InvalidArgument(f"until_seq: must be 0 or more (got {until_seq})")
        cutoff = None
        if until_time is not None:
            if until_time.tzinfo is None or until_time.utcoffset() is None:
                raise InvalidArgument(f"until_time: must carry a timezone (got {until_time.isoformat()})")
            try:
                cutoff = time_text(until_time)
            except OverflowError:
                raise InvalidArgument(f"until_time: out of range (got {until_time.isoformat()})") from None
        book = PositionBook()
        last_seq = 0
        with self._store.snapshot() as snapshot:
            for execution in snapshot.read_executions(until_seq=until_seq, until_time=cutoff):
                book.apply(execution)
                last_seq = execution.seq
            last = snapshot.event_at(last_seq) if last_seq else None
            checkpoint = (
                Checkpoint(snapshot.head().epoch, 0, GENESIS_HASH)
                if last is None
                else Checkpoint(last.epoch, last.seq, last.hash)
            )
        return LedgerState.from_book(book, checkpoint)

    # --- maintenance -----------------------------------------------------------------------

    def rebuild(self) -> Checkpoint:
        """Rebuild the stored projection from the log; the result equals incremental updates."""
        return self._store.rebuild_projection(lambda executions: PositionBook().apply_all(executions))

    def verify(self) -> VerifyReport:
        """Check the hash chain, the gapless seq, and the stored projection against a fresh replay."""
        book = PositionBook()
        with self._store.snapshot() as snapshot:
            head = snapshot.head()
            count, problems = check_chain(snapshot.read_events(), head, book)
            if not problems:
                replayed = LedgerState.from_book(book, head)
                problems = check_projection(snapshot.load_state(), replayed)
        return VerifyReport(events=count, head=head, problems=tuple(problems))

    def close(self) -> None:
        """Release the database connections."""
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
