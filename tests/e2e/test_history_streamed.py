"""`history`'s table reads the log twice and holds none of its rows (issue 19: 761 MB at 1,000,000 events): the
widths from a first read, the rows written as the second read makes them, both reads of the same log."""

from __future__ import annotations

import io
from collections.abc import Generator

import pytest
from rich.console import Console

from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.cli import table_body, tables
from tradeledger.cli.history_table import print_history
from tradeledger.domain.records import RecordedFill
from tradeledger.errors import LedgerError

EVENTS = 12


class _Written(io.StringIO):
    """A console's file that notes, at each write, how many events the table's reads had yielded by then."""

    def __init__(self, yielded: list[int]) -> None:
        super().__init__()
        self.yielded = yielded
        self.at_writes: list[list[int]] = []

    def write(self, text: str) -> int:
        self.at_writes.append(list(self.yielded))
        return super().write(text)


@pytest.fixture
def traded(ledger: Ledger) -> Ledger:
    """Twelve fills over two accounts and two exchanges (every column shown)."""
    ledger.record_many(
        fill_fields(account=f"A{n % 2}", exchange=("kraken", "binance")[n % 3 == 0]) for n in range(EVENTS)
    )
    return ledger


def test_the_history_table_writes_rows_before_its_second_read_reached_the_end(
    traded: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "PART_LINES", 5)
    monkeypatch.setattr(table_body, "BODY_CHUNK", 3)
    yielded: list[int] = []  # events yielded by each read, in the order of the reads

    def read(until_seq: int | None) -> Generator[RecordedFill, None, None]:
        yielded.append(0)
        for recorded in traded.stream_history(until_seq=until_seq):
            yielded[-1] += 1
            yield recorded

    file = _Written(yielded)
    print_history(Console(file=file, width=200, color_system=None, markup=False, emoji=False), read)

    assert yielded == [EVENTS, EVENTS]
    assert file.at_writes[0] == [EVENTS, 3]  # the title, header and first rows: one chunk of the second read
    assert len(file.getvalue().splitlines()) == 5 + EVENTS  # title, top, header, rule, the rows, bottom


def test_the_history_table_is_refused_when_the_log_is_rolled_back_between_its_two_reads(traded: Ledger) -> None:
    reads: list[int | None] = []

    def read(until_seq: int | None) -> Generator[RecordedFill, None, None]:
        reads.append(until_seq)
        if len(reads) == 2:
            traded.rollback(to_seq=5, reason="test", actor="test")
            traded.record_many([fill_fields() for _ in range(EVENTS)])  # the head is past seq 12 again
        return traded.stream_history(until_seq=until_seq)

    with pytest.raises(LedgerError, match=r"history: the log changed while it was read twice \(rolled back: its last "):
        print_history(Console(file=io.StringIO(), width=200, color_system=None, markup=False, emoji=False), read)
    assert reads == [None, EVENTS]


def test_the_history_table_of_an_empty_log_reads_it_twice_and_says_so(ledger: Ledger) -> None:
    reads: list[int | None] = []

    def read(until_seq: int | None) -> Generator[RecordedFill, None, None]:
        reads.append(until_seq)
        return ledger.stream_history(until_seq=until_seq)

    file = io.StringIO()
    print_history(Console(file=file, width=80, color_system=None, markup=False, emoji=False), read)

    assert reads == [None, 0]
    assert "the log is empty" in file.getvalue()
