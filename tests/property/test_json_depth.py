"""json_depth, written for speed (no recursion, children paired with their depth in C), is its plain
recursive definition: how deep objects and arrays nest, counted up to one past the limit."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.property.test_row_text import json_values
from tradeledger.domain.json_values import json_depth


class _UnhashableType(type):
    def __eq__(cls, other: object) -> bool:
        return cls is other

    __hash__ = None  # type: ignore[assignment]


class _Unhashable(metaclass=_UnhashableType):
    pass


def plain_depth(value: object) -> int:
    """A scalar is 0, an object or an array is one more than its deepest member."""
    if isinstance(value, dict):
        return 1 + max(map(plain_depth, value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max(map(plain_depth, value), default=0)
    return 0


def nested(depth: int, inner: Any = 1) -> Any:
    value = inner
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


@given(json_values, st.integers(0, 6))
@example(nested(5), 4)
@example(nested(5), 5)
@example([[], [[[]]], {"a": ()}], 3)
@example(OrderedDict(a=[OrderedDict(b={})]), 2)
@example({"a": {1, 2}, "b": b"x"}, 1)  # sets and bytes are no arrays: the text's check refuses them
def test_json_depth_is_the_plain_nesting_depth_up_to_one_past_the_limit(value: object, limit: int) -> None:
    assert json_depth(value, limit=limit) == min(plain_depth(value), limit + 1)


def test_a_value_that_contains_itself_is_counted_to_one_past_the_limit() -> None:
    looped: list[Any] = [1]
    looped.append({"again": looped})
    assert json_depth(looped, limit=32) == 33


def test_a_value_whose_type_cannot_be_hashed_is_no_container() -> None:
    assert json_depth({"a": [_Unhashable()]}, limit=32) == 2
