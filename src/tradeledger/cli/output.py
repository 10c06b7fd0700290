"""What the CLI prints: the state JSON of the contract, and Rich tables for people."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from tradeledger.cli.json_indent import indented
from tradeledger.cli.tables import Cell, Column, RowsOf, print_table
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.balances import Balances
from tradeledger.domain.display import cents, display_text
from tradeledger.domain.fills import LEDGER_CONTEXT, decimal_text, time_text
from tradeledger.domain.markets import market
from tradeledger.domain.positions import ClosedPosition, Position, Totals, UnvaluedFees
from tradeledger.domain.records import Checkpoint, LedgerState
from tradeledger.domain.wallet import WalletBook

if TYPE_CHECKING:  # only named in signatures: a command that prints neither never imports them
    from tradeledger.application.anchoring import AnchorCheck
    from tradeledger.application.verification import VerifyReport


def iso(value: datetime) -> str:
    return time_text(value)


def position_json(position: Position, marks: Mapping[str, Decimal]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "account": position.account,
        "symbol": position.symbol,
        "side": position.side.value,
        "quantity": decimal_text(position.quantity),
        "avg_price": decimal_text(position.avg_price),
        "realized_pnl": decimal_text(position.realized_pnl),
        "fees": decimal_text(position.fees),
        "funding": decimal_text(position.funding),
        "unvalued_fees": unvalued_json(position.unvalued_fees, quote=market(position.symbol).quote, marks=marks),
        "net_pnl": decimal_text(position.net_pnl),
        "opened_at": iso(position.opened_at),
        "opened_seq": position.opened_seq,
    }
    mark = marks.get(position.symbol)
    if mark is not None:
        item["unrealized_pnl"] = decimal_text(position.unrealized_pnl(mark))
        item["unrealized_pnl_pct"] = decimal_text(position.unrealized_pnl_pct(mark))
    return item


def closed_json(closed: ClosedPosition) -> dict[str, Any]:
    return {
        "account": closed.account,
        "symbol": closed.symbol,
        "side": closed.side.value,
        "quantity": decimal_text(closed.quantity),
        "avg_price": decimal_text(closed.avg_price),
        "realized_pnl": decimal_text(closed.realized_pnl),
        "fees": decimal_text(closed.fees),
        "funding": decimal_text(closed.funding),
        "unvalued_fees": unvalued_json(closed.unvalued_fees),
        "net_pnl": decimal_text(closed.net_pnl),
        "opened_at": iso(closed.opened_at),
        "opened_seq": closed.opened_seq,
        "closed_at": iso(closed.closed_at),
        "closed_seq": closed.closed_seq,
    }


def unvalued_json(
    fees: UnvaluedFees, *, quote: str | None = None, marks: Mapping[str, Decimal] | None = None
) -> list[dict[str, str]]:
    """Unvalued fees (spec section 9): [{"currency", "amount"}], by currency; with a `--mark CURRENCY/QUOTE=P`
    for the position's quote, also "value_at_mark" (for display: never booked)."""
    shown_fees = []
    for currency, amount in fees:
        item = {"currency": currency, "amount": decimal_text(amount)}
        mark = None if quote is None or marks is None else marks.get(f"{currency}/{quote}")
        if mark is not None:
            with localcontext(LEDGER_CONTEXT):
                item["value_at_mark"] = decimal_text(amount * mark)
        shown_fees.append(item)
    return shown_fees


def unvalued_line(fees: UnvaluedFees, marks: Mapping[str, Decimal]) -> str | None:
    """Unvalued fees for people: each amount and currency, and its value at any `CURRENCY/X` mark given."""
    if not fees:
        return None
    parts = []
    for currency, amount in fees:
        part = f"{shown(amount)} {currency}"
        with localcontext(LEDGER_CONTEXT):
            values = [
                f"{shown(amount * price)} {symbol.partition('/')[2]} at the {symbol} mark"
                for symbol, price in marks.items()
                if symbol.partition("/")[0] == currency
            ]
        parts.append(part + (f" (≈ {', '.join(values)})" if values else ""))
    return "Unvalued fees (not in net): " + "; ".join(parts)


