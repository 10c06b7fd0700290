"""Stored risk levels of a cycle only tighten, whichever writer is behind (spec section 4).

`Ledger.save_marks` merges a level row with the stored row of the same cycle under the write lock,
comparing the stored decimal text as exact Decimals (never as text, never as a float): the stop the
higher for a long and the lower for a short, the high watermark the higher, the low the lower. A row
of another cycle is replaced; a level of a cycle that is not open is not written. On SQLite the
level rows commit at synchronous=NORMAL (no fsync; a killed process loses nothing) and appends
keep the ledger's own setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.factories import fill_fields
from tradeledger import Ledger, open_ledger
from tradeledger.domain.risk import RiskLevels

BTC, ETH = "BTC/USD", "ETH/USD"


def levels(symbol: str, opened_seq: int, stop: str | None, highest: str, lowest: str) -> RiskLevels:
    return RiskLevels(
        account="default",
        symbol=symbol,
        opened_seq=opened_seq,
        stop_loss_price=None if stop is None else Decimal(stop),
        take_profit_price=Decimal(150),
        trailing_stop_pct=Decimal("0.01"),
        highest_price=Decimal(highest),
        lowest_price=Decimal(lowest),
    )


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """A long BTC cycle opened at seq 1 and a short ETH cycle opened at seq 2."""
    with open_ledger(db_url) as opened:
        opened.record(fill_fields(symbol=BTC, side="buy", quantity="1", price="100"))
        opened.record(fill_fields(symbol=ETH, side="sell", quantity="1", price="100"))
        yield opened


def stored(ledger: Ledger, symbol: str) -> tuple[int, Decimal | None, Decimal, Decimal]:
    row = ledger.marks().levels[("default", symbol)]
    return (row.opened_seq, row.stop_loss_price, row.highest_price, row.lowest_price)


def test_a_long_keeps_the_higher_stored_stop_compared_as_numbers_not_text(ledger: Ledger) -> None:
    ledger.save_marks(levels=[levels(BTC, 1, "118.8", "120", "100")])

    kept = ledger.save_marks(levels=[levels(BTC, 1, "99.99", "101", "99")])  # "99.99" > "118.8" as text

    assert stored(ledger, BTC) == (1, Decimal("118.8"), Decimal(120), Decimal(99))
    assert kept[("default", BTC)].stop_loss_price == Decimal("118.8")


def test_the_comparison_is_exact_to_the_28th_digit(ledger: Ledger) -> None:
    finer = "118.8000000000000000000000001"  # 28 significant digits; a float or REAL reads it as 118.8
    ledger.save_marks(levels=[levels(BTC, 1, finer, "120", "100")])

    ledger.save_marks(levels=[levels(BTC, 1, "118.8", "120", "100")])

    assert stored(ledger, BTC)[1] == Decimal(finer)


def test_a_short_keeps_the_lower_stored_stop_and_the_lower_low(ledger: Ledger) -> None:
    ledger.save_marks(levels=[levels(ETH, 2, "90.9", "100", "90")])

    ledger.save_marks(levels=[levels(ETH, 2, "101", "102", "95")])

    assert stored(ledger, ETH) == (2, Decimal("90.9"), Decimal(102), Decimal(90))


def test_a_tighter_stop_replaces_the_stored_one(ledger: Ledger) -> None:
    ledger.save_marks(levels=[levels(BTC, 1, "99", "100", "100")])

    ledger.save_marks(levels=[levels(BTC, 1, "118.8", "120", "100")])

    assert stored(ledger, BTC) == (1, Decimal("118.8"), Decimal(120), Decimal(100))


def test_a_stop_is_tighter_than_none(ledger: Ledger) -> None:
    ledger.save_marks(levels=[levels(BTC, 1, "99", "100", "100")])

    ledger.save_marks(levels=[levels(BTC, 1, None, "100", "100")])

    assert stored(ledger, BTC)[1] == Decimal(99)


def test_the_row_of_an_earlier_cycle_is_replaced_and_a_closed_cycle_is_not_written(ledger: Ledger) -> None:
    ledger.save_marks(levels=[levels(BTC, 1, "118.8", "120", "100")])
    ledger.record(fill_fields(symbol=BTC, side="sell", quantity="1", price="119"))  # closes the cycle of seq 1
    ledger.record(fill_fields(symbol=BTC, side="buy", quantity="1", price="80"))  # opens one at seq 4

    ledger.save_marks(levels=[levels(BTC, 4, "79.2", "80", "80")])
    late = ledger.save_marks(levels=[levels(BTC, 1, "125", "126", "100")])  # a writer still on cycle 1

    assert stored(ledger, BTC) == (4, Decimal("79.2"), Decimal(80), Decimal(80))
    assert late == {}


def test_a_writer_that_has_not_seen_a_rollback_writes_no_level_onto_a_cycle_that_reuses_the_seq(
    ledger: Ledger,
) -> None:
    ledger.rollback(to_seq=1, reason="undo the ETH short", actor="ops")  # epoch 2
    ledger.record(fill_fields(symbol=ETH, side="buy", quantity="1", price="50"))  # a long, opened at seq 2 again

    skipped = ledger.save_marks(levels=[levels(ETH, 2, "90.9", "100", "90")], seen_epoch=1)  # the old short's
    kept = ledger.save_marks(levels=[levels(BTC, 1, "118.8", "120", "100")], seen_epoch=1)  # survived the rollback
    ledger.save_marks(levels=[levels(ETH, 2, "49.5", "50", "50")], seen_epoch=2)

    assert skipped == {}
    assert list(kept) == [("default", BTC)]
    assert stored(ledger, ETH) == (2, Decimal("49.5"), Decimal(50), Decimal(50))


def test_on_sqlite_a_level_write_commits_at_synchronous_normal_and_the_next_append_at_full_again(
    tmp_path: Path,
) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'levels.db'}") as opened:  # appends: synchronous=FULL (2)
        opened.record(fill_fields(symbol=BTC, side="buy", quantity="1", price="100"))
        store: Any = opened._store  # the pragma is a property of the store's write connection
        writer = store._writer().connection.dbapi_connection

        opened.save_marks(levels=[levels(BTC, 1, "99", "100", "100")])
        after_levels = writer.execute("PRAGMA synchronous").fetchone()[0]
        opened.record(fill_fields(symbol=ETH, side="buy", quantity="1", price="100"))
        after_append = writer.execute("PRAGMA synchronous").fetchone()[0]

    assert (after_levels, after_append) == (1, 2)  # NORMAL for the level row, FULL for the fill
