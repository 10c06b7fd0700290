"""Reading fills from NDJSON files: one JSON object per line, amounts read as Decimal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from tradeledger.application.ledger import validate_fill
from tradeledger.domain.fills import Fill
from tradeledger.errors import InvalidFill

MAX_REPORTED = 20


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"the key {repeated[0]!r} appears twice")
    return dict(pairs)


def _plain_json(value: object, path: str) -> object:
    """Metadata with its JSON numbers as Python numbers, refusing any a float would not keep exactly."""
    if isinstance(value, dict):
        return {key: _plain_json(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Decimal):
        number = float(value)  # float ok: metadata is opaque JSON; exactness is checked next
        if Decimal(repr(number)) != value:
            raise ValueError(f"{path}: the number {value} cannot be kept exactly; write it as a string")
        return number
    return value


def parse_fill_line(line: str, number: int) -> Fill:
    """One NDJSON line as a validated Fill; JSON numbers become Decimal, never float."""
    where = f"line {number}"
    try:
        value = json.loads(line, parse_float=Decimal, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as error:
        raise InvalidFill(f"{where}: not JSON ({error.msg} at column {error.colno})") from None
    except ValueError as error:  # a repeated key, or a number too long to read
        raise InvalidFill(f"{where}: {error}") from None
    if not isinstance(value, dict):
        raise InvalidFill(f"{where}: expected a JSON object of fill fields, got {type(value).__name__}")
    if "metadata" in value:
        try:
            value["metadata"] = _plain_json(value["metadata"], "metadata")
        except ValueError as error:
            raise InvalidFill(f"{where}: {error}") from None
    return validate_fill(value, where=where)


def split_lines(text: str) -> list[str]:
    """NDJSON lines: split on newlines only (U+2028 and friends may stand inside JSON strings)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_fills(lines: Iterable[str], *, on_line: Callable[[], None] | None = None) -> list[Fill]:
    """Every fill of a file, or InvalidFill listing the bad lines by number; blank lines are skipped."""
    fills: list[Fill] = []
    problems: list[str] = []
    bad = 0
    for number, line in enumerate(lines, start=1):
        if on_line is not None:
            on_line()
        if not line.strip():
            continue
        try:
            fills.append(parse_fill_line(line, number))
        except InvalidFill as error:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(str(error))
    if problems:
        more = f"\n... and {bad - len(problems)} more bad lines" if bad > len(problems) else ""
        raise InvalidFill(f"{bad} bad line(s), nothing was imported:\n" + "\n".join(problems) + more)
    return fills
