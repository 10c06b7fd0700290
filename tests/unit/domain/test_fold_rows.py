"""PositionFold.apply_rows, the stored rows' hot loop: the same book and balances as the reference on the
cases its fast path tells apart (a fee's currency per market, several exchanges, its remembered fees),
and its refusals naming what they refuse, with `last_seq` at the last row folded; what a rebuild writes
from (FoldedRows, ClosedCycles) reads as the positions and closed cycles."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import T0
from tradeledger.domain import fee_parts
from tradeledger.domain.events import Event, Funding, Transfer
from tradeledger.domain.fills import Fill, time_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.positions import accounting_of
from tradeledger.domain.records import StoredEvent
from tradeledger.domain.reference import ReferenceBalances
from tradeledger.errors import InvalidFill, StorageError


def fill(seq: int, symbol: str, side: str, quantity: str, price: str, *fees: dict[str, str], **more: Any) -> Fill:
    return Fill(
        fill_id=f"F-{seq}",
        account=more.get("account", "acct"),
        exchange=more.get("exchange", "binance"),
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        fees=list(fees),
        occurred_at=T0 + timedelta(seconds=seq),
    )


def fee(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def rows_of(events: list[Event]) -> list[ExecutionRow]:
    return [
        StoredEvent.seal(
            event.canonical(), seq=seq, epoch=1, recorded_at=T0.isoformat(), prev_hash="0" * 64
        ).execution_row()
        for seq, event in enumerate(events, start=1)
    ]


def assert_folds_as_the_reference(events: list[Event]) -> PositionFold:
    engine = PositionFold(balances={})
    engine.apply_rows(rows_of(events))
    reference = ReferenceBalances()
    for seq, event in enumerate(events, start=1):
        reference.apply(accounting_of(seq, event))
    book = engine.book()
    assert (book.open, book.closed, book.closed_totals) == (
        reference.book.open,
        reference.book.closed,
        reference.book.closed_totals,
    )
    assert engine.balances == reference.balances
    assert engine.last_seq == len(events)
    return engine


def test_one_fee_text_is_a_quote_fee_only_on_the_markets_it_is_the_quote_of() -> None:
    usdt, btc = fee("0.1", "USDT"), fee("0.001", "BTC")
    engine = assert_folds_as_the_reference(
        [
            fill(1, "BTC/USDT", "buy", "1", "100", usdt),  # the quote
            fill(2, "ETH/BTC", "buy", "2", "0.05", usdt),  # a third currency: unvalued
            fill(3, "ETH/BTC", "sell", "1", "0.06", btc),  # the same text as a base fee below, here the quote
            fill(4, "BTC/USDT", "sell", "0.5", "110", btc),  # a base fee: a disposal
            fill(5, "BTC/USDT:USDT", "sell", "3", "100", usdt),  # a contract's settle currency
            fill(6, "BTC/USDT:USDT", "buy", "1", "90", usdt),
            fill(7, "BTC/USDT", "sell", "0.499", "120", usdt),  # closes the cycle
        ]
    )
    assert engine.balances is not None
    # -100 - 0.1 (1), -0.1 unvalued on ETH/BTC (2), +55 (4), -0.1 (5), +10 realized - 0.1 (6), +59.88 - 0.1 (7)
    assert engine.balances[("acct", "binance", "USDT")] == Decimal("24.38")
    assert [cycle.symbol for cycle in engine.closed] == ["BTC/USDT"]


def test_no_fee_a_v1_fee_funding_and_transfers_fold_as_the_reference() -> None:
    engine = assert_folds_as_the_reference(
        [
            fill(1, "BTC/USD", "buy", "2", "100"),
            fill(2, "BTC/USD", "sell", "3", "120", fee("0.3", "USD")),  # a flip
            Funding(
                funding_id="FU-1",
                account="acct",
                exchange="binance",
                symbol="BTC/USDT:USDT",
                amount=Decimal("-0.5"),
                currency="USDT",
                occurred_at=T0,
            ),
            Transfer(
                transfer_id="T-1",
                account="acct",
                exchange="binance",
                currency="USD",
                amount=Decimal(-50),
                fee=Decimal(1),
                kind="withdrawal",
                occurred_at=T0,
            ),
            fill(5, "BTC/USD", "buy", "0.5", "110", fee("0", "USD")),
        ]
    )
    v1 = (6, "acct", "binance", "BTC/USD", "buy", "0.5", "100", "0.25", time_text(T0), "fill", None, None, None)
    engine.apply_rows([v1])
    assert engine.position(("acct", "BTC/USD")) is None  # the short of 0.5 left closed by the v1 fill
    assert engine.balances is not None
    assert engine.balances[("acct", "binance", "BTC")] == 0


def test_one_position_filled_on_two_exchanges_moves_each_exchanges_balances() -> None:
    engine = assert_folds_as_the_reference(
        [
            fill(1, "BTC/USD", "buy", "1", "100", fee("0.1", "USD"), exchange="kraken"),
            fill(2, "BTC/USD", "buy", "1", "102", fee("0.1", "USD"), exchange="coinbase"),
            fill(3, "BTC/USD", "sell", "2", "101", fee("0.2", "USD"), exchange="kraken"),
        ]
    )
    assert engine.balances == {
        ("acct", "kraken", "BTC"): Decimal(-1),
        ("acct", "kraken", "USD"): Decimal("101.7"),
        ("acct", "coinbase", "BTC"): Decimal(1),
        ("acct", "coinbase", "USD"): Decimal("-102.1"),
    }


def test_the_remembered_fees_are_forgotten_past_their_bound_without_changing_the_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fee_parts, "ONE_FEES", 2)
    events: list[Event] = [
        fill(seq, "BTC/USD", "buy" if seq % 3 else "sell", "1", "100", fee(f"0.{seq % 4}", "USD"))
        for seq in range(1, 13)
    ]
    assert_folds_as_the_reference(events)


def test_rows_then_events_then_rows_on_one_fold_keep_the_balances_of_the_reference() -> None:
    events: list[Event] = [
        fill(1, "BTC/USDT", "buy", "2", "100", fee("0.2", "USDT")),
        fill(2, "BTC/USDT", "sell", "0.5", "110", fee("0.001", "BTC")),  # the general path
        fill(3, "BTC/USDT", "sell", "0.5", "120", fee("0.1", "USDT")),
        fill(4, "BTC/USDT", "buy", "1", "90", fee("0.1", "USDT")),
    ]
    rows = rows_of(events)
    engine = PositionFold(balances={("acct", "binance", "USDT"): Decimal(1000)})
    reference = ReferenceBalances()
    reference.balances[("acct", "binance", "USDT")] = Decimal(1000)
    for seq, event in enumerate(events, start=1):
        if seq in {2, 3}:  # one event at a time: the wallet replay's and the read models' way
            engine.apply(accounting_of(seq, event))
        else:
            engine.apply_rows(rows[seq - 1 : seq])
        reference.apply(accounting_of(seq, event))
        assert engine.balances == reference.balances, f"after seq {seq}"
    assert engine.book().open == reference.book.open


def raw(seq: int, side: str, quantity: str, *, kind: str = "fill") -> ExecutionRow:
    fees = '[{"amount":"0","currency":"USD"}]'
    return (seq, "acct", "", "BTC/USD", side, quantity, "1", None, time_text(T0), kind, fees, None, None)


@pytest.mark.parametrize(
    ("rows", "refused"),
    [
        (
            [raw(1, "buy", "1E+24"), raw(2, "buy", "1E-24")],
            "quantity: 1000000000000000000000000 + 0.000000000000000000000001 needs more than 28",
        ),
        (
            # The size stays exact (1 + 0.0001) but the quantity entered in the cycle would round.
            [raw(1, "buy", "1E+24"), raw(2, "sell", "999999999999999999999999"), raw(3, "buy", "0.0001")],
            "quantity: 1000000000000000000000000 + 0.0001 needs more than 28",
        ),
        (
            [raw(1, "buy", "1E+24"), raw(2, "sell", "1E-24")],
            "quantity: 1000000000000000000000000 - 0.000000000000000000000001 needs more than 28",
        ),
        (
            [raw(1, "buy", "1"), raw(2, "hold", "1")],
            "seq 2: the stored fill cannot be read: side 'hold' is neither buy nor sell; run verify",
        ),
        (
            [raw(1, "buy", "1"), raw(2, "buy", "1", kind="dividend")],
            (
                "seq 2: the stored event cannot be read: type 'dividend' is not an event type this ledger knows; "
                "run verify"
            ),
        ),
    ],
)
def test_a_row_that_cannot_be_folded_is_refused_and_last_seq_names_the_row_before(
    rows: list[ExecutionRow], refused: str
) -> None:
    engine = PositionFold(balances={})

    with pytest.raises((InvalidFill, StorageError), match=re.escape(refused)):
        engine.apply_rows(rows)

    assert engine.last_seq == len(rows) - 1


MIXED: list[Event] = [
    fill(1, "BTC/USDT", "buy", "1", "100", fee("0.1", "USDT"), fee("0.2", "BNB")),  # unvalued, open cycle
    fill(2, "ETH/USD", "sell", "2", "50", fee("0.1", "USD")),
    fill(3, "ETH/USD", "buy", "3", "45", fee("0.3", "USD")),  # a flip: a closed cycle
    fill(4, "BTC/USDT", "sell", "1", "110"),  # a close: a closed cycle with unvalued fees
    fill(5, "ETH/USD", "sell", "1", "47"),  # a close
]


def test_the_folded_rows_read_as_the_positions_and_stay_as_they_were_when_the_fold_goes_on() -> None:
    engine = PositionFold(balances={})
    engine.apply_rows(rows_of(MIXED[:2]))
    folded = engine.folded()
    expected = engine.positions()

    engine.apply_rows(rows_of(MIXED)[2:])

    assert dict(folded) == expected
    assert len(folded) == 2
    assert dict(engine.folded()) == engine.positions() != expected


def test_the_closed_cycles_kept_as_values_read_as_the_closed_positions_in_close_order() -> None:
    kept, valued = PositionFold(balances={}), PositionFold(balances={}, keep_closed=False)
    valued.keep_closed_values()
    kept.apply_rows(rows_of(MIXED))
    valued.apply_rows(rows_of(MIXED))

    closed = valued.take_closed_values()

    assert list(closed) == kept.closed
    assert (len(closed), kept.closed[1] in closed, valued.closed) == (3, True, [])
    assert [cycle[0] for cycle in closed.stored()] == [("acct", "ETH/USD"), ("acct", "BTC/USDT"), ("acct", "ETH/USD")]
    assert list(valued.take_closed_values()) == []  # taken: the fold starts a new list


def test_closed_cycles_are_not_taken_as_values_from_a_fold_never_asked_to_keep_them() -> None:
    with pytest.raises(RuntimeError, match="keep_closed_values"):
        PositionFold().take_closed_values()


def test_after_drop_cells_the_next_rows_move_each_balance_on_from_balances_as_it_then_is() -> None:
    rows = rows_of([fill(1, "BTC/USD", "buy", "1", "100"), fill(2, "BTC/USD", "sell", "1", "110")])
    engine = PositionFold(balances={})
    engine.apply_rows(rows[:1])
    assert engine.balances == {("acct", "binance", "BTC"): Decimal(1), ("acct", "binance", "USD"): Decimal(-100)}

    engine.drop_cells()
    engine.balances[("acct", "binance", "USD")] = Decimal(400)  # as a batch reads it from the store
    engine.apply_rows(rows[1:])

    assert engine.balances == {("acct", "binance", "BTC"): Decimal(0), ("acct", "binance", "USD"): Decimal(510)}


def test_a_refused_base_fee_leaves_the_fold_as_it_was_through_apply_and_through_rows() -> None:
    opening = fill(1, "BTC/USD", "buy", "1", "100", fee("0.1", "USD"))
    closing = fill(2, "BTC/USD", "sell", "1", "110", fee("0.5", "BTC"))  # closes the cycle, then no BTC pays it

    by_event = PositionFold(balances={})
    by_event.apply(accounting_of(1, opening))
    before = (by_event.book(), dict(by_event.balances or {}))
    with pytest.raises(InvalidFill, match=r"fees\[0\]\.amount: a fee of 0\.5 BTC is more than the 0 BTC"):
        by_event.apply(accounting_of(2, closing))
    assert (by_event.book(), by_event.balances) == before
    assert by_event.book().closed == []

    by_rows = PositionFold(balances={}, keep_closed=False)  # as a batch folds: its closed cycles as values
    by_rows.keep_closed_values()
    rows = rows_of([opening, closing])
    by_rows.apply_rows(rows[:1])
    with pytest.raises(InvalidFill, match=r"fees\[0\]\.amount"):
        by_rows.apply_rows(rows[1:])
    assert (by_rows.book(), by_rows.balances) == before
    assert by_rows.last_seq == 1
    assert len(by_rows.take_closed_values()) == 0

    by_rows.apply_rows(rows_of([opening, fill(2, "BTC/USD", "sell", "1", "110")])[1:])  # it folds on from there
    assert [cycle.realized_pnl for cycle in by_rows.take_closed_values()] == [Decimal(10)]


@pytest.mark.parametrize("path", ["rows", "apply"])
def test_a_buy_refused_because_the_cycle_entered_total_would_round_leaves_the_fold_as_it_was(path: str) -> None:
    # The open size (0.0000001 + 0.00000001) stays exact; the cycle's entered total (1E+20 + 0.00000001,
    # 29 digits) would not: the buy is refused, and the fold must not keep its new size, average or fees.
    events: list[Event] = [
        fill(1, "BTC/USD", "buy", "100000000000000000000", "100"),
        fill(2, "BTC/USD", "sell", "99999999999999999999.9999999", "100"),
    ]
    refused = fill(3, "BTC/USD", "buy", "0.00000001", "200", fee("1", "USD"))
    engine = PositionFold(balances={})
    if path == "rows":
        engine.apply_rows(rows_of(events))
    else:
        for seq, event in enumerate(events, start=1):
            engine.apply(accounting_of(seq, event))
    before = (engine.book(), dict(engine.balances or {}))

    refuse: Any = (
        (lambda: engine.apply_rows(rows_of([*events, refused])[2:]))
        if path == "rows"
        else (lambda: engine.apply(accounting_of(3, refused)))
    )
    with pytest.raises(InvalidFill, match="significant digits"):
        refuse()

    assert (engine.book(), engine.balances) == before


@pytest.mark.parametrize("path", ["rows", "apply"])
def test_a_flip_refused_because_its_opening_part_would_round_leaves_the_fold_as_it_was(path: str) -> None:
    # Selling 1E+21 against a long of 0.00000001 would open a short of 999999999999999999999.99999999
    # (29 digits): refused, and the long must still be open, its cycle not closed.
    opening = fill(1, "BTC/USD", "buy", "0.00000001", "100")
    refused = fill(2, "BTC/USD", "sell", "1000000000000000000000", "110")
    engine = PositionFold(balances={})
    if path == "rows":
        engine.apply_rows(rows_of([opening]))
    else:
        engine.apply(accounting_of(1, opening))
    before = (engine.book(), dict(engine.balances or {}))
    refuse: Any = (
        (lambda: engine.apply_rows(rows_of([opening, refused])[1:]))
        if path == "rows"
        else (lambda: engine.apply(accounting_of(2, refused)))
    )
    with pytest.raises(InvalidFill, match="significant digits"):
        refuse()

    assert (engine.book(), engine.balances) == before


def test_a_flip_shares_a_fee_whose_closing_part_is_ten_billion_or_more() -> None:
    # Long 1 BTC on an IDR market, then sell 3 with a fee of 30 billion IDR: the closing third is
    # 10,000,000,000, which at 18 places has 29 digits (the fold raised InvalidOperation); a BNB fee
    # as large, unvalued, is shared the same way.
    engine = assert_folds_as_the_reference(
        [
            fill(1, "BTC/IDR", "buy", "1", "1000000000"),
            fill(2, "BTC/IDR", "sell", "3", "1000000000", fee("30000000000", "IDR"), fee("30000000000", "BNB")),
        ]
    )
    (closed,), (opened,) = engine.book().closed, engine.book().open.values()
    assert (closed.fees, dict(closed.unvalued_fees)) == (Decimal(10000000000), {"BNB": Decimal(10000000000)})
    assert (opened.fees, dict(opened.unvalued_fees)) == (Decimal(20000000000), {"BNB": Decimal(20000000000)})


def test_a_flip_fee_of_twenty_billion_splits_into_parts_that_add_up_to_it() -> None:
    # A third of 20 billion to 18 places leaves 13333333333.333333333333333333 (29 digits) for the opening
    # part, which 28 digits rounded: the parts summed to 19999999999.999999999999999997. A fee that large is
    # shared on its own last digit's place (17 places), where both parts are exact.
    engine = assert_folds_as_the_reference(
        [
            fill(1, "BTC/IDR", "buy", "1", "1000000000"),
            fill(2, "BTC/IDR", "sell", "3", "1000000000", fee("20000000000", "IDR")),
        ]
    )
    (closed,), (opened,) = engine.book().closed, engine.book().open.values()
    assert closed.fees == Decimal("6666666666.66666666666666667")
    assert opened.fees == Decimal("13333333333.33333333333333333")
    assert [totals.fees for totals in engine.book().totals.values()] == [Decimal(20000000000)]


def test_a_fee_list_holding_an_amount_that_is_not_a_number_is_named_in_words() -> None:
    engine = PositionFold(balances={})
    edited = (*raw(2, "buy", "1")[:10], '[{"amount":"x","currency":"USD"}]', None, None)

    with pytest.raises(StorageError) as refused:
        engine.apply_rows([raw(1, "buy", "1"), edited])

    assert str(refused.value) == (
        """seq 2: the stored fill cannot be read: fees '[{"amount":"x","currency":"USD"}]' is not a fee list this """
        "ledger writes (an amount is not a number); run verify"
    )
