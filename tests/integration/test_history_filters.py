"""`Ledger.history` / `stream_history` by exchange and by when the events occurred, and `Ledger.find` by key:
what `reconcile` reads instead of the whole log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import make_fill
from tradeledger import open_ledger
from tradeledger.application.ledger import Ledger
from tradeledger.errors import InvalidArgument


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as opened:
        opened.record_many(
            [
                make_fill(fill_id="a", exchange="binance", occurred_at="2024-03-01T10:00:00+00:00"),
                make_fill(fill_id="b", exchange="kraken", occurred_at="2024-03-01T11:00:00+00:00"),
                make_fill(fill_id="c", exchange="binance", occurred_at="2024-03-01T12:00:00+02:00"),  # 10:00 UTC
                make_fill(fill_id="d", exchange="binance", occurred_at="2024-03-01T11:30:00+00:00"),
            ]
        )
        yield opened


def ids(fills: object) -> list[str]:
    return [recorded.event.event_id for recorded in fills]  # type: ignore[attr-defined]


def test_history_is_read_by_exchange_and_by_a_span_of_occurrence_in_any_zone_both_ends_inclusive(
    ledger: Ledger,
) -> None:
    ten = datetime(2024, 3, 1, 10, tzinfo=UTC)
    eleven = datetime.fromisoformat("2024-03-01T12:00:00+01:00")

    assert ids(ledger.history(exchange="binance")) == ["a", "c", "d"]
    assert ids(ledger.history(occurred=(ten, eleven))) == ["a", "b", "c"]
    assert ids(ledger.stream_history(exchange="binance", occurred=(ten, eleven))) == ["a", "c"]
    assert ids(ledger.history(exchange="binance", account="other")) == []


def test_a_span_without_a_timezone_is_refused_naming_it(ledger: Ledger) -> None:
    with pytest.raises(InvalidArgument, match=r"occurred: 2024-03-01T10:00:00 must carry a timezone"):
        ledger.history(occurred=(datetime(2024, 3, 1, 10), datetime(2024, 3, 1, 11, tzinfo=UTC)))  # noqa: DTZ001


def test_events_are_found_by_account_exchange_and_fill_id(ledger: Ledger) -> None:
    found = ledger.find([("default", "binance", "a"), ("default", "kraken", "a"), ("default", "kraken", "b")])

    assert {key: fill.seq for key, fill in found.items()} == {
        ("default", "binance", "a"): 1,
        ("default", "kraken", "b"): 2,
    }
