"""Tax lots (spec section 11): the Beancount and rotki cases of exchange-data.md section 3 and the Ledger,
hledger and freqtrade cases of accounting-anchors.md (E5-E8, D2-D3), written out, and the rules around them
(base fees, transfers, shorts, missing acquisitions, methods per year, terms).

Expected values are copied from the sources (or worked out by hand in the comment beside them), never
recomputed with the code's formula.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.events import Transfer
from tradeledger.domain.fills import Fill
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_order import OutOfTimeOrder
from tradeledger.domain.lot_terms import Method, MethodPlan, lot_picks, totals_of
from tradeledger.domain.lots import LotBook
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidArgument, InvalidFill

D = Decimal


def at(day: str) -> str:
    return f"{day}T00:00:00+00:00"


def fill(side: str, quantity: str, price: str, day: str, *, symbol: str = "HOOL/USD", **more: Any) -> Fill:
    fill.count += 1  # type: ignore[attr-defined]
    return Fill.model_validate(
        {
            "fill_id": f"f{fill.count}",  # type: ignore[attr-defined]
            "exchange": "x",
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "occurred_at": at(day),
            **more,
        }
    )


fill.count = 0  # type: ignore[attr-defined]


def withdrawal(amount: str, day: str, currency: str = "HOOL", fee: str = "0") -> Transfer:
    return Transfer(
        transfer_id=f"w{day}{amount}",
        exchange="x",
        currency=currency,
        amount=D(amount),
        fee=D(fee),
        kind="withdrawal",
        occurred_at=datetime.fromisoformat(at(day)),
    )


def stored_rows(events: Sequence[Any]) -> tuple[list[ExecutionRow], dict[int, Any], dict[int, str]]:
    """The stored rows of `events` recorded at seq 1, 2, …, the metadata of those that have some and the
    kind of each transfer, by seq."""
    rows, metadata, kinds = [], {}, {}
    for seq, event in enumerate(events, start=1):
        stored = StoredEvent.seal(
            event.canonical(), seq=seq, epoch=1, recorded_at="2026-01-01T00:00:00+00:00", prev_hash=GENESIS_HASH
        )
        rows.append(stored.execution_row())
        if stored.metadata is not None:
            metadata[seq] = json.loads(stored.metadata)
        if stored.kind is not None:
            kinds[seq] = stored.kind
    return rows, metadata, kinds


def folded(events: Sequence[Any], method: str | list[str] = "fifo", **options: Any) -> LotBook:
    """The lots of `events` recorded at seq 1, 2, …: folded from their stored rows as the ledger folds them."""
    plan = MethodPlan.parse([method] if isinstance(method, str) else method)
    rows, metadata, kinds = stored_rows(events)
    try:
        book = LotBook(plan, **options)
        book.apply_rows(rows, metadata, kinds)
    except OutOfTimeOrder:  # a backfill: folded again in the order the events occurred, as application.lots does
        book = LotBook(plan, in_time_order=True, **options)
        book.apply_rows(sorted(rows, key=lambda row: (row[8], row[0])), metadata, kinds)
        book.by_seq()
    return book


def matched(book: LotBook) -> list[tuple[str, int, str, str]]:
    """(quantity, acquired seq, cost basis, gain) of each matched part, amounts as exact text."""
    return [(str(r.quantity), r.acquired_seq, str(r.cost_basis), str(r.gain)) for r in book.rows]


def left(book: LotBook) -> list[tuple[Decimal, Decimal]]:
    """(quantity, unit cost) of each open lot."""
    return [(lot.quantity, lot.unit_cost) for lot in book.open_lots()]


def gain_per_sale(book: LotBook) -> dict[int, Decimal]:
    """The gain of each disposal (by its seq), its matched parts summed."""
    per_sale: dict[int, Decimal] = {}
    for row in book.rows:
        per_sale[row.disposed_seq] = per_sale.get(row.disposed_seq, D(0)) + row.gain
    return per_sale


# --- Beancount (booking_full_test.py) -------------------------------------------------------------

B1_LOTS = [
    fill("buy", "4", "100.00", "2015-10-01"),
    fill("buy", "5", "111.11", "2015-10-02"),
    fill("buy", "6", "122.22", "2015-10-03"),
]


def test_b1_fifo_reduces_the_oldest_lots_first() -> None:
    book = folded([*B1_LOTS, fill("sell", "7", "130", "2015-11-01")])

    # -7 → -4 @ 100.00 and -3 @ 111.11; left 2 @ 111.11 and 6 @ 122.22.
    assert [(r.quantity, r.acquired_seq, r.cost_basis) for r in book.rows] == [
        (D(4), 1, D("400.00")),
        (D(3), 2, D("333.33")),
    ]
    assert [(lot.quantity, lot.unit_cost) for lot in book.open_lots()] == [(D(2), D("111.11")), (D(6), D("122.22"))]


def test_b1_an_over_reduction_is_a_missing_acquisition_never_an_invented_lot() -> None:
    # Beancount: reducing 16 from the 8 left is "Not enough lots to reduce". A withdrawal that disposes
    # (it cannot open a short) matches the 8 held and reports the other 8 as missing.
    events = [*B1_LOTS, fill("sell", "7", "130", "2015-11-01"), withdrawal("-16", "2015-11-02")]

    book = folded(events, withdrawals_dispose=True)

    assert [(r.quantity, r.acquired_seq, r.disposed_seq) for r in book.rows[2:]] == [(D(2), 2, 5), (D(6), 3, 5)]
    assert [(m.currency, m.quantity, m.seq) for m in book.missing] == [("HOOL", D(8), 5)]
    assert book.open_lots() == []


def test_b1_a_sell_beyond_the_lots_held_crosses_into_a_short_lot_as_the_position_does() -> None:
    book = folded([*B1_LOTS, fill("sell", "7", "130", "2015-11-01"), fill("sell", "16", "130", "2015-11-02")])

    assert book.missing == []
    assert left(book) == [(D("-8"), D("130"))]
    assert book.positions() == {("default", "HOOL", "USD"): D(-8)}


# accounting-anchors.md E1, E2 (Beancount TestBookAmbiguousFIFO / TestBookAmbiguousLIFO): each row reduces the
# starting inventory 4 @ 100.00 (2015-10-01), 5 @ 111.11 (10-02), 6 @ 122.22 (10-03) by N. Reducing 0 is no fill here
# (a quantity is above 0); reducing 16, an error in Beancount, crosses into a short lot of 1 (as the position does).
E1_E2 = [
    ("fifo", "2", [("2", "100.00")], [("2", "100.00"), ("5", "111.11"), ("6", "122.22")]),
    ("fifo", "4", [("4", "100.00")], [("5", "111.11"), ("6", "122.22")]),
    ("fifo", "7", [("4", "100.00"), ("3", "111.11")], [("2", "111.11"), ("6", "122.22")]),
    ("fifo", "9", [("4", "100.00"), ("5", "111.11")], [("6", "122.22")]),
    ("fifo", "12", [("4", "100.00"), ("5", "111.11"), ("3", "122.22")], [("3", "122.22")]),
    ("fifo", "15", [("4", "100.00"), ("5", "111.11"), ("6", "122.22")], []),
    ("fifo", "16", [("4", "100.00"), ("5", "111.11"), ("6", "122.22")], [("-1", "130")]),
    ("lifo", "2", [("2", "122.22")], [("4", "100.00"), ("5", "111.11"), ("4", "122.22")]),
    ("lifo", "6", [("6", "122.22")], [("4", "100.00"), ("5", "111.11")]),
    ("lifo", "7", [("6", "122.22"), ("1", "111.11")], [("4", "100.00"), ("4", "111.11")]),
    ("lifo", "11", [("6", "122.22"), ("5", "111.11")], [("4", "100.00")]),
    ("lifo", "12", [("6", "122.22"), ("5", "111.11"), ("1", "100.00")], [("3", "100.00")]),
    ("lifo", "15", [("6", "122.22"), ("5", "111.11"), ("4", "100.00")], []),
    ("lifo", "16", [("6", "122.22"), ("5", "111.11"), ("4", "100.00")], [("-1", "130")]),
]


@pytest.mark.parametrize(("method", "reduced", "legs", "remaining"), E1_E2)
def test_e1_e2_beancount_fifo_and_lifo_reduce_the_lots_in_their_order(
    method: str, reduced: str, legs: list[tuple[str, str]], remaining: list[tuple[str, str]]
) -> None:
    book = folded([*B1_LOTS, fill("sell", reduced, "130", "2015-11-01")], method)

    assert [(r.quantity, r.cost_basis / r.quantity) for r in book.rows] == [(D(q), D(unit)) for q, unit in legs]
    assert left(book) == [(D(q), D(unit)) for q, unit in remaining]
    assert book.missing == []


def test_e3_fifo_reduces_twice_in_the_order_of_the_lots() -> None:
    lots = [fill("buy", "50", "115.00", "2016-01-15"), fill("buy", "50", "116.00", "2016-01-16")]
    sells = [fill("sell", q, "120", "2016-02-01") for q in ("40", "35")]

    book = folded([*lots, *sells])

    # test_reduce__multiple_reductions: -40 @ 115, -10 @ 115, -25 @ 116, leaving 25 @ 116.
    assert [(r.quantity, r.cost_basis / r.quantity) for r in book.rows] == [
        (D(40), D(115)),
        (D(10), D(115)),
        (D(25), D(116)),
    ]
    assert left(book) == [(D(25), D("116.00"))]


def test_e4_a_fifo_reduction_overflowing_the_lots_is_a_missing_acquisition_when_a_withdrawal_makes_it() -> None:
    # test_reduce__multiple_reductions__overflowing__with_error: lots 50 + 50, reducing -40 then -65 is "Not enough
    # lots to reduce". A withdrawal (it cannot open a short lot) matches the 60 left and 5 are missing.
    events = [
        fill("buy", "50", "115.00", "2016-01-15"),
        fill("buy", "50", "116.00", "2016-01-16"),
        fill("sell", "40", "120", "2016-02-01"),
        withdrawal("-65", "2016-02-02"),
    ]

    book = folded(events, withdrawals_dispose=True)

    assert [(r.quantity, r.acquired_seq, r.disposed_seq) for r in book.rows] == [
        (D(40), 1, 3),
        (D(10), 1, 4),
        (D(50), 2, 4),
    ]
    assert [(m.quantity, m.seq) for m in book.missing] == [(D(5), 4)]
    assert book.open_lots() == []


def test_b2_hifo_reduces_the_highest_unit_cost_first() -> None:
    lots = [
        fill("buy", "50", "115.00", "2016-01-15"),
        fill("buy", "50", "116.00", "2016-01-16"),
        fill("buy", "50", "114.00", "2016-01-17"),
    ]
    sells = [fill("sell", q, "120", "2016-02-01") for q in ("40", "35", "30")]

    book = folded([*lots, *sells], "hifo")

    # -40 @ 116, -10 @ 116, -25 @ 115, -25 @ 115, -5 @ 114; left 45 @ 114.
    assert [(r.quantity, r.cost_basis / r.quantity) for r in book.rows] == [
        (D(40), D(116)),
        (D(10), D(116)),
        (D(25), D(115)),
        (D(25), D(115)),
        (D(5), D(114)),
    ]
    assert left(book) == [(D("45"), D("114.00"))]


def test_b3_a_buy_crossing_a_short_reduces_the_short_lot_then_opens_a_long_one() -> None:
    book = folded([fill("sell", "1", "110", "2020-01-01"), fill("buy", "2", "112", "2020-01-02")])

    # short -1 @ 110, then +2 @ 112: a reduce of 1 @ 110.00 and an augment of 1 @ 112.00.
    row = book.rows[0]
    assert (row.quantity, row.acquired_seq, row.disposed_seq) == (D(-1), 1, 2)
    assert (row.proceeds, row.cost_basis, row.gain) == (D(110), D(112), D(-2))
    assert left(book) == [(D("1"), D("112"))]


# --- rotki ----------------------------------------------------------------------------------------

R1 = [
    fill("buy", "2", "10", "2020-01-01", symbol="ETH/EUR"),
    fill("sell", "1", "15", "2020-01-02", symbol="ETH/EUR"),
    fill("buy", "1", "30", "2020-01-03", symbol="ETH/EUR"),
    fill("sell", "1.5", "10", "2020-01-04", symbol="ETH/EUR"),
    fill("buy", "3", "20", "2020-01-05", symbol="ETH/EUR"),
    fill("sell", "2", "30", "2020-01-06", symbol="ETH/EUR"),
]


def test_r1_average_cost_gains_per_sale() -> None:
    book = folded(R1, "average")

    # sell 1 @ 15 → +5; sell 1.5 @ 10 → -15; sell 2 @ 30 → +20.
    assert gain_per_sale(book) == {2: D(5), 4: D(-15), 6: D(20)}
    assert left(book) == [(D("1.5"), D("20"))]


def test_r1_disposing_of_0_6_with_0_5_left_is_a_missing_0_1() -> None:
    # A withdrawal that disposes cannot open a short lot: what the lots do not hold is missing.
    events = [fill("buy", "0.5", "10", "2020-01-01", symbol="ETH/EUR"), withdrawal("-0.6", "2020-01-02", "ETH")]

    book = folded(events, "average", withdrawals_dispose=True)

    assert [(m.currency, m.quantity, m.seq) for m in book.missing] == [("ETH", D("0.1"), 2)]
    assert [r.quantity for r in book.rows] == [D("0.5")]


# rotki test_fees: swaps EUR↔ETH with a 10 EUR fee each: 5000 EUR → 100 ETH; 50 ETH → 6000 EUR;
# 6500 EUR → 50 ETH; 40 ETH → 3600 EUR.
R2 = [
    fill("buy", "100", "50", "2020-01-01", symbol="ETH/EUR", fee="10"),
    fill("sell", "50", "120", "2020-01-02", symbol="ETH/EUR", fee="10"),
    fill("buy", "50", "130", "2020-01-03", symbol="ETH/EUR", fee="10"),
    fill("sell", "40", "90", "2020-01-04", symbol="ETH/EUR", fee="10"),
]


def test_r2_fifo_without_fees_in_the_basis() -> None:
    book = folded(R2, "fifo", fees_in_basis=False)

    # Taxable 3500 and 1600 (rotki books each 10 EUR fee apart, as -10: they are left out here).
    assert [r.gain for r in book.rows] == [D(3500), D(1600)]


def test_r2_average_with_fees_in_the_basis() -> None:
    book = folded(R2, "average")

    # Taxable 3485 and -16.
    assert [r.gain for r in book.rows] == [D(3485), D(-16)]


# --- hledger, Ledger, freqtrade (accounting-anchors.md, group E and D) --------------------------------

E7_LOTS = [
    fill("buy", "10", "1.10", "2020-01-01", symbol="AAA/USD"),
    fill("buy", "10", "1.20", "2020-01-02", symbol="AAA/USD"),
    fill("buy", "10", "1.20", "2020-01-03", symbol="AAA/USD"),
    fill("buy", "10", "0.40", "2020-01-04", symbol="AAA/USD"),
    fill("buy", "10", "0.50", "2020-01-05", symbol="AAA/USD"),
]
E7_SALES = [
    fill("sell", "5", "1.31", "2020-02-01", symbol="AAA/USD"),
    fill("sell", "24", "1.32", "2020-02-02", symbol="AAA/USD"),
    fill("sell", "10", "1.33", "2020-02-03", symbol="AAA/USD"),
]


@pytest.mark.parametrize(
    ("method", "gains", "remaining"),
    [
        ("fifo", ["1.05", "3.38", "8.50"], [("1", "0.40"), ("10", "0.50")]),
        ("lifo", ["4.05", "14.38", "1.30"], [("10", "1.10"), ("1", "1.20")]),
        ("hifo", ["0.55", "3.78", "7.70"], [("10", "0.40"), ("1", "0.50")]),
        ("average", ["2.15", "10.56", "4.50"], [("1", "0.88"), ("10", "0.88")]),  # pool cost 44 / 50
    ],
)
def test_e8_each_method_on_the_hledger_lots(method: str, gains: list[str], remaining: list[tuple[str, str]]) -> None:
    book = folded([*E7_LOTS, *E7_SALES], method)

    assert gain_per_sale(book) == {6: D(gains[0]), 7: D(gains[1]), 8: D(gains[2])}
    assert left(book) == [(D(quantity), D(unit)) for quantity, unit in remaining]


def test_e5_e6_ledger_lot_matching() -> None:
    lots = [
        fill("buy", "2", "8000", "2020-01-15", symbol="BTC/USD"),
        fill("buy", "1", "9000", "2020-03-20", symbol="BTC/USD"),
    ]
    one = fill("sell", "1", "9500", "2020-06-01", symbol="BTC/USD")

    assert [r.gain for r in folded([*lots, one], "fifo").rows] == [D(1500)]  # lot A, leaving 1 @ 8000, 1 @ 9000
    assert [r.gain for r in folded([*lots, one], "lifo").rows] == [D(500)]  # lot B, leaving 2 @ 8000
    # 2.5 @@ 23750 under fifo: -2 of lot A and -0.5 of lot B, cost 16000 + 4500, gain 3250, 0.5 @ 9000 left.
    book = folded([*lots, fill("sell", "2.5", "9500", "2020-06-01", symbol="BTC/USD")], "fifo")
    assert [(r.quantity, r.cost_basis) for r in book.rows] == [(D(2), D(16000)), (D("0.5"), D(4500))]
    assert sum(r.gain for r in book.rows) == D(3250)
    assert left(book) == [(D("0.5"), D(9000))]
    # Derived: an average pool costs 25000 / 3 = 8333.33…, selling 1 @ 9500 gains 1166.67 (to the cent), and the
    # 2 left carry the pool's average.
    average = folded([*lots, one], "average")
    assert [r.gain.quantize(D("0.01")) for r in average.rows] == [D("1166.67")]
    assert [(q, unit.quantize(D("0.01"))) for q, unit in left(average)] == [(D(1), D("8333.33")), (D(1), D("8333.33"))]


def freqtrade(side: str, quantity: str, price: str, day: str) -> Fill:
    """A fill of freqtrade's ETH/USDT cases with its fee of 0.25 % of its value, in USDT."""
    fee = D(quantity) * D(price) * D("0.0025")
    return fill(side, quantity, price, day, symbol="ETH/USDT", fees=[{"amount": str(fee), "currency": "USDT"}])


