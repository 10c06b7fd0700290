"""Numeric anchors of reference/accounting-anchors.md section 6 (groups A, B, D) against spec section 4.

How the reference's conventions map onto ours:

* NautilusTrader (groups A and B): its `realized` charges every fee of the cycle, opening fills
  included, so it equals our `net_pnl` (gross `realized_pnl` minus `fees`) for the same cycle. Its
  `commissions` are our `fees`.
* NautilusTrader rounds Money to the currency's precision (USD 2 dp, USDT 8 dp) and does position
  maths in f64. Where the reference value is exact we compare exactly; otherwise we quantize our
  exact Decimal result (and the reference value) to the quantum written in the case.
* freqtrade (group D): with fee 0 its realized profit is our gross realized. With a fee rate it books
  the opening fee pro rata on each exit, so only the final net after a full close is comparable; the
  absolute fees are computed from the rate and written out in the legs.
* Expected values are copied from the reference, never recomputed with the code's formula. Values
  marked "derived" are the reference's own derived numbers.

Cases that do not fit (A16, group C, B4's zero-quantity leg, Nautilus realized_return, avg_close,
notional, freqtrade ratios) are listed in docs/accounting-cases.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import BOOKS, T0, EngineBook, execution, executions
from tradeledger.domain.fills import Side
from tradeledger.domain.positions import ClosedPosition, Position, PositionSide
from tradeledger.domain.reference import ReferenceFold

LONG = PositionSide.LONG
new_book: Callable[[], EngineBook | ReferenceFold] = ReferenceFold


@pytest.fixture(autouse=True, params=sorted(BOOKS))
def each_fold(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case runs on the engine and on the reference fold."""
    monkeypatch.setattr(f"{__name__}.new_book", BOOKS[request.param])


SHORT = PositionSide.SHORT

USD = "0.01"  # NautilusTrader Money precision for USD
USDT = "0.00000001"  # NautilusTrader Money precision for USDT (8 dp)
F64_PRICE = "0.0000000001"  # NautilusTrader's avg_px_open is an f64: compare 1E-10 (15+ digits)

Leg = tuple[str, str, str, str]  # (side, quantity, price, fee in quote currency)


def buy(quantity: str, price: str, fee: str = "0") -> Leg:
    return ("buy", quantity, price, fee)


def sell(quantity: str, price: str, fee: str = "0") -> Leg:
    return ("sell", quantity, price, fee)


def fold(legs: Sequence[Leg], symbol: str = "BTC/USD") -> EngineBook | ReferenceFold:
    return new_book().apply_all(executions(*legs, symbol=symbol))


def at_quantum(value: Decimal, quantum: str | None) -> Decimal:
    """A value rounded to the reference's stated quantum; None when the reference value is exact."""
    return value if quantum is None else value.quantize(Decimal(quantum))


def key(symbol: str) -> tuple[str, str]:
    return ("default", symbol)


# --- fills of the anchor cases, as the reference lists them ---------------------------------

