"""Atomic files written a piece at a time (compat.files): the target is replaced only when every piece is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tradeledger.compat.files import atomic_file, output_file


class Interrupted(Exception):
    """What stops a writer half way in these tests."""


def test_a_file_written_a_piece_at_a_time_replaces_the_target_once_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "export.ndjson"
    target.write_bytes(b"the old export\n")

    with atomic_file(target) as handle:
        for n in range(3):
            handle.write(f"line {n}\n".encode())
        assert target.read_bytes() == b"the old export\n"  # not yet

    assert target.read_bytes() == b"line 0\nline 1\nline 2\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.ndjson"]


def test_a_writer_that_fails_half_way_leaves_the_target_as_it_was_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "export.ndjson"
    target.write_bytes(b"the old export\n")

    def write_then_fail() -> None:
        with output_file(target) as handle:
            handle.write(b"line 0\n")
            raise Interrupted

    with pytest.raises(Interrupted):
        write_then_fail()

    assert target.read_bytes() == b"the old export\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.ndjson"]


def test_an_output_file_on_a_pipe_is_written_in_place_a_piece_at_a_time(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer's open does not block
    try:
        with output_file(fifo) as handle:
            handle.write(b"line 0\n")
            handle.flush()
            assert os.read(reader, 100) == b"line 0\n"  # there already, before the block ends
            handle.write(b"line 1\n")
        assert os.read(reader, 100) == b"line 1\n"
    finally:
        os.close(reader)
    assert fifo.is_fifo()  # never replaced by a file