def test_d2_d3_average_with_fees_in_the_basis_realizes_what_freqtrade_realizes() -> None:
    # freqtrade folds the fees into the open and close values: its profit per exit is average cost with
    # fees in the basis and off the proceeds.
    d2 = [
        freqtrade("buy", "100", "10", "2024-01-01"),
        freqtrade("buy", "100", "15", "2024-01-02"),
        freqtrade("sell", "50", "12", "2024-01-03"),
        freqtrade("sell", "100", "20", "2024-01-04"),
        freqtrade("sell", "50", "5", "2024-01-05"),
    ]
    d3 = [
        freqtrade("buy", "100", "3", "2024-01-01"),
        freqtrade("buy", "100", "7", "2024-01-02"),
        freqtrade("sell", "100", "11", "2024-01-03"),
        freqtrade("buy", "150", "15", "2024-01-04"),
        freqtrade("sell", "100", "19", "2024-01-05"),
        freqtrade("sell", "150", "23", "2024-01-06"),
    ]

    # D2: -28.0625, 741.875, -377.1875 (realized 336.625); D3: 596.0, 792.5, 1787.25 (realized 3175.75).
    assert gain_per_sale(folded(d2, "average")) == {3: D("-28.0625"), 4: D("741.875"), 5: D("-377.1875")}
    assert gain_per_sale(folded(d3, "average")) == {3: D("596.0"), 5: D("792.5"), 6: D("1787.25")}