LEGS: dict[str, tuple[Leg, ...]] = {
    "A1": (buy("100000", "1.00001", "2.00"),),
    "A2": (sell("100000", "1.00001", "2.00"),),
    "A3": (buy("50000", "1.00001", "2.00"),),
    "A4": (sell("50000", "1.00001", "2"), sell("50000", "1.00002", "2")),
    "A5": (buy("150000", "1.00001", "2"), sell("150000", "1.00011", "0")),
    "A6": (
        sell("100000", "1.0", "2"),
        buy("50000", "1.00001", "2"),
        buy("50000", "1.00003", "2"),
    ),
    "A7": (buy("100000", "1.0", "2"), sell("100000", "1.0", "2")),
    "A8": (
        buy("100000", "1.0", "2"),
        buy("100000", "1.00001", "2"),
        sell("200000", "1.0001", "2"),
    ),
    # A9: fees are 0.0001 x notional, written out as the reference lists them.
    "A9": (
        buy("12", "100", "0.12"),
        buy("17", "99", "0.1683"),
        sell("9", "101", "0.0909"),
        sell("4", "105", "0.042"),
        buy("3", "103", "0.0309"),
    ),
    "A10": (
        buy("150000", "1.00001", "3.00"),
        sell("150000", "1.00011", "0"),
        buy("150000", "1.00012", "0"),
    ),
    # A11: fees are 0.001 x notional, written out as the reference lists them.
    "A11": (
        buy("12", "10000", "120"),
        buy("17", "9999", "169.983"),
        sell("9", "10001", "90.009"),
        buy("3", "10003", "30.009"),
        sell("4", "10005", "40.02"),
    ),
    "A12": (buy("12", "10500", "126"),),
    "A13a": (sell("10.15", "10500", "106.575"),),
    "A13b": (sell("10", "10500", "105"),),
    "A14": (buy("2", "10500", "21"), buy("2", "10500", "21")),
    "A15": (sell("5.912", "10505.60", "62.1091072"),),
    "A17": (
        buy("100000", "0.70000", "1.40"),
        sell("100000", "0.70010", "1.40"),
        buy("150000", "0.70020", "2.10"),
        sell("150000", "0.70015", "2.10"),
        sell("200000", "0.70025", "2.80"),
        buy("200000", "0.70017", "2.80"),
    ),
    "A18": (buy("100", "50"), sell("100", "55"), sell("50", "54"), buy("50", "52")),
    # B1: the flip already split into two fills, as the Nautilus test stub feeds them.
    "B1": (
        buy("100000", "0.75000", "1.50"),
        sell("100000", "0.75020", "2.25"),
        sell("50000", "0.75020", "2.25"),
        buy("50000", "0.75030", "0.75"),
    ),
    "B2": (buy("100", "1.00"), sell("50", "2.00"), sell("100", "3.00")),
    "B3": (buy("50", "1"), sell("100", "2"), buy("100", "3")),
    "B4a": (buy("100", "1.0"), buy("200", "0.5")),
    # B4b: the upstream "L 0 @ 99" leg is left out: our fills require quantity > 0 and the
    # ledger refuses it (docs/accounting-cases.md); the remaining legs are the fold's input.
    "B4b": (buy("100", "1.0"), buy("50", "2.0")),
    "B5a": (buy("300", "0.80"), sell("100", "1.00")),
    "B5b": (buy("100", "1"), sell("100", "2")),
    "B5c": (buy("100", "1"), sell("100", "1.5"), buy("50", "3")),
    "B7a": (buy("10", "100"), sell("15", "102")),
    "B7b": (sell("10", "100"), buy("15", "102")),
    "B7c": (buy("10", "100"), sell("15", "105"), buy("10", "110")),
    "B8": (buy("100000", "0.75000", "1.50"), sell("150000", "0.75020", "3.00")),
    "D1": (
        buy("100", "10"),
        buy("100", "15"),
        sell("50", "12"),
        sell("100", "20"),
        sell("50", "5"),
    ),
    # D2: D1's orders with fee rate 0.0025, as absolute fees: 0.0025 x quantity x price.
    "D2": (
        buy("100", "10", "2.5"),
        buy("100", "15", "3.75"),
        sell("50", "12", "1.5"),
        sell("100", "20", "5"),
        sell("50", "5", "0.625"),
    ),
    # D3: D4's orders with fee rate 0.0025, as absolute fees: 0.0025 x quantity x price.
    "D3": (
        buy("100", "3", "0.75"),
        buy("100", "7", "1.75"),
        sell("100", "11", "2.75"),
        buy("150", "15", "5.625"),
        sell("100", "19", "4.75"),
        sell("150", "23", "8.625"),
    ),
    "D4": (
        buy("100", "3"),
        buy("100", "7"),
        sell("100", "11"),
        buy("150", "15"),
        sell("100", "19"),
        sell("150", "23"),
    ),
    "D5": (
        buy("100", "8"),
        buy("100", "9"),
        sell("100", "10"),
        buy("150", "11"),
        sell("100", "12"),
        sell("150", "14"),
    ),
    # D6: fee rate 0.0025 on each entry: 0.25, 0.28125, 0.31875.
    "D6": (buy("100", "1.00", "0.25"), buy("125", "0.90", "0.28125"), buy("150", "0.85", "0.31875")),
    # D7: fee_open 0.0025 on 30 x 2.0 = 60.
    "D7": (buy("30", "2.0", "0.15"),),
}

