"""`paper-bot`: paper trading over a price series through the drop-in TradeManager, PaperWallet and monitor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from tradeledger.cli.common import EXIT_VERIFY_FAILED, JsonOption, emit, err, ledger_url, opened, out
from tradeledger.compat.files import DEFAULT_STATE_DIR
from tradeledger.domain.fills import decimal_text
from tradeledger.errors import InvalidArgument

if TYPE_CHECKING:
    from tradeledger.compat.paper_bot import CycleReport, PaperTradingLoop


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
    ] = DEFAULT_STATE_DIR,
    json_output: JsonOption = False,
) -> None:
    """Paper-trade over a price series through TradeManager, PaperWallet and PositionMonitor."""
    if state_dir.exists() and not state_dir.is_dir():
        raise InvalidArgument(f"--state-dir: {state_dir} is a file, not a folder; nothing was traded")
    # The legacy bot when it trades, not when the commands are registered (--help, the other commands).
    from tradeledger.compat.config import load_bot_config  # noqa: PLC0415
    from tradeledger.compat.paper_bot import PaperTradingLoop, load_price_series  # noqa: PLC0415

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
    from tradeledger.domain.display import cents  # noqa: PLC0415 - as the paper bot writes money

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
    from tradeledger.domain.display import cents  # noqa: PLC0415 - as the paper bot writes money

    counts = " ".join(f"{view}={count}" for view, count in done.counts.items())
    balance = "" if done.balance is None else f" cash {cents(done.balance)}"
    out().print(f"cycle {done.cycle:>3} {done.time:%H:%M} positions {counts}{balance}", highlight=False, soft_wrap=True)
    for action in done.actions:
        out().print(f"    {action}", highlight=False)
    for warning in done.warnings:
        err().print(Text.assemble(("warning:", "yellow"), f" {warning}"))
