"""Tax lots on random spot fills (spec section 11), against the positions of section 4 and the cash made.

Each generated sequence trades two spot symbols in two accounts over a few years, with fees in the quote
currency, in the base currency (and base rebates), in BNB with or without a quote value. A fill the
positions refuse (a base fee larger than what is held) is left out, as the ledger would refuse it; the
lots refuse the same fills (sizes that would round, base fees), and fold on as if they never came.

Two paths of the fold must agree: the inline fold of the common fill and the general path every fill can be
sent down (`bursts` adds disposals matched in many parts around a year end). On fills that never go short,
the basis acquired is the basis disposed plus the basis of the lots still open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_terms import NO_TAX_YEAR, Method, MethodPlan, totals_of
from tradeledger.domain.lots import LotBook
from tradeledger.domain.markets import market
from tradeledger.domain.positions import accounting_of
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidFill

PROPERTY = settings(max_examples=80, deadline=None)
KEYS = [("a", "BTC/USD"), ("a", "ETH/USD"), ("b", "BTC/USD")]
METHODS = list(Method)  # specific: the fills here name no lots, so it matches as fifo
# Lot bases and fee shares are divisions kept to 28 significant digits, and the positions' average is
# another: sums of them agree to far less than this, and exactly whenever no division is inexact.
ROUNDING = Decimal("1E-12")

quantities = st.sampled_from(["0.5", "1", "2", "3", "0.25", "0.01"]) | st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal(10), places=3
).map(str)
prices = st.decimals(min_value=Decimal(1), max_value=Decimal(1000), places=2).map(str)


@st.composite
def fees(draw: st.DrawFn, base: str) -> list[dict[str, str]]:
    kind = draw(st.sampled_from(["none", "quote", "rebate", "base", "base-rebate", "bnb", "bnb-valued"]))
    if kind == "none":
        return []
    if kind == "quote":
        return [{"amount": str(draw(st.decimals(Decimal("0.01"), Decimal(5), places=2))), "currency": "USD"}]
    if kind == "rebate":
        return [{"amount": str(draw(st.decimals(Decimal(-1), Decimal("-0.01"), places=2))), "currency": "USD"}]
    if kind == "base":
        return [{"amount": str(draw(st.decimals(Decimal("0.0001"), Decimal("0.05"), places=4))), "currency": base}]
    if kind == "base-rebate":
        return [{"amount": str(draw(st.decimals(Decimal("-0.01"), Decimal("-0.0001"), places=4))), "currency": base}]
    fee = {"amount": str(draw(st.decimals(Decimal("0.0001"), Decimal("0.1"), places=4))), "currency": "BNB"}
    if kind == "bnb-valued":
        fee["quote_value"] = str(draw(st.decimals(Decimal("0.01"), Decimal(5), places=2)))
    return [fee]


def draw_fill(draw: st.DrawFn, fill_id: str, when: datetime, sides: list[str]) -> Fill:
    """A spot fill of one of the KEYS at `when`: a side of `sides`, a drawn quantity, price and fees."""
    account, symbol = draw(st.sampled_from(KEYS))
    return Fill.model_validate(
        {
            "fill_id": fill_id,
            "account": account,
            "exchange": "x",
            "symbol": symbol,
            "side": draw(st.sampled_from(sides)),
            "quantity": draw(quantities),
            "price": draw(prices),
            "fees": draw(fees(market(symbol).base)),
            "occurred_at": when.isoformat(),
        }
    )


@st.composite
def fills(draw: st.DrawFn) -> list[Fill]:
    """Spot fills the positions take (a refused base fee left out), over up to four years."""
    positions = PositionFold()
    drawn: list[Fill] = []
    when = T0 - timedelta(days=900)
    for index in range(draw(st.integers(min_value=1, max_value=40))):
        when += timedelta(days=draw(st.integers(min_value=0, max_value=90)), seconds=1)
        candidate = draw_fill(draw, f"F-{index}", when, ["buy", "sell"])
        try:
            positions.apply(accounting_of(len(drawn) + 1, candidate))
        except InvalidFill:  # refused after its trade was folded: the positions of the fills kept, again
            positions = PositionFold()
            for seq, kept in enumerate(drawn, start=1):
                positions.apply(accounting_of(seq, kept))
            continue
        drawn.append(candidate)
    return drawn


def stored(events: Sequence[Fill]) -> list[StoredEvent]:
    return [
        StoredEvent.seal(e.canonical(), seq=seq, epoch=1, recorded_at=T0.isoformat(), prev_hash=GENESIS_HASH)
        for seq, e in enumerate(events, start=1)
    ]


def lots_of(events: Sequence[Fill], plan: MethodPlan, **options: Any) -> LotBook:
    book = LotBook(plan, **options)
    rows = stored(events)
    metadata = {e.seq: json.loads(e.metadata) for e in rows if e.metadata is not None}
    book.apply_rows((e.execution_row() for e in rows), metadata, {})
    return book


def positions_of(events: Sequence[Fill]) -> PositionFold:
    fold = PositionFold()
    fold.apply_rows(e.execution_row() for e in stored(events))
    return fold


def flattened(events: list[Fill]) -> list[Fill]:
    """`events` and, for each (account, symbol) left open, a fee-free fill that closes it, a day after the last (the
    lots follow the time the events occurred: a close before a later fill would not close it)."""
    fold = positions_of(events)
    last = max((e.occurred_at for e in events), default=T0)
    closing = []
    for index, ((account, symbol), (position, _)) in enumerate(sorted(fold.positions().items())):
        if position is None:
            continue
        side = "sell" if position.signed_quantity > 0 else "buy"
        data: dict[str, Any] = {
            "fill_id": f"close-{index}",
            "account": account,
            "exchange": "x",
            "symbol": symbol,
            "side": side,
        }
        data |= {
            "quantity": position.quantity,
            "price": "123.45",
            "occurred_at": (last + timedelta(days=1)).isoformat(),
        }
        closing.append(Fill.model_validate(data))
    return [*events, *closing]


def cash_made(events: Sequence[Fill]) -> Decimal:
    """Quote in minus quote out minus the valued fees paid (in the quote, or another currency at its quote value):
    what a round trip made. A base fee is paid in coins: the sells that close the round trip are smaller by it."""
    total = Decimal(0)
    with localcontext(LEDGER_CONTEXT):
        for event in events:
            signed = event.quantity * event.price
            total += signed if event.side.value == "sell" else -signed
            total -= event.fee_split().valued
    return total


@PROPERTY
@given(fills(), st.sampled_from(METHODS))
def test_each_gain_is_its_proceeds_less_its_cost_and_the_totals_add_up(events: list[Fill], method: Method) -> None:
    book = lots_of(events, MethodPlan.single(method))

    assert all(row.gain == row.proceeds - row.cost_basis for row in book.rows)
    totals = totals_of(book.rows)
    assert totals.gain == totals.short + totals.long
    assert abs(totals.gain - (totals.proceeds - totals.cost_basis)) <= ROUNDING


@PROPERTY
@given(fills(), st.sampled_from(METHODS), st.booleans())
def test_once_every_lot_is_closed_the_gains_are_the_cash_made_whatever_the_method(
    events: list[Fill], method: Method, fees_in_basis: bool
) -> None:
    closed = flattened(events)

    book = lots_of(closed, MethodPlan.single(method), fees_in_basis=fees_in_basis)

    assert book.open_lots() == []
    assert book.missing == []
    # Left out of the basis, the valued fees are not deducted, and a base fee's value (the proceeds of its
    # disposal) is not either.
    fees = sum((e.quote_fees() for e in closed), Decimal(0))
    expected = cash_made(closed) if fees_in_basis else cash_made(closed) + fees
    assert abs(totals_of(book.rows).gain - expected) <= ROUNDING


@PROPERTY
@given(fills(), st.sampled_from(METHODS))
def test_the_open_lots_hold_the_position_of_each_symbol(events: list[Fill], method: Method) -> None:
    book = lots_of(events, MethodPlan.single(method))

    held: dict[tuple[str, str], Decimal] = {}
    for lot in book.open_lots():
        key = (lot.account, f"{lot.currency}/{lot.quote}")
        held[key] = held.get(key, Decimal(0)) + lot.quantity
    positions = {
        key: position.signed_quantity for key, (position, _) in positions_of(events).positions().items() if position
    }
    assert held == positions
    assert book.missing == []


@PROPERTY
@given(fills())
def test_average_without_fees_in_the_basis_realizes_what_the_positions_realize(events: list[Fill]) -> None:
    book = lots_of(events, MethodPlan.single(Method.AVERAGE), fees_in_basis=False)

    realized = sum((totals.realized_pnl for totals in positions_of(events).totals().values()), Decimal(0))
    assert abs(totals_of(book.rows).gain - realized) <= ROUNDING


@PROPERTY
@given(fills(), st.sampled_from(METHODS), st.sampled_from(METHODS), st.integers(2024, 2027))
def test_a_later_years_method_never_changes_an_earlier_years_matches(
    events: list[Fill], method: Method, later: Method, change: int
) -> None:
    plan = MethodPlan.single(method)
    changed = MethodPlan.parse([method.value, f"{change}={later.value}"])

    for year in range(2022, change):
        assert lots_of(events, changed, year=year).rows == lots_of(events, plan, year=year).rows


# Sizes far apart, whose sums need more than 28 digits, and base fees beyond what is held.
far_apart = st.sampled_from(["100000000000000000000", "99999999999999999999.9999999", "0.00000001", "0.000000001"])
large_base = st.sampled_from(["0.5", "1", "3", "-2", "-100000000000000000000"])


@st.composite
def candidates(draw: st.DrawFn) -> list[Fill]:
    """Spot fills, some of which the positions refuse."""
    drawn: list[Fill] = []
    for index in range(draw(st.integers(min_value=1, max_value=30))):
        account, symbol = draw(st.sampled_from(KEYS))
        base = market(symbol).base
        paid = draw(fees(base)) if draw(st.booleans()) else [{"amount": draw(large_base), "currency": base}]
        data: dict[str, Any] = {"fill_id": f"C-{index}", "account": account, "exchange": "x", "symbol": symbol}
        data |= {"side": draw(st.sampled_from(["buy", "sell"])), "quantity": draw(quantities | far_apart)}
        data |= {"price": draw(prices), "fees": paid, "occurred_at": (T0 + timedelta(seconds=index)).isoformat()}
        drawn.append(Fill.model_validate(data))
    return drawn


@PROPERTY
@given(candidates())
def test_the_lots_refuse_what_the_positions_refuse_and_fold_on_as_if_it_never_came(events: list[Fill]) -> None:
    positions, book = PositionFold(), LotBook(MethodPlan.single(Method.FIFO))
    kept: list[ExecutionRow] = []
    for event in stored(events):
        row = event.execution_row()
        expected, refused = None, None
        try:
            positions.apply_rows([row])
        except InvalidFill as error:
            expected = f"seq {event.seq}: {error}"
        try:
            book.apply_rows([row])
        except InvalidFill as error:
            refused = str(error)
        assert refused == expected
        if expected is None:
            kept.append(row)

    fresh = LotBook(MethodPlan.single(Method.FIFO))
    fresh.apply_rows(kept)
    assert (book.rows, book.missing, book.open_lots(), book.positions(), book.last_seq) == (
        fresh.rows,
        fresh.missing,
        fresh.open_lots(),
        fresh.positions(),
        fresh.last_seq,
    )


@st.composite
def bursts(draw: st.DrawFn) -> list[Fill]:
    """Runs of small buys, then a sell (or the mirror: sells, then a buy) that takes several lots and may cross,
    on one symbol over a year end: disposals matched in many parts, each with its share of the fill's fee."""
    drawn: list[Fill] = []
    when = T0.replace(month=12, day=31, hour=20)
    for run in range(draw(st.integers(min_value=1, max_value=6))):
        opening = draw(st.sampled_from(["buy", "sell"]))
        closing = "sell" if opening == "buy" else "buy"
        sides = [opening] * draw(st.integers(min_value=1, max_value=5)) + [closing]
        for index, side in enumerate(sides):
            when += timedelta(hours=draw(st.integers(min_value=0, max_value=3)), seconds=1)
            large = index == len(sides) - 1
            candidate = Fill.model_validate(
                {
                    "fill_id": f"B-{run}-{index}",
                    "exchange": "x",
                    "symbol": "BTC/USD",
                    "side": side,
                    "quantity": draw(st.sampled_from(["0.75", "1.5", "2.5", "4"] if large else ["0.25", "0.5", "1"])),
                    "price": draw(prices),
                    "fees": draw(fees("BTC")),
                    "occurred_at": when.isoformat(),
                }
            )
            try:  # a base fee more than what is held is refused: left out
                positions_of([*drawn, candidate])
            except InvalidFill:
                continue
            drawn.append(candidate)
    return drawn


