"""The audit use case behind `tradeledger report --html` (issue 5): every number of the auditor's report.

The numbers come from the log alone: the state is `Ledger.replay` (as of `until_time`, bounded by the
head that `verify` checked, which holds the stored projection against the reference fold), and the
chart's series and the wallet fold the same fills once more, fill by fill (`domain.wallet.WalletReplay`).
Every amount is an exact Decimal; rounding for display is the page's business (`cli.report_view`).

Issue 19: the log is read once more as a stream (`Ledger.stream_history`), and what the page does not show
is not kept: the latest FILL_TABLE_LIMIT fill rows and MOVEMENT_TABLE_LIMIT movements, the sums, the two
rows of an overdraft, and for the chart a compact fold per fill (`report_series`, thinned over THIN_ABOVE
fills to the points each pixel column shows). So the report's memory grows with its page, not with the log
(but for the chart's few hundred bytes a fill, kept until the log is read: a fill reported late moves every
later point of the chart, which is in the order the fills occurred).

Spec section 9 (issue 15): the fees of the report's fills by the currency they were paid in (valued in
the quote, or unvalued), the funding payments and transfers of the log, and the balances per (account,
exchange, currency), folded from the same events as the rest (`domain.reference.ReferenceBalances`, the
fold `verify` holds the stored balances against), so `until_time` and `account` bound them too. Without
`until_time`, when verify passed at the head the state is of, they are verify's own fold of every event,
narrowed to `account`: the same fold of the same events is not done twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from itertools import pairwise

from tradeledger.application.ledger import Ledger
from tradeledger.application.report_series import THIN_ABOVE, SeriesFold, SeriesPoint, even_x, pixel, time_x
from tradeledger.application.verification import VerifyReport
from tradeledger.domain.balances import Balances
from tradeledger.domain.events import Funding
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill, time_text
from tradeledger.domain.markets import market
from tradeledger.domain.positions import ZERO, Execution, Position, PositionKey, accounting_of
from tradeledger.domain.records import LedgerState, RecordedFill
from tradeledger.domain.reference import ReferenceBalances
from tradeledger.domain.wallet import WalletBook, WalletReplay

DEFAULT_INITIAL_BALANCE = "10000"
CHART_AXES = ("auto", "time", "fills")
# `auto` spaces the fills evenly when the longest gap between two fills is over this many typical (median) gaps.
UNEVEN_GAPS = 10
MIN_GAPS = 2  # a median of fewer gaps says nothing
# The page's fill table lists the latest fills only, its movements table the latest funding payments and
# transfers (the chart and every total still use all of them); `tradeledger history` and `export` list the
# whole log. The report keeps no more than these.
FILL_TABLE_LIMIT = 2000
MOVEMENT_TABLE_LIMIT = 2000


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
class CashAfter:
    """The wallet's cash right after one event of the report (a fill, or a funding payment: both move it)."""

    recorded: RecordedFill
    cash: Decimal


@dataclass(frozen=True, slots=True)
class Overdraft:
    """The cash-secured wallet's cash went below zero: the first event after which it did, and the lowest."""

    first: CashAfter
    lowest: CashAfter


@dataclass(frozen=True, slots=True)
class Report:
    url: str
    generated_at: datetime
    until_time: datetime | None
    account: str | None
    initial_balance: Decimal
    state: LedgerState
    verify: VerifyReport
    fills: tuple[FillRow, ...]  # the latest FILL_TABLE_LIMIT fills (of `fill_count`), seq order
    series: tuple[SeriesPoint, ...]  # occurred_at order; thinned over THIN_ABOVE fills (`report_series`)
    wallet: WalletBook
    marks: Mapping[str, Mark]
    folds_agree: bool
    balance_given: bool = True  # False: initial_balance is the default, not the user's
    chart_axis: str = "time"  # "time" or "fills" (evenly spaced), as drawn
    axis_choice: str = "auto"  # what was asked: "auto", "time" or "fills"
    movements: tuple[RecordedFill, ...] = ()  # the latest MOVEMENT_TABLE_LIMIT funding and transfers, seq order
    fee_totals: tuple[FeeTotal, ...] = ()  # by (currency, quote)
    balances: Balances = field(default_factory=lambda: Balances(0, ()))
    fill_count: int = 0  # the report's fills (`fills` holds the latest of them)
    movement_count: int = 0  # its funding payments and transfers (`movements` holds the latest of them)
    has_funding: bool = False  # a funding payment is among the report's events (the PnL tables then show funding)
    series_count: int = 0  # the chart's points before thinning: one per fill
    lowest_cash: Overdraft | None = None  # the first event after which the cash was below zero, and the lowest

    @property
    def series_thinned(self) -> bool:
        """Whether the chart keeps fewer points than the fills (`report_series.thinned`)."""
        return len(self.series) < self.series_count

    @property
    def symbols(self) -> tuple[PositionKey, ...]:
        return tuple(self.state.symbol_totals)

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
        return self.lowest_cash


def by_key(position: Position) -> PositionKey:
    return position.key


