"""`demo`: the main job end to end on a realistic morning of a bot on three symbols (adds, partial exits,
a flip), recorded into a fresh SQLite file."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from tradeledger.bootstrap import open_ledger
from tradeledger.cli.common import EXIT_VERIFY_FAILED, out, refuse_in_memory
from tradeledger.cli.output import print_state, short_hash
from tradeledger.errors import InvalidArgument
from tradeledger.storage.urls import has_password, shown_url

TAKER_FEE_RATE = Decimal("0.0026")
FEE_QUANTUM = Decimal("0.0001")
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

# (minutes after start, symbol, side, quantity, price, strategy)
SESSION: tuple[tuple[int, str, str, str, str, str], ...] = (
    (0, "BTC/USD", "buy", "0.5", "96000", "trend"),
    (3, "ETH/USD", "buy", "4", "3400", "momentum"),
    (11, "BTC/USD", "buy", "0.25", "95200", "trend"),  # add: average falls to 95733.33...
    (14, "SOL/USD", "sell", "40", "210", "mean_revert"),  # short
    (26, "ETH/USD", "sell", "1.5", "3480", "momentum"),  # partial exit
    (31, "BTC/USD", "sell", "0.3", "97100", "trend"),  # partial exit
    (38, "SOL/USD", "buy", "15", "204", "mean_revert"),  # partial cover
    (45, "ETH/USD", "sell", "4.5", "3520", "momentum"),  # flip: closes 2.5 long, opens 2 short
    (52, "BTC/USD", "sell", "0.45", "97800", "trend"),  # closes the BTC cycle
    (61, "ETH/USD", "buy", "2", "3495", "momentum"),  # closes the ETH short
    (67, "SOL/USD", "buy", "25", "201.5", "mean_revert"),  # closes the SOL short
    (74, "BTC/USD", "buy", "0.2", "97500", "trend"),  # a new BTC cycle
    (80, "SOL/USD", "buy", "30", "203", "mean_revert"),  # a new SOL long
    (88, "ETH/USD", "buy", "1.2", "3470", "momentum"),
)
MARKS = {"BTC/USD": Decimal(98150), "SOL/USD": Decimal("204.4"), "ETH/USD": Decimal("3462.5")}
REPLAY_TO_SEQ = 8  # just after the ETH flip
RETRIED_FILL = 6


def session_fills() -> list[dict[str, Any]]:
    """The session as fill fields, with kraken's taker fee on each notional."""
    fills = []
    for number, (minutes, symbol, side, quantity, price, strategy) in enumerate(SESSION, start=1):
        notional = Decimal(quantity) * Decimal(price)
        fills.append(
            {
                "fill_id": f"DEMO-{number:04d}",
                "exchange": "kraken",
                "symbol": symbol,
                "side": side,
                "quantity": quantity,
                "price": price,
                "fee": str((notional * TAKER_FEE_RATE).quantize(FEE_QUANTUM)),
                "occurred_at": (START + timedelta(minutes=minutes)).isoformat(),
                "strategy": strategy,
                "order_id": f"O-{number:04d}",
            }
        )
    return fills


def demo(ctx: typer.Context) -> None:
    """The main job end to end on a fresh SQLite file: record a session, show PnL, replay, verify."""
    if ctx.obj is not None:
        refuse_in_memory(ctx.obj)
    url = ctx.obj or f"sqlite:///{Path(tempfile.mkdtemp(prefix='tradeledger-demo-')) / 'demo.db'}"
    shown = shown_url(url)  # a password as ***
    with open_ledger(url) as ledger:
        if ledger.head.seq != 0:
            raise InvalidArgument(
                f"--db: the demo needs a fresh ledger, and {shown} already holds {ledger.head.seq} events"
            )
        fills = session_fills()
        out().rule(Text("tradeledger demo", style="bold"))
        out().print(f"Ledger: {shown}\n")
        out().print(f"Recording {len(fills)} fills of a paper session on kraken, one durable transaction each:")
        for fill in fills:
            receipt = ledger.record(fill)
            out().print(
                f"  seq {receipt.seq:>2}  {fill['symbol']:<8} {fill['side']:<4} {fill['quantity']:>5}"
                f" @ {fill['price']:<7} fee {fill['fee']:<8} hash {short_hash(receipt.hash)}",
                highlight=False,
            )
        retried = fills[RETRIED_FILL - 1]
        receipt = ledger.record(retried)
        out().print(
            f"\nThe exchange re-sends {retried['fill_id']} after a timeout: duplicate={receipt.duplicate}, "
            f"still seq {receipt.seq}; nothing is counted twice.\n"
        )
        print_state(out(), ledger.state(), closed=True, marks=MARKS, title="Positions marked to market")
        out().print(f"\nReplaying the log to seq {REPLAY_TO_SEQ} (just after the ETH flip), changing nothing:")
        print_state(out(), ledger.replay(until_seq=REPLAY_TO_SEQ), closed=True, marks={}, title="Replay")
        report = ledger.verify()
        out().print(
            f"\nverify: {'ok' if report.ok else 'FAILED'} — {report.events} events, hash chain intact, "
            f"stored positions equal a fresh replay; head {report.head.hash}"
        )
        if not report.ok:
            raise typer.Exit(EXIT_VERIFY_FAILED)
        # A command to copy, unless it would carry a password (then the user puts the URL in themselves).
        out().print(f"\nTry: tradeledger --db {'URL' if has_password(url) else url} history")
