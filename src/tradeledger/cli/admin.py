"""The operator's and auditor's commands on the log itself: rollback, restore, export (and import of an export)."""

from __future__ import annotations

import getpass
import hashlib
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any, TypeGuard

import typer
from rich.console import Console

from tradeledger.application.exporting import export_log
from tradeledger.application.ledger import Ledger
from tradeledger.application.maintenance import RollbackReport
from tradeledger.bootstrap import open_store
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    beside,
    emit,
    err,
    ledger_url,
    naming_option,
    opened,
    os_error_message,
    out,
    parse_time,
    progress_bar,
)
from tradeledger.cli.event_view import event_cells, event_json
from tradeledger.cli.output import (
    admin_json,
    checkpoint_json,
    print_rollbacks,
    print_state,
    short_hash,
    state_json,
    verify_failure,
)
from tradeledger.cli.tables import Column, RowsOf, print_table
from tradeledger.compat.files import DEFAULT_STATE_DIR, check_output, output_file, write_bytes_atomically
from tradeledger.domain.events import Event
from tradeledger.domain.fills import Fill, decimal_text
from tradeledger.errors import InvalidArgument


def _actor(actor: str | None) -> str:
    """--actor, else the OS user running this; refused when the OS names none (a container's uid without a passwd
    entry, and no USER, LOGNAME, LNAME or USERNAME): the audit trail needs someone."""
    if actor is not None:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError) as error:  # Python 3.11-3.12: KeyError from pwd; 3.13: OSError
        raise InvalidArgument(
            f"--actor: the OS names no user running this ({error}); give --actor NAME; nothing was rolled back"
        ) from None


def removed_json(event: Event) -> dict[str, Any]:
    """A removed event in the rollback JSON: the fill's fields (a funding or transfer: its id, amount and currency)."""
    if isinstance(event, Fill):
        return {
            "fill_id": event.fill_id,
            "account": event.account,
            "exchange": event.exchange,
            "symbol": event.symbol,
            "side": event.side.value,
            "quantity": decimal_text(event.quantity),
            "price": decimal_text(event.price),
        }
    return event_json(event)


def _report_json(report: RollbackReport, files: list[str]) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "head_before": checkpoint_json(report.head_before),
        "head_after": checkpoint_json(report.head_after),
        "removed": ({"seq": fill.seq, **removed_json(fill.fill), "hash": fill.hash} for fill in report.removed),
        "record": None if report.record is None else admin_json(report.record),
        "state": state_json(report.state, closed=False, marks={}),
        "files": files,
    }


def _print_report(out: Console, report: RollbackReport, files: list[str]) -> None:
    verb = "would remove" if report.dry_run else "removed"
    columns = [
        Column("seq"),
        Column("fill id", wraps=True, left=True),
        Column("symbol", left=True),
        Column("side", left=True),
        Column("qty"),
        Column("price"),
        Column("hash", left=True),
    ]
    rows = RowsOf(report.removed, lambda fill: [str(fill.seq), *event_cells(fill.fill)[:5], short_hash(fill.hash)])
    print_table(out, f"rollback {verb} {len(report.removed)} event(s)", columns, rows)
    before, after = report.head_before, report.head_after
    out.print(
        f"head: epoch {before.epoch} seq {before.seq} -> epoch {after.epoch} seq {after.seq} {after.hash}",
        highlight=False,
    )
    print_state(out, report.state, closed=False, marks={}, title="Positions after the rollback")
    if report.record is not None:
        print_rollbacks(out, (report.record,))
    for path in files:
        out.print(f"rewound {path}", highlight=False)
    if report.dry_run:
        out.print("dry run: nothing was changed")


