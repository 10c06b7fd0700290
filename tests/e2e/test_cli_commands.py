"""The command table: `tradeledger --help` lists every command, in one order, each with its help line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from tradeledger.cli import app, main
from tradeledger.cli.app import invoked
from tradeledger.cli.helptext import LedgerGroup

COMMANDS = [
    "record",
    "record-funding",
    "record-transfer",
    "record-settlement",
    "import",
    "ingest",
    "sync",
    "reconcile",
    "positions",
    "balances",
    "replay",
    "history",
    "watch",
    "gains",
    "lots",
    "verify",
    "rebuild",
    "copy",
    "demo",
    "paper-bot",
    "report",
    "keygen",
    "checkpoint",
    "rollback",
    "restore",
    "export",
    "migrate",
    "enable-sot",
]


def listed_commands(help_text: str) -> list[str]:
    """The first word of each row of the Commands panel (continuation rows start with blanks)."""
    panel = help_text.split("Commands", 1)[1]
    return re.findall(r"^│ ([a-z][a-z-]*)\s", panel, flags=re.MULTILINE)


def test_help_lists_every_command_in_the_documented_order() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})

    assert result.exit_code == 0
    assert listed_commands(result.stdout) == COMMANDS


def test_every_command_answers_help_with_its_own_usage_line() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})

        assert result.exit_code == 0, name
        assert f"Usage: tradeledger {name} [OPTIONS]" in result.stdout, name


def test_an_unknown_option_is_one_error_line_naming_the_command_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for name in COMMANDS:
        status = main(["--db", "sqlite:///:memory:", name, "--bogus-flag"])

        captured = capsys.readouterr()
        assert status == 2, name
        assert captured.err == f"error: No such option: --bogus-flag (see: tradeledger {name} --help)\n", name
        assert captured.out == "", name


def test_a_command_answers_help_through_main_as_the_whole_app_does(capsys: pytest.CaptureFixture[str]) -> None:
    runner = CliRunner()
    for name in COMMANDS:
        whole = runner.invoke(app, [name, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("COLUMNS", "100")
            patch.setenv("NO_COLOR", "1")
            status = main(["--db", "sqlite:///:memory:", name, "--help"])

        assert status == 0, name
        assert capsys.readouterr().out == whole.stdout, name


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["import", "fills.ndjson"], "import"),
        (["--db", "sqlite:///x.db", "import", "fills.ndjson"], "import"),
        (["--db=sqlite:///x.db", "record-funding", "--help"], "record-funding"),
        (["--db", "import", "positions"], "positions"),  # the URL is --db's value, not a command
        (["--help"], None),
        (["--help", "import"], None),
        (["imprt", "fills.ndjson"], None),  # a mistyped name: the whole app says so (and suggests one)
        ([], None),
    ],
)
def test_main_names_the_command_an_argv_runs_after_the_global_options(argv: list[str], command: str | None) -> None:
    assert invoked(argv) == command


def test_an_import_loads_no_other_command_and_nothing_of_the_legacy_bot_report_or_exchanges(tmp_path: Path) -> None:
    fills = tmp_path / "fills.ndjson"
    fills.write_text(
        '{"fill_id": "a", "exchange": "k", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "2", '
        '"occurred_at": "2026-01-05T10:00:00Z"}\n'
    )
    script = (
        "import json, sys\n"
        "from tradeledger.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print(json.dumps({'status': status, 'modules': sorted(sys.modules)}))\n"
    )
    command = [sys.executable, "-c", script, "--db", f"sqlite:///{tmp_path / 'l.db'}", "import", str(fills), "--json"]

    done = subprocess.run(command, capture_output=True, text=True, check=True)

    summary, after = done.stdout.strip().rsplit("\n", 1)
    assert json.loads(summary) == {"appended": 1, "duplicates": 0, "seq": 1}
    assert json.loads(after)["status"] == 0
    modules = json.loads(after)["modules"]
    assert "tradeledger.cli.fills" in modules
    assert not [name for name in modules if name.startswith(UNNEEDED_BY_IMPORT)]


# What `import` never needs: the other commands, the legacy bot, the exchanges, the report's page.
UNNEEDED_BY_IMPORT = (
    "tradeledger.cli.report",
    "tradeledger.cli.state",
    "tradeledger.cli.admin",
    "tradeledger.cli.exchange",
    "tradeledger.cli.migration",
    "tradeledger.compat",
    "tradeledger.exchanges",
    "jinja2",
    "ccxt",
)


def test_the_readme_command_table_names_every_command_and_exactly_the_options_of_its_help() -> None:
    """README.md's table ("| `tradeledger NAME [OPTIONS…]` | …") is what users read instead of --help."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `tradeledger ([a-z-]+)([^`]*)` \|", readme, flags=re.MULTILINE))
    group = typer.main.get_command(app)
    assert isinstance(group, LedgerGroup)
    context = typer.Context(group)

    assert sorted(rows) == sorted(COMMANDS)
    for name, synopsis in rows.items():
        command = group.get_command(context, name)
        assert command is not None, name
        options = [p for p in command.params if p.param_type_name == "option" and "--help" not in p.opts]
        names = {o for p in options for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
        written = set(re.findall(r"--[a-z][a-z-]*", synopsis))
        assert written <= names, (name, written - names)
        for option in options:  # a flag pair (--backup/--no-backup) is written as either of its names
            assert written & {*option.opts, *option.secondary_opts}, (name, option.opts)
