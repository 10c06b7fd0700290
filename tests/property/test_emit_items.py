"""`emit_items` writes a JSON array an item at a time, byte for byte what `emit` writes for the whole list."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeledger.cli.common import emit_items
from tradeledger.cli.output import dumps

_TEXT = st.text(alphabet=st.sampled_from(["a", " ", "\n", '"', "\\", "é", "€", "\x00", "\t", "]", ","]), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(_JSON, max_size=5))
def test_emit_items_writes_what_emit_writes_for_the_whole_list(items: list[Any]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        written: list[str] = []
        patch.setattr("sys.stdout.write", written.append)
        patch.setattr("sys.stdout.flush", lambda: None)

        emit_items(iter(items))

    assert "".join(written) == dumps(items) + "\n"
