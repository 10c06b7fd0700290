"""The lots follow the time the events occurred (spec section 11), whatever order the log took them in: a ledger
that recorded a random log in a shuffled order (a sync backfilling what an exchange kept while a bot was down) has
the gains, missing acquisitions and open lots of one that recorded it in time order, event for event, by every
method, with withdrawals disposing or not; and its positions still hold what its open lots hold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0
from tests.property.conftest import LedgerTemplate
from tradeledger import Ledger

PROPERTY = settings(max_examples=150, deadline=None)
METHODS = ["fifo", "lifo", "hifo", "average", "specific", "fifo 2026=hifo"]
prices = st.decimals(min_value=Decimal(1), max_value=Decimal(1000), places=2).map(str)
quantities = st.sampled_from(["0.25", "0.5", "1", "2", "3"])


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 14 buys, sells (going short and back) and BTC withdrawals of one account, 17 to 57 days apart (over
    a year and more: both terms, two tax years or three), each at a time of its own."""
    drawn: list[dict[str, Any]] = []
    when = T0
    for index in range(draw(st.integers(1, 14))):
        when += timedelta(days=draw(st.integers(17, 57)))
        kind = draw(st.sampled_from(["buy", "buy", "sell", "sell", "withdrawal"]))
        if kind == "withdrawal":
            drawn.append(
                {
                    "type": "transfer",
                    "transfer_id": f"w{index}",
                    "exchange": "x",
                    "currency": "BTC",
                    "amount": f"-{draw(quantities)}",
                    "kind": "withdrawal",
                    "occurred_at": when.isoformat(),
                }
            )
            continue
        drawn.append(
            {
                "fill_id": f"f{index}",
                "exchange": "x",
                "symbol": draw(st.sampled_from(["BTC/USD", "BTC/USD", "BTC/EUR"])),
                "side": kind,
                "quantity": draw(quantities),
                "price": draw(prices),
                "fee": draw(st.sampled_from(["0", "0.5"])),
                "occurred_at": when.isoformat(),
            }
        )
    return drawn


def recorded(template: LedgerTemplate, log: Sequence[dict[str, Any]], method: str, dispose: bool) -> dict[str, Any]:
    """What a ledger that recorded `log` in that order (one append each) reports, each seq named by its event's id."""
    with template.fresh(recorded_at=T0 + timedelta(days=14 * 57 + 1)) as ledger:  # after the last event drawn
        for event in log:
            ledger.record(event)
        ids = {seq: _id(event) for seq, event in enumerate(log, start=1)}
        plan = method.split()
        gains = ledger.gains(plan, withdrawals_dispose=dispose)
        lots = ledger.lots(plan, withdrawals_dispose=dispose)
        return {
            "rows": sorted(
                (
                    ids[r.disposed_seq],
                    ids[r.acquired_seq],
                    r.quote,
                    r.quantity,
                    r.acquired_at,
                    r.disposed_at,
                    r.proceeds,
                    r.cost_basis,
                    r.term,
                )
                for r in gains.rows
            ),
            "missing": sorted((ids[m.seq], m.quote, m.quantity) for m in gains.missing),
            "lots": [(ids[lot.acquired_seq], lot.quote, lot.quantity, lot.unit_cost) for lot in lots.lots],
            "held": _held(ledger) if not dispose else None,
        }


def _id(event: dict[str, Any]) -> str:
    return str(event.get("fill_id") or event["transfer_id"])


def _held(ledger: Ledger) -> dict[str, Decimal]:
    """The signed position of each symbol (section 4, in log order), flat ones left out."""
    return {p.symbol: p.signed_quantity for p in ledger.state().open if p.signed_quantity}


@PROPERTY
@given(events(), st.sampled_from(METHODS), st.booleans(), st.randoms(use_true_random=False))
def test_a_log_recorded_in_any_order_has_the_lots_and_gains_of_the_log_recorded_in_time_order(
    empty_ledger: LedgerTemplate, log: list[dict[str, Any]], method: str, dispose: bool, shuffle: Any
) -> None:
    backfilled = list(log)
    shuffle.shuffle(backfilled)

    in_time_order = recorded(empty_ledger, log, method, dispose)
    as_taken = recorded(empty_ledger, backfilled, method, dispose)

    assert as_taken == in_time_order
    if not dispose:  # the lots hold what the positions hold, in any order
        lots_held: dict[str, Decimal] = {}
        for _, quote, quantity, _ in as_taken["lots"]:
            symbol = f"BTC/{quote}"
            lots_held[symbol] = lots_held.get(symbol, Decimal(0)) + quantity
        assert {symbol: q for symbol, q in lots_held.items() if q} == as_taken["held"]