# --- fees, transfers ------------------------------------------------------------------------------


def test_a_base_currency_fee_is_a_fee_free_disposal_at_the_fill_price() -> None:
    buy = fill("buy", "1", "50000", "2024-01-01", symbol="BTC/USD", fees=[{"amount": "0.001", "currency": "BTC"}])
    sell = fill("sell", "0.999", "51000", "2024-02-01", symbol="BTC/USD")

    book = folded([buy, sell], fees_in_basis=False)

    # The fee disposes of 0.001 BTC at 50000 (gain 0), then 0.999 sells at 51000: gain 999.
    assert [(r.quantity, r.disposed_seq, r.proceeds, r.gain) for r in book.rows] == [
        (D("0.001"), 1, D("50.000"), D(0)),
        (D("0.999"), 2, D("50949.000"), D("999.000")),
    ]
    assert book.open_lots() == []


def test_a_base_fee_in_the_basis_makes_the_gains_the_cash_made() -> None:
    buy = fill("buy", "1", "50000", "2024-01-01", symbol="BTC/USD", fees=[{"amount": "0.001", "currency": "BTC"}])
    sell = fill("sell", "0.999", "51000", "2024-02-01", symbol="BTC/USD")

    book = folded([buy, sell])

    # Its value 50 enters the buy's basis (50050 for 1 BTC): the gains add up to 0.999·51000 - 50000.
    assert totals_of(book.rows).gain == D(949)


