"""What a new user reads: tables at 80 columns, the fill log, replay's refusals and notes, help text (issue 13)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.e2e.conftest import GOLDEN, Cli
from tests.e2e.test_cli import run_module, sqlite_path
from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.cli import app
from tradeledger.cli.app import main
from tradeledger.cli.demo import MARKS
from tradeledger.cli.tables import Column, Fitted, fit


def test_history_shows_each_fills_account_and_exchange_and_12_hex_chars_of_its_hash(cli: Cli) -> None:
    with open_ledger(cli.url) as ledger:
        ledger.record(fill_fields(fill_id="A-1", account="alpha", exchange="kraken", symbol="BTC/USD"))
        ledger.record(fill_fields(fill_id="B-1", account="beta", exchange="binance", symbol="BTC/USD"))
    hashes = [event["hash"] for event in cli.json("history")]

    table = cli("history").stdout

    [alpha] = [line for line in table.splitlines() if "A-1" in line]
    [beta] = [line for line in table.splitlines() if "B-1" in line]
    assert "alpha" in alpha
    assert "kraken" in alpha
    assert "beta" in beta
    assert "binance" in beta
    assert re.search(rf"\b{hashes[0][:12]}\b", alpha)
    assert hashes[0][:13] not in alpha


def test_history_of_one_account_on_one_exchange_names_them_once_above_the_table(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    table = cli("history", "--account", "swing").stdout

    assert "Fill log: account swing, exchange binance" in table


def test_replay_past_the_head_is_refused_naming_the_option_the_value_and_the_head(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    result = cli("replay", "--until-seq", "99", expect=2)
    as_json = cli("replay", "--until-seq", "99", "--json", expect=2)

    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: --until-seq: the log ends at seq 9 (got 99); give a seq from 0 to 9"
    ]
    assert as_json.stdout == ""


def test_a_value_outside_an_options_choices_is_refused_naming_the_choices_in_plain_words(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", cli.url]
    side = main([*db, "record", "--fill-id", "a", "--symbol", "BTC/USD", "--side", "BUY", "--quantity", "1",
                 "--price", "1"])  # fmt: skip
    side_error = capsys.readouterr().err
    kind = main([*db, "record-transfer", "--transfer-id", "t", "--currency", "USD", "--amount", "1",
                 "--kind", "Deposit"])  # fmt: skip
    kind_error = capsys.readouterr().err

    assert (side, kind) == (2, 2)
    assert side_error.strip().splitlines() == [
        "error: Invalid value for '--side': 'BUY' is not one of 'buy', 'sell'. (see: tradeledger record --help)"
    ]
    assert kind_error.strip().splitlines() == [
        (
            "error: Invalid value for '--kind': 'Deposit' is not one of 'deposit', 'withdrawal', 'internal'. "
            "(see: tradeledger record-transfer --help)"
        )
    ]


def test_replay_to_the_head_itself_is_answered(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    assert cli.json("replay", "--until-seq", "9")["seq"] == 9


def test_a_mark_for_a_symbol_not_held_is_named_as_unused(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    text = cli("positions", "--mark", "DOGE/USD=0.3", "--mark", "SOL/USD=25").stdout

    assert "--mark 'DOGE/USD=0.3': no open position in 'DOGE/USD', so the mark is not used" in text
    assert "--mark 'SOL/USD" not in text


def test_a_mark_for_a_symbol_not_held_is_named_as_unused_on_stderr_beside_the_json(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))
    plain = cli.json("positions", "--mark", "SOL/USD=25")

    result = cli("positions", "--mark", "DOGE/USD=0.3", "--mark", "SOL/USD=25", "--json")

    assert json.loads(result.stdout) == plain  # the document as without the unused mark
    assert result.stderr == "--mark 'DOGE/USD=0.3': no open position in 'DOGE/USD', so the mark is not used\n"


def test_an_unused_mark_whose_symbol_holds_markup_and_a_line_break_is_named_on_one_line_as_typed(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    table = cli("positions", "--mark", "[red]x[/]\nBTC/USD=5")
    document = cli("positions", "--mark", "[red]x[/]\nBTC/USD=5", "--json")

    note = "--mark '[red]x[/]\\nBTC/USD=5': no open position in '[red]x[/]\\nBTC/USD', so the mark is not used"
    assert table.stdout.rstrip("\n").endswith("\n" + note)
    assert document.stderr == note + "\n"


def test_the_lifetime_line_adds_the_unrealized_pnl_at_the_marks(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))
    unrealized = cli.json("positions", "--mark", "SOL/USD=25")["totals"]["unrealized_pnl"]

    text = cli("positions", "--mark", "SOL/USD=25").stdout

    assert unrealized == "50"
    assert "Lifetime: realized 100.00, fees 2.77, net 97.23, unrealized 50.00" in text


def test_a_replay_without_closed_cycles_says_so_in_one_line(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    text = cli("replay", "--until-seq", "1").stdout

    assert "Closed cycles: none" in text
    assert "no closed cycles" not in text
    assert text.count("┏") == 1  # one table: the open positions


def test_at_80_columns_the_demo_shows_every_number_of_the_state_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = run_module("--db", url, "demo", cwd=tmp_path, env={"COLUMNS": "80"})
    marks = [arg for symbol, price in MARKS.items() for arg in ("--mark", f"{symbol}={price}")]
    state = Cli(url).json("positions", "--closed", *marks)

    assert demo.returncode == 0, demo.stderr
    assert "…" not in demo.stdout
    lines = demo.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    expected = [(p["symbol"], p["side"], row_numbers(p)) for p in state["open"]]
    assert [row[:2] for row in expected] == [("BTC/USD", "long"), ("ETH/USD", "long"), ("SOL/USD", "long")]
    expected += [(c["symbol"], c["side"], row_numbers(c)) for c in state["closed"]]
    for symbol, side, numbers in expected:
        rows = [cells(line) for line in lines if f"│{symbol} │ {side}" in line]
        assert any(set(numbers) <= set(row) for row in rows), (symbol, side, numbers, rows)
    unrealized = {p["symbol"]: money_text(p["unrealized_pnl"]) for p in state["open"]}
    assert unrealized == {"BTC/USD": "130.00", "ETH/USD": "-9.00", "SOL/USD": "42.00"}
    for symbol, value in unrealized.items():
        assert any(f"│{symbol} │" in line and value in cells(line) for line in lines), symbol
    assert "Lifetime: realized 2,112.50, fees 605.39, net 1,507.11, unrealized 163.00" in demo.stdout
    assert "left out at 80 columns: %, Opened" in demo.stdout


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│")]


def money_text(value: str) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01')):,f}"


def row_numbers(item: dict[str, str]) -> list[str]:
    return [*eight_places(item, "quantity", "avg_price"), *two_places(item, "realized_pnl", "fees", "net_pnl")]


def eight_places(item: dict[str, str], *keys: str) -> list[str]:
    """Quantities and prices are shown to at most 8 places, trailing zeros dropped."""
    return [f"{Decimal(item[key]).quantize(Decimal('1e-8')).normalize():f}" for key in keys]


def two_places(item: dict[str, str], *keys: str) -> list[str]:
    return [money_text(item[key]) for key in keys]


def test_a_console_too_narrow_for_any_table_gets_each_row_as_a_line_with_its_numbers_whole(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    text = run_module("--db", cli.url, "positions", cwd=Path(sqlite_path(cli)).parent, env={"COLUMNS": "30"}).stdout

    assert "…" not in text
    assert "┏" not in text
    assert "Avg price 3000" in " ".join(text.split())


def help_text(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def command_names() -> list[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return sorted(group.commands)


def test_help_labels_values_in_words_never_with_python_types() -> None:
    for command in [[], *([name] for name in command_names())]:
        text = help_text(*command)

        assert "<bool>" not in text, command
        assert "<str>" not in text, command
        assert "<list[" not in text, command
        assert "<int" not in text, command


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_help_shows_the_default_of_every_option_that_has_one() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    missing = []
    for name, command in sorted(group.commands.items()):
        text = flat(help_text(name))
        for param in command.params:
            if not isinstance(param, typer.core.TyperOption) or param.is_flag or param.default is None:
                continue
            if "[default:" not in text.split(param.opts[-1], 1)[1].split(" --", 1)[0]:
                missing.append(f"{name} {param.opts[-1]}")

    assert missing == []


def test_help_never_breaks_a_sentence_mid_line() -> None:
    for command in [[], *([name] for name in command_names())]:
        lines = help_text(*command).splitlines()
        description = lines[3 : lines.index(next(line for line in lines if line.startswith("╭")))]
        for line, following in pairwise(description):
            if following.strip():
                assert len(line.rstrip()) >= 60, (command, line)
        for line, following in pairwise(lines):
            if re.match(r"│ {13}\S", following) and not following.strip("│ ").startswith("["):
                assert len(line.rstrip("│ ")) >= 55, (command, line)


COLUMNS = [
    Column("Symbol", left=True),
    Column("Account", wraps=True, left=True),
    Column("Qty"),
    Column("Opened", drop=2),
    Column("%", drop=1),
]
ROW = ["BTC/USD", "a-long-account-name", "12345.678", "#12", "-0.25"]


def test_a_table_that_fits_keeps_every_column_at_its_widest_cell() -> None:
    fitted = fit(80, COLUMNS, [ROW])

    assert fitted == Fitted([0, 1, 2, 3, 4], [7, 19, 9, 6, 5], [])


def test_on_a_narrow_console_the_columns_that_can_go_go_first_then_text_folds() -> None:
    assert fit(59, COLUMNS, [ROW]) == Fitted([0, 1, 2, 4], [7, 19, 9, 5], ["Opened"])
    assert fit(50, COLUMNS, [ROW]) == Fitted([0, 1, 2], [7, 19, 9], ["Opened", "%"])
    assert fit(35, COLUMNS, [ROW]) == Fitted([0, 1, 2], [7, 11, 9], ["Opened", "%"])  # the account folds
    assert fit(31, COLUMNS, [ROW]) == Fitted([0, 1, 2], [7, 7, 9], ["Opened", "%"])  # down to its header
    assert fit(30, COLUMNS, [ROW]) is None  # the symbol and the number never shrink: one line per row


def test_at_80_columns_a_log_of_two_accounts_and_exchanges_is_still_a_table_naming_both(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))
    cli(*RECORD_ELSEWHERE)

    text = run_module("--db", cli.url, "history", cwd=Path(sqlite_path(cli)).parent, env={"COLUMNS": "80"}).stdout

    rows = [cells(line) for line in text.splitlines() if line.startswith("│")]
    assert rows[8] == ["", "9", "swing", "binance", "G-9", "SOL/USD", "buy", "10", "20", "0.02", ""]
    assert rows[9] == ["", "10", "default", "kraken", "K-1", "BTC/USD", "buy", "0.5", "96000", "12.48", ""]
    assert "left out at 80 columns: Occurred (UTC), Hash" in text


RECORD_ELSEWHERE = (
    *("record", "--fill-id", "K-1", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "0.5"),
    *("--price", "96000", "--fee", "12.48", "--time", "2026-11-24T09:00:00Z", "--exchange", "kraken"),
)
