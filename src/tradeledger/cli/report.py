"""`tradeledger report --html FILE`: a self-contained HTML report for an auditor (issue 5).

The command only: its options, the audit use case (`application.audit.build_report`: every number, folded
from the log) and the page (`cli.report_page.render_html`: `templates/report.html.j2`), written atomically.
The page needs nothing from the network: the CSS is inline and the chart is an SVG, no JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from tradeledger.application.audit import CHART_AXES, DEFAULT_INITIAL_BALANCE, build_report
from tradeledger.application.ledger import Ledger
from tradeledger.bootstrap import open_ledger
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    MethodValues,
    beside,
    emit,
    exchange_named,
    ledger_url,
    parse_contract_sizes,
    parse_initial_balance,
    parse_marks,
    parse_time,
    parse_tolerances,
    progress_bar,
)
from tradeledger.cli.report_reconcile import ReconcileSection
from tradeledger.compat.files import write_output
from tradeledger.domain.lot_terms import MethodPlan, tax_year
from tradeledger.errors import InvalidArgument
from tradeledger.exchanges.ccxt import reconciling
from tradeledger.exchanges.ccxt.files import read_balance, read_entries
from tradeledger.storage.urls import shown_url

# --- the command -------------------------------------------------------------------------------


def write_file(path: Path, text: str) -> Path:
    """Replace `path` atomically, readable by others (a report is for the auditor); a mistyped folder is
    not created, a device such as /dev/stdout is written in place."""
    return write_output(path, text)


def report(
    ctx: typer.Context,
    html: Annotated[
        Path, typer.Option("--html", metavar="FILE", help="Where to write the HTML report (replaced atomically).")
    ],
    until_time: Annotated[
        str | None,
        typer.Option("--until-time", metavar="TIME", help="Only fills that occurred at or before this time."),
    ] = None,
    initial_balance: Annotated[
        str | None,
        typer.Option(
            "--initial-balance",
            metavar="DECIMAL",
            help=f"The paper wallet's starting cash B0. Without it: {DEFAULT_INITIAL_BALANCE}, said so on the page.",
        ),
    ] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    mark: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SYMBOL=PRICE", help="SYMBOL=PRICE for unrealized PnL (else the stored mark); repeatable."
        ),
    ] = None,
    chart_axis: Annotated[
        str,
        typer.Option(
            "--chart-axis",
            metavar="auto|time|fills",
            help="The chart's x axis: the fills' times, or the fills evenly spaced; auto: evenly if times are uneven.",
        ),
    ] = "auto",
    gains_year: Annotated[
        str | None,
        typer.Option("--gains-year", metavar="YEAR", help="Add the realized gains of this tax year (spec 11)."),
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            metavar="METHOD|YEAR=METHOD",
            help="The gains section's lot method(s), as `gains` takes them. Default: fifo.",
        ),
    ] = None,
    reconcile_balances: Annotated[
        Path | None,
        typer.Option(
            "--reconcile-balances",
            metavar="FILE.json",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Add a reconciliation section: the balances against this fetch_balance() answer (as reconcile).",
        ),
    ] = None,
    reconcile_trades: Annotated[
        Path | None,
        typer.Option(
            "--reconcile-trades",
            metavar="FILE.json",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Add a reconciliation section: the log against this fetch_my_trades() answer (as reconcile).",
        ),
    ] = None,
    reconcile_exchange: Annotated[
        str | None,
        typer.Option(
            "--reconcile-exchange",
            metavar="NAME",
            help="The exchange the reconciliation section compares.",
            show_default="the account's only exchange",
        ),
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CURRENCY=AMOUNT",
            help="In the reconciliation section, a difference this small in CURRENCY is dust (repeatable).",
        ),
    ] = None,
    contract_size: Annotated[
        list[str] | None,
        typer.Option(
            "--contract-size",
            metavar="SYMBOL=SIZE",
            help="In the reconciliation section, the base units of one contract of SYMBOL (as reconcile takes it).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of a line.")] = False,
) -> None:
    """Write a self-contained HTML report for an auditor: positions, cycles, PnL, a chart, the chain head;
    exit 1 (report written) if verify fails or its reconciliation section finds a difference."""
    write_report(
        ctx,
        html,
        until_time,
        initial_balance,
        account,
        mark or [],
        json_output=json_output,
        chart_axis=chart_axis,
        gains=gains_of(gains_year, method, until_time),
        reconcile=reconcile_of(
            reconcile_balances, reconcile_trades, reconcile_exchange, tolerance, until_time, contract_size
        ),
    )


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    """The reconciliation section asked for: the exchange's answers as read (None: not given)."""

    balances_file: Path | None
    balance: object
    trades_file: Path | None
    trades: list[object] | None
    exchange: str | None
    tolerances: dict[str, Decimal]
    contract_sizes: dict[str, Decimal] = field(default_factory=dict)

    def exchange_of(self, ledger: Ledger, account: str | None) -> str:
        """The exchange the section compares: the named or the account's only one (default when None, as
        reconcile); a name differing only in case from one the ledger holds is refused (`exchange_named`)."""
        owner = "default" if account is None else account
        return exchange_named(ledger, owner, self.exchange, "--reconcile-exchange")

    def section(self, ledger: Ledger, account: str | None, exchange: str) -> ReconcileSection:
        """Reconcile `account` (default when None, as reconcile) on `exchange` (`exchange_of`)."""
        owner = "default" if account is None else account
        result = reconciling.reconcile(
            ledger, exchange=exchange, account=owner, balance=self.balance, trades=self.trades,
            tolerances=self.tolerances, contract_sizes=self.contract_sizes,
        )  # fmt: skip
        return ReconcileSection(
            result,
            account=owner,
            exchange=exchange,
            balances_file=None if self.balances_file is None else str(self.balances_file),
            trades_file=None if self.trades_file is None else str(self.trades_file),
            tolerances=self.tolerances,
        )


