"""The folds refuse the same fills the same way: `PositionFold` (the engine, through `apply` and its rows' hot
loop) and `ReferenceFold` (what `verify` and the property tests compare it with) raise the same InvalidFill,
naming the same field, for a size that would round (spec section 4) and for a base fee (section 9); the tax
lots' `LotBook` refuses a spot fill's base fee as they do (naming its seq), and is left as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.factories import T0
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import Fill
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_order import log_order_refusal
from tradeledger.domain.lot_terms import MethodPlan
from tradeledger.domain.lots import LotBook
from tradeledger.domain.positions import accounting_of
from tradeledger.domain.records import StoredEvent
from tradeledger.domain.reference import ReferenceFold
from tradeledger.errors import InvalidFill


def fill(seq: int, side: str, quantity: str, price: str, *fees: tuple[str, str], symbol: str = "BTC/USD") -> Fill:
    return Fill(
        fill_id=f"F-{seq}",
        exchange="binance",
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        fees=[{"amount": amount, "currency": currency} for amount, currency in fees],
        occurred_at=T0 + timedelta(seconds=seq),
    )


def refusal(fold: Callable[[], Any]) -> str:
    with pytest.raises(InvalidFill) as refused:
        fold()
    return str(refused.value)


def by_positions(fills: list[Fill]) -> str:
    engine = PositionFold()
    return refusal(lambda: [engine.apply(accounting_of(seq, f)) for seq, f in enumerate(fills, start=1)])


def rows_of(fills: list[Fill]) -> list[ExecutionRow]:
    return [
        StoredEvent.seal(
            f.canonical(), seq=seq, epoch=1, recorded_at=T0.isoformat(), prev_hash=GENESIS_HASH
        ).execution_row()
        for seq, f in enumerate(fills, start=1)
    ]


def by_rows(fills: list[Fill]) -> str:
    return refusal(lambda: PositionFold().apply_rows(rows_of(fills)))


def by_reference(fills: list[Fill]) -> str:
    book = ReferenceFold()
    return refusal(lambda: [book.apply(accounting_of(seq, f)) for seq, f in enumerate(fills, start=1)])


SIZES = [
    pytest.param(
        [fill(1, "buy", "100000000000000000000", "100"), fill(2, "buy", "0.000000001", "100")],
        "quantity: 100000000000000000000 + 0.000000001 needs more than 28 significant digits",
        id="a-buy-whose-size-would-round",
    ),
    pytest.param(
        [
            fill(1, "buy", "100000000000000000000", "100"),
            fill(2, "sell", "99999999999999999999.9999999", "100"),
            fill(3, "buy", "0.00000001", "200"),
        ],
        "quantity: 100000000000000000000 + 0.00000001 needs more than 28 significant digits",
        id="a-buy-whose-cycle-entered-total-would-round",
    ),
    pytest.param(
        [fill(1, "buy", "0.00000001", "100"), fill(2, "sell", "1000000000000000000000", "110")],
        "quantity: 1000000000000000000000 - 0.00000001 needs more than 28 significant digits",
        id="a-flip-whose-opening-part-would-round",
    ),
    pytest.param(
        [fill(1, "sell", "2", "100"), fill(2, "buy", "2.000000001", "100", ("-100000000000000000000", "BTC"))],
        "quantity: 0.000000001 + 100000000000000000000 needs more than 28 significant digits",
        id="a-base-rebate-whose-disposal-would-round",
    ),
]


@pytest.mark.parametrize(("fills", "expected"), SIZES)
def test_the_folds_refuse_a_size_that_would_round_alike(fills: list[Fill], expected: str) -> None:
    assert by_positions(fills).startswith(expected)
    assert by_rows(fills) == by_reference(fills) == by_positions(fills)


SPOT_BASE_FEES = [
    pytest.param(
        [fill(1, "buy", "1", "100", ("1.5", "BTC"))],
        "fees[0].amount: a fee of 1.5 BTC is more than the 1 BTC the fill leaves held on the spot market BTC/USD",
        id="a-base-fee-beyond-the-first-buy-of-a-symbol",
    ),
    pytest.param(
        [fill(1, "buy", "1", "100"), fill(2, "sell", "1", "100", ("0.5", "BTC"))],
        "fees[0].amount: a fee of 0.5 BTC is more than the 0 BTC the fill leaves held on the spot market BTC/USD",
        id="a-base-fee-on-the-flat-spot-position-its-fill-leaves",
    ),
    pytest.param(
        [fill(1, "buy", "1", "100"), fill(2, "sell", "0.5", "100", ("1", "USD"), ("0.6", "BTC"))],
        "fees[1].amount: a fee of 0.6 BTC is more than the 0.5 BTC the fill leaves held on the spot market BTC/USD",
        id="a-base-fee-beyond-the-spot-long-left-named-by-its-place",
    ),
    pytest.param(
        [fill(1, "buy", "1", "100"), fill(2, "sell", "2", "100", ("-1", "BTC"))],
        "fees[0].amount: a fee of -1 BTC would close the cycle the same fill opened on BTC/USD",
        id="a-base-rebate-closing-the-cycle-its-flip-opened",
    ),
    pytest.param(
        # The rebate's disposal would also open a long that rounds (1E+21 - 1E-10): the fee is what is refused.
        [fill(1, "buy", "1", "100"), fill(2, "sell", "1.0000000001", "100", ("-1000000000000000000000", "BTC"))],
        "fees[0].amount: a fee of -1000000000000000000000 BTC would close the cycle the same fill opened",
        id="a-base-rebate-closing-the-flip-cycle-whose-disposal-would-also-round",
    ),
]
BASE_FEES = [
    *SPOT_BASE_FEES,
    pytest.param(
        [
            fill(1, "buy", "1", "100", symbol="BTC/USDT:USDT"),
            fill(2, "sell", "3", "100", ("-2.5", "BTC"), symbol="BTC/USDT:USDT"),
        ],
        "fees[0].amount: a fee of -2.5 BTC would close the cycle the same fill opened on BTC/USDT:USDT",
        id="a-base-rebate-flipping-the-contract-cycle-its-flip-opened",
    ),
]


@pytest.mark.parametrize(("fills", "expected"), BASE_FEES)
def test_the_reference_refuses_a_base_fee_as_the_positions_do(fills: list[Fill], expected: str) -> None:
    assert by_positions(fills).startswith(expected)
    assert by_reference(fills) == by_positions(fills)


def lots(book: LotBook) -> tuple[Any, ...]:
    return (book.rows, book.missing, book.years, book.last_seq, book.open_lots(), book.positions())


@pytest.mark.parametrize(("fills", "expected"), SPOT_BASE_FEES)
def test_the_lots_refuse_a_spot_base_fee_as_the_positions_do_and_are_left_as_they_were(
    fills: list[Fill], expected: str
) -> None:
    rows = rows_of(fills)
    book = LotBook(MethodPlan.parse(["fifo"]))
    book.apply_rows(rows[:-1])

    refused = refusal(lambda: book.apply_rows(rows[-1:]))

    assert refused == f"seq {len(fills)}: {by_rows(fills)}"  # the fee by its place in the stored row, as the rows
    assert expected.partition(".amount: ")[2] in refused
    kept = LotBook(MethodPlan.parse(["fifo"]))
    kept.apply_rows(rows[:-1])
    assert lots(book) == lots(kept)


@pytest.mark.parametrize(("fills", "expected"), SIZES)
def test_the_lots_refuse_a_size_that_would_round_as_the_positions_do_and_are_left_as_they_were(
    fills: list[Fill], expected: str
) -> None:
    rows = rows_of(fills)
    book = LotBook(MethodPlan.parse(["fifo"]))
    book.apply_rows(rows[:-1])

    refused = refusal(lambda: book.apply_rows(rows[-1:]))

    assert refused == f"seq {len(fills)}: {by_rows(fills)}"
    assert expected in refused
    kept = LotBook(MethodPlan.parse(["fifo"]))
    kept.apply_rows(rows[:-1])
    assert lots(book) == lots(kept)


def test_the_lots_and_the_positions_write_a_size_they_refuse_by_its_value_not_by_how_each_holds_it() -> None:
    # Found by Hypothesis: after a base fee and a base rebate the positions hold the size 10**20 as
    # 100000000000000000000 and the lots as 100000000000000000000.0000000; a refusal wrote each its own way.
    fills = [
        fill(1, "sell", "99999999999999999999.9999999", "1", ("0.5", "BTC")),
        fill(2, "buy", "0.5", "1"),
        fill(3, "buy", "99999999999999999999.9999999", "1", ("-100000000000000000000", "BTC")),
        fill(4, "buy", "0.00000001", "1"),
    ]
    rows = rows_of(fills)
    book = LotBook(MethodPlan.parse(["fifo"]))
    book.apply_rows(rows[:-1])

    refused = refusal(lambda: book.apply_rows(rows[-1:]))

    assert refused == f"seq 4: {by_rows(fills)}"
    assert by_rows(fills).startswith("quantity: 100000000000000000000 + 0.00000001 needs more than 28 significant")


@pytest.mark.parametrize(("fills", "expected"), [*SPOT_BASE_FEES, *SIZES])
def test_the_log_order_check_after_a_fold_in_time_order_refuses_as_the_positions_do(
    fills: list[Fill], expected: str
) -> None:
    found = log_order_refusal(rows_of(fills))

    assert found == (len(fills), by_rows(fills))
    assert expected.partition(": ")[2] in found[1]


def test_the_log_order_check_passes_what_the_positions_fold() -> None:
    fills = [
        fill(1, "buy", "1", "100", ("0.5", "BTC")),  # 0.5 held
        fill(2, "sell", "0.25", "100", ("0.25", "BTC"), ("0.5", "USD")),  # flat
        fill(3, "sell", "1", "100", symbol="BTC/USDT:USDT"),  # a contract: no lots
    ]

    assert log_order_refusal(rows_of(fills)) is None
    PositionFold().apply_rows(rows_of(fills))
