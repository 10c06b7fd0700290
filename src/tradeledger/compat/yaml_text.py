"""YAML that users and the legacy bot wrote (the bot's config, the paper wallet's state), loaded with its
nesting bounded first: ruamel.yaml's scanner and composer take time quadratic in how deep collections nest
(a config 5,000 brackets deep took 4-7 s to end in a RecursionError). The tokens are counted before
anything is built, and a text nested deeper than MAX_YAML_DEPTH is refused by name. An alias (`*name`) refers
to a collection instead of copying it: a few lines of aliases of aliases load at once but stand for 10**9
values, which a message quoting one writes out whole (10**7: 4.4 s, 430 MB, a 50 MB line). A text with
aliases is refused by name once they expand it past MAX_YAML_VALUES, or when a collection holds itself."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tokens import (
    AliasToken,
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
# How many values (collections and scalars) a YAML file with aliases may hold once they are written out
# (the bot's config holds ~500; a legacy wallet's state ~10 a position).
MAX_YAML_VALUES = 100_000

_OPENS = (BlockMappingStartToken, BlockSequenceStartToken, FlowMappingStartToken, FlowSequenceStartToken)
_CLOSES = (BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken)


class YAMLTooDeep(YAMLError):
    """A YAML text nests its collections more than MAX_YAML_DEPTH levels deep."""


class YAMLValueRefused(YAMLError):
    """A YAML scalar Python refuses to build (ValueError): an integer of more than 4,300 digits, a date that
    does not exist."""


class YAMLTooLarge(YAMLError):
    """A YAML text's aliases expand it past MAX_YAML_VALUES values, or make a collection hold itself."""


def _children(value: object) -> Iterable[object]:
    if isinstance(value, dict):
        return value.values()
    return value if isinstance(value, list) else ()


def _refuse_expanded(document: object) -> None:
    """YAMLTooLarge when `document`, each alias written out, holds more than MAX_YAML_VALUES values or a
    collection that holds itself. Each collection is counted once (its size kept by identity), so the count
    costs what the text's collections are, however far their aliases expand."""
    sizes: dict[int, int] = {}
    opened: set[int] = set()  # the collections whose values are being counted (the path to the current one)
    pending: list[tuple[object, bool]] = [(document, False)]
    while pending:
        value, counted = pending.pop()
        key = id(value)
        if counted:
            size = 1 + sum(sizes.get(id(child), 1) for child in _children(value))
            if size > MAX_YAML_VALUES:
                raise YAMLTooLarge(f"its aliases expand it to more than {MAX_YAML_VALUES:,} values")
            sizes[key] = size
            opened.discard(key)
        elif isinstance(value, dict | list) and key not in sizes:
            if key in opened:
                raise YAMLTooLarge("an alias refers to a collection that holds it")
            opened.add(key)
            pending.append((value, True))
            pending.extend((child, False) for child in _children(value))


def load_bounded(yaml: YAML, text: str) -> object:
    """`yaml.load(text)` once its collections are known to nest at most MAX_YAML_DEPTH levels deep;
    YAMLTooDeep (a YAMLError, so callers name the file as for any bad YAML) when they nest deeper. The
    scan stops at the first level too many: refusing a deep text costs what reading 65 levels does. A text with
    aliases is loaded, then refused (YAMLTooLarge) if they expand it past MAX_YAML_VALUES values."""
    depth = 0
    aliases = False
    with closing(yaml.scan(text)) as tokens:  # the scanner reset before the load, even when refused
        for token in tokens:
            if isinstance(token, AliasToken):
                aliases = True
            elif isinstance(token, _OPENS):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise YAMLTooDeep(f"nested more than {MAX_YAML_DEPTH} levels deep")
            elif isinstance(token, _CLOSES):
                depth -= 1
    try:
        document = yaml.load(text)
    except ValueError as error:  # a value Python will not build: an int past 4,300 digits, February 30
        raise YAMLValueRefused(str(error)) from None
    if aliases:
        _refuse_expanded(document)
    return document
