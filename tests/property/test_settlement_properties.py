"""Whatever fills a dated future's position went through, a fill marked as its settlement is recorded exactly when it
is the fill record-settlement writes (the opposite side of the open position, its whole quantity), recorded alone or
at the end of the batch of those fills, and refused otherwise with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RECORDED_AT
from tradeledger import InvalidFill
from tradeledger.application.ledger import Ledger
from tradeledger.storage.memory import MemoryLedgerStore

PROPERTY = settings(max_examples=120, deadline=None)
FUTURE = "BTC/USDT:USDT-261225"
OPENED = datetime(2026, 12, 20, tzinfo=UTC)
SETTLED_AT = datetime(2026, 12, 25, 8, tzinfo=UTC)

trades = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(["0.5", "1", "2", "0.25", "1.5"])), max_size=12
)


@PROPERTY
@given(
    trades=trades,
    off_by=st.sampled_from(["0", "0", "0.25", "-0.25", "1"]),
    same_side=st.booleans(),
    in_batch=st.booleans(),
)
def test_a_settlement_is_recorded_exactly_when_it_closes_the_whole_open_position(
    trades: list[tuple[str, str]], off_by: str, same_side: bool, in_batch: bool
) -> None:
    fills = [
        {"fill_id": f"f{i}", "exchange": "binance", "symbol": FUTURE, "side": side, "quantity": quantity,
         "price": str(90000 + i), "occurred_at": OPENED + timedelta(minutes=i)}
        for i, (side, quantity) in enumerate(trades)
    ]  # fmt: skip
    held = sum((Decimal(q) if side == "buy" else -Decimal(q) for side, q in trades), Decimal(0))
    closing = "sell" if held > 0 else "buy"
    side = ("buy" if closing == "sell" else "sell") if same_side else closing
    quantity = abs(held) + Decimal(off_by)
    if quantity <= 0:
        return  # not a fill at all
    settlement = {"fill_id": f"settlement:{FUTURE}", "exchange": "binance", "symbol": FUTURE, "side": side,
                  "quantity": quantity, "price": "95500", "occurred_at": SETTLED_AT,
                  "metadata": {"settlement": True}}  # fmt: skip
    exact = held != 0 and not same_side and off_by == "0"
    ledger = Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT)
    if not in_batch:
        ledger.record_many(fills)

    def record() -> None:
        if in_batch:
            ledger.record_many([*fills, settlement])
        else:
            ledger.record(settlement)

    if not exact:
        with pytest.raises(InvalidFill, match=r"^fill \d+: (side|quantity|metadata\.settlement): a settlement closes"):
            record()
        assert ledger.head.seq == (0 if in_batch else len(fills))
        return
    record()
    assert ledger.positions() == ()
    again = ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT)
    assert (again.seq, again.duplicate) == (len(fills) + 1, True)
    assert ledger.verify().ok
