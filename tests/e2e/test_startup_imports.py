"""What a command's process imports (issue 19, the CLI's start-up): what the command needs, no more.

Each check runs in a fresh interpreter and reads its `sys.modules`, like the import test in test_cli_commands.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradeledger import open_ledger

# Run `main` on argv and print the modules it loaded, after the command's own output.
MODULES_AFTER_MAIN = """
import json, sys
from tradeledger.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""

# Never needed on a SQLite ledger nor for the help: the PostgreSQL dialect and driver, and Alembic (a ledger
# already at the head revision opens without it).
NOT_FOR_SQLITE = ("sqlalchemy.dialects.postgresql", "psycopg", "alembic")
# What the ledger's own commands never need: the legacy bot (its YAML config, its paper wallet).
LEGACY_BOT = ("tradeledger.compat.bot", "tradeledger.compat.config", "tradeledger.compat.paper_wallet", "ruamel")


def modules_after(*argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER_MAIN, *argv], capture_output=True, text=True, check=True, timeout=120
    )
    last = json.loads(done.stdout.strip().rsplit("\n", 1)[-1])
    assert last["status"] == 0
    modules: list[str] = last["modules"]
    return modules


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ledger.record(
            {
                "fill_id": "a",
                "exchange": "kraken",
                "symbol": "BTC/USD",
                "side": "buy",
                "quantity": "1",
                "price": "2",
                "occurred_at": "2026-01-05T10:00:00Z",
            }
        )
    return url


@pytest.mark.parametrize("command", ["positions", "lots"])
def test_a_command_on_a_sqlite_ledger_loads_no_postgresql_no_alembic_and_no_legacy_bot(
    sqlite_ledger: str, command: str
) -> None:
    modules = modules_after("--db", sqlite_ledger, command, "--json")

    assert "sqlalchemy.dialects.sqlite" in modules
    assert [name for name in modules if name.startswith(NOT_FOR_SQLITE + LEGACY_BOT)] == []


# What only the commands that run them load: the migration's planning and the report's page (Jinja2).
RUN_ONLY = (
    "tradeledger.compat.migration.plan",
    "tradeledger.compat.enable_sot",
    "tradeledger.cli.report_page",
    "jinja2",
)


def test_the_help_loads_no_postgresql_no_alembic_no_legacy_bot_and_no_report_page() -> None:
    modules = modules_after("--help")

    assert "tradeledger.cli.migration" in modules  # every command is registered for the help
    assert [name for name in modules if name.startswith(NOT_FOR_SQLITE + LEGACY_BOT + RUN_ONLY)] == []


def test_importing_tradeledger_loads_its_errors_and_lazy_names_only_and_the_rest_on_first_use() -> None:
    script = (
        "import json, sys\n"
        "import tradeledger\n"
        "before = sorted(sys.modules)\n"
        "from tradeledger import open_ledger\n"
        "print(json.dumps([before, sorted(sys.modules)]))\n"
    )

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)

    before, after = json.loads(done.stdout)
    assert [name for name in before if name.startswith("tradeledger")] == [
        "tradeledger",
        "tradeledger.errors",
        "tradeledger.lazy",
    ]
    assert [name for name in before if name.startswith(("sqlalchemy", "pydantic", "cryptography"))] == []
    assert "tradeledger.bootstrap" in after
    assert "sqlalchemy" in after