def rollback(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audited admin log).")],
    to_seq: Annotated[
        int | None, typer.Option("--to-seq", metavar="SEQ", help="Keep events 1..N, remove the rest.")
    ] = None,
    to_time: Annotated[
        str | None,
        typer.Option("--to-time", metavar="TIME", help="Remove the events recorded after this time (ISO 8601)."),
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who (default: the OS user).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would go; change nothing.")] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            exists=True,
            file_okay=False,
            help=f"An existing folder of legacy read-model files to rewind with the log. Default: {DEFAULT_STATE_DIR} "
            "when it exists.",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="The bot's config (wallet balance).")] = None,
    account: Annotated[
        str, typer.Option("--account", help="The bot's account: the rewound read-model files show its books.")
    ] = "default",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Remove the log's tail after a seq (or time), audited, in a new epoch; projections and files rewound."""
    if (to_seq is None) == (to_time is None):  # the options, as the command takes them (the API names its own)
        raise InvalidArgument("rollback: give exactly one of --to-seq N and --to-time T")
    when = None if to_time is None else parse_time(to_time, "--to-time")
    # Everything the rewind of the files needs is checked before the log is touched: a --state-dir
    # given is an existing folder (Click checks it), the default folder counts only when it exists.
    if state_dir is None:
        state_dir = DEFAULT_STATE_DIR
    # The legacy bot's config and read models when a rollback runs, not when the commands are registered.
    from tradeledger.compat.config import load_bot_config  # noqa: PLC0415
    from tradeledger.compat.read_models import read_models_in, rewind_read_models  # noqa: PLC0415

    settings = load_bot_config(config) if config is not None else None
    files_there = read_models_in(state_dir)
    for path in files_there:  # each a file the rewind can replace (not a folder under its name)
        try:
            check_output(path)
        except OSError as error:
            raise InvalidArgument(f"--state-dir: {os_error_message(error)}; nothing was rolled back") from None
    if files_there and settings is None and not dry_run:
        shown = ", ".join(str(path) for path in files_there)
        raise InvalidArgument(
            f"--config: the rollback rewrites {shown} from the log with the bot's config (the wallet's "
            "initial balance, the risk levels of reopened cycles); give --config FILE, or --state-dir for "
            "another folder; nothing was rolled back"
        )
    with opened(ctx, writes=not dry_run) as ledger:
        report = ledger.rollback(to_seq=to_seq, to_time=when, reason=reason, actor=_actor(actor), dry_run=dry_run)
        try:
            files = [] if dry_run else rewind_read_models(ledger, state_dir, settings, account=account)
        except OSError as error:  # the rollback is committed: say so, with what was not rewritten
            raise InvalidArgument(
                f"{_rolled_back(report)}the legacy files in --state-dir were not all rewritten: "
                f"{os_error_message(error)}; one not rewritten still shows the log before the rollback"
            ) from None
        with progress_bar("verifying", total=ledger.head.seq) as update:
            verified = ledger.verify(on_progress=update)
        # Printed while the ledger is open: a dry run's removed events are read from the log as they are written.
        if json_output:
            emit({**_report_json(report, files), "verify": verified.ok})
        else:
            _print_report(out(), report, files)
            out().print(f"verify: {'ok' if verified.ok else 'FAILED'}")
    if not verified.ok:
        err().print(f"verify FAILED after the rollback: {verify_failure(verified)}")
        raise typer.Exit(EXIT_VERIFY_FAILED)