def reconcile_of(
    balances: Path | None,
    trades: Path | None,
    exchange: str | None,
    tolerances: list[str] | None,
    until_time: str | None,
    contract_sizes: list[str] | None = None,
) -> ReconcileRequest | None:
    """The reconciliation section asked for, its files read whole first; None without a file (no section)."""
    if balances is None and trades is None:
        for option, given in (
            ("--reconcile-exchange", exchange is not None),
            ("--tolerance", bool(tolerances)),
            ("--contract-size", bool(contract_sizes)),
        ):
            if given:
                raise InvalidArgument(
                    f"{option}: belongs to the reconciliation section; give --reconcile-balances FILE.json "
                    "and/or --reconcile-trades FILE.json too"
                )
        return None
    if until_time is not None:
        raise InvalidArgument(
            f"{'--reconcile-balances' if balances is not None else '--reconcile-trades'}: the exchange's answer "
            "is compared with the whole log; leave out --until-time"
        )
    return ReconcileRequest(
        balances_file=balances,
        balance=None if balances is None else read_balance(balances),
        trades_file=trades,
        trades=None if trades is None else read_entries(trades),
        exchange=exchange,
        tolerances=parse_tolerances(tolerances or []),
        contract_sizes=parse_contract_sizes(contract_sizes or []),
    )


def gains_of(year: str | None, methods: list[str] | None, until_time: str | None) -> tuple[int, MethodPlan] | None:
    """The gains section asked for: (tax year, methods), None without --gains-year (no section)."""
    if year is None:
        if methods:
            raise InvalidArgument("--method: chooses the lot method of the gains section; give --gains-year YEAR too")
        return None
    try:
        chosen = tax_year(year)
        plan = MethodPlan.parse(methods or ["fifo"])
    except InvalidArgument as error:
        raise InvalidArgument(f"--{'gains-' if str(error).startswith('year') else ''}{error}") from None
    if until_time is not None:
        raise InvalidArgument("--gains-year: the gains section covers the whole log; leave out --until-time")
    return chosen, plan


def write_report(
    ctx: typer.Context,
    html: Path,
    until_time: str | None,
    initial_balance: str | None,
    account: str | None,
    mark: list[str],
    *,
    json_output: bool,
    chart_axis: str = "auto",
    gains: tuple[int, MethodPlan] | None = None,
    reconcile: ReconcileRequest | None = None,
) -> None:
    until = parse_time(until_time, "--until-time") if until_time is not None else None
    balance = None if initial_balance is None else parse_initial_balance(initial_balance)
    marks = parse_marks(mark)
    if chart_axis not in CHART_AXES:
        raise InvalidArgument(f"--chart-axis: expected one of {', '.join(CHART_AXES)} (got {chart_axis!r})")
    with open_ledger(ctx.obj) as ledger:
        compared = None if reconcile is None else (reconcile, reconcile.exchange_of(ledger, account))  # refused first
        with progress_bar("verifying", total=ledger.head.seq) as update:
            built = build_report(
                ledger,
                url=shown_url(ledger_url(ctx.obj)),
                chart_axis=chart_axis,
                generated_at=datetime.now(UTC),
                until_time=until,
                account=account,
                initial_balance=balance,
                marks=marks,
                on_progress=update,
            )
        taxed = None if gains is None else ledger.gains(gains[1], year=gains[0], account=account)
        reconciled = None if compared is None else compared[0].section(ledger, account, compared[1])
    # The page's Jinja2 and chart geometry when a page is written, not for every command's registration (--help).
    from tradeledger.cli.report_page import render_html  # noqa: PLC0415

    try:
        written = write_file(html, render_html(built, taxed, reconciled))
    except OSError as error:
        raise InvalidArgument(f"--html: cannot write {str(html)!r} ({error.strerror or error})") from None
    summary = {
        "html": str(written.resolve()),
        "seq": built.state.seq,
        "epoch": built.state.epoch,
        "head_hash": built.verify.head.hash,
        "verify": built.verify.ok,
        "symbols": len(built.symbols),
        "fills": built.fill_count,
    }
    if reconciled is not None:
        summary["reconciled"] = reconciled.result.ok
    if json_output:
        emit(summary)
    else:
        agrees = "" if reconciled is None else f", reconcile {'ok' if reconciled.result.ok else 'DIFFERENCES'}"
        beside(written).print(
            f"report written to {summary['html']}: {summary['fills']} fills, {summary['symbols']} symbols, "
            f"state seq {built.state.seq}, verify {'ok' if built.verify.ok else 'FAILED'}{agrees}",
            soft_wrap=True,
        )
    if not built.verify.ok or (reconciled is not None and not reconciled.result.ok):
        raise typer.Exit(EXIT_VERIFY_FAILED)


report.command_class = MethodValues  # type: ignore[attr-defined]  # read by cli/app.py: --method YEAR=M …
