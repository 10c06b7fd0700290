"""For any history of buys and sells, some naming lots, some paying a fee in the base currency, recorded in batches
whose fills may occur in any order within the batch (a batch naming lots may occur before those recorded before
it, whether it names lots or not): what the record-time check
of `metadata.lots` lets through never makes `gains --method specific` or `lots --method specific` refuse the log, and
what it refuses writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import RECORDED_AT
from tests.factories import T0, fill_fields
from tradeledger import InvalidFill, Ledger
from tradeledger.storage.memory import MemoryLedgerStore

QUANTITIES = ["0.5", "1", "1.5"]

fills = st.fixed_dictionaries(
    {
        "side": st.sampled_from(["buy", "sell"]),
        "quantity": st.sampled_from(QUANTITIES),
        "minute": st.integers(0, 5),  # within its batch: a batch's fills may occur in any order
        "lot": st.none() | st.integers(1, 6),  # a seq it names whole, or none
        "base_fee": st.booleans(),
    }
)


def _fill(given: dict[str, Any], day: int) -> dict[str, Any]:
    fields = fill_fields(
        side=given["side"],
        quantity=given["quantity"],
        price="100",
        occurred_at=(T0 + timedelta(days=day, minutes=given["minute"])).isoformat(),
    )
    if given["lot"] is not None:
        fields["metadata"] = {"lots": [{"seq": given["lot"], "quantity": given["quantity"]}]}
    if given["base_fee"]:
        del fields["fee"]
        fields["fees"] = [{"amount": "0.25", "currency": "BTC"}]
    return fields


def _given(side: str, minute: int, lot: int | None = None) -> dict[str, Any]:
    return {"side": side, "quantity": "1", "minute": minute, "lot": lot, "base_fee": False}


@settings(max_examples=200, deadline=None)
# A sale naming none backfilled before a recorded sale naming the lot it takes first in, first out (refused).
@example(batches=[([_given("buy", 0), _given("buy", 1)], 0), ([_given("sell", 0, lot=1)], 0), ([_given("sell", 5)], 2)])
@given(batches=st.lists(st.tuples(st.lists(fills, min_size=1, max_size=3), st.integers(0, 3)), min_size=1, max_size=6))
def test_what_the_check_lets_through_the_specific_reports_fold_and_what_it_refuses_writes_nothing(
    batches: list[tuple[list[dict[str, Any]], int]],
) -> None:
    with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT) as ledger:
        last = 0
        for batch, backfill in batches:
            # A batch, naming lots or not, may occur before the batches recorded before it (a backfill): one naming
            # none may take first in, first out a lot a recorded sale names.
            day = last + 1 - backfill
            last = max(last, day)
            head = ledger.head.seq
            try:
                ledger.record_many([_fill(given, day) for given in batch])
            except InvalidFill:
                assert ledger.head.seq == head
                continue
            ledger.gains("specific")
            ledger.lots("specific")