def restore(
    ctx: typer.Context,
    manifest: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="migration_backup/migration_backup_<ts>.json")
    ],
    actor: Annotated[str | None, typer.Option("--actor", help="Who (default: the OS user).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """The seed's "restore from backup": roll the ledger back to where the migration found it, and put the
    backed-up legacy files back in place."""
    before, files = _manifest(manifest, ledger_url(ctx.obj))
    report: RollbackReport | None = None
    with opened(ctx, writes=not dry_run) as ledger:
        _check_starting_point(ledger, manifest, before)
        if ledger.head.seq > before["seq"]:
            reason = f"restore from {manifest.name}"
            report = ledger.rollback(to_seq=before["seq"], reason=reason, actor=_actor(actor), dry_run=dry_run)
        if not dry_run:
            try:
                for original, (_, data) in files.items():
                    original.parent.mkdir(parents=True, exist_ok=True)
                    write_bytes_atomically(original, data)
            except OSError as error:  # the rollback is committed: say so, and where the backups are
                done = "" if report is None else _rolled_back(report)
                raise InvalidArgument(
                    f"{manifest}: {done}the backed-up files were not all put back: {os_error_message(error)}; put "
                    f"them back from {manifest.parent}"
                ) from None
        verified = ledger.verify()
        if json_output:
            emit(
                {
                    "dry_run": dry_run,
                    "rolled_back": None if report is None else _report_json(report, []),
                    "restored": {str(original): str(backup) for original, (backup, _) in files.items()},
                    "verify": verified.ok,
                }
            )
        else:
            if report is not None:
                _print_report(out(), report, [])
            verb = "would restore" if dry_run else "restored"
            for original, (backup, _) in files.items():
                out().print(f"{verb} {original} from {backup}", highlight=False)
            out().print(f"verify: {'ok' if verified.ok else 'FAILED'}")
    if not verified.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)


def _rolled_back(report: RollbackReport) -> str:
    """The start of an error after a committed rollback: where it left the log."""
    after = report.head_after
    return f"the log was rolled back to seq {after.seq} (epoch {after.epoch}, in the admin log), but "


def _manifest(path: Path, current_url: str) -> tuple[dict[str, Any], dict[Path, tuple[Path, bytes]]]:
    """The manifest's head before the migration and its files (original -> backup and its bytes, read and checked
    against the manifest's SHA-256 before anything changes); refused unless usable. A manifest written before
    the hashes were kept has none to check."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise InvalidArgument(f"{path}: not a migration backup manifest ({error})") from None
    head = data.get("head_before") if isinstance(data, dict) else None
    names = data.get("files") if isinstance(data, dict) else None
    if not _is_head(head) or not isinstance(names, dict):
        given = isinstance(data, dict) and "head_before" in data
        got = f" (got head_before {json.dumps(head)})" if given else ""
        raise InvalidArgument(
            f"{path}: a manifest needs head_before {{epoch, seq, hash}} (whole numbers of 0 or more, and a hash) "
            f"and files{got}"
        )
    recorded = data.get("ledger")
    if recorded is not None and recorded != current_url:
        raise InvalidArgument(
            f"{path}: it is the backup of the ledger {recorded}, not of {current_url} (give --db); nothing was restored"
        )
    digests = data.get("sha256", {})
    if not isinstance(digests, dict):
        raise InvalidArgument(f"{path}: sha256 must map each backup file to its hash (got {digests!r:.80})")
    files = {Path(original): _backup(path, original, name, digests) for original, name in names.items()}
    return head, files


def _backup(path: Path, original: str, name: object, digests: dict[str, Any]) -> tuple[Path, bytes]:
    """The backup of `original` a manifest names (`name` in its folder) and its bytes, checked against the manifest's
    SHA-256 of it (`digests`: none in a manifest written before the hashes) before anything changes."""
    if not isinstance(name, str):
        raise InvalidArgument(
            f"{path}: files must map each file to its backup's name, a text (got {json.dumps(name)} for "
            f"{original}); nothing was restored"
        )
    backup = path.parent / name
    if not backup.is_file():
        raise InvalidArgument(f"{path}: its backup file {backup} is missing; nothing was restored")
    if Path(original).is_dir():  # found before the rollback, not after it
        raise InvalidArgument(f"{path}: {original}: is a folder; name a file; nothing was restored")
    if digests and name not in digests:  # a manifest with hashes has one for every backup it names
        raise InvalidArgument(
            f"{path}: sha256 holds no hash of its backup file {name}, which every backup of a manifest with "
            "hashes has; nothing was restored"
        )
    content = backup.read_bytes()
    expected = digests.get(name)
    actual = hashlib.sha256(content).hexdigest()
    if expected is not None and actual != expected:
        raise InvalidArgument(
            f"{path}: its backup file {backup} is not the file the migration backed up (sha256 {actual}, "
            f"the manifest says {expected}: changed or cut off since); nothing was restored"
        )
    return backup, content


_MAX_SEQ = 2**63 - 1  # a database's seq is a signed 64-bit integer


def _is_head(head: object) -> TypeGuard[dict[str, Any]]:
    """Whether a manifest's head_before is a head: epoch and seq whole numbers of 0 or more (JSON's true and false
    are not), a hash text."""
    if not isinstance(head, dict):
        return False
    numbers = [head.get("epoch"), head.get("seq")]
    whole = all(type(number) is int and 0 <= number <= _MAX_SEQ for number in numbers)
    return whole and isinstance(head.get("hash"), str)


def _check_starting_point(ledger: Ledger, manifest: Path, before: dict[str, Any]) -> None:
    """The ledger must still hold the event the migration started from (else this is another history)."""
    if not before["seq"]:
        return
    with closing(ledger.stream_history(after_seq=before["seq"] - 1)) as events:  # its first event alone
        at = next(events, None)
    if at is None or at.hash != before["hash"]:
        raise InvalidArgument(
            f"{manifest}: the ledger no longer holds the event the migration started from "
            f"(seq {before['seq']} {before['hash']}); nothing was restored"
        )


def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (atomically) instead of stdout.")
    ] = None,
) -> None:
    """Write the log as NDJSON with every hash (and the audited rollbacks); `import` reads it back."""
    if output is not None:
        with naming_option("--output"):
            check_output(output)
    # A line at a time as the log is read, never the whole export in memory (~0.7 KB a line: ~0.7 GB at 1M events).
    store = open_store(ctx.obj, audit=True)  # the evidence, even of a log whose projections cannot be rebuilt
    try:
        if output is None:  # a stream: what was written stays written should the read fail (exit 2 then)
            stdout = sys.stdout.buffer
            export_log(store, lambda item: stdout.write(_line(item)))
            stdout.flush()
            return
        with naming_option("--output"), output_file(output) as handle:  # replaced only once every line is written
            head = export_log(store, lambda item: handle.write(_line(item)))
    finally:
        store.close()
    beside(output).print(f"exported {head.seq} events to {output}; head {head.hash}", highlight=False, soft_wrap=True)


def _line(item: dict[str, Any]) -> bytes:
    """An export line: its JSON (non-ASCII as itself) in UTF-8, and a newline."""
    return (_ENCODE(item) + "\n").encode("utf-8")


# json.dumps(item, ensure_ascii=False) makes an encoder per call: one made once writes the same text.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
