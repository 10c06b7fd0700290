"""The text of the legacy `trade_manager_state.json`: `json.dumps(state, indent=2)`, byte for byte, with each
trade's part encoded once.

The file holds every trade of the account (under `trades`, and again under each position of its cycle) and is
rewritten, at most once a second, after each new trade. json's indented encoder is pure Python: at 20,000
trades a write encoded ~17 MB of the same trades again, ~0.8 s of CPU. A recorded trade never changes, so
`TradeTexts` keeps each one's text, and `dumps` writes the document around the texts it is given (`Encoded`),
indented where they sit; every other value goes through `json.dumps(indent=2)` as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tradeledger.compat.trades import Trade


class Encoded(str):
    """A JSON value's text as `json.dumps(value, indent=2)` writes it alone (no indent before its lines)."""

    __slots__ = ()


class Tree(dict[str, Any]):
    """A JSON object `dumps` lays out itself, because some value under it is `Encoded`."""


class TreeList(list[Any]):
    """A JSON array `dumps` lays out itself, because some item under it is `Encoded`."""


def dumps(value: Any, level: int = 0) -> str:  # noqa: ANN401 - any JSON value
    """`json.dumps(value, indent=2)` as it would write `value` `level` levels deep, with `Encoded` texts taken as
    they are (json escapes a newline inside a string, so each newline of a text is one of its line breaks)."""
    pad = "  " * level
    kind = type(value)
    if kind is Tree or kind is TreeList:
        if not value:
            return "{}" if kind is Tree else "[]"
        inner = pad + "  "
        if kind is Tree:
            items = [f"{inner}{json.dumps(key)}: {dumps(item, level + 1)}" for key, item in value.items()]
            return "{\n" + ",\n".join(items) + f"\n{pad}}}"
        return "[\n" + ",\n".join(f"{inner}{dumps(item, level + 1)}" for item in value) + f"\n{pad}]"
    text = value if kind is Encoded else json.dumps(value, indent=2)
    return text.replace("\n", "\n" + pad) if level else text


class TradeTexts:
    """Each trade's JSON text (its legacy `to_dict`), made when a `Trade` object is first written and kept while
    the same object is written again (a book reloaded after a rollback holds new objects: written anew)."""

    __slots__ = ("_kept", "_used")

    def __init__(self) -> None:
        self._kept: dict[int, tuple[Trade, Encoded]] = {}
        self._used: dict[int, tuple[Trade, Encoded]] = {}

    def of(self, trades: Iterable[Trade]) -> TreeList:
        """The texts of `trades`, in order, as a JSON array for `dumps`."""
        texts = TreeList()
        kept, used = self._kept, self._used
        for trade in trades:
            key = id(trade)  # a pair holds its object: the id is not reused while the pair is kept
            found = used.get(key) or kept.get(key)
            if found is None or found[0] is not trade:
                found = (trade, Encoded(json.dumps(trade.to_dict(), indent=2)))
            used[key] = found
            texts.append(found[1])
        return texts

    def written(self) -> None:
        """After a document: keep the texts of the trades it wrote, and drop the others."""
        self._kept, self._used = self._used, {}