def test_a_transfer_is_not_a_disposal_unless_asked() -> None:
    events = [fill("buy", "2", "100", "2024-01-01"), withdrawal("-1", "2024-01-02")]

    assert folded(events).rows == []
    assert left(folded(events)) == [(D("2"), D("100"))]
    disposed = folded(events, withdrawals_dispose=True)
    assert [(r.quantity, r.proceeds, r.cost_basis, r.gain) for r in disposed.rows] == [(D(1), D(100), D(100), D(0))]


def test_a_withdrawal_of_cash_is_no_lot_even_when_withdrawals_dispose() -> None:
    events = [fill("buy", "2", "100", "2024-01-01"), withdrawal("-50", "2024-01-02", currency="USD")]

    book = folded(events, withdrawals_dispose=True)

    assert (book.rows, book.missing) == ([], [])
    assert left(book) == [(D(2), D(100))]


def test_a_withdrawal_fee_disposes_too() -> None:
    events = [fill("buy", "2", "100", "2024-01-01"), withdrawal("-1", "2024-01-02", fee="0.1")]

    assert left(folded(events, withdrawals_dispose=True)) == [(D("0.9"), D("100"))]


def naming(amount: str, day: str, lots: list[tuple[int, str]], fee: str = "0") -> Transfer:
    """A withdrawal of HOOL naming the lots it takes in `metadata.lots`."""
    return Transfer(
        transfer_id=f"n{day}{amount}",
        exchange="x",
        currency="HOOL",
        amount=D(amount),
        fee=D(fee),
        kind="withdrawal",
        occurred_at=datetime.fromisoformat(at(day)),
        metadata={"lots": [{"seq": seq, "quantity": quantity} for seq, quantity in lots]},
    )