def print_balances(console: Console, balances: Balances) -> None:
    """The balances projection as a table: what each account holds on each exchange, per currency."""
    rows = RowsOf(balances.balances, lambda b: [b.account, b.exchange or "(none)", b.currency, shown(b.amount)])
    columns = [
        Column("Account", wraps=True, left=True),
        Column("Exchange", wraps=True, left=True),
        Column("Currency", left=True),
        Column("Amount"),
    ]
    print_table(console, f"Balances: seq {balances.seq}", columns, rows, empty="no balances: nothing recorded yet")


def totals_json(totals: Totals) -> dict[str, Any]:
    return {
        "realized_pnl": decimal_text(totals.realized_pnl),
        "fees": decimal_text(totals.fees),
        "funding": decimal_text(totals.funding),
        "unvalued_fees": unvalued_json(totals.unvalued_fees),
        "net_pnl": decimal_text(totals.net_pnl),
    }


def balances_json(balances: Balances) -> dict[str, Any]:
    """`balances --json`: {"seq", "balances": [{"account", "exchange", "currency", "amount"}]}."""
    return {
        "seq": balances.seq,
        "balances": [
            {"account": b.account, "exchange": b.exchange, "currency": b.currency, "amount": decimal_text(b.amount)}
            for b in balances.balances
        ],
    }


def state_json(state: LedgerState, *, closed: bool, marks: Mapping[str, Decimal]) -> dict[str, Any]:
    """The state JSON: {"seq", "epoch", "open", "closed", "totals"}; decimals as strings."""
    totals = totals_json(state.totals)
    if marks:
        totals["unrealized_pnl"] = decimal_text(state.unrealized_pnl(marks))
    return {
        "seq": state.seq,
        "epoch": state.epoch,
        "open": [position_json(p, marks) for p in state.open],
        "closed": [closed_json(c) for c in state.closed] if closed else [],
        "totals": totals,
    }


def verify_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "events": report.events,
        "head": checkpoint_json(report.head),
        "first_bad_seq": report.first_bad_seq,
        "problems": [{"seq": p.seq, "check": p.check, "detail": p.detail} for p in report.problems],
        "rollbacks": [verified_admin_json(record) for record in report.rollbacks],
        "anchors": [anchor_json(check) for check in report.anchors],
    }


def verify_failure(report: VerifyReport) -> str:
    """Where a failed verify went wrong, for its first line: the first bad seq, else (every problem is of the whole
    ledger: a stored projection or the balances against a replay) that no seq is bad, and the first one's check."""
    if report.first_bad_seq is not None:
        return f"first bad seq {report.first_bad_seq}"
    return f"no bad seq; the first difference is in the {report.problems[0].check}"


def anchor_json(check: AnchorCheck) -> dict[str, Any]:
    """One anchor as verify checked it: its statement, the outcome and, if removed, the rollback's id."""
    return {
        "file": check.source,
        "epoch": check.anchor.epoch,
        "seq": check.anchor.seq,
        "head": check.anchor.head,
        "at": check.anchor.at,
        "public_key": check.anchor.public_key,
        "status": check.status,
        "ok": check.ok,
        "detail": check.detail,
        "rollback": None if check.record is None else check.record.id,
    }


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"epoch": checkpoint.epoch, "seq": checkpoint.seq, "hash": checkpoint.hash}


def verified_admin_json(record: AdminRecord) -> dict[str, Any]:
    """`admin_json` of a record verify read (it may have been edited): `removed` is null when its removed events do
    not read (verify names that problem), so no error stops the JSON midway."""
    return admin_json(record) if record.removed_read() else {**admin_json(record), "removed": None}


