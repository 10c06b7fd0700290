"""JSON text a piece at a time (issue 19): what `output.dumps` writes, without holding a large report whole.

`dumps` (json.dumps, indent=2, ensure_ascii=False) of `gains --json`'s 180,000 rows held every row as a dict and
the whole text as one string beside them (812 MB for 78 MB of output). `json_pieces` takes a value whose lists
may be iterators (a generator of the rows' dicts) and yields its text in pieces, each item of an iterator encoded
when it is reached: joined, the pieces are byte for byte `dumps` of the same value with its iterators made lists
(tests/property/test_json_text.py). A part that holds no iterator is one `dumps`, indented where it sits: json
escapes a line break inside a string, so each line break of its text is a line of the layout. A flat dict (str
keys, scalar values: a report's row) is encoded by json's C encoder, its separators giving it that layout (`dumps`
with an indent is json's Python encoder: 2.9 s for 180,000 rows where this takes 1.1 s).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

from tradeledger.cli.json_indent import indented
from tradeledger.cli.output import dumps

STEP = "  "  # dumps' indent
_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


def holds_iterator(value: object) -> bool:
    """Whether `value` is an iterator or a dict, list or tuple with one somewhere inside (what `dumps` refuses)."""
    if type(value) in _SCALARS:
        return False
    if isinstance(value, Iterator):
        return True
    if isinstance(value, dict):
        return any(map(holds_iterator, value.values()))
    if isinstance(value, list | tuple):
        return any(map(holds_iterator, value))
    return False


def json_pieces(value: object, indent: str = "") -> Iterator[str]:
    """The text of `value` as `dumps` lays it out at `indent` (its first line not indented: it follows a key or an
    item's indent), in pieces; an iterator is a list whose items are encoded one at a time."""
    if type(value) is dict and value and _flat(value):
        yield _flat_text(value, indent)
    elif isinstance(value, dict) and holds_iterator(value):
        inner = indent + STEP
        separator = "{\n" + inner
        for key, item in value.items():
            yield separator + _key(key) + ": "
            yield from json_pieces(item, inner)
            separator = ",\n" + inner
        yield "\n" + indent + "}"
    elif isinstance(value, Iterator) or (isinstance(value, list | tuple) and holds_iterator(value)):
        inner = indent + STEP
        separator = "[\n" + inner
        empty = True
        for item in value:
            if type(item) is dict and item and _flat(item):  # a row: its text in one piece with its separator
                yield separator + _flat_text(item, inner)
            else:
                yield separator
                yield from json_pieces(item, inner)
            separator = ",\n" + inner
            empty = False
        yield "[]" if empty else "\n" + indent + "]"
    else:
        yield indented(value, "\n" + indent)  # dumps' text, its line breaks indented to where it sits


def _flat(value: dict[object, object]) -> bool:
    """Whether `value` is a dict of str keys and plain scalar values (a row of a report)."""
    return _STR.issuperset(map(type, value)) and _SCALARS.issuperset(map(type, value.values()))


def _flat_text(value: dict[object, object], indent: str) -> str:
    text = _flat_encoder(indent + STEP).encode(value)  # {"a": 1,\n<inner>"b": 2}
    return "{\n" + indent + STEP + text[1:-1] + "\n" + indent + "}"


@functools.cache
def _flat_encoder(inner: str) -> json.JSONEncoder:
    """json's C encoder, one line per field at `inner`: a flat dict as `dumps` lays it out, but its braces' lines
    (indent=None is what lets json use its C encoder; the separators give the layout of indent=2)."""
    return json.JSONEncoder(ensure_ascii=False, separators=(",\n" + inner, ": "))


def _key(key: object) -> str:
    """A key as json writes it: a string quoted, a number, bool or None as the string json makes of it."""
    if isinstance(key, str):
        return dumps(key)
    return json.dumps({key: 0}, ensure_ascii=False)[1:-4]  # '{"1": 0}' -> '"1"'; a key json refuses raises here
