"""JSON text a piece at a time (issue 19): what `output.dumps` writes, without holding a large report whole.

`dumps` (json.dumps, indent=2, ensure_ascii=False) of `gains --json`'s 180,000 rows held every row as a dict and
the whole text as one string beside them (812 MB for 78 MB of output). `json_pieces` takes a value whose lists
may be iterators (a generator of the rows' dicts) and yields its text in pieces, each item of an iterator encoded
when it is reached: joined, the pieces are byte for byte `dumps` of the same value with its iterators made lists
(tests/property/test_json_text.py). A part that holds no iterator (a report's row) is one `json_indent.indented`,
indented where it sits, in one piece with the separator before it (json's own indenting encoder is pure Python:
2.9 s for 180,000 rows, `indented` ~0.8 s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from tradeledger.cli.json_indent import indented
from tradeledger.cli.output import dumps

STEP = "  "  # dumps' indent
_SCALARS = frozenset({str, int, float, bool, type(None)})


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
    if isinstance(value, dict) and holds_iterator(value):
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
            if holds_iterator(item):
                yield separator
                yield from json_pieces(item, inner)
            else:  # a row: its text in one piece with its separator
                yield separator + indented(item, "\n" + inner)
            separator = ",\n" + inner
            empty = False
        yield "[]" if empty else "\n" + indent + "]"
    else:
        yield indented(value, "\n" + indent)  # dumps' text, its line breaks indented to where it sits


def _key(key: object) -> str:
    """A key as json writes it: a string quoted, a number, bool or None as the string json makes of it."""
    if isinstance(key, str):
        return dumps(key)
    return json.dumps({key: 0}, ensure_ascii=False)[1:-4]  # '{"1": 0}' -> '"1"'; a key json refuses raises here