SYMBOLS = {
    "A9": "ETH/USDT",
    "A11": "BTC/USDT",
    "A12": "BTC/USDT",
    "A13a": "BTC/USDT",
    "A13b": "BTC/USDT",
    "A14": "BTC/USDT",
    "A15": "BTC/USDT",
    "D1": "ETH/USDT",
    "D2": "ETH/USDT",
    "D3": "ETH/USDT",
    "D4": "ETH/USDT",
    "D5": "ETH/USDT",
    "D6": "ADA/USDT",
    "D7": "ADA/USDT",
}


def symbol_of(case_id: str) -> str:
    return SYMBOLS.get(case_id, "AUD/USD")


def book_of(case_id: str) -> EngineBook | ReferenceFold:
    return fold(LEGS[case_id], symbol_of(case_id))


def open_position(case_id: str) -> Position:
    return book_of(case_id).open[key(symbol_of(case_id))]


# --- group A: average cost, realized and unrealized PnL ------------------------------------


@dataclass(frozen=True)
class OpenAnchor:
    """A Nautilus position that is still open after the fills."""

    side: PositionSide
    signed_quantity: str
    avg_open: str
    realized: str  # Nautilus realized_pnl, fees included: our net_pnl
    commissions: str
    money_quantum: str | None = None
    price_quantum: str | None = None


OPEN_ANCHORS = [
    pytest.param("A1", OpenAnchor(LONG, "100000", "1.00001", "-2.00", "2.00"), id="A1"),
    pytest.param("A2", OpenAnchor(SHORT, "-100000", "1.00001", "-2.00", "2.00"), id="A2"),
    pytest.param("A3", OpenAnchor(LONG, "50000", "1.00001", "-2.00", "2.00"), id="A3"),
    pytest.param("A4", OpenAnchor(SHORT, "-100000", "1.000015", "-4.00", "4.00"), id="A4"),
    pytest.param(
        "A9",
        OpenAnchor(LONG, "19", "99.98003629764065", "36.16858966", "0.4521", USDT, F64_PRICE),
        id="A9",
    ),
    pytest.param("A10", OpenAnchor(LONG, "150000", "1.00012", "0.00", "0"), id="A10"),
    pytest.param(
        "A11",
        OpenAnchor(LONG, "19", "9999.88155922039", "-415.27137481", "450.021", USDT, F64_PRICE),
        id="A11",
    ),
    pytest.param("A12", OpenAnchor(LONG, "12", "10500", "-126", "126"), id="A12"),
    pytest.param("A13a", OpenAnchor(SHORT, "-10.15", "10500", "-106.575", "106.575"), id="A13a"),
    pytest.param("A13b", OpenAnchor(SHORT, "-10", "10500", "-105", "105"), id="A13b"),
    pytest.param("A14", OpenAnchor(LONG, "4", "10500", "-42.00000000", "42"), id="A14"),
    pytest.param("A15", OpenAnchor(SHORT, "-5.912", "10505.60", "-62.10910720", "62.1091072"), id="A15"),
]


@pytest.mark.parametrize(("case_id", "anchor"), OPEN_ANCHORS)
def test_open_position_matches_the_nautilus_position(case_id: str, anchor: OpenAnchor) -> None:
    position = open_position(case_id)

    assert position.side is anchor.side
    assert position.signed_quantity == Decimal(anchor.signed_quantity)
    assert at_quantum(position.avg_price, anchor.price_quantum) == at_quantum(
        Decimal(anchor.avg_open), anchor.price_quantum
    )
    assert at_quantum(position.net_pnl, anchor.money_quantum) == Decimal(anchor.realized)
    assert position.fees == Decimal(anchor.commissions)


@pytest.mark.parametrize(
    ("case_id", "mark", "unrealized"),
    [
        pytest.param("A1", "1.0005", "49.00", id="A1"),
        pytest.param("A2", "1.0005", "-49.00", id="A2"),
        pytest.param("A3", "1.00048", "23.50", id="A3"),
        pytest.param("A4", "1.0005", "-48.50", id="A4"),
        pytest.param("A10", "1.0003", "27.00", id="A10"),
        pytest.param("A12", "10510", "120", id="A12-win"),
        pytest.param("A12", "10480.50", "-234", id="A12-loss"),
        pytest.param("A13a", "10390", "1116.50", id="A13a"),
        pytest.param("A13b", "10670.5", "-1705", id="A13b"),
        pytest.param("A14", "11505.60", "4022.40000000", id="A14"),
        pytest.param("A15", "10407.15", "582.03640000", id="A15"),
    ],
)
def test_unrealized_pnl_at_the_mark_matches_nautilus(case_id: str, mark: str, unrealized: str) -> None:
    position = open_position(case_id)

    result = position.unrealized_pnl(Decimal(mark))

    assert result == Decimal(unrealized)


