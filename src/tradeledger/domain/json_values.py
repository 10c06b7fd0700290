"""JSON values as the ledger reads them: whole numbers kept exact however long, and how deep a value nests,
counted without recursion (metadata, NDJSON lines and exchange files); and metadata's canonical text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

JSON_INT_DIGITS = 4000  # below Python's int-to-text limit (sys.int_info.default_max_str_digits, 4,300)


def json_int(text: str) -> int | Decimal:
    """A JSON integer (json's parse_int hook): one too long for Python's int stays a Decimal, refused by its field."""
    return int(text) if len(text) <= JSON_INT_DIGITS else Decimal(text)


def json_depth(value: object, *, limit: int) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0, {} is 1), counted without recursion.

    Counting stops once the depth passes `limit` (the result is then limit + 1), so a value nested
    10,000 deep costs no more than one nested just past the limit, and never the interpreter's stack.
    """
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest


def _not_json(value: object) -> Any:  # noqa: ANN401 - json's default hook signature
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


def sorted_json(value: object) -> str:
    """Metadata's canonical text (stored and hashed): json.dumps with sorted keys, compact, UTF-8 as it is
    and no NaN; TypeError or ValueError for a value that is not JSON."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_not_json
    )
