from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeledger.cli import app

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"


class Cli:
    """Runs `tradeledger --db URL ...` in-process, as a user would type it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int = 0) -> Any:
        result = self.runner.invoke(app, ["--db", self.url, *args])
        assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self(*args, "--json", expect=expect).stdout)


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)
