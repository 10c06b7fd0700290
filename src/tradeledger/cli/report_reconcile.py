"""The audit report's reconciliation section (`report --reconcile-balances/--reconcile-trades`, spec section 10):
what `tradeledger reconcile` finds, as rounded cells (no markup; `templates/report.html.j2` makes the HTML).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradeledger.cli.report_view import Cell, Table, blank, quantity, text
from tradeledger.domain.fills import decimal_text
from tradeledger.exchanges.ccxt.reconciling import BalanceRow, Reconciliation, TradeDifference


@dataclass(frozen=True, slots=True)
class ReconcileSection:
    """A reconciliation and what it compared: the (account, exchange) of the ledger, the exchange's files
    (None: not given, so that part is not compared) and the dust tolerances per currency."""

    result: Reconciliation
    account: str
    exchange: str
    balances_file: str | None
    trades_file: str | None
    tolerances: Mapping[str, Decimal]

    def verdict(self) -> str:
        """The headline: agrees, or differs and by how much of what."""
        if self.result.ok:
            return "The ledger agrees with the exchange."
        counts = (
            (sum(row.differs for row in self.result.balances), "balance differs", "balances differ"),
            (len(self.result.missing), "fill missing from the ledger", "fills missing from the ledger"),
            (len(self.result.unknown), "fill unknown to the exchange", "fills unknown to the exchange"),
            (len(self.result.conflicting), "fill conflicting", "fills conflicting"),
        )
        parts = [f"{count} {one if count == 1 else many}" for count, one, many in counts if count]
        return f"The ledger differs from the exchange: {', '.join(parts)}."

    def compared_text(self) -> str:
        """What the exchange's side was, file by file."""
        parts = []
        if self.balances_file is not None:
            parts.append(
                f"the balances in {self.balances_file} (fetch_balance()'s total per currency; "
                "a currency missing on one side is 0 there)"
            )
        if self.trades_file is not None:
            parts.append(f"the trade list in {self.trades_file} (fetch_my_trades())")
        return " and ".join(parts)

    def tolerance_text(self) -> str:
        return ", ".join(f"{decimal_text(amount)} {currency}" for currency, amount in sorted(self.tolerances.items()))

    def tables(self) -> dict[str, Table]:
        return {
            "balances": balances_table(self.result.balances),
            "missing": trades_table(
                "reconcile-missing", self.result.missing, "None: every trade of the exchange's list is in the log."
            ),
            "unknown": trades_table(
                "reconcile-unknown",
                self.result.unknown,
                "None: every fill of the log in the list's symbols and time span is on the exchange's list.",
            ),
            "conflicting": trades_table(
                "reconcile-conflicting",
                self.result.conflicting,
                "None: every trade in both has the same content.",
                fields=True,
            ),
        }


def _amount(value: Decimal, css: str = "num") -> Cell:
    return Cell(quantity(value), css, decimal_text(value))


def balances_table(rows: Sequence[BalanceRow]) -> Table:
    """Per currency: the ledger's balance, the exchange's total, the difference and its likely cause;
    a difference that counts in red, dust within its tolerance in amber."""
    cells = []
    for row in rows:
        mark = "bad" if row.differs else "warn" if row.difference != 0 else ""
        cells.append(
            [
                text(row.currency),
                _amount(row.ledger),
                _amount(row.exchange_total),
                _amount(row.difference, f"num {mark}".rstrip()),
                text(row.cause, css=mark) if row.cause is not None else text("agrees", css="muted"),
            ]
        )
    headers = ["Currency", "Ledger", "Exchange total", "Difference", "Cause"]
    return Table("reconcile-balances", headers, cells, "Neither the ledger nor the exchange holds any currency.")


def trades_table(table_id: str, found: Sequence[TradeDifference], empty: str, *, fields: bool = False) -> Table:
    """Trades that differ: id, symbol, their place in the exchange's list (0-based) and in the log."""
    rows = [
        [
            text(d.fill_id),
            text(d.symbol),
            text(str(d.entry), css="num") if d.entry is not None else blank(),
            text(str(d.seq), css="num") if d.seq is not None else blank(),
            *([text(", ".join(d.fields), css="bad")] if fields else []),
        ]
        for d in found
    ]
    headers = ["Fill id", "Symbol", "Exchange list entry", "Ledger seq", *(["Fields that differ"] if fields else [])]
    return Table(table_id, headers, rows, empty)