def build_report(  # noqa: PLR0915 - one pass over the log, folding everything the page shows
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
    thin_above: int = THIN_ABOVE,
) -> Report:
    """Everything the page shows, read from the ledger and folded from its log (`url` as it is shown);
    `on_progress` follows its verify (Ledger.verify); a chart of over `thin_above` fills is thinned
    (`report_series.thinned`).

    The log is read as a stream (`Ledger.stream_history`), one recorded fill at a time: what is kept is what
    the page shows (the latest FILL_TABLE_LIMIT fill rows and MOVEMENT_TABLE_LIMIT movements, the totals, the
    overdraft's two rows, the chart's series: `report_series`), never a model per fill of the log."""
    balance_given = initial_balance is not None
    if initial_balance is None:
        initial_balance = Decimal(DEFAULT_INITIAL_BALANCE)
    verify = ledger.verify(on_progress=on_progress)
    # Bounded by the head verify saw, so a fill appended meanwhile is in neither or in both.
    state = ledger.replay(until_seq=verify.head.seq, until_time=until_time).for_account(account)
    head = verify.head
    # Every event to the head verify walked whole: its fold of them (the one the stored balances were held
    # against) is the balances' fold of these events, not done again; else they are folded here.
    folded = (
        verify.ok and until_time is None and (state.epoch, state.seq, state.hash) == (head.epoch, head.seq, head.hash)
    )
    unfolded = None if folded else ReferenceBalances()  # what the balances fold here after the wallet
    replay = WalletReplay(initial_balance)
    wallet = replay.wallet
    assert wallet is not None
    rows: deque[FillRow] = deque(maxlen=FILL_TABLE_LIMIT)
    movements: deque[RecordedFill] = deque(maxlen=MOVEMENT_TABLE_LIMIT)
    fills = movement_count = 0
    has_funding = False
    fees = FeeSums()
    series = SeriesFold(initial_balance)
    first_below: CashAfter | None = None
    lowest: CashAfter | None = None
    with closing(ledger.stream_history(account=account)) as stream:
        for r in stream:
            if r.seq > state.seq:
                break  # seq order: the rest is past the head
            event = r.fill
            if until_time is not None and event.occurred_at > until_time:
                continue
            accounting = accounting_of(r.seq, event)
            realized_before = wallet.realized_pnl
            replay.apply(accounting)
            if unfolded is not None:
                unfolded.apply(accounting)
            if isinstance(accounting, Execution):  # the fill rows are fills; funding and transfers are `movements`
                assert isinstance(event, Fill)
                with localcontext(LEDGER_CONTEXT):
                    fee = accounting.fee + accounting.base_fee * accounting.price  # Fill.quote_fees(), same split
                    row = FillRow(r, wallet.realized_pnl - realized_before, wallet.cash, fee)
                rows.append(row)
                fills += 1
                fees.add(event)
                series.fill(r.seq, event.occurred_at, row.realized, fee, row.cash)
            else:
                movements.append(r)
                movement_count += 1
                if isinstance(event, Funding):
                    has_funding = True
                    series.funding(event.occurred_at, r.seq, event.amount)
            if wallet.cash < 0 and (lowest is None or wallet.cash < lowest.cash):  # a fill's or a funding payment's
                below = CashAfter(r, wallet.cash)
                first_below, lowest = first_below or below, below
    balances = verify.balances if unfolded is None else unfolded.balances
    book = replay.positions.book()
    replayed_open = list(state.open)
    folds_agree = book.totals == dict(state.symbol_totals) and sorted(book.open.values(), key=by_key) == replayed_open
    order = series.order()
    axis = resolve_axis(chart_axis, series.times(order))
    return Report(
        url=url,
        generated_at=generated_at,
        until_time=until_time,
        account=account,
        initial_balance=initial_balance,
        state=state,
        verify=verify,
        fills=tuple(rows),
        series=tuple(series.points(initial_balance, order, chart_columns(axis, series, order, thin_above))),
        wallet=wallet,
        marks=resolve_marks(ledger, state, marks or {}),
        folds_agree=folds_agree,
        balance_given=balance_given,
        chart_axis=axis,
        axis_choice=chart_axis,
        movements=tuple(movements),
        fee_totals=fees.totals(),
        balances=Balances.of(state.seq, balances, account=account),
        fill_count=fills,
        movement_count=movement_count,
        has_funding=has_funding,
        series_count=len(series),
        lowest_cash=None if first_below is None or lowest is None else Overdraft(first_below, lowest),
    )


def chart_columns(
    axis: str, series: SeriesFold, order: Sequence[int], thin_above: int
) -> Callable[[int, datetime], int] | None:
    """A point's pixel column of the chart as drawn (from its index among the fills in time order, and its time),
    when the chart is thinned (over `thin_above` fills); else None."""
    count = len(order)
    if count <= thin_above:
        return None
    if axis == "fills":
        return lambda index, _: pixel(even_x(index, count))
    start, end = series.times((order[0], order[-1]))
    return lambda _, moment: pixel(time_x(moment, start, end))


class FeeSums:
    """Every fee of the fills added, summed per (currency, quote currency of its symbol); a fill counted once
    per such pair it paid a fee in (a fill's key is in the log once)."""

    __slots__ = ("amounts", "counts")

    def __init__(self) -> None:
        self.amounts: dict[tuple[str, str], list[Decimal]] = {}  # [amount, valued, unvalued]
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, fill: Fill) -> None:
        if not fill.fees:
            return
        traded = market(fill.symbol)
        paid = set()
        with localcontext(LEDGER_CONTEXT):
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
                sums = self.amounts.setdefault((currency, traded.quote), [ZERO, ZERO, ZERO])
                sums[0] += fee.amount
                sums[1] += valued
                sums[2] += unvalued
                paid.add((currency, traded.quote))
        for pair in paid:
            self.counts[pair] = self.counts.get(pair, 0) + 1

    def totals(self) -> tuple[FeeTotal, ...]:
        return tuple(
            FeeTotal(currency, quote, self.counts[currency, quote], *sums)
            for (currency, quote), sums in sorted(self.amounts.items())
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
