"""Where a log read in seq order holds a backfill for the lots (spec section 11, `domain.lot_order.backfilled`): a
fill that occurred before an earlier fill of its pool, and, when withdrawals dispose, before an earlier withdrawal
of its currency, or a withdrawal before an earlier one or an earlier fill of its pools."""

from __future__ import annotations

import pytest

from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_order import backfilled


def fill(seq: int, hour: int, symbol: str = "BTC/USD", account: str = "a") -> ExecutionRow:
    at = f"2025-01-01T{hour:02d}:00:00.000000+00:00"
    return (seq, account, "x", symbol, "buy", "1", "100", None, at, "fill", "[]", None, None)


def withdrawal(seq: int, hour: int, currency: str = "BTC") -> ExecutionRow:
    at = f"2025-01-01T{hour:02d}:00:00.000000+00:00"
    return (seq, "a", "x", None, None, None, None, "0", at, "transfer", None, "-1", currency)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([fill(1, 1), fill(2, 2), fill(3, 2)], False),  # a tie of times is in seq order
        ([fill(1, 2), fill(2, 1)], True),
        ([fill(1, 2), fill(2, 1, "ETH/USD"), fill(3, 1, "BTC/EUR"), fill(4, 1, account="b")], False),  # other pools
        ([fill(1, 2, "BTC/USD:USD"), fill(2, 1, "BTC/USD:USD")], False),  # a contract has no lots
        ([fill(1, 2, "NOT A SYMBOL"), fill(2, 1, "NOT A SYMBOL")], False),  # left to the folds to refuse
    ],
)
def test_a_fill_before_an_earlier_fill_of_its_pool_is_a_backfill(rows: list[ExecutionRow], expected: bool) -> None:
    assert backfilled(rows) is expected
    assert backfilled(rows, {}) is expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([fill(1, 1), withdrawal(2, 2), fill(3, 3, "BTC/EUR")], False),
        ([withdrawal(1, 2), fill(2, 1, "BTC/EUR")], True),  # the withdrawal would have taken the buy's lot
        ([fill(1, 2, "BTC/EUR"), withdrawal(2, 1)], True),
        ([withdrawal(1, 2), withdrawal(2, 1)], True),
        ([withdrawal(1, 2, "USD"), fill(2, 1), withdrawal(3, 3, "ETH")], False),  # cash, and another currency
    ],
)
def test_when_withdrawals_dispose_a_withdrawal_and_the_fills_of_its_currency_are_in_one_order(
    rows: list[ExecutionRow], expected: bool
) -> None:
    kinds = {row[0]: "withdrawal" for row in rows if row[9] == "transfer"}

    assert backfilled(rows, kinds) is expected
    assert backfilled(rows) is False  # withdrawals that do not dispose leave the lots alone
