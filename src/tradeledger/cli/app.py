"""The tradeledger command line: record, import, positions, replay, history, verify, copy, demo."""

from __future__ import annotations

import itertools
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from tradeledger.application.anchoring import parse_public_key
from tradeledger.application.copying import copy_ledger, events_to_copy
from tradeledger.application.exporting import is_export
from tradeledger.application.verification import VerifyReport
from tradeledger.bootstrap import open_ledger, open_store
from tradeledger.cli import admin as admin_commands
from tradeledger.cli import anchor as anchor_commands
from tradeledger.cli import demo as demo_session
from tradeledger.cli import migration as migration_commands
from tradeledger.cli import report as report_commands
from tradeledger.cli.anchor import read_anchor_files
from tradeledger.cli.common import (
    EXIT_INVALID,
    EXIT_VERIFY_FAILED,
    JsonOption,
    emit,
    err,
    ledger_url,
    opened,
    out,
    parse_amount,
    parse_marks,
    parse_time,
    print_error,
    progress_bar,
    refuse_in_memory,
    reports_errors,
)
from tradeledger.cli.helptext import LedgerGroup
from tradeledger.cli.ndjson import read_fills, split_lines
from tradeledger.cli.output import (
    print_history,
    print_rollbacks,
    print_state,
    print_wallet,
    recorded_json,
    short_hash,
    state_json,
    verify_json,
    wallet_json,
)
from tradeledger.compat.config import load_bot_config
from tradeledger.compat.paper_bot import CycleReport, PaperTradingLoop, cents, load_price_series
from tradeledger.domain.fills import Side, decimal_text
from tradeledger.errors import FillConflict, InvalidArgument, InvalidFill

app = typer.Typer(
    name="tradeledger",
    help="An event-sourced position ledger: every fill an immutable event, positions projected from the log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LedgerGroup,
)


@app.callback()
def configure(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="URL", help="Database URL. Default: $TRADELEDGER_URL, else sqlite:///tradeledger.db."
        ),
    ] = None,
) -> None:
    ctx.obj = db


@app.command()
@reports_errors
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


@app.command("import")
@reports_errors
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
        summary = admin_commands.import_export(ctx.obj, lines)
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


