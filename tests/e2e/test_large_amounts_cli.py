"""Amounts at the ledger's limits through the CLI's tables: every stored amount has at most 28 digits, but
rounded to a table's 8 places (or a cent) one of more than 20 integer digits has more; the tables show it."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Cli


def fill(fill_id: str, symbol: str, side: str, quantity: str, price: str) -> list[str]:
    return ["record", "--fill-id", fill_id, "--exchange", "x", "--symbol", symbol, "--side", side,
            "--quantity", quantity, "--price", price, "--time", "2024-01-02T00:00:00Z"]  # fmt: skip


@pytest.fixture
def huge(cli: Cli) -> Cli:
    """1E+20 PEPE bought at 0.000001 and sold at 0.000002 (a 28-digit quantity of 21 integer digits), and
    1 BIG bought at 1E+24 (a price whose realized PnL and cost run to 25 digits)."""
    cli(*fill("p1", "PEPE/USDT", "buy", "100000000000000000000.1234567", "0.000001"))
    cli(*fill("p2", "PEPE/USDT", "sell", "50000000000000000000", "0.000002"))
    cli(*fill("b1", "BIG/USDT", "buy", "1", "1000000000000000000000000"))
    return cli


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["positions", "--closed", "--mark", "BIG/USDT=1000000000000000000000001"], "50000000000000000000.1234567"),
        (["balances"], "50000000000000000000.1234567"),
        (["history"], "100000000000000000000.1234567"),
        (["replay", "--initial-balance", "2000000000000000000000000"], "50000000000000000000.1234567"),
        (["lots"], "50000000000000000000.1234567"),
    ],
)
def test_every_table_shows_amounts_of_more_than_twenty_integer_digits(
    huge: Cli, command: list[str], shown: str
) -> None:
    out = huge(*command).stdout

    assert shown in out, out
