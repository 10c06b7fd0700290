"""`tradeledger rollback`, `export` and `import` of an export, as an operator and an auditor use them."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.cli import admin
from tradeledger.compat import read_models
from tradeledger.compat.bot import LegacyBot
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import create_trade

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEGS = (
    ("BTC/USD", "buy", "1", "100"),
    ("ETH/USD", "sell", "2", "50"),
    ("BTC/USD", "sell", "1", "110"),
    ("ETH/USD", "buy", "2", "45"),
    ("SOL/USD", "buy", "10", "20"),
)


@pytest.fixture
def five(db_url: str) -> str:
    with open_ledger(db_url) as ledger:
        for symbol, side, quantity, price in LEGS:
            ledger.record(fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, fee="0.1"))
    return db_url


def test_a_dry_run_prints_what_would_go_and_changes_nothing(cli: Cli, five: str) -> None:
    result = cli.json("rollback", "--to-seq", "2", "--reason", "look first", "--dry-run")

    assert result["dry_run"] is True
    assert [item["seq"] for item in result["removed"]] == [3, 4, 5]
    assert (result["head_after"]["epoch"], result["head_after"]["seq"]) == (2, 2)
    assert result["record"] is None
    assert cli.json("verify")["head"]["seq"] == 5


def test_verify_json_lists_a_rollback_whose_removed_events_do_not_read_as_removed_null_and_exits_1(
    cli: Cli, five: str
) -> None:
    cli("rollback", "--to-seq", "3", "--reason", "undo", "--actor", "ops")
    with sqlite3.connect(five.removeprefix("sqlite:///")) as connection:  # an edit behind the ledger's back
        connection.execute("DROP TRIGGER ledger_admin_log_no_update")
        connection.execute("UPDATE ledger_admin_log SET removed = '[1]'")

    report = cli.json("verify", expect=1)

    assert report["ok"] is False
    assert [(problem["seq"], problem["check"]) for problem in report["problems"]] == [(4, "admin"), (4, "admin")]
    assert report["problems"][1]["detail"] == (
        "admin record 1: its removed events cannot be read (tradeledger.domain.records.StoredEvent() argument after "
        "** must be a mapping, not int)"
    )
    assert (report["rollbacks"][0]["id"], report["rollbacks"][0]["removed"]) == (1, None)


def test_a_rollback_is_audited_and_verify_shows_its_record(cli: Cli, five: str, tmp_path: Path) -> None:
    result = cli.json(
        "rollback",
        "--to-seq",
        "2",
        "--reason",
        "wrong symbol mapping",
        "--actor",
        "alice",
        "--state-dir",
        str(tmp_path),
    )

    assert result["verify"] is True
    assert [p["symbol"] for p in result["state"]["open"]] == ["BTC/USD", "ETH/USD"]
    report = cli.json("verify")
    assert report["ok"] is True
    (record,) = report["rollbacks"]
    assert (record["actor"], record["reason"], record["from"]["seq"], record["to"]["seq"]) == (
        "alice",
        "wrong symbol mapping",
        5,
        2,
    )
    assert [item["seq"] for item in record["removed"]] == [3, 4, 5]
    text = cli("verify").stdout
    assert "1 audited rollback(s)" in text
    assert "by alice: seq 5 (epoch 1) -> seq 2 (epoch 2), 3 event(s) removed; reason: wrong symbol mapping" in text


def test_a_rollback_to_a_time_removes_what_was_recorded_after_it(cli: Cli, five: str) -> None:
    with open_ledger(five) as ledger:
        third = ledger.history()[2].recorded_at

    result = cli.json("rollback", "--to-time", third.isoformat(), "--reason", "after the third", "--dry-run")

    assert [item["seq"] for item in result["removed"]] == [4, 5]


def test_a_rollback_without_a_reason_or_with_nothing_to_remove_exits_2(cli: Cli, five: str) -> None:
    assert "Missing option '--reason'" in cli("rollback", "--to-seq", "2", expect=2).stderr
    assert "nothing after seq 5" in cli("rollback", "--to-seq", "5", "--reason", "x", expect=2).stderr


@pytest.mark.parametrize("target", [[], ["--to-seq", "2", "--to-time", "2026-01-01T00:00:00Z"]])
def test_a_rollback_without_exactly_one_target_is_refused_naming_both_options(
    cli: Cli, five: str, target: list[str]
) -> None:
    refused = cli("rollback", *target, "--reason", "x", "--json", expect=2)

    assert (refused.stdout, refused.stderr) == ("", "error: rollback: give exactly one of --to-seq N and --to-time T\n")


def test_a_rollback_without_actor_by_a_user_the_os_does_not_name_is_refused_asking_for_one(
    cli: Cli, five: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container running as a uid with no passwd entry and no USER, LOGNAME, LNAME or USERNAME.
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "getuid", lambda: 2_000_000_007)

    refused = cli("rollback", "--to-seq", "3", "--reason", "undo", expect=2)

    assert refused.stderr.startswith("error: --actor: the OS names no user running this (")
    assert refused.stderr.endswith("); give --actor NAME; nothing was rolled back\n")
    assert cli.json("verify")["events"] == 5


def test_the_legacy_read_model_files_are_rewound_with_the_log(db_url: str, cli: Cli, tmp_path: Path) -> None:
    prices = {"BTC/USD": Decimal(50000), "ETH/USD": Decimal(3000)}
    with open_ledger(db_url) as ledger:
        bot = LegacyBot.build(ledger, {}, price_source=prices.__getitem__, state_dir=tmp_path)
        assert bot.paper_wallet is not None
        bot.paper_wallet.open("BTC/USD", "buy", "0.1", "50000")
        bot.paper_wallet.open("ETH/USD", "buy", "1", "3000")
        bot.close()
    state = json.loads((tmp_path / "trade_manager_state.json").read_text(encoding="utf-8"))
    assert sorted(state["positions"]) == ["BTC/USD", "ETH/USD"]

    config = tmp_path / "config.yaml"
    config.write_text("paper_wallet:\n  initial_balance: 10000\n", encoding="utf-8")
    refused = cli("rollback", "--to-seq", "1", "--reason", "undo ETH", "--state-dir", str(tmp_path), expect=2)
    assert "--config: the rollback rewrites" in refused.stderr
    assert cli.json("verify")["events"] == 2  # nothing was rolled back

    options = ("--reason", "undo ETH", "--state-dir", str(tmp_path), "--config", str(config))
    result = cli.json("rollback", "--to-seq", "1", *options)

    assert sorted(result["files"]) == sorted(
        [str(tmp_path / "trade_manager_state.json"), str(tmp_path / "paper_wallet_state.yaml")]
    )
    state = json.loads((tmp_path / "trade_manager_state.json").read_text(encoding="utf-8"))
    assert sorted(state["positions"]) == ["BTC/USD"]
    wallet = (tmp_path / "paper_wallet_state.yaml").read_text(encoding="utf-8")
    assert "ETH/USD" not in wallet
    assert "balance: 5000.0" in wallet  # 10000 - 0.1 x 50000


def test_a_read_model_name_that_is_a_folder_is_refused_before_anything_is_rolled_back(
    cli: Cli, five: str, tmp_path: Path
) -> None:
    (tmp_path / "trade_manager_state.json").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("paper_wallet:\n  initial_balance: 10000\n", encoding="utf-8")
    options = ("--reason", "undo", "--state-dir", str(tmp_path), "--config", str(config))

    refused = cli("rollback", "--to-seq", "3", *options, expect=2)

    assert refused.stderr == (
        f"error: --state-dir: {tmp_path / 'trade_manager_state.json'}: is a folder; name a file; nothing was rolled "
        "back\n"
    )
    assert cli.json("verify")["events"] == 5


def test_a_read_model_that_cannot_be_written_after_the_rollback_is_named_with_the_rollback_done(
    cli: Cli, five: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "trade_manager_state.json").write_text("{}", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("paper_wallet:\n  initial_balance: 10000\n", encoding="utf-8")

    def disk_full(*_: object, **__: object) -> list[str]:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "trade_manager_state.json"))

    monkeypatch.setattr(read_models, "rewind_read_models", disk_full)
    options = ("--reason", "undo", "--state-dir", str(tmp_path), "--config", str(config))

    failed = cli("rollback", "--to-seq", "3", *options, expect=2)

    assert failed.stderr == (
        "error: the log was rolled back to seq 3 (epoch 2, in the admin log), but the legacy files in --state-dir "
        f"were not all rewritten: {tmp_path / 'trade_manager_state.json'}: No space left on device; one not "
        "rewritten still shows the log before the rollback\n"
    )
    assert cli.json("verify")["events"] == 3


def test_the_read_model_files_of_a_bot_on_another_account_are_rewound_with_that_accounts_books(
    db_url: str, cli: Cli, tmp_path: Path
) -> None:
    prices = {"BTC/USD": Decimal(50000), "ETH/USD": Decimal(3000)}
    with open_ledger(db_url) as ledger:
        bot = LegacyBot.build(ledger, {}, price_source=prices.__getitem__, state_dir=tmp_path, account="alice")
        assert bot.paper_wallet is not None
        bot.paper_wallet.open("BTC/USD", "buy", "0.1", "50000")
        bot.paper_wallet.open("ETH/USD", "buy", "1", "3000")
        bot.close()
    config = tmp_path / "config.yaml"
    config.write_text("paper_wallet:\n  initial_balance: 10000\n", encoding="utf-8")

    options = ("--reason", "undo ETH", "--state-dir", str(tmp_path), "--config", str(config), "--account", "alice")
    cli.json("rollback", "--to-seq", "1", *options)

    state = json.loads((tmp_path / "trade_manager_state.json").read_text(encoding="utf-8"))
    assert sorted(state["positions"]) == ["BTC/USD"]  # alice's books, not the empty ones of account 'default'
    assert [trade["symbol"] for trade in state["trades"]] == ["BTC/USD"]
    wallet = (tmp_path / "paper_wallet_state.yaml").read_text(encoding="utf-8")
    assert "ETH/USD" not in wallet
    assert "balance: 5000.0" in wallet  # 10000 - 0.1 x 50000


def test_a_running_trade_manager_sees_the_rollback_on_its_next_read(db_url: str, cli: Cli) -> None:
    with open_ledger(db_url) as ledger:
        manager = TradeManager(ledger)
        ledger.record(fill_fields(symbol="BTC/USD", quantity="1", price="100"))
        ledger.record(fill_fields(symbol="ETH/USD", quantity="1", price="10"))
        assert [p.symbol for p in manager.get_all_positions()] == ["BTC/USD", "ETH/USD"]

        cli.json("rollback", "--to-seq", "1", "--reason", "undo ETH")

        assert [p.symbol for p in manager.get_all_positions()] == ["BTC/USD"]
        assert len(manager.get_trade_history()) == 1


def test_an_export_imported_into_an_empty_ledger_is_the_same_ledger(cli: Cli, five: str, tmp_path: Path) -> None:
    cli("rollback", "--to-seq", "3", "--reason", "undo", "--actor", "ops")
    with open_ledger(five) as ledger:
        ledger.record(fill_fields(symbol="ADA/USD", quantity="5", price="1"))
        original = ledger.verify()
        original_state = ledger.state()
    exported = tmp_path / "export.ndjson"
    cli("export", "--output", str(exported))
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["header"] + ["event"] * 4 + ["rollback"]

    copy = Cli(f"sqlite:///{tmp_path / 'copy.db'}")
    summary = copy.json("import", str(exported))

    assert summary == {
        "appended": 4,
        "duplicates": 0,
        "seq": 4,
        "hash": original.head.hash,
        "rollbacks": 1,
        "verify": True,
    }
    with open_ledger(copy.url) as imported:
        assert imported.head == original.head
        assert imported.state() == original_state
        assert imported.admin_log() == original.rollbacks


def test_an_edited_export_is_refused_at_the_edited_seq_and_nothing_is_written(
    cli: Cli, five: str, tmp_path: Path
) -> None:
    exported = tmp_path / "export.ndjson"
    cli("export", "--output", str(exported))
    lines = exported.read_text(encoding="utf-8").splitlines()
    third = json.loads(lines[3])
    third["price"] = "999"
    lines[3] = json.dumps(third)
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")

    copy = Cli(f"sqlite:///{tmp_path / 'copy.db'}")
    result = copy("import", str(exported), expect=2)

    assert "broken at seq 3" in result.stderr
    assert copy.json("verify")["events"] == 0


def test_an_export_is_imported_only_into_an_empty_ledger(cli: Cli, five: str, tmp_path: Path) -> None:
    exported = tmp_path / "export.ndjson"
    cli("export", "--output", str(exported))

    result = cli("import", str(exported), expect=2)

    assert "needs an empty ledger; this one holds 5 events" in result.stderr


def test_export_to_stdout_is_one_json_object_per_line(cli: Cli, five: str) -> None:
    lines = cli("export").stdout.splitlines()

    header = json.loads(lines[0])
    assert (header["format"], header["version"], header["events"], header["rollbacks"]) == (
        "tradeledger-export",
        2,
        5,
        0,
    )
    assert header["event_versions"] == {"fill": [2]}
    assert [json.loads(line)["seq"] for line in lines[1:]] == [1, 2, 3, 4, 5]


def manifest_for(tmp_path: Path, head: dict[str, object]) -> Path:
    """A migration backup as `tradeledger migrate` leaves it: the manifest and the backed-up legacy files."""
    logs = tmp_path / "crypto_bot" / "logs"
    backups = logs / "migration_backup"
    backups.mkdir(parents=True)
    (backups / "trade_manager_backup_20261130_090000.json").write_text('{"trades": []}\n', encoding="utf-8")
    (backups / "paper_wallet_backup_20261130_090000.yaml").write_text("balance: 10000.0\n", encoding="utf-8")
    (logs / "trade_manager_state.json").write_text('{"trades": ["written after"]}\n', encoding="utf-8")
    manifest = backups / "migration_backup_20261130_090000.json"
    files = {
        str(logs / "trade_manager_state.json"): "trade_manager_backup_20261130_090000.json",
        str(logs / "paper_wallet_state.yaml"): "paper_wallet_backup_20261130_090000.yaml",
    }
    manifest.write_text(json.dumps({"head_before": head, "head_after": None, "files": files}), encoding="utf-8")
    return manifest


def migrated(db_url: str, tmp_path: Path, *symbols: str) -> Path:
    """A ledger holding a BTC/USD fill, the manifest of a migration that started there, then the migration's fills
    (one per symbol): the manifest."""
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields(symbol="BTC/USD"))
        before = ledger.head
        manifest = manifest_for(tmp_path, {"epoch": before.epoch, "seq": before.seq, "hash": before.hash})
        ledger.record_many([fill_fields(symbol=symbol) for symbol in symbols])
    return manifest


def test_restore_rolls_the_log_back_to_the_migration_and_puts_the_legacy_files_back(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    manifest = migrated(db_url, tmp_path, "ETH/USD", "SOL/USD")

    result = cli.json("restore", str(manifest), "--actor", "ops")

    logs = tmp_path / "crypto_bot" / "logs"
    assert result["verify"] is True
    assert [item["seq"] for item in result["rolled_back"]["removed"]] == [2, 3]
    assert (logs / "trade_manager_state.json").read_text(encoding="utf-8") == '{"trades": []}\n'
    assert (logs / "paper_wallet_state.yaml").read_text(encoding="utf-8") == "balance: 10000.0\n"
    (record,) = cli.json("verify")["rollbacks"]
    assert record["reason"] == "restore from migration_backup_20261130_090000.json"


def test_restore_refuses_a_ledger_that_no_longer_holds_the_migrations_starting_point(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())
    manifest = manifest_for(tmp_path, {"epoch": 1, "seq": 1, "hash": "f" * 64})

    result = cli("restore", str(manifest), expect=2)

    assert "no longer holds the event the migration started from" in result.stderr
    logs = tmp_path / "crypto_bot" / "logs"
    assert (logs / "trade_manager_state.json").read_text(encoding="utf-8") == '{"trades": ["written after"]}\n'
    assert cli.json("verify")["events"] == 1


def test_restore_refuses_a_folder_where_a_file_goes_back_before_anything_is_rolled_back(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    manifest = migrated(db_url, tmp_path, "ETH/USD")
    folder = tmp_path / "crypto_bot" / "logs" / "paper_wallet_state.yaml"
    folder.mkdir()

    refused = cli("restore", str(manifest), expect=2)

    assert refused.stderr == f"error: {manifest}: {folder}: is a folder; name a file; nothing was restored\n"
    assert cli.json("verify")["events"] == 2


def test_a_file_restore_cannot_write_after_the_rollback_is_named_with_the_rollback_done(
    cli: Cli, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = migrated(db_url, tmp_path, "ETH/USD")

    def disk_full(path: Path, _: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(admin, "write_bytes_atomically", disk_full)

    failed = cli("restore", str(manifest), expect=2)

    first = next(iter(json.loads(manifest.read_text(encoding="utf-8"))["files"]))
    assert failed.stderr == (
        f"error: {manifest}: the log was rolled back to seq 1 (epoch 2, in the admin log), but the backed-up files "
        f"were not all put back: {first}: No space left on device; put them back from {manifest.parent}\n"
    )
    assert cli.json("verify")["events"] == 1


def test_a_restore_dry_run_changes_nothing(cli: Cli, db_url: str, tmp_path: Path) -> None:
    with open_ledger(db_url) as ledger:
        manifest = manifest_for(tmp_path, {"epoch": 1, "seq": 0, "hash": "0" * 64})
        ledger.record(fill_fields())

    result = cli.json("restore", str(manifest), "--dry-run")

    assert result["dry_run"] is True
    assert [item["seq"] for item in result["rolled_back"]["removed"]] == [1]
    assert cli.json("verify")["events"] == 1
    logs = tmp_path / "crypto_bot" / "logs"
    assert not (logs / "paper_wallet_state.yaml").exists()


@pytest.mark.parametrize(
    "head",
    [
        {"epoch": 1, "seq": 1},  # no hash
        {"epoch": 1, "seq": 10**30, "hash": "f" * 64},  # past any seq a database holds
        {"epoch": 1, "seq": True, "hash": "f" * 64},  # JSON's true, not a number
        {"epoch": 1, "seq": -1, "hash": "f" * 64},
        {"epoch": "1", "seq": 1, "hash": "f" * 64},
        {"epoch": 1, "seq": 1, "hash": 7},
    ],
)
def test_restore_refuses_a_manifest_whose_head_before_is_not_a_head_naming_it(
    cli: Cli, db_url: str, tmp_path: Path, head: dict[str, object]
) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())
    manifest = manifest_for(tmp_path, head)

    result = cli("restore", str(manifest), expect=2)

    assert result.stderr == (
        f"error: {manifest}: a manifest needs head_before {{epoch, seq, hash}} (whole numbers of 0 or more, and "
        f"a hash) and files (got head_before {json.dumps(head)})\n"
    )
    assert cli.json("verify")["events"] == 1


@pytest.mark.parametrize("name", [7, None, ["trade_manager_backup_20261130_090000.json"]])
def test_restore_refuses_a_manifest_whose_backup_file_name_is_not_a_text_naming_it(
    cli: Cli, db_url: str, tmp_path: Path, name: object
) -> None:
    with open_ledger(db_url) as ledger:
        ledger.record(fill_fields())
    manifest = manifest_for(tmp_path, {"epoch": 1, "seq": 0, "hash": "0" * 64})
    data = json.loads(manifest.read_text(encoding="utf-8"))
    original = str(tmp_path / "crypto_bot" / "logs" / "trade_manager_state.json")
    data["files"][original] = name
    manifest.write_text(json.dumps(data), encoding="utf-8")

    result = cli("restore", str(manifest), "--actor", "ops", expect=2)

    assert result.stderr == (
        f"error: {manifest}: files must map each file to its backup's name, a text (got {json.dumps(name)} for "
        f"{original}); nothing was restored\n"
    )
    assert cli.json("verify")["events"] == 1


def test_a_running_trade_manager_takes_no_stops_from_a_rolled_back_cycle_whose_seq_is_reused(
    db_url: str, cli: Cli, tmp_path: Path
) -> None:
    # A long BTC cycle opened at seq 2 ratchets its stop up; the rollback removes it; a SHORT opened
    # after the rollback is seq 2 again (epoch 2). Its levels must be the short's, not the long's.
    with open_ledger(db_url) as ledger:
        manager = TradeManager(ledger)
        manager.record_trade(create_trade("ETH/USD", "buy", "1", "10", timestamp=T0))
        manager.record_trade(create_trade("BTC/USD", "buy", "1", "100", timestamp=T0))
        manager.update_price("BTC/USD", "130")  # stop ratchets to 130 x 0.992 = 128.96
        manager.flush_marks()

        cli.json("rollback", "--to-seq", "1", "--reason", "undo BTC", "--state-dir", str(tmp_path))
        ledger.record(fill_fields(symbol="BTC/USD", side="sell", quantity="1", price="200"))
        manager.update_price("BTC/USD", "199")
        manager.flush_marks()

        position = manager.get_position("BTC/USD")
        assert position is not None
        # The short's own levels from 200 (stop 202, target 192), with the tick at 199 ratcheting its
        # trailing stop down to 199 x 1.008 = 200.592 (not the long's 197.408 from its 130 high).
        assert (position.side, position.opened_seq) == ("short", 2)
        assert (position.stop_loss_price, position.take_profit_price) == (Decimal("200.592"), Decimal(192))
        assert position.should_exit(199) == (False, "")
        (levels,) = [lv for key, lv in ledger.marks().levels.items() if key == ("default", "BTC/USD")]
        assert (levels.stop_loss_price, levels.opened_seq) == (Decimal("200.592"), 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda items: items[-1].update(reason="nothing happened"), "admin log does not hold"),
        (lambda items: items[0]["head"].update(epoch=3), "admin log does not hold"),
    ],
    ids=["edited rollback reason", "edited head epoch"],
)
def test_an_export_with_an_edited_admin_log_is_refused_and_nothing_is_written(
    cli: Cli, five: str, tmp_path: Path, edit: Any, message: str
) -> None:
    cli("rollback", "--to-seq", "3", "--reason", "undo", "--actor", "ops", "--state-dir", str(tmp_path))
    exported = tmp_path / "export.ndjson"
    cli("export", "--output", str(exported))
    items = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    edit(items)
    exported.write_text("\n".join(json.dumps(item) for item in items) + "\n", encoding="utf-8")

    copy = Cli(f"sqlite:///{tmp_path / 'copy.db'}")
    result = copy("import", str(exported), expect=2)

    assert message in result.stderr
    assert copy.json("verify")["events"] == 0
    assert copy.json("verify")["rollbacks"] == []


def test_an_auditor_recomputes_every_hash_of_an_export_without_tradeledger(cli: Cli, five: str, tmp_path: Path) -> None:
    cli("rollback", "--to-seq", "3", "--reason", "undo", "--actor", "ops", "--state-dir", str(tmp_path))
    items = [json.loads(line) for line in cli("export").stdout.splitlines()]
    header, events, records = items[0], items[1:-1], items[-1:]

    def sha(prev_hash: str, values: list[object]) -> str:
        body = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()

    def hashed(event: dict[str, Any], kind: str) -> list[object]:
        """The values the hash covers: the fields named for the event's type and version, in order."""
        names = header["hashes"]["event_fields"][f"{event[kind]}/{event['version']}"]
        return [event[kind if name == "type" else name] for name in names]

    link = "0" * 64
    for event in events:  # an export line's own type is "event": the event's type is "event_type"
        assert event["prev_hash"] == link
        assert sha(link, hashed(event, "event_type")) == event["hash"]
        link = event["hash"]
    assert link == header["head"]["hash"]
    (record,) = records
    assert sha("0" * 64, [record[name] for name in header["hashes"]["rollback_fields"]]) == record["hash"]
    removed = json.loads(record["removed"])
    assert [e["seq"] for e in removed] == [4, 5]
    assert removed[0]["prev_hash"] == record["to_hash"]
    for event in removed:
        assert sha(event["prev_hash"], hashed(event, "type")) == event["hash"]
    assert removed[-1]["hash"] == record["from_hash"]


def test_a_dry_run_names_one_head_after_the_rollback_in_its_line_its_table_and_its_json(cli: Cli, five: str) -> None:
    text = cli("rollback", "--to-seq", "3", "--reason", "look first", "--dry-run").stdout
    result = cli.json("rollback", "--to-seq", "3", "--reason", "look first", "--dry-run")

    assert "head: epoch 1 seq 5 -> epoch 2 seq 3" in text
    assert "Positions after the rollback: seq 3, epoch 2" in text
    assert (result["state"]["seq"], result["state"]["epoch"]) == (3, 2)
    assert (result["head_after"]["seq"], result["head_after"]["epoch"]) == (3, 2)


def test_a_rollback_lists_the_removed_events_with_12_hex_chars_of_each_hash(cli: Cli, five: str) -> None:
    hashes = [event["hash"] for event in cli.json("history")]

    text = cli("rollback", "--to-seq", "3", "--reason", "look first", "--dry-run").stdout

    [row] = [line for line in text.splitlines() if line.lstrip("│ ").startswith("4 ")]
    assert row.split("│")[-2].strip() == hashes[3][:12]
