"""Tiny amounts in the tables and on the report's page: a nonzero amount never prints as 0 (nor a negative as -0).

A SHIB/BTC trade as an exchange fills it: 25,000,000 SHIB at 3.1E-10 BTC, a fee of 1E-12 BTC, then 10,000,000 sold
at 3.3E-10 (fee 1E-12). Rounded to 8 places every price and fee here is 0, and the realized 0.0002 BTC is 0.00 to
the cent. The display rule: ordinary values as before (8 places for quantities and prices, the cent for money); a
nonzero value that would round to 0 is shown to its first 4 significant digits.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli


def record(cli: Cli, fill_id: str, side: str, quantity: str, price: str, day: int) -> None:
    cli("record", "--fill-id", fill_id, "--exchange", "binance", "--symbol", "SHIB/BTC", "--side", side,
        "--quantity", quantity, "--price", price, "--fee", "1E-12", "--time", f"2024-01-0{day}T00:00:00Z")  # fmt: skip


@pytest.fixture
def shib(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("COLUMNS", "200")  # every column of every table
    record(cli, "s1", "buy", "25000000", "3.1E-10", 2)
    record(cli, "s2", "sell", "10000000", "3.3E-10", 3)
    return cli


def rows(text: str) -> list[list[str]]:
    """The body rows of the tables printed, as their cells' text."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]


# avg 3.1E-10; realized (3.3E-10 - 3.1E-10) x 10,000,000 = 0.0002; fees 2E-12; net 0.000199999998 -> 0.0002
POSITION = ["SHIB/BTC", "long", "15000000", "0.00000000031", "0.0002", "0.000000000002", "0.0002", "#1"]


@pytest.mark.parametrize("command", ["positions", "replay"])
def test_positions_and_replay_show_the_price_fees_and_pnl_of_a_shib_btc_position(shib: Cli, command: str) -> None:
    text = shib(command).stdout

    assert rows(text) == [POSITION]
    assert "Lifetime: realized 0.0002, fees 0.000000000002, net 0.0002" in text


def test_a_mark_and_the_unrealized_pnl_at_it_are_shown(shib: Cli) -> None:
    text = shib("positions", "--mark", "SHIB/BTC=3.2E-10").stdout

    # unrealized (3.2E-10 - 3.1E-10) x 15,000,000 = 0.00015; of the cost 0.00465: 3.2258...%
    [row] = rows(text)
    assert row[7:10] == ["0.00000000032", "0.00015", "3.23"]
    assert "unrealized 0.00015" in text


def test_history_shows_each_price_and_fee(shib: Cli) -> None:
    cells = [row[5:8] for row in rows(shib("history").stdout)]

    assert cells == [["25000000", "0.00000000031", "0.000000000001"], ["10000000", "0.00000000033", "0.000000000001"]]


def test_lots_and_gains_show_unit_costs_proceeds_and_gains(shib: Cli) -> None:
    # unit cost (0.00775 + 1E-12) / 25,000,000 = 3.1000000000004E-10; proceeds 0.0033 - 1E-12, cost 0.0031 + 4E-13
    [lot] = rows(shib("lots").stdout)
    [gain] = rows(shib("gains", "--method", "fifo").stdout)

    assert lot[2:4] == ["15000000", "0.00000000031"]
    assert gain[7:10] == ["0.0033", "0.0031", "0.0002"]


def test_a_negative_balance_of_one_e_minus_12_prints_with_its_sign_never_as_minus_zero(shib: Cli) -> None:
    shib("record-transfer", "--transfer-id", "w1", "--account", "dust", "--exchange", "binance", "--currency", "BTC",
         "--amount", "-0.000000000001", "--kind", "withdrawal", "--time", "2024-01-04T00:00:00Z")  # fmt: skip

    balances = {(row[0], row[2]): row[3] for row in rows(shib("balances").stdout)}

    # default: -0.00775 - 1E-12 + 0.0033 - 1E-12 = -0.004450000000002 BTC (8 places: -0.00445)
    assert balances == {
        ("default", "BTC"): "-0.00445",
        ("default", "SHIB"): "15000000",
        ("dust", "BTC"): "-0.000000000001",
    }


def test_the_report_page_shows_every_nonzero_amount_as_nonzero(shib: Cli, tmp_path: Path) -> None:
    page_path = tmp_path / "report.html"
    shib("report", "--html", str(page_path))
    page = page_path.read_text()

    assert '<td class="num" title="0.00000000031">0.00000000031</td>' in page
    assert '<td class="num" title="0.000000000002">0.000000000002</td>' in page
    hidden = [
        (exact, shown)
        for exact, shown in re.findall(r'title="(-?[\d.]+)">([^<]*)<', page)
        if Decimal(exact) != 0 and re.fullmatch(r"-?0(\.0*)?", shown.split(" ")[0])
    ]
    assert hidden == []


@pytest.mark.parametrize(
    ("helper", "value", "shown"),
    [
        ("shown", "3.1E-10", "0.00000000031"),
        ("shown", "-1E-12", "-0.000000000001"),
        ("shown", "0.000000001234567", "0.000000001235"),  # its first 4 significant digits, half-even
        ("money", "-0.001", "-0.001"),
        ("money", "0.0002", "0.0002"),
        ("page", "3.1E-10", "0.00000000031"),
        ("page", "-1E-12", "-0.000000000001"),
        ("cents", "-0.001", "-0.001"),
    ],
)
def test_every_display_helper_shows_a_tiny_amount_as_nonzero(helper: str, value: str, shown: str) -> None:
    from tradeledger.cli import output, report_view  # noqa: PLC0415
    from tradeledger.domain.display import cents  # noqa: PLC0415

    helpers = {
        "shown": output.shown,
        "money": lambda v: output.money(v).plain,
        "page": report_view.shown,
        "cents": cents,
    }
    assert helpers[helper](Decimal(value)) == shown
