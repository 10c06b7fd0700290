"""Internal moves carry lots between a user's own accounts (spec section 11), on random logs: buys, sales within
what an account holds and internal moves within what the source holds, over three accounts, recorded in a shuffled
order (the log's order is not the order they occurred: the fold reads them again in time order), by fifo, lifo and
hifo. A move is no disposal, so:
- every gain row is of a sale (never of a move), and nothing is missing;
- the open lots' quantity summed over the accounts is what was bought less what was sold, whatever moved;
- each account's open lots hold what it bought, less what it sold, plus what moved in, less what moved out;
- every open lot and every row keeps the unit cost and the acquisition time of the buy that opened it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RECORDED_AT
from tradeledger.application.ledger import Ledger
from tradeledger.storage.memory import MemoryLedgerStore

PROPERTY = settings(max_examples=80, deadline=None)
ACCOUNTS = ["a", "b", "c"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ZERO = Decimal(0)

operations = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "sell", "move", "move"]),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["0.5", "1", "2", "0.25", "1.5"]),
        st.integers(min_value=1, max_value=500),
    ),
    min_size=1,
    max_size=25,
)


def _log(drawn: list[tuple[str, str, str, str, int]]) -> tuple[list[list[dict[str, Any]]], dict[str, Decimal]]:
    """The events of `drawn` in the order they occurred (a move's two sides together; an operation beyond what an
    account holds is left out), and what each account holds after them."""
    held = dict.fromkeys(ACCOUNTS, ZERO)
    batches: list[list[dict[str, Any]]] = []
    for index, (kind, account, other, amount, price) in enumerate(drawn):
        quantity, time = Decimal(amount), (T0 + timedelta(days=7 * index)).isoformat()
        if kind == "buy" or (kind == "sell" and quantity <= held[account]):
            held[account] += quantity if kind == "buy" else -quantity
            fill = {"fill_id": f"f{index}", "account": account, "exchange": "kraken", "symbol": "BTC/USD"}
            batches.append([{**fill, "side": kind, "quantity": amount, "price": str(price), "occurred_at": time}])
        elif kind == "move" and other != account and quantity <= held[account]:
            held[account] -= quantity
            held[other] += quantity
            out = {"type": "transfer", "transfer_id": f"m{index}", "account": account, "exchange": "kraken"}
            out |= {"currency": "BTC", "amount": f"-{amount}", "kind": "internal", "occurred_at": time}
            batches.append([out, {**out, "account": other, "amount": amount}])
    return batches, held


@PROPERTY
@given(operations, st.randoms(use_true_random=False), st.sampled_from(["fifo", "lifo", "hifo"]), st.booleans())
def test_internal_moves_carry_the_lots_and_dispose_of_nothing(
    drawn: list[tuple[str, str, str, str, int]], random: Any, method: str, apart: bool
) -> None:
    batches, held = _log(drawn)
    shuffled = [list(batch) for batch in batches]
    if apart:  # a move's sides recorded apart (as an ingest of each account gives them)
        shuffled = [[event] for batch in batches for event in batch]
    random.shuffle(shuffled)
    ledger = Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT)
    for batch in shuffled:
        ledger.record_many(batch)
    buys = {
        event["fill_id"]: (Decimal(event["price"]), event["occurred_at"])
        for batch in batches
        for event in batch
        if event.get("side") == "buy"
    }
    by_seq = {
        recorded.seq: buys[getattr(recorded.fill, "fill_id", "")]
        for recorded in ledger.history()
        if getattr(recorded.fill, "fill_id", None) in buys
    }

    report = ledger.gains(method)
    lots = ledger.lots(method).lots
    sold = {event["fill_id"] for batch in batches for event in batch if event.get("side") == "sell"}
    sale_seqs = {recorded.seq for recorded in ledger.history() if getattr(recorded.fill, "fill_id", None) in sold}

    assert report.missing == ()
    assert {row.disposed_seq for row in report.rows} <= sale_seqs
    assert all(row.quantity > 0 for row in report.rows)
    for account in ACCOUNTS:
        assert sum((lot.quantity for lot in lots if lot.account == account), ZERO) == held[account]
    for lot in lots:
        assert (lot.unit_cost, lot.acquired_at.isoformat()) == by_seq[lot.acquired_seq]
    for row in report.rows:
        assert (row.cost_basis / row.quantity, row.acquired_at.isoformat()) == by_seq[row.acquired_seq]
