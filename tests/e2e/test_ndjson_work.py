"""How much work reading one NDJSON line takes (`tradeledger import`), counted, not timed: it grows with the
line, not with the line squared. A line of 20,000 metadata keys with one repeated took 6 s to be refused
(each key counted against every other), and a 1 MB key over a list of 40,000 numbers took 1.3 s (its text
copied once per number, to say where a number would be if it were refused)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tradeledger.cli import ndjson
from tradeledger.domain.json_values import refuse_repeated_keys
from tradeledger.errors import InvalidFill

FILL = {
    "fill_id": "d",
    "exchange": "k",
    "symbol": "BTC/USD",
    "side": "buy",
    "quantity": "1",
    "price": "1",
    "occurred_at": "2025-01-02T00:00:00+00:00",
}


class CountedKey(str):
    """A key that counts how often it is compared with another."""

    __slots__ = ()
    compared = 0

    def __eq__(self, other: object) -> bool:
        CountedKey.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_repeated_key_among_1000_is_found_comparing_each_key_a_few_times() -> None:
    pairs: list[tuple[str, Any]] = [(CountedKey(f"k{i}"), 0) for i in range(1000)]
    pairs.append((CountedKey("k7"), 1))
    CountedKey.compared = 0

    with pytest.raises(ValueError, match=r"^the key 'k7' appears twice in one object$"):
        refuse_repeated_keys(pairs)
    assert CountedKey.compared < 10 * len(pairs)  # counting each key in the list compared them 1,001,002 times


def test_reading_metadata_writes_no_text_of_where_its_numbers_are(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    plain_json = ndjson._plain_json

    def counting(*arguments: Any) -> object:
        written.extend(len(argument) for argument in arguments if isinstance(argument, str))
        return plain_json(*arguments)

    monkeypatch.setattr(ndjson, "_plain_json", counting)
    line = json.dumps({**FILL, "metadata": {"k" * 10_000: [0] * 1000}})

    fields = ndjson.read_line(line, 1)

    assert fields["metadata"] == {"k" * 10_000: [0] * 1000}
    assert sum(written) < 1000  # where each of the 1,000 numbers is: about 10,012 characters each, 10 MB


def test_a_number_a_float_would_not_keep_is_refused_naming_where_it_is() -> None:
    line = json.dumps({**FILL, "metadata": {"a": [{"b": 1}, {"c": [0, "x"]}]}}).replace(
        '"x"', "0.1000000000000000055511"
    )

    with pytest.raises(InvalidFill, match=r"^line 3: metadata\.a\[1\]\.c\[1\]: the number 0\.1000000000000000055511 "):
        ndjson.read_line(line, 3)
