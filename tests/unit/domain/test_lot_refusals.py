"""LotBook's refusals (spec section 11): a fill the book refuses leaves it as a fold of the rows before it (its
rows, missing acquisitions, years, open lots, positions and `last_seq`), so a caller that catches the error
and folds on from there gets what a fresh fold of the rows it kept gives."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from tests.unit.domain.test_lots import fill, stored_rows
from tradeledger.domain.fills import Fill
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_terms import MethodPlan
from tradeledger.domain.lots import LotBook
from tradeledger.errors import InvalidArgument, InvalidFill


def naming(*lots: tuple[int, str]) -> dict[str, Any]:
    """The metadata of a specific disposal naming `lots` as (seq, quantity)."""
    return {"lots": [{"seq": seq, "quantity": quantity} for seq, quantity in lots]}


def rows_of(events: Sequence[Fill]) -> tuple[list[ExecutionRow], dict[int, Any]]:
    """The stored rows of `events` recorded at seq 1, 2, …, and the metadata of those that name lots."""
    rows, metadata, _ = stored_rows(events)
    return rows, metadata


def state(book: LotBook) -> tuple[Any, ...]:
    return (book.rows, book.missing, book.years, book.last_seq, book.open_lots(), book.positions())


def fresh(plan: list[str], rows: list[ExecutionRow], metadata: dict[int, Any]) -> LotBook:
    book = LotBook(MethodPlan.parse(plan))
    book.apply_rows(rows, metadata)
    return book


def assert_refused_as_if_never_folded(
    plan: list[str], kept: Sequence[Fill], refused: Fill, then: Fill, message: str
) -> None:
    """Fold `kept`, have `refused` refused (naming `message`), and compare with a fold of `kept` alone; the
    book then folds `then` as a fold of `kept` and `then` does."""
    rows, metadata = rows_of([*kept, refused])
    book = fresh(plan, rows[:-1], metadata)

    with pytest.raises(InvalidArgument, match=message):
        book.apply_rows(rows[-1:], metadata)

    assert state(book) == state(fresh(plan, rows[:-1], metadata))
    after, after_metadata = rows_of([*kept, then])
    book.apply_rows(after[-1:], after_metadata)
    assert state(book) == state(fresh(plan, after, after_metadata))


def test_a_refused_fill_is_not_the_last_row_folded() -> None:
    # The cycle is closed: the sell naming lot 1 has no long lot to match; the refusal moves no lot.
    kept = [fill("buy", "1", "100", "2024-01-01"), fill("sell", "1", "110", "2024-01-02")]
    refused = fill("sell", "1", "120", "2024-01-03", metadata=naming((1, "1")))
    then = fill("buy", "2", "130", "2024-01-04")

    assert_refused_as_if_never_folded(
        ["specific"], kept, refused, then, r"seq 3: metadata\.lots: names lots, but default holds no long lots"
    )


@pytest.mark.parametrize(
    ("plan", "kept", "refused", "message"),
    [
        pytest.param(
            ["specific"],
            [fill("buy", "1", "100", "2024-01-01"), fill("buy", "1", "200", "2024-01-02")],
            # Lot 1 is open, lot 3 is no lot: the first pick must not be cut when the second is refused.
            fill("sell", "1.5", "300", "2024-02-01", metadata=naming((1, "1"), (3, "0.5"))),
            r"seq 3: metadata\.lots: lot 3 has 0 open",
            id="a-later-lot-named-is-not-open",
        ),
        pytest.param(
            ["average", "2024=specific"],
            # After the average sale the two lots left share a basis of 700 - 700/3 = 466.6666666666666666666666667:
            # each at 233.3333333333333333333333334. Shared out, the last would take 233.3333333333333333333333333.
            [
                fill("buy", "1", "100", "2023-01-01"),
                fill("buy", "1", "200", "2023-01-02"),
                fill("buy", "1", "400", "2023-01-03"),
                fill("sell", "1", "500", "2023-02-01"),
            ],
            fill("sell", "1", "500", "2024-02-01", metadata=naming((9, "1"))),
            r"seq 5: metadata\.lots: lot 9 has 0 open",
            id="the-pooled-lots-are-not-shared-out",
        ),
    ],
)
def test_a_specific_disposal_refused_leaves_every_lot_as_it_was(
    plan: list[str], kept: list[Fill], refused: Fill, message: str
) -> None:
    then = fill("buy", "1", "150", "2024-03-01")

    assert_refused_as_if_never_folded(plan, kept, refused, then, message)


def test_a_refused_first_fill_of_a_symbol_leaves_no_position_of_it() -> None:
    kept = [fill("buy", "1", "100", "2024-01-01")]
    refused = fill("sell", "1", "120", "2024-01-03", symbol="ZZZ/USD", metadata=naming((1, "1")))
    then = fill("buy", "1", "130", "2024-01-04")

    assert_refused_as_if_never_folded(
        ["specific"],
        kept,
        refused,
        then,
        r"seq 2: metadata\.lots: names lots, but default holds no long lots of ZZZ/USD",
    )


def test_an_error_from_the_rows_after_a_new_symbols_first_fill_keeps_that_fill_folded() -> None:
    rows, metadata = rows_of([fill("buy", "1", "100", "2024-01-01", symbol="ZZZ/USD")])

    def failing() -> Any:
        yield from rows
        raise InvalidArgument("the log could not be read")  # as a store's reader may, between rows

    book = LotBook(MethodPlan.parse(["fifo"]))
    with pytest.raises(InvalidArgument, match="could not be read"):
        book.apply_rows(failing(), metadata)

    assert state(book) == state(fresh(["fifo"], rows, metadata))
    assert book.positions() == {("default", "ZZZ", "USD"): 1}


def test_a_base_fee_more_than_the_size_held_is_refused_in_the_same_words_by_the_lots_and_the_positions() -> None:
    # 0.5 bought with a fee of 0.5 of it leaves nothing held; 1 bought with a fee of 3 of it is refused.
    events = [
        fill("buy", "0.5", "1.00", "2024-01-01", symbol="BTC/USD", fees=[{"amount": "0.5", "currency": "BTC"}]),
        fill("buy", "1", "1.00", "2024-01-02", symbol="BTC/USD", fees=[{"amount": "3", "currency": "BTC"}]),
    ]
    rows, metadata = rows_of(events)
    positions, book = PositionFold(), LotBook(MethodPlan.parse(["fifo"]))
    positions.apply_rows(rows[:1])
    book.apply_rows(rows[:1], metadata)
    message = (
        "seq 2: fees[0].amount: a fee of 3 BTC is more than the 1 BTC the fill leaves held on the spot market "
        "BTC/USD; it would turn the position short"
    )

    with pytest.raises(InvalidFill) as by_positions:
        positions.apply_rows(rows[1:])
    with pytest.raises(InvalidFill) as by_lots:
        book.apply_rows(rows[1:], metadata)

    assert f"seq 2: {by_positions.value}" == message
    assert str(by_lots.value) == message


def test_a_disposal_whose_parts_pass_through_a_total_of_more_digits_than_the_ledger_keeps_is_matched() -> None:
    # Hypothesis found it (tests/property/test_lots_properties.py). After the fourth fill the pool holds
    # 0.499999999 + 2.000000001 + 100000000000000000000.5 = 100000000000000000003 (the positions' size, exact);
    # the last buy opens 0.5 and its base fee of 0.5 takes, first in, first out, 0.499999999 of lot 2 and
    # 0.000000001 of lot 3. Between those two parts the pool would hold 100000000000000000003.000000001
    # (30 digits), but the size after the fill, 100000000000000000003, is exact: the positions fold it.
    events = [
        fill("sell", "0.000000001", "1", "2026-01-05"),
        fill("buy", "0.5", "1", "2026-01-05"),  # covers the short lot, opens 0.499999999
        fill("buy", "0.000000001", "1", "2026-01-05", fees=[{"amount": "-2", "currency": "HOOL"}]),  # 2.000000001
        fill("buy", "0.5", "1", "2026-01-05", fees=[{"amount": "-100000000000000000000", "currency": "HOOL"}]),
        fill("buy", "0.5", "1", "2026-01-05", fees=[{"amount": "0.5", "currency": "HOOL"}]),
    ]
    rows, metadata = rows_of(events)
    positions = PositionFold()
    positions.apply_rows(rows)

    book = fresh(["fifo"], rows, metadata)

    assert [(lot.acquired_seq, str(lot.quantity)) for lot in book.open_lots()] == [
        (3, "2.000000000"),
        (4, "100000000000000000000.5"),
        (5, "0.5"),
    ]
    assert sum(lot.quantity for lot in book.open_lots()) == Decimal(100000000000000000003)
    ((position, _),) = positions.positions().values()
    assert position is not None
    assert position.quantity == Decimal(100000000000000000003)
    assert book.positions() == {("default", "HOOL", "USD"): Decimal(100000000000000000003)}


def test_a_fifo_sale_through_lots_finer_than_the_pool_total_keeps_the_total_exact() -> None:
    # Three small lots (149, 140 and 111 units of 1E-9), then 1E+20: the size 100000000000000000000.0000004 has 28
    # digits. A sale of 0.0000003 takes the first two lots and 0.000000011 of the third; the pool's total between
    # those parts (1E+20 + 0.000000251, + 0.000000111) has 30 digits. Rounded at each part, the total drifted to
    # 1E+20 + 0.0000002 while the lots held 1E+20 + 0.0000001, and the sale of everything then ran out of lots.
    events = [
        fill("buy", "0.000000149", "1", "2026-01-05"),
        fill("buy", "0.00000014", "1", "2026-01-05"),
        fill("buy", "0.000000111", "1", "2026-01-05"),
        fill("buy", "100000000000000000000", "1", "2026-01-05"),
        fill("sell", "0.0000003", "2", "2026-01-06"),
        fill("sell", "100000000000000000000.0000001", "2", "2026-01-07"),
    ]
    rows, metadata = rows_of(events)

    book = fresh(["fifo"], rows[:5], metadata)

    assert book.positions() == {("default", "HOOL", "USD"): Decimal("100000000000000000000.0000001")}
    book.apply_rows(rows[5:], metadata)
    assert [(row.acquired_seq, row.quantity, row.disposed_seq) for row in book.rows] == [
        (1, Decimal("0.000000149"), 5),
        (2, Decimal("0.00000014"), 5),
        (3, Decimal("0.000000011"), 5),
        (3, Decimal("0.0000001"), 6),
        (4, Decimal(100000000000000000000), 6),
    ]
    assert (book.missing, book.open_lots()) == ([], [])
