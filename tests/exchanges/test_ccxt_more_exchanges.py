"""Exchanges beyond the six recorded ones, through `tradeledger ingest ccxt` as a user runs it on a file of
ccxt 4.5.90 output (tests/fixtures/ccxt-recorded, each file's raw source named in its README).

Expected values are worked out by hand from the entries and written out.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tradeledger.cli import app
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-recorded"


def tradeledger(db: Path, *args: str) -> tuple[int, Any]:
    """Run the CLI on the ledger file `db`; (exit code, its JSON output or its text)."""
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


def balances(db: Path) -> dict[str, Decimal]:
    code, shown = tradeledger(db, "balances", "--json")
    assert code == 0, shown
    return {row["currency"]: Decimal(row["amount"]) for row in shown["balances"]}


def test_hyperliquid_funding_records_sharing_the_zero_hash_are_three_payments(tmp_path: Path) -> None:
    # hyperliquid writes the hash 0x000…0 on every funding record (ccxt makes it the id): the payment is
    # told apart by its symbol and time. 75.635093 + 75.635093 + 80.12 = 231.390186 USDC received.
    db, file = tmp_path / "ledger.db", str(RECORDED / "hyperliquid-funding.json")

    assert tradeledger(db, "ingest", "ccxt", file, "--exchange", "hyperliquid", "--json") == (
        0,
        {"appended": 3, "duplicates": 0, "skipped": 0, "seq": 3},
    )
    assert balances(db) == {"USDC": Decimal("231.390186")}
    assert tradeledger(db, "ingest", "ccxt", file, "--exchange", "hyperliquid", "--json") == (
        0,
        {"appended": 0, "duplicates": 3, "skipped": 0, "seq": 3},
    )


def test_a_funding_entry_without_an_id_of_its_own_is_named_by_its_symbol_and_time() -> None:
    entries = json.loads((RECORDED / "hyperliquid-funding.json").read_text(), parse_float=Decimal)
    no_id = {**entries[0], "id": None}
    real = {**entries[0], "id": "8812"}

    mapped = map_entries([entries[0], no_id, real], exchange="hyperliquid", kind=Kind.FUNDING)

    assert [event.event_id for _, event in mapped.events] == [
        "SOL/USDC:USDC@1734026400057",
        "SOL/USDC:USDC@1734026400057",
        "SOL/USDC:USDC:8812",
    ]
