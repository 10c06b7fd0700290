"""YAML that users and the legacy bot wrote (the bot's config, the paper wallet's state), loaded with its
nesting bounded first: ruamel.yaml's scanner and composer take time quadratic in how deep collections nest
(a config 5,000 brackets deep took 4-7 s to end in a RecursionError). The tokens are counted before
anything is built, and a text nested deeper than MAX_YAML_DEPTH is refused by name."""

from __future__ import annotations

from contextlib import closing

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tokens import (
    BlockEndToken,
    BlockMappingStartToken,
    BlockSequenceStartToken,
    FlowMappingEndToken,
    FlowMappingStartToken,
    FlowSequenceEndToken,
    FlowSequenceStartToken,
)

# How deep mappings and sequences may nest in a YAML file tradeledger reads (a bot's config nests ~4 deep).
MAX_YAML_DEPTH = 64

_OPENS = (BlockMappingStartToken, BlockSequenceStartToken, FlowMappingStartToken, FlowSequenceStartToken)
_CLOSES = (BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken)


class YAMLTooDeep(YAMLError):
    """A YAML text nests its collections more than MAX_YAML_DEPTH levels deep."""


def load_bounded(yaml: YAML, text: str) -> object:
    """`yaml.load(text)` once its collections are known to nest at most MAX_YAML_DEPTH levels deep;
    YAMLTooDeep (a YAMLError, so callers name the file as for any bad YAML) when they nest deeper. The
    scan stops at the first level too many: refusing a deep text costs what reading 65 levels does."""
    depth = 0
    with closing(yaml.scan(text)) as tokens:  # the scanner reset before the load, even when refused
        for token in tokens:
            if isinstance(token, _OPENS):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise YAMLTooDeep(f"nested more than {MAX_YAML_DEPTH} levels deep")
            elif isinstance(token, _CLOSES):
                depth -= 1
    return yaml.load(text)