def test_a_withdrawal_naming_its_lots_takes_those_lots_under_specific_and_fifo_under_another_method() -> None:
    events = [
        fill("buy", "1", "100", "2024-01-01"),
        fill("buy", "1", "300", "2024-01-02"),
        naming("-0.4", "2024-01-03", [(2, "0.4"), (1, "0.1")], fee="0.1"),  # 0.5 leaves: the amount and its fee
    ]

    specific = folded(events, "specific", withdrawals_dispose=True)
    fifo = folded(events, "fifo", withdrawals_dispose=True)

    # Each part leaves at its cost: 0.4 of lot 2 (120), 0.1 of lot 1 (10).
    assert [(r.acquired_seq, r.quantity, r.proceeds, r.cost_basis, r.gain) for r in specific.rows] == [
        (2, D("0.4"), D(120), D(120), D(0)),
        (1, D("0.1"), D(10), D(10), D(0)),
    ]
    assert left(specific) == [(D("0.9"), D(100)), (D("0.6"), D(300))]
    assert [(r.acquired_seq, r.quantity) for r in fifo.rows] == [(1, D("0.5"))]
    assert left(folded(events, "specific")) == [(D(1), D(100)), (D(1), D(300))]  # no disposal asked: none taken


def test_a_withdrawal_naming_lots_of_two_quote_currencies_takes_each_from_its_own() -> None:
    events = [
        fill("buy", "1", "100", "2024-01-01"),
        fill("buy", "1", "90", "2024-01-02", symbol="HOOL/EUR"),
        fill("buy", "1", "300", "2024-01-03"),
        naming("-1.5", "2024-01-04", [(3, "1"), (2, "0.5")]),
    ]

    book = folded(events, "specific", withdrawals_dispose=True)

    # In the order named, each at its cost in its own quote currency.
    assert [(r.quote, r.acquired_seq, r.quantity, r.cost_basis) for r in book.rows] == [
        ("USD", 3, D(1), D(300)),
        ("EUR", 2, D("0.5"), D(45)),
    ]
    assert [(lot.quote, lot.acquired_seq, lot.quantity) for lot in book.open_lots()] == [
        ("EUR", 2, D("0.5")),
        ("USD", 1, D(1)),
    ]


