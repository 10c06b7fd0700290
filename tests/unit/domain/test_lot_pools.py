"""How a pool finds the lot a match takes (spec section 11): hifo's highest unit cost, the earlier lot on a
tie, and the lots a specific disposal names, found without reading every open lot at each match.

The work is counted, never timed: the lots here count each read of their unit cost and seq.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradeledger.domain import lot_pools, lots
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_pools import Lot, Pool
from tradeledger.domain.lot_terms import Method, MethodPlan
from tradeledger.domain.lots import LotBook

D = Decimal
N = 1000  # lots open at once


READS = {"unit": 0, "seq": 0}  # the reads of each counted attribute of every CountedLot, reset by a test


def counted(name: str) -> Any:
    """An attribute of a lot kept as `_name`, each read of which is counted in READS."""

    def read(lot: Lot) -> object:
        READS[name] += 1
        return getattr(lot, f"_{name}")

    def write(lot: Lot, value: object) -> None:
        setattr(lot, f"_{name}", value)

    return property(read, write)


class CountedLot(Lot):
    """A lot that counts the reads of its unit cost and its seq (what finding a lot examines)."""

    __slots__ = ("_seq", "_unit")
    unit = counted("unit")
    seq = counted("seq")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The reads of every lot opened from here on (by LotBook's inline path and by Pool.add)."""
    monkeypatch.setattr(lots, "Lot", CountedLot)
    monkeypatch.setattr(lot_pools, "Lot", CountedLot)
    return READS


def row(seq: int, side: str, price: str, quantity: str = "1", day: str = "2025-01-01") -> ExecutionRow:
    """A spot fill of HOOL/USD without fees as the log stores it."""
    at = f"{day}T{seq // 3600:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}.000000+00:00"  # in seq order on the day
    return (seq, "a", "x", "HOOL/USD", side, quantity, price, None, at, "fill", "[]", None, None)


def test_hifo_takes_the_earlier_lot_of_two_at_the_same_unit_cost_however_the_cost_is_written() -> None:
    rows = [row(1, "buy", "10.00"), row(2, "buy", "12"), row(3, "buy", "10"), row(4, "buy", "12.0")]
    rows += [row(seq, "sell", "20") for seq in range(5, 9)]
    book = LotBook(MethodPlan.single(Method.HIFO))

    book.apply_rows(rows)

    assert [(r.acquired_seq, r.cost_basis) for r in book.rows] == [
        (2, D(12)),
        (4, D("12.0")),
        (1, D("10.00")),
        (3, D(10)),
    ]


def test_hifo_after_fifo_and_lifo_years_takes_the_highest_of_the_lots_they_left() -> None:
    buys = [row(seq, "buy", price, day="2023-01-01") for seq, price in enumerate(["30", "50", "10", "40", "20"], 1)]
    hifo = [row(6, "sell", "60", day="2023-06-01")]  # 2023 hifo: lot 2 (50)
    fifo = [row(7, "sell", "60", day="2024-06-01")]  # 2024 fifo: lot 1 (30)
    # 2025 lifo: lot 5 (20), then lot 4 (40); lot 10 (35) is listed where lot 5 was.
    lifo = [row(seq, "sell", "60", day="2025-06-01") for seq in (8, 9)] + [row(10, "buy", "35", day="2025-07-01")]
    rest = [row(seq, "sell", "60", day="2026-06-01") for seq in (11, 12)]  # 2026 hifo: lot 10 (35), lot 3 (10)
    book = LotBook(MethodPlan.parse(["hifo", "2024=fifo", "2025=lifo", "2026=hifo"]))

    book.apply_rows([*buys, *hifo, *fifo, *lifo, *rest])

    assert [(r.disposed_seq, r.acquired_seq) for r in book.rows] == [
        (6, 2),
        (7, 1),
        (8, 5),
        (9, 4),
        (11, 10),
        (12, 3),
    ]
    assert book.open_lots() == []


