"""`tradeledger migrate` on copies of the real legacy files edited the way a real file goes bad.

Each copy of `shared/fixtures/legacy-real/` (and of the legacy TradeManager's own state file in
`shared/fixtures/legacy-generated/`) is changed one way: cut short, emptied, given a BOM or CRLF line
ends (migrated as the file without them), a position written in two shapes at once, a trade whose copy under
its position says another amount, a trade id twice with other content, times with and without zones, amounts
of 1e-9, a symbol without '/'. Each is either migrated exactly (the fills say what the file says, times in UTC) or
refused with one line naming the file, the field and the value, exit 2, and nothing written: no
event, no backup.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
REAL = SHARED / "legacy-real"
GENERATED = SHARED / "legacy-generated"
WALLET, CSV, STATE = "paper_wallet_state.yaml", "trades.csv", "trade_manager_state.json"
# The first row of the real trades.csv, and the first symbol-keyed position of the real mixed wallet.
CXT_ROW = b"CXT/EUR,buy,45193.047249903,0.02517,2025-08-26T19:01:55.574138,False\n"
DOT_ENTRY = b"  DOT/USD:\n    amount: 268.16840976\n"


def real_logs(root: Path, *, state: bool = False) -> Path:
    """crypto_bot/ with the real config files; logs/ with the real trades.csv, positions.log, mixed wallet."""
    for source in (REAL, GENERATED):
        if not source.is_dir():
            pytest.fail(f"the shared fixtures {source} are missing; the shared folder must sit beside the repo")
    bot = root / "crypto_bot"
    logs = bot / "logs"
    logs.mkdir(parents=True)
    for name in ("config.yaml", "paper_wallet_config.yaml"):
        shutil.copyfile(REAL / name, bot / name)
    for name in (CSV, "positions.log"):
        shutil.copyfile(REAL / name, logs / name)
    shutil.copyfile(REAL / "paper_wallet_state.mixed_shapes.yaml", logs / WALLET)
    if state:
        shutil.copyfile(GENERATED / STATE, logs / STATE)
    return logs


def edit(path: Path, change: Callable[[bytes], bytes]) -> None:
    before = path.read_bytes()
    after = change(before)
    assert after != before, f"the edit of {path.name} changed nothing"
    path.write_bytes(after)


def edit_state(logs: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = logs / STATE
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state, indent=2))


def replace_once(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        assert data.count(old) >= 1, old
        return data.replace(old, new, 1)

    return change


def migrate(cli: Cli, logs: Path, *, expect: int = 0) -> Any:
    return cli("migrate", "--logs-dir", str(logs), "--config", str(logs.parent / "config.yaml"), expect=expect)


def fills(cli: Cli) -> dict[str, dict[str, Any]]:
    """The ledger's fills by fill id."""
    return {event["fill_id"]: event for event in cli.json("history")}


def csv_fill(cli: Cli, symbol: str) -> dict[str, Any]:
    [fill] = [f for f in fills(cli).values() if f["symbol"] == symbol and f["metadata"].get("migrated_from") == CSV]
    return fill


# --- refused: one line naming file, field and value; exit 2; nothing written ----------------------------


def _nested_trade_amount(state: dict[str, Any]) -> None:
    nested = state["positions"]["DOT/USD"]["trades"][0]
    nested["amount"] = nested["amount"] + 1


def _nested_trade_of(state: dict[str, Any]) -> str:
    return str(state["positions"]["DOT/USD"]["trades"][0]["id"])