def test_a_withdrawal_naming_a_lot_an_earlier_years_method_used_up_is_refused_naming_its_seq() -> None:
    events = [
        fill("buy", "1", "100", "2024-01-01"),
        fill("buy", "1", "300", "2024-01-02"),
        fill("sell", "1", "400", "2024-06-01"),  # fifo in 2024: lot 1
        naming("-1", "2025-01-03", [(1, "1")]),
    ]

    with pytest.raises(InvalidArgument, match=r"^seq 4: metadata\.lots: lot 1 has 0 open when this disposal is"):
        folded(events, ["fifo", "2025=specific"], withdrawals_dispose=True)


def test_after_a_withdrawal_disposed_a_sale_the_position_held_is_missing_not_short() -> None:
    events = [
        fill("buy", "2", "100", "2024-01-01"),
        withdrawal("-2", "2024-01-02"),
        fill("sell", "3", "110", "2024-01-03"),
    ]

    book = folded(events, withdrawals_dispose=True)

    # The position held 2 (transfers never move it): those 2 are missing, the third opens a short lot.
    assert [(m.quantity, m.seq) for m in book.missing] == [(D(2), 3)]
    assert left(book) == [(D("-1"), D("110"))]


def test_fees_are_shared_by_quantity_and_can_be_left_out() -> None:
    events = [fill("buy", "2", "100", "2024-01-01", fee="2"), fill("sell", "2", "110", "2024-01-02", fee="4")]

    assert matched(folded(events)) == [("2", 1, "202", "14")]
    assert matched(folded(events, fees_in_basis=False)) == [("2", 1, "200", "20")]


def test_an_unvalued_fee_never_enters_the_basis() -> None:
    bnb = [{"amount": "0.01", "currency": "BNB"}]
    events = [fill("buy", "1", "100", "2024-01-01", fees=bnb), fill("sell", "1", "110", "2024-01-02", fees=bnb)]

    assert matched(folded(events)) == [("1", 1, "100", "10")]


def test_contracts_have_positions_not_lots() -> None:
    events = [
        fill("buy", "1", "100", "2024-01-01", symbol="BTC/USDT:USDT"),
        fill("sell", "1", "110", "2024-01-02", symbol="BTC/USDT:USDT"),
    ]

    book = folded(events)

    assert (book.rows, book.open_lots()) == ([], [])


# --- methods per year, terms, specific lots ---------------------------------------------------------

YEARS = [
    fill("buy", "1", "100", "2023-03-01"),
    fill("buy", "1", "300", "2023-06-01"),
    fill("buy", "1", "200", "2023-09-01"),
    fill("sell", "1", "400", "2024-02-01"),
    fill("sell", "1", "400", "2025-02-01"),
]


def test_each_disposal_is_matched_by_the_method_of_its_own_year() -> None:
    book = folded(YEARS, ["fifo", "2025=hifo"])

    # 2024 (fifo) sells the lot of 100; 2025 (hifo) the lot of 300.
    assert [(r.disposed_seq, r.acquired_seq) for r in book.rows] == [(4, 1), (5, 2)]


def test_choosing_a_later_years_method_never_changes_an_earlier_years_matches() -> None:
    alone = folded(YEARS, "fifo", year=2024)
    with_later = folded(YEARS, ["fifo", "2025=lifo"], year=2024)

    assert with_later.rows == alone.rows


def test_a_year_without_a_method_takes_the_previous_years() -> None:
    plan = MethodPlan.parse(["2022=lifo", "2024=hifo"])

    assert [plan.method_of(year) for year in (2020, 2022, 2023, 2024, 2030)] == [
        Method.LIFO,
        Method.LIFO,
        Method.LIFO,
        Method.HIFO,
        Method.HIFO,
    ]


@pytest.mark.parametrize(
    ("texts", "fragment"),
    [
        (["fofi"], "must be one of fifo, lifo, hifo, average, specific (got 'fofi')"),
        (["24=fifo"], "the year of '24=fifo' must be a year from 1970 to 9999"),
        (["2024=fifo", "2024=hifo"], "year 2024 is given twice"),
        (["fifo", "hifo"], "one plain method"),
        ([], "give one of"),
    ],
)
def test_a_bad_method_or_year_is_refused_naming_it(texts: list[str], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match="method") as refused:
        MethodPlan.parse(texts)

    assert fragment in str(refused.value)


def test_the_term_is_long_from_365_days_held_and_configurable() -> None:
    events = [
        fill("buy", "2", "100", "2023-01-01"),
        fill("sell", "1", "100", "2024-01-01"),
        fill("sell", "1", "100", "2023-12-31"),
    ]

    assert [r.term for r in folded(events).rows] == ["long", "short"]  # 365 days, then 364
    assert [r.term for r in folded(events, long_after_days=366).rows] == ["short", "short"]