@pytest.mark.parametrize(
    ("case_id", "mark", "total"),
    [
        pytest.param("A1", "1.0005", "47.00", id="A1"),
        pytest.param("A2", "1.0005", "-51.00", id="A2"),
        pytest.param("A3", "1.00048", "21.50", id="A3"),
        pytest.param("A4", "1.0005", "-52.50", id="A4"),
        pytest.param("A12", "10510", "-6", id="A12-win"),
        pytest.param("A12", "10480.50", "-360", id="A12-loss"),
    ],
)
def test_total_pnl_is_the_net_realized_plus_the_unrealized_at_the_mark(case_id: str, mark: str, total: str) -> None:
    position = open_position(case_id)

    result = position.net_pnl + position.unrealized_pnl(Decimal(mark))

    assert result == Decimal(total)


Cycle = tuple[PositionSide, str, str, str, str]  # side, quantity, avg, net (Nautilus realized), fees
Row = tuple[PositionSide, Decimal, Decimal, Decimal, Decimal]  # the same, as Decimals


def cycle_row(closed: ClosedPosition) -> Row:
    return (closed.side, closed.quantity, closed.avg_price, closed.net_pnl, closed.fees)


def expected_rows(cycles: Sequence[Cycle]) -> list[Row]:
    return [
        (side, Decimal(quantity), Decimal(avg), Decimal(net), Decimal(fees))
        for side, quantity, avg, net, fees in cycles
    ]


@pytest.mark.parametrize(
    ("case_id", "cycles"),
    [
        pytest.param("A5", [(LONG, "150000", "1.00001", "13.00", "2")], id="A5"),
        pytest.param("A6", [(SHORT, "100000", "1.0", "-8.00", "6.00")], id="A6"),
        pytest.param("A7", [(LONG, "100000", "1.0", "-4.00", "4")], id="A7"),
        pytest.param("A8", [(LONG, "200000", "1.000005", "13.00", "6.00")], id="A8"),
        pytest.param(
            "A17",
            [
                (LONG, "100000", "0.70000", "7.20", "2.80"),
                (LONG, "150000", "0.70020", "-11.70", "4.20"),
                (SHORT, "200000", "0.70025", "10.40", "5.60"),
            ],
            id="A17",
        ),
        pytest.param(
            "A18",
            [(LONG, "100", "50", "500", "0"), (SHORT, "50", "54", "100", "0")],
            id="A18",
        ),
        pytest.param(
            "B1",
            [(LONG, "100000", "0.75000", "16.25", "3.75"), (SHORT, "50000", "0.75020", "-8.00", "3.00")],
            id="B1",
        ),
    ],
)
def test_each_closed_cycle_nets_what_nautilus_realizes_for_it(case_id: str, cycles: list[Cycle]) -> None:
    book = book_of(case_id)

    assert book.open == {}
    assert [cycle_row(closed) for closed in book.closed] == expected_rows(cycles)


@pytest.mark.parametrize(
    ("case_id", "net", "fees"),
    [
        # A17 upstream keeps only the last cycle; the lifetime figure is the sum of its cycle
        # values: 7.20 - 11.70 + 10.40 and 2.80 + 4.20 + 5.60.
        pytest.param("A17", "5.90", "12.60", id="A17"),
        pytest.param("A18", "600", "0", id="A18"),
        pytest.param("B1", "8.25", "6.75", id="B1"),
    ],
)
def test_lifetime_totals_sum_every_cycle(case_id: str, net: str, fees: str) -> None:
    book = book_of(case_id)

    totals = book.totals[key(symbol_of(case_id))]

    assert (totals.net_pnl, totals.fees) == (Decimal(net), Decimal(fees))