def admin_json(record: AdminRecord) -> dict[str, Any]:
    """An admin record for people and scripts: the removed events by seq, fill id and hash (an iterator, parsed from
    the record as `emit` writes them: issue 19)."""
    return {
        "id": record.id,
        "action": record.action,
        "at": record.at,
        "actor": record.actor,
        "reason": record.reason,
        "from": {"epoch": record.from_epoch, "seq": record.from_seq, "hash": record.from_hash},
        "to": checkpoint_json(record.head_after),
        "removed": (
            {
                "seq": e.seq,
                "epoch": e.epoch,
                "fill_id": e.fill_id,
                "account": e.account,
                "exchange": e.exchange,
                "symbol": e.symbol,
                "hash": e.hash,
            }
            for e in record.each_removed_event()
        ),
        "hash": record.hash,
    }


def print_rollbacks(console: Console, records: tuple[AdminRecord, ...]) -> None:
    """The admin log as verify and rollback show it: one line per audited rollback."""
    for record in records:
        console.print(
            f"  rollback #{record.id} at {record.at} by {record.actor}: seq {record.from_seq} (epoch "
            f"{record.from_epoch}) -> seq {record.to_seq} (epoch {record.to_epoch}), "
            f"{record.from_seq - record.to_seq} event(s) removed; reason: {record.reason}",
            highlight=False,
            soft_wrap=True,
        )


