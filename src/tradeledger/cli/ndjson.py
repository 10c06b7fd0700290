"""Reading events from NDJSON files: one JSON object per line, amounts read as Decimal.

A line's `"type"` names the event (spec section 9): `fill` (the default), `funding` or `transfer`;
a fill's fees are `"fees": [{"amount", "currency", "quote_value"?}]` (or the one quote fee `"fee"`).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeledger.application.bulk import EventText
from tradeledger.application.ports import EventKey
from tradeledger.domain.fills import MAX_METADATA_DEPTH, shortened
from tradeledger.domain.json_values import json_depth, json_int, refuse_repeated_keys
from tradeledger.errors import InvalidFill

MAX_REPORTED = 20
PROGRESS_EVERY = 1_000  # lines between two updates of the progress bar


# One decoder for every line (json.loads builds one per call when given hooks): JSON numbers as Decimal
# (an integer too long for int too, see json_int), never float; a repeated key refused.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=json_int, object_pairs_hook=refuse_repeated_keys)
_BOM = "\ufeff"


class _NotExact(ValueError):
    """A metadata number a float would not keep; `where` names it from the inside out (keys and indexes)."""

    def __init__(self, number: Decimal) -> None:
        super().__init__()
        self.number = number
        self.where: list[str] = []

    def message(self) -> str:
        path = "metadata" + "".join(reversed(self.where))
        return f"{path}: the number {shortened(self.number)} cannot be kept exactly; write it as a string"


def _plain_json(value: object) -> object:
    """Metadata with its JSON numbers as Python numbers, refusing (_NotExact) any a float would not keep exactly.
    Where a refused number is, is written only then: written for every item, it copied each key's text once
    per item below it (a 1 MB key over 40,000 numbers: 40 GB)."""
    if isinstance(value, dict):
        plain: dict[str, object] = {}
        for key, item in value.items():
            try:
                plain[key] = _plain_json(item)
            except _NotExact as error:
                error.where.append(f".{key}")
                raise
        return plain
    if isinstance(value, list):
        items: list[object] = []
        for index, item in enumerate(value):
            try:
                items.append(_plain_json(item))
            except _NotExact as error:
                error.where.append(f"[{index}]")
                raise
        return items
    if isinstance(value, Decimal):
        number = float(value)  # float ok: metadata is opaque JSON; exactness is checked next
        if not math.isfinite(number) or Decimal(repr(number)) != value:
            raise _NotExact(value)
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
            value["metadata"] = _plain_json(value["metadata"])
        except _NotExact as error:
            raise InvalidFill(f"{where}: {error.message()}") from None
    return value


def split_lines(text: str) -> list[str]:
    """NDJSON lines: split on newlines only (U+2028 and friends may stand inside JSON strings)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


@contextmanager
def rereadable(path: Path) -> Iterator[Path]:
    """`path` itself when it is a regular file; else (a pipe: `/dev/stdin`, `<(zcat ...)`, a FIFO, which gives
    its bytes once) a temporary copy of what it gives, removed afterwards: an import reads a file more than
    once (its lines counted for the progress bar, then read; a refused line read again for its message)."""
    if path.is_file():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="tradeledger-import-") as folder:
        copy = Path(folder) / "lines.ndjson"
        with path.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        yield copy


def file_lines(path: Path, *, name: Path | None = None) -> Iterator[str]:
    """The lines of a file as `split_lines` gives them, read one at a time; InvalidFill when the file is not
    UTF-8, naming it (`name`, else `path`) and the byte as decoding the whole file would."""
    at = 0
    with path.open("rb") as raw:
        for chunk in raw:  # a binary file splits on b"\n" only
            try:
                line = chunk.decode("utf-8")
            except UnicodeDecodeError as error:
                named = path if name is None else name
                raise InvalidFill(f"{named}: not UTF-8 text ({error.reason} at byte {at + error.start})") from None
            at += len(chunk)
            yield line.removesuffix("\n").removesuffix("\r")


def count_lines(path: Path) -> int:
    """How many lines `file_lines` gives (bytes counted, nothing decoded)."""
    count, last = 0, b"\n"
    with path.open("rb") as raw:
        while block := raw.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


class FileEvents:
    """The events of a file as an import keeps them until it appends them: the text of each (~0.7 KB with its
    key, where its model took ~3 KB), one per key, in line order, with its line."""

    def __init__(self) -> None:
        self._texts: dict[EventKey, EventText] = {}  # in line order
        self.numbers = array("q")  # the line of each text
        self.duplicates = 0  # lines that repeat an earlier line's event

    @property
    def texts(self) -> Collection[EventText]:
        return self._texts.values()

    def line_of(self, key: EventKey) -> int:
        """The line of the event of `key` (a scan: for a message)."""
        return self.numbers[next(index for index, known in enumerate(self._texts) if known == key)]

    def add(self, number: int, fields: dict[str, Any]) -> None:
        """The event of line `number` (its fields, validated here); a fill key already on an earlier line is
        a duplicate when its content is the same, else refused naming both lines (the log would refuse it)."""
        text = EventText(fields, where=f"line {number}")
        key = text.key
        earlier = self._texts.setdefault(key, text)
        if earlier is text:
            self.numbers.append(number)
        elif earlier == text:
            self.duplicates += 1
        else:
            account, exchange, fill_id = key
            raise InvalidFill(
                f"line {number}: {text.type} {fill_id!r} (account {account!r}, exchange {exchange!r}) is also on "
                f"line {self.line_of(key)} with other content"
            )


def read_fills(lines: Iterable[str], *, on_progress: Callable[[int], None] | None = None) -> FileEvents:
    """Every event of a file, or InvalidFill listing the bad lines by number; blank lines are skipped. A
    fill key on two lines with other content is refused naming both lines. `on_progress(lines read)`
    every PROGRESS_EVERY lines and at the end."""
    events = FileEvents()
    problems: list[str] = []
    bad = number = 0
    for number, line in enumerate(lines, start=1):
        if on_progress is not None and number % PROGRESS_EVERY == 0:
            on_progress(number)
        if not line.strip():
            continue
        try:
            events.add(number, read_line(line, number))
        except InvalidFill as error:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(str(error))
    if problems:
        more = f"; ... and {bad - len(problems)} more bad lines" if bad > len(problems) else ""
        raise InvalidFill(f"{bad} bad line(s), nothing was imported: " + "; ".join(problems) + more)
    if on_progress is not None:
        on_progress(number)
    return events
