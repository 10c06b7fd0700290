"""`json_indent.indented` writes what `json.dumps(value, indent=2, ensure_ascii=False)` writes, byte for byte, for
any JSON value (and for values json writes its own way: tuples, non-str keys, NaN, subclasses)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeledger.cli.json_indent import indented

_TEXT = st.text(
    alphabet=st.sampled_from(
        ["a", "Z", " ", "\n", "\r", '"', "\\", "é", "€", "☃", "\x00", "\x1f", "\t", "\u2028", "𝄞"]
    ),
    max_size=8,
)
_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**20, max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)
_JSON = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4) | st.tuples(inner, inner),
    max_leaves=30,
)


def dumps(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=500, deadline=None)
@given(value=_JSON)
def test_indented_is_json_dumps_with_an_indent_of_two(value: Any) -> None:
    assert indented(value) == dumps(value)


@settings(max_examples=200, deadline=None)
@given(value=_JSON)
def test_a_value_indented_inside_an_array_is_its_text_with_each_line_break_indented(value: Any) -> None:
    assert indented(value, "\n  ") == dumps(value).replace("\n", "\n  ")


class Kind(StrEnum):
    DEPOSIT = "deposit"


def test_keys_and_values_json_writes_its_own_way_are_written_as_json_writes_them() -> None:
    value = {
        "keys": {1: "one", 2.5: "two and a half", False: "no", None: "none"},
        "enum": Kind.DEPOSIT,
        "tuple": ("a", ["b"]),
        "floats": [float("nan"), float("inf"), -float("inf"), -0.0, 1e-07, 1e22],
        "empty": [{}, [], ""],
    }

    assert indented(value) == dumps(value)