def dumps(value: object) -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`, byte for byte, without json's Python encoder (json_indent)."""
    return indented(value)


def shown(value: Decimal) -> str:
    """A quantity or price for people: at most 8 places, a smaller nonzero one to its first significant digits
    (`domain.display`; the stored value stays exact)."""
    return display_text(value)


def money(value: Decimal) -> Text:
    """PnL and fees for people: to the cent (`domain.display.cents`, as the paper bot writes them; a nonzero amount
    below a cent to its first significant digits), coloured by sign."""
    colour = "green" if value > 0 else "red" if value < 0 else "dim"
    return Text(cents(value), style=colour)


HASH_SHOWN = 12


def short_hash(value: str) -> str:
    """A hash for people: its first 12 hex characters, the same everywhere (JSON keeps the whole hash)."""
    return value[:HASH_SHOWN]


def _state_columns(lead: list[str], *, marked: bool, funded: bool, last: Column) -> list[Column]:
    return [
        *(Column(name, wraps=name == "Account", left=True) for name in lead),
        Column("Side", left=True),
        Column("Qty"),
        Column("Avg price"),
        Column("Realized"),
        *([Column("Funding")] if funded else []),
        Column("Fees"),
        Column("Net"),
        *([Column("Mark", drop=2), Column("Unrealized"), Column("%", drop=3)] if marked else []),
        last,
    ]


def print_state(
    console: Console, state: LedgerState, *, closed: bool, marks: Mapping[str, Decimal], title: str
) -> None:
    """The open positions (and closed cycles) as tables, then one line of lifetime totals. A ledger holding
    funding shows it beside Realized and Fees, so that each row's Net adds up (realized + funding - fees)."""
    accounts = {p.account for p in state.open} | {c.account for c in state.closed}
    lead = ["Account", "Symbol"] if len(accounts) > 1 else ["Symbol"]
    totals = state.totals
    funded = bool(totals.funding) or any(p.funding for p in state.open) or any(c.funding for c in state.closed)

    def cells(p: Position) -> list[Cell]:
        row: list[Cell] = [
            *([p.account] if len(lead) > 1 else []),
            p.symbol,
            p.side.value,
            shown(p.quantity),
            shown(p.avg_price),
            money(p.realized_pnl),
            *([money(p.funding)] if funded else []),
            money(p.fees),
            money(p.net_pnl),
        ]
        if marks:
            mark = marks.get(p.symbol)
            row += (
                ["-", "-", "-"]
                if mark is None
                else [
                    shown(mark),
                    money(p.unrealized_pnl(mark)),
                    display_text(p.unrealized_pnl_pct(mark), 2, keep_places=2),
                ]
            )
        row.append(f"#{p.opened_seq}")
        return row

    print_table(
        console,
        f"{title}: seq {state.seq}, epoch {state.epoch}",
        _state_columns(lead, marked=bool(marks), funded=funded, last=Column("Opened", drop=4)),
        RowsOf(state.open, cells),
        empty="no open positions",
    )
    if closed and not state.closed:
        console.print("Closed cycles: none")
    elif closed:
        cycles = RowsOf(
            state.closed,
            lambda c: [
                *([c.account] if len(lead) > 1 else []),
                c.symbol,
                c.side.value,
                shown(c.quantity),
                shown(c.avg_price),
                money(c.realized_pnl),
                *([money(c.funding)] if funded else []),
                money(c.fees),
                money(c.net_pnl),
                f"#{c.opened_seq}-#{c.closed_seq}",
            ],
        )
        columns = _state_columns(lead, marked=False, funded=funded, last=Column("Seqs", drop=4))
        print_table(console, "Closed cycles", columns, cycles)
    line = Text.assemble("Lifetime: realized ", money(totals.realized_pnl))
    if funded:
        line.append_text(Text.assemble(", funding ", money(totals.funding)))
    line.append_text(Text.assemble(", fees ", money(totals.fees), ", net ", money(totals.net_pnl)))
    if marks:
        line.append_text(Text.assemble(", unrealized ", money(state.unrealized_pnl(marks))))
    console.print(line, highlight=False)
    unvalued = unvalued_line(totals.unvalued_fees, marks)
    if unvalued is not None:
        console.print(unvalued, highlight=False)
    for note in unused_marks(state, marks):
        console.print(note, highlight=False)


def unused_marks(state: LedgerState, marks: Mapping[str, Decimal]) -> list[str]:
    """A line for each `--mark` that neither an open position nor an unvalued fee's currency uses (a typo'd symbol
    would otherwise value nothing without a word): under the tables, or on stderr beside `--json`. The symbol is the
    user's text as typed, quoted (a line break in it shows as \\n; the consoles print no markup)."""
    held = {p.symbol for p in state.open}
    valuing = {currency for currency, _ in state.totals.unvalued_fees}
    return [
        f"--mark {f'{symbol}={shown(price)}'!r}: no open position in {symbol!r}, so the mark is not used"
        for symbol, price in marks.items()
        if symbol not in held and symbol.partition("/")[0] not in valuing
    ]


def wallet_json(account: str, wallet: WalletBook) -> dict[str, Any]:
    """The paper wallet (spec section 5) as replayed: cash and what the invariant adds up."""
    at_cost = wallet.held_at_cost()
    return {
        "account": account,
        "initial_balance": decimal_text(wallet.initial_balance),
        "cash": decimal_text(wallet.cash),
        "positions_at_cost": decimal_text(at_cost),
        "realized_pnl": decimal_text(wallet.realized_pnl),
        "funding": decimal_text(wallet.funding),
        "fees": decimal_text(wallet.fees),
        "cycles_opened": wallet.cycles_opened,
        "winning_cycles": wallet.winning_cycles,
    }


def print_wallet(console: Console, account: str, wallet: WalletBook) -> None:
    """One line: cash + positions at cost = initial + realized + funding - fees (the invariant, checked on every
    event)."""
    at_cost = wallet.held_at_cost()
    console.print(
        Text.assemble(
            f"Paper wallet ({account}): cash ",
            money(wallet.cash),
            " + positions at cost ",
            money(at_cost),
            " = initial ",
            money(wallet.initial_balance),
            " + realized ",
            money(wallet.realized_pnl),
            " + funding ",
            money(wallet.funding),
            " - fees ",
            money(wallet.fees),
        ),
        highlight=False,
        soft_wrap=True,
    )
