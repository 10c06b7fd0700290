"""`tradeledger report --html` held to the commands that answer the same question (helper-65): the chart's last
points against the wallet table and `replay --until-time --initial-balance`, the summary against the head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_report import Tables, make_report, point_values
from tradeledger import open_ledger

PERP = "BTC/USDT:USDT"


def perp_fill(fill_id: str, hour: int) -> dict[str, Any]:
    return {
        "fill_id": fill_id,
        "exchange": "x",
        "symbol": PERP,
        "side": "buy",
        "quantity": "1",
        "price": "100",
        "occurred_at": f"2026-03-01T{hour:02d}:00:00Z",
    }


def funding(hour: int, amount: str = "7") -> dict[str, Any]:
    return {
        "type": "funding",
        "funding_id": "FU",
        "exchange": "x",
        "symbol": PERP,
        "amount": amount,
        "currency": "USDT",
        "occurred_at": f"2026-03-01T{hour:02d}:00:00Z",
    }


@pytest.mark.parametrize(
    ("events", "cash", "net"),
    [
        # F1 at 01:00, F2 at 03:00, then the funding of +7 that occurred at 02:00 (reported late): as of F2 the
        # wallet holds 1000 - 100 - 100 + 7 = 807 (the wallet table's cash, and replay --until-time 03:00's)
        ([perp_fill("F1", 1), perp_fill("F2", 3), funding(2)], ["900", "807"], ["0", "7"]),
        # F1 at 01:00, the funding at 05:00, then F2 that occurred at 02:00 (reported late): as of F2 the
        # funding has not happened yet, so the cash is 800, like the net line without it
        ([perp_fill("F1", 1), funding(5), perp_fill("F2", 2)], ["900", "800"], ["0", "0"]),
    ],
)
def test_the_charts_cash_takes_each_funding_payment_at_the_time_it_occurred_like_the_net_line(
    cli: Cli, tmp_path: Path, events: list[dict[str, Any]], cash: list[str], net: list[str]
) -> None:
    with open_ledger(cli.url) as ledger:
        for event in events:
            ledger.record(event)

    _, page = make_report(cli, tmp_path / "report.html", "--initial-balance", "1000")

    assert point_values(page, "cash") == cash
    assert point_values(page, "net") == net
    last = max(event["occurred_at"] for event in events if "fill_id" in event)
    wallet = cli.json("replay", "--initial-balance", "1000", "--until-time", last)["wallet"]
    assert wallet["cash"] == cash[-1]


def test_a_funding_payment_that_takes_the_cash_below_zero_is_flagged_as_an_overdraft(cli: Cli, tmp_path: Path) -> None:
    with open_ledger(cli.url) as ledger:
        ledger.record(perp_fill("F1", 1))  # from 100: pays 100, cash 0
        ledger.record(funding(2, "-5"))  # pays 5 of funding: cash -5

    _, page = make_report(cli, tmp_path / "report.html", "--initial-balance", "100")

    assert Tables(page).tables["wallet"][0:2] == [["Initial balance B0", "100.00"], ["Cash", "-5.00"]]
    assert cli.json("replay", "--initial-balance", "100")["wallet"]["cash"] == "-5"
    assert Tables(page).texts["wallet-overdraft"] == (
        "Overdraft: the cash went below zero, first after seq 2 (-5.00), lowest -5.00 after seq 2. "
        "A cash-secured wallet cannot spend more than it holds: the starting balance is too low for "
        "these fills, or they did not go through this wallet."
    )
