"""Tax lots follow coins moved between a user's own accounts (spec section 11): an internal move (a transfer of
kind `internal`, its two sides sharing one transfer_id, one per account) is no disposal; the lots it takes from the
source account arrive in the other account with their acquisition date, unit cost and seq."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidFill, Ledger

D = Decimal


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def buy(account: str, quantity: str, price: str, time: str, **more: Any) -> dict[str, Any]:
    return fill_fields(account=account, quantity=quantity, price=price, occurred_at=time, **more)


def sell(account: str, quantity: str, price: str, time: str, **more: Any) -> dict[str, Any]:
    return fill_fields(account=account, side="sell", quantity=quantity, price=price, occurred_at=time, **more)


def move(
    transfer_id: str, source: str, to: str, amount: str, time: str, *, fee: str = "0", currency: str = "BTC"
) -> list[dict[str, Any]]:
    """The two sides of an internal move of `amount` from `source` to `to` (as `record-transfer --to-account`)."""
    out = {
        "type": "transfer",
        "transfer_id": transfer_id,
        "account": source,
        "exchange": "kraken",
        "currency": currency,
        "amount": f"-{amount}",
        "fee": fee,
        "kind": "internal",
        "occurred_at": time,
    }
    return [out, {**out, "account": to, "amount": amount, "fee": "0"}]


def test_a_sale_in_the_account_coins_moved_to_matches_their_lot_with_its_date_cost_and_term(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "20000", "2024-01-10T00:00:00+00:00"))
    ledger.record_many(move("m1", "A", "B", "1", "2024-06-01T00:00:00+00:00"))

    before = ledger.lots("fifo").lots
    assert [(lot.account, lot.quantity, lot.unit_cost, lot.acquired_at, lot.acquired_seq) for lot in before] == [
        ("B", D(1), D(20000), at("2024-01-10T00:00:00+00:00"), 1)
    ]

    ledger.record(sell("B", "1", "30000", "2025-02-01T00:00:00+00:00"))
    report = ledger.gains("fifo")

    assert [
        (r.account, r.quantity, r.acquired_at, r.acquired_seq, r.disposed_seq, r.proceeds, r.cost_basis, r.gain, r.term)
        for r in report.rows
    ] == [("B", D(1), at("2024-01-10T00:00:00+00:00"), 1, 4, D(30000), D(20000), D(10000), "long")]
    assert report.missing == ()
    assert ledger.lots("fifo").lots == ()


def lots_of(ledger: Ledger, method: str = "fifo", **options: Any) -> list[tuple[str, Decimal, Decimal, int]]:
    """(account, quantity, unit cost, acquired seq) of each open lot."""
    return [(lot.account, lot.quantity, lot.unit_cost, lot.acquired_seq) for lot in ledger.lots(method, **options).lots]


def rows_of(ledger: Ledger, method: str = "fifo", **options: Any) -> list[tuple[Any, ...]]:
    """(account, quantity, acquired seq, disposed seq, proceeds, cost basis, gain, term) of each gain row."""
    return [
        (r.account, r.quantity, r.acquired_seq, r.disposed_seq, r.proceeds, r.cost_basis, r.gain, r.term)
        for r in ledger.gains(method, **options).rows
    ]


@pytest.fixture
def two_lots(ledger: Ledger) -> Ledger:
    """Account A: a buy of 1 @ 100 (seq 1, 2024-01-10) and of 1 @ 300 (seq 2, 2024-02-10)."""
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))
    ledger.record(buy("A", "1", "300", "2024-02-10T00:00:00+00:00"))
    return ledger


def test_fifo_moves_the_oldest_lots_and_a_part_of_one_keeps_its_unit_cost(two_lots: Ledger) -> None:
    two_lots.record_many(move("m1", "A", "B", "1.5", "2024-03-01T00:00:00+00:00"))  # seqs 3 and 4

    assert lots_of(two_lots) == [("A", D("0.5"), D(300), 2), ("B", D(1), D(100), 1), ("B", D("0.5"), D(300), 2)]
    two_lots.record(sell("B", "1.5", "400", "2024-04-01T00:00:00+00:00"))  # seq 5
    assert rows_of(two_lots) == [
        ("B", D(1), 1, 5, D(400), D(100), D(300), "short"),
        ("B", D("0.5"), 2, 5, D(200), D(150), D(50), "short"),
    ]
    assert two_lots.gains("fifo").missing == ()


def test_hifo_moves_the_dearest_lot(two_lots: Ledger) -> None:
    two_lots.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"))
    two_lots.record(sell("B", "1", "400", "2025-03-01T00:00:00+00:00"))  # seq 5

    assert rows_of(two_lots, "hifo") == [("B", D(1), 2, 5, D(400), D(300), D(100), "long")]
    assert lots_of(two_lots, "hifo") == [("A", D(1), D(100), 1)]
    assert lots_of(two_lots, "fifo") == [("A", D(1), D(300), 2)]  # fifo moved the older lot


def test_specific_moves_lots_first_in_first_out_and_a_sale_naming_none_takes_the_oldest_lot_held(
    two_lots: Ledger,
) -> None:
    two_lots.record(buy("B", "1", "50", "2024-02-20T00:00:00+00:00"))  # seq 3: B's own lot, later than A's first
    two_lots.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"))  # seqs 4, 5: A's lot 1 moves
    assert lots_of(two_lots, "specific") == [("A", D(1), D(300), 2), ("B", D(1), D(100), 1), ("B", D(1), D(50), 3)]

    two_lots.record(sell("B", "1", "400", "2024-04-01T00:00:00+00:00"))  # seq 6
    assert rows_of(two_lots, "specific") == [("B", D(1), 1, 6, D(400), D(100), D(300), "short")]
    named = sell("A", "1", "500", "2024-05-01T00:00:00+00:00", metadata={"lots": [{"seq": 2, "quantity": "1"}]})
    two_lots.record(named)  # seq 7: A names the lot it kept
    assert rows_of(two_lots, "specific", year=2024)[-1] == ("A", D(1), 2, 7, D(500), D(300), D(200), "short")


def test_average_moves_lots_at_the_pools_average_cost(two_lots: Ledger) -> None:
    two_lots.record(sell("A", "0.5", "400", "2024-02-20T00:00:00+00:00"))  # seq 3: the pool averages at 200
    two_lots.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"))
    two_lots.record(sell("B", "1", "400", "2024-04-01T00:00:00+00:00"))  # seq 6

    assert [(r.quantity, r.proceeds, r.cost_basis) for r in two_lots.gains("average", year=2024).rows][1:] == [
        (D("0.5"), D(200), D(100)),
        (D("0.5"), D(200), D(100)),
    ]
    assert lots_of(two_lots, "average") == [("A", D("0.5"), D(200), 2)]


def test_what_the_lots_do_not_cover_arrives_as_no_lot_and_its_sale_is_a_missing_acquisition(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))  # seq 1
    ledger.record_many(move("m1", "A", "B", "3", "2024-03-01T00:00:00+00:00"))  # 2 came into A by deposits
    ledger.record(sell("B", "3", "400", "2024-04-01T00:00:00+00:00"))  # seq 4

    report = ledger.gains("fifo")
    assert rows_of(ledger) == [("B", D(1), 1, 4, D(400), D(100), D(300), "short")]
    assert [(m.account, m.quantity, m.seq) for m in report.missing] == [("B", D(2), 4)]
    assert ledger.lots("fifo").lots == ()


def test_a_buy_after_selling_moved_coins_opens_a_lot_and_misses_nothing(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))
    ledger.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"))
    ledger.record(sell("B", "1", "400", "2024-04-01T00:00:00+00:00"))
    ledger.record(buy("B", "1", "350", "2024-05-01T00:00:00+00:00"))  # seq 5
    ledger.record(buy("A", "1", "360", "2024-05-02T00:00:00+00:00"))  # seq 6

    assert ledger.gains("fifo").missing == ()
    assert lots_of(ledger) == [("A", D(1), D(360), 6), ("B", D(1), D(350), 5)]


def test_a_move_backfilled_before_a_sale_gives_the_sale_its_lot(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "20000", "2024-01-10T00:00:00+00:00"))  # seq 1
    ledger.record(sell("B", "1", "30000", "2025-02-01T00:00:00+00:00"))  # seq 2: before the move was known
    assert rows_of(ledger) == []  # a short lot
    ledger.record_many(move("m1", "A", "B", "1", "2024-06-01T00:00:00+00:00"))  # seqs 3, 4: occurred before it

    assert rows_of(ledger) == [("B", D(1), 1, 2, D(30000), D(20000), D(10000), "long")]
    assert ledger.gains("fifo").missing == ()
    assert ledger.lots("fifo").lots == ()
    assert lots_of(ledger, until_time=at("2024-12-31T00:00:00+00:00")) == [("B", D(1), D(20000), 1)]


def test_the_sides_recorded_apart_in_either_order_move_the_lots(ledger: Ledger) -> None:
    out, into = move("m1", "A", "B", "1", "2024-06-01T00:00:00+00:00")
    ledger.record(buy("A", "1", "20000", "2024-01-10T00:00:00+00:00"))
    ledger.record(into)  # seq 2: the side into B, synced first
    ledger.record(sell("B", "1", "30000", "2025-02-01T00:00:00+00:00"))  # seq 3
    assert rows_of(ledger) == []  # one side: no lots move yet
    ledger.record(out)  # seq 4

    assert rows_of(ledger) == [("B", D(1), 1, 3, D(30000), D(20000), D(10000), "long")]
    assert ledger.lots("fifo").lots == ()


def test_lots_in_transit_arrive_with_the_later_side(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))  # seq 1
    out, into = move("m1", "A", "B", "1", "2024-06-01T00:00:00+00:00")
    ledger.record_many([out, {**into, "occurred_at": "2024-06-03T00:00:00+00:00"}])  # seqs 2, 3

    assert lots_of(ledger, until_time=at("2024-06-02T00:00:00+00:00")) == []  # left A, not yet in B: one side
    assert lots_of(ledger) == [("B", D(1), D(100), 1)]
    ledger.record(sell("B", "1", "400", "2024-06-02T00:00:00+00:00"))  # seq 4: while the coins were on their way
    assert rows_of(ledger) == [("B", D(-1), 4, 3, D(400), D(100), D(300), "short")]  # they buy back its short lot


def test_an_internal_move_whose_other_side_is_not_in_the_ledger_leaves_the_lots_where_they_are(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))
    ledger.record(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00")[0])
    ledger.record(move("m2", "C", "A", "1", "2024-03-02T00:00:00+00:00")[1])

    assert lots_of(ledger) == [("A", D(1), D(100), 1)]


def test_a_move_of_cash_moves_no_lots(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))
    ledger.record_many(move("m1", "A", "B", "50", "2024-03-01T00:00:00+00:00", currency="USD"))

    assert lots_of(ledger) == [("A", D(1), D(100), 1)]
    assert ledger.gains("fifo").rows == ()


def test_the_fee_of_a_move_is_a_withdrawal_its_lots_stay_unless_withdrawals_dispose(ledger: Ledger) -> None:
    ledger.record(buy("A", "2", "100", "2024-01-10T00:00:00+00:00"))  # seq 1
    ledger.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00", fee="0.1"))  # seqs 2, 3

    assert lots_of(ledger) == [("A", D("1"), D(100), 1), ("B", D(1), D(100), 1)]
    assert lots_of(ledger, withdrawals_dispose=True) == [("A", D("0.9"), D(100), 1), ("B", D(1), D(100), 1)]
    assert rows_of(ledger, withdrawals_dispose=True) == [("A", D("0.1"), 1, 2, D(10), D(10), D(0), "short")]
    assert rows_of(ledger) == []


def test_a_report_of_one_account_follows_the_lots_moved_into_it(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "20000", "2024-01-10T00:00:00+00:00"))
    ledger.record(sell("A", "0.5", "21000", "2024-02-10T00:00:00+00:00"))  # seq 2: a 2024 disposal in A
    ledger.record_many(move("m1", "A", "B", "0.5", "2024-06-01T00:00:00+00:00"))
    ledger.record(sell("B", "0.5", "30000", "2025-02-01T00:00:00+00:00"))  # seq 5

    report = ledger.gains("fifo", account="B")
    assert [(r.account, r.quantity, r.cost_basis, r.gain, r.term) for r in report.rows] == [
        ("B", D("0.5"), D(10000), D(5000), "long")
    ]
    assert report.years == (2025,)
    assert ledger.gains("fifo", account="B", year=2024).rows == ()
    assert lots_of(ledger, account="A", until_time=at("2024-12-31T00:00:00+00:00")) == []
    assert lots_of(ledger, account="B", until_time=at("2024-12-31T00:00:00+00:00")) == [("B", D("0.5"), D(20000), 1)]


def named_sell(account: str, quantity: str, time: str, lot: int, amount: str) -> dict[str, Any]:
    return sell(account, quantity, "400", time, metadata={"lots": [{"seq": lot, "quantity": amount}]})


def test_a_sale_may_name_a_lot_moved_in_from_another_account_and_not_the_one_moved_out(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))  # seq 1
    ledger.record(buy("A", "1", "300", "2024-02-10T00:00:00+00:00"))  # seq 2
    ledger.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"))  # seqs 3, 4: lot 1 moves

    with pytest.raises(InvalidFill, match=r"fill 1: metadata\.lots: lot 1 has 0 open in account 'A' when this fill"):
        ledger.record(named_sell("A", "1", "2024-04-01T00:00:00+00:00", 1, "1"))
    with pytest.raises(InvalidFill, match=r"metadata\.lots: lot 2 does not exist: no buy of BTC/USD in account 'B'"):
        ledger.record(named_sell("B", "1", "2024-04-01T00:00:00+00:00", 2, "1"))
    ledger.record(named_sell("B", "1", "2024-04-01T00:00:00+00:00", 1, "1"))  # seq 5
    ledger.record(named_sell("A", "1", "2024-04-02T00:00:00+00:00", 2, "1"))  # seq 6

    assert rows_of(ledger, "specific") == [
        ("B", D(1), 1, 5, D(400), D(100), D(300), "short"),
        ("A", D(1), 2, 6, D(400), D(300), D(100), "short"),
    ]
    assert lots_of(ledger, "specific", account="B", until_time=at("2024-03-31T00:00:00+00:00")) == [
        ("B", D(1), D(100), 1)
    ]


def test_a_sale_may_name_no_more_of_a_lot_than_the_moves_brought_into_its_account(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))  # seq 1
    ledger.record_many(move("m1", "A", "B", "0.25", "2024-03-01T00:00:00+00:00"))
    ledger.record(named_sell("B", "0.125", "2024-04-01T00:00:00+00:00", 1, "0.125"))  # seq 4

    with pytest.raises(InvalidFill) as refused:
        ledger.record(named_sell("B", "0.25", "2024-04-02T00:00:00+00:00", 1, "0.25"))
    assert str(refused.value) == (
        "fill 1: metadata.lots: lot 1 has 0.125 open in account 'B' when this fill occurred: it acquired 0 there, "
        "internal moves brought 0.25 of it into the account, earlier disposals named 0.125 "
        '(got [{"quantity": "0.25", "seq": 1}])'
    )
    ledger.record(named_sell("A", "0.75", "2024-04-02T00:00:00+00:00", 1, "0.75"))  # seq 5: what A kept of lot 1
    assert rows_of(ledger, "specific") == [
        ("B", D("0.125"), 1, 4, D(50), D("12.5"), D("37.5"), "short"),
        ("A", D("0.75"), 1, 5, D(300), D(75), D(225), "short"),
    ]


def test_a_sale_in_the_batch_of_the_move_may_name_the_lot_it_brought_in(ledger: Ledger) -> None:
    ledger.record_many(
        [
            buy("A", "1", "100", "2024-01-10T00:00:00+00:00"),  # seq 1
            *move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"),  # seqs 2, 3
            named_sell("B", "1", "2024-04-01T00:00:00+00:00", 1, "1"),  # seq 4
        ]
    )

    assert rows_of(ledger, "specific") == [("B", D(1), 1, 4, D(400), D(100), D(300), "short")]
    with pytest.raises(InvalidFill, match=r"fill 2: metadata\.lots: lot 1 has 0 open in account 'A'"):
        ledger.record_many(
            [
                buy("A", "1", "300", "2024-05-01T00:00:00+00:00"),
                named_sell("A", "1", "2024-05-02T00:00:00+00:00", 1, "1"),
            ]
        )


def test_a_withdrawal_may_name_a_lot_moved_into_its_account(ledger: Ledger) -> None:
    ledger.record(buy("A", "1", "100", "2024-01-10T00:00:00+00:00"))  # seq 1
    ledger.record_many(move("m1", "A", "B", "1", "2024-03-01T00:00:00+00:00"))  # seqs 2, 3
    out = {
        "type": "transfer",
        "transfer_id": "w1",
        "account": "B",
        "exchange": "kraken",
        "currency": "BTC",
        "amount": "-1",
        "fee": "0",
        "kind": "withdrawal",
        "occurred_at": "2024-04-01T00:00:00+00:00",
        "metadata": {"lots": [{"seq": 1, "quantity": "1"}]},
    }
    with pytest.raises(
        InvalidFill, match=r"^transfer 1: metadata\.lots: lot 1 has 0 open in account 'A' when this withdrawal"
    ):
        ledger.record({**out, "transfer_id": "w0", "account": "A"})
    ledger.record(out)  # seq 4

    assert rows_of(ledger, "specific", withdrawals_dispose=True) == [("B", D(1), 1, 4, D(100), D(100), D(0), "short")]
