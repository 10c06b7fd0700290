"""Reconciliation: the legacy numbers beside a replay of the planned fills, each difference with its cause."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

from tradeledger.compat.migration.legacy import (
    FLOAT_TOLERANCE,
    STATE_FILE,
    SUM_TOLERANCE,
    WALLET_FILE,
    Comparison,
    LegacyFiles,
    LegacyWallet,
    PlannedFill,
    Scope,
    Skipped,
    WalletEntry,
    shown_time,
)
from tradeledger.compat.migration.legacy_rules import CycleStory, LegacyFold, LegacyPosition, fold_trade_manager
from tradeledger.domain.display import display_text
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text
from tradeledger.domain.positions import (
    ZERO,
    ClosedPosition,
    Execution,
    Position,
    PositionBook,
)
from tradeledger.domain.wallet import WalletBook, replay_wallet


@dataclass(frozen=True, slots=True)
class _Cycle:
    """The figures of a symbol's open cycle, or of its last cycle when flat (what a legacy position shows)."""

    signed_quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    fees: Decimal


def _cycle(book: PositionBook, account: str, symbol: str) -> _Cycle | None:
    position: Position | None = book.open.get((account, symbol))
    if position is not None:
        return _Cycle(position.signed_quantity, position.avg_price, position.realized_pnl, position.fees)
    closed: list[ClosedPosition] = [c for c in book.closed if c.symbol == symbol and c.account == account]
    if not closed:
        return None
    last = closed[-1]
    return _Cycle(ZERO, last.avg_price, last.realized_pnl, last.fees)


def _close(a: Decimal, b: Decimal) -> bool:
    with localcontext(LEDGER_CONTEXT):
        return abs(a - b) <= max(abs(a), abs(b), Decimal(1)) * FLOAT_TOLERANCE


def _amount(value: Decimal) -> str:
    """An amount in a cause: at most 8 places, a smaller nonzero one to its first significant digits
    (`domain.display`; the compared values themselves are exact)."""
    return display_text(value)


def _nearly(a: Decimal, b: Decimal) -> bool:
    """Equal but for 28-digit rounding (sums taken in another order)."""
    with localcontext(LEDGER_CONTEXT):
        return abs(a - b) <= max(abs(a), abs(b), Decimal(1)) * SUM_TOLERANCE


def _compare(
    scope: Scope,
    symbol: str | None,
    name: str,
    legacy: Decimal | None,
    replay: Decimal | None,
    *,
    legacy_rules: Decimal | None = None,
    flaws: Sequence[str] = (),
    elsewhere: Sequence[str] = (),
    unexplained: str = "",
) -> Comparison:
    """Compare one legacy number with the replay; when they differ, say why.

    `legacy_rules` is what the legacy code computes from the same records and `flaws` the named
    reasons it differs from the replay of those records; `elsewhere` names fills of other sources
    in the replay.
    """
    if legacy is not None and replay is not None and legacy == replay:
        return Comparison(scope, symbol, name, legacy, replay, "match")
    if legacy is not None and replay is not None and _close(legacy, replay):
        cause = f"float round trip: the file stores {legacy} for {decimal_text(replay)} (legacy-system.md §1.4, §8.2)"
        return Comparison(scope, symbol, name, legacy, replay, "float", (cause,))
    causes: list[str] = []
    if legacy is not None and legacy_rules is not None and _close(legacy, legacy_rules):
        causes.extend(flaws)
    elif legacy is not None and legacy_rules is not None:
        causes.append(
            unexplained
            or f"not explained by the legacy rules over the file's own records (they give "
            f"{_amount(legacy_rules)}): the file was edited, reset or saved part way (legacy-system.md §1.4)"
        )
    causes.extend(elsewhere)
    return Comparison(scope, symbol, name, legacy, replay, "differs", tuple(causes))


def _replay_all(fills: Sequence[PlannedFill], initial_balance: Decimal) -> tuple[PositionBook, WalletBook]:
    positions, wallet = replay_wallet(
        (Execution.of(seq, planned.fill) for seq, planned in enumerate(fills, start=1)), initial_balance
    )
    return positions.book(), wallet


def reconcile_plan(
    files: LegacyFiles,
    fills: Sequence[PlannedFill],
    account: str,
    initial_balance: Decimal,
    skipped: Sequence[Skipped],
    stale: Mapping[str, str],
    held: Mapping[str, str],
) -> list[Comparison]:
    """`held`: by symbol, why a wallet position the ledger already holds is not appended (left out of the replay)."""
    book, wallet = _replay_all(fills, initial_balance)
    by_symbol: dict[str, list[PlannedFill]] = defaultdict(list)
    for planned in fills:
        by_symbol[planned.fill.symbol].append(planned)
    rows: list[Comparison] = []
    if files.paths.state_file is not None:
        rows += _reconcile_trade_manager(files, by_symbol, book, account)
    if files.wallet is not None:
        rows += _reconcile_wallet(files.wallet, by_symbol, book, wallet, account, skipped, stale, held)
    return rows