def test_hifo_after_an_average_year_takes_the_lots_at_the_average_they_carry() -> None:
    buys = [row(seq, "buy", price, day="2023-01-01") for seq, price in enumerate(["100", "300", "200"], 1)]
    hifo = [row(4, "sell", "400", day="2023-06-01")]  # 2023 hifo: lot 2 (300)
    # 2024 average: costs 150 (lots 1 and 3), consumes lot 1; lot 3 is left at 150, below lot 6 bought at 160.
    average = [row(5, "sell", "400", day="2024-06-01"), row(6, "buy", "160", day="2024-07-01")]
    rest = [row(seq, "sell", "400", day="2025-06-01") for seq in (7, 8)]  # 2025 hifo: lot 6 (160), lot 3 (150)
    book = LotBook(MethodPlan.parse(["hifo", "2024=average", "2025=hifo"]))

    book.apply_rows([*buys, *hifo, *average, *rest])

    assert [(r.disposed_seq, r.acquired_seq, r.cost_basis) for r in book.rows] == [
        (4, 2, D(300)),
        (5, 1, D(150)),
        (7, 6, D(160)),
        (8, 3, D(150)),
    ]


@pytest.mark.parametrize(("rebate", "taken"), [("100", [2, 1]), ("-40", [1, 2])])
def test_a_lot_whose_unit_cost_changes_after_hifo_listed_it_is_taken_at_its_new_cost(
    rebate: str, taken: list[int]
) -> None:
    # Lot 1 at 40, lot 2 at 50; hifo takes 0.5 of lot 2, then lot 2 is added to (a base rebate of its fill):
    # 1.5 at 50 + 1 for 100 is 175/2.5 = 70 a unit, 1.5 at 50 + 1 for -40 is 35/2.5 = 14.
    pool = Pool()
    pool.add(1, 1, "2025-01-01T00:00:00+00:00", D(1), D(40))
    pool.add(1, 2, "2025-01-02T00:00:00+00:00", D(2), D(100))
    pool.take(D("0.5"), Method.HIFO, None, 3)

    pool.add(1, 2, "2025-01-02T00:00:00+00:00", D(1), D(rebate))

    assert [lot.seq for lot, _, _ in pool.take(D("3.5"), Method.HIFO, None, 4)] == taken


def test_hifo_reads_a_few_unit_costs_per_match_not_every_open_lots(reads: dict[str, int]) -> None:
    prices = [1000 + seq * 7919 % N for seq in range(1, N + 1)]  # each of 1000..1999 once, in no order
    book = LotBook(MethodPlan.single(Method.HIFO))
    book.apply_rows(row(seq, "buy", str(price)) for seq, price in enumerate(prices, 1))
    reads["unit"] = 0

    book.apply_rows(row(N + seq, "sell", "3000") for seq in range(1, N + 1))

    assert [r.acquired_seq for r in book.rows] == sorted(range(1, N + 1), key=lambda seq: -prices[seq - 1])
    # A heap of the N lots (N reads), then about one read for each match (2,000 in all); a scan of the lots
    # open at each match reads two for each lot it passes (999,000).
    assert reads["unit"] <= 3 * N


def test_a_specific_disposal_finds_the_lots_it_names_without_reading_every_open_lots_seq(
    reads: dict[str, int],
) -> None:
    book = LotBook(MethodPlan.single(Method.SPECIFIC))
    book.apply_rows(row(seq, "buy", "100") for seq in range(1, N + 1))
    reads["seq"] = 0
    sells = [row(N + seq, "sell", "200") for seq in range(1, N + 1)]
    named = {N + seq: {"lots": [{"seq": N + 1 - seq, "quantity": "1"}]} for seq in range(1, N + 1)}  # newest first

    book.apply_rows(sells, named)

    assert [r.acquired_seq for r in book.rows] == list(range(N, 0, -1))
    # A binary search of the lots for each (about 10 reads for 1000 lots) and the row's (11,978 in all); a
    # scan from the oldest lot open reads 1000 + 999 + ... + 1 and the rows' (501,500).
    assert reads["seq"] <= 20 * N
