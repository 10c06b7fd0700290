"""application/lot_pick_fold.py: the messages of the check of `metadata.lots` by the reports' fold, on a log that
already does not fold under specific (recorded before the check folded: only a rollback mends it)."""

from __future__ import annotations

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidArgument, InvalidFill, Ledger
from tradeledger.application import lot_picks


def _sell(day: int, lot: int | None = None) -> dict[str, object]:
    at = f"2026-01-{day:02d}T00:00:00+00:00"
    fields = fill_fields(side="sell", quantity="1", price="300", occurred_at=at)
    if lot is not None:
        fields["metadata"] = {"lots": [{"seq": lot, "quantity": "1"}]}
    return fields


def _buy(day: int) -> dict[str, object]:
    return fill_fields(quantity="1", price="100", occurred_at=f"2026-01-{day:02d}T00:00:00+00:00")


@pytest.fixture
def broken(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """Lots 1 and 2; seq 3 names none (takes lot 1), seq 4 names lot 1: recorded as the check before this one let
    it through, and `gains --method specific` refuses the log at seq 4."""
    ledger.record_many([_buy(1), _buy(2), _buy(3), _sell(4)])
    with monkeypatch.context() as patched:
        patched.setattr(lot_picks, "check_by_fold", lambda *_: None)
        ledger.record(_sell(5, lot=1))
    with pytest.raises(InvalidArgument, match=r"^seq 5: metadata\.lots: lot 1 has 0 open"):
        ledger.gains("specific")
    return ledger


def test_a_sale_naming_lots_of_a_pool_the_log_already_breaks_is_refused_naming_the_seq_and_the_rollback(
    broken: Ledger,
) -> None:
    with pytest.raises(InvalidFill) as refused:
        broken.record(_sell(6, lot=3))

    assert str(refused.value).startswith(
        "fill 1: metadata.lots: the lots of BTC in account 'default' cannot be checked: gains --method specific "
        "already refuses the log at seq 5 (seq 5: metadata.lots: lot 1 has 0 open when this disposal is matched"
    )
    assert str(refused.value).endswith("; a rollback to before it mends the log")
    assert broken.head.seq == 5


def test_a_sale_naming_no_lots_in_that_pool_is_still_recorded(broken: Ledger) -> None:
    broken.record(_sell(6))

    assert broken.head.seq == 6
