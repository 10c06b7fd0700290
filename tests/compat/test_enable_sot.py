"""`enable_sot`: the seed's configuration changes, set through a ruamel.yaml round trip that keeps the rest.

Run on copies of `shared/fixtures/config.commented.yaml` (the real legacy config with comments, blank
lines and an end-of-line comment added): everything but the changed keys must stay byte for byte.
"""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradeledger.compat.config import ConfigError, load_bot_config
from tradeledger.compat.enable_sot import check_sot, enable_sot

SHARED = Path(__file__).resolve().parents[3] / "shared"
COMMENTED = SHARED / "fixtures" / "config.commented.yaml"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDED = """\
trade_manager:
  enabled: true
  single_source_of_truth: true
  migration_complete: true
  migration_date: "2026-03-02"
  sync_legacy_systems: true
  validate_consistency: true
position_monitor:
  use_trade_manager: true
  sync_with_legacy: true
paper_wallet:
  sync_with_trade_manager: true
  auto_sync_on_trade: true
"""
ALL_KEYS = [
    "trade_manager.enabled",
    "trade_manager.single_source_of_truth",
    "trade_manager.migration_complete",
    "trade_manager.migration_date",
    "trade_manager.sync_legacy_systems",
    "trade_manager.validate_consistency",
    "position_monitor.use_trade_manager",
    "position_monitor.sync_with_legacy",
    "paper_wallet.sync_with_trade_manager",
    "paper_wallet.auto_sync_on_trade",
]


def clock() -> datetime:
    return NOW


@pytest.fixture
def config(tmp_path: Path) -> Path:
    if not COMMENTED.is_file():
        pytest.fail(
            f"the shared fixture {COMMENTED} is missing; the shared folder must sit beside the repo (../shared)"
        )
    copy = tmp_path / "crypto_bot" / "config.yaml"
    copy.parent.mkdir()
    shutil.copyfile(COMMENTED, copy)
    copy.chmod(0o640)
    return copy


def test_enabling_keeps_every_byte_of_the_commented_config_and_adds_the_seed_keys_at_the_end(config: Path) -> None:
    before = config.read_bytes()

    result = enable_sot(config, clock=clock)

    after = config.read_text(encoding="utf-8")
    assert after == before.decode("utf-8") + ADDED  # comments, order, blank lines, quotes: all as they were
    assert list(result.changed) == ALL_KEYS
    assert result.migration_date == "2026-03-02"
    assert result.backup == config.with_name("config.yaml.bak.20260302_090000")
    assert result.backup.read_bytes() == before
    assert stat.S_IMODE(config.stat().st_mode) == 0o640  # the replaced file keeps its permissions
    loaded = load_bot_config(config)
    assert loaded.trade_manager_is_primary
    assert loaded.trade_manager.migration_complete
    assert loaded.trade_manager.migration_date == "2026-03-02"
    assert loaded.position_monitor.use_trade_manager
    assert loaded.paper_wallet.auto_sync_on_trade
    assert check_sot(config) == []


def test_validate_only_lists_every_missing_key_and_changes_nothing(config: Path) -> None:
    before = config.read_bytes()

    problems = check_sot(config)

    assert problems == [f"{key} is missing" for key in ALL_KEYS]
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.yaml"]


def test_a_config_already_switched_on_is_left_alone(config: Path) -> None:
    enable_sot(config, clock=clock)
    switched = config.read_bytes()

    again = enable_sot(config, clock=lambda: datetime(2026, 4, 1, tzinfo=UTC))

    assert (again.changed, again.backup, again.migration_date) == ((), None, "2026-03-02")
    assert config.read_bytes() == switched
    assert len(list(config.parent.glob("config.yaml.bak.*"))) == 1


