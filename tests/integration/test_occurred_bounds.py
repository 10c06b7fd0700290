"""A new event's `occurred_at` lies between 2009-01-03 (UTC) and the clock at record time plus 5 minutes: an event
dated years ahead (a year typo, milliseconds read as seconds) or in 1970 (a timestamp of 0, seconds read as
milliseconds) is refused when it is recorded, naming the field, the value and the bound, and nothing is written.
A log that holds such an event from before the check still verifies, replays, rebuilds and takes it again as a
duplicate (domain/occurrence.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from freezegun import freeze_time

from tradeledger import InvalidFill, Ledger, open_ledger
from tradeledger.application import bulk
from tradeledger.application.bulk import EventText

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with open_ledger(db_url, clock=lambda: NOW) as opened:
        yield opened


def fill(fill_id: str, occurred_at: str, side: str = "buy") -> dict[str, object]:
    return {
        "fill_id": fill_id,
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": side,
        "quantity": "1",
        "price": "90000",
        "occurred_at": occurred_at,
    }


def transfer(transfer_id: str, occurred_at: str) -> dict[str, object]:
    return {
        "type": "transfer",
        "transfer_id": transfer_id,
        "exchange": "binance",
        "currency": "USDT",
        "amount": "1000",
        "kind": "deposit",
        "occurred_at": occurred_at,
    }


def funding(funding_id: str, occurred_at: str) -> dict[str, object]:
    return {
        "type": "funding",
        "funding_id": funding_id,
        "exchange": "binance",
        "symbol": "BTC/USDT:USDT",
        "amount": "-1.5",
        "currency": "USDT",
        "occurred_at": occurred_at,
    }


def test_a_fill_five_minutes_after_the_clock_is_recorded_and_one_a_microsecond_later_is_refused(
    ledger: Ledger,
) -> None:
    assert ledger.record(fill("edge", "2026-12-07T18:05:00+00:00")).seq == 1

    with pytest.raises(InvalidFill) as refused:
        ledger.record(fill("past-edge", "2026-12-07T18:05:00.000001+00:00"))

    assert str(refused.value) == (
        "fill 1: occurred_at: is after 2026-12-07T18:05:00.000000+00:00, the clock when it was recorded "
        "(2026-12-07T18:00:00.000000+00:00) plus 5 minutes for clock skew (a year typo, a local time given as UTC, "
        "or milliseconds read as seconds?) (got 2026-12-07T18:05:00.000001+00:00)"
    )
    assert ledger.head.seq == 1


def test_a_fill_on_the_day_of_bitcoins_first_block_is_recorded_and_one_a_microsecond_before_is_refused(
    ledger: Ledger,
) -> None:
    assert ledger.record(fill("first-day", "2009-01-03T00:00:00+00:00")).seq == 1

    with pytest.raises(InvalidFill) as refused:
        ledger.record(fill("before", "2009-01-02T23:59:59.999999+00:00"))

    assert str(refused.value) == (
        "fill 1: occurred_at: is before 2009-01-03T00:00:00.000000+00:00, the day of Bitcoin's first block: no "
        "crypto trade occurred before it (a timestamp of 0, or seconds read as milliseconds, reads as 1970) "
        "(got 2009-01-02T23:59:59.999999+00:00)"
    )
    assert ledger.head.seq == 1


@pytest.mark.parametrize(
    ("occurred_at", "bound"),
    [
        ("1970-01-01T00:00:00+00:00", "is before 2009-01-03"),  # a timestamp of 0
        ("1970-01-20T16:13:20+00:00", "is before 2009-01-03"),  # 1,700,000,000 seconds read as milliseconds
        ("2031-12-07T18:00:00+00:00", "is after 2026-12-07T18:05"),  # a year typo
        ("2026-12-07T19:00:00+00:00", "is after 2026-12-07T18:05"),  # 19:00 in a zone an hour east, given as UTC
    ],
    ids=["epoch", "seconds-as-milliseconds", "year-typo", "local-time-as-utc"],
)
def test_a_batch_with_one_event_out_of_bounds_writes_nothing(ledger: Ledger, occurred_at: str, bound: str) -> None:
    ledger.record(fill("before", "2026-12-01T00:00:00+00:00"))
    head, positions = ledger.head, ledger.positions()

    with pytest.raises(InvalidFill, match=rf"^fill 3: occurred_at: {bound}"):
        ledger.record_many(
            [
                fill("a", "2026-12-02T00:00:00+00:00"),
                fill("b", "2026-12-03T00:00:00+00:00"),
                fill("bad", occurred_at),
                fill("c", "2026-12-04T00:00:00+00:00"),
            ]
        )

    assert ledger.head == head
    assert ledger.positions() == positions
    assert ledger.verify().ok


@pytest.mark.parametrize("event", [transfer, funding], ids=["transfer", "funding"])
def test_a_transfer_or_funding_in_the_future_is_refused_as_a_fill_is(ledger: Ledger, event: object) -> None:
    assert callable(event)

    with pytest.raises(InvalidFill, match=r"^(transfer|funding) 1: occurred_at: is after 2026-12-07T18:05:00\.000000"):
        ledger.record(event("e1", "2031-12-07T18:00:00+00:00"))

    assert ledger.head.seq == 0
    assert ledger.record(event("e1", "2026-12-07T17:00:00+00:00")).seq == 1


def test_an_import_of_texts_refuses_one_out_of_bounds_and_appends_none(ledger: Ledger) -> None:
    texts = [EventText(fill("a", "2026-12-01T00:00:00+00:00")), EventText(fill("b", "1970-01-20T16:13:20+00:00"))]

    with pytest.raises(InvalidFill, match=r"^fill 2: occurred_at: is before 2009-01-03T00:00:00\.000000\+00:00"):
        ledger.append_texts(texts)

    assert ledger.head.seq == 0


def test_the_default_clock_is_the_wall_clock_read_once_per_append(tmp_path: Path) -> None:
    with freeze_time("2026-12-07T18:00:00Z"), open_ledger(f"sqlite:///{tmp_path / 'wall.db'}") as ledger:
        receipt = ledger.record(fill("now", "2026-12-07T18:04:59+00:00"))
        with pytest.raises(InvalidFill, match=r"^fill 1: occurred_at: is after 2026-12-07T18:05:00\.000000\+00:00"):
            ledger.record(fill("later", "2026-12-07T18:05:01+00:00"))

        [recorded] = ledger.history()
    assert receipt.seq == 1
    assert recorded.recorded_at == datetime(2026, 12, 7, 18, tzinfo=UTC)


def test_a_log_holding_events_out_of_bounds_still_verifies_replays_rebuilds_and_takes_them_again_as_duplicates(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = [fill("epoch", "1970-01-01T00:00:00+00:00"), fill("typo", "2031-12-07T18:00:00+00:00", side="sell")]
    with monkeypatch.context() as before:  # a log written before the check existed
        before.setattr(bulk, "refuse_out_of_bounds", lambda *_, **__: None)
        ledger.record_many(stored)

    assert ledger.verify().ok
    assert ledger.replay().open == ()
    assert ledger.rebuild().seq == 2
    assert [receipt.duplicate for receipt in ledger.record_many(stored)] == [True, True]
    assert ledger.closed_positions()[0].realized_pnl == Decimal(0)
