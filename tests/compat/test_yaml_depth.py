"""Every YAML file tradeledger reads (the bot's config, the legacy wallet's state, paper_wallet_config.yaml)
nests at most 64 levels deep: a deeper one is refused by name before ruamel.yaml builds anything (its
scanner and composer take time quadratic in the depth: 5,000 levels took seconds to end in a
RecursionError)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tradeledger.compat.config import ConfigError, load_bot_config
from tradeledger.compat.enable_sot import enable_sot
from tradeledger.compat.migration import LegacyPaths, MigrationError, read_legacy_files
from tradeledger.compat.migration.backups import wallet_initial_balance
from tradeledger.compat.yaml_text import MAX_YAML_DEPTH, YAMLTooDeep, load_bounded


def flow(depth: int) -> str:
    """`a:` holding `depth` - 1 nested lists: `depth` collections in all with the top mapping."""
    return "a: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def block(depth: int) -> str:
    """`depth` mappings nested by indentation."""
    return "".join(f"{'  ' * level}k{level}:\n" for level in range(depth - 1)) + f"{'  ' * (depth - 1)}k: 1\n"


def nested_lists(value: object) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value = value[0]
        depth += 1
    return depth + (1 if isinstance(value, list) else 0)


def test_the_limit_is_64_levels() -> None:
    assert MAX_YAML_DEPTH == 64


@pytest.mark.parametrize("shape", [flow, block], ids=["brackets", "indentation"])
def test_a_text_64_levels_deep_loads_and_65_is_refused_by_name(shape: Callable[[int], str]) -> None:
    loaded = load_bounded(YAML(typ="safe", pure=True), shape(64))
    assert isinstance(loaded, dict)

    with pytest.raises(YAMLTooDeep, match="nested more than 64 levels deep"):
        load_bounded(YAML(typ="safe", pure=True), shape(65))


def test_the_depth_is_how_deep_collections_nest_not_how_many_there_are() -> None:
    siblings = "a:\n" + "".join(f"  k{i}: [[1], {{x: [2]}}]\n" for i in range(200))  # 200 lists, 4 deep

    loaded = load_bounded(YAML(typ="safe", pure=True), siblings)

    assert isinstance(loaded, dict)
    assert loaded["a"]["k199"] == [[1], {"x": [2]}]


def test_a_round_trip_load_keeps_its_comments_after_the_depth_is_counted() -> None:
    yaml = YAML()
    loaded = load_bounded(yaml, "# head\na: 1  # one\n")

    assert loaded == {"a": 1}
    assert "# one" in str(loaded.ca.items["a"])  # type: ignore[attr-defined]


def test_the_bots_config_nested_5000_deep_is_refused_naming_the_file_and_the_limit(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(flow(5000))

    with pytest.raises(ConfigError, match=r"config\.yaml: not valid YAML \(nested more than 64 levels deep\)"):
        load_bot_config(config)
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        enable_sot(config, clock=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    assert config.read_text() == flow(5000)


def test_a_legacy_wallet_state_nested_too_deep_is_refused_naming_the_file(tmp_path: Path) -> None:
    wallet = tmp_path / "paper_wallet_state.yaml"
    wallet.write_text("balance: 10000\npositions: " + "{a: " * 70 + "1" + "}" * 70 + "\n")

    with pytest.raises(MigrationError, match=r"paper_wallet_state\.yaml: not valid YAML \(nested more than 64"):
        read_legacy_files(LegacyPaths.resolve(tmp_path))


def test_a_paper_wallet_config_nested_too_deep_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "paper_wallet_config.yaml").write_text(block(65))

    with pytest.raises(MigrationError, match=r"paper_wallet_config\.yaml: cannot read it \(nested more than 64"):
        wallet_initial_balance(None, tmp_path / "config.yaml")


def test_a_config_at_the_limit_reads_as_usual(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("execution_mode: paper\n" + flow(64))

    loaded = load_bot_config(config)

    assert loaded.execution_mode == "paper"
    assert nested_lists((loaded.model_extra or {})["a"]) == 63
