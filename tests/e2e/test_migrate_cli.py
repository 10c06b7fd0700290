"""The seed's migration steps 1 to 3 at the command line: `tradeledger migrate`, `tradeledger enable-sot`,
and the scripts with the legacy names, on copies of the shared legacy fixtures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.e2e.conftest import GOLDEN, Cli
from tradeledger import open_ledger

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
GENERATED = SHARED / "fixtures" / "legacy-generated"
REAL = SHARED / "fixtures" / "legacy-real"
MIGRATE_SCRIPT = ROOT / "scripts" / "migrate_to_trade_manager.py"
ENABLE_SCRIPT = ROOT / "scripts" / "enable_trade_manager_sot.py"
STAMP = "20261126_090000"
PLAN_KEYS = {
    "dry_run",
    "account",
    "ledger",
    "sources",
    "initial_balance",
    "initial_balance_from",
    "fills",
    "skipped",
    "only_in_positions_log",
    "notes",
    "identical_rows",
    "reconciliation",
    "summary",
    "appended",
    "head_before",
    "head_after",
    "backup",
    "verify",
    "rollback",
}


def copy(source: Path, target: Path) -> Path:
    if not source.is_file():
        pytest.fail(f"the shared fixture {source} is missing; the shared folder must sit beside the repo (../shared)")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    """The legacy-generated state file in crypto_bot/logs; returns the logs folder."""
    logs = tmp_path / "crypto_bot" / "logs"
    copy(GENERATED / "trade_manager_state.json", logs / "trade_manager_state.json")
    return logs


@pytest.fixture
def real(tmp_path: Path) -> Path:
    """The legacy-real files as the bot kept them; returns the config path (its logs/ beside it)."""
    bot = tmp_path / "crypto_bot"
    copy(REAL / "config.yaml", bot / "config.yaml")
    copy(REAL / "paper_wallet_config.yaml", bot / "paper_wallet_config.yaml")
    copy(REAL / "trades.csv", bot / "logs" / "trades.csv")
    copy(REAL / "positions.log", bot / "logs" / "positions.log")
    copy(REAL / "paper_wallet_state.mixed_shapes.yaml", bot / "logs" / "paper_wallet_state.yaml")
    return bot / "config.yaml"


def test_a_dry_run_prints_the_plan_as_json_and_appends_nothing(cli: Cli, generated: Path) -> None:
    plan: dict[str, Any] = cli.json("migrate", "--logs-dir", str(generated), "--dry-run")

    assert set(plan) == PLAN_KEYS
    assert plan["dry_run"] is True
    assert plan["summary"] == {
        "planned": 120,
        "new": 120,
        "in_ledger": 0,
        "skipped": 0,
        "only_in_positions_log": 0,
        "identical_rows": 0,
        "match": 11,
        "float": 10,
        "differs": 15,
    }
    assert (plan["appended"], plan["head_after"], plan["backup"], plan["verify"], plan["rollback"]) == (
        0,
        None,
        None,
        None,
        [],
    )
    assert plan["head_before"]["seq"] == 0
    assert plan["sources"] == {"trade_manager_state.json": str(generated / "trade_manager_state.json")}
    assert plan["fills"][0] == {
        "fill_id": "f3b0a9bd-205b-48bf-9146-284526fbe5e3",
        "exchange": "legacy",
        "symbol": "DOT/USD",
        "side": "sell",
        "quantity": "200",
        "price": "4.0544",
        "fee": "2.108288",
        "occurred_at": "2026-11-23T21:48:06.780530+00:00",
        "source": "trade_manager_state.json",
        "where": "trades[0]",
        "status": "new",
        "seq": None,
    }
    link_fees = next(r for r in plan["reconciliation"] if (r["symbol"], r["field"]) == ("LINK/USD", "fees"))
    assert link_fees == {
        "scope": "trade_manager",
        "symbol": "LINK/USD",
        "field": "fees",
        "legacy": "7.6207005",
        "replay": "14.088402",
        "status": "differs",
        "causes": ["the fees of 7 reducing fill(s), 6.4677015, were never added to fees_paid (legacy-system.md §1.3)"],
    }
    assert cli.json("history") == []
    assert not (generated / "migration_backup").exists()


def test_the_tables_name_each_disagreement(cli: Cli, generated: Path) -> None:
    result = cli("migrate", "--logs-dir", str(generated), "--dry-run")

    assert "Fills: 120 to append, 0 already in the ledger" in result.stdout
    assert "DIFFERS" in result.stdout
    assert "were never added to fees_paid" in " ".join(result.stdout.replace("│", " ").split())  # cells wrap
    assert "reconciliation: 11 match, 10 equal but for the float the legacy file stores, 15 differ" in result.stdout
    assert "dry run: nothing appended (120 fills would be; head seq 0)" in result.stdout


def test_a_real_run_then_a_second_one_appends_nothing_and_verify_is_clean(
    cli: Cli, generated: Path, db_url: str
) -> None:
    with freeze_time("2026-11-26 09:00:00"):
        first: dict[str, Any] = cli.json("migrate", "--logs-dir", str(generated))
    with freeze_time("2026-11-26 09:05:00"):
        second: dict[str, Any] = cli.json("migrate", "--logs-dir", str(generated))

    folder = generated / "migration_backup"
    assert (first["appended"], first["head_before"]["seq"], first["head_after"]["seq"]) == (120, 0, 120)
    assert first["verify"] == {"ok": True, "problems": [], "missing": []}
    assert first["backup"] == {
        "folder": str(folder),
        "manifest": str(folder / f"migration_backup_{STAMP}.json"),
        "files": {str(generated / "trade_manager_state.json"): f"trade_manager_backup_{STAMP}.json"},
    }
    assert first["rollback"] == [
        f"tradeledger --db {db_url} restore {folder / f'migration_backup_{STAMP}.json'}",
        f"cp {folder / f'trade_manager_backup_{STAMP}.json'} {generated / 'trade_manager_state.json'}",
    ]
    manifest = json.loads((folder / f"migration_backup_{STAMP}.json").read_text())
    assert manifest["ledger"] == db_url
    assert (manifest["head_before"]["seq"], manifest["head_after"]["seq"], manifest["appended"]) == (0, 120, 120)
    assert (second["appended"], second["summary"]["new"], second["summary"]["in_ledger"]) == (0, 0, 120)
    assert second["head_before"] == second["head_after"] == first["head_after"]
    assert second["rollback"] == []  # nothing appended, nothing to undo
    assert (folder / "trade_manager_backup_20261126_090500.json").is_file()  # every real run backs up
    assert cli.json("verify")["ok"] is True
    with open_ledger(db_url) as ledger:
        assert ledger.head.seq == 120


def test_the_migrated_ledger_has_the_golden_positions_of_the_legacy_session(cli: Cli, generated: Path) -> None:
    # tests/fixtures/golden/legacy_session.positions.json is what importing the session the legacy
    # TradeManager was fed gives: migrating the state file it wrote gives the same positions, fill for fill.
    with freeze_time("2026-11-26 09:00:00"):
        cli.json("migrate", "--logs-dir", str(generated))

    assert cli.json("positions", "--closed") == json.loads((GOLDEN / "legacy_session.positions.json").read_text())


def test_no_backup_is_refused_on_a_real_run(cli: Cli, generated: Path) -> None:
    result = cli("migrate", "--logs-dir", str(generated), "--no-backup", expect=2)

    assert "--no-backup: a migration that appends always backs up the legacy files first" in result.stderr
    assert cli.json("history") == []
    assert not (generated / "migration_backup").exists()


def test_a_bad_line_exits_2_naming_file_line_and_value_and_appends_nothing(cli: Cli, generated: Path) -> None:
    csv = generated / "trades.csv"
    csv.write_text("BTC/USD,buy,0.1,100,2025-08-26T19:02:01,False\nBTC/USD,buy,0.1,-5,2025-08-26T19:03:01,False\n")

    result = cli("migrate", "--logs-dir", str(generated), expect=2)

    assert f"{csv}: line 2: price: must be greater than 0 (got -5)" in " ".join(result.stderr.split())
    assert cli.json("history") == []
    assert not (generated / "migration_backup").exists()


def test_a_missing_named_file_is_an_error(cli: Cli, generated: Path) -> None:
    result = cli("migrate", "--logs-dir", str(generated), "--wallet-file", str(generated / "nope.yaml"), expect=2)

    assert "nope.yaml: no such file" in result.stderr


def test_enable_sot_validate_only_exits_1_listing_the_missing_keys_then_0_after_enabling(
    cli: Cli, tmp_path: Path
) -> None:
    config = copy(SHARED / "fixtures" / "config.commented.yaml", tmp_path / "config.yml")

    missing = cli("enable-sot", "--config", str(config), "--validate-only", expect=1)
    assert "trade_manager.single_source_of_truth is missing" in missing.stderr
    with freeze_time("2026-11-26 09:00:00"):
        enabled = cli.json("enable-sot", "--config", str(config))
    checked = cli.json("enable-sot", "--config", str(config), "--validate-only")

    assert enabled["backup"] == str(tmp_path / f"config.yml.bak.{STAMP}")
    assert enabled["migration_date"] == "2026-11-26"
    assert len(enabled["changed"]) == 10
    assert checked == {"config": str(config), "ok": True, "missing": []}


def run_script(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(script), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120, cwd=cwd)


@pytest.mark.slow
def test_the_seeds_steps_1_to_3_run_from_a_shell_with_the_legacy_script_names(real: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    config = str(real)
    logs = real.parent / "logs"

    # Step 1: python migrate_to_trade_manager.py --backup --dry-run
    step_one = run_script(
        MIGRATE_SCRIPT, "--backup", "--dry-run", "--config", config, "--db", url, "--json", cwd=tmp_path
    )
    assert step_one.returncode == 0, step_one.stderr
    planned = json.loads(step_one.stdout)
    assert (planned["appended"], planned["summary"]["new"]) == (0, 13)
    assert planned["initial_balance"] == "10000"  # paper_wallet_config.yaml beside the config
    assert [item["symbol"] for item in planned["only_in_positions_log"]] == ["ETH/USDT", "BTC/USDT"]
    assert sorted(planned["backup"]["files"].values()) == sorted(
        name for name in (p.name for p in (logs / "migration_backup").iterdir()) if not name.startswith("migration_")
    )

    # Step 2: python migrate_to_trade_manager.py
    step_two = run_script(MIGRATE_SCRIPT, "--config", config, "--db", url, cwd=tmp_path)
    assert step_two.returncode == 0, step_two.stderr
    assert "appended 13 fills in one transaction" in step_two.stdout
    assert "verify: ok" in step_two.stdout
    assert "To undo this migration:" in step_two.stdout
    assert "restore" in step_two.stdout

    # Step 3: python enable_trade_manager_sot.py
    before = real.read_text()
    step_three = run_script(ENABLE_SCRIPT, "--config", config, cwd=tmp_path)
    assert step_three.returncode == 0, step_three.stderr
    assert real.read_text().startswith(before)
    valid = run_script(ENABLE_SCRIPT, "--config", config, "--validate-only", cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr

    with open_ledger(url) as ledger:
        assert ledger.head.seq == 13
        assert ledger.verify().ok


def test_the_printed_undo_command_brings_back_the_ledger_and_the_legacy_files(
    cli: Cli, generated: Path, db_url: str
) -> None:
    original = (generated / "trade_manager_state.json").read_bytes()
    with freeze_time("2026-11-26 09:00:00"):
        migrated: dict[str, Any] = cli.json("migrate", "--logs-dir", str(generated))
    (generated / "trade_manager_state.json").write_text("{}", encoding="utf-8")  # the new bot rewrote it
    (undo,) = [command for command in migrated["rollback"] if " restore " in command]

    restored = cli.json(*undo.split()[1:])  # the printed command, minus the program name

    assert restored["verify"] is True
    assert len(restored["rolled_back"]["removed"]) == 120
    assert (generated / "trade_manager_state.json").read_bytes() == original
    with open_ledger(db_url) as ledger:
        assert (ledger.head.epoch, ledger.head.seq) == (2, 0)
        assert [record.reason for record in ledger.admin_log()] == [f"restore from migration_backup_{STAMP}.json"]


def test_at_80_columns_the_plan_and_the_reconciliation_show_every_number_whole(real: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    command = [sys.executable, "-m", "tradeledger", "--db", url, "migrate", "--config", str(real), "--dry-run"]

    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=120, env={**os.environ, "COLUMNS": "80"}
    )
    plan = json.loads(
        subprocess.run([*command, "--json"], capture_output=True, text=True, check=True, timeout=120).stdout
    )

    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    quantities = [fill["quantity"] for fill in plan["fills"]]
    assert "0.008100400681202503" in quantities
    for quantity in quantities:
        assert quantity in result.stdout


def test_identical_csv_rows_are_named_in_the_plan_as_json_and_in_the_tables(cli: Cli, generated: Path) -> None:
    """Two rows alike in every field: each kept as a fill, and named before the append, for the operator to check."""
    (generated / "trade_manager_state.json").unlink()
    twin = "BTC/USD,buy,0.5,50000.0,2025-08-26T19:01:55.574138,False\n"
    (generated / "trades.csv").write_text(twin + "ETH/USD,buy,2,3000,2025-08-26T19:05:00,False\n" + twin)

    plan: dict[str, Any] = cli.json("migrate", "--logs-dir", str(generated), "--dry-run")
    text = " ".join(cli("migrate", "--logs-dir", str(generated), "--dry-run").stdout.replace("│", " ").split())

    fill_ids = {fill["where"]: fill["fill_id"] for fill in plan["fills"]}
    assert plan["identical_rows"] == [
        {
            "source": "trades.csv",
            "lines": [1, 3],
            "symbol": "BTC/USD",
            "side": "buy",
            "amount": "0.5",
            "price": "50000",
            "occurred_at": "2025-08-26T19:01:55.574138+00:00",
            "fills": [
                {"line": 1, "fill_id": fill_ids["line 1"], "source": "trades.csv", "where": "line 1"},
                {"line": 3, "fill_id": fill_ids["line 3"], "source": "trades.csv", "where": "line 3"},
            ],
        }
    ]
    assert plan["summary"]["identical_rows"] == 2
    assert plan["summary"]["new"] == 3
    assert plan["notes"][0].startswith("trades.csv lines 1 and 3 are identical rows (buy 0.5 BTC/USD at 50000, ")
    assert "note: trades.csv lines 1 and 3 are identical rows" in text
