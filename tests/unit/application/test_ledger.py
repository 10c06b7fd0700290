"""The Ledger's use cases over the in-memory store: recording, reading, replaying, rebuilding."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Context, Decimal, localcontext
from typing import Any

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields, make_fill, recorded_fills
from tradeledger import FillConflict, InvalidFill, Ledger, PositionSide
from tradeledger.application import bulk, verification


def record(ledger: Ledger, *legs: tuple[str, str, str, str, str]) -> None:
    """Record (symbol, side, quantity, price, occurred_at) legs in order."""
    for symbol, side, quantity, price, at in legs:
        ledger.record(fill_fields(symbol=symbol, side=side, quantity=quantity, price=price, occurred_at=at))


def test_a_recorded_fill_gets_the_next_seq_and_a_receipt(ledger: Ledger) -> None:
    first = ledger.record(fill_fields())
    second = ledger.record(make_fill())

    assert (first.seq, second.seq) == (1, 2)
    assert (first.epoch, first.duplicate) == (1, False)
    assert ledger.head.hash == second.hash


def test_the_position_is_updated_in_the_same_step_as_the_append(ledger: Ledger) -> None:
    ledger.record(fill_fields(symbol="ETH/USD", side="sell", quantity="2", price="3000", fee="1.5"))

    position = ledger.position("ETH/USD")

    assert position is not None
    assert position.side is PositionSide.SHORT
    assert (position.quantity, position.avg_price, position.fees) == (Decimal(2), Decimal(3000), Decimal("1.5"))
    assert ledger.state().seq == ledger.head.seq == 1


def test_a_flat_symbol_has_no_open_position_but_keeps_its_closed_cycle(ledger: Ledger) -> None:
    record(
        ledger,
        ("BTC/USD", "buy", "1", "100", "2026-01-05T10:00:00Z"),
        ("BTC/USD", "sell", "1", "90", "2026-01-05T10:01:00Z"),
    )

    [cycle] = ledger.closed_positions()

    assert ledger.position("BTC/USD") is None
    assert ledger.positions() == ()
    assert (cycle.side, cycle.realized_pnl, cycle.opened_seq, cycle.closed_seq) == (
        PositionSide.LONG,
        Decimal(-10),
        1,
        2,
    )


def test_positions_are_kept_per_account(ledger: Ledger) -> None:
    ledger.record(fill_fields(account="alpha", quantity="1"))
    ledger.record(fill_fields(account="beta", side="sell", quantity="3"))

    assert [p.account for p in ledger.positions()] == ["alpha", "beta"]
    assert ledger.position("BTC/USD", account="beta") is not None
    assert ledger.position("BTC/USD") is None
    assert ledger.state(account="alpha").totals.fees == 0


def test_a_batch_is_one_transaction_with_consecutive_seqs(ledger: Ledger) -> None:
    receipts = ledger.record_many([fill_fields() for _ in range(5)])

    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
    assert ledger.verify().ok


def test_recorded_at_comes_from_the_ledgers_clock(ledger: Ledger) -> None:
    ledger.record(fill_fields())

    [recorded] = list(ledger.history())

    assert recorded.recorded_at == RECORDED_AT


def test_history_filters_by_symbol_and_account(ledger: Ledger) -> None:
    ledger.record(fill_fields(fill_id="a", symbol="BTC/USD"))
    ledger.record(fill_fields(fill_id="b", symbol="ETH/USD"))
    ledger.record(fill_fields(fill_id="c", symbol="ETH/USD", account="other"))

    assert [r.fill.event_id for r in ledger.history(symbol="ETH/USD")] == ["b", "c"]
    assert [r.fill.event_id for r in ledger.history(account="other")] == ["c"]


def test_replay_until_a_seq_ignores_later_fills(ledger: Ledger) -> None:
    record(
        ledger,
        ("BTC/USD", "buy", "1", "100", "2026-01-05T10:00:00Z"),
        ("BTC/USD", "buy", "1", "110", "2026-01-05T10:01:00Z"),
        ("BTC/USD", "sell", "2", "120", "2026-01-05T10:02:00Z"),
    )

    state = ledger.replay(until_seq=2)

    [position] = state.open
    assert (state.seq, position.quantity, position.avg_price) == (2, Decimal(2), Decimal(105))
    assert state.closed == ()


def test_replay_until_a_time_keeps_fills_that_occurred_by_then_in_log_order(ledger: Ledger) -> None:
    record(
        ledger,
        ("BTC/USD", "buy", "1", "100", "2026-01-05T10:00:00Z"),
        ("BTC/USD", "buy", "1", "110", "2026-01-05T10:05:00Z"),
        ("BTC/USD", "buy", "2", "90", "2026-01-05T10:01:00Z"),  # reported late
    )

    state = ledger.replay(until_time=datetime(2026, 1, 5, 10, 2, tzinfo=UTC))

    [position] = state.open
    assert (position.quantity, position.avg_price) == (Decimal(3), Decimal(280) / 3)
    assert state.seq == 3


def test_replay_of_an_empty_log_is_empty(ledger: Ledger) -> None:
    state = ledger.replay()

    assert (state.seq, state.open, state.closed, state.totals.net_pnl) == (0, (), (), Decimal(0))


def test_rebuild_gives_back_the_incrementally_stored_projection(ledger: Ledger) -> None:
    record(
        ledger,
        ("BTC/USD", "buy", "1", "100", "2026-01-05T10:00:00Z"),
        ("BTC/USD", "sell", "3", "120", "2026-01-05T10:01:00Z"),
        ("ETH/USD", "buy", "2", "3000", "2026-01-05T10:02:00Z"),
    )
    before = ledger.state()

    checkpoint = ledger.rebuild()

    assert ledger.state() == before
    assert (checkpoint.seq, checkpoint.hash) == (3, ledger.head.hash)
    assert ledger.verify().ok


def test_the_callers_decimal_context_does_not_change_what_is_stored(ledger: Ledger) -> None:
    with localcontext(Context(prec=6, rounding=ROUND_DOWN)):
        ledger.record(fill_fields(quantity="1.23456789", price="100.123456"))
        ledger.record(fill_fields(quantity="2", price="33.3333333"))

    [first, _] = recorded_fills(ledger.history())
    [position] = ledger.positions()
    assert (first.quantity, first.price) == (Decimal("1.23456789"), Decimal("100.123456"))
    assert position.avg_price == (Decimal("1.23456789") * Decimal("100.123456") + Decimal("66.6666666")) / Decimal(
        "3.23456789"
    )
    assert ledger.verify().ok


def test_a_fill_that_would_round_the_position_size_is_refused_and_nothing_is_written(ledger: Ledger) -> None:
    ledger.record(fill_fields(quantity="1E+24", price="1"))
    head = ledger.head

    with pytest.raises(InvalidFill, match="quantity") as refused:
        ledger.record(fill_fields(side="sell", quantity="1E-24", price="1"))

    assert "more than 28 significant digits" in str(refused.value)
    assert ledger.head == head
    [position] = ledger.positions()
    assert position.quantity == Decimal("1E+24")


def test_lifetime_totals_are_the_sum_of_closed_cycles_and_the_open_cycle(ledger: Ledger) -> None:
    ledger.record(fill_fields(quantity="3", price="10.1", fee="0.7"))
    ledger.record(fill_fields(side="sell", quantity="3", price="13.37", fee="0.3"))
    ledger.record(fill_fields(quantity="7", price="12.3", fee="0.11"))
    ledger.record(fill_fields(side="sell", quantity="2", price="12.9", fee="0.05"))

    state = ledger.state()

    [closed] = state.closed
    [open_position] = state.open
    totals = state.symbol_totals[("default", "BTC/USD")]
    assert totals.realized_pnl == closed.realized_pnl + open_position.realized_pnl == Decimal("9.81") + Decimal("1.2")
    assert totals.fees == closed.fees + open_position.fees == Decimal("1.16")


def test_record_many_reads_a_generator_whole_before_it_appends_a_chunk_at_a_time(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    append = bulk.append_chunk

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append("append")
        return append(*args, **kwargs)

    def generated() -> Any:
        for n in range(7):
            seen.append(f"fill {n + 1}")
            yield fill_fields(fill_id=f"g-{n}")

    monkeypatch.setattr(bulk, "CHUNK", 3)
    monkeypatch.setattr(bulk, "append_chunk", watched)

    receipts = ledger.record_many(generated())

    # The caller's generator runs before the write lock is taken (never under it), then three chunks.
    assert seen == [*(f"fill {n}" for n in range(1, 8)), "append", "append", "append"]
    assert [receipt.seq for receipt in receipts] == list(range(1, 8))


def test_a_large_batch_is_appended_with_the_cycle_collector_paused_and_put_back(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    append = bulk.append_chunk

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return append(*args, **kwargs)

    monkeypatch.setattr(bulk, "append_chunk", watched)
    assert gc.isenabled()
    ledger.record(fill_fields(fill_id="one"))
    ledger.record_many([fill_fields(fill_id=f"b-{n}") for n in range(500)])
    conflicting = fill_fields(fill_id="one", price="101")  # refused inside the append: the collector is put back
    with pytest.raises(FillConflict):
        ledger.record_many([*(fill_fields(fill_id=f"c-{n}") for n in range(499)), conflicting])

    assert seen == [True, False, False]
    assert gc.isenabled()


def test_verify_reports_its_progress_every_progress_every_events_and_at_the_end(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record_many([fill_fields(fill_id=f"f-{n}", price=str(100 + n)) for n in range(8)])
    monkeypatch.setattr(verification, "PROGRESS_EVERY", 3)
    seen: list[int] = []

    report = ledger.verify(on_progress=seen.append)

    assert report.ok, report.problems
    assert seen == [3, 6, 8]  # 8 events: every 3, then the end


def test_stream_history_gives_what_history_gives_one_fill_at_a_time(ledger: Ledger) -> None:
    ledger.record_many([fill_fields(fill_id=f"f-{n}", price=str(100 + n)) for n in range(5)])

    stream = ledger.stream_history()
    first = next(stream)  # before the rest is read
    stream.close()

    assert first == ledger.history()[0]
    assert list(ledger.stream_history(after_seq=2)) == ledger.history(after_seq=2)
    assert [r.seq for r in ledger.stream_history()] == [1, 2, 3, 4, 5]
