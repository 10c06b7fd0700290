"""Reading fills from NDJSON files: one JSON object per line, amounts read as Decimal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal

from tradeledger.application.ledger import validate_fill
from tradeledger.domain.fills import Fill
from tradeledger.errors import InvalidFill

MAX_REPORTED = 20


def parse_fill_line(line: str, number: int) -> Fill:
    """One NDJSON line as a validated Fill; JSON numbers become Decimal, never float."""
    where = f"line {number}"
    try:
        value = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidFill(f"{where}: not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(value, dict):
        raise InvalidFill(f"{where}: expected a JSON object of fill fields, got {type(value).__name__}")
    if isinstance(value.get("metadata"), dict):
        # metadata is opaque JSON: keep its numbers as JSON gives them
        value["metadata"] = json.loads(line)["metadata"]
    return validate_fill(value, where=where)


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