@PROPERTY
@given(fills() | bursts(), st.sampled_from([None, 2023, 2024, 2025]))
def test_the_inline_fold_of_the_common_fill_gives_what_the_general_path_gives(
    events: list[Fill], year: int | None
) -> None:
    # A fill whose seq is in `metadata` takes the general path (`_fill`, `_trade`, `Pool.take`) even when it
    # names no lots: every fill forced there must give the rows, missing acquisitions and open lots, as text,
    # that the inline fold of the common fill gives, whatever the method and the fees.
    rows = stored(events)

    def figures(method: Method, fees_in_basis: bool, metadata: dict[int, Any] | None) -> list[object]:
        book = LotBook(MethodPlan.single(method), fees_in_basis=fees_in_basis, year=year)
        book.apply_rows((e.execution_row() for e in rows), metadata, {})
        return [
            [tuple(map(str, row)) for row in book.rows],
            [(m.quantity, m.seq) for m in book.missing],
            [(str(lot.quantity), str(lot.unit_cost), lot.acquired_seq) for lot in book.open_lots()],
            sorted(book.years),
            book.last_seq,
        ]

    general: dict[int, Any] = {e.seq: {} for e in rows}
    for method in METHODS:
        for fees_in_basis in (True, False):
            assert figures(method, fees_in_basis, None) == figures(method, fees_in_basis, general), (
                method,
                fees_in_basis,
            )


