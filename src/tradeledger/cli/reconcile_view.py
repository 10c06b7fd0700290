"""What `reconcile` prints: its JSON (spec section 10) and its table of balances, then the trades that differ."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from tradeledger.cli.output import shown
from tradeledger.cli.tables import Column, print_table
from tradeledger.domain.fills import decimal_text
from tradeledger.exchanges.ccxt.reconciling import Reconciliation, TradeDifference


def _difference_json(difference: TradeDifference) -> dict[str, Any]:
    return {
        "fill_id": difference.fill_id,
        "symbol": difference.symbol,
        "entry": difference.entry,
        "seq": difference.seq,
        "fields": list(difference.fields),
    }


def reconciliation_json(result: Reconciliation) -> dict[str, Any]:
    """`reconcile --json` (spec section 10)."""
    return {
        "seq": result.seq,
        "balances": [
            {
                "account": row.account,
                "exchange": row.exchange,
                "currency": row.currency,
                "ledger": decimal_text(row.ledger),
                "exchange_total": decimal_text(row.exchange_total),
                "difference": decimal_text(row.difference),
                "cause": row.cause,
            }
            for row in result.balances
        ],
        "trades": {
            "missing": [_difference_json(d) for d in result.missing],
            "unknown": [_difference_json(d) for d in result.unknown],
            "conflicting": [_difference_json(d) for d in result.conflicting],
        },
    }


def print_reconciliation(console: Console, result: Reconciliation) -> None:
    """The balances side by side with their differences and causes, then the trades that differ."""
    rows = [
        [
            r.account,
            r.exchange,
            r.currency,
            shown(r.ledger),
            shown(r.exchange_total),
            shown(r.difference),
            r.cause or "",
        ]
        for r in result.balances
    ]
    columns = [
        Column("Account", wraps=True, left=True),
        Column("Exchange", wraps=True, left=True),
        Column("Currency", left=True),
        Column("Ledger"),
        Column("Exchange total"),
        Column("Difference"),
        Column("Cause", wraps=True, left=True),
    ]
    if rows:
        print_table(console, f"Reconciliation: seq {result.seq}", columns, rows, empty="")
    for title, found in (("missing from the ledger", result.missing), ("unknown to the exchange", result.unknown)):
        for d in found:
            where = f"entry {d.entry}" if d.entry is not None else f"seq {d.seq}"
            console.print(f"{title}: {d.fill_id} ({d.symbol}, {where})")
    for d in result.conflicting:
        console.print(f"conflicting: {d.fill_id} (entry {d.entry}, seq {d.seq}): {', '.join(d.fields)} differ")
    console.print("reconcile: ok, the ledger agrees with the exchange" if result.ok else "reconcile: DIFFERENCES")
