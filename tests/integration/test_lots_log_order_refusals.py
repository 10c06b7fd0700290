"""The lots refuse what the positions refuse in log order (spec section 11), also on a log holding a backfill,
whose lots are folded in time order: a base fee edited behind the ledger's back into one the positions refuse is
refused by `gains` and `lots` as by `replay`, wherever the backfill is."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidArgument, InvalidFill, Ledger, open_ledger

REFUSAL = (
    "seq {seq}: fees[0].amount: a fee of 3 ETH is more than the 1 ETH the fill leaves held on the spot market "
    "ETH/USD; it would turn the position short"
)
ETH_BUY = fill_fields(
    symbol="ETH/USD", quantity="1", price="10", fee=None, fees=[{"amount": "0.5", "currency": "ETH"}],
    occurred_at="2024-04-01T00:00:00+00:00",
)  # fmt: skip
SALE_AND_BACKFILL = [
    fill_fields(quantity="1", price="100", occurred_at="2024-01-01T00:00:00+00:00"),
    fill_fields(side="sell", quantity="1", price="300", occurred_at="2024-03-01T00:00:00+00:00"),
    fill_fields(quantity="1", price="50", occurred_at="2023-12-01T00:00:00+00:00"),  # backfilled after the sale
]


def edited(tmp_path: Path, events: list[dict[str, Any]]) -> str:
    """A SQLite ledger of `events`, then `ETH_BUY`, whose base fee of 0.5 ETH is edited into 3 ETH."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ledger.record_many([*events, {k: v for k, v in ETH_BUY.items() if v is not None}])
        seq = ledger.head.seq
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("DROP TRIGGER ledger_events_no_update")
        db.execute("UPDATE ledger_events SET fees = ? WHERE seq = ?", ('[{"amount":"3","currency":"ETH"}]', seq))
    return url


def expected(fold: str, seq: int) -> str:
    """The refusal in the words of `fold`: the lots prefix the seq, the positions' replay does not."""
    return REFUSAL.format(seq=seq).removeprefix(f"seq {seq}: " if fold == "replay" else "")


FOLDS: dict[str, Callable[[Ledger], object]] = {
    "replay": lambda ledger: ledger.replay(),
    "gains": lambda ledger: ledger.gains("fifo"),
    "gains of a year": lambda ledger: ledger.gains("fifo", year=2024),
    "lots": lambda ledger: ledger.lots("fifo"),
}


@pytest.mark.parametrize("fold", list(FOLDS))
def test_a_base_fee_the_positions_refuse_is_refused_by_every_fold_of_a_log_without_backfill(
    tmp_path: Path, fold: str
) -> None:
    url = edited(tmp_path, SALE_AND_BACKFILL[:2])

    with open_ledger(url) as ledger, pytest.raises(InvalidFill) as refused:
        FOLDS[fold](ledger)

    assert str(refused.value) == expected(fold, 3)


@pytest.mark.parametrize("fold", list(FOLDS))
def test_a_base_fee_the_positions_refuse_is_refused_by_every_fold_of_a_log_with_a_backfill(
    tmp_path: Path, fold: str
) -> None:
    url = edited(tmp_path, SALE_AND_BACKFILL)  # the backfill is of BTC/USD, the fee of ETH/USD

    with open_ledger(url) as ledger, pytest.raises(InvalidFill) as refused:
        FOLDS[fold](ledger)

    assert str(refused.value) == expected(fold, 4)


def test_the_open_lots_until_a_time_refuse_it_as_a_replay_until_that_time_does(tmp_path: Path) -> None:
    url = edited(tmp_path, SALE_AND_BACKFILL)
    until = datetime(2025, 1, 1, tzinfo=UTC)

    with open_ledger(url) as ledger:
        with pytest.raises(InvalidArgument) as by_lots:
            ledger.lots("fifo", until_time=until)
        with pytest.raises(InvalidArgument) as by_replay:
            ledger.replay(until_time=until)

    assert str(by_lots.value) == (
        "until_time: the events that occurred by 2025-01-01T00:00:00.000000+00:00 do not fold in log order: "
        f"{REFUSAL.format(seq=4)} (the log took seq 4 after events that occurred later, left out here); replay up "
        "to a seq instead"
    )
    assert str(by_replay.value) == str(by_lots.value)
