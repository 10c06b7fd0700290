"""`json_pieces` writes a value whose lists may be iterators as `dumps` writes it with its iterators made lists."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeledger.cli.common import emit
from tradeledger.cli.json_text import json_pieces
from tradeledger.cli.output import dumps

_TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "\n", "\r", '"', "\\", "é", "€", "\u2028", "\x00", "\t", "]", ",", "{"]),
    max_size=6,
)
_KEYS = _TEXT | st.integers(-3, 3) | st.booleans() | st.none() | st.floats(allow_nan=False, width=16)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=30,
)


def lazily(value: Any, chance: random.Random) -> Any:
    """`value` with some of its lists (and tuples) made iterators, at any depth."""
    if isinstance(value, dict):
        return {key: lazily(item, chance) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [lazily(item, chance) for item in value]
        return iter(items) if chance.random() < 0.5 else type(value)(items)
    return value


def joined(value: object) -> str:
    return "".join(json_pieces(value))


@settings(max_examples=400, deadline=None)
@given(value=_JSON, seed=st.integers(0, 2**32 - 1))
def test_a_value_with_iterators_is_written_as_dumps_writes_it_with_lists(value: Any, seed: int) -> None:
    assert joined(lazily(value, random.Random(seed))) == dumps(value)


@settings(max_examples=200, deadline=None)
@given(value=_JSON, seed=st.integers(0, 2**32 - 1))
def test_emit_of_a_value_with_iterators_writes_what_emit_writes_of_it_with_lists(value: Any, seed: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        written: list[str] = []
        patch.setattr("sys.stdout.write", written.append)
        patch.setattr("sys.stdout.flush", lambda: None)

        chance = random.Random(seed)
        emit({"rows": iter([lazily(value, chance), value]), "value": lazily(value, chance)})

    assert "".join(written) == dumps({"rows": [value, value], "value": value}) + "\n"


def test_an_empty_iterator_is_an_empty_list_in_its_field() -> None:
    report = {"seq": 3, "rows": iter([]), "missing": iter([{"seq": 1}]), "totals": {"gain": "0"}}

    assert joined(report) == (
        '{\n  "seq": 3,\n  "rows": [],\n  "missing": [\n    {\n      "seq": 1\n    }\n  ],\n'
        '  "totals": {\n    "gain": "0"\n  }\n}'
    )


def test_a_line_break_or_non_ascii_text_inside_an_item_stays_escaped_and_as_it_is() -> None:
    rows = iter([{"account": "a\nb", "currency": "€"}, ["é", iter([])]])

    assert joined({"rows": rows}) == (
        '{\n  "rows": [\n    {\n      "account": "a\\nb",\n      "currency": "€"\n    },\n'
        '    [\n      "é",\n      []\n    ]\n  ]\n}'
    )


def test_an_iterator_inside_a_nested_dict_is_written_in_place() -> None:
    value = {"a": {"b": [1, iter([2, 3])], 7: None}}

    assert joined(value) == (
        '{\n  "a": {\n    "b": [\n      1,\n      [\n        2,\n        3\n      ]\n    ],\n    "7": null\n  }\n}'
    )


def test_a_value_without_iterators_is_one_dumps() -> None:
    value = {"seq": 1, "rows": [{"x": "y"}], "missing": []}

    assert list(json_pieces(value)) == [dumps(value)]


def test_a_key_json_refuses_is_refused_as_dumps_refuses_it() -> None:
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None"):
        joined({("a",): iter([])})
