"""The command table: `tradeledger --help` lists every command, in one order, each with its help line."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tradeledger.cli import app, main

COMMANDS = [
    "record",
    "record-funding",
    "record-transfer",
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