@pytest.mark.parametrize(
    ("case_id", "fills", "signed_quantity", "realized", "opened_seq"),
    [
        pytest.param("A10", 3, "150000", "0.00", 3, id="A10"),
        pytest.param("A17", 3, "150000", "-2.10", 3, id="A17-cycle2"),
        pytest.param("A17", 5, "-200000", "-2.80", 5, id="A17-cycle3"),
        pytest.param("B1", 3, "-50000", "-2.25", 3, id="B1-short"),
    ],
)
def test_a_reopened_cycle_starts_from_its_own_opening_fee(
    case_id: str, fills: int, signed_quantity: str, realized: str, opened_seq: int
) -> None:
    legs = LEGS[case_id][:fills]

    position = fold(legs, symbol_of(case_id)).open[key(symbol_of(case_id))]

    assert position.signed_quantity == Decimal(signed_quantity)
    assert position.net_pnl == Decimal(realized)
    assert (position.opened_seq, position.opened_at) == (opened_seq, T0 + timedelta(seconds=fills))


@pytest.mark.parametrize("case_id", [pytest.param("A5", id="A5")])
def test_cycle_duration_is_the_time_from_open_to_close(case_id: str) -> None:
    # Opened at t=1 s, closed at t=2 s (the factories time each fill at T0 + seq seconds).
    book = book_of(case_id)

    (closed,) = book.closed

    assert closed.closed_at - closed.opened_at == timedelta(seconds=1)


def nautilus_row(qty: str, avg_open: str, realized: str) -> tuple[Decimal, Decimal, Decimal]:
    return (
        Decimal(qty),
        Decimal(avg_open).quantize(Decimal(F64_PRICE)),
        Decimal(realized).quantize(Decimal(USDT)),
    )


@pytest.mark.parametrize(
    ("case_id", "steps"),
    [
        pytest.param(
            "A9",
            [
                nautilus_row("29", "99.41379310344827", "-0.28830000"),
                nautilus_row("20", "99.41379310344827", "13.89666207"),
                nautilus_row("16", "99.41379310344827", "36.19948966"),
                nautilus_row("19", "99.98003629764065", "36.16858966"),
            ],
            id="A9",
        ),
        pytest.param(
            "A11",
            [
                nautilus_row("29", "9999.413793103447", "-289.98300000"),
                nautilus_row("20", "9999.413793103447", "-365.71613793"),
                nautilus_row("23", "9999.88155922039", "-395.72513793"),
                nautilus_row("19", "9999.88155922039", "-415.27137481"),
            ],
            id="A11",
        ),
    ],
)
def test_every_step_of_the_nautilus_step_table_matches(
    case_id: str, steps: list[tuple[Decimal, Decimal, Decimal]]
) -> None:
    symbol = symbol_of(case_id)
    book = new_book()
    observed = []

    for fill in executions(*LEGS[case_id], symbol=symbol):
        book.apply(fill)
        position = book.open[key(symbol)]
        observed.append(
            (
                position.signed_quantity,
                position.avg_price.quantize(Decimal(F64_PRICE)),
                position.net_pnl.quantize(Decimal(USDT)),
            )
        )

    # The reference's first row is after steps 1-2 together.
    assert observed[1:] == steps


# --- group B: flips and reversals ----------------------------------------------------------


@pytest.mark.parametrize(
    ("case_id", "signed_quantity", "avg_price"),
    [
        pytest.param("B2", "-50", "3.00", id="B2"),
        pytest.param("B3", "50", "3.00", id="B3"),
        # 200/300 and 200/150 to the 28 significant digits of Decimal's default context (spec 4).
        pytest.param("B4a", "300", "0.6666666666666666666666666667", id="B4a"),
        pytest.param("B4b", "150", "1.333333333333333333333333333", id="B4b"),
        pytest.param("B5a", "200", "0.80", id="B5a"),
        pytest.param("B5c", "50", "3.00", id="B5c"),
        pytest.param("B7a", "-5", "102", id="B7a"),
        pytest.param("B7b", "5", "102", id="B7b"),
        pytest.param("B7c", "5", "110", id="B7c"),
    ],
)
def test_netting_fold_matches_nautilus_fold_net_position(case_id: str, signed_quantity: str, avg_price: str) -> None:
    position = open_position(case_id)

    assert (position.signed_quantity, position.avg_price) == (
        Decimal(signed_quantity),
        Decimal(avg_price),
    )


