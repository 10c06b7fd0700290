"""What the ledger holds already, before a migration appends: the fills of earlier runs (given other files then)
and the positions they left, held against the plan so that no execution or position is counted twice."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from tradeledger.compat.migration.legacy import (
    STATE_FILE,
    TRADES_CSV,
    WALLET_FILE,
    LegacyFiles,
    MigrationError,
    PlannedFill,
    Skipped,
    WalletEntry,
    fill_differences,
    legacy_round,
    same_fill,
    shown_time,
)
from tradeledger.domain.fills import Fill, decimal_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import Execution

# How far apart the two times of one fill may be: the legacy bot timed it twice (utcnow in the TradeManager,
# again in trade_logger), a few ms apart; a second's boundary may fall between them.
SAME_FILL_WITHIN = timedelta(seconds=1)


class LedgerSymbols:
    """What the ledger holds of each symbol of the account before the migration: the open positions and
    the latest fill. A wallet position is a state, not a fill (its id is made of its key, which a later
    snapshot of the same wallet changes): it is appended only where the ledger is flat for the symbol
    and has no fill of it since the position opened."""

    def __init__(self, account: str, recorded: Sequence[tuple[int, Fill]]) -> None:
        self.account = account
        self.fill_ids = {fill.fill_id for _, fill in recorded}
        self.book = PositionFold()
        self.latest: dict[str, tuple[int, Fill]] = {}
        for seq, fill in recorded:
            self.book.apply(Execution.of(seq, fill))
            last = self.latest.get(fill.symbol)
            if last is None or fill.occurred_at >= last[1].occurred_at:
                self.latest[fill.symbol] = (seq, fill)

    def holds(self, entry: WalletEntry, fill: Fill, path: Path | None) -> tuple[str, bool] | None:
        """None: append the entry's opening fill (or it is in the ledger already, as this very fill). Else the
        reason it is not appended and whether it is stale; a position the ledger holds otherwise is refused."""
        assert entry.symbol is not None
        if fill.fill_id in self.fill_ids:
            return None
        position = self.book.position((self.account, entry.symbol))
        if position is not None:
            figures = f"{position.side.value} {decimal_text(position.quantity)} at {decimal_text(position.avg_price)}"
            opened = f"opened at seq {position.opened_seq}"
            if position.signed_quantity == entry.signed_quantity and position.avg_price == entry.entry_price:
                return (
                    f"{entry.symbol} is already open in the ledger at this side, size and price ({figures}, {opened}): "
                    "a wallet position is a state, not a fill; appending it would hold it twice"
                ), False
            side = "long" if entry.signed_quantity > 0 else "short"
            raise MigrationError(
                f"{path or WALLET_FILE}: positions[{entry.key!r}]: the wallet holds {entry.symbol} {side} "
                f"{decimal_text(entry.quantity)} at {decimal_text(entry.entry_price)} where the ledger already holds "
                f"{figures} ({opened}); an opening fill would hold both, not the wallet's position; nothing appended"
            )
        last = self.latest.get(entry.symbol)
        if last is not None and entry.opened_at <= last[1].occurred_at:
            return (
                f"stale: the ledger closed {entry.symbol} at {shown_time(last[1].occurred_at)} (seq {last[0]}), "
                f"after this wallet position opened at {shown_time(entry.opened_at)}"
            ), True
        return None


def rows_the_ledger_holds(
    fills: list[PlannedFill], recorded: Sequence[tuple[int, Fill]], skipped: list[Skipped]
) -> list[PlannedFill]:
    """The planned fills without those the ledger holds under another id, matched as a trades.csv row is with
    its TradeManager trade (symbol, side, size and price to 8 places, within SAME_FILL_WITHIN): a row whose
    trade an earlier run appended (its state file not given now), a trade whose row an earlier run appended
    alone. Only fills of the ledger that no planned fill explains are candidates, each explaining one at most
    (the nearest in time)."""
    planned_ids = {planned.fill.fill_id for planned in fills}
    pool: dict[tuple[str, str], list[tuple[int, Fill]]] = defaultdict(list)
    for seq, fill in recorded:
        if fill.fill_id not in planned_ids:
            pool[(fill.symbol, fill.side.value)].append((seq, fill))
    if not pool:
        return fills
    kept: list[PlannedFill] = []
    for planned in fills:
        found = None if planned.seq is not None else _held_as(planned, pool.get(_key(planned.fill), []))
        if found is None:
            kept.append(planned)
            continue
        seq, fill = found
        pool[_key(planned.fill)].remove(found)
        if planned.source == TRADES_CSV:
            what = "the trade this row recorded, at the same size and price within a second (trades.csv and the "
            what += "TradeManager timed one fill twice)"
        else:
            what = "this trade's row of trades.csv, migrated before, at the same size and price within a second"
        reason = f"already in the ledger as seq {seq} (fill {fill.fill_id!r}): {what}"
        skipped.append(Skipped(planned.source, planned.where, planned.fill.symbol, reason))
    return kept


def _key(fill: Fill) -> tuple[str, str]:
    return fill.symbol, fill.side.value


def _held_as(planned: PlannedFill, candidates: Sequence[tuple[int, Fill]]) -> tuple[int, Fill] | None:
    """The ledger's fill (seq, fill) that is `planned`'s, the nearest in time: a trades.csv row matches any fill
    no planned fill explains, a TradeManager trade only a row of trades.csv an earlier run appended."""
    if planned.source not in (TRADES_CSV, STATE_FILE):
        return None
    wanted = planned.fill
    found = [
        (abs(wanted.occurred_at - fill.occurred_at), seq, fill)
        for seq, fill in candidates
        if (planned.source == TRADES_CSV or _migrated_from(fill) == TRADES_CSV)
        and legacy_round(fill.quantity) == legacy_round(wanted.quantity)
        and legacy_round(fill.price) == legacy_round(wanted.price)
        and abs(wanted.occurred_at - fill.occurred_at) <= SAME_FILL_WITHIN
    ]
    if not found:
        return None
    _, seq, fill = min(found, key=lambda item: (item[0], item[1]))
    return seq, fill


def _migrated_from(fill: Fill) -> object:
    """The legacy file an earlier migration took the fill from (None for a fill of another writer)."""
    return None if fill.metadata is None else fill.metadata.get("migrated_from")


def refuse_trades_onto_wallet_openings(
    fills: Sequence[PlannedFill], recorded: Sequence[tuple[int, Fill]], files: LegacyFiles
) -> None:
    """A new fill of the state file or trades.csv of a symbol an earlier run opened from a wallet snapshot that
    this plan does not explain: the files' trades would be appended onto that position (held twice), or tell
    another story than the snapshot; refused, naming both."""
    planned_ids = {planned.fill.fill_id for planned in fills}
    opened: dict[str, tuple[int, Fill]] = {}
    for seq, fill in recorded:
        if _migrated_from(fill) == WALLET_FILE and fill.fill_id not in planned_ids:
            opened.setdefault(fill.symbol, (seq, fill))
    for planned in fills:
        found = opened.get(planned.fill.symbol)
        if planned.seq is not None or planned.source == WALLET_FILE or found is None:
            continue
        seq, fill = found
        path = {STATE_FILE: files.paths.state_file, TRADES_CSV: files.paths.trades_csv}.get(planned.source)
        key = (fill.metadata or {}).get("key")
        raise MigrationError(
            f"{path or planned.source}: {planned.where} (id {planned.fill.fill_id!r}): {planned.fill.symbol} is in "
            f"the ledger from an earlier migration of {WALLET_FILE} (seq {seq}, key {key}), "
            "which this plan does not explain: its trades would be appended onto that position; restore that "
            "migration (tradeledger restore MANIFEST) and migrate the files together; nothing appended"
        )


def with_ledger_seqs(
    fills: list[PlannedFill], recorded: Sequence[tuple[int, Fill]], files: LegacyFiles
) -> list[PlannedFill]:
    """Mark the fills the ledger already holds (same fill id and execution); refuse an id held for another."""
    by_id: dict[str, list[tuple[int, Fill]]] = defaultdict(list)
    for seq, fill in recorded:
        by_id[fill.fill_id].append((seq, fill))
    marked = []
    for planned in fills:
        held = by_id.get(planned.fill.fill_id, [])
        same = next((seq for seq, fill in held if same_fill(fill, planned.fill)), None)
        if same is not None:
            marked.append(replace(planned, seq=same))
        elif held:
            path = {STATE_FILE: files.paths.state_file, TRADES_CSV: files.paths.trades_csv}.get(planned.source)
            differences = fill_differences(held[0][1], planned.fill, "ledger", "file")
            raise MigrationError(
                f"{path or planned.source}: {planned.where}: the ledger already holds fill {planned.fill.fill_id!r} "
                f"(seq {held[0][0]}) for another execution ({differences}); nothing appended"
            )
        else:
            marked.append(planned)
    return marked
