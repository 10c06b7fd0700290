"""The audit use case behind `tradeledger report --html` (issue 5): every number of the auditor's report.

The numbers come from the log alone: the state is `Ledger.replay` (as of `until_time`, bounded by the
head that `verify` checked, which holds the stored projection against the reference fold), and the
chart's series and the wallet fold the same fills once more, fill by fill (`domain.wallet.WalletReplay`).
Every amount is an exact Decimal; rounding for display is the page's business (`cli.report_view`).

Spec section 9 (issue 15): the fees of the report's fills by the currency they were paid in (valued in
the quote, or unvalued), the funding payments and transfers of the log, and the balances per (account,
exchange, currency), folded from the same events as the rest (`domain.reference.ReferenceBalances`, the
fold `verify` holds the stored balances against), so `until_time` and `account` bound them too. Without
`until_time`, when verify passed at the head the state is of, they are verify's own fold of every event,
narrowed to `account`: the same fold of the same events is not done twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from itertools import pairwise

from tradeledger.application.ledger import Ledger
from tradeledger.application.verification import VerifyReport
from tradeledger.domain.balances import Balances
from tradeledger.domain.events import Funding, Transfer
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill, time_text
from tradeledger.domain.markets import market
from tradeledger.domain.positions import ZERO, Accounting, Execution, Position, PositionKey, accounting_of
from tradeledger.domain.records import LedgerState, RecordedFill
from tradeledger.domain.reference import reference_balances
from tradeledger.domain.wallet import WalletBook, WalletReplay

DEFAULT_INITIAL_BALANCE = "10000"
CHART_AXES = ("auto", "time", "fills")
# `auto` spaces the fills evenly when the longest gap between two fills is over this many typical (median) gaps.
UNEVEN_GAPS = 10
MIN_GAPS = 2  # a median of fewer gaps says nothing


@dataclass(frozen=True, slots=True)
class Mark:
    price: Decimal
    source: str  # "--mark" or "stored <time>"


@dataclass(frozen=True, slots=True)
class FillRow:
    """One fill of the report, with what it did when folded in log order."""

    recorded: RecordedFill
    realized: Decimal  # gross realized PnL of this fill
    cash: Decimal  # wallet cash right after it, in log order
    fee: Decimal  # its valued fees in the quote currency, `fill.fee` (read off the accounting folded, not split again)

    @property
    def fill(self) -> Fill:
        fill = self.recorded.fill
        assert isinstance(fill, Fill)
        return fill


@dataclass(frozen=True, slots=True)
class FeeTotal:
    """Every fee of the report's fills paid in one currency on symbols of one quote currency (spec section 9).

    `amount` is all that was paid in `currency` (rebates negative); `valued` the quote value of the part
    that has one (a quote fee its amount, a base fee its amount at the fill price, another currency's fee
    its quote_value); `unvalued` the amount of the part that has none, left out of every PnL.
    """

    currency: str
    quote: str
    fills: int  # fills with a fee in this currency
    amount: Decimal
    valued: Decimal
    unvalued: Decimal


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the chart: the cumulative sums over the fills that occurred up to this one."""

    seq: int
    occurred_at: datetime
    realized: Decimal
    net: Decimal
    cash: Decimal


@dataclass(frozen=True, slots=True)
class MarkedTotals:
    """The totals with the unrealized PnL of the open positions that have a mark."""

    unrealized: Decimal
    net_with_unrealized: Decimal
    unmarked: int  # open positions without a mark, left out of `unrealized`


@dataclass(frozen=True, slots=True)
class WalletCheck:
    """The wallet invariant's two sides, exact: cash + Σ|s|·avg = B0 + realized + funding - fees."""

    held: Decimal  # open positions at cost, Σ|s|·avg
    left: Decimal  # cash + held
    right: Decimal  # B0 + realized + funding - fees
    difference: Decimal
    rounding: Decimal  # the most the 28-digit rounding of the report's events can make the difference


@dataclass(frozen=True, slots=True)
class Overdraft:
    """The cash-secured wallet's cash went below zero: the first fill after which it did, and the lowest."""

    first: FillRow
    lowest: FillRow