def _elsewhere(planned: Sequence[PlannedFill], source: str) -> list[str]:
    """A cause naming the fills of a symbol that come from other sources than `source`."""
    others: dict[str, list[str]] = defaultdict(list)
    for item in planned:
        if item.source != source:
            others[item.source].append(item.where)
    return [
        f"the replay also has {len(wheres)} fill(s) from {other} that {source} lacks ({', '.join(wheres)})"
        for other, wheres in others.items()
    ]


def _reconcile_trade_manager(
    files: LegacyFiles, by_symbol: Mapping[str, list[PlannedFill]], book: PositionBook, account: str
) -> list[Comparison]:
    fold, ours = fold_trade_manager(files.trades, account)
    rows: list[Comparison] = []
    symbols = sorted(set(files.positions) | {t.symbol for t in files.trades})
    for symbol in symbols:
        record = files.positions.get(symbol)
        replay = _cycle(book, account, symbol)
        tm_only = _cycle(ours, account, symbol)
        legacy = fold.positions.get(symbol)
        story = fold.stories.get(symbol)
        elsewhere = _elsewhere(by_symbol.get(symbol, []), STATE_FILE)
        not_fills = fold.not_fills.get(symbol, [])
        counted = [f"the legacy TradeManager also counted {', '.join(not_fills)}"] if not_fills else []
        if record is None:
            if replay is not None and replay.signed_quantity != 0:
                cause = f"{STATE_FILE} has trades of {symbol} but no position entry for it"
                rows.append(
                    Comparison("trade_manager", symbol, "quantity", None, replay.signed_quantity, "differs", (cause,))
                )
            continue
        replay_quantity = ZERO if replay is None else replay.signed_quantity
        # No legacy position from the file's own trades: its rules give none (a record no trade explains).
        legacy_signed = ZERO if legacy is None else (legacy.amount if legacy.side == "long" else -legacy.amount)
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "quantity",
                record.signed_amount,
                replay_quantity,
                legacy_rules=legacy_signed,
                flaws=counted,
                elsewhere=elsewhere,
            )
        )
        if replay is None:
            continue
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "average",
                record.average_price,
                replay.avg_price,
                legacy_rules=None if legacy is None else legacy.avg,
                flaws=counted,
                elsewhere=elsewhere,
            )
        )
        realized_flaws, fee_flaws = _story_flaws(story, tm_only, legacy)
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "realized",
                record.realized_pnl,
                replay.realized_pnl,
                legacy_rules=None if legacy is None else legacy.realized,
                flaws=[*realized_flaws, *counted],
                elsewhere=elsewhere,
            )
        )
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "fees",
                record.fees_paid,
                replay.fees,
                legacy_rules=None if legacy is None else legacy.fees,
                flaws=[*fee_flaws, *counted],
                elsewhere=elsewhere,
            )
        )
    if files.statistics is not None:
        rows += _reconcile_statistics(files, fold, ours)
    return rows


