"""Migration from the legacy files (spec section 7): read them, plan the fills, reconcile, back up, append.

The legacy bot kept its books in `trade_manager_state.json` (every trade), `paper_wallet_state.yaml`
(the wallet's cash and positions, in four shapes) and `trades.csv` (a header-less fill log), and
logged `positions.log`. `read_legacy_files` reads them (the bytes once: what is parsed is what is
backed up), `plan_migration` turns them into the fills they imply and reconciles the legacy numbers
with a replay of those fills, naming the cause of each disagreement, and `run_migration` writes the
backups, appends the new fills in one transaction and verifies. Pure of Typer and Rich: the CLI
(`tradeledger migrate`) prints what this returns.

Which fills the files imply (the TradeManager's trades are primary):

- every trade of `trade_manager_state.json` whose status is "filled" and amount above 0, with the
  legacy trade id as its `fill_id`; a trade id recorded twice with the same content is one fill
  (the legacy TradeManager counted it twice);
- every row of `trades.csv` that no TradeManager trade explains (same symbol, side, amount and price
  after the legacy 8-place round-down, times at most a second apart; the nearest trade) and whose
  `is_stop` is false, as fill `csv:<sha256 prefix>`; rows alike in every field are each kept (two fills
  of one size in the same instant, or one row written twice: the files cannot tell) and named in the
  plan's notes, `identical_rows` and the reconciliation's causes (`identical`);
- every position of `paper_wallet_state.yaml` whose symbol the other two leave flat and that opened
  after their last fill of that symbol, as an opening fill `wallet:<sha256 prefix>`;
- never anything from `positions.log`: the positions only it shows are reported.

Fill ids and contents are derived only from the files, so a second run finds every fill in the
ledger and appends nothing. Naive legacy times are UTC (spec section 3).

The package, by job: `legacy` (the shapes: files as read, planned fills, comparisons, the error,
the file names), `reading` (the files parsed), `plan` (the fills they imply), `legacy_rules` (the
legacy TradeManager's rules, re-run), `identical` (trades.csv rows alike in every field, named),
`reconcile` (legacy numbers beside a replay, each difference with its cause), `backups` (backups, the one
append, verify). The names here are imported when first read (PEP 562): the command line reads `legacy`'s
defaults for its options without loading the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeledger.lazy import lazy_names

if TYPE_CHECKING:
    from tradeledger.compat.migration.backups import (
        Backup,
        MigrationResult,
        backup_stamp,
        checkpoint_json,
        rollback_commands,
        run_migration,
        wallet_initial_balance,
    )
    from tradeledger.compat.migration.legacy import (
        BACKUP_FOLDER,
        DEFAULT_ACCOUNT,
        LEGACY_EXCHANGE,
        POSITIONS_LOG,
        STATE_FILE,
        TRADES_CSV,
        WALLET_FILE,
        Clock,
        Comparison,
        LegacyFiles,
        LegacyPaths,
        MigrationError,
        MigrationPlan,
        PlannedFill,
        Progress,
        Skipped,
    )
    from tradeledger.compat.migration.plan import plan_migration
    from tradeledger.compat.migration.reading import read_legacy_files

# Where each name lives imported when first read.
_LAZY = {
    "BACKUP_FOLDER": "tradeledger.compat.migration.legacy",
    "Backup": "tradeledger.compat.migration.backups",
    "Clock": "tradeledger.compat.migration.legacy",
    "Comparison": "tradeledger.compat.migration.legacy",
    "DEFAULT_ACCOUNT": "tradeledger.compat.migration.legacy",
    "LEGACY_EXCHANGE": "tradeledger.compat.migration.legacy",
    "LegacyFiles": "tradeledger.compat.migration.legacy",
    "LegacyPaths": "tradeledger.compat.migration.legacy",
    "MigrationError": "tradeledger.compat.migration.legacy",
    "MigrationPlan": "tradeledger.compat.migration.legacy",
    "MigrationResult": "tradeledger.compat.migration.backups",
    "POSITIONS_LOG": "tradeledger.compat.migration.legacy",
    "PlannedFill": "tradeledger.compat.migration.legacy",
    "Progress": "tradeledger.compat.migration.legacy",
    "STATE_FILE": "tradeledger.compat.migration.legacy",
    "Skipped": "tradeledger.compat.migration.legacy",
    "TRADES_CSV": "tradeledger.compat.migration.legacy",
    "WALLET_FILE": "tradeledger.compat.migration.legacy",
    "backup_stamp": "tradeledger.compat.migration.backups",
    "checkpoint_json": "tradeledger.compat.migration.backups",
    "plan_migration": "tradeledger.compat.migration.plan",
    "read_legacy_files": "tradeledger.compat.migration.reading",
    "rollback_commands": "tradeledger.compat.migration.backups",
    "run_migration": "tradeledger.compat.migration.backups",
    "wallet_initial_balance": "tradeledger.compat.migration.backups",
}


__all__ = [
    "BACKUP_FOLDER",
    "DEFAULT_ACCOUNT",
    "LEGACY_EXCHANGE",
    "POSITIONS_LOG",
    "STATE_FILE",
    "TRADES_CSV",
    "WALLET_FILE",
    "Backup",
    "Clock",
    "Comparison",
    "LegacyFiles",
    "LegacyPaths",
    "MigrationError",
    "MigrationPlan",
    "MigrationResult",
    "PlannedFill",
    "Progress",
    "Skipped",
    "backup_stamp",
    "checkpoint_json",
    "plan_migration",
    "read_legacy_files",
    "rollback_commands",
    "run_migration",
    "wallet_initial_balance",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