@dataclass(frozen=True, slots=True)
class Report:
    url: str
    generated_at: datetime
    until_time: datetime | None
    account: str | None
    initial_balance: Decimal
    state: LedgerState
    verify: VerifyReport
    fills: tuple[FillRow, ...]  # seq order
    series: tuple[SeriesPoint, ...]  # occurred_at order
    wallet: WalletBook
    marks: Mapping[str, Mark]
    folds_agree: bool
    balance_given: bool = True  # False: initial_balance is the default, not the user's
    chart_axis: str = "time"  # "time" or "fills" (evenly spaced), as drawn
    axis_choice: str = "auto"  # what was asked: "auto", "time" or "fills"
    movements: tuple[RecordedFill, ...] = ()  # the funding payments and transfers, seq order
    fee_totals: tuple[FeeTotal, ...] = ()  # by (currency, quote)
    balances: Balances = field(default_factory=lambda: Balances(0, ()))

    @property
    def symbols(self) -> tuple[PositionKey, ...]:
        return tuple(self.state.symbol_totals)

    @property
    def has_funding(self) -> bool:
        """Whether a funding payment is among the report's events (the PnL tables then show funding)."""
        return any(isinstance(r.fill, Funding) for r in self.movements)

    @property
    def multi_account(self) -> bool:
        return len({account for account, _ in self.symbols}) > 1

    @property
    def quote_currencies(self) -> list[str]:
        return sorted({market(symbol).quote for _, symbol in self.symbols})

    def marked_totals(self) -> MarkedTotals:
        marked = [p for p in self.state.open if p.symbol in self.marks]
        with localcontext(LEDGER_CONTEXT):
            unrealized = self.state.unrealized_pnl({symbol: mark.price for symbol, mark in self.marks.items()})
            with_unrealized = self.state.totals.net_pnl + unrealized
        return MarkedTotals(unrealized, with_unrealized, len(self.state.open) - len(marked))

    def wallet_check(self) -> WalletCheck:
        # WalletBook checked the invariant after every event (it raises otherwise); these are its terms.
        return WalletCheck(*self.wallet.sides(), self.wallet.rounding)

    def overdraft(self) -> Overdraft | None:
        below = [row for row in self.fills if row.cash < 0]
        if not below:
            return None
        return Overdraft(below[0], min(below, key=lambda row: row.cash))


def by_key(position: Position) -> PositionKey:
    return position.key


def build_report(
    ledger: Ledger,
    *,
    url: str,
    generated_at: datetime,
    until_time: datetime | None = None,
    account: str | None = None,
    initial_balance: Decimal | None = None,
    marks: Mapping[str, Decimal] | None = None,
    chart_axis: str = "auto",
    on_progress: Callable[[int], object] | None = None,
) -> Report:
    """Everything the page shows, read from the ledger and folded from its log (`url` as it is shown);
    `on_progress` follows its verify (Ledger.verify)."""
    balance_given = initial_balance is not None
    if initial_balance is None:
        initial_balance = Decimal(DEFAULT_INITIAL_BALANCE)
    verify = ledger.verify(on_progress=on_progress)
    # Bounded by the head verify saw, so a fill appended meanwhile is in neither or in both.
    state = ledger.replay(until_seq=verify.head.seq, until_time=until_time).for_account(account)
    recorded = [
        r
        for r in ledger.history(account=account)
        if r.seq <= state.seq and (until_time is None or r.fill.occurred_at <= until_time)
    ]
    head = verify.head
    # Every event to the head verify walked whole: its fold of them (the one the stored balances were held
    # against) is the balances' fold of these events, not done again; else they are folded here.
    folded = (
        verify.ok and until_time is None and (state.epoch, state.seq, state.hash) == (head.epoch, head.seq, head.hash)
    )
    unfolded: list[Accounting] = []  # what the balances fold here after the wallet (each read once)
    replay = WalletReplay(initial_balance)
    wallet = replay.wallet
    assert wallet is not None
    rows = []
    for r in recorded:
        accounting = accounting_of(r.seq, r.fill)
        realized_before = wallet.realized_pnl
        replay.apply(accounting)
        if not folded:
            unfolded.append(accounting)
        if isinstance(accounting, Execution):  # the fill rows are fills; funding and transfers are `movements`
            with localcontext(LEDGER_CONTEXT):
                fee = accounting.fee + accounting.base_fee * accounting.price  # Fill.quote_fees() of the same split
                rows.append(FillRow(r, wallet.realized_pnl - realized_before, wallet.cash, fee))
    balances = verify.balances if folded else reference_balances(unfolded)
    book = replay.positions.book()
    replayed_open = list(state.open)
    folds_agree = book.totals == dict(state.symbol_totals) and sorted(book.open.values(), key=by_key) == replayed_open
    paid = [(r.fill.occurred_at, r.seq, r.fill.amount) for r in recorded if isinstance(r.fill, Funding)]
    series = tuple(cumulative(rows, initial_balance, funding=paid))
    return Report(
        url=url,
        generated_at=generated_at,
        until_time=until_time,
        account=account,
        initial_balance=initial_balance,
        state=state,
        verify=verify,
        fills=tuple(rows),
        series=series,
        wallet=wallet,
        marks=resolve_marks(ledger, state, marks or {}),
        folds_agree=folds_agree,
        balance_given=balance_given,
        chart_axis=resolve_axis(chart_axis, [point.occurred_at for point in series]),
        axis_choice=chart_axis,
        movements=tuple(r for r in recorded if isinstance(r.fill, Funding | Transfer)),
        fee_totals=fee_totals(row.fill for row in rows),
        balances=Balances.of(state.seq, balances, account=account),
    )


