"""Tax years of the lots (spec section 11) are calendar years in UTC: a fill recorded with another UTC offset
counts in the year its UTC time falls in, for the method of that year, the year of a report and `until_time`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.factories import fill_fields
from tradeledger import Ledger

D = Decimal
PLAN = ["fifo", "2025=lifo"]


@pytest.fixture
def across_new_year(ledger: Ledger) -> Ledger:
    """Three lots of 2024 (1 @ 100, 1 @ 200, 1 @ 300), then two sales of 1 @ 400 an hour either side of the
    new year in UTC, each written in a time zone where it falls in the other year."""
    ledger.record_many(
        [
            fill_fields(quantity="1", price="100", occurred_at="2024-01-01T00:00:00+00:00"),
            fill_fields(quantity="1", price="200", occurred_at="2024-06-01T00:00:00+00:00"),
            fill_fields(quantity="1", price="300", occurred_at="2024-09-01T00:00:00+00:00"),
            # 2024-12-31T23:00Z: tax year 2024 (fifo), although 2025 in Tokyo
            fill_fields(side="sell", quantity="1", price="400", occurred_at="2025-01-01T08:00:00+09:00"),
            # 2025-01-01T01:00Z: tax year 2025 (lifo), although 2024 in New York
            fill_fields(side="sell", quantity="1", price="400", occurred_at="2024-12-31T20:00:00-05:00"),
        ]
    )
    return ledger


def test_a_sale_counts_in_the_tax_year_of_its_utc_time_and_is_matched_by_that_years_method(
    across_new_year: Ledger,
) -> None:
    in_2024 = across_new_year.gains(PLAN, year=2024)
    in_2025 = across_new_year.gains(PLAN, year=2025)

    assert [(r.disposed_at, r.acquired_seq, r.gain) for r in in_2024.rows] == [
        (datetime(2024, 12, 31, 23, tzinfo=UTC), 1, D(300))  # fifo: the lot of 100
    ]
    assert [(r.disposed_at, r.acquired_seq, r.gain) for r in in_2025.rows] == [
        (datetime(2025, 1, 1, 1, tzinfo=UTC), 3, D(100))  # lifo: the lot of 300
    ]
    assert across_new_year.gains(PLAN).methods() == {"2024": "fifo", "2025": "lifo"}


def test_the_lots_open_at_a_time_given_in_another_zone_are_those_after_the_events_by_its_utc_time(
    across_new_year: Ledger,
) -> None:
    # 2025-01-01T00:30+01:00 is 2024-12-31T23:30Z: after the first sale, before the second.
    before_the_second = datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))

    report = across_new_year.lots(PLAN, until_time=before_the_second)

    assert [(lot.acquired_seq, lot.quantity, lot.unit_cost) for lot in report.lots] == [
        (2, D(1), D(200)),
        (3, D(1), D(300)),
    ]
    assert report.seq == 4
