"""How much work `report --html` does per position, counted, not timed: it grows with the positions, not with
their square. A ledger of 4,000 open positions on distinct symbols took 8 s to report and 16,000 took 83 s:
each row of each table asked whether the report holds several accounts (a set of every symbol's account),
and the wallet summed every open position's cost after each fill to check its invariant."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pytest

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.application import audit as audit_module
from tradeledger.application.audit import Report, build_report
from tradeledger.cli import report_view
from tradeledger.domain import wallet as wallet_module

SYMBOLS = 50


@pytest.fixture
def report(ledger: Ledger) -> Report:
    ledger.record_many([fill_fields(fill_id=f"b{i}", symbol=f"C{i}/USD", price="1") for i in range(SYMBOLS)])
    return build_report(ledger, url="sqlite:////ledger.db", generated_at=RECORDED_AT)


def test_the_tables_look_at_the_accounts_once_per_table(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[int] = []
    multi_account = audit_module.Report.multi_account

    def counting(self: Report) -> bool:
        looked.append(1)
        return multi_account.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(audit_module.Report, "multi_account", property(counting))

    tables = [report_view.symbols_table(report), report_view.open_table(report), report_view.fills_table(report)]

    assert [len(table.rows) for table in tables] == [SYMBOLS, SYMBOLS, SYMBOLS]
    assert len(looked) <= 2 * len(tables)  # once per row: 3 * 50 + 3


def test_the_wallet_checks_its_invariant_without_summing_every_open_position(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    summed: list[int] = []

    def counting(values: Iterable[Decimal], start: Decimal) -> Decimal:
        items = list(values)
        summed.append(len(items))
        return sum(items, start)

    monkeypatch.setattr(wallet_module, "sum", counting, raising=False)
    ledger.record_many([fill_fields(fill_id=f"b{i}", symbol=f"C{i}/USD", price="1") for i in range(SYMBOLS)])

    report = build_report(ledger, url="sqlite:////ledger.db", generated_at=RECORDED_AT)

    assert report.wallet.cash == Decimal(10000) - SYMBOLS * Decimal(1)
    assert report.wallet_check().difference == 0
    assert sum(summed) <= 2 * SYMBOLS  # after each fill: 1 + 2 + ... + 50 = 1,275