@pytest.mark.parametrize(
    ("case_id", "realized"),
    [
        pytest.param("B2", "150", id="B2"),
        pytest.param("B3", "0", id="B3"),
        pytest.param("B5a", "20", id="B5a"),
        pytest.param("B7a", "20", id="B7a"),
        pytest.param("B7c", "25", id="B7c"),
    ],
)
def test_lifetime_realized_over_flips_matches_the_derived_anchor(case_id: str, realized: str) -> None:
    book = book_of(case_id)

    totals = book.totals[key(symbol_of(case_id))]

    assert totals.realized_pnl == Decimal(realized)


@pytest.mark.parametrize(
    ("case_id", "cost_value"),
    [
        pytest.param("B7a", "510", id="B7a"),
        pytest.param("B7b", "510", id="B7b"),
        pytest.param("B7c", "550", id="B7c"),
    ],
)
def test_the_flipped_remainder_is_valued_at_the_flip_price(case_id: str, cost_value: str) -> None:
    position = open_position(case_id)

    assert position.quantity * position.avg_price == Decimal(cost_value)


@pytest.mark.parametrize("case_id", [pytest.param("B5b", id="B5b")])
def test_a_full_close_leaves_no_open_position(case_id: str) -> None:
    # Nautilus's fold gives "0 @ 0"; we keep no open position and one closed cycle.
    book = book_of(case_id)

    assert book.open == {}
    assert [(closed.side, closed.quantity, closed.avg_price) for closed in book.closed] == [
        (LONG, Decimal(100), Decimal(1))
    ]


@pytest.mark.parametrize(
    "legs",
    [
        pytest.param((buy("150", "1"), sell("100", "2")), id="B6a"),
        pytest.param((sell("100", "2"), buy("150", "1")), id="B6b"),
    ],
)
def test_fills_with_equal_timestamps_apply_in_log_order(legs: tuple[Leg, Leg]) -> None:
    fills = [execution(*leg, seq=seq, at=T0) for seq, leg in enumerate(legs, start=1)]

    position = new_book().apply_all(fills).open[key("BTC/USD")]

    assert (position.signed_quantity, position.avg_price) == (Decimal(50), Decimal("1.00"))


@pytest.mark.parametrize("case_id", [pytest.param("B8", id="B8")])
def test_flip_splits_the_fee_pro_rata_between_the_closed_and_the_new_cycle(case_id: str) -> None:
    # S 150000 against +100000 closes 100000 with 2.00 of the 3.00 fee and opens 50000 with 1.00.
    book = book_of(case_id)

    (closed,) = book.closed
    reopened = book.open[key(symbol_of(case_id))]

    assert (closed.side, closed.realized_pnl, closed.fees, closed.net_pnl) == (
        LONG,
        Decimal("20.00"),
        Decimal("3.50"),
        Decimal("16.50"),
    )
    assert (reopened.side, reopened.signed_quantity, reopened.avg_price) == (
        SHORT,
        Decimal(-50000),
        Decimal("0.75020"),
    )
    assert (reopened.realized_pnl, reopened.fees, reopened.net_pnl) == (
        Decimal(0),
        Decimal("1.00"),
        Decimal("-1.00"),
    )


@pytest.mark.parametrize("case_id", [pytest.param("B8", id="B8")])
def test_flip_lifetime_net_equals_the_in_place_reversal(case_id: str) -> None:
    # The split cycles sum to the Rust in-place reversal's single-cycle realized +15.50.
    book = book_of(case_id)

    totals = book.totals[key(symbol_of(case_id))]

    assert (totals.realized_pnl, totals.fees, totals.net_pnl) == (
        Decimal("20.00"),
        Decimal("4.50"),
        Decimal("15.50"),
    )


# --- group D: freqtrade DCA and partial exits ----------------------------------------------

FreqtradeRow = tuple[Decimal, Decimal, Decimal | None, Decimal]  # amount, avg, stake, realized