REFUSED: dict[str, tuple[bool, Callable[[Path], object], str, tuple[str, ...]]] = {
    # name: (with the state file, the edit, the file named, texts the line must hold)
    "a wallet cut off mid-line": (
        False,
        lambda logs: edit(logs / WALLET, lambda data: data[: len(data) // 2]),
        WALLET,
        ("not valid YAML", "end of stream"),
    ),
    "a wallet cut off at a line end": (
        False,
        lambda logs: edit(logs / WALLET, lambda data: data[: data.rfind(b"\n", 0, len(data) // 2) + 1]),
        WALLET,
        ("positions['apu_usd_1756860750']", "side", "(got None)"),
    ),
    "an empty wallet": (False, lambda logs: (logs / WALLET).write_bytes(b""), WALLET, ("(got None)",)),
    "an empty state file": (True, lambda logs: (logs / STATE).write_bytes(b""), STATE, ("not JSON",)),
    "a state file cut off": (
        True,
        lambda logs: edit(logs / STATE, lambda data: data[: len(data) // 2]),
        STATE,
        ("not JSON", "line"),
    ),
    "a trades.csv symbol without a slash": (
        False,
        lambda logs: edit(logs / CSV, replace_once(b"CXT/EUR,", b"CXTEUR,")),
        CSV,
        ("line 1", "symbol", "'CXTEUR'"),
    ),
    "a state file trade symbol without a slash": (
        True,
        lambda logs: edit_state(logs, lambda state: state["trades"][0].__setitem__("symbol", "DOTUSD")),
        STATE,
        ("trades[0]", "symbol", "'DOTUSD'"),
    ),
    "a wallet entry whose symbol has no slash": (
        False,
        lambda logs: edit(logs / WALLET, replace_once(b"symbol: DOT/USD", b"symbol: DOTUSD")),
        WALLET,
        ("positions['DOT/USD']", "'DOTUSD'"),
    ),
    "a trade id twice with other content": (
        True,
        lambda logs: edit_state(
            logs, lambda state: state["trades"].append({**state["trades"][0], "price": state["trades"][0]["price"] + 1})
        ),
        STATE,
        ("trades[120]", "also trades[0]", "price", "4.0544", "5.0544"),
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_file_gone_bad_is_refused_in_one_line_naming_file_field_and_value_and_nothing_is_written(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    state, change, named, texts = REFUSED[name]
    logs = real_logs(tmp_path, state=state)
    change(logs)

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / named}: "), line
    for text in texts:
        assert text in line, (text, line)
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


# --- migrated exactly -------------------------------------------------------------------------------------


def test_crlf_line_ends_and_a_bom_in_each_file_migrate_the_same_fills_as_the_real_files(
    cli: Cli, tmp_path: Path
) -> None:
    plain = real_logs(tmp_path / "plain", state=True)
    migrate(cli, plain)
    expected = {fill_id: (f["symbol"], f["side"], f["quantity"], f["price"], f["occurred_at"])
                for fill_id, f in fills(cli).items()}  # fmt: skip
    assert len(expected) == 129  # the state file's 120 trades, the csv rows and the wallet openings they leave
    edited = real_logs(tmp_path / "edited", state=True)
    for name in (CSV, WALLET, STATE):  # a BOM, as Windows editors write one
        edit(edited / name, lambda data: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))
    other = Cli(f"sqlite:///{tmp_path / 'edited.db'}")

    migrate(other, edited)

    assert {fill_id: (f["symbol"], f["side"], f["quantity"], f["price"], f["occurred_at"])
            for fill_id, f in fills(other).items()} == expected  # fmt: skip


def test_times_with_and_without_zones_in_one_file_migrate_each_to_its_utc_instant(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path)
    edit(logs / CSV, replace_once(b"19:01:55.574138,", b"19:01:55.574138+02:00,"))  # CXT/EUR; BTC/USD stays naive

    migrate(cli, logs)

    assert csv_fill(cli, "CXT/EUR")["occurred_at"] == "2025-08-26T17:01:55.574138+00:00"
    assert csv_fill(cli, "BTC/USD")["occurred_at"] == "2025-08-26T19:02:01.206690+00:00"


def test_amounts_of_1e_9_in_the_csv_and_the_wallet_migrate_exactly(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path)
    edit(logs / CSV, replace_once(b"45193.047249903", b"1e-9"))
    edit(logs / WALLET, replace_once(DOT_ENTRY, b"  DOT/USD:\n    amount: 1.0e-09\n"))

    migrate(cli, logs)

    assert csv_fill(cli, "CXT/EUR")["quantity"] == "0.000000001"
    [dot] = [f for f in fills(cli).values() if f["symbol"] == "DOT/USD"]
    assert (dot["side"], dot["quantity"], dot["price"]) == ("sell", "0.000000001", "3.7384")


def test_a_state_file_trade_of_1e_9_migrates_exactly(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path, state=True)
    edit_state(logs, lambda state: state["trades"][0].__setitem__("amount", 1e-9))
    trade_id = json.loads((logs / STATE).read_text())["trades"][0]["id"]

    migrate(cli, logs)

    fill = fills(cli)[trade_id]
    expected = ("DOT/USD", "sell", "0.000000001", "4.0544")
    assert (fill["symbol"], fill["side"], fill["quantity"], fill["price"]) == expected


# --- defects: files that were migrated although they contradict themselves --------------------------------


def test_a_wallet_position_in_two_shapes_at_once_with_two_sizes_is_refused(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path)
    edit(logs / WALLET, replace_once(DOT_ENTRY, DOT_ENTRY + b"    size: 100.0\n"))

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / WALLET}: positions['DOT/USD']: "), line
    assert "size 100.0" in line
    assert "amount 268.16840976" in line
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


def test_a_wallet_position_in_two_shapes_at_once_with_one_size_migrates_it_once(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path)
    edit(logs / WALLET, replace_once(DOT_ENTRY, DOT_ENTRY + b"    size: 268.16840976\n"))

    migrate(cli, logs)

    [dot] = [f for f in fills(cli).values() if f["symbol"] == "DOT/USD"]
    assert (dot["side"], dot["quantity"]) == ("sell", "268.16840976")


def test_a_trade_whose_copy_under_its_position_has_another_amount_is_refused(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path, state=True)
    edit_state(logs, _nested_trade_amount)
    trade_id = _nested_trade_of(json.loads((logs / STATE).read_text()))

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / STATE}: positions['DOT/USD'].trades[0] (id {trade_id!r}): amount"), line
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


@pytest.mark.parametrize("cut", [b"2025-08-26T19", b"2025-08-26T19:02", b"2025-08-26T19:02:0"])
def test_a_trades_csv_cut_off_inside_its_last_timestamp_is_refused(cli: Cli, tmp_path: Path, cut: bytes) -> None:
    logs = real_logs(tmp_path)
    edit(logs / CSV, lambda data: data[: data.index(b"2025-08-26T19:02:01.206690")] + cut)

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / CSV}: line 2: timestamp"), line
    assert repr(cut.decode()) in line
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


@pytest.mark.parametrize(
    ("cut", "shown"),
    [
        (b"2025-08-26T19:02:01", "'2025-08-26T19:02:01'"),  # to the second: read as 19:02:01.000000
        (b"2025-08-26T19:02:01.2", "'2025-08-26T19:02:01.2'"),  # inside the fraction: read as .200000
        (b"2025-08-26T19:02:01.206690", "'2025-08-26T19:02:01.206690'"),  # before ",False": is_stop lost
    ],
)
def test_a_trades_csv_whose_last_row_has_no_line_end_is_refused_as_cut_off(
    cli: Cli, tmp_path: Path, cut: bytes, shown: str
) -> None:
    # The legacy bot ends every row it appends with a line end. A last row without one was cut off while
    # written; where the cut leaves a time that still parses, the fill would have another time and another
    # fill id than the whole row's, so the whole file, migrated later, would append the trade a second time.
    logs = real_logs(tmp_path)
    edit(logs / CSV, lambda data: data[: data.index(b"2025-08-26T19:02:01.206690")] + cut)

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / CSV}: line 2: no line end"), line
    assert shown in line
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


def test_a_wallet_cut_off_between_a_trade_id_positions_side_and_symbol_is_refused_naming_the_missing_symbol(
    cli: Cli, tmp_path: Path
) -> None:
    # Every legacy shape writes `symbol` (None only for an open without one, legacy-system.md §2.2); an entry
    # under a trade-id key without the key at all is a file cut off (here at a line end, so it parses), not
    # a position opened without a symbol: skipping it would migrate the wallet's first half as all of it.
    logs = real_logs(tmp_path)
    edit(logs / WALLET, lambda data: data[: data.index(b"    symbol: APU/USD\n")])

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / WALLET}: positions['apu_usd_1756860750']: symbol is missing"), line
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


def test_a_wallet_symbol_in_lower_case_is_refused_naming_the_wallet_files_path(cli: Cli, tmp_path: Path) -> None:
    logs = real_logs(tmp_path)
    edit(logs / WALLET, replace_once(b"symbol: APU/USD", b"symbol: apu/usd"))

    result = migrate(cli, logs, expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {logs / WALLET}: positions['apu_usd_1756860750']: symbol: "), line
    assert "(got 'apu/usd')" in line
    assert cli.json("history") == []
    assert not (logs / "migration_backup").exists()


# --- restore: a backup gone bad after the migration --------------------------------------------------------


def migrated_logs(cli: Cli, tmp_path: Path) -> tuple[Path, bytes, Path]:
    """The real legacy files migrated (backed up first): their folder, the wallet file's bytes, the manifest."""
    logs = real_logs(tmp_path)
    wallet = (logs / WALLET).read_bytes()
    migrated = cli.json("migrate", "--logs-dir", str(logs), "--config", str(logs.parent / "config.yaml"))
    return logs, wallet, Path(migrated["backup"]["manifest"])


def test_restore_refuses_a_backup_cut_off_since_the_migration_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    logs, wallet, manifest = migrated_logs(cli, tmp_path)
    [backup] = (logs / "migration_backup").glob("paper_wallet_backup_*.yaml")
    backup.write_bytes(backup.read_bytes()[:200])  # a disk filled up, a bad copy, an editor

    result = cli("restore", str(manifest), expect=2)

    assert result.stderr.count("\n") == 1, result.stderr
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {manifest}: its backup file {backup} is not the file the migration backed up"), line
    assert "nothing was restored" in line
    assert (logs / WALLET).read_bytes() == wallet
    assert len(cli.json("history")) == 13  # not rolled back


def test_restore_refuses_a_manifest_whose_hashes_leave_out_one_of_its_backups(cli: Cli, tmp_path: Path) -> None:
    logs, wallet, manifest = migrated_logs(cli, tmp_path)
    [backup] = (logs / "migration_backup").glob("paper_wallet_backup_*.yaml")
    written = json.loads(manifest.read_text())
    del written["sha256"][backup.name]  # the one check that would catch the cut-off copy below
    manifest.write_text(json.dumps(written, indent=2))
    backup.write_bytes(backup.read_bytes()[:200])

    result = cli("restore", str(manifest), expect=2)

    line = " ".join(result.stderr.split())
    assert line == (
        f"error: {manifest}: sha256 holds no hash of its backup file {backup.name}, which every backup of a manifest "
        "with hashes has; nothing was restored"
    )
    assert (logs / WALLET).read_bytes() == wallet
    assert len(cli.json("history")) == 13  # not rolled back


def test_restore_of_a_manifest_written_before_it_kept_hashes_restores_as_before(cli: Cli, tmp_path: Path) -> None:
    logs, wallet, manifest = migrated_logs(cli, tmp_path)
    written = json.loads(manifest.read_text())
    assert set(written["sha256"]) == set(written["files"].values())
    del written["sha256"]
    manifest.write_text(json.dumps(written, indent=2))
    (logs / WALLET).write_text("balance: 0\n")  # the new bot's file

    cli("restore", str(manifest))

    assert (logs / WALLET).read_bytes() == wallet
    assert cli.json("history") == []
