"""A fill on a dated future after its expiry day is refused when recorded; a log that holds one still folds."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from tradeledger import InvalidFill, Ledger, open_ledger
from tradeledger.application import bulk
from tradeledger.application.bulk import EventText

FUTURE = "BTC/USDT:USDT-261225"


def future_fill(
    fill_id: str, side: str, quantity: str, price: str, occurred_at: str, **more: object
) -> dict[str, object]:
    return {
        "fill_id": fill_id,
        "exchange": "binance",
        "symbol": FUTURE,
        "side": side,
        "quantity": quantity,
        "price": price,
        "occurred_at": occurred_at,
        **more,
    }


def ledger_at(db_url: str, now: str) -> Ledger:
    """A ledger whose clock reads `now` (a fill 5 minutes past the clock is refused when recorded)."""
    return open_ledger(db_url, clock=lambda: datetime.fromisoformat(now))


def test_a_fill_after_its_contracts_expiry_day_is_refused_naming_occurred_at_symbol_and_expiry(ledger: Ledger) -> None:
    ledger.record(future_fill("b1", "buy", "2", "90000", "2026-12-20T10:00:00+00:00"))
    head = ledger.head

    with pytest.raises(InvalidFill) as refused:
        ledger.record(future_fill("s1", "sell", "2", "95500", "2026-12-26T00:00:00+00:00"))

    assert str(refused.value) == (
        "fill 1: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25 (its expiry 261225); a fill after the end "
        "of its expiry day (UTC) is refused: the exchange settled it, book that with record-settlement "
        "(got 2026-12-26T00:00:00.000000+00:00)"
    )
    assert ledger.head == head
    [position] = ledger.positions()
    assert (position.quantity, position.last_seq) == (Decimal(2), 1)


def test_a_fill_in_a_batch_after_expiry_refuses_the_whole_batch(ledger: Ledger) -> None:
    with pytest.raises(InvalidFill, match=r"^fill 2: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25"):
        ledger.record_many(
            [
                future_fill("b1", "buy", "1", "90000", "2026-12-20T10:00:00+00:00"),
                future_fill("s1", "sell", "1", "91000", "2026-12-25T23:00:00-01:00"),  # 2026-12-26 00:00 UTC
            ]
        )

    assert ledger.head.seq == 0


def test_a_fill_at_the_last_instant_of_the_expiry_day_in_utc_is_recorded(ledger: Ledger) -> None:
    ledger.record(future_fill("b1", "buy", "1", "90000", "2026-12-20T10:00:00+00:00"))

    receipt = ledger.record(future_fill("s1", "sell", "1", "91000", "2026-12-26T01:59:59.999999+02:00"))

    assert receipt.seq == 2
    assert ledger.positions() == ()


def test_a_perpetual_and_a_spot_market_have_no_expiry(db_url: str) -> None:
    late = "2099-01-01T00:00:00+00:00"
    with ledger_at(db_url, late) as ledger:
        ledger.record_many(
            [
                {**future_fill("p1", "buy", "1", "90000", late), "symbol": "BTC/USDT:USDT"},
                {**future_fill("s1", "buy", "1", "90000", late), "symbol": "BTC/USDT"},
            ]
        )

        assert ledger.head.seq == 2


def test_a_log_that_holds_a_fill_after_expiry_still_verifies_replays_and_takes_it_again_as_a_duplicate(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = future_fill("s1", "sell", "1", "91000", "2027-01-10T00:00:00+00:00")
    with ledger_at(db_url, "2027-01-10T00:00:00+00:00") as ledger:
        with monkeypatch.context() as before:  # a log written before the check existed
            before.setattr(bulk, "refuse_past_expiry", lambda *_, **__: None)
            ledger.record_many([future_fill("b1", "buy", "1", "90000", "2026-12-20T10:00:00+00:00"), late])

        assert ledger.verify().ok
        assert ledger.replay().open == ()
        assert ledger.record(late).duplicate


def test_an_import_refuses_a_fill_after_expiry_among_its_texts_and_appends_none(ledger: Ledger) -> None:
    lines = [
        future_fill("b1", "buy", "1", "90000", "2026-12-20T10:00:00+00:00"),
        future_fill("s1", "sell", "1", "91000", "2026-12-27T00:00:00+00:00"),
    ]

    with pytest.raises(InvalidFill, match=r"^fill 2: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25"):
        ledger.append_texts([EventText(line) for line in lines])

    assert ledger.head.seq == 0


def test_an_expiry_year_is_of_this_century_as_ccxt_writes_it(db_url: str) -> None:
    fill = {**future_fill("f1", "buy", "1", "90000", "2075-01-02T00:00:00+00:00"), "symbol": "BTC/USDT:USDT-991231"}

    with ledger_at(db_url, "2075-01-02T00:00:00+00:00") as ledger:
        assert ledger.record(fill).seq == 1  # 991231 is 2099-12-31, not 1999-12-31
