"""The whole text of multi-row tables, as Rich alone drew them before issue 19 (tests/fixtures/golden/tables_*.txt,
written by the base commit's code): piped (120 columns, no colour) and on a colour terminal (FORCE_COLOR).

Since issue 19 `print_table` writes plain rows itself and hands Rich the rest (cli/table_body.py); these
ledgers hold rows of both kinds: plain ASCII, and accounts Rich must draw (a non-ASCII letter, an emoji code,
a name that folds at 80 columns).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import GOLDEN
from tests.e2e.test_cli import run_module

ACCOUNTS = ["default", "café", ":+1:", "a-rather-long-account-name-for-a-narrow-terminal"]
COMMANDS = [
    ["gains", "--method", "fifo"],
    ["lots", "--method", "hifo"],
    ["positions", "--closed"],
    ["balances"],
]
TERMINALS = {
    "piped": {"COLUMNS": "120"},
    "narrow": {"COLUMNS": "80"},
    "colour": {"COLUMNS": "120", "FORCE_COLOR": "1", "COLORTERM": "truecolor", "TERM": "xterm-256color"},
}


def fills() -> list[dict[str, str]]:
    """Per account: three buys, two sells (a closed cycle, matched lots, an open lot), at fixed times."""
    lines = []
    for a, account in enumerate(ACCOUNTS):
        for i, (side, quantity, price) in enumerate(
            [
                ("buy", "1", "100"),
                ("buy", "0.5", "120.5"),
                ("sell", "1.5", "130"),
                ("buy", "2", "90"),
                ("sell", "1", "95"),
            ]
        ):
            lines.append(
                {
                    "fill_id": f"{a}-{i}",
                    "account": account,
                    "exchange": "kraken",
                    "symbol": "BTC/USD" if a % 2 else "ETH/USDT",
                    "side": side,
                    "quantity": quantity,
                    "price": price,
                    "fee": "0.25" if i % 2 else "-0.1",
                    "occurred_at": f"202{4 + i // 3}-0{1 + i}-0{1 + a}T10:0{i}:00Z",
                }
            )
    return lines


def printed(tmp_path: Path) -> str:
    """Every command's output on every terminal, one after the other under a heading."""
    events = tmp_path / "fills.ndjson"
    events.write_text("".join(json.dumps(line) + "\n" for line in fills()), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run_module("--db", url, "import", str(events), cwd=tmp_path).returncode == 0
    parts = []
    for name, env in TERMINALS.items():
        for command in COMMANDS:
            result = run_module("--db", url, *command, cwd=tmp_path, env={"NO_COLOR": "", **env})
            assert result.returncode == 0, result.stderr
            parts.append(f"=== {name}: {' '.join(command)}\n{result.stdout}")
    return "".join(parts)


@pytest.mark.slow
def test_multi_row_tables_print_the_text_rich_drew_before(tmp_path: Path) -> None:
    expected = (GOLDEN / "tables.txt").read_text(encoding="utf-8")

    assert printed(tmp_path) == expected