def freqtrade_row(book: EngineBook | ReferenceFold, symbol: str) -> FreqtradeRow:
    """freqtrade's amount, open_rate, stake_amount and realized_profit after an order.

    At the close freqtrade shows no stake ("-"); the average is the closed cycle's.
    """
    position = book.open.get(key(symbol))
    if position is None:
        closed = book.closed[-1]
        return (Decimal(0), closed.avg_price, None, closed.realized_pnl)
    stake = position.quantity * position.avg_price
    return (position.quantity, position.avg_price, stake, position.realized_pnl)


def ft_row(amount: str, avg: str, stake: str | None, realized: str) -> FreqtradeRow:
    return (Decimal(amount), Decimal(avg), None if stake is None else Decimal(stake), Decimal(realized))


@pytest.mark.parametrize(
    ("case_id", "table"),
    [
        pytest.param(
            "D1",
            [
                ft_row("100", "10.0", "1000", "0"),
                ft_row("200", "12.5", "2500", "0"),
                ft_row("150", "12.5", "1875", "-25.0"),
                ft_row("50", "12.5", "625", "725.0"),
                ft_row("0", "12.5", None, "350.0"),
            ],
            id="D1",
        ),
        pytest.param(
            "D4",
            [
                ft_row("100", "3.0", "300", "0"),
                ft_row("200", "5.0", "1000", "0"),
                ft_row("100", "5.0", "500", "600.0"),
                ft_row("250", "11.0", "2750", "600.0"),
                ft_row("150", "11.0", "1650", "1400.0"),
                ft_row("0", "11.0", None, "3200.0"),
            ],
            id="D4",
        ),
        pytest.param(
            "D5",
            [
                ft_row("100", "8.0", "800", "0"),
                ft_row("200", "8.5", "1700", "0"),
                ft_row("100", "8.5", "850", "150"),
                ft_row("250", "10.0", "2500", "150"),
                ft_row("150", "10.0", "1500", "350"),
                ft_row("0", "10.0", None, "950"),
            ],
            id="D5",
        ),
    ],
)
def test_fee_free_dca_matches_the_freqtrade_table_after_every_order(case_id: str, table: list[FreqtradeRow]) -> None:
    symbol = symbol_of(case_id)
    book = new_book()
    observed = []

    for fill in executions(*LEGS[case_id], symbol=symbol):
        book.apply(fill)
        observed.append(freqtrade_row(book, symbol))

    assert observed == table


@pytest.mark.parametrize(
    ("case_id", "last"),
    [
        pytest.param("D1", ["-25.0", "750.0", "-375.0"], id="D1"),
        pytest.param("D4", ["600.0", "800.0", "1800.0"], id="D4"),
        pytest.param("D5", ["150", "200", "600"], id="D5"),
    ],
)
def test_each_fee_free_exit_realizes_freqtrade_last_exit_profit(case_id: str, last: list[str]) -> None:
    book = new_book()
    key = ("default", symbol_of(case_id))
    deltas = []

    for fill in executions(*LEGS[case_id], symbol=symbol_of(case_id)):
        before = book.totals[key].realized_pnl if key in book.totals else Decimal(0)
        book.apply(fill)
        deltas.append((fill.side, book.totals[key].realized_pnl - before))

    assert [delta for side, delta in deltas if side is Side.SELL] == [Decimal(v) for v in last]


@pytest.mark.parametrize(
    ("case_id", "gross", "fees", "net"),
    [
        # Gross equals the fee-free twin (D1: 350, D4: 3200); fees are the written-out legs'.
        pytest.param("D2", "350", "13.375", "336.625", id="D2"),
        pytest.param("D3", "3200", "24.25", "3175.75", id="D3"),
    ],
)
def test_fee_rate_case_nets_freqtrade_end_profit_after_the_full_close(
    case_id: str, gross: str, fees: str, net: str
) -> None:
    # Only the final value is comparable: freqtrade books each opening fee pro rata on the exits,
    # we book every fee on the fill that pays it, so mid-position realized values differ.
    book = book_of(case_id)

    (closed,) = book.closed

    assert book.open == {}
    assert (closed.realized_pnl, closed.fees, closed.net_pnl) == (
        Decimal(gross),
        Decimal(fees),
        Decimal(net),
    )


