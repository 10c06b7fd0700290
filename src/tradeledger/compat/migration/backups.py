"""Backups, the append and the check: the seed's backup names, the manifest, one transaction, verify."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tradeledger.application.ledger import Ledger
from tradeledger.compat.files import write_bytes_atomically
from tradeledger.compat.migration.legacy import (
    BACKUP_NAMES,
    MANIFEST_NAME,
    STAMP_FORMAT,
    STATE_FILE,
    Clock,
    LegacyFiles,
    MigrationError,
    MigrationPlan,
    legacy_number,
    same_fill,
)
from tradeledger.compat.migration.plan import plan_migration
from tradeledger.compat.yaml_text import load_bounded
from tradeledger.domain.fills import Fill
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.wallet import starting_cash
from tradeledger.errors import InvalidArgument

# --- backups, the append and the check -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backup:
    """The backup of one migration run: the copies and the manifest the rollback and restore commands read."""

    stamp: str
    folder: Path
    manifest: Path
    files: Mapping[str, str]  # original path -> backup file name (in `folder`)
    sha256: Mapping[str, str] = field(default_factory=dict)  # backup file name -> SHA-256 of its bytes (hex)

    def backup_of(self, source: str) -> Path | None:
        name = BACKUP_NAMES.get(source, "").format(stamp=self.stamp)
        return self.folder / name if name in self.files.values() else None


@dataclass(frozen=True, slots=True)
class MigrationResult:
    appended: int
    head_before: Checkpoint
    head_after: Checkpoint | None  # None for a dry run
    backup: Backup | None
    verify_ok: bool | None = None
    verify_problems: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # planned fills not found in the ledger after the append

    @property
    def ok(self) -> bool:
        return self.verify_ok is not False and not self.missing


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"epoch": checkpoint.epoch, "seq": checkpoint.seq, "hash": checkpoint.hash}


def backup_stamp(when: datetime) -> str:
    """The time part of backup names: UTC, YYYYmmdd_HHMMSS."""
    moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def _manifest(
    backup: Backup, created_at: datetime, ledger_url: str, before: Checkpoint, after: Checkpoint | None, appended: int
) -> bytes:
    manifest = {
        "created_at": created_at.astimezone(UTC).isoformat(),
        "ledger": ledger_url,
        "head_before": checkpoint_json(before),
        "head_after": None if after is None else checkpoint_json(after),
        "appended": appended,
        "files": dict(backup.files),
        "sha256": dict(backup.sha256),  # restore checks each backup against it before it changes anything
    }
    return (json.dumps(manifest, indent=2) + "\n").encode("utf-8")


def write_backups(
    files: LegacyFiles, folder: Path, *, clock: Clock, ledger_url: str, head_before: Checkpoint
) -> Backup:
    """Copy the source files (the bytes that were read) into `folder` and write the manifest.

    Names carry the clock's UTC time; a backup is never replaced: when one of the same second exists
    (a dry run with --backup just before), the names take the next free suffix (`<ts>_2`, `<ts>_3` …).
    """
    created_at = clock()
    base = backup_stamp(created_at)
    for attempt in itertools.count(1):
        stamp = base if attempt == 1 else f"{base}_{attempt}"
        copies = {
            source: (path, folder / BACKUP_NAMES[source].format(stamp=stamp))
            for source, path in files.paths.items()
            if source in BACKUP_NAMES
        }
        manifest = folder / MANIFEST_NAME.format(stamp=stamp)
        if not any(target.exists() for target in [manifest, *(target for _, target in copies.values())]):
            break
    backup = Backup(
        stamp=stamp,
        folder=folder,
        manifest=manifest,
        files={str(path.absolute()): target.name for path, target in copies.values()},
        sha256={target.name: hashlib.sha256(files.raw[source]).hexdigest() for source, (_, target) in copies.items()},
    )
    for source, (_, target) in copies.items():
        write_bytes_atomically(target, bytes(files.raw[source]), exclusive=True)
    write_bytes_atomically(manifest, _manifest(backup, created_at, ledger_url, head_before, None, 0), exclusive=True)
    return backup


def run_migration(
    ledger: Ledger,
    plan: MigrationPlan,
    files: LegacyFiles,
    *,
    backup_folder: Path,
    clock: Clock,
    ledger_url: str,
    dry_run: bool,
    backup: bool,
) -> MigrationResult:
    """Back up (always for a real run; with `backup` for a dry run), then append the new fills in one
    transaction, complete the manifest and verify. A dry run appends nothing."""
    if not dry_run and not backup:
        raise MigrationError(
            "a migration that appends must back up the legacy files first (--no-backup is for --dry-run only)"
        )
    head_before = ledger.head
    made = (
        write_backups(files, backup_folder, clock=clock, ledger_url=ledger_url, head_before=head_before)
        if backup
        else None
    )
    if dry_run:
        return MigrationResult(0, head_before, None, made)
    receipts = ledger.record_many_if_current([planned.fill for planned in plan.new], account=plan.account, at=plan.at)
    if receipts is None:  # the account moved since the plan read it: nothing appended
        plan, receipts = _moved_since(ledger, plan, files), []  # the plan of the ledger as it is, nothing new
    appended = sum(not receipt.duplicate for receipt in receipts)
    head_after = ledger.head
    if made is not None:
        created_at = clock()
        write_bytes_atomically(
            made.manifest, _manifest(made, created_at, ledger_url, head_before, head_after, appended)
        )
    report = ledger.verify()
    recorded: dict[str, list[Fill]] = defaultdict(list)
    for item in ledger.history(account=plan.account):
        if isinstance(item.fill, Fill):
            recorded[item.fill.fill_id].append(item.fill)
    missing = tuple(
        f"{planned.source} {planned.where}: fill {planned.fill.fill_id}"
        for planned in plan.fills
        if not any(same_fill(held, planned.fill) for held in recorded.get(planned.fill.fill_id, []))
    )
    problems = tuple(f"{'ledger' if p.seq is None else f'seq {p.seq}'}: {p.check}: {p.detail}" for p in report.problems)
    return MigrationResult(appended, head_before, head_after, made, report.ok, problems, missing)


def _moved_since(ledger: Ledger, plan: MigrationPlan, files: LegacyFiles) -> MigrationPlan:
    """The account has events after the log position `plan` read (another migrate, or a bot, appended meanwhile):
    the plan's checks against the ledger (what it holds, what a wallet position or a csv row would repeat) are
    made again on the ledger as it is now. A plan of nothing new (the same files migrated at once) leaves nothing
    to append, and is the plan whose fills the ledger is then checked to hold; one the ledger now contradicts is
    refused by its own check, naming both; any other is refused here, for the operator to see the plan the
    ledger now gives. Nothing of this run is appended either way."""
    again = plan_migration(files, ledger, account=plan.account, initial_balance=plan.initial_balance)
    if again.new:
        raise MigrationError(
            f"the ledger moved while this migration was planned: account {plan.account} has events after seq "
            f"{plan.at.seq} that the plan did not see (another migrate, or a bot, appended meanwhile), and planned "
            f"again {len(again.new)} of its fills would be new; nothing was appended: run migrate again to see the "
            "plan against the ledger as it is now"
        )
    return again


def rollback_commands(result: MigrationResult, files: LegacyFiles, *, db_option: str = "") -> list[str]:
    """The commands that undo a migration: `restore` (the audited rollback of the ledger to where the
    migration found it, then the legacy files put back), and the seed's own `cp` of the state file.

    A bare `rollback` is not offered: it would rewrite the legacy files from the rolled-back log
    instead of bringing the originals back. Nothing to undo when nothing was appended."""
    if result.backup is None or result.appended == 0:
        return []
    commands = [f"tradeledger{db_option} restore {result.backup.manifest}"]
    copy = result.backup.backup_of(STATE_FILE)
    if copy is not None and files.paths.state_file is not None:
        commands.append(f"cp {copy} {files.paths.state_file}")
    return commands


def wallet_initial_balance(config_initial: Decimal | None, config_path: Path | None) -> tuple[Decimal, str]:
    """The wallet's starting balance: the config's paper_wallet.initial_balance, else
    paper_wallet_config.yaml beside the config, else 10000 (legacy-system.md §2.1); and where it came from."""
    if config_initial is not None:
        name = "paper_wallet.initial_balance" if config_path is None else f"{config_path}: paper_wallet.initial_balance"
        return _starting_balance(config_initial, name), "paper_wallet.initial_balance in the config"
    if config_path is not None:
        beside = config_path.parent / "paper_wallet_config.yaml"
        if beside.is_file():
            try:
                values = load_bounded(YAML(typ="safe", pure=True), beside.read_text(encoding="utf-8"))
            except (OSError, YAMLError, UnicodeDecodeError) as error:
                raise MigrationError(f"{beside}: cannot read it ({error})") from None
            if isinstance(values, dict) and values.get("initial_balance") is not None:
                balance = legacy_number(values["initial_balance"], f"{beside}: initial_balance")
                if balance <= 0:
                    raise MigrationError(f"{beside}: initial_balance must be above 0 (got {balance})")
                return _starting_balance(balance, f"{beside}: initial_balance"), str(beside)
    return Decimal(10000), "the legacy default"


def _starting_balance(value: Decimal, name: str) -> Decimal:
    """B0 of the replay as every wallet takes it (`domain.wallet.starting_cash`), refused naming its file."""
    try:
        return starting_cash(value, name)
    except InvalidArgument as error:
        raise MigrationError(str(error)) from None
