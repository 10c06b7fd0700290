"""A row that a valid event writes is never refused as an edited one (`domain.stored_rows`).

The folds refuse a stored row holding a value no event holds (a row edited behind the ledger's back); these
properties hold them to the other half: whatever the event models accept (the intake's extremes, at the
digit and exponent limits; every event type, rebates and base fees) is stored as a row that reads, that
`row_problem` finds nothing wrong with, and that the folds take."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from pydantic import ValidationError

from tests.factories import T0
from tests.property.test_exchange_properties import events
from tests.property.test_intake_properties import BASE, fill_inputs
from tradeledger.domain.events import Event
from tradeledger.domain.fills import Fill, time_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.lot_terms import MethodPlan
from tradeledger.domain.lots import LotBook
from tradeledger.domain.records import StoredEvent
from tradeledger.domain.stored_rows import row_problem
from tradeledger.errors import InvalidFill


def sealed(seq: int, event: Event) -> StoredEvent:
    at = time_text(T0 + timedelta(seconds=seq))
    return StoredEvent.seal(event.canonical(), seq=seq, epoch=1, recorded_at=at, prev_hash="0" * 64)


LARGEST = "9" * 25  # 25 digits, adjusted exponent 24: the largest amount the model takes
SMALLEST = "0." + "0" * 23 + "1"  # 1E-24


@settings(max_examples=400, deadline=None)
@given(fill_inputs())
@example({**BASE, "quantity": LARGEST, "price": SMALLEST})
@example({**BASE, "quantity": SMALLEST, "price": LARGEST, "fees": [{"amount": LARGEST, "currency": "USDT"}]})
@example({**BASE, "side": "sell", "fees": [{"amount": "-" + LARGEST, "currency": "USDT"}]})
@example({**BASE, "fees": [{"amount": Decimal(0)}]})  # no fee (found by a CI run: the model's Fill keeps it)
def test_a_fill_the_model_accepts_is_stored_as_a_row_that_reads(data: dict[str, Any]) -> None:
    try:
        fill = Fill.model_validate(data)
    except ValidationError:
        return
    event = sealed(1, fill)
    row = event.execution_row()

    assert row_problem(row) is None
    assert (
        event.recorded_fill().fill.canonical() == fill.canonical()
    )  # as stored: a fee of 0 is none, 42000.10 is 42000.1
    for fold in (PositionFold(balances={}), LotBook(MethodPlan.parse(["fifo"]))):
        try:  # at the amounts' limits too (1E+24, 1E-24): only a base fee the positions refuse is refused
            fold.apply_rows([row])
        except InvalidFill as refusal:
            assert "fees[" in str(refusal)  # noqa: PT017 - a refusal is allowed, of this kind only


@settings(max_examples=150, deadline=None)
@given(events())
def test_every_event_type_is_stored_as_rows_the_fold_takes(candidates: list[Event]) -> None:
    stored = [sealed(seq, event) for seq, event in enumerate(candidates, start=1)]

    assert [row_problem(event.execution_row()) for event in stored] == [None] * len(stored)
    assert [event.recorded_fill().fill.canonical() for event in stored] == [event.canonical() for event in candidates]
    fold, refused = PositionFold(balances={}), []
    for event in stored:  # a base fee the positions refuse is the model's refusal (InvalidFill), never an edit's
        try:
            fold.apply_rows([event.execution_row()])
        except InvalidFill as refusal:
            refused.append(str(refusal))
    assert [text for text in refused if "fees[" not in text] == []
