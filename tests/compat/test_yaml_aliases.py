"""Every YAML file tradeledger reads (the bot's config, the legacy wallet's state, paper_wallet_config.yaml)
holds at most 100,000 values with its aliases written out. An alias (`*name`) refers to a collection
instead of copying it, so ruamel.yaml loads a few lines of aliases of aliases quickly; but each message
that quotes such a value writes it out whole: a 430-byte config whose `stop_loss_pct` is 10**7 values
took 4.4 s and 430 MB to be refused with a 50 MB line, and 10**9 would need some 40 GB."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tradeledger.compat.config import ConfigError, load_bot_config
from tradeledger.compat.migration import LegacyPaths, MigrationError, read_legacy_files
from tradeledger.compat.yaml_text import load_bounded


def laughs(levels: int, then: str) -> str:
    """`levels` anchors, each a list of 10 aliases of the one before: 10**levels strings written out; `then`
    refers to the last as `*top`."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]" for level in range(1, levels)]
    return "\n".join(lines).replace(f"&l{levels - 1}", "&top") + "\n" + then + "\n"


@pytest.mark.parametrize("yaml", [YAML(typ="safe", pure=True), YAML()], ids=["safe", "round-trip"])
def test_aliases_that_expand_to_a_billion_values_are_refused_by_name(yaml: YAML) -> None:
    with pytest.raises(YAMLError, match=r"^its aliases expand it to more than 100,000 values$"):
        load_bounded(yaml, laughs(9, "b: 1"))


def test_a_list_that_holds_itself_is_refused_by_name() -> None:
    with pytest.raises(YAMLError, match=r"^an alias refers to a collection that holds it$"):
        load_bounded(YAML(typ="safe", pure=True), "a: &a [1, *a]\n")


def test_aliases_within_the_limit_load_as_written() -> None:
    loaded = load_bounded(YAML(typ="safe", pure=True), laughs(4, "b: *top") + "d: &d {x: 1}\ne: {<<: *d, y: 2}\n")

    assert isinstance(loaded, dict)
    assert loaded["b"] is loaded["l3"]
    assert len(loaded["b"]) == 10
    assert loaded["e"] == {"x": 1, "y": 2}


def test_the_bots_config_whose_aliases_expand_too_far_is_refused_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(laughs(9, "exit_strategy: {stop_loss_pct: 0.01}"))

    with pytest.raises(ConfigError, match=r"config\.yaml: not valid YAML \(its aliases expand it to more than 100,000"):
        load_bot_config(config)


def test_a_legacy_wallet_state_whose_aliases_expand_too_far_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "paper_wallet_state.yaml").write_text(laughs(9, "balance: 1\ninitial_balance: 1\npositions: {}"))

    with pytest.raises(MigrationError, match=r"paper_wallet_state\.yaml: not valid YAML \(its aliases expand it"):
        read_legacy_files(LegacyPaths.resolve(tmp_path))