def _story_flaws(
    story: CycleStory | None, cycle: _Cycle | None, legacy: LegacyPosition | None
) -> tuple[list[str], list[str]]:
    """The named legacy flaws that take the legacy realized PnL and fees away from our cycle's figures.

    Each list is given only when its parts add up exactly to the legacy figure (else the generic
    'not explained' cause stands)."""
    if story is None or cycle is None or legacy is None:
        return [], []
    realized: list[str] = []
    if story.carried_realized != 0:
        how = {
            "flip": "a flip",
            "reopen": "a re-open after a full close",
            "flip_from_closed": "a re-open on the other side",
        }
        realized.append(
            f"realized PnL carried over from {story.earlier_cycles} earlier cycle(s) of the symbol by "
            f"{how.get(story.start, 'the legacy position')} at {shown_time(story.started_at)}: "
            f"{_amount(story.earlier_realized)} (legacy-system.md §1.3; tradeledger keeps it in the closed cycles)"
        )
        rounded = story.carried_realized - story.earlier_realized
        if not _nearly(story.carried_realized, story.earlier_realized):
            realized.append(
                f"the carried realized PnL was rounded down to 8 places when the flip built the new position: "
                f"{_amount(rounded)} (legacy-system.md §1.2)"
            )
    with localcontext(LEDGER_CONTEXT):
        if not _nearly(cycle.realized_pnl + story.carried_realized, legacy.realized):
            realized = []
        fees: list[str] = []
        if story.dropped_count:
            fees.append(
                f"the fees of {story.dropped_count} reducing fill(s), {_amount(story.dropped_fees)}, "
                "were never added to fees_paid (legacy-system.md §1.3)"
            )
        if story.start == "flip" and story.flip_fee != 0:
            fees.append(
                f"the flip at {shown_time(story.started_at)} put its whole fee {_amount(story.flip_fee)} "
                "on the new position; tradeledger books the closing share "
                f"{_amount(story.fee_start_difference)} in the closed cycle (legacy-system.md §1.3)"
            )
        elif story.start == "reopen" and story.fee_start_difference != 0:
            fees.append(
                f"re-opened on the same side after a full close at {shown_time(story.started_at)}: the legacy position "
                f"kept {_amount(story.fee_start_difference)} of fees from before (legacy-system.md §1.3)"
            )
        if story.start in ("flip", "flip_from_closed") and story.earlier_fees != 0:
            fees.append(
                f"the {_amount(story.earlier_fees)} of fees paid before the flip are on no legacy position "
                "(old fees lost on a flip, legacy-system.md §1.3)"
            )
        if not _nearly(cycle.fees + story.fee_start_difference - story.dropped_fees, legacy.fees):
            fees = []
    return realized, fees


def _reconcile_statistics(files: LegacyFiles, fold: LegacyFold, ours: PositionBook) -> list[Comparison]:
    assert files.statistics is not None
    tm_fills = [t.fill for t in files.trades if t.fill is not None]
    unique = list({fill.fill_id: fill for fill in tm_fills}.values())
    with localcontext(LEDGER_CONTEXT):
        replay = {
            "total_trades": Decimal(len(unique)),
            "total_volume": sum((f.quantity * f.price for f in unique), ZERO),
            "total_fees": sum((f.fee for f in unique), ZERO),
            "total_realized_pnl": sum((t.realized_pnl for t in ours.totals.values()), ZERO),
        }
    rules = {
        "total_trades": Decimal(fold.total_trades),
        "total_volume": fold.total_volume,
        "total_fees": fold.total_fees,
        "total_realized_pnl": fold.total_realized,
    }
    not_fills = [item for items in fold.not_fills.values() for item in items]
    counted = [f"the legacy TradeManager also counted {', '.join(not_fills)}"] if not_fills else []
    stored = "statistics are stored, not derived from the trades (legacy-system.md §1.4, §8.2)"
    return [
        _compare(
            "statistics",
            None,
            name,
            files.statistics[name],
            replay[name],
            legacy_rules=rules[name],
            flaws=counted,
            unexplained=stored,
        )
        for name in replay
        if name in files.statistics
    ]


def _reconcile_wallet(
    legacy: LegacyWallet,
    by_symbol: Mapping[str, list[PlannedFill]],
    book: PositionBook,
    wallet: WalletBook,
    account: str,
    skipped: Sequence[Skipped],
    stale: Mapping[str, str],
    in_ledger: Mapping[str, str],
) -> list[Comparison]:
    rows: list[Comparison] = []
    entries: dict[str, list[WalletEntry]] = defaultdict(list)
    for entry in legacy.entries:
        if entry.symbol is not None:
            entries[entry.symbol].append(entry)
    replay_open = {symbol for (owner, symbol) in book.open if owner == account}
    for symbol in sorted(set(entries) | replay_open):
        held = entries.get(symbol, [])
        position = book.open.get((account, symbol))
        with localcontext(LEDGER_CONTEXT):
            quantity = sum((e.signed_quantity for e in held), ZERO)
            cost = sum((e.cost for e in held), ZERO)
            average = cost / sum((e.quantity for e in held), ZERO) if held and quantity != 0 else None
        if symbol in stale:
            causes = [f"the wallet was not updated when the position closed: {stale[symbol]} (legacy-system.md §3.3)"]
        elif symbol in in_ledger:
            causes = [f"not appended: {in_ledger[symbol]}"]
        elif not held:
            sources = sorted({p.source for p in by_symbol.get(symbol, [])})
            unbooked = (
                f"the wallet does not hold it; the replay opens it from {' and '.join(sources)} (the legacy bot "
                "recorded trades the wallet never booked: CEX fills, refused or reset wallet opens; "
                "legacy-system.md §3.3, §6.4)"
            )
            causes = [unbooked]
        else:
            causes = _held_causes(symbol, held, position, quantity, skipped)
        replay_quantity = ZERO if position is None else position.signed_quantity
        rows.append(_wallet_row(symbol, "quantity", quantity, replay_quantity, causes))
        if average is not None and position is not None:
            rows.append(_wallet_row(symbol, "average", average, position.avg_price, causes))
    rows.append(_wallet_cash(legacy, book, wallet, account))
    return rows


