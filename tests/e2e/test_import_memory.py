"""`import` of a long file: each line kept as its event's text until the append, which goes a chunk at a time
(application/bulk.py), and still validates every line first, appends all or nothing and names lines."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tradeledger.application import bulk
from tradeledger.cli.ndjson import count_lines, file_lines, read_fills

CHUNK = 3


def line(fill_id: str, **fields: Any) -> str:
    values = {
        "fill_id": fill_id,
        "exchange": "k",
        "symbol": "BTC/USD",
        "side": "buy",
        "quantity": "1",
        "price": "100",
        "fee": "0.1",
        "occurred_at": "2026-01-05T10:00:00Z",
    }
    return json.dumps(values | fields)


def test_an_import_keeps_under_a_kilobyte_a_line_until_it_appends(tmp_path: Path) -> None:
    lines = [line(f"M-{n:06d}", quantity=f"{n % 97 + 1}.{n % 7}", price=f"{100 + n % 13}.25") for n in range(5_000)]

    tracemalloc.start()
    try:
        read = read_fills(lines)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(read.texts) == 5_000
    assert kept / 5_000 < 1_000  # a Fill model a line (as before) kept ~3,000 bytes


def test_a_long_import_counts_duplicates_within_the_file_and_with_the_log_across_chunks(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    first = tmp_path / "first.ndjson"
    first.write_text(line("A-1") + "\n" + line("A-2") + "\n")
    cli("import", str(first))
    again = [line("A-2"), *(line(f"B-{n}") for n in range(2 * CHUNK)), line("B-1"), "", line("A-1")]
    second = tmp_path / "second.ndjson"
    second.write_text("\n".join(again) + "\n")

    assert cli.json("import", str(second)) == {"appended": 2 * CHUNK, "duplicates": 3, "seq": 2 + 2 * CHUNK}
    assert cli.json("verify")["ok"]


def test_a_conflict_in_the_last_chunk_names_its_line_and_nothing_is_imported(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    first = tmp_path / "first.ndjson"
    first.write_text(line("A-1") + "\n")
    cli("import", str(first))
    lines = [*(line(f"C-{n}") for n in range(2 * CHUNK)), "", line("A-1", price="101")]
    second = tmp_path / "second.ndjson"
    second.write_text("\n".join(lines) + "\n")

    result = cli("import", str(second), expect=2)

    assert result.stderr.startswith("error: line 8: fill 'A-1' (account 'default', exchange 'k') is already recorded")
    assert result.stderr.endswith("; nothing was imported\n")
    assert [fill["fill_id"] for fill in cli.json("history")] == ["A-1"]


def test_a_refused_base_fee_names_its_line_and_its_place_in_the_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    fees = [{"amount": "0.1", "currency": "USD"}, {"amount": "5", "currency": "ETH"}]  # the log sorts ETH first
    lines = [*(line(f"D-{n}") for n in range(CHUNK)), "", line("D-fee", symbol="ETH/USD", fee=None, fees=fees)]
    fills = tmp_path / "fees.ndjson"
    fills.write_text("\n".join(lines).replace(', "fee": null', "") + "\n")

    result = cli("import", str(fills), expect=2)

    assert result.stderr.startswith("error: line 5: fees[1].amount")
    assert "5 ETH" in result.stderr
    assert cli.json("history") == []


def test_a_file_that_is_not_utf8_is_refused_naming_the_byte_in_the_file(tmp_path: Path) -> None:
    text = tmp_path / "latin.ndjson"
    text.write_bytes(line("E-1").encode() + b"\n" + b'{"fill_id": "caf\xe9"}\n')
    offset = len(line("E-1")) + 1 + len(b'{"fill_id": "caf')

    with pytest.raises(Exception, match=rf"not UTF-8 text \(invalid continuation byte at byte {offset}\)"):
        list(file_lines(text))


def test_file_lines_are_the_lines_split_lines_gives(tmp_path: Path) -> None:
    text = tmp_path / "lines.ndjson"
    text.write_bytes(b'{"a": "\xe2\x80\xa8"}\r\n\n  \n{"b": 1}')  # U+2028 inside a string is no line break

    assert list(file_lines(text)) == ['{"a": "\u2028"}', "", "  ", '{"b": 1}']


@pytest.mark.parametrize(
    "content", [b"", b"\n", b"a", b"a\n", b"a\nb", b"a\n\n", b"\r\n\r\n", b"a" * (1 << 20) + b"\nb"]
)
def test_count_lines_counts_the_lines_file_lines_gives(tmp_path: Path, content: bytes) -> None:
    text = tmp_path / "count.ndjson"
    text.write_bytes(content)

    assert count_lines(text) == len(list(file_lines(text)))


def test_a_file_read_from_a_pipe_is_imported_whole(cli: Cli, tmp_path: Path) -> None:
    # `tradeledger import <(zcat fills.ndjson.gz)` or `... | tradeledger import /dev/stdin`: a pipe gives its
    # bytes once; the import reads a file more than once (found in review: refused or silently truncated).
    lines = [line(f"P-{n:05d}", side=("buy", "sell")[n % 2]) for n in range(2_000)]  # ~350 KB: more than a pipe holds
    fifo = tmp_path / "fills.fifo"
    os.mkfifo(fifo)
    done = threading.Event()

    def write() -> None:
        with fifo.open("w") as pipe:
            pipe.write("\n".join(lines) + "\n")
        while not done.wait(0.5):  # a reader opening the pipe again would wait for a writer for ever
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        summary = cli.json("import", str(fifo))
    finally:
        done.set()
        writer.join(timeout=10)

    assert summary == {"appended": 2_000, "duplicates": 0, "seq": 2_000}