def fee_totals(fills: Iterable[Fill]) -> tuple[FeeTotal, ...]:
    """Every fee of `fills` summed per (currency, quote currency of its symbol), sorted by that key."""
    amounts: dict[tuple[str, str], list[Decimal]] = {}  # [amount, valued, unvalued]
    counts: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
    with localcontext(LEDGER_CONTEXT):
        for fill in fills:
            traded = market(fill.symbol)
            for fee in fill.fees:
                currency = fee.currency or traded.quote
                if currency == traded.quote:
                    valued, unvalued = fee.amount, ZERO
                elif currency == traded.base:
                    valued, unvalued = fee.amount * fill.price, ZERO
                elif fee.quote_value is not None:
                    valued, unvalued = fee.quote_value, ZERO
                else:
                    valued, unvalued = ZERO, fee.amount
                sums = amounts.setdefault((currency, traded.quote), [ZERO, ZERO, ZERO])
                sums[0] += fee.amount
                sums[1] += valued
                sums[2] += unvalued
                counts.setdefault((currency, traded.quote), set()).add(fill.key)
    return tuple(
        FeeTotal(currency, quote, len(counts[currency, quote]), *sums)
        for (currency, quote), sums in sorted(amounts.items())
    )


def resolve_marks(ledger: Ledger, state: LedgerState, given: Mapping[str, Decimal]) -> dict[str, Mark]:
    """Each traded symbol's mark: the one given, else the stored one; a symbol with neither has none. A mark
    given for `CURRENCY/QUOTE` where CURRENCY has unvalued fees is kept too: it values them for display."""
    stored = ledger.marks().prices
    resolved: dict[str, Mark] = {}
    unvalued = {currency for currency, _ in state.totals.unvalued_fees}
    valuing = {symbol for symbol in given if symbol.partition("/")[0] in unvalued}
    for symbol in {symbol for _, symbol in state.symbol_totals} | valuing:
        if symbol in given:
            resolved[symbol] = Mark(given[symbol], "--mark")
        elif symbol in stored:
            resolved[symbol] = Mark(stored[symbol].price, f"stored {time_text(stored[symbol].marked_at)}")
    return resolved


def uneven(times: Sequence[datetime]) -> bool:
    """Whether the longest gap between consecutive fill times is over UNEVEN_GAPS median gaps (3 fills at least),
    or several fills share one time (a time axis would stack them on one vertical line)."""
    gaps = sorted(later - earlier for earlier, later in pairwise(times))
    if gaps and not gaps[-1]:
        return True
    return len(gaps) >= MIN_GAPS and gaps[-1] > gaps[len(gaps) // 2] * UNEVEN_GAPS


def resolve_axis(choice: str, times: Sequence[datetime]) -> str:
    """The chart's x axis: as asked, or for `auto` evenly spaced fills when their times are uneven."""
    if choice != "auto":
        return choice
    return "fills" if uneven(times) else "time"


def cumulative(
    rows: Sequence[FillRow], initial_balance: Decimal, *, funding: Sequence[tuple[datetime, int, Decimal]] = ()
) -> list[SeriesPoint]:
    """Each fill's effect as the log applied it (seq order), summed in the order the fills occurred.

    A fill reported late changes the books at its place in the log but is drawn at its own time;
    the last point equals the totals either way. The net line adds the funding (occurred_at, seq,
    amount) paid or received up to each point, in the same order (funding after the last fill has no
    point of its own: the totals show it).
    """
    pending = sorted(funding)
    funded = ZERO
    cash_change: dict[int, Decimal] = {}
    previous = initial_balance
    with localcontext(LEDGER_CONTEXT):
        for row in rows:
            cash_change[row.recorded.seq] = row.cash - previous
            previous = row.cash
        points = []
        realized, fees, cash = ZERO, ZERO, initial_balance
        for row in sorted(rows, key=lambda row: (row.recorded.fill.occurred_at, row.recorded.seq)):
            at = (row.recorded.fill.occurred_at, row.recorded.seq)
            while pending and pending[0][:2] <= at:
                funded += pending.pop(0)[2]
            realized += row.realized
            fees += row.fee
            cash += cash_change[row.recorded.seq]
            points.append(SeriesPoint(row.recorded.seq, at[0], realized, realized + funded - fees, cash))
    return points
