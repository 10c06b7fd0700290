"""A command's exchange filter (`reconcile --exchange`, `report --reconcile-exchange`) naming an exchange the ledger
does not hold but that differs only in case from one it holds is refused, naming both: one line on stderr, exit 2,
nothing printed or written (the ledger holds one spelling per exchange, see tests/integration/
test_exchange_spelling_cli.py). A name the ledger does not hold in any case is compared as before: nothing booked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

T = "2026-12-01T10:00:00+00:00"


def record(cli: Cli, exchange: str) -> None:
    cli("record", "--fill-id", "a", "--exchange", exchange, "--symbol", "BTC/USDT", "--side", "buy",
        "--quantity", "1", "--price", "90000", "--time", T)  # fmt: skip


def balance_file(tmp_path: Path, total: dict[str, str]) -> str:
    path = tmp_path / "balance.json"
    path.write_text(json.dumps({"info": {}, "total": total, "free": total, "used": {}}))
    return str(path)


def refused_once(cli: Cli, *args: str) -> str:
    """The one line a refused command prints on stderr (exit 2, nothing on stdout)."""
    result = cli(*args, expect=2)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    line: str = result.stderr
    return line.rstrip("\n")


@pytest.mark.parametrize("json_output", [[], ["--json"]], ids=["table", "json"])
def test_reconcile_of_an_exchange_spelled_in_another_case_is_refused_naming_both(
    cli: Cli, tmp_path: Path, json_output: list[str]
) -> None:
    record(cli, "binance")
    balances = balance_file(tmp_path, {"BTC": "1", "USDT": "-90000"})

    line = refused_once(cli, "reconcile", "--balances", balances, "--exchange", "Binance", *json_output)

    assert line == "error: --exchange: 'Binance' differs only in case from 'binance' already in the ledger"


@pytest.mark.parametrize(
    ("held", "named"),
    [
        ("[bold]Kraken[/bold]", "[BOLD]kraken[/BOLD]"),  # Rich markup: printed as written
        ("straße", "STRASSE"),  # Unicode's full case folding
        ("it's", "IT'S"),  # a quote inside: quoted as Python writes it
    ],
)
def test_a_hostile_name_differing_only_in_case_is_refused_and_printed_as_written(
    cli: Cli, tmp_path: Path, held: str, named: str
) -> None:
    record(cli, held)
    balances = balance_file(tmp_path, {"BTC": "1"})

    line = refused_once(cli, "reconcile", "--balances", balances, "--exchange", named)

    assert line == f"error: --exchange: {named!r} differs only in case from {held!r} already in the ledger"


@pytest.mark.parametrize("json_output", [[], ["--json"]], ids=["line", "json"])
def test_report_reconciling_an_exchange_spelled_in_another_case_is_refused_and_writes_no_page(
    cli: Cli, tmp_path: Path, json_output: list[str]
) -> None:
    record(cli, "binance")
    balances = balance_file(tmp_path, {"BTC": "1", "USDT": "-90000"})
    page = tmp_path / "r.html"

    line = refused_once(
        cli, "report", "--html", str(page), "--reconcile-balances", balances, "--reconcile-exchange", "BINANCE",
        *json_output,
    )  # fmt: skip

    assert line == "error: --reconcile-exchange: 'BINANCE' differs only in case from 'binance' already in the ledger"
    assert not page.exists()


def test_reconcile_of_an_exchange_the_ledger_does_not_hold_in_any_case_finds_nothing_booked(
    cli: Cli, tmp_path: Path
) -> None:
    record(cli, "binance")

    result = cli.json("reconcile", "--balances", balance_file(tmp_path, {}), "--exchange", "kraken")

    assert result["balances"] == []
    assert result["trades"] == {"missing": [], "unknown": [], "conflicting": []}


def test_reconcile_of_the_spelling_the_ledger_holds_compares_it(cli: Cli, tmp_path: Path) -> None:
    record(cli, "binance")

    result = cli.json("reconcile", "--balances", balance_file(tmp_path, {"BTC": "1", "USDT": "-90000"}),
                      "--exchange", "binance")  # fmt: skip

    assert [(row["currency"], row["ledger"], row["difference"]) for row in result["balances"]] == [
        ("BTC", "1", "0"),
        ("USDT", "-90000", "0"),
    ]
