"""`tradeledger migrate` and `tradeledger enable-sot`: the seed's migration steps 1 to 3 (spec section 7).

The work is in `tradeledger.compat.migration` and `tradeledger.compat.enable_sot`; this module reads
the options, shows progress, prints tables (or `--json`) and sets the exit status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from tradeledger.cli.common import EXIT_VERIFY_FAILED, JsonOption, emit, err, ledger_url, new_progress, opened, out
from tradeledger.cli.tables import Column, print_table
from tradeledger.compat.files import DEFAULT_STATE_DIR
from tradeledger.compat.migration.legacy import BACKUP_FOLDER, DEFAULT_ACCOUNT, TRADES_CSV, LegacyPaths, MigrationError
from tradeledger.domain.display import display_text
from tradeledger.domain.fills import decimal_text, time_text
from tradeledger.storage.urls import has_password

if TYPE_CHECKING:
    from tradeledger.compat.migration import Comparison, LegacyFiles, MigrationPlan, MigrationResult

DEFAULT_CONFIG = Path("crypto_bot/config.yaml")


def now() -> datetime:
    """The wall clock of backup names and the migration date (tests freeze it)."""
    return datetime.now(UTC)


def _shown(value: Decimal | None) -> str:
    """A number for a table: rounded to 8 places where it has more, a smaller nonzero one to its first significant
    digits (`domain.display`; the JSON output has the exact value)."""
    return "—" if value is None else display_text(value)


def _db_option(db: str | None) -> str:
    """` --db URL` for the printed commands when --db was given and holds no password."""
    if db is None or has_password(db):
        return ""
    return f" --db {db}"


def _config_path(config: Path | None) -> Path | None:
    if config is not None:
        return config
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def migrate(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be appended and the reconciliation; append nothing.")
    ] = False,
    backup: Annotated[
        bool | None,
        typer.Option(
            "--backup/--no-backup",
            help="Back up the legacy files first (always on a real run; with --dry-run only when given).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="The bot's config (wallet starting balance). Default: crypto_bot/config.yaml if present."
        ),
    ] = None,
    logs_dir: Annotated[
        Path | None,
        typer.Option(
            "--logs-dir", help="Folder of the legacy files. Default: logs/ beside --config, else crypto_bot/logs."
        ),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option("--state-file", help="trade_manager_state.json (default: in --logs-dir).")
    ] = None,
    wallet_file: Annotated[
        Path | None, typer.Option("--wallet-file", help="paper_wallet_state.yaml (default: in --logs-dir).")
    ] = None,
    trades_csv: Annotated[
        Path | None, typer.Option("--trades-csv", help="trades.csv (default: in --logs-dir).")
    ] = None,
    positions_log: Annotated[
        Path | None, typer.Option("--positions-log", help="positions.log, only reported (default: in --logs-dir).")
    ] = None,
    account: Annotated[str, typer.Option("--account", help="The account the fills go to.")] = DEFAULT_ACCOUNT,
    json_output: JsonOption = False,
) -> None:
    """Migrate the legacy state files into the ledger: plan, reconcile, back up, append once, verify."""
    if not dry_run and backup is False:
        raise MigrationError(
            "--no-backup: a migration that appends always backs up the legacy files first "
            "(the legacy script's missing backups are what made its rollback impossible); use it with --dry-run only"
        )
    # The migration's reading, planning and writing (the legacy bot's rules and YAML among them) when it runs,
    # not when the commands are registered (--help, the other commands).
    from tradeledger.compat.config import load_bot_config  # noqa: PLC0415
    from tradeledger.compat.migration import (  # noqa: PLC0415
        plan_migration,
        read_legacy_files,
        rollback_commands,
        run_migration,
        wallet_initial_balance,
    )

    write_backup = not dry_run or bool(backup)
    config_path = _config_path(config)
    settings = load_bot_config(config_path) if config_path is not None else None
    initial, initial_from = wallet_initial_balance(
        None if settings is None else settings.paper_wallet.initial_balance, config_path or DEFAULT_CONFIG
    )
    logs = logs_dir if logs_dir is not None else (config_path.parent / "logs" if config_path else DEFAULT_STATE_DIR)
    paths = LegacyPaths.resolve(
        logs, state_file=state_file, wallet_file=wallet_file, trades_csv=trades_csv, positions_log=positions_log
    )
    if not paths.items():
        raise MigrationError(
            f"{logs}: none of the legacy files is there (trade_manager_state.json, paper_wallet_state.yaml, "
            "trades.csv); give --logs-dir or the files"
        )
    url = ledger_url(ctx.obj)
    with opened(ctx, writes=not dry_run) as ledger:
        with new_progress() as progress:
            tasks: dict[str, Any] = {}

            def advance(what: str, done: int, total: int) -> None:
                if what not in tasks:
                    tasks[what] = progress.add_task(what, total=total)
                progress.update(tasks[what], completed=done, total=total)

            files = read_legacy_files(paths, account=account, on_progress=advance)
            plan = plan_migration(files, ledger, account=account, initial_balance=initial)
        if not json_output:
            _print_plan(files, plan, url, initial, initial_from)
        with new_progress() as progress:
            if not dry_run:
                progress.add_task(f"appending {len(plan.new)} fills in one transaction", total=None)
            result = run_migration(
                ledger,
                plan,
                files,
                backup_folder=(logs / BACKUP_FOLDER).absolute(),
                clock=now,
                ledger_url=url,
                dry_run=dry_run,
                backup=write_backup,
            )
    commands = rollback_commands(result, files, db_option=_db_option(ctx.obj)) if not dry_run else []
    if json_output:
        emit(_plan_json(files, plan, result, url, dry_run=dry_run, commands=commands, initial_from=initial_from))
    else:
        _print_result(plan, result, commands, dry_run=dry_run, config_path=config_path)
    if not result.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)


# --- tables -------------------------------------------------------------------------------------------


def _print_plan(files: LegacyFiles, plan: MigrationPlan, url: str, initial: Decimal, initial_from: str) -> None:
    console = out()
    console.print(f"Migrating the legacy files into {url} (account {plan.account}):")
    counts = {
        "trade_manager_state.json": f"{len(files.trades)} trades",
        "paper_wallet_state.yaml": f"{len(files.wallet.entries) if files.wallet else 0} positions",
        "trades.csv": f"{len(files.csv_rows)} rows",
        "positions.log": f"{len(files.logged)} symbols logged as active",
    }
    for source, path in files.paths.items():
        console.print(f"  {source:<26} {path!s}  ({counts[source]})", highlight=False)
    console.print(f"Wallet starting balance {decimal_text(initial)} ({initial_from}).\n", highlight=False)

    _print_fills(plan)
    _print_skipped(plan)
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False)
    if plan.reconciliation:
        _print_reconciliation(plan.reconciliation)


def _print_fills(plan: MigrationPlan) -> None:
    columns = [
        Column("#"),
        Column("source", wraps=True, left=True, drop=3),
        Column("where", wraps=True, left=True, drop=2),
        Column("fill id", wraps=True, left=True),
        Column("symbol", left=True),
        Column("side", left=True),
        Column("quantity"),
        Column("price"),
        Column("fee"),
        Column("occurred at", left=True, drop=4),
        Column("status", wraps=True, left=True),
    ]
    rows = [
        [
            str(number),
            planned.source,
            planned.where,
            planned.fill.fill_id,
            planned.fill.symbol,
            planned.fill.side.value,
            decimal_text(planned.fill.quantity),
            decimal_text(planned.fill.price),
            decimal_text(planned.fill.fee),
            time_text(planned.fill.occurred_at),
            "append" if planned.is_new else f"in ledger, seq {planned.seq}",
        ]
        for number, planned in enumerate(plan.fills, start=1)
    ]
    title = f"Fills: {len(plan.new)} to append, {len(plan.in_ledger)} already in the ledger"
    print_table(out(), title, columns, rows)


def _print_skipped(plan: MigrationPlan) -> None:
    if plan.skipped:
        print_table(
            out(),
            f"Not migrated: {len(plan.skipped)} legacy records",
            [Column(name, wraps=True, left=True) for name in ("source", "where", "symbol", "why")],
            [[item.source, item.where, item.symbol or "—", item.reason] for item in plan.skipped],
        )
    if plan.only_in_positions_log:
        print_table(
            out(),
            "Only in positions.log: reported, never appended (it has no close records)",
            [
                Column("line"),
                Column("logged at", left=True, drop=1),
                Column("symbol", left=True),
                Column("side", wraps=True, left=True),
                Column("amount"),
                Column("entry"),
            ],
            [
                [
                    str(entry.line),
                    entry.logged_at,
                    entry.symbol,
                    entry.side,
                    _shown(entry.amount),
                    _shown(entry.entry_price),
                ]
                for entry in plan.only_in_positions_log
            ],
        )


RECONCILIATION_TITLES = {
    "trade_manager": "trade_manager_state.json positions against the replay (its open cycle, else its last cycle)",
    "statistics": "trade_manager_state.json statistics against the replay of its trades",
    "wallet": "paper_wallet_state.yaml against the replay (open positions; cash)",
}


def _print_reconciliation(rows: Sequence[Comparison]) -> None:
    for scope, title in RECONCILIATION_TITLES.items():
        chosen = [row for row in rows if row.scope == scope]
        if not chosen:
            continue
        columns = [
            *([Column("symbol", left=True)] if scope != "statistics" else []),
            Column("field", wraps=True, left=True),
            Column("legacy"),
            Column("replay"),
            Column("status", left=True),
            Column("cause", wraps=True, left=True, min_width=24),
        ]
        cells: list[list[str | Text]] = []
        for row in chosen:
            status = Text("DIFFERS", style="red") if row.status == "differs" else Text(row.status)
            causes = "" if row.status == "float" else "\n".join(f"• {cause}" for cause in row.causes)
            shown_row: list[str | Text] = [row.field, _shown(row.legacy), _shown(row.replay), status, causes]
            cells.append([*([row.symbol or "—"] if scope != "statistics" else []), *shown_row])
        print_table(out(), title, columns, cells)
    counts = {status: sum(row.status == status for row in rows) for status in ("match", "float", "differs")}
    out().print(
        f"reconciliation: {counts['match']} match, {counts['float']} equal but for the float the legacy file stores, "
        f"{counts['differs']} differ (each with its cause above)\n",
        highlight=False,
    )


def _print_result(
    plan: MigrationPlan, result: MigrationResult, commands: list[str], *, dry_run: bool, config_path: Path | None
) -> None:
    console = out()
    if result.backup is not None:
        console.print(f"backups in {result.backup.folder!s}:", highlight=False)
        for original, name in result.backup.files.items():
            console.print(f"  {name}  ← {original}", highlight=False)
        console.print(f"  {result.backup.manifest.name}  (manifest)", highlight=False)
    if dry_run:
        console.print(f"dry run: nothing appended ({len(plan.new)} fills would be; head seq {result.head_before.seq})")
        return
    assert result.head_after is not None
    console.print(
        f"appended {result.appended} fills in one transaction "
        f"({len(plan.in_ledger)} already in the ledger); head seq {result.head_before.seq} → {result.head_after.seq}"
    )
    if result.ok:
        console.print("verify: ok — every planned fill is in the log, hash chain and projection intact")
    else:
        for problem in (*result.verify_problems, *(f"missing after the append: {m}" for m in result.missing)):
            err().print(f"verify: {problem}", soft_wrap=True)
    if commands:
        console.print("\nTo undo this migration:", highlight=False)
        for command in commands:
            console.print(f"  {command}", highlight=False, soft_wrap=True)
    config_hint = f" --config {config_path}" if config_path is not None else ""
    console.print(f"\nNext (the seed's step 3): tradeledger enable-sot{config_hint}", highlight=False)


# --- JSON -------------------------------------------------------------------------------------------


def _number(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _plan_json(
    files: LegacyFiles,
    plan: MigrationPlan,
    result: MigrationResult,
    url: str,
    *,
    dry_run: bool,
    commands: list[str],
    initial_from: str,
) -> dict[str, Any]:
    from tradeledger.compat.migration import checkpoint_json  # noqa: PLC0415 - loaded by the command already

    counts = {
        status: sum(row.status == status for row in plan.reconciliation) for status in ("match", "float", "differs")
    }
    return {
        "dry_run": dry_run,
        "account": plan.account,
        "ledger": url,
        "sources": {source: str(path) for source, path in files.paths.items()},
        "initial_balance": decimal_text(plan.initial_balance),
        "initial_balance_from": initial_from,
        "fills": [
            {
                "fill_id": planned.fill.fill_id,
                "exchange": planned.fill.exchange,
                "symbol": planned.fill.symbol,
                "side": planned.fill.side.value,
                "quantity": decimal_text(planned.fill.quantity),
                "price": decimal_text(planned.fill.price),
                "fee": decimal_text(planned.fill.fee),
                "occurred_at": time_text(planned.fill.occurred_at),
                "source": planned.source,
                "where": planned.where,
                "status": "new" if planned.is_new else "in_ledger",
                "seq": planned.seq,
            }
            for planned in plan.fills
        ],
        "skipped": [
            {"source": s.source, "where": s.where, "symbol": s.symbol, "reason": s.reason} for s in plan.skipped
        ],
        "only_in_positions_log": [
            {
                "line": item.line,
                "logged_at": item.logged_at,
                "symbol": item.symbol,
                "side": item.side,
                "amount": decimal_text(item.amount),
                "entry_price": decimal_text(item.entry_price),
            }
            for item in plan.only_in_positions_log
        ],
        "notes": list(plan.notes),
        "identical_rows": [
            {
                "source": TRADES_CSV,
                "lines": list(group.lines),
                "symbol": group.symbol,
                "side": group.side.value,
                "amount": decimal_text(group.amount),
                "price": decimal_text(group.price),
                "occurred_at": time_text(group.timestamp),
                "fills": [
                    {"line": row.line, "fill_id": row.fill_id, "source": row.source, "where": row.where}
                    for row in group.fills
                ],
            }
            for group in plan.identical_rows
        ],
        "reconciliation": [
            {
                "scope": row.scope,
                "symbol": row.symbol,
                "field": row.field,
                "legacy": _number(row.legacy),
                "replay": _number(row.replay),
                "status": row.status,
                "causes": list(row.causes),
            }
            for row in plan.reconciliation
        ],
        "summary": {
            "planned": len(plan.fills),
            "new": len(plan.new),
            "in_ledger": len(plan.in_ledger),
            "skipped": len(plan.skipped),
            "only_in_positions_log": len(plan.only_in_positions_log),
            "identical_rows": sum(len(group.fills) for group in plan.identical_rows),
            **counts,
        },
        "appended": result.appended,
        "head_before": checkpoint_json(result.head_before),
        "head_after": None if result.head_after is None else checkpoint_json(result.head_after),
        "backup": None
        if result.backup is None
        else {
            "folder": str(result.backup.folder),
            "manifest": str(result.backup.manifest),
            "files": dict(result.backup.files),
        },
        "verify": None
        if result.verify_ok is None
        else {"ok": result.ok, "problems": list(result.verify_problems), "missing": list(result.missing)},
        "rollback": commands,
    }


# --- enable-sot -------------------------------------------------------------------------------------


def enable_sot(
    config: Annotated[Path, typer.Option("--config", help="The bot's YAML config (.yaml or .yml).")] = DEFAULT_CONFIG,
    validate_only: Annotated[
        bool, typer.Option("--validate-only", help="Only check the keys: exit 0 if all are set, 1 listing the rest.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Set the seed's trade_manager / position_monitor / paper_wallet keys in the config, keeping everything else."""
    from tradeledger.compat.enable_sot import check_sot  # noqa: PLC0415 - the YAML round trip when it runs
    from tradeledger.compat.enable_sot import enable_sot as switch_on  # noqa: PLC0415

    if validate_only:
        problems = check_sot(config)
        if json_output:
            emit({"config": str(config), "ok": not problems, "missing": problems})
        elif problems:
            err().print(f"{config!s}: the TradeManager is not yet the single source of truth:")
            for problem in problems:
                err().print(f"  {problem}", highlight=False)
        else:
            out().print(f"{config!s}: every key of the seed's configuration changes is set", highlight=False)
        if problems:
            raise typer.Exit(EXIT_VERIFY_FAILED)
        return
    result = switch_on(config, clock=now)
    if json_output:
        emit(
            {
                "config": str(result.path),
                "changed": list(result.changed),
                "backup": None if result.backup is None else str(result.backup),
                "migration_date": result.migration_date,
            }
        )
    elif not result.changed:
        out().print(f"{config!s}: already set; nothing changed", highlight=False)
    else:
        out().print(f"{config!s}: set {', '.join(result.changed)}", highlight=False)
        out().print(f"backup: {result.backup!s}", highlight=False)
