"""Reading events from NDJSON files: one JSON object per line, amounts read as Decimal.

A line's `"type"` names the event (spec section 9): `fill` (the default), `funding` or `transfer`;
a fill's fees are `"fees": [{"amount", "currency", "quote_value"?}]` (or the one quote fee `"fee"`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from tradeledger.application.appending import validate_event
from tradeledger.domain.events import Event
from tradeledger.domain.fills import MAX_METADATA_DEPTH, json_depth, json_int, shortened
from tradeledger.errors import InvalidFill

MAX_REPORTED = 20
PROGRESS_EVERY = 1_000  # lines between two updates of the progress bar


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"the key {repeated[0]!r} appears twice")
    return value


# One decoder for every line (json.loads builds one per call when given hooks): JSON numbers as Decimal
# (an integer too long for int too, see json_int), never float; a repeated key refused.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=json_int, object_pairs_hook=_refuse_duplicate_keys)
_BOM = "\ufeff"


def _plain_json(value: object, path: str) -> object:
    """Metadata with its JSON numbers as Python numbers, refusing any a float would not keep exactly."""
    if isinstance(value, dict):
        return {key: _plain_json(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Decimal):
        number = float(value)  # float ok: metadata is opaque JSON; exactness is checked next
        if not math.isfinite(number) or Decimal(repr(number)) != value:
            raise ValueError(f"{path}: the number {shortened(value)} cannot be kept exactly; write it as a string")
        return number
    return value


def _decoded(line: str) -> object:
    """json.loads(line) with the hooks above, through the one decoder (which alone would not refuse a BOM)."""
    if line.startswith(_BOM):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", line, 0)
    return _DECODER.decode(line)


def read_line(line: str, number: int) -> dict[str, Any]:
    """One NDJSON line as the fields of an event, not yet validated: JSON numbers become Decimal, never
    float; metadata is checked here (its depth, and numbers a float keeps exactly) as a JSON value."""
    where = f"line {number}"
    try:
        value = _decoded(line)
    except json.JSONDecodeError as error:
        raise InvalidFill(f"{where}: not JSON ({error.msg} at column {error.colno})") from None
    except ValueError as error:  # a repeated key
        raise InvalidFill(f"{where}: {error}") from None
    except RecursionError:  # json's parser gives up past the interpreter's recursion limit (~1,000 levels)
        raise InvalidFill(
            f"{where}: JSON nested too deep to read (metadata may nest at most {MAX_METADATA_DEPTH} levels)"
        ) from None
    if not isinstance(value, dict):
        raise InvalidFill(f"{where}: expected a JSON object of fill fields, got {type(value).__name__}")
    if "metadata" in value:
        if json_depth(value["metadata"], limit=MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
            raise InvalidFill(
                f"{where}: metadata: is nested more than {MAX_METADATA_DEPTH} levels deep; "
                f"at most {MAX_METADATA_DEPTH} are kept"
            )
        try:
            value["metadata"] = _plain_json(value["metadata"], "metadata")
        except ValueError as error:
            raise InvalidFill(f"{where}: {error}") from None
    return value


def parse_fill_line(line: str, number: int) -> Event:
    """One NDJSON line as a validated event (a fill unless its `type` says otherwise); JSON numbers become
    Decimal, never float."""
    return validate_event(read_line(line, number), where=f"line {number}")


def split_lines(text: str) -> list[str]:
    """NDJSON lines: split on newlines only (U+2028 and friends may stand inside JSON strings)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _refuse_conflict(earlier: tuple[int, Event], number: int, fill: Event) -> None:
    """The same fill key twice in one file with other content: name both lines (the log would refuse it)."""
    first_number, first = earlier
    if first_number != number and first.canonical() != fill.canonical():
        account, exchange, fill_id = fill.key
        raise InvalidFill(
            f"line {number}: {fill.type} {fill_id!r} (account {account!r}, exchange {exchange!r}) is also on "
            f"line {first_number} with other content"
        )


def read_fills(lines: Sequence[str], *, on_progress: Callable[[int], None] | None = None) -> dict[int, Event]:
    """Every fill of a file by line number, or InvalidFill listing the bad lines by number; blank lines
    are skipped. A fill key on two lines with other content is refused naming both lines.
    `on_progress(lines read)` every PROGRESS_EVERY lines and at the end."""
    fills: dict[int, Event] = {}
    problems: list[str] = []
    first_line: dict[tuple[str, str, str], tuple[int, Event]] = {}
    bad = 0
    for number, line in enumerate(lines, start=1):
        if on_progress is not None and number % PROGRESS_EVERY == 0:
            on_progress(number)
        if not line.strip():
            continue
        try:
            fill = parse_fill_line(line, number)
            _refuse_conflict(first_line.setdefault(fill.key, (number, fill)), number, fill)
            fills[number] = fill
        except InvalidFill as error:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(str(error))
    if problems:
        more = f"; ... and {bad - len(problems)} more bad lines" if bad > len(problems) else ""
        raise InvalidFill(f"{bad} bad line(s), nothing was imported: " + "; ".join(problems) + more)
    if on_progress is not None:
        on_progress(len(lines))
    return fills
