"""A legacy file that begins with a UTF-8 byte order mark (Windows editors write one) is read as the same file
without it: the migration's plan of copies of the shared fixtures with a BOM prepended equals the plan of the
copies as they are."""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import pytest

from tests.compat.test_migration import GENERATED, needs, plan_for, real_logs
from tradeledger import Ledger
from tradeledger.compat.migration import POSITIONS_LOG, STATE_FILE, TRADES_CSV, WALLET_FILE, MigrationPlan


def with_bom(path: Path) -> None:
    data = path.read_bytes()
    assert not data.startswith(codecs.BOM_UTF8)
    path.write_bytes(codecs.BOM_UTF8 + data)


def state_logs(folder: Path) -> Path:
    """crypto_bot/logs with a copy of the legacy TradeManager's own state file (legacy-generated: the real files
    hold none, it was not committed upstream)."""
    logs = folder / "crypto_bot" / "logs"
    logs.mkdir(parents=True)
    shutil.copyfile(needs(GENERATED / STATE_FILE), logs / STATE_FILE)
    return logs


def plans(tmp_path: Path, ledger: Ledger, name: str) -> tuple[MigrationPlan, MigrationPlan]:
    """The plan of the files as they are, and of copies with a BOM before `name`."""
    make = state_logs if name == STATE_FILE else real_logs
    plain, marked = make(tmp_path / "plain"), make(tmp_path / "marked")
    with_bom(marked / name)
    return plan_for(plain, ledger)[1], plan_for(marked, ledger)[1]


@pytest.mark.parametrize(
    ("name", "fills"),
    [
        (STATE_FILE, 120),
        (TRADES_CSV, 13),
        (POSITIONS_LOG, 13),  # its lines are searched for, the BOM before the first one's time is left aside
        (WALLET_FILE, 13),  # YAML takes a BOM
    ],
)
def test_a_legacy_file_beginning_with_a_utf8_bom_plans_as_the_same_file_without_it(
    tmp_path: Path, ledger: Ledger, name: str, fills: int
) -> None:
    plain, marked = plans(tmp_path, ledger, name)

    assert len(plain.fills) == fills
    assert marked == plain
