"""Tax lots (spec section 11): `gains` (the realized gains of a tax year, per matched lot) and `lots` (the
open lots), both computed from the log on demand with the methods given as arguments, never stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradeledger.application.lots import quote_named
from tradeledger.cli.common import (
    JsonOption,
    MethodValues,
    beside,
    emit,
    naming_option,
    opened,
    out,
    parse_time,
)
from tradeledger.cli.lots_output import gains_csv, gains_json, lots_json, print_gains, print_lots, print_missing
from tradeledger.compat.files import check_output, output_file
from tradeledger.domain.lot_terms import LONG_AFTER_DAYS, MAX_LONG_AFTER_DAYS, MethodPlan, tax_year
from tradeledger.errors import InvalidArgument

METHODS_HELP = (
    "fifo, lifo, hifo, average or specific; or YEAR=METHOD per tax year (repeatable, or several after the option; "
    "a year without one takes the previous year's)."
)
GainsMethodOption = Annotated[
    list[str] | None,
    typer.Option("--method", metavar="METHOD|YEAR=METHOD", help=f"Required: {METHODS_HELP}"),
]
LotsMethodOption = Annotated[
    list[str] | None,
    typer.Option("--method", metavar="METHOD|YEAR=METHOD", help=f"{METHODS_HELP} Default: fifo."),
]
AccountOption = Annotated[str | None, typer.Option(help="Only this account.")]
QuoteOption = Annotated[
    str | None, typer.Option(metavar="CURRENCY", help="Only the symbols quoted in this currency (e.g. USDT).")
]
FeesOption = Annotated[
    bool,
    typer.Option(
        "--fees-in-basis/--no-fees-in-basis",
        help="Valued fees add to the cost basis and come off the proceeds (unvalued fees never do).",
    ),
]
WithdrawalsOption = Annotated[
    bool,
    typer.Option(
        "--withdrawals-dispose", help="Withdrawals dispose of lots (at their cost: gain 0); by default they do not."
    ),
]


def _plan(methods: list[str] | None, *, default: str | None) -> MethodPlan:
    given = methods or ([default] if default is not None else [])
    if not given:
        raise InvalidArgument("--method: give one of fifo, lifo, hifo, average, specific (or YEAR=METHOD)")
    try:
        return MethodPlan.parse(given)
    except InvalidArgument as error:
        raise InvalidArgument(f"--{error}") from None


def gains(
    ctx: typer.Context,
    method: GainsMethodOption = None,
    year: Annotated[str | None, typer.Option(metavar="YEAR", help="Only the disposals of this tax year (UTC).")] = None,
    account: AccountOption = None,
    quote: QuoteOption = None,
    fees_in_basis: FeesOption = True,
    withdrawals_dispose: WithdrawalsOption = False,
    long_after_days: Annotated[
        int,
        typer.Option(min=1, max=MAX_LONG_AFTER_DAYS, metavar="DAYS", help="Held this many days or more is long term."),
    ] = LONG_AFTER_DAYS,
    json_output: JsonOption = False,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", metavar="FILE", help="Write the capital-gains worksheet as CSV here.")
    ] = None,
) -> None:
    """Realized gains per matched lot (proceeds, cost basis, gain, term) for a tax year, by method."""
    plan = _plan(method, default=None)
    chosen = None if year is None else _year(year)
    _quote(quote)
    if json_output and csv_file is not None:
        raise InvalidArgument("gains takes --json or --csv FILE, not both")
    if csv_file is not None:
        with naming_option("--csv"):
            check_output(csv_file)
    with opened(ctx) as ledger:
        report = ledger.gains(
            plan,
            year=chosen,
            account=account,
            quote=quote,
            fees_in_basis=fees_in_basis,
            withdrawals_dispose=withdrawals_dispose,
            long_after_days=long_after_days,
        )
    if csv_file is not None:
        with naming_option("--csv"), output_file(csv_file) as handle:
            for piece in gains_csv(report):
                handle.write(piece.encode("utf-8"))
        notes = beside(csv_file)
        notes.print(f"wrote {len(report.rows)} rows to {csv_file}", highlight=False)
        print_missing(notes, report)  # the worksheet has no row for them: said, never dropped
    elif json_output:
        emit(gains_json(report))
    else:
        print_gains(out(), report)


def _quote(quote: str | None) -> None:
    try:
        quote_named(quote)
    except InvalidArgument as error:
        raise InvalidArgument(f"--{error}") from None


def _year(text: str) -> int:
    try:
        return tax_year(text)
    except InvalidArgument as error:
        raise InvalidArgument(f"--{error}") from None


def lots(
    ctx: typer.Context,
    method: LotsMethodOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="TIME", help="Only the events that occurred at or before this time."),
    ] = None,
    account: AccountOption = None,
    quote: QuoteOption = None,
    fees_in_basis: FeesOption = True,
    withdrawals_dispose: WithdrawalsOption = False,
    json_output: JsonOption = False,
) -> None:
    """The open tax lots (quantity, unit cost, acquired), matched by method (default fifo)."""
    plan = _plan(method, default="fifo")
    when = None if as_of is None else parse_time(as_of, "--as-of")
    _quote(quote)
    with opened(ctx) as ledger:
        report = ledger.lots(
            plan,
            until_time=when,
            account=account,
            quote=quote,
            fees_in_basis=fees_in_basis,
            withdrawals_dispose=withdrawals_dispose,
        )
    if json_output:
        emit(lots_json(report))
    else:
        print_lots(out(), report)


gains.command_class = MethodValues  # type: ignore[attr-defined]  # read by cli/app.py: --method YEAR=M …
lots.command_class = MethodValues  # type: ignore[attr-defined]