def test_existing_sections_keep_their_other_keys_comments_and_order(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"  # .yml works as .yaml does
    config.write_text(
        "# my bot\n"
        "paper_wallet:\n"
        "  initial_balance: 500  # dollars\n"
        "  sync_with_trade_manager: false\n"
        "\n"
        "# the manager\n"
        "trade_manager:\n"
        "  enabled: true\n"
        "  migration_complete: false\n"
        "  custom: 'kept'\n"
        "symbols:\n"
        "    - BTC/USD\n"
        "    - ETH/USD\n"
        "# end\n",
        encoding="utf-8",
    )

    result = enable_sot(config, clock=clock)

    assert config.read_text(encoding="utf-8") == (
        "# my bot\n"
        "paper_wallet:\n"
        "  initial_balance: 500  # dollars\n"
        "  sync_with_trade_manager: true\n"
        "  auto_sync_on_trade: true\n"
        "\n"
        "# the manager\n"
        "trade_manager:\n"
        "  enabled: true\n"
        "  migration_complete: true\n"
        '  migration_date: "2026-03-02"\n'
        "  custom: 'kept'\n"
        "  single_source_of_truth: true\n"
        "  sync_legacy_systems: true\n"
        "  validate_consistency: true\n"
        "symbols:\n"
        "    - BTC/USD\n"
        "    - ETH/USD\n"
        "position_monitor:\n"
        "  use_trade_manager: true\n"
        "  sync_with_legacy: true\n"
        "# end\n"
    )
    assert "trade_manager.enabled" not in result.changed  # it was true already
    assert "trade_manager.migration_complete" in result.changed
    assert load_bot_config(config).trade_manager_is_primary


def test_an_empty_section_is_filled_in_place(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("a: 1\ntrade_manager:\n\n# next\nposition_monitor:\n  use_trade_manager: true\n")

    enable_sot(config, clock=clock)

    assert config.read_text() == (
        "a: 1\n"
        "trade_manager:\n"
        "  enabled: true\n"
        "  single_source_of_truth: true\n"
        "  migration_complete: true\n"
        '  migration_date: "2026-03-02"\n'
        "  sync_legacy_systems: true\n"
        "  validate_consistency: true\n"
        "\n"
        "# next\n"
        "position_monitor:\n"
        "  use_trade_manager: true\n"
        "  sync_with_legacy: true\n"
        "paper_wallet:\n"
        "  sync_with_trade_manager: true\n"
        "  auto_sync_on_trade: true\n"
    )


def test_rolling_back_and_enabling_again_sets_a_new_migration_date(config: Path) -> None:
    enable_sot(config, clock=clock)
    # the seed's Rollback Plan, step 3
    config.write_text(config.read_text().replace("single_source_of_truth: true", "single_source_of_truth: false"))
    assert check_sot(config) == ["trade_manager.single_source_of_truth is False (want true)"]

    again = enable_sot(config, clock=lambda: datetime(2026, 4, 1, 12, 0, tzinfo=UTC))

    assert again.changed == ("trade_manager.single_source_of_truth", "trade_manager.migration_date")
    assert 'migration_date: "2026-04-01"' in config.read_text()
    assert again.backup == config.with_name("config.yaml.bak.20260401_120000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trade_manager: true\n", "trade_manager: must be a mapping of keys"),
        ("exit_strategy:\n  trailing_stop_pct: 5.0\n", r"exit_strategy\.trailing_stop_pct: must be a fraction"),
        ("- a list\n", "the config must be a mapping of keys"),
        ("a: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_config_that_cannot_be_switched_is_refused_and_left_as_it_was(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)

    with pytest.raises(ConfigError, match=message):
        enable_sot(config, clock=clock)

    assert config.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_missing_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config"):
        check_sot(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize(("bom", "newline"), [(b"", b"\r\n"), (b"\xef\xbb\xbf", b"\n"), (b"\xef\xbb\xbf", b"\r\n")])
def test_a_config_with_crlf_line_ends_or_a_bom_keeps_them(config: Path, bom: bytes, newline: bytes) -> None:
    """A config saved on Windows (CRLF, maybe a BOM) keeps every byte but the added keys, which follow its line ends."""
    plain = config.read_bytes()
    config.write_bytes(bom + plain.replace(b"\n", newline))

    enable_sot(config, clock=clock)

    assert config.read_bytes() == bom + (plain + ADDED.encode()).replace(b"\n", newline)
    assert check_sot(config) == []


def test_a_config_mixing_crlf_and_lf_line_ends_is_refused_and_left_as_it_was(config: Path) -> None:
    mixed = config.read_bytes().replace(b"\n", b"\r\n", 3)
    config.write_bytes(mixed)

    with pytest.raises(ConfigError, match=r"config\.yaml: mixes CRLF and LF line ends"):
        enable_sot(config, clock=clock)

    assert config.read_bytes() == mixed
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.yaml"]