@app.command()
@reports_errors
def positions(
    ctx: typer.Context,
    closed: Annotated[bool, typer.Option("--closed", help="Also list closed position cycles.")] = False,
    account: Annotated[str | None, typer.Option(help="Only this account (totals too).")] = None,
    mark: Annotated[
        list[str] | None, typer.Option(metavar="SYMBOL=PRICE", help="SYMBOL=PRICE for unrealized PnL; repeatable.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Open positions (and closed cycles) from the stored projection."""
    marks = parse_marks(mark or [])
    with opened(ctx) as ledger:
        state = ledger.state(account=account)
    if json_output:
        emit(state_json(state, closed=closed, marks=marks))
    else:
        print_state(out(), state, closed=closed, marks=marks, title="Positions")


@app.command()
@reports_errors
def replay(
    ctx: typer.Context,
    until_seq: Annotated[int | None, typer.Option(min=0, metavar="SEQ", help="Stop after this seq.")] = None,
    until_time: Annotated[
        str | None, typer.Option(metavar="TIME", help="Only fills that occurred at or before this time.")
    ] = None,
    initial_balance: Annotated[
        str | None,
        typer.Option(
            "--initial-balance",
            metavar="DECIMAL",
            help="Also replay the paper wallet (spec 5) from this starting cash.",
        ),
    ] = None,
    account: Annotated[str, typer.Option("--account", help="Whose paper wallet to replay.")] = "default",
    json_output: JsonOption = False,
) -> None:
    """The state (and, with --initial-balance, the paper wallet) as of a seq or a time, from the log alone."""
    if until_seq is not None and until_time is not None:
        raise InvalidArgument("replay takes --until-seq or --until-time, not both")
    when = parse_time(until_time, "--until-time") if until_time is not None else None
    balance = None if initial_balance is None else parse_amount(initial_balance, "--initial-balance")
    with opened(ctx) as ledger:
        head = ledger.head.seq
        if until_seq is not None and until_seq > head:
            raise InvalidArgument(
                f"--until-seq: the log ends at seq {head} (got {until_seq}); give a seq from 0 to {head}"
            )
        state = ledger.replay(until_seq=until_seq, until_time=when)
        wallet = (
            None
            if balance is None
            else ledger.replay_wallet(balance, account=account, until_seq=until_seq, until_time=when)
        )
    if json_output:
        shown = state_json(state, closed=True, marks={})
        emit(shown if wallet is None else {**shown, "wallet": wallet_json(account, wallet)})
    else:
        print_state(out(), state, closed=True, marks={}, title="Replay")
        if wallet is not None:
            print_wallet(out(), account, wallet)


@app.command()
@reports_errors
def history(
    ctx: typer.Context,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    json_output: JsonOption = False,
) -> None:
    """The fill log in seq order, with hashes."""
    with opened(ctx) as ledger:
        fills = ledger.history(symbol=symbol, account=account)
    if json_output:
        emit([recorded_json(r) for r in fills])
    else:
        print_history(out(), fills)


@app.command()
@reports_errors
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
    with opened(ctx) as ledger:
        report = ledger.verify(anchors, trusted_key=trusted)
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


def print_anchors(console: Console, report: VerifyReport) -> None:
    for check in report.anchors:
        console.print(f"  anchor {check.source}: {check.status}: {check.detail}", highlight=False, soft_wrap=True)


def print_problems(report: VerifyReport) -> None:
    err().print(f"verify: FAILED — first bad seq {report.first_bad_seq}", highlight=False)
    for problem in report.problems:
        where = "ledger" if problem.seq is None else f"seq {problem.seq}"
        err().print(f"  {where}: {problem.check}: {problem.detail}", soft_wrap=True)


@app.command()
@reports_errors
def copy(
    source_url: Annotated[str, typer.Option("--from", help="The ledger to copy (a database URL).")],
    target_url: Annotated[
        str, typer.Option("--to", help="Where to copy it: an empty database, or one holding a prefix of it.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Copy a ledger to another database (e.g. SQLite to PostgreSQL) event for event, then verify the copy."""
    if source_url == target_url:
        raise InvalidArgument(f"--to: the same database as --from (got {target_url!r})")
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
                "seq": result.head.seq,
                "hash": result.head.hash,
                "verify": verify_json(result.verify),
            }
        )
    else:
        out().print(
            f"copied {result.copied} events ({result.already_there} already there); "
            f"head seq {result.head.seq}, hash {result.head.hash}"
        )
        if result.verify.ok:
            out().print(f"verify (target): ok — {result.verify.events} events, projection equals a fresh replay")
        else:
            print_problems(result.verify)
    if not result.verify.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)


@app.command()
@reports_errors
def demo(ctx: typer.Context) -> None:
    """The main job end to end on a fresh SQLite file: record a session, show PnL, replay, verify."""
    if ctx.obj is not None:
        refuse_in_memory(ctx.obj)
    url = ctx.obj or f"sqlite:///{Path(tempfile.mkdtemp(prefix='tradeledger-demo-')) / 'demo.db'}"
    with open_ledger(url) as ledger:
        if ledger.head.seq != 0:
            raise InvalidArgument(
                f"--db: the demo needs a fresh ledger, and {url} already holds {ledger.head.seq} events"
            )
        fills = demo_session.session_fills()
        out().rule(Text("tradeledger demo", style="bold"))
        out().print(f"Ledger: {url}\n")
        out().print(f"Recording {len(fills)} fills of a paper session on kraken, one durable transaction each:")
        for fill in fills:
            receipt = ledger.record(fill)
            out().print(
                f"  seq {receipt.seq:>2}  {fill['symbol']:<8} {fill['side']:<4} {fill['quantity']:>5}"
                f" @ {fill['price']:<7} fee {fill['fee']:<8} hash {short_hash(receipt.hash)}",
                highlight=False,
            )
        retried = fills[demo_session.RETRIED_FILL - 1]
        receipt = ledger.record(retried)
        out().print(
            f"\nThe exchange re-sends {retried['fill_id']} after a timeout: duplicate={receipt.duplicate}, "
            f"still seq {receipt.seq}; nothing is counted twice.\n"
        )
        print_state(out(), ledger.state(), closed=True, marks=demo_session.MARKS, title="Positions marked to market")
        out().print(
            f"\nReplaying the log to seq {demo_session.REPLAY_TO_SEQ} (just after the ETH flip), changing nothing:"
        )
        print_state(out(), ledger.replay(until_seq=demo_session.REPLAY_TO_SEQ), closed=True, marks={}, title="Replay")
        report = ledger.verify()
        out().print(
            f"\nverify: {'ok' if report.ok else 'FAILED'} — {report.events} events, hash chain intact, "
            f"stored positions equal a fresh replay; head {report.head.hash}"
        )
        if not report.ok:
            raise typer.Exit(EXIT_VERIFY_FAILED)
        out().print(f"\nTry: tradeledger --db {url} history")


@app.command("paper-bot")
@reports_errors
def paper_bot(
    ctx: typer.Context,
    cycles: Annotated[
        int, typer.Option("--cycles", help="Bars to trade in this run (it resumes where it stopped).")
    ] = 60,
    config: Annotated[
        Path | None, typer.Option("--config", help="The bot's YAML config (e.g. crypto_bot/config.yaml).")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option("--prices", help="A time,symbol,price CSV. Default: the bundled series.")
    ] = None,
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Where the legacy read-model files are written.")
    ] = Path("crypto_bot/logs"),
    json_output: JsonOption = False,
) -> None:
    """Paper-trade over a price series through TradeManager, PaperWallet and PositionMonitor."""
    if state_dir.exists() and not state_dir.is_dir():
        raise InvalidArgument(f"--state-dir: {state_dir} is a file, not a folder; nothing was traded")
    settings = load_bot_config(config) if config is not None else None
    series = load_price_series(prices)
    with opened(ctx, writes=True) as ledger:
        loop = PaperTradingLoop(ledger, settings, series, state_dir=state_dir)
        start = loop.next_index()
        if not json_output:
            out().print(
                f"paper bot: bar {start + 1} of {len(series)}, {cycles} cycle(s), ledger at seq {ledger.head.seq}"
            )
            out().print(f"ledger: {ledger_url(ctx.obj)}", highlight=False)
            out().print(f"legacy read-model files: {state_dir.absolute()}", highlight=False)
        reports = loop.run(cycles, report=(lambda _done: None) if json_output else print_cycle)
        report = ledger.verify()
        summary = {
            "cycles": len(reports),
            "next_bar": loop.next_index() + 1,
            "bars": len(series),
            "seq": ledger.head.seq,
            "consistent": all(done.consistent for done in reports),
            "warnings": [warning for done in reports for warning in done.warnings],
            "positions": reports[-1].counts if reports else loop.bot.position_counts(),
            "balance": None if loop.bot.paper_wallet is None else decimal_text(loop.bot.paper_wallet.balance),
            "verify": report.ok,
        }
        pnl = None if json_output else pnl_line(loop)
    if json_output:
        emit(summary)
    else:
        out().print(
            f"done: {summary['cycles']} cycle(s), ledger at seq {summary['seq']}, "
            f"{'no consistency warnings' if summary['consistent'] else 'CONSISTENCY WARNINGS'}, "
            f"verify {'ok' if report.ok else 'FAILED'}"
        )
        out().print(pnl, highlight=False, soft_wrap=True)
    if not report.ok or not summary["consistent"]:
        raise typer.Exit(EXIT_VERIFY_FAILED)


def pnl_line(loop: PaperTradingLoop) -> str:
    """The ledger's lifetime PnL, unrealized at the last bar traded, and the wallet's cash."""
    state = loop.ledger.state()
    totals = state.totals
    seen = loop.next_index()
    prices = loop.series[seen - 1].prices if seen else {}
    marked = sum(p.symbol in prices for p in state.open)
    line = (
        f"PnL: realized {cents(totals.realized_pnl)}, fees {cents(totals.fees)}, net {cents(totals.net_pnl)}, "
        f"unrealized {cents(state.unrealized_pnl(prices))} at the last bar's prices ({marked} open position(s))"
    )
    wallet = loop.bot.paper_wallet
    if wallet is not None:
        line += f"; cash {cents(wallet.balance)} (started {cents(loop.config.wallet_initial_balance)})"
    return line


def print_cycle(done: CycleReport) -> None:
    counts = " ".join(f"{view}={count}" for view, count in done.counts.items())
    balance = "" if done.balance is None else f" cash {cents(done.balance)}"
    out().print(f"cycle {done.cycle:>3} {done.time:%H:%M} positions {counts}{balance}", highlight=False, soft_wrap=True)
    for action in done.actions:
        out().print(f"    {action}", highlight=False)
    for warning in done.warnings:
        err().print(Text.assemble(("warning:", "yellow"), f" {warning}"))


app.command("report")(report_commands.report)
app.command("keygen")(reports_errors(anchor_commands.keygen))
app.command("checkpoint")(reports_errors(anchor_commands.checkpoint))


app.command("rollback")(reports_errors(admin_commands.rollback))
app.command("restore")(reports_errors(admin_commands.restore))
app.command("export")(reports_errors(admin_commands.export))


app.command("migrate")(migration_commands.migrate)
app.command("enable-sot")(migration_commands.enable_sot)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status instead of exiting.

    Every failure is one line on stderr and status 2: a usage error (Click's own message, without
    the usage box), and, as a last line of defence, an exception no command turned into a
    LedgerError (a bug: its type and message, never a traceback). Status 1 stays "verify failed".
    """
    try:
        status = app(args=argv, prog_name="tradeledger", standalone_mode=False)
    except typer.TyperException as error:  # Click's usage errors (Typer vendors Click)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        if message:  # `tradeledger` alone has printed its help already and has nothing to add
            context = getattr(error, "ctx", None)
            hint = f" (see: {context.command_path} --help)" if context is not None else ""
            print_error(f"{message}{hint}")
        return EXIT_INVALID
    except typer.Abort:  # Ctrl-C at a prompt
        print_error("aborted")
        return EXIT_INVALID
    except BrokenPipeError:  # the reader went away (`tradeledger history | head`): nothing left to say
        sys.stdout = None  # so the interpreter's final flush stays quiet
        return EXIT_INVALID
    except RecursionError:
        print_error("the input is nested too deep to read")
        return EXIT_INVALID
    except Exception as error:  # noqa: BLE001 - the process boundary: one line, never a traceback
        print_error(f"unexpected {type(error).__name__}: {error} (this is a bug in tradeledger; please report it)")
        return EXIT_INVALID
    return status if isinstance(status, int) else 0