@st.composite
def long_fills(draw: st.DrawFn) -> list[Fill]:
    """Spot fills that never take a position short (a sell at most what is held), every kind of fee."""
    drawn: list[Fill] = []
    held: dict[tuple[str, str], Decimal] = {}  # (account, symbol): the position
    when = T0 - timedelta(days=900)
    for index in range(draw(st.integers(min_value=1, max_value=30))):
        when += timedelta(days=draw(st.integers(min_value=0, max_value=90)), seconds=1)
        candidate = draw_fill(draw, f"L-{index}", when, ["buy", "buy", "sell"])
        account, symbol = candidate.account, candidate.symbol
        if candidate.side.value == "sell" and candidate.quantity > held.get((account, symbol), Decimal(0)):
            continue
        try:  # a base fee more than what is held is refused: left out
            fold = positions_of([*drawn, candidate])
        except InvalidFill:
            continue
        drawn.append(candidate)
        position = fold.positions()[account, symbol][0]
        held[account, symbol] = Decimal(0) if position is None else position.signed_quantity
    return drawn


def acquired_basis(events: Sequence[Fill]) -> Decimal:
    """What the lots of long-only fills were acquired at, fees in the basis: each buy's cost, its valued fees
    and a base fee's value at the fill price (the fee is then a disposal of its own); a base rebate (on a buy
    or a sell) is coins acquired at the fill price (a buy's fee value is smaller by it)."""
    total = Decimal(0)
    with localcontext(LEDGER_CONTEXT):
        for event in events:
            split = event.fee_split()
            if event.side.value == "buy":
                total += event.quantity * event.price + split.valued + max(split.base, Decimal(0)) * event.price
            elif split.base < 0:
                total -= split.base * event.price
    return total


