"""A JSON file of ccxt structures, read exactly: numbers as written (`0.1` is Decimal("0.1")), never a float.

Limits, refused by name: at most MAX_FILE_BYTES of UTF-8 JSON; no key written twice in one object; nesting
as deep as Python's parser reaches (about 1,000 levels; an event's metadata keeps at most 32).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tradeledger.domain.json_values import json_int, refuse_repeated_keys
from tradeledger.errors import InvalidFill

MAX_FILE_BYTES = 512 * 1024 * 1024


def _parse(text: str, *, source: str) -> object:
    try:
        # Numbers as Decimal (an integer too long for int too), never float; a key written twice refused, as the
        # NDJSON import refuses it (json.loads, unlike a decoder's decode, names a BOM).
        return json.loads(text, parse_float=Decimal, parse_int=json_int, object_pairs_hook=refuse_repeated_keys)
    except json.JSONDecodeError as error:
        raise InvalidFill(f"{source}: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except ValueError as error:  # a key written twice in one object
        raise InvalidFill(f"{source}: {error}") from None
    except RecursionError:
        raise InvalidFill(f"{source}: JSON nested too deep to read") from None


def parse_entries(text: str, *, source: str) -> list[object]:
    """The JSON list in `text`, or InvalidFill naming `source` and what is wrong."""
    value = _parse(text, source=source)
    if not isinstance(value, list):
        raise InvalidFill(
            f"{source}: expected a JSON list as ccxt returns it (fetch_my_trades, fetch_funding_history, "
            f"fetch_ledger, fetch_deposits, fetch_withdrawals), got a JSON {type(value).__name__}"
        )
    return value


def read_entries(path: Path) -> list[object]:
    """The list of ccxt structures in a JSON file (see parse_entries)."""
    return parse_entries(_text(path), source=str(path))


def read_balance(path: Path) -> object:
    """A fetch_balance() answer (a JSON object) from a file, its numbers exact."""
    value = _parse(_text(path), source=str(path))
    if not isinstance(value, dict):
        raise InvalidFill(
            f"{path}: expected a JSON object as fetch_balance() returns it, got a JSON {type(value).__name__}"
        )
    return value


def _text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InvalidFill(f"{path}: {size} bytes; at most {MAX_FILE_BYTES} are read")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidFill(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
