"""The plan: which fills the legacy files imply, and how they line up with what the ledger holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradeledger.application.appending import validate_fill
from tradeledger.application.ledger import Ledger
from tradeledger.compat.migration import identical
from tradeledger.compat.migration.ledger_overlap import (
    SAME_FILL_WITHIN,
    LedgerSymbols,
    refuse_trades_onto_wallet_openings,
    rows_the_ledger_holds,
    with_ledger_seqs,
)
from tradeledger.compat.migration.legacy import (
    DEFAULT_ACCOUNT,
    LEGACY_EXCHANGE,
    POSITIONS_LOG,
    STATE_FILE,
    TRADES_CSV,
    WALLET_FILE,
    WALLET_SIDES,
    CsvRow,
    LegacyFiles,
    LegacyTrade,
    MigrationError,
    MigrationPlan,
    PlannedFill,
    RowFill,
    Skipped,
    WalletEntry,
    content_id,
    fill_differences,
    legacy_round,
    same_fill,
    shown_time,
)
from tradeledger.compat.migration.reconcile import reconcile_plan
from tradeledger.domain.fills import Fill, Side, decimal_text, time_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import Execution, PositionBook

# --- the plan: which fills, and how the legacy numbers compare with their replay --------------------


def _matches_trade(row: CsvRow, trade: LegacyTrade) -> bool:
    """A trades.csv row and a TradeManager trade are one fill: symbol, side, amount and price (after the
    legacy 8-place round-down the TradeManager applied), and times at most SAME_FILL_WITHIN apart."""
    return (
        row.symbol == trade.symbol
        and row.side.value == trade.side
        and legacy_round(row.amount) == legacy_round(trade.amount)
        and legacy_round(row.price) == legacy_round(trade.price)
        and abs(row.timestamp - trade.timestamp) <= SAME_FILL_WITHIN
    )


def plan_migration(
    files: LegacyFiles,
    ledger: Ledger,
    *,
    account: str = DEFAULT_ACCOUNT,
    initial_balance: Decimal = Decimal(10000),
) -> MigrationPlan:
    """The fills the legacy files imply, which of them the ledger holds, and the reconciliation.

    Reads the ledger (the account's fills, with the head they were read at: `at`), changes nothing. A fill id
    the ledger holds for another execution raises MigrationError before anything is written.
    """
    skipped: list[Skipped] = []
    notes: list[str] = []
    csv_fills, counted_as = _csv_fills(files, skipped)
    twins = identical.identical_rows(files.csv_rows, counted_as)
    notes += [identical.note(group) for group in twins]
    merged = _merge_by_time(_trade_manager_fills(files, skipped), csv_fills)
    at, history = ledger.follow(0, account=account)  # the account's fills and the head, in one read
    recorded = [(item.seq, item.fill) for item in history if isinstance(item.fill, Fill)]
    wallet_fills, stale, held = _wallet_fills(files, merged, account, skipped, notes, recorded)
    fills = rows_the_ledger_holds(with_ledger_seqs([*merged, *wallet_fills], recorded, files), recorded, skipped)
    refuse_trades_onto_wallet_openings(fills, recorded, files)
    book = (
        PositionFold().apply_all(Execution.of(seq, planned.fill) for seq, planned in enumerate(fills, start=1)).book()
    )
    only_logged = tuple(logged for logged in files.logged if (account, logged.symbol) not in book.open)
    notes += _log_disagreements(files, fills, book, account)
    reconciliation = identical.with_causes(
        reconcile_plan(files, fills, account, initial_balance, skipped, stale, held), twins
    )
    fee_note = _other_currency_fees_note(fills)
    if fee_note is not None:
        notes.append(fee_note)
    return MigrationPlan(
        account=account,
        initial_balance=initial_balance,
        fills=tuple(fills),
        skipped=tuple(skipped),
        only_in_positions_log=only_logged,
        reconciliation=tuple(reconciliation),
        notes=tuple(notes),
        at=at,
        identical_rows=twins,
    )


# positions.log writes amounts to 4 places and prices to 6 (`%.4f`, `%.6f`): half a unit of the last place apart
# is the same number.
_LOG_AMOUNT_PLACES, _LOG_PRICE_PLACES = Decimal("0.00005"), Decimal("0.0000005")


def _log_disagreements(files: LegacyFiles, fills: Sequence[PlannedFill], book: PositionBook, account: str) -> list[str]:
    """A note for each positions.log position the plan holds open with another side, amount or entry price than
    the log's last line of it shows (to the log's places): the files disagree, and positions.log is no source."""
    notes = []
    for logged in files.logged:
        position = book.open.get((account, logged.symbol))
        if position is None:
            continue
        differ = []
        if WALLET_SIDES.get(logged.side.lower()) is not (Side.BUY if position.side.value == "long" else Side.SELL):
            differ.append("side")
        if abs(position.quantity - logged.amount) > _LOG_AMOUNT_PLACES:
            differ.append("amount")
        if abs(position.avg_price - logged.entry_price) > _LOG_PRICE_PLACES:
            differ.append("entry price")
        if not differ:
            continue
        sources = sorted({planned.source for planned in fills if planned.fill.symbol == logged.symbol})
        notes.append(
            f"{POSITIONS_LOG} line {logged.line} ({logged.logged_at}) logs {logged.symbol} {logged.side} "
            f"{decimal_text(logged.amount)} entry {decimal_text(logged.entry_price)}, where the plan holds "
            f"{logged.symbol} {position.side.value} {decimal_text(position.quantity)} at "
            f"{decimal_text(position.avg_price)} (from {' and '.join(sources)}): the files disagree on its "
            f"{' and '.join(differ)}; {POSITIONS_LOG} is only reported, never appended"
        )
    return notes


def _other_currency_fees_note(fills: Sequence[PlannedFill]) -> str | None:
    """Why the legacy figures of symbols with fees outside the quote currency differ (spec section 9)."""
    other = sorted(
        {
            (planned.fill.symbol, fee.currency or "")
            for planned in fills
            for fee in planned.fill.fees
            if fee.currency != planned.fill.market.quote
        }
    )
    if not other:
        return None
    named = ", ".join(f"{symbol} ({currency})" for symbol, currency in other)
    return (
        f"fees outside the quote currency on {named}: a base-currency fee lowers the position and is "
        "valued at the fill price, a fee in another currency is valued by its quote value or kept unvalued "
        "(spec section 9); the legacy files count each fee's amount as quote and never lower the quantity, "
        "so quantity and fees of these symbols differ from the legacy figures"
    )


def _trade_manager_fills(files: LegacyFiles, skipped: list[Skipped]) -> list[PlannedFill]:
    """trade_manager_state.json, the primary record: each trade id once."""
    fills: list[PlannedFill] = []
    seen: dict[str, LegacyTrade] = {}
    for trade in files.trades:
        if trade.fill is None:
            skipped.append(Skipped(STATE_FILE, trade.where, trade.symbol, trade.skip_reason or ""))
            continue
        first = seen.get(trade.id)
        if first is None:
            seen[trade.id] = trade
            fills.append(PlannedFill(trade.fill, STATE_FILE, trade.where))
            continue
        assert first.fill is not None
        if not same_fill(first.fill, trade.fill):
            raise MigrationError(
                f"{files.paths.state_file}: {trade.where}: trade id {trade.id!r} is also {first.where} with other "
                f"content ({fill_differences(first.fill, trade.fill, first.where, trade.where)})"
            )
        reason = f"the same trade as {first.where} (recorded twice; the legacy TradeManager counted it twice)"
        skipped.append(Skipped(STATE_FILE, trade.where, trade.symbol, reason))
    return fills


def _second(moment: datetime) -> datetime:
    """A time to the second, in UTC: the bucket a TradeManager trade is looked up in."""
    return moment.astimezone(UTC).replace(microsecond=0)


def _csv_fills(files: LegacyFiles, skipped: list[Skipped]) -> tuple[list[PlannedFill], dict[int, RowFill]]:
    """trades.csv: the rows no TradeManager trade explains (each trade explains one row at most); and the fill each
    row that becomes one is counted as, by line (its trade's, or its own)."""
    candidates: dict[tuple[str, str, datetime], list[LegacyTrade]] = defaultdict(list)
    seen: set[str] = set()
    for trade in files.trades:
        if trade.fill is not None and trade.id not in seen:
            seen.add(trade.id)
            candidates[(trade.symbol, trade.side, _second(trade.timestamp))].append(trade)
    fills: list[PlannedFill] = []
    counted_as: dict[int, RowFill] = {}
    for row in files.csv_rows:
        where = f"line {row.line}"
        if row.fill is None:
            skipped.append(Skipped(TRADES_CSV, where, row.symbol, row.skip_reason or ""))
            continue
        match = _nearest_trade(row, candidates)
        if match is None:
            fills.append(PlannedFill(row.fill, TRADES_CSV, where))
            counted_as[row.line] = RowFill(row.line, row.fill.fill_id, TRADES_CSV, where)
            continue
        skipped.append(
            Skipped(TRADES_CSV, where, row.symbol, f"already in {STATE_FILE} ({match.where}, id {match.id})")
        )
        assert match.fill is not None  # a candidate is a trade that is a fill
        counted_as[row.line] = RowFill(row.line, match.fill.fill_id, STATE_FILE, match.where)
    return fills, counted_as


def _nearest_trade(row: CsvRow, candidates: dict[tuple[str, str, datetime], list[LegacyTrade]]) -> LegacyTrade | None:
    """The TradeManager trade not yet taken that is the row's fill (the nearest in time; the first of a tie),
    taken out of `candidates`; None when no trade is."""
    second = _second(row.timestamp)
    found: list[tuple[timedelta, int, list[LegacyTrade], LegacyTrade]] = []
    for bucket_second in (second - SAME_FILL_WITHIN, second, second + SAME_FILL_WITHIN):
        bucket = candidates.get((row.symbol, row.side.value, bucket_second), [])
        found += [
            (abs(row.timestamp - trade.timestamp), trade.index, bucket, trade)
            for trade in bucket
            if _matches_trade(row, trade)
        ]
    if not found:
        return None
    _, _, bucket, trade = min(found, key=lambda item: (item[0], item[1]))
    bucket.remove(trade)
    return trade


def _wallet_fills(
    files: LegacyFiles,
    merged: Sequence[PlannedFill],
    account: str,
    skipped: list[Skipped],
    notes: list[str],
    recorded: Sequence[tuple[int, Fill]],
) -> tuple[list[PlannedFill], dict[str, str], dict[str, str]]:
    """paper_wallet_state.yaml: an opening fill for each position whose symbol the other sources leave
    flat and which opened after their last fill of it; the stale ones (closed since) by symbol; and, by
    symbol, the ones the ledger already holds (`_ledger_holds`)."""
    fills: list[PlannedFill] = []
    stale: dict[str, str] = {}
    held: dict[str, str] = {}
    if files.wallet is None:
        return fills, stale, held
    ledger = LedgerSymbols(account, recorded)
    book = PositionFold()
    last_fill: dict[str, PlannedFill] = {}
    for seq, planned in enumerate(merged, start=1):
        book.apply(Execution.of(seq, planned.fill))
        last_fill[planned.fill.symbol] = planned
    for entry in sorted(files.wallet.entries, key=lambda e: e.opened_at):
        where = f"key {entry.key}"
        last = None if entry.symbol is None else last_fill.get(entry.symbol)
        if entry.symbol is None:
            reason = "symbol: None (opened without a symbol; nothing says what it holds)"
        elif entry.quantity == 0:
            reason = f"{entry.quantity_key} 0: holds nothing"
        elif book.position((account, entry.symbol)) is not None:
            sources = sorted({p.source for p in merged if p.fill.symbol == entry.symbol})
            reason = f"{entry.symbol} is open in {' and '.join(sources)} (the primary record)"
        elif last is not None and entry.opened_at <= last.fill.occurred_at:
            reason = (
                f"stale: {last.source} closed {entry.symbol} at {shown_time(last.fill.occurred_at)} ({last.where}), "
                f"after this wallet position opened at {shown_time(entry.opened_at)}"
            )
            stale[entry.symbol] = reason
        else:
            fill = _wallet_fill(entry, account, files.paths.wallet_file)
            found = ledger.holds(entry, fill, files.paths.wallet_file)
            if found is None:
                fills.append(PlannedFill(fill, WALLET_FILE, where))
                continue
            reason, is_stale = found
            (stale if is_stale else held)[entry.symbol] = reason
        skipped.append(Skipped(WALLET_FILE, where, entry.symbol, reason))
    shapes = _shape_counts(files.wallet.entries)
    if len(shapes) > 1:
        notes.append(_shapes_note(shapes))
    return fills, stale, held


def _merge_by_time(primary: list[PlannedFill], extra: list[PlannedFill]) -> list[PlannedFill]:
    """The primary fills in their order, each extra one placed before the first primary fill that is later."""
    pending = sorted(extra, key=lambda planned: planned.fill.occurred_at)
    merged: list[PlannedFill] = []
    at = 0
    for planned in primary:
        while at < len(pending) and pending[at].fill.occurred_at < planned.fill.occurred_at:
            merged.append(pending[at])
            at += 1
        merged.append(planned)
    merged.extend(pending[at:])
    return merged


def _wallet_fill(entry: WalletEntry, account: str, path: Path | None) -> Fill:
    """The opening fill of a wallet position; a value no fill takes is refused naming the file's path."""
    assert entry.symbol is not None
    fill_id = content_id(
        "wallet",
        WALLET_FILE,
        entry.key,
        entry.symbol,
        entry.side.value,
        decimal_text(entry.quantity),
        decimal_text(entry.entry_price),
        time_text(entry.opened_at),
    )
    return validate_fill(
        {
            "fill_id": fill_id,
            "account": account,
            "exchange": LEGACY_EXCHANGE,
            "symbol": entry.symbol,
            "side": entry.side.value,
            "quantity": entry.quantity,
            "price": entry.entry_price,
            "fee": entry.fee,
            "occurred_at": entry.opened_at,
            "metadata": {"migrated_from": WALLET_FILE, "key": entry.key},
        },
        where=f"{path or WALLET_FILE}: positions[{entry.key!r}]",
    )


def _shape_counts(entries: Iterable[WalletEntry]) -> dict[str, list[str]]:
    shapes: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        shapes[entry.shape if entry.symbol is not None else "no symbol (symbol: None)"].append(entry.key)
    return dict(shapes)


def _shapes_note(shapes: Mapping[str, list[str]]) -> str:
    described = "; ".join(f"{shape}: {len(keys)} ({', '.join(keys)})" for shape, keys in shapes.items())
    return f"{WALLET_FILE} mixes {len(shapes)} position shapes (legacy-system.md §2.2): {described}"
