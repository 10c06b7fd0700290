"""`gains` and `lots` write their outputs as they make them (issue 19): the JSON, the CSV worksheet and the tables
are the text they were when each was made whole, and a CSV that fails part way leaves nothing behind."""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console

from tests.e2e.conftest import Cli
from tests.factories import fill_fields
from tests.property.test_table_body import console_of, printed, rich_table
from tradeledger import Ledger
from tradeledger.cli import lots_output, table_body, tables
from tradeledger.cli.lots_output import print_gains, print_lots
from tradeledger.cli.output import dumps
from tradeledger.cli.tables import Cell, Column, Rows


def fill(fill_id: str, side: str, quantity: str, price: str, time: str, account: str = "default") -> list[str]:
    return ["record", "--fill-id", fill_id, "--exchange", "kraken", "--symbol", "BTC/USD", "--side", side,
            "--quantity", quantity, "--price", price, "--time", time, "--account", account]  # fmt: skip


ODD = 'kö "q",nto'


@pytest.fixture
def traded(cli: Cli) -> Cli:
    """Three lots (one on an account named with quotes, a comma and a non-ASCII letter), two sales, a withdrawal of
    more than that account's lot (under --withdrawals-dispose: a row at cost and a missing acquisition)."""
    cli(*fill("b1", "buy", "1", "100", "2024-01-01T00:00:00Z"))
    cli(*fill("b2", "buy", "2", "200", "2024-06-01T00:00:00Z"))
    cli(*fill("b3", "buy", "1", "50", "2024-06-02T00:00:00Z", account=ODD))
    cli(*fill("s1", "sell", "1.5", "300", "2025-02-01T00:00:00Z"))
    cli(*fill("s2", "sell", "0.5", "80", "2025-02-02T00:00:00Z", account=ODD))
    cli("record-transfer", "--transfer-id", "w1", "--exchange", "kraken", "--currency", "BTC", "--amount", "-1",
        "--kind", "withdrawal", "--time", "2025-03-01T00:00:00Z", "--account", ODD)  # fmt: skip
    return cli


@pytest.mark.parametrize(
    "arguments",
    [
        ["gains", "--method", "fifo", "--withdrawals-dispose"],
        ["gains", "--method", "hifo", "--year", "2024"],  # no rows, no missing: empty lists
        ["gains", "--method", "2024=fifo", "--method", "2025=lifo"],
        ["lots", "--method", "lifo"],
        ["lots", "--as-of", "2023-01-01T00:00:00Z"],
    ],
)
def test_the_json_written_as_it_is_made_is_the_json_of_the_whole_report(traded: Cli, arguments: list[str]) -> None:
    report = traded.json(*arguments)

    assert traded(*arguments, "--json").stdout == dumps(report) + "\n"


def test_a_gains_json_row_and_missing_acquisition_are_laid_out_as_dumps_lays_them_out(traded: Cli) -> None:
    text = traded("gains", "--method", "fifo", "--withdrawals-dispose", "--json").stdout

    assert '\n  "rows": [\n    {\n      "account": "default",\n      "currency": "BTC",\n' in text
    assert '\n    {\n      "account": "kö \\"q\\",nto",\n' in text
    assert '\n  "missing": [\n    {\n      "account": "kö \\"q\\",nto",\n      "currency": "BTC",\n' in text
    assert text.endswith('\n  "totals": {\n    "proceeds": "515",\n    "cost_basis": "250",\n    "gain": "265",\n'
                         '    "short": "65",\n    "long": "200"\n  }\n}\n')  # fmt: skip


def test_the_csv_written_a_few_rows_at_a_time_is_the_whole_worksheet(
    traded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lots_output, "CSV_CHUNK", 2)
    path = tmp_path / "gains.csv"

    result = traded("gains", "--method", "fifo", "--csv", str(path))

    assert result.stdout == f"wrote 3 rows to {path}\n"
    assert path.read_text(encoding="utf-8") == (
        "description,date acquired,date sold,proceeds,cost basis,gain,term\n"
        '"1 BTC (BTC/USD, account default)",2024-01-01,2025-02-01,300,100,200,long\n'
        '"0.5 BTC (BTC/USD, account default)",2024-06-01,2025-02-01,150,100,50,short\n'
        '"0.5 BTC (BTC/USD, account kö ""q"",nto)",2024-06-02,2025-02-02,40,25,15,short\n'
    )  # fmt: skip


def test_a_csv_that_fails_part_way_leaves_the_file_as_it_was_and_nothing_beside_it(
    traded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "gains.csv"
    path.write_text("last year's worksheet\n", encoding="utf-8")

    def fails_part_way(_report: object) -> Iterator[str]:
        yield "description,date acquired\n"
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tradeledger.cli.lots.gains_csv", fails_part_way)

    result = traded("gains", "--method", "fifo", "--csv", str(path), expect=2)

    assert result.stderr == f"error: --csv: {path}: No space left on device\n"
    assert path.read_text(encoding="utf-8") == "last year's worksheet\n"
    assert [p.name for p in path.parent.iterdir()] == ["gains.csv"]


def whole_table(console: Console, title: str, columns: Sequence[Column], rows: Rows, *, empty: str | None) -> None:
    """`print_table` as it was before its rows were streamed (the fitted case): every row's cells held, Rich
    drawing the whole table."""
    assert empty is not None
    cells: list[list[Cell]] = [list(row) for row in rows]
    rich_table(console, title, list(columns), cells)


@pytest.mark.parametrize(("kind", "width"), [("piped", 120), ("piped", 80), ("truecolor", 100)])
def test_a_table_of_many_rows_prints_what_the_whole_table_printed(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, kind: str, width: int
) -> None:
    """Forty buys and forty sales, every seventh on an account Rich draws row by row (non-ASCII), measured and
    written three rows at a time, printed five lines at a time."""
    accounts = ["konto-é" if i % 7 == 0 else f"acct-{i % 3}" for i in range(40)]
    ledger.record_many(
        [fill_fields(account=a, side="buy", quantity="1.25", price=str(100 + 3 * i)) for i, a in enumerate(accounts)]
        + [fill_fields(account=a, side="sell", quantity="1", price=str(90 + 5 * i)) for i, a in enumerate(accounts)]
    )
    gains, lots = ledger.gains("fifo"), ledger.lots("lifo")
    streamed, whole = console_of(kind, width), console_of(kind, width)
    monkeypatch.setattr(tables, "MEASURE_CHUNK", 3)
    monkeypatch.setattr(tables, "PART_LINES", 5)
    monkeypatch.setattr(table_body, "BODY_CHUNK", 3)

    print_gains(streamed, gains)
    print_lots(streamed, lots)
    monkeypatch.setattr(lots_output, "print_table", whole_table)
    print_gains(whole, gains)
    print_lots(whole, lots)

    assert (len(gains.rows), len(lots.lots)) == (62, 11)  # a sale takes from two lots; what is left, in 11
    assert printed(streamed) == printed(whole)
