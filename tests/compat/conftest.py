from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tradeledger import Ledger, open_ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A wall clock tests move by hand: every call returns the current time; tick() moves it on."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def open_bot_ledger(ledger_file: str, clock: Clock) -> Iterator[Callable[[], Ledger]]:
    """Opens the same SQLite file again (a restart); every ledger opened is closed after the test."""
    opened: list[Ledger] = []

    def reopen() -> Ledger:
        ledger = open_ledger(ledger_file, clock=clock)
        opened.append(ledger)
        return ledger

    yield reopen
    for ledger in opened:
        ledger.close()


def times(start: datetime = T0) -> Iterator[datetime]:
    """T0, T0 + 1 min, T0 + 2 min, ... for trade timestamps."""
    return (start + timedelta(minutes=n) for n in itertools.count())