@pytest.mark.parametrize(
    ("case_id", "amounts_and_averages"),
    [
        pytest.param(
            "D2",
            [("100", "10.0"), ("200", "12.5"), ("150", "12.5"), ("50", "12.5")],
            id="D2",
        ),
        pytest.param(
            "D3",
            [("100", "3.0"), ("200", "5.0"), ("100", "5.0"), ("250", "11.0"), ("150", "11.0")],
            id="D3",
        ),
    ],
)
def test_fee_rate_case_keeps_freqtrade_amount_and_fee_free_average_while_open(
    case_id: str, amounts_and_averages: list[tuple[str, str]]
) -> None:
    symbol = symbol_of(case_id)
    book = new_book()
    observed = []

    for fill in executions(*LEGS[case_id][:-1], symbol=symbol):
        book.apply(fill)
        position = book.open[key(symbol)]
        observed.append((position.quantity, position.avg_price))

    assert observed == [(Decimal(amount), Decimal(avg)) for amount, avg in amounts_and_averages]


@pytest.mark.parametrize("case_id", [pytest.param("D2", id="D2")])
def test_opening_fees_are_booked_at_once_unlike_freqtrade_pro_rata(case_id: str) -> None:
    # After the first exit: freqtrade reports -28.0625 (open fee pro rata); charging every fee
    # on the fill that pays it gives -25 - 2.5 - 3.75 - 1.5 = -32.75 (reference section 7.1).
    legs = LEGS[case_id][:3]

    position = fold(legs, symbol_of(case_id)).open[key(symbol_of(case_id))]

    assert (position.realized_pnl, position.fees, position.net_pnl) == (
        Decimal("-25.0"),
        Decimal("7.75"),
        Decimal("-32.75"),
    )


@pytest.mark.parametrize(
    ("case_id", "amount", "open_rate", "stake", "fee_open_cost", "open_trade_value"),
    [
        # 340/375 to the 28 significant digits of Decimal's default context (spec section 4).
        pytest.param("D6", "375", "0.9066666666666666666666666667", "340.0", "0.85", "340.85", id="D6"),
        pytest.param("D7", "30", "2.0", "60", "0.15", "60.15", id="D7"),
    ],
)
def test_open_side_values_match_freqtrade_open_trade_value(
    case_id: str, amount: str, open_rate: str, stake: str, fee_open_cost: str, open_trade_value: str
) -> None:
    position = open_position(case_id)

    stake_amount = position.quantity * position.avg_price

    assert (position.quantity, position.avg_price, stake_amount) == (
        Decimal(amount),
        Decimal(open_rate),
        Decimal(stake),
    )
    assert (position.fees, stake_amount + position.fees) == (
        Decimal(fee_open_cost),
        Decimal(open_trade_value),
    )


@pytest.mark.parametrize("case_id", [pytest.param("D6", id="D6")])
def test_a_full_size_exit_leaves_the_open_side_values_of_the_cycle_unchanged(case_id: str) -> None:
    # The reference fixes only the open side; the exit price and fee here are arbitrary.
    legs = (*LEGS[case_id], sell("375", "1.10", "0"))

    (closed,) = fold(legs, symbol_of(case_id)).closed

    assert (closed.quantity, closed.avg_price) == (
        Decimal(375),
        Decimal("0.9066666666666666666666666667"),
    )


@pytest.mark.parametrize(
    ("close_price", "close_fee", "profit"),
    [
        # close fee = 30 x close price x fee_close, written out
        pytest.param("2.2", "0.165", "5.685", id="D7-2.2-fee0.0025"),
        pytest.param("2.1", "0.1575", "2.6925", id="D7-2.1-fee0.0025"),
        pytest.param("2.1", "0.189", "2.661", id="D7-2.1-fee0.003"),
        pytest.param("1.9", "0.171", "-3.321", id="D7-1.9-fee0.003"),  # upstream -3.3209999
        pytest.param("1.9", "0.1425", "-3.2925", id="D7-1.9-fee0.0025"),
        pytest.param("2.2", "0.198", "5.652", id="D7-2.2-fee0.003"),
    ],
)
def test_full_close_nets_freqtrade_profit(close_price: str, close_fee: str, profit: str) -> None:
    legs = (*LEGS["D7"], sell("30", close_price, close_fee))

    (closed,) = fold(legs, symbol_of("D7")).closed

    assert closed.net_pnl == Decimal(profit)
