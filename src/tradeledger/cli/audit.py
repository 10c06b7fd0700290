"""The ledger checked: `verify` (chain, seq, projection, anchors) and `copy` (to another database, verified)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tradeledger.application.anchoring import parse_public_key
from tradeledger.application.copying import copy_ledger, events_to_copy
from tradeledger.application.verification import VerifyReport
from tradeledger.bootstrap import open_store
from tradeledger.cli.anchor_files import read_anchor_files
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    JsonOption,
    emit,
    err,
    opened,
    out,
    progress_bar,
    refuse_in_memory,
)
from tradeledger.cli.output import print_rollbacks, verify_failure, verify_json
from tradeledger.errors import InvalidArgument
from tradeledger.storage.urls import shown_url


def verify(
    ctx: typer.Context,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor", metavar="FILE", help="An anchor file from checkpoint, checked against the log; repeatable."
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            metavar="KEY",
            help="Trust only anchors signed by this key (64 hex digits, as keygen prints).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check the hash chain, the gapless seq, and the stored projection against a fresh replay (and anchors)."""
    trusted = None if public_key is None else parse_public_key(public_key)
    anchors = read_anchor_files(anchor or [])
    with opened(ctx, audit=True) as ledger, progress_bar("verifying", total=ledger.head.seq) as update:
        report = ledger.verify(anchors, trusted_key=trusted, on_progress=update)
    if json_output:
        emit(verify_json(report))
    elif report.ok:
        out().print(
            f"verify: ok — {report.events} events, head epoch {report.head.epoch} seq {report.head.seq}, "
            f"hash {report.head.hash}; {len(report.rollbacks)} audited rollback(s)",
            soft_wrap=True,
        )
        print_rollbacks(out(), report.rollbacks)
        print_anchors(out(), report)
    else:
        print_problems(report)
        print_rollbacks(err(), report.rollbacks)
        print_anchors(err(), report)
    if not report.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)


def rebuild(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Re-derive the stored projections (positions, closed cycles, balances, snapshots) from the log."""
    with opened(ctx, writes=True) as ledger, progress_bar("rebuilding") as _:
        at = ledger.rebuild()
    if json_output:
        emit({"epoch": at.epoch, "seq": at.seq, "hash": at.hash})
    else:
        out().print(
            f"rebuilt the projections and the head's mark of lots named from the log: head epoch {at.epoch} seq "
            f"{at.seq}, hash {at.hash}",
            soft_wrap=True,
        )


def print_anchors(console: Console, report: VerifyReport) -> None:
    for check in report.anchors:
        console.print(f"  anchor {check.source}: {check.status}: {check.detail}", highlight=False, soft_wrap=True)


def print_problems(report: VerifyReport) -> None:
    err().print(f"verify: FAILED — {verify_failure(report)}", highlight=False)
    for problem in report.problems:
        where = "ledger" if problem.seq is None else f"seq {problem.seq}"
        err().print(f"  {where}: {problem.check}: {problem.detail}", soft_wrap=True)


def copy(
    source_url: Annotated[str, typer.Option("--from", help="The ledger to copy (a database URL).")],
    target_url: Annotated[
        str, typer.Option("--to", help="Where to copy it: an empty database, or one holding a prefix of it.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Copy a ledger to another database (e.g. SQLite to PostgreSQL) event for event, then verify the copy."""
    if source_url == target_url:
        raise InvalidArgument(f"--to: the same database as --from (got {shown_url(target_url)!r})")
    refuse_in_memory(target_url, "--to")
    source = open_store(source_url)
    try:
        target = open_store(target_url)
        try:
            total = events_to_copy(source, target) if err().is_terminal else None
            with progress_bar("copying", total=total) as update:
                result = copy_ledger(source, target, on_progress=update)
        finally:
            target.close()
    finally:
        source.close()
    if json_output:
        emit(
            {
                "copied": result.copied,
                "already_there": result.already_there,
                "entries": result.entries,
                "seq": result.head.seq,
                "hash": result.head.hash,
                "verify": verify_json(result.verify),
            }
        )
    else:
        out().print(
            f"copied {result.copied} events ({result.already_there} already there) and {result.entries} "
            f"entries (sync cursors, subscribers' positions, checkpoints); head seq {result.head.seq}, "
            f"hash {result.head.hash}"
        )
        if result.verify.ok:
            out().print(f"verify (target): ok — {result.verify.events} events, projection equals a fresh replay")
        else:
            print_problems(result.verify)
    if not result.verify.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)
