"""The engine (domain.fold.PositionFold) gives exactly what the reference fold (domain.reference) gives."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tests.factories import execution
from tradeledger.domain.fills import time_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.reference import ReferenceFold

amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3)
legs = st.lists(
    st.tuples(
        st.sampled_from(["BTC/USD", "ETH/USD"]),
        st.sampled_from(["buy", "sell"]),
        st.sampled_from([Decimal(1), Decimal(2), Decimal("0.5"), Decimal(3)]) | amounts,
        amounts,
        st.sampled_from([Decimal(0), Decimal("0.1"), Decimal(1)]) | amounts,
    ),
    max_size=60,
)


@given(legs, st.integers(min_value=0, max_value=60))
def test_fold_equals_the_reference_fold_also_from_a_start(generated: list[tuple[str, ...]], split: int) -> None:
    executions = [
        execution(side, str(quantity), str(price), str(fee), seq=seq, symbol=symbol)
        for seq, (symbol, side, quantity, price, fee) in enumerate(generated, start=1)
    ]
    rows = [
        (
            e.seq,
            e.account,
            e.exchange,
            e.symbol,
            e.side.value,
            str(e.quantity),
            str(e.price),
            str(e.fee),
            time_text(e.occurred_at),
            "fill",
            None,
            None,
            None,
        )
        for e in executions
    ]
    reference = ReferenceFold().apply_all(executions)

    whole = PositionFold()
    whole.apply_rows(rows)
    first = PositionFold()
    first.apply_rows(rows[:split])
    resumed = PositionFold(first.positions(), keep_closed=False, last_seq=first.last_seq)
    resumed.apply_rows(rows[split:])

    book = whole.book()
    assert (book.open, book.closed, book.closed_totals) == (reference.open, reference.closed, reference.closed_totals)
    assert resumed.book().open == reference.open
    assert resumed.book().closed_totals == reference.closed_totals
    assert whole.last_seq == len(rows)
    # One execution at a time (the wallet replay and the compat read models): the same outcome each step.
    stepwise, reference_steps = PositionFold(), ReferenceFold()
    for item in executions:
        assert stepwise.apply(item) == reference_steps.apply(item)
    assert stepwise.totals() == reference.totals
