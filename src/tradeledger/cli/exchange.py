"""From an exchange into the log and back (spec section 10): `ingest ccxt FILE.json`, `sync EXCHANGE`, `reconcile`."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tradeledger.application.exchange_names import refuse_case_rival
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    JsonOption,
    emit,
    exchange_named,
    opened,
    out,
    parse_contract_sizes,
    parse_time,
    parse_tolerances,
    progress_bar,
)
from tradeledger.cli.reconcile_view import print_reconciliation, reconciliation_json
from tradeledger.exchanges.ccxt import reconciling, syncing
from tradeledger.exchanges.ccxt.files import read_balance, read_entries
from tradeledger.exchanges.ccxt.ingesting import append_mapped
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries
from tradeledger.exchanges.ccxt.transfers import SyncReport


class Source(StrEnum):
    CCXT = "ccxt"


AccountOption = Annotated[str, typer.Option(help="The account the events belong to.")]
ContractSizeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--contract-size",
        metavar="SYMBOL=SIZE",
        help="The base units of one contract of SYMBOL (ccxt's market contractSize, e.g. LTC/USDT:USDT=0.1 on "
        "kucoinfutures), repeatable: a trade's amount on a contract is in contracts.",
        show_default="1 where a trade's cost is its amount x price, else the trade is refused",
    ),
]


def ingest(
    ctx: typer.Context,
    source: Annotated[Source, typer.Argument(help="Where the file comes from: ccxt (its unified structures).")],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A JSON list as fetch_my_trades, fetch_funding_history, fetch_ledger, fetch_deposits or "
            "fetch_withdrawals returns it.",
        ),
    ],
    exchange: Annotated[
        str, typer.Option(metavar="NAME", help="The exchange the file came from (its ccxt id, e.g. binance).")
    ],
    account: AccountOption = "default",
    kind: Annotated[
        Kind | None,
        typer.Option(help="What the list is; recognised from its entries' fields when not given."),
    ] = None,
    contract_size: ContractSizeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ingest what ccxt returned (validated whole first, then appended in one transaction; idempotent)."""
    assert source is Source.CCXT
    sizes = parse_contract_sizes(contract_size or [])
    entries = read_entries(file)
    done = itertools.count(1)
    with progress_bar("reading", total=len(entries)) as update:
        mapped = map_entries(
            entries,
            exchange=exchange,
            account=account,
            kind=kind,
            on_entry=lambda: update(next(done)),
            contract_sizes=sizes,
        )
    with progress_bar(f"appending {len(mapped.events)} events") as _, opened(ctx, writes=True) as ledger:
        report = append_mapped(ledger, mapped)
    if json_output:
        emit(report.summary())
        return
    reasons = Counter(why for _, why in report.skipped)
    skipped = "".join(f"\n  skipped {count}: {why}" for why, count in sorted(reasons.items()))
    out().print(
        f"ingested {file} ({report.kind.value}): {report.appended} appended, "
        f"{report.duplicates} duplicates, {len(report.skipped)} skipped{_covered(report.covered)}; "
        f"head seq {report.seq}{skipped}"
    )


def sync(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Argument(metavar="EXCHANGE", help="The ccxt id of the exchange, e.g. binance.")],
    symbols: Annotated[
        list[str] | None,
        typer.Option(
            "--symbols",
            metavar="SYMBOL",
            help="A unified symbol to sync, repeatable (or comma-separated).",
            show_default="the symbols the ledger holds for this exchange",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="TIME", help="Start here (ISO 8601) instead of the stored cursors.", show_default="the cursors"
        ),
    ] = None,
    account: AccountOption = "default",
    json_output: JsonOption = False,
) -> None:
    """Fetch trades, funding and transfers through ccxt from the stored cursors and append them (idempotent);
    the keys come from TRADELEDGER_<EXCHANGE>_API_KEY, _SECRET and _PASSWORD."""
    named = [part.strip() for text in symbols or () for part in text.split(",")]
    wanted = syncing.checked_symbols([symbol for symbol in named if symbol])
    start = parse_time(since, "--since") if since is not None else None
    client = syncing.connect(exchange, os.environ)
    with opened(ctx, writes=True) as ledger, progress_bar(f"syncing {exchange}") as update:
        refuse_case_rival(exchange, ledger.exchanges(), f"sync {exchange!r}")  # before the exchange is asked anything
        pages = itertools.count(1)
        report = syncing.sync(
            ledger, client, exchange=exchange, account=account, symbols=wanted, since=start,
            on_page=lambda: update(next(pages)),
        )  # fmt: skip
    if json_output:
        emit(report.summary())
    else:
        _print_sync(exchange, report)


def _print_sync(exchange: str, report: SyncReport) -> None:
    lines = [
        f"  {stream.label!r}: {stream.appended} appended, {stream.duplicates} duplicates, "
        f"{stream.skipped} skipped{_covered(stream.covered)}, {stream.pages} page(s)"
        for stream in report.streams
    ] + [f"  {gap.stream!r}: not synced: {gap.reason}" for gap in report.unavailable]
    lines += [
        f"  {stream.label!r}: {entry['id']!r} still {entry['status']} after {syncing.HOLD_DAYS} days ({entry['at']}): "
        f"no longer held; if it settles, sync again with --since {entry['at']}"
        for stream in report.streams
        for entry in stream.unsettled
    ]
    covered = _covered(sum(stream.covered for stream in report.streams))
    out().print(
        f"synced {exchange!r}: {report.appended} appended, {report.duplicates} duplicates, "
        f"{report.skipped} skipped{covered}; head seq {report.seq}" + "".join(f"\n{line}" for line in lines)
    )


def _covered(count: int) -> str:
    """The trades the fills recorded live covered (exchanges/ccxt/covering.py), said only when there are some."""
    return f", {count} covered by fills recorded live" if count else ""


def reconcile(
    ctx: typer.Context,
    balances: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="A fetch_balance() answer as JSON."),
    ] = None,
    trades: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="A fetch_my_trades() answer as JSON."),
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="The exchange to compare.", show_default="the account's only exchange"),
    ] = None,
    account: AccountOption = "default",
    tolerance: Annotated[
        list[str] | None,
        typer.Option(metavar="CURRENCY=AMOUNT", help="A difference this small in CURRENCY is dust (repeatable)."),
    ] = None,
    contract_size: ContractSizeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare the ledger with the exchange: balances against fetch_balance()'s total, the trade list
    against the log (missing, unknown, conflicting); exit 1 on any difference."""
    allowed = parse_tolerances(tolerance or [])
    sizes = parse_contract_sizes(contract_size or [])
    balance = read_balance(balances) if balances is not None else None
    listed = read_entries(trades) if trades is not None else None
    with opened(ctx) as ledger:
        name = exchange_named(ledger, account, exchange)
        result = reconciling.reconcile(
            ledger,
            exchange=name,
            account=account,
            balance=balance,
            trades=listed,
            tolerances=allowed,
            contract_sizes=sizes,
        )
    if json_output:
        emit(reconciliation_json(result))
    else:
        print_reconciliation(out(), result)
    if not result.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)
