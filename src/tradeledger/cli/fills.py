"""Fills into the log: `record` (one fill) and `import` (an NDJSON file of fills, or an export)."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tradeledger.application.copying import import_log
from tradeledger.application.exporting import is_export, read_export
from tradeledger.bootstrap import open_store
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    JsonOption,
    emit,
    opened,
    out,
    parse_time,
    progress_bar,
    refuse_in_memory,
)
from tradeledger.cli.ndjson import read_fills, split_lines
from tradeledger.domain.fills import Side
from tradeledger.errors import FillConflict, InvalidFill


def record(
    ctx: typer.Context,
    fill_id: Annotated[str, typer.Option(help="The exchange's id of this fill (the idempotency key).")],
    symbol: Annotated[str, typer.Option(help="BASE/QUOTE, e.g. BTC/USD.")],
    side: Annotated[Side, typer.Option(help="buy or sell.")],
    quantity: Annotated[str, typer.Option(metavar="DECIMAL", help="Base quantity, > 0.")],
    price: Annotated[str, typer.Option(metavar="DECIMAL", help="Quote per base unit, > 0.")],
    fee: Annotated[str, typer.Option(metavar="DECIMAL", help="Fee in the quote currency, >= 0.")] = "0",
    time: Annotated[
        str | None, typer.Option("--time", metavar="TIME", help="When it filled, ISO 8601 with offset. Default: now.")
    ] = None,
    account: Annotated[str, typer.Option(help="Account.")] = "default",
    exchange: Annotated[str, typer.Option(help="Exchange.", show_default="none")] = "",
    strategy: Annotated[str | None, typer.Option(help="Strategy that placed the order.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Record one fill."""
    occurred_at = parse_time(time, "--time") if time is not None else datetime.now().astimezone()
    fields: dict[str, Any] = {
        "fill_id": fill_id,
        "symbol": symbol,
        "side": side.value,
        "quantity": quantity,
        "price": price,
        "fee": fee,
        "occurred_at": occurred_at,
        "account": account,
        "exchange": exchange,
        "strategy": strategy,
    }
    with opened(ctx, writes=True) as ledger:
        receipt = ledger.record(fields)
    if json_output:
        emit({"seq": receipt.seq, "hash": receipt.hash, "duplicate": receipt.duplicate})
    elif receipt.duplicate:
        out().print(f"duplicate: fill {fill_id} is already recorded as seq {receipt.seq} (nothing appended)")
    else:
        out().print(f"recorded fill {fill_id} as seq {receipt.seq}, hash {receipt.hash}")


def import_fills(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="NDJSON, one fill per line.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Import fills from an NDJSON file (validated first, appended in one transaction), or an export into
    an empty ledger (event for event, hashes kept, then verified)."""
    refuse_in_memory(ctx.obj)
    try:
        lines = split_lines(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise InvalidFill(f"{file}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if lines and is_export(lines[0]):
        summary = import_export(ctx.obj, lines)
        if json_output:
            emit(summary)
        else:
            out().print(
                f"imported the export {file}: {summary['appended']} events and "
                f"{summary['rollbacks']} rollback record(s), head seq {summary['seq']} {summary['hash']}; "
                f"verify {'ok' if summary['verify'] else 'FAILED'}"
            )
        if not summary["verify"]:
            raise typer.Exit(EXIT_VERIFY_FAILED)
        return
    validated = itertools.count(1)
    with progress_bar("validating", total=len(lines)) as update:
        fills = read_fills(lines, on_line=lambda: update(next(validated)))
    with progress_bar(f"appending {len(fills)} fills") as _, opened(ctx) as ledger:
        try:
            receipts = ledger.record_many(list(fills.values()))
        except FillConflict as conflict:  # with a fill already in the log: name its line too
            line = next(number for number, fill in fills.items() if fill.key == conflict.key)
            raise InvalidFill(f"line {line}: {conflict}; nothing was imported") from None
        head = ledger.head
    appended = sum(not r.duplicate for r in receipts)
    summary = {"appended": appended, "duplicates": len(receipts) - appended, "seq": head.seq}
    if json_output:
        emit(summary)
    else:
        out().print(
            f"imported {file}: {appended} appended, {summary['duplicates']} duplicates skipped; head seq {head.seq}"
        )


def import_export(url: str | None, lines: list[str]) -> dict[str, Any]:
    """Import an export into an empty ledger, event for event, then verify (exit 1 when it does not)."""
    exported = read_export(lines)
    store = open_store(url)
    try:
        with progress_bar("importing the export", total=len(exported.events)) as advance:
            report = import_log(exported.head, exported.events, exported.records, store, on_progress=advance)
    finally:
        store.close()
    return {
        "appended": report.copied,
        "duplicates": 0,
        "seq": report.head.seq,
        "hash": report.head.hash,
        "rollbacks": len(exported.records),
        "verify": report.verify.ok,
    }
