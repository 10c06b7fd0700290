"""JSON for people and scripts, indented by two spaces: `json.dumps(value, indent=2, ensure_ascii=False)` byte for
byte, written without json's indenting encoder.

json writes an indented value with its pure-Python encoder (only the compact form has a C one): a generator per
container, a `yield` per piece, ~50 µs for an event of `history --json`. Here each container's items are joined
as strings, every string through json's own C `encode_basestring` (non-ASCII as itself, what ensure_ascii=False
writes); a value of another type than str, int, float, bool, None, dict or list (a tuple, an enum, a key that is
not a str) is written by json itself, its lines indented to where it stands. json escapes a line break inside a
string, so every line break of its text is one of its layout. tests/property/test_json_indent_properties.py holds
this to json.dumps on any JSON value.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any


def indented(value: object, newline: str = "\n") -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`, its lines after the first starting with `newline`
    (a value inside an array at the top level: "\\n  ")."""
    kind = type(value)
    if kind is dict:
        return _object(value, newline) if value else "{}"  # type: ignore[arg-type]
    if kind is list:
        return _array(value, newline) if value else "[]"  # type: ignore[arg-type]
    return _scalar(value, kind, newline)


def _object(value: dict[Any, Any], newline: str) -> str:
    inner = newline + "  "
    parts = []
    for key, item in value.items():
        if type(key) is not str:  # json writes a number, bool or None key as text: its way
            return _json(value, newline)
        # A str or None (most values) written here, not in a call of its own.
        text = encode_basestring(item) if type(item) is str else "null" if item is None else indented(item, inner)
        parts.append(encode_basestring(key) + ": " + text)
    return "{" + inner + ("," + inner).join(parts) + newline + "}"


def _array(value: list[Any], newline: str) -> str:
    inner = newline + "  "
    return "[" + inner + ("," + inner).join([indented(item, inner) for item in value]) + newline + "]"


def _scalar(value: Any, kind: type, newline: str) -> str:  # noqa: ANN401 - any value json writes
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)  # what json writes of a finite float; NaN and the infinities its way
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return _json(value, newline)


def _json(value: object, newline: str) -> str:
    """json's own text of `value` (NaN, a tuple, a subclass, what it refuses), its lines indented to `newline`."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", newline)
