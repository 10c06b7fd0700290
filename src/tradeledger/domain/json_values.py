"""JSON values as the ledger reads them: whole numbers kept exact however long, a key written twice in an
object refused, and how deep a value nests, counted without recursion (metadata, NDJSON lines and exchange
files); and the canonical texts that are hashed (an event's values, metadata)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from itertools import repeat
from typing import Any

JSON_INT_DIGITS = 4000  # below Python's int-to-text limit (sys.int_info.default_max_str_digits, 4,300)


def json_int(text: str) -> int | Decimal:
    """A JSON integer (json's parse_int hook): one too long for Python's int stays a Decimal, refused by its field."""
    return int(text) if len(text) <= JSON_INT_DIGITS else Decimal(text)


def refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: the object, or ValueError naming a key written twice in it (which value was
    meant?). JSON's RFC leaves a repeated name's meaning open; Python's json would keep the last."""
    value = dict(pairs)
    if len(value) != len(pairs):
        repeated = sorted(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise ValueError(f"the key {repeated[0]!r} appears twice in one object")
    return value


def json_depth(value: object, *, limit: int) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0, {} is 1), counted without recursion.

    Counting stops once the depth passes `limit` (the result is then limit + 1), so a value nested
    10,000 deep costs no more than one nested just past the limit, and never the interpreter's stack.
    """
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    pop, extend = pending.pop, pending.extend
    while pending:
        item, depth = pop()
        kind = type(item)  # JSON's own types by identity first: a failed isinstance looks up __class__ too
        if kind is dict:
            children: Iterable[object] = item.values()  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            children = item  # type: ignore[assignment]
        elif kind is str or kind is int or kind is float or kind is bool or kind is Decimal or item is None:
            continue  # (by identity: a type whose metaclass has no hash is still a value here)
        elif isinstance(item, dict):
            children = item.values()
        elif isinstance(item, _ARRAYS):  # a tuple of types: isinstance takes it faster than list | tuple
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        extend(zip(children, repeat(depth)))  # each child with its depth, paired in C (a generator cost ~1k each)
    return deepest


_ARRAYS = (list, tuple)


def _not_json(value: object) -> Any:  # noqa: ANN401 - json's default hook signature
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # json's C encoder (None without _json)
_SORTED_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_not_json
)
# canonical_json's encoder, built once (json.dumps builds one on every call): no circular-reference check,
# since the values hashed and keyed with it are flat lists of text, whole numbers and nulls.
_FLAT = (
    None
    if _MAKE_ENCODER is None
    else _MAKE_ENCODER(None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, True)  # noqa: FBT003
)
_FLAT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_not_json)


def canonical_json(values: list[object]) -> str:
    """json.dumps(values, separators=(",", ":"), ensure_ascii=False): the same text, about 2x faster (the
    hashed values of an event, a balance's key)."""
    if _FLAT is None:  # pragma: no cover - a Python without the _json accelerator
        return _FLAT_JSON.encode(values)
    return "".join(_FLAT(values, 0))


def sorted_json(value: object) -> str:
    """json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    default=...): metadata's canonical text (stored and hashed), or TypeError or ValueError for a value
    that is not JSON. The C encoder json.dumps builds for these arguments, without the JSONEncoder and the
    Python calls around it that json.dumps makes each time (~35 % faster); its circular-reference markers
    are a new dict each call, as json's own are (the encoder leaves its entries there when it raises)."""
    if _MAKE_ENCODER is None:  # pragma: no cover - a Python without the _json accelerator
        return _SORTED_JSON.encode(value)
    encode = _MAKE_ENCODER({}, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, False)  # noqa: FBT003
    return "".join(encode(value, 0))
