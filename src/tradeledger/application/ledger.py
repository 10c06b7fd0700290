"""The Ledger: the facade a bot, an auditor and the CLI use; each method one use case over the store.

Every method opens one transaction on the store (`reading()` or `unit_of_work()`) and runs a use case
from its module: appending, replaying, maintenance (rebuild, rollback), market (marks and levels),
verification and anchoring.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Self, Unpack

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradeledger.application.anchoring import Anchor, sign
from tradeledger.application.appending import FillInput, FoldCache, stored_balances
from tradeledger.application.bulk import CURSORS, Appended, EventText, append_texts, record_all_unmoved, record_events
from tradeledger.application.checkpoints import ResumedAccount, resume_account, save_checkpoint
from tradeledger.application.lots import GainsReport, LotOptions, LotsReport, gains_of, method_plan, open_lots_of
from tradeledger.application.maintenance import (
    RollbackReport,
    audit_label,
    rebuild_projection,
    removed_from_log,
    removed_of,
    rollback_target,
    sealed_rollback,
)
from tradeledger.application.market import save_marks
from tradeledger.application.ports import EventKey, LedgerStore
from tradeledger.application.replaying import (
    AccountStart,
    HistoryFilters,
    account_closed,
    account_history,
    account_start,
    cutoff,
    event_at,
    read_filters,
    recorded,
    replay_state,
    stored_state,
    symbol_named,
    wallet_of,
)
from tradeledger.application.settling import SettlementTerms, record_settlement
from tradeledger.application.subscribing import START, Subscription, stored_position
from tradeledger.application.verification import VerifyReport, verify_ledger
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.balances import Balances
from tradeledger.domain.fills import time_text
from tradeledger.domain.lot_terms import FIRST_YEAR, LAST_YEAR, LONG_AFTER_DAYS, MethodPlan
from tradeledger.domain.positions import ClosedPosition, Position, PositionKey
from tradeledger.domain.records import Checkpoint, LedgerState, Receipt, RecordedFill
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels
from tradeledger.domain.wallet import WalletBook, starting_cash
from tradeledger.errors import InvalidArgument

# A snapshot of the projection every this many events: replay(until_seq=…, closed=False) then folds
# at most this many events on top of one (about 30 ms at 10,000).
SNAPSHOT_EVERY = 10_000

Clock = Callable[[], datetime]


class Ledger:
    """One ledger: an append-only fill log and the positions projected from it."""

    def __init__(self, store: LedgerStore, *, clock: Clock, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        if snapshot_every < 1:
            raise InvalidArgument(f"snapshot_every: must be 1 or more (got {snapshot_every})")
        self._store = store
        self._clock = clock
        self._snapshot_every = snapshot_every
        self._writes = 0
        self._folded = FoldCache()  # the fold the last batch committed (appending.FoldCache)
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()

    @property
    def writes(self) -> int:
        """How many times this Ledger object moved the log (appends, rollbacks) since it was opened. A read model in
        this process compares it with the value it last read at, so its own process's appends are visible as soon as
        they return, before any change signal arrives (a PostgreSQL NOTIFY reaches the listener a little later)."""
        return self._writes

    # --- appending -------------------------------------------------------------------------

    def record(self, fill: FillInput) -> Receipt:
        """Append one event (a Fill, Funding or Transfer, or a mapping whose `type` names one; a fill by
        default), idempotent on (account, exchange, its id), and update the projections with it."""
        return self.record_many([fill])[0]

    def record_many(self, fills: Iterable[FillInput], *, cursors: Mapping[str, str] | None = None) -> list[Receipt]:
        """Append events in one transaction: every new event lands, or none does.

        `cursors` (name → text) are stored in the same transaction (see `cursors`): a reader of an
        outside source (a sync) keeps where it is together with what it appended, so a crash between
        the two cannot happen. `fills` is read and validated whole before the write lock is taken (a slow
        source never holds it), then appended a chunk at a time (application/bulk.py)."""
        receipts = record_events(
            self._store,
            fills,
            cursors=cursors,
            clock=self._clock,
            snapshot_every=self._snapshot_every,
            cache=self._folded,
        )
        if receipts or cursors:
            self._writes += 1
        return receipts

    def record_if_current(self, fill: FillInput, *, account: str, at: Checkpoint) -> Receipt | None:
        """`record`, only while the books of `account` at the log position `at` are still the log's (it still has `at`,
        no event of `account` after it: checked under the write lock); else None, nothing written: decide again."""
        receipts = self.record_many_if_current([fill], account=account, at=at)
        return None if receipts is None else receipts[0]

    def record_many_if_current(
        self, fills: Iterable[FillInput], *, account: str, at: Checkpoint
    ) -> list[Receipt] | None:
        """`record_many` on `record_if_current`'s condition, in one transaction (the legacy migration's plan)."""
        receipts = record_all_unmoved(
            self._store, fills, account, at, clock=self._clock, snapshot_every=self._snapshot_every, cache=self._folded
        )
        self._writes += bool(receipts)
        return receipts

    def record_settlement(self, symbol: str, **terms: Unpack[SettlementTerms]) -> Receipt:
        """Book the expiry of a dated future: a fill closing the whole open position of `symbol` at the settlement
        `price` on its expiry day (`occurred_at`), with `fees` or a fee of `fee_rate` of its value, marked
        {"settlement": true}, id `settlement:SYMBOL`, on `exchange` (default: the cycle's last fill's): settling.py"""
        return record_settlement(self._store, self.record_if_current, symbol, terms)

    def append_texts(self, events: Iterable[EventText]) -> Appended:
        """Append validated events as their text (an `EventText` each: what an import keeps of a file's lines
        between validating them and appending them) in one transaction, as `record_many` appends them; how
        many were new and how many duplicates, and the head after."""
        appended = append_texts(
            self._store, events, clock=self._clock, snapshot_every=self._snapshot_every, cache=self._folded
        )
        if appended.appended or appended.duplicates:
            self._writes += 1
        return appended

    def cursors(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Stored cursors (see `record_many`) by name, of those asked for (every one when None). They are
        not part of the log or its chain: an export leaves them out, a copy carries them."""
        with self._store.reading() as tx:
            return tx.projection.entries(CURSORS, None if names is None else list(names))

    # --- reading the projection ------------------------------------------------------------

    def state(self, *, account: str | None = None) -> LedgerState:
        """Open positions, closed cycles and lifetime totals as stored, with their checkpoint."""
        with self._store.reading() as tx:
            return stored_state(tx.projection).for_account(account)

    def positions(self, *, account: str | None = None) -> tuple[Position, ...]:
        """Open positions ordered by (account, symbol)."""
        with self._store.reading() as tx:
            return tx.projection.open_positions(account=account)

    def position(self, symbol: str, *, account: str = "default") -> Position | None:
        """The open position of one symbol, or None when flat."""
        with self._store.reading() as tx:
            found = tx.projection.open_positions(account=account, symbol=symbol_named(symbol))
        return found[0] if found else None

    def closed_positions(self, *, account: str | None = None) -> tuple[ClosedPosition, ...]:
        """Every closed cycle, ordered by closed_seq."""
        return self.state(account=account).closed

    def balances(self, *, account: str | None = None) -> Balances:
        """The balances projection (spec section 9): the amount held per (account, exchange, currency)."""
        with self._store.reading() as tx:
            return Balances.of(tx.projection.checkpoint().seq, stored_balances(tx.projection), account=account)

    @property
    def head(self) -> Checkpoint:
        """The last event of the log: (epoch, seq, hash); seq 0 when empty."""
        with self._store.reading() as tx:
            return tx.log.head()

    # --- subscriptions (spec section 12) --------------------------------------------------------

    def subscribe(self, after: Checkpoint | int | None = None, *, name: str | None = None) -> Subscription:
        """Every event after `after` in seq order, then the live ones (see `application.subscribing`). `after`: a
        position `(epoch, seq, hash)` a subscriber kept, or a seq of this log; None: a named subscriber's stored
        position, else the start. A named subscriber stores its position with `Subscription.save()`."""
        label = None if name is None else audit_label("name", name)
        if after is None:
            position = START if label is None else stored_position(self._store, label)
        elif isinstance(after, int):
            position = self._position_at(after)
        else:
            position = after
        subscription = Subscription(self._store, position, name=label)
        self._subscriptions.add(subscription)  # closed with the ledger, if still open then
        return subscription

    def _position_at(self, seq: int) -> Checkpoint:
        if seq < 0:
            raise InvalidArgument(f"after: a seq is 0 or more (got {seq})")
        if seq == 0:
            return START
        with self._store.reading() as tx:
            found = event_at(tx.log, seq)
            head = tx.log.head()
        if found is None:
            raise InvalidArgument(f"after: seq {seq} is not in the log (its head is seq {head.seq})")
        return Checkpoint(found.epoch, found.seq, found.hash)

    # --- read models of one account (compat) ----------------------------------------------------

    def account_start(self, account: str) -> AccountStart:
        """The stored projection of `account` at its checkpoint, with the events of its open cycles, in one
        read transaction (see `replaying.AccountStart`): where a read model starts, never from seq 1."""
        with self._store.reading() as tx:
            return account_start(tx, account)

    def account_history(
        self, account: str, *, at: Checkpoint, until_seq: int, symbol: str | None = None, after_seq: int = 0
    ) -> list[RecordedFill] | None:
        """The events of `account` (of `symbol` only, when given) in (`after_seq`, `until_seq`], read while the log
        still has `at` (else None: a rollback removed it, and the reader starts again from the stored projection)."""
        with self._store.reading() as tx:
            return account_history(tx, account, at=at, until_seq=until_seq, symbol=symbol, after_seq=after_seq)

    def account_closed(self, account: str, *, at: Checkpoint, until_seq: int) -> list[ClosedPosition] | None:
        """The stored closed cycles of `account` closed up to `until_seq`, read while the log has `at` (else None)."""
        with self._store.reading() as tx:
            return account_closed(tx, account, at=at, until_seq=until_seq)

    def save_checkpoint(
        self, table: str, key: str, state: str, *, at: Checkpoint, replacing: Checkpoint | None = None
    ) -> bool:
        """Keep a read model's `state` (its own text) as of log position `at` under `key` of its keyed table `table`,
        in one transaction (see `application.checkpoints`). False, nothing written, when the log no longer has `at`
        or the entry there is of a later position the log still has, unless it is the one at `replacing`."""
        with self._store.unit_of_work() as uow:
            saved = save_checkpoint(uow, table, key, state, at, replacing=replacing)
            uow.commit()
        return saved

    def resume_account(self, table: str, key: str, *, account: str, at: Checkpoint) -> ResumedAccount | None:
        """A read model's checkpoint under `key` of `table` and the events of `account` after it up to `at` (every
        one, when the log no longer has the checkpoint's event or there is none), in one read transaction; None when
        the log no longer has `at` (the reader starts again from the projection)."""
        with self._store.reading() as tx:
            return resume_account(tx, table, key, account=account, at=at)

    # --- history ---------------------------------------------------------------------------

    def history(self, **filters: Unpack[HistoryFilters]) -> list[RecordedFill]:
        """Recorded fills after `after_seq` (default: all) in seq order, optionally of one symbol, account and/or
        exchange, and optionally only those that occurred within `occurred` (both ends inclusive)."""
        return list(self.stream_history(**filters))

    def stream_history(self, **filters: Unpack[HistoryFilters]) -> Generator[RecordedFill, None, None]:
        """`history`, one recorded fill at a time as the log is read in one read transaction (held until the
        iterator is exhausted or closed): what a caller holds does not grow with the log. Bad filters: refused here."""
        return self._streamed(read_filters(filters))

    def _streamed(self, read: dict[str, Any]) -> Generator[RecordedFill, None, None]:
        with self._store.reading() as tx:
            for event in tx.log.read(**read):
                yield from recorded((event,))

    def exchanges(self) -> frozenset[str]:
        """The exchange names of the log's events, each once (an index: not a read of the log)."""
        with self._store.reading() as tx:
            return tx.log.exchanges()

    def symbols(self, *, account: str, exchange: str) -> list[str]:
        """The symbols of the account's fills and funding on `exchange`, sorted (one query, not a read of the log)."""
        with self._store.reading() as tx:
            return tx.log.symbols(account, exchange)

    def last_occurred(
        self, *, account: str, exchange: str, types: Iterable[str], symbol: str | None = None, kinds: Iterable[str] = ()
    ) -> datetime | None:
        """When the latest of the account's events on `exchange` of these types (of one symbol, of these transfer
        kinds, when given) occurred, in one query; None without one."""
        with self._store.reading() as tx:
            latest = tx.log.last_occurred(account, exchange, set(types), symbol=symbol_named(symbol), kinds=set(kinds))
        return None if latest is None else datetime.fromisoformat(latest)

    def find(self, keys: Iterable[EventKey]) -> dict[EventKey, RecordedFill]:
        """The events under these keys ((account, exchange, fill id): `Event.key`); absent keys are left out."""
        with self._store.reading() as tx:
            found = tx.log.find(set(keys))
        return {key: recorded((event,))[0] for key, event in found.items()}

    def follow(self, after_seq: int, *, account: str | None = None) -> tuple[Checkpoint, list[RecordedFill]]:
        """The head and the fills after `after_seq`, read in one transaction (a one-off look; a read model that stays
        current uses `subscribe`, which reads only when the log changed and announces rollbacks)."""
        with self._store.reading() as tx:
            current = tx.log.head()
            events = list(tx.log.read(account=account, after_seq=after_seq))
        return current, recorded(events)

    def replay(
        self, *, until_seq: int | None = None, until_time: datetime | None = None, closed: bool = True
    ) -> LedgerState:
        """The state as of a seq and/or an occurred_at time, folded from the log alone; changes nothing.

        `until_time` keeps the fills that occurred at or before it, applied in log order (a fill
        reported late still counts at the time it occurred); the state's seq and hash are those of
        the last fill included. A subset that does not fold in log order is refused (replaying.refused_until).

        `closed=False` leaves the closed cycles out of the state (their sums stay in the totals). Their
        number grows with the log, the rest does not: without them, a replay to a seq starts from the
        nearest stored snapshot at or before it (a cache that `verify` checks against a replay) and
        folds only the events after it, so it takes about as long at any seq of any log.
        """
        time_bound = cutoff(until_seq, until_time)
        with self._store.reading() as tx:
            return replay_state(tx, until_seq=until_seq, until_time=time_bound, closed=closed)

    def replay_wallet(
        self,
        initial_balance: Decimal,
        *,
        account: str = "default",
        until_seq: int | None = None,
        until_time: datetime | None = None,
    ) -> WalletBook:
        """The paper wallet of `account` (spec section 5) as of a seq and/or time, from the log alone: from
        `initial_balance`, the account's fills folded in log order as `replay` folds them; the invariant is checked
        after each (InvariantViolation, never clamped)."""
        starting_cash(initial_balance)  # refused before anything is read
        time_bound = cutoff(until_seq, until_time)
        with self._store.reading() as tx:
            return wallet_of(tx, initial_balance, account=account, until_seq=until_seq, until_time=time_bound)

    # --- tax lots (spec section 11): computed from the log on demand, never stored ------------

    def gains(
        self,
        method: str | Sequence[str] | MethodPlan = "fifo",
        *,
        year: int | None = None,
        account: str | None = None,
        quote: str | None = None,
        fees_in_basis: bool = True,
        withdrawals_dispose: bool = False,
        long_after_days: int = LONG_AFTER_DAYS,
    ) -> GainsReport:
        """The realized gains of the disposals of tax year `year` (every year when None), one row per
        matched part of a lot, and the missing acquisitions; each disposal matched by the method of its
        own year (`method`: "fifo", or ["fifo", "2025=hifo"], or a MethodPlan; see domain.lots)."""
        plan = method_plan(method)
        if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidArgument(f"year: must be a year from {FIRST_YEAR} to {LAST_YEAR} (got {year})")
        options = LotOptions(plan, account, quote, fees_in_basis, withdrawals_dispose, long_after_days)
        with self._store.reading() as tx:
            return gains_of(tx, options, year=year)

    def lots(
        self,
        method: str | Sequence[str] | MethodPlan = "fifo",
        *,
        until_time: datetime | None = None,
        account: str | None = None,
        quote: str | None = None,
        fees_in_basis: bool = True,
        withdrawals_dispose: bool = False,
    ) -> LotsReport:
        """The open lots after the events that occurred at or before `until_time` (every event when None)."""
        plan = method_plan(method)
        time_bound = cutoff(None, until_time)
        options = LotOptions(plan, account, quote, fees_in_basis, withdrawals_dispose)
        with self._store.reading() as tx:
            return open_lots_of(tx, options, until_time=time_bound)

    # --- market-side state: price marks and risk levels ------------------------------------

    def marks(self) -> Marks:
        """Stored price marks and the risk levels of open cycles (not part of the log or its chain)."""
        with self._store.reading() as tx:
            return tx.projection.marks()

    def save_marks(
        self, prices: Iterable[PriceMark] = (), levels: Iterable[RiskLevels] = (), *, seen_epoch: int | None = None
    ) -> dict[PositionKey, RiskLevels]:
        """Upsert price marks and risk levels in one write transaction, durable once it returns.

        Levels are kept only for open cycles (of a fill of `seen_epoch` or earlier, when given) and
        only ever tighten (see `application.market.save_marks`): the result is the levels now stored
        for those written, which a writer that was behind adopts; a level missing from it was skipped.
        """
        prices, levels = list(prices), list(levels)
        if not prices and not levels:
            return {}
        with self._store.unit_of_work(market_data=True) as uow:
            stored = save_marks(uow, prices, levels, seen_epoch=seen_epoch)
            uow.commit()
        return stored

    # --- maintenance -----------------------------------------------------------------------

    def rebuild(self) -> Checkpoint:
        """Rebuild the stored projection and its snapshots from the log; the result equals incremental updates."""
        with self._store.unit_of_work() as uow:
            at = rebuild_projection(uow, snapshot_every=self._snapshot_every)
            uow.commit()
        return at

    def rollback(
        self,
        *,
        reason: str,
        actor: str,
        to_seq: int | None = None,
        to_time: datetime | None = None,
        dry_run: bool = False,
    ) -> RollbackReport:
        """Remove the log's tail after `to_seq` (or after the last event recorded by `to_time`), audited.

        The admin log gets a hash-chained record of who, when, why, the heads before and after and
        every removed event whole; the log continues at `to_seq + 1` in a new epoch; positions,
        closed cycles, snapshots and the risk levels of removed cycles are rewound in the same
        transaction. `dry_run` only reports what would go. Refused (InvalidArgument) without a
        reason or an actor, or when there is nothing after the target.
        """
        reason_text = audit_label("reason", reason)
        actor_text = audit_label("actor", actor)
        target = rollback_target(self._store, to_seq, to_time)
        head = self.head
        if head.seq <= target:  # seqs run without a gap: the events after the target are target + 1..head
            raise InvalidArgument(f"rollback: nothing after seq {target}; the log ends at seq {head.seq}")
        if dry_run:
            # The state as the rollback would leave it: the kept events, in the new epoch (one truth with head_after).
            state = replace(self.replay(until_seq=target), epoch=head.epoch + 1)
            after = Checkpoint(state.epoch, state.seq, state.hash)
            removed = removed_from_log(self._store, target, head)
            return RollbackReport(
                dry_run=True, head_before=head, head_after=after, removed=removed, record=None, state=state
            )
        at = time_text(self._clock())
        with self._store.unit_of_work() as uow:
            record = sealed_rollback(
                uow, target=target, at=at, actor=actor_text, reason=reason_text, snapshot_every=self._snapshot_every
            )
            uow.commit()
        self._writes += 1
        before = Checkpoint(record.from_epoch, record.from_seq, record.from_hash)
        return RollbackReport(
            dry_run=False,
            head_before=before,
            head_after=record.head_after,
            removed=removed_of(record),
            record=record,
            state=self.state(),
        )

    def admin_log(self) -> tuple[AdminRecord, ...]:
        """Every audited operation on the log (rollbacks), oldest first."""
        with self._store.reading() as tx:
            return tuple(tx.log.admin_records())

    def anchor(self, key: Ed25519PrivateKey, *, at: datetime) -> Anchor:
        """The log's head signed with `key` (an Ed25519 key kept outside the database) at time `at`."""
        return sign(key, self.head, time_text(at))

    def verify(
        self,
        anchors: Sequence[tuple[str, Anchor]] = (),
        *,
        trusted_key: str | None = None,
        on_progress: Callable[[int], object] | None = None,
    ) -> VerifyReport:
        """Check the hash chain, the gapless seq, the admin log and epochs, the stored projection and its
        snapshots against a fresh replay, and each `(source, anchor)`: its signature (by `trusted_key`,
        lowercase hex, when given) and that the event at its seq still has the anchored hash, or that an
        audited rollback removed it. A failed anchor is a problem at its seq. `on_progress(events read)`
        every 10,000 events and at the end (a progress bar's total: `head.seq`)."""
        with self._store.reading() as tx:
            return verify_ledger(tx, anchors, trusted_key=trusted_key, on_progress=on_progress)

    def close(self) -> None:
        """Release the database connections, those of subscriptions still open included."""
        for subscription in list(self._subscriptions):
            subscription.close()
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