@PROPERTY
@given(long_fills(), st.sampled_from(METHODS))
def test_the_basis_acquired_is_the_basis_disposed_plus_the_basis_still_open(events: list[Fill], method: Method) -> None:
    book = lots_of(events, MethodPlan.single(method))

    assert all(row.quantity > 0 for row in book.rows)
    with localcontext(LEDGER_CONTEXT):
        disposed = sum((row.cost_basis for row in book.rows), Decimal(0))
        still_open = sum((lot.quantity * lot.unit_cost for lot in book.open_lots()), Decimal(0))
    assert abs(acquired_basis(events) - disposed - still_open) <= ROUNDING


@PROPERTY
@given(fills() | bursts(), st.sampled_from(METHODS), st.sampled_from(METHODS), st.booleans())
def test_a_book_of_no_tax_year_keeps_no_rows_and_has_the_open_lots_years_and_positions_of_one_that_keeps_them(
    events: list[Fill], method: Method, later: Method, fees_in_basis: bool
) -> None:
    """`lots` folds without the gain rows (issue 19: a million-fill log's 900,000 rows were built for nothing):
    the same open lots, positions, tax years and last seq, over methods that change with the year."""
    plan = MethodPlan.parse([method.value, f"{T0.year + 1}={later.value}"])

    kept = lots_of(events, plan, fees_in_basis=fees_in_basis)
    bare = lots_of(events, plan, fees_in_basis=fees_in_basis, year=NO_TAX_YEAR)

    assert (bare.open_lots(), bare.positions(), bare.years, bare.last_seq) == (
        kept.open_lots(),
        kept.positions(),
        kept.years,
        kept.last_seq,
    )
    assert (bare.rows, bare.missing) == ([], [])
