"""The Fee cell of `history` and `watch`: a fee paid in a currency other than the quote is shown in that currency
(never only as its quote value, which a reader takes for a quote amount); `--json` keeps its shape."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Cli


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for every column (set before the first command: the console keeps its width)."""
    monkeypatch.setenv("COLUMNS", "250")


def record(cli: Cli, fill_id: str, *fees: str) -> None:
    arguments = ["--fill-id", fill_id, "--symbol", "BTC/USDT", "--side", "buy", "--quantity", "1"]
    cli("record", *arguments, "--price", "50000", "--time", "2026-03-01T10:00:00Z", *fees)


def history_fee_cells(cli: Cli) -> list[str]:
    """The Fee column's cells of `history` on a wide terminal, top to bottom."""
    lines = [line for line in cli("history").stdout.splitlines() if line.startswith("│")]
    return [line.split("│")[-3].strip() for line in lines]


def test_history_shows_a_base_fee_in_the_base_currency(cli: Cli) -> None:
    record(cli, "base", "--fee", "0.001:BTC")
    record(cli, "quote", "--fee", "12.5")

    assert history_fee_cells(cli) == ["0.001 BTC", "12.5"]


def test_history_shows_several_fees_each_in_its_currency(cli: Cli) -> None:
    record(cli, "many", "--fee", "1.5", "--fee", "0.001:BTC", "--fee", "0.02:BNB:6.1", "--fee", "3:FEE")

    assert history_fee_cells(cli) == ["1.5 USDT + 0.001 BTC + 0.02 BNB (6.1 USDT) + 3 FEE unvalued"]


def test_history_shows_a_valued_fee_of_another_currency_in_that_currency(cli: Cli) -> None:
    record(cli, "bnb", "--fee", "0.02:BNB:6.1")

    assert history_fee_cells(cli) == ["0.02 BNB (6.1 USDT)"]


def test_watch_shows_a_base_fee_in_the_base_currency(cli: Cli) -> None:
    record(cli, "base", "--fee", "0.001:BTC")

    line = cli("watch", "--until-seq", "1").stdout.strip()

    assert line.startswith("#1 fill base BTC/USDT buy 1 50000 0.001 BTC (")


def test_the_json_of_history_and_watch_keep_the_quote_value_as_fee_and_the_fees_as_written(cli: Cli) -> None:
    record(cli, "base", "--fee", "0.001:BTC")

    (event,) = cli.json("history")
    watched = cli.json("watch", "--until-seq", "1")["event"]

    assert (event["fee"], event["fees"]) == ("50", [{"amount": "0.001", "currency": "BTC"}])
    assert (watched["fee"], watched["fees"]) == ("50", [{"amount": "0.001", "currency": "BTC"}])