@pytest.mark.parametrize(
    ("acquired", "disposed", "term"),
    [
        # 365 days of 24 hours, a microsecond less: across a leap day (2024-02-29) that is a day short of a calendar
        # year, and the spec's 365 days decide, not the calendar.
        ("2023-03-01T00:00:00+00:00", "2024-02-29T00:00:00+00:00", "long"),
        ("2023-03-01T00:00:00+00:00", "2024-02-28T23:59:59.999999+00:00", "short"),
        ("2024-02-29T12:00:00+00:00", "2025-02-28T12:00:00+00:00", "long"),
        ("2024-02-29T12:00:00+00:00", "2025-02-28T11:59:59.999999+00:00", "short"),
        ("2024-01-01T00:00:00+00:00", "2024-12-31T00:00:00+00:00", "long"),
        # Times in another zone are held for the time between them in UTC.
        ("2023-06-01T23:00:00-05:00", "2024-05-31T04:00:00+00:00", "short"),
        ("2023-06-01T23:00:00-05:00", "2024-06-01T04:00:00+00:00", "long"),
    ],
)
def test_the_term_is_long_from_365_days_of_24_hours_to_the_microsecond(acquired: str, disposed: str, term: str) -> None:
    events = [
        fill("buy", "1", "100", "2023-01-01", occurred_at=acquired),
        fill("sell", "1", "100", "2023-01-01", occurred_at=disposed),
    ]

    assert [r.term for r in folded(events).rows] == [term]


@pytest.mark.parametrize("days", [0, 1_000_000_000, 10**23])
def test_a_term_length_out_of_range_is_refused_naming_long_after_days(days: int) -> None:
    with pytest.raises(InvalidArgument, match=rf"^long_after_days: must be from 1 to 999999999 days \(got {days}\)$"):
        LotBook(MethodPlan.single(Method.FIFO), long_after_days=days)


def test_a_specific_disposal_takes_the_lots_it_names() -> None:
    lots = [{"seq": 3, "quantity": "0.5"}, {"seq": 1, "quantity": "0.5"}]
    events = [*YEARS[:3], fill("sell", "1", "400", "2024-02-01", metadata={"lots": lots})]

    book = folded(events, "specific")

    assert [(r.acquired_seq, r.quantity, r.cost_basis) for r in book.rows] == [
        (3, D("0.5"), D(100)),
        (1, D("0.5"), D(50)),
    ]


def test_a_specific_disposal_naming_a_lot_an_earlier_years_method_used_up_is_refused_naming_the_seq() -> None:
    sell = fill("sell", "1", "400", "2025-02-01", metadata={"lots": [{"seq": 1, "quantity": "1"}]})

    with pytest.raises(InvalidArgument, match=r"seq 5: metadata\.lots: lot 1 has 0 open"):
        folded([*YEARS[:4], sell], ["fifo", "2025=specific"])


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([], "must be a list"),
        ({"seq": 1}, "must be a list"),
        ([{"seq": 1}], "must be a list"),
        ([{"seq": 0, "quantity": "1"}], "seq must be"),
        ([{"seq": True, "quantity": "1"}], "seq must be"),
        ([{"seq": 1, "quantity": 1.0}], "decimal string"),
        ([{"seq": 1, "quantity": "NaN"}], "above 0"),
        ([{"seq": 1, "quantity": "-1"}], "above 0"),
        ([{"seq": 1, "quantity": "0.5"}, {"seq": 1, "quantity": "0.5"}], "named twice"),
        ([{"seq": 1, "quantity": "0.5"}], "sum to 0.5, not to the quantity disposed 1"),
        pytest.param(
            [{"seq": 1, "quantity": "1"}, {"seq": 2, "quantity": "1E-30"}],
            "quantity of lot 2 is out of range 1E-24..1E+24 (got 1E-30)",
        ),
        pytest.param(
            [{"seq": 1, "quantity": "0.10000000000000000000000000001"}, {"seq": 2, "quantity": "0.9"}],
            "quantity of lot 1 has 29 significant digits; at most 28 are kept exactly",
        ),
    ],
)
def test_malformed_lot_names_are_refused_naming_metadata_lots(value: object, fragment: str) -> None:
    with pytest.raises(InvalidFill, match=r"metadata\.lots") as refused:
        lot_picks(value, D(1))

    assert fragment in str(refused.value)


def test_lots_named_whose_exact_sum_is_not_the_quantity_disposed_are_refused_even_when_28_digits_round_it() -> None:
    # 1E+20 + 1E-8 needs 29 digits: rounded to 28 it is 1E+20, the quantity disposed, but 1E-8 more is named.
    value = [{"seq": 1, "quantity": "100000000000000000000"}, {"seq": 2, "quantity": "0.00000001"}]

    with pytest.raises(InvalidFill, match=r"metadata\.lots") as refused:
        lot_picks(value, D("100000000000000000000"))

    assert "sum to 100000000000000000000.00000001, not to the quantity disposed 100000000000000000000" in str(
        refused.value
    )


def test_a_specific_disposal_that_would_leave_a_lot_rounded_to_28_digits_is_refused_naming_the_seq() -> None:
    # 50000 - 0.999999999999999999999999 = 49999.000000000000000000000001 (29 digits): kept, it would round to
    # 49999, and the lots would no longer add up to what was bought and sold.
    picks = [{"seq": 1, "quantity": "0.999999999999999999999999"}, {"seq": 2, "quantity": "0.000000000000000000000001"}]
    events = [
        fill("buy", "50000", "1", "2024-01-01"),
        fill("buy", "50000", "2", "2024-01-02"),
        fill("sell", "1", "3", "2024-02-01", metadata={"lots": picks}),
    ]

    with pytest.raises(InvalidArgument, match=r"seq 3: metadata\.lots: lot 1 ") as refused:
        folded(events, "specific")

    assert "50000 - 0.999999999999999999999999 needs more than 28 significant digits" in str(refused.value)


