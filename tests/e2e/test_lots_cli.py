"""Tax lots through the CLI (spec section 11): `gains` and `lots`, their JSON shapes, the CSV worksheet,
bad input, specific lots named in an imported file, and the report's gains section."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.e2e.conftest import Cli
from tradeledger.cli import app, main
from tradeledger.cli.common import method_values


def fill(fill_id: str, side: str, quantity: str, price: str, time: str, *more: str) -> list[str]:
    return ["record", "--fill-id", fill_id, "--exchange", "kraken", "--symbol", "BTC/USD", "--side", side,
            "--quantity", quantity, "--price", price, "--time", time, *more]  # fmt: skip


@pytest.fixture
def traded(cli: Cli) -> Cli:
    """Two lots in 2024 (1 @ 100 with a fee of 1, 1 @ 200), a sale of 1.5 @ 300 (fee 3) in 2025."""
    cli(*fill("b1", "buy", "1", "100", "2024-01-01T00:00:00Z", "--fee", "1"))
    cli(*fill("b2", "buy", "1", "200", "2024-06-01T00:00:00Z"))
    cli(*fill("s1", "sell", "1.5", "300", "2025-02-01T00:00:00Z", "--fee", "3"))
    return cli


def test_gains_json_has_exactly_the_shape_of_the_spec(traded: Cli) -> None:
    report = traded.json("gains", "--method", "fifo", "--year", "2025")

    assert report == {
        "seq": 3,
        "method": "fifo",
        "year": 2025,
        "rows": [
            {
                "account": "default",
                "currency": "BTC",
                "quantity": "1",
                "acquired_at": "2024-01-01T00:00:00.000000+00:00",
                "acquired_seq": 1,
                "disposed_at": "2025-02-01T00:00:00.000000+00:00",
                "disposed_seq": 3,
                "proceeds": "298",  # 300 less 2 of the fee of 3 (by quantity)
                "cost_basis": "101",
                "gain": "197",
                "term": "long",
            },
            {
                "account": "default",
                "currency": "BTC",
                "quantity": "0.5",
                "acquired_at": "2024-06-01T00:00:00.000000+00:00",
                "acquired_seq": 2,
                "disposed_at": "2025-02-01T00:00:00.000000+00:00",
                "disposed_seq": 3,
                "proceeds": "149",
                "cost_basis": "100",
                "gain": "49",
                "term": "short",
            },
        ],
        "missing": [],
        "totals": {"proceeds": "447", "cost_basis": "201", "gain": "246", "short": "49", "long": "197"},
    }


def test_gains_without_a_year_names_the_method_of_each_year(traded: Cli) -> None:
    report = traded.json("gains", "--method", "fifo", "--method", "2025=hifo", "--no-fees-in-basis")

    assert (report["year"], report["method"]) == (None, {"2025": "hifo"})
    assert [(r["acquired_seq"], r["quantity"], r["gain"]) for r in report["rows"]] == [
        (2, "1", "100"),
        (1, "0.5", "100"),
    ]


def test_the_gains_table_shows_money_to_the_cent_and_names_a_method_per_year_only_when_they_differ(cli: Cli) -> None:
    cli(*fill("b1", "buy", "1", "100", "2024-01-01T00:00:00Z", "--fee", "1"))
    cli(*fill("b2", "buy", "2", "1000.5", "2024-06-01T00:00:00Z"))
    cli(*fill("s1", "sell", "1", "300", "2024-12-01T00:00:00Z"))
    cli(*fill("s2", "sell", "1.5", "3000.01", "2025-02-01T00:00:00Z", "--fee", "3"))

    one = cli("gains", "--method", "fifo").stdout
    two = cli("gains", "--method", "fifo", "2025=hifo").stdout

    # 2025: 1.5 of the second lot, proceeds 1.5 x 3,000.01 - 3 = 4,497.015 (half-even to the cent: 4,497.02; the
    # JSON keeps it exact), cost basis 1.5 x 1,000.5 = 1,500.75, gain 2,996.265 (2,996.26).
    assert "Gains, every year: seq 4, method fifo " in one
    assert "│   300.00 │   101.00 │   199.00 │" in one
    assert "│ 4,497.02 │ 1,500.75 │ 2,996.26 │" in one
    assert "totals: proceeds 4,797.02, cost basis 1,601.75, gain 3,195.26 (short 3,195.26, long 0.00)" in one
    assert "Gains, every year: seq 4, methods 2024 fifo, 2025 hifo " in two
    assert "Gains, 2025: seq 4, method hifo " in cli("gains", "--method", "fifo", "2025=hifo", "--year", "2025").stdout
    assert "Open lots: seq 4, methods 2024 fifo, 2025 hifo" in cli("lots", "--method", "fifo", "2025=hifo").stdout


@pytest.mark.parametrize("command", ["gains", "lots"])
def test_several_methods_may_follow_one_method_option_as_the_spec_writes_them(traded: Cli, command: str) -> None:
    # Spec section 11: `--method M`, or `--method YEAR=M …`; the same as --method given once per value.
    repeated = traded.json(command, "--method", "fifo", "--method", "2025=hifo", "--method", "2026=lifo")

    assert traded.json(command, "--method", "fifo", "2025=hifo", "2026=lifo") == repeated
    assert traded.json(command, "--method=fifo", "2025=hifo", "--method", "2026=lifo") == repeated
    assert repeated["method"] == {"2025": "hifo", "2026": "lifo"}


@pytest.mark.parametrize(
    ("args", "read"),
    [
        (["--method", "fifo", "2025=hifo", "--json"], ["--method", "fifo", "--method", "2025=hifo", "--json"]),
        (["--method=fifo", "2025=hifo"], ["--method=fifo", "--method", "2025=hifo"]),
        (["--json", "2025=hifo"], ["--json", "2025=hifo"]),  # not after --method: an extra argument, refused
        (["--method", "fifo", "--year", "2025", "x"], ["--method", "fifo", "--year", "2025", "x"]),
        (["--method", "fifo", "--", "2025=hifo"], ["--method", "fifo", "--", "2025=hifo"]),
        (["--method"], ["--method"]),  # no value: click names the option
    ],
)
def test_the_values_right_after_one_method_are_read_as_the_option_given_again(args: list[str], read: list[str]) -> None:
    assert method_values(args) == read


def test_a_method_with_no_method_option_before_it_is_refused(traded: Cli) -> None:
    refused = traded("gains", "fifo", expect=2)

    assert "unexpected extra argument" in refused.stderr


def test_lots_json_has_exactly_the_shape_of_the_spec(traded: Cli) -> None:
    assert traded.json("lots") == {
        "seq": 3,
        "method": "fifo",
        "lots": [
            {
                "account": "default",
                "currency": "BTC",
                "quantity": "0.5",
                "unit_cost": "200",
                "acquired_at": "2024-06-01T00:00:00.000000+00:00",
                "acquired_seq": 2,
            }
        ],
    }
    as_of = traded.json("lots", "--method", "lifo", "--as-of", "2024-12-31T00:00:00Z")
    assert (as_of["seq"], [lot["unit_cost"] for lot in as_of["lots"]]) == (2, ["101", "200"])
    assert traded.json("lots", "--method", "2024=fifo", "--method", "2025=average")["method"] == {
        "2024": "fifo",
        "2025": "average",
    }


def test_gains_csv_is_a_capital_gains_worksheet(traded: Cli, tmp_path: Path) -> None:
    path = tmp_path / "gains.csv"

    traded("gains", "--method", "fifo", "--csv", str(path))

    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["description", "date acquired", "date sold", "proceeds", "cost basis", "gain", "term"],
        ["1 BTC (BTC/USD, account default)", "2024-01-01", "2025-02-01", "298", "101", "197", "long"],
        ["0.5 BTC (BTC/USD, account default)", "2024-06-01", "2025-02-01", "149", "100", "49", "short"],
    ]


def test_the_tables_name_the_rows_the_totals_and_a_missing_acquisition(cli: Cli) -> None:
    cli(*fill("b1", "buy", "1", "100", "2024-01-01T00:00:00Z"))
    cli("record-transfer", "--transfer-id", "w1", "--exchange", "kraken", "--currency", "BTC", "--amount", "-1",
        "--kind", "withdrawal", "--time", "2024-02-01T00:00:00Z")  # fmt: skip
    cli(*fill("s1", "sell", "1", "150", "2024-03-01T00:00:00Z"))

    text = cli("gains", "--method", "fifo", "--withdrawals-dispose").stdout

    assert "Gains, every year: seq 3, method fifo" in text
    assert "missing acquisition: 1 BTC disposed at seq 3 (BTC/USD, account default) matched no lot" in text
    assert "totals: proceeds 100.00, cost basis 100.00, gain 0.00 (short 0.00, long 0.00)" in text
    missing = cli.json("gains", "--method", "fifo", "--withdrawals-dispose")["missing"]
    assert missing == [{"account": "default", "currency": "BTC", "quantity": "1", "seq": 3}]
    assert "Open lots: seq 3, method fifo" in cli("lots").stdout


def test_gains_csv_names_the_missing_acquisitions_the_worksheet_cannot_hold(cli: Cli, tmp_path: Path) -> None:
    cli(*fill("b1", "buy", "1", "100", "2024-01-01T00:00:00Z"))
    cli("record-transfer", "--transfer-id", "w1", "--exchange", "kraken", "--currency", "BTC", "--amount", "-1.5",
        "--kind", "withdrawal", "--time", "2024-02-01T00:00:00Z")  # fmt: skip
    path = tmp_path / "gains.csv"

    text = cli("gains", "--method", "fifo", "--withdrawals-dispose", "--csv", str(path)).stdout

    # The worksheet has the 1 BTC matched; the 0.5 BTC no lot held has no basis to write, and is said.
    with path.open(newline="") as file:
        assert list(csv.reader(file))[1:] == [
            ["1 BTC (BTC/USD, account default)", "2024-01-01", "2024-02-01", "100", "100", "0", "short"]
        ]
    assert text.startswith("wrote 1 rows to ")
    assert (
        text.splitlines()[-1] == "missing acquisition: 0.5 BTC disposed at seq 2 (BTC, account default) matched no lot"
    )


UNKNOWN = "error: --method: must be one of fifo, lifo, hifo, average, specific"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["gains", "--method", "fofo"], f"{UNKNOWN} (got 'fofo')"),
        (
            ["gains", "--method", "fifo", "--year", "1969"],
            "error: --year: must be a year from 1970 to 9999 (got '1969')",
        ),
        (["gains", "--method", "2024=nope"], f"{UNKNOWN} (got '2024=nope')"),
        (
            ["gains", "--year", "2025"],
            "error: --method: give one of fifo, lifo, hifo, average, specific (or YEAR=METHOD)",
        ),
        (
            ["gains", "--method", "fifo", "--json", "--csv", "x.csv"],
            "error: gains takes --json or --csv FILE, not both",
        ),
        (["lots", "--method", "x[/]"], f"{UNKNOWN} (got 'x[/]')"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(
    traded: Cli, arguments: list[str], message: str, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capfd.readouterr()
    folder = tmp_path / "out"
    folder.mkdir()

    status = main(["--db", traded.url, *[str(folder / a) if a.endswith(".csv") else a for a in arguments]])

    captured = capfd.readouterr()
    assert status == 2
    assert captured.err.splitlines() == [message]
    assert captured.out == ""
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("days", ["1000000000", "100000000000000000000000"])
def test_a_term_too_long_to_hold_is_bad_input_naming_long_after_days(
    traded: Cli, days: str, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()

    status = main(["--db", traded.url, "gains", "--method", "fifo", "--long-after-days", days])

    captured = capfd.readouterr()
    assert status == 2
    [line] = captured.err.splitlines()
    assert line.startswith("error: ")
    assert "--long-after-days" in line
    assert "999999999" in line
    assert captured.out == ""


def test_an_imported_specific_sale_is_refused_naming_metadata_lots_and_nothing_is_written(
    traded: Cli, tmp_path: Path
) -> None:
    line: dict[str, object] = {"fill_id": "s2", "exchange": "kraken", "symbol": "BTC/USD", "side": "sell",
                               "quantity": "0.5", "price": "400", "occurred_at": "2025-03-01T00:00:00Z"}  # fmt: skip
    line["metadata"] = {"lots": [{"seq": 1, "quantity": "2"}]}
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n" + json.dumps(line) + "\n")  # its event is the file's first, on its second line

    result = traded("import", str(bad), expect=2)

    assert result.stderr == (
        "error: line 2: metadata.lots: the lots named sum to 2, not to the quantity disposed 0.5 "
        '(got [{"quantity": "2", "seq": 1}])\n'
    )
    assert traded.json("positions")["seq"] == 3
    line["metadata"] = {"lots": [{"seq": 2, "quantity": "0.5"}]}
    good = tmp_path / "good.ndjson"
    good.write_text(json.dumps(line) + "\n")
    traded("import", str(good))
    rows = traded.json("gains", "--method", "specific", "--year", "2025")["rows"]
    assert [(r["disposed_seq"], r["acquired_seq"]) for r in rows] == [(3, 1), (3, 2), (4, 2)]


def test_record_names_the_lots_a_sale_takes_and_refuses_a_used_up_one(traded: Cli) -> None:
    traded(*fill("s2", "sell", "0.5", "400", "2025-03-01T00:00:00Z", "--lot", "2=0.5"))

    refused = traded(*fill("s3", "sell", "1", "400", "2025-03-02T00:00:00Z", "--lot", "2=1"), expect=2)

    assert refused.stderr == (
        "error: fill 1: metadata.lots: lot 2 is used up: it acquired 1, earlier disposals named 0.5, 0.5 is left "
        '(got [{"quantity": "1", "seq": 2}])\n'
    )
    assert traded.json("positions")["seq"] == 4
    rows = traded.json("gains", "--method", "specific", "--year", "2025")["rows"]
    assert [(r["disposed_seq"], r["acquired_seq"], r["quantity"]) for r in rows] == [
        (3, 1, "1"),  # s1 names no lots: fifo
        (3, 2, "0.5"),
        (4, 2, "0.5"),
    ]


def test_the_report_has_a_gains_section_only_when_asked(traded: Cli, tmp_path: Path) -> None:
    plain, taxed = tmp_path / "plain.html", tmp_path / "taxed.html"

    traded("report", "--html", str(plain))
    traded("report", "--html", str(taxed), "--gains-year", "2025", "--method", "hifo")

    assert "Gains 2025" not in plain.read_text()
    page = taxed.read_text()
    assert "<h2>Gains 2025</h2>" in page
    assert "method hifo" in page
    assert '<table id="gains">' in page
    assert '<table class="meta" id="gains-totals">' in page


def test_a_short_lot_bought_back_is_a_row_of_negative_quantity(cli: Cli) -> None:
    cli(*fill("s1", "sell", "1", "110", "2025-01-01T00:00:00Z"))
    cli(*fill("b1", "buy", "2", "112", "2025-01-02T00:00:00Z"))

    report = cli.json("gains", "--method", "fifo", "--year", "2025")

    [row] = report["rows"]
    assert (row["quantity"], row["acquired_seq"], row["disposed_seq"]) == ("-1", 1, 2)
    assert (row["proceeds"], row["cost_basis"], row["gain"], row["term"]) == ("110", "112", "-2", "short")
    assert [(lot["quantity"], lot["unit_cost"]) for lot in cli.json("lots")["lots"]] == [("1", "112")]


def test_lots_and_gains_keep_one_account_and_one_quote_currency(cli: Cli) -> None:
    cli(*fill("b1", "buy", "1", "100", "2025-01-01T00:00:00Z"))
    cli(*fill("b2", "buy", "1", "100", "2025-01-01T00:00:00Z", "--account", "other"))
    cli("record", "--fill-id", "e1", "--exchange", "kraken", "--symbol", "BTC/EUR", "--side", "buy",
        "--quantity", "1", "--price", "90", "--time", "2025-01-01T00:00:00Z")  # fmt: skip

    every = cli.json("lots")["lots"]
    usd = cli.json("lots", "--quote", "USD", "--account", "default")["lots"]

    assert [(lot["account"], lot["acquired_seq"]) for lot in every] == [("default", 3), ("default", 1), ("other", 2)]
    assert [(lot["account"], lot["acquired_seq"]) for lot in usd] == [("default", 1)]


@pytest.mark.parametrize(
    ("command", "quote"),
    [(["lots"], "usd"), (["lots", "--json"], "BTC/USD"), (["gains", "--method", "fifo"], "[b]USD")],
    ids=["lowercase", "a symbol", "markup"],
)
def test_lots_and_gains_refuse_a_quote_that_is_no_currency_code_naming_it(
    cli: Cli, command: list[str], quote: str
) -> None:
    cli(*fill("b1", "buy", "1", "100", "2025-01-01T00:00:00Z"))

    result = cli(*command, "--quote", quote, expect=2)

    assert result.stdout == ""
    assert result.stderr == (
        f"error: --quote: must be a currency code in capitals and digits, like BTC or 1000PEPE (got {quote!r})\n"
    )


def test_the_lots_follow_an_internal_move_recorded_with_to_account(cli: Cli) -> None:
    cli(*fill("b1", "buy", "1", "20000", "2024-01-10T00:00:00Z", "--account", "A"))
    cli("record-transfer", "--transfer-id", "m1", "--exchange", "kraken", "--currency", "BTC", "--amount", "-1",
        "--kind", "internal", "--account", "A", "--to-account", "B", "--time", "2024-06-01T00:00:00Z")  # fmt: skip

    assert cli.json("lots") == {
        "seq": 3,
        "method": "fifo",
        "lots": [
            {
                "account": "B",
                "currency": "BTC",
                "quantity": "1",
                "unit_cost": "20000",
                "acquired_at": "2024-01-10T00:00:00.000000+00:00",
                "acquired_seq": 1,
            }
        ],
    }
    cli(*fill("s1", "sell", "1", "30000", "2025-02-01T00:00:00Z", "--account", "B"))
    assert cli.json("gains", "--method", "fifo", "--year", "2025") == {
        "seq": 4,
        "method": "fifo",
        "year": 2025,
        "rows": [
            {
                "account": "B",
                "currency": "BTC",
                "quantity": "1",
                "acquired_at": "2024-01-10T00:00:00.000000+00:00",
                "acquired_seq": 1,
                "disposed_at": "2025-02-01T00:00:00.000000+00:00",
                "disposed_seq": 4,
                "proceeds": "30000",
                "cost_basis": "20000",
                "gain": "10000",
                "term": "long",
            }
        ],
        "missing": [],
        "totals": {"proceeds": "30000", "cost_basis": "20000", "gain": "10000", "short": "0", "long": "10000"},
    }
    assert cli.json("lots")["lots"] == []
    assert cli.json("lots", "--account", "A", "--as-of", "2024-12-31T00:00:00Z")["lots"] == []


@pytest.mark.parametrize("command", ["gains", "lots"])
def test_a_report_refused_halfway_through_the_log_says_one_line_and_nothing_else(cli: Cli, command: str) -> None:
    cli(*fill("b1", "buy", "3.5E+21", "1", "2024-01-01T00:00:00Z"))
    cli("record-transfer", "--transfer-id", "w1", "--exchange", "kraken", "--currency", "BTC", "--kind", "withdrawal",
        "--amount", "-1000000.123456789", "--time", "2024-01-02T00:00:00Z")  # fmt: skip

    # A process of its own: what is left open when the command fails is closed as the process ends.
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradeledger",
            "--db",
            cli.url,
            command,
            "--method",
            "fifo",
            "--withdrawals-dispose",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        "error: seq 2: lot 1 would be rounded: what is left of it, 3500000000000000000000 - 1000000.123456789 needs "
        "more than 28 significant digits\n"
    )


def method_help(command: str) -> str:
    """The help of `command --method`, its lines joined: what `tradeledger COMMAND --help` says of it."""
    text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).stdout
    words = " ".join(text.replace("│", " ").split())
    return words.split("--method", 1)[1].split(" --", 1)[0]


def test_help_says_gains_needs_a_method_and_lots_and_report_default_to_fifo() -> None:
    assert "Required" in method_help("gains")
    assert "Default: fifo" in method_help("lots")
    assert "Default: fifo" in method_help("report")


def moved(cli: Cli) -> Cli:
    """Account A bought 1 @ 100 (seq 1, 2024-01-10) and 1 @ 300 (seq 2, 2024-02-10); an internal move of 1 to B
    (seqs 3 and 4, 2024-03-01) took lot 1 (`specific` moves lots first in, first out)."""
    cli(*fill("b1", "buy", "1", "100", "2024-01-10T00:00:00Z", "--account", "A"))
    cli(*fill("b2", "buy", "1", "300", "2024-02-10T00:00:00Z", "--account", "A"))
    cli("record-transfer", "--transfer-id", "m1", "--exchange", "kraken", "--currency", "BTC", "--amount", "-1",
        "--kind", "internal", "--account", "A", "--to-account", "B", "--time", "2024-03-01T00:00:00Z")  # fmt: skip
    return cli


def test_a_sale_naming_a_lot_an_internal_move_took_out_of_its_account_is_refused_and_nothing_is_written(
    cli: Cli,
) -> None:
    moved(cli)

    refused = cli(*fill("s1", "sell", "1", "400", "2024-04-01T00:00:00Z", "--account", "A", "--lot", "1=1"), expect=2)

    assert refused.stderr == (
        "error: fill 1: metadata.lots: lot 1 has 0 open in account 'A' when this fill occurred: it acquired 1 "
        "there, internal moves took 1 of it out of the account, earlier disposals named 0 "
        '(got [{"quantity": "1", "seq": 1}])\n'
    )
    assert cli.json("positions")["seq"] == 4
    cli(*fill("s1", "sell", "1", "400", "2024-04-01T00:00:00Z", "--account", "A", "--lot", "2=1"))
    rows = cli.json("gains", "--method", "specific", "--year", "2024")["rows"]
    assert [(r["account"], r["acquired_seq"], r["disposed_seq"], r["cost_basis"]) for r in rows] == [("A", 2, 5, "300")]


def test_a_sale_may_name_a_lot_an_internal_move_brought_into_its_account(cli: Cli) -> None:
    moved(cli)

    cli(*fill("s1", "sell", "1", "400", "2025-04-01T00:00:00Z", "--account", "B", "--lot", "1=1"))

    assert cli.json("gains", "--method", "specific", "--year", "2025")["rows"] == [
        {
            "account": "B",
            "currency": "BTC",
            "quantity": "1",
            "acquired_at": "2024-01-10T00:00:00.000000+00:00",
            "acquired_seq": 1,
            "disposed_at": "2025-04-01T00:00:00.000000+00:00",
            "disposed_seq": 5,
            "proceeds": "400",
            "cost_basis": "100",
            "gain": "300",
            "term": "long",
        }
    ]


def test_record_refuses_a_lot_a_sale_naming_none_took_and_gains_still_reads_the_log(traded: Cli) -> None:
    # s1 (1.5, naming no lots) took lot 1 and 0.5 of lot 2 first in, first out under specific.
    refused = traded(*fill("s2", "sell", "1", "400", "2025-03-01T00:00:00Z", "--lot", "1=1"), expect=2)

    assert refused.stderr.startswith(
        "error: fill 1: metadata.lots: lot 1 has 0 left in account 'default' when this fill is matched under specific"
    )
    assert refused.stderr.count("\n") == 1
    assert traded.json("positions")["seq"] == 3
    traded(*fill("s2", "sell", "0.5", "400", "2025-03-01T00:00:00Z", "--lot", "2=0.5"))
    rows = traded.json("gains", "--method", "specific", "--year", "2025")["rows"]
    assert [(r["disposed_seq"], r["acquired_seq"], r["quantity"]) for r in rows] == [
        (3, 1, "1"),
        (3, 2, "0.5"),
        (4, 2, "0.5"),
    ]


def test_import_refuses_a_sale_naming_a_lot_an_earlier_line_took_first_in_first_out(cli: Cli, tmp_path: Path) -> None:
    lines: list[dict[str, object]] = [
        {"fill_id": "b1", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "100"},
        {"fill_id": "b2", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "200"},
        {"fill_id": "s1", "symbol": "BTC/USD", "side": "sell", "quantity": "1", "price": "300"},  # takes lot 1
        {"fill_id": "s2", "symbol": "BTC/USD", "side": "sell", "quantity": "1", "price": "300",
         "metadata": {"lots": [{"seq": 1, "quantity": "1"}]}},
    ]  # fmt: skip
    path = tmp_path / "fills.ndjson"
    path.write_text(
        "".join(
            json.dumps({**line, "exchange": "kraken", "occurred_at": f"2025-01-0{day}T00:00:00Z", "fee": "0"}) + "\n"
            for day, line in enumerate(lines, start=1)
        )
    )

    result = cli("import", str(path), expect=2)

    assert result.stderr == (
        "error: line 4: metadata.lots: lot 1 has 0 left in account 'default' when this fill is matched under "
        "specific, where a disposal naming no lots (a base fee too) takes the oldest lots first: 1 cannot be taken "
        'of it (got [{"quantity": "1", "seq": 1}])\n'
    )
    assert cli.json("history") == []


def test_import_refuses_a_withdrawal_naming_a_lot_a_withdrawal_naming_none_took(cli: Cli, tmp_path: Path) -> None:
    cli(*fill("b1", "buy", "1", "100", "2025-01-01T00:00:00Z"))
    cli(*fill("b2", "buy", "1", "200", "2025-01-02T00:00:00Z"))
    out = ["record-transfer", "--exchange", "kraken", "--currency", "BTC", "--kind", "withdrawal", "--amount", "-1"]
    cli(*out, "--transfer-id", "w1", "--time", "2025-01-03T00:00:00Z")  # takes lot 1 when withdrawals dispose
    line = {"type": "transfer", "transfer_id": "w2", "exchange": "kraken", "currency": "BTC", "amount": "-1",
            "kind": "withdrawal", "occurred_at": "2025-01-04T00:00:00Z",
            "metadata": {"lots": [{"seq": 1, "quantity": "1"}]}}  # fmt: skip
    path = tmp_path / "withdrawal.ndjson"
    path.write_text(json.dumps(line) + "\n")

    result = cli("import", str(path), expect=2)

    assert result.stderr.startswith(
        "error: line 1: metadata.lots: lot 1 has 0 left in account 'default' when this withdrawal is matched under "
        "specific (withdrawals disposing), where a disposal naming no lots"
    ), result.stderr
    assert len(cli.json("history")) == 3