def _held_causes(
    symbol: str, held: Sequence[WalletEntry], position: Position | None, quantity: Decimal, skipped: Sequence[Skipped]
) -> list[str]:
    """Why a position the wallet holds differs from the replay's."""
    causes: list[str] = []
    shapes = {e.shape for e in held}
    if len(held) > 1:
        keys = ", ".join(f"{e.key} ({e.shape})" for e in held)
        causes.append(f"held under {len(held)} wallet keys: {keys} (legacy-system.md §2.2)")
    primary = [s for s in skipped if s.source == WALLET_FILE and s.symbol == symbol and "is open in" in s.reason]
    flipped = position is not None and (position.signed_quantity > 0) != (quantity > 0)
    if len(shapes) == 1 and flipped and not primary:
        # Only where no other source explains it: a wallet entry and a primary record of opposite sides are
        # two stores updated apart (legacy-system.md §3.3), each side word read as written.
        causes.append("the wallet's side disagrees with the fills (long/short vs buy/sell, legacy-system.md §2.2)")
    if primary:
        causes.append(
            "the wallet and the primary record disagree; the legacy bot updated them separately (legacy-system.md §3.3)"
        )
    return causes


def _wallet_row(symbol: str, name: str, legacy: Decimal, replay: Decimal, causes: Sequence[str]) -> Comparison:
    row = _compare("wallet", symbol, name, legacy, replay)
    if row.status == "differs":
        return replace(row, causes=tuple(causes) or ("the wallet and the fills disagree (legacy-system.md §3.3)",))
    return row


def _wallet_cash(legacy: LegacyWallet, book: PositionBook, wallet: WalletBook, account: str) -> Comparison:
    """Wallet cash: the legacy balance against the replay's, the difference split into named parts.

    replay - legacy = (B0 - W0) + (realized_r - realized_w) - fees_r - (cost_r - cost_w) - off_books, where
    off_books is how far the legacy balance is from the wallet's own books (W0 + realized_w - cost_w)."""
    with localcontext(LEDGER_CONTEXT):
        wallet_cost = sum((entry.cost for entry in legacy.entries), ZERO)
        replay_cost = sum((p.quantity * p.avg_price for (owner, _), p in book.open.items() if owner == account), ZERO)
        own_books = legacy.initial_balance + legacy.realized_pnl - wallet_cost
        off_books = ZERO if _close(legacy.balance, own_books) else legacy.balance - own_books
        parts = [
            (
                wallet.initial_balance - legacy.initial_balance,
                (
                    f"initial balance: {_amount(wallet.initial_balance)} configured, "
                    f"{_amount(legacy.initial_balance)} in the wallet file "
                    "(fix scripts overwrote it, legacy-system.md §6.1)"
                ),
            ),
            (
                wallet.realized_pnl - legacy.realized_pnl,
                (
                    f"realized PnL: the replay books {_amount(wallet.realized_pnl)}, "
                    f"the wallet {_amount(legacy.realized_pnl)}"
                ),
            ),
            (
                -wallet.fees,
                (
                    f"fees: the replay deducts {_amount(wallet.fees)}; "
                    "the legacy wallet has no fee model (legacy-system.md §2.3)"
                ),
            ),
            (
                wallet_cost - replay_cost,
                (
                    f"positions at cost: the replay holds {_amount(replay_cost)}, "
                    f"the wallet {_amount(wallet_cost)} (see the wallet rows)"
                ),
            ),
            (
                -off_books,
                (
                    f"the legacy balance is {_amount(off_books)} off the wallet's own books (initial + realized "
                    f"- positions at cost = {_amount(own_books)}): long closes credited only the PnL, or syncs "
                    "that replaced positions without moving cash (legacy-system.md §2.3)"
                ),
            ),
        ]
    causes = [f"{text}: {_amount(amount)}" for amount, text in parts if amount != 0]
    if legacy.balance < 0:
        causes.append(
            f"the legacy balance is negative ({_amount(legacy.balance)}); the legacy wallet clamps it to 0 "
            "when it loads (legacy-system.md §2.1, §2.4)"
        )
    row = _compare("wallet", None, "cash", legacy.balance, wallet.cash)
    return row if row.status == "match" else replace(row, causes=(*row.causes, *causes))