def test_open_lots_are_listed_with_the_time_they_were_acquired() -> None:
    book = folded(YEARS[:2])

    assert [(lot.acquired_seq, lot.acquired_at) for lot in book.open_lots()] == [
        (1, datetime(2023, 3, 1, tzinfo=UTC)),
        (2, datetime(2023, 6, 1, tzinfo=UTC)),
    ]


def test_lifo_reduces_the_newest_lot_first() -> None:
    book = folded([*YEARS[:3], fill("sell", "1.5", "400", "2024-02-01")], "lifo")

    assert [(r.acquired_seq, r.quantity) for r in book.rows] == [(3, D(1)), (2, D("0.5"))]
    assert left(book) == [(D(1), D(100)), (D("0.5"), D(300))]


def test_after_an_average_year_the_lots_left_carry_the_average_into_the_next_years_method() -> None:
    events = [
        fill("buy", "1", "100", "2023-01-01"),
        fill("buy", "1", "300", "2023-02-01"),
        fill("sell", "1", "400", "2024-01-01"),  # average: cost 200, the lot left costs 200 too
        fill("buy", "1", "250", "2025-01-01"),
        fill("sell", "1", "400", "2025-02-01"),  # hifo: the lot of 250 before the one of 200
    ]

    book = folded(events, ["average", "2025=hifo"])

    assert [(r.disposed_seq, r.acquired_seq, r.cost_basis) for r in book.rows] == [(3, 1, D(200)), (5, 4, D(250))]
    assert left(book) == [(D(1), D(200))]


def test_under_average_every_open_lot_is_costed_at_the_pools_average_from_its_acquisition() -> None:
    # hledger's AVERAGE: the pool's cost is updated on acquisition and rewritten into every lot; the cost a
    # disposal now takes, whichever lot it consumes first.
    bought = [fill("buy", "1", "100", "2024-01-01"), fill("buy", "1", "300", "2024-01-02")]
    more = [fill("sell", "1", "400", "2024-01-03"), fill("buy", "1", "500", "2024-01-04")]

    assert left(folded(bought, "average")) == [(D(1), D(200)), (D(1), D(200))]
    assert left(folded([*bought, *more], "average")) == [(D(1), D(350)), (D(1), D(350))]  # (200 + 500) / 2
    # When the lots stand in a year of another method, each lot has its own cost (the average it was pooled at).
    later = [*bought, *more, fill("buy", "1", "600", "2025-01-01")]
    assert left(folded(later, ["average", "2025=fifo"])) == [(D(1), D(200)), (D(1), D(500)), (D(1), D(600))]
    average = [(q, unit.quantize(D("0.01"))) for q, unit in left(folded(later, "average"))]
    assert average == [(D(1), D("433.33"))] * 3  # (200 + 500 + 600) / 3
    shorts = [fill("sell", "1", "100", "2024-01-01"), fill("sell", "3", "200", "2024-01-02")]
    assert left(folded(shorts, "average")) == [(D(-1), D(175)), (D(-3), D(175))]  # proceeds 700 / 4


def test_a_specific_buy_names_the_short_lots_it_closes() -> None:
    shorts = [fill("sell", "1", "110", "2024-01-01"), fill("sell", "1", "120", "2024-01-02")]
    cover = fill("buy", "1", "100", "2024-02-01", metadata={"lots": [{"seq": 2, "quantity": "1"}]})

    book = folded([*shorts, cover], "specific")

    assert [(r.quantity, r.acquired_seq, r.proceeds, r.cost_basis) for r in book.rows] == [(D(-1), 2, D(120), D(100))]
    assert left(book) == [(D(-1), D(110))]


@pytest.mark.parametrize("method", ["fifo", "lifo", "hifo", "average"])
def test_a_withdrawal_whose_disposal_would_round_a_lot_is_refused_naming_its_seq(method: str) -> None:
    events = [fill("buy", "3.5E+21", "1", "2024-01-01"), withdrawal("-1000000.123456789", "2024-01-02")]

    assert left(folded(events, method)) == [(D("3.5E+21"), D(1))]  # no disposal asked: nothing taken
    with pytest.raises(
        InvalidArgument,
        match=r"^seq 2: lot 1 would be rounded: what is left of it, "
        r"3500000000000000000000 - 1000000\.123456789 ",
    ):
        folded(events, method, withdrawals_dispose=True)


def test_a_withdrawal_beyond_the_lots_whose_missing_part_would_round_is_refused_naming_its_seq() -> None:
    events = [fill("buy", "1E-20", "1", "2024-01-01"), withdrawal("-1E+10", "2024-01-02")]

    with pytest.raises(
        InvalidArgument,
        match=r"^seq 2: the withdrawal's part beyond the lots held would be rounded: "
        r"10000000000 - 0\.00000000000000000001 ",
    ):
        folded(events, withdrawals_dispose=True)
