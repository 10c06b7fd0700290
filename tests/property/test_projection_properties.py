"""Properties of the position projection (spec sections 2 and 4) over arbitrary fill sequences.

Every property runs against a real SQLite ledger. Each example gets a fresh file holding the bytes of
one migrated, empty database, so an example costs a file write instead of a schema migration.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, DefaultContext, localcontext
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.property.conftest import LedgerTemplate
from tradeledger import LedgerState, PositionSide
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fills import Side
from tradeledger.domain.positions import Execution, PositionKey
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.reference import ReferenceFold

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
ACCOUNTS = ("default", "hedge")
SYMBOLS = ("BTC/USD", "ETH/USD")
EXCHANGE = "kraken"
MAX_FILLS = 20

# SQLite-backed examples are slow next to pure ones: few examples, no per-example deadline.
SQLITE_PROPERTY = settings(max_examples=50, deadline=None)


@dataclass(frozen=True)
class Leg:
    """One generated fill, before it has a fill_id or a seq."""

    account: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal


def _amounts(*round_values: str) -> st.SearchStrategy[Decimal]:
    # Round values make positions close exactly and flip often; the range covers everything else.
    return st.one_of(
        st.sampled_from([Decimal(value) for value in round_values]),
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
    )


legs = st.builds(
    Leg,
    account=st.sampled_from(ACCOUNTS),
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(["buy", "sell"]),
    quantity=_amounts("0.5", "1", "2", "3"),
    price=_amounts("90", "100", "110", "333.333"),
    fee=st.one_of(
        st.just(Decimal(0)),
        st.decimals(min_value=Decimal(0), max_value=Decimal(10), places=3),
    ),
)
leg_lists = st.lists(legs, max_size=MAX_FILLS)


def _leg(account: str, symbol: str, side: str, quantity: str, price: str, fee: str) -> Leg:
    return Leg(account, symbol, side, Decimal(quantity), Decimal(price), Decimal(fee))


# Every rule of spec section 4 on one key (open, add, reduce, close, flip with a split fee, flip
# back), interleaved with a second account and symbol, and an average price that does not terminate.
ALL_RULES = [
    _leg("default", "BTC/USD", "buy", "1", "100", "0.1"),
    _leg("default", "BTC/USD", "buy", "2", "110", "0.2"),
    _leg("hedge", "BTC/USD", "sell", "1", "105", "0"),
    _leg("default", "ETH/USD", "buy", "3", "10", "0.03"),
    _leg("default", "BTC/USD", "sell", "1", "120", "0.1"),
    _leg("default", "BTC/USD", "sell", "3", "90", "0.3"),
    _leg("hedge", "BTC/USD", "buy", "1", "95", "0.01"),
    _leg("default", "BTC/USD", "buy", "2.5", "80", "0.25"),
    _leg("default", "ETH/USD", "sell", "3", "12", "0"),
]


# A short cycle realizes -5, the next one a 30-digit loss (its average price 45.1/0.501 does not
# terminate), so the lifetime sum is rounded to 28 digits.
ROUNDED_AT_28_DIGITS = [
    _leg("hedge", "BTC/USD", "sell", "0.5", "90", "0"),
    _leg("hedge", "BTC/USD", "buy", "0.501", "100", "0"),
    _leg("hedge", "BTC/USD", "buy", "0.5", "90", "0"),
    _leg("hedge", "BTC/USD", "sell", "1", "90", "0"),
]


def _fill_fields(index: int, leg: Leg) -> dict[str, Any]:
    return {
        "fill_id": f"P-{index:04d}",
        "account": leg.account,
        "exchange": EXCHANGE,
        "symbol": leg.symbol,
        "side": leg.side,
        "quantity": leg.quantity,
        "price": leg.price,
        "fee": leg.fee,
        "occurred_at": (T0 + timedelta(seconds=index)).isoformat(),
    }


def fills_of(generated: list[Leg]) -> list[dict[str, Any]]:
    return [_fill_fields(index, leg) for index, leg in enumerate(generated, start=1)]


def executions_of(generated: list[Leg]) -> list[Execution]:
    """The reference input: what the log should fold, built without going through the ledger."""
    return [
        Execution(
            seq=index,
            account=leg.account,
            symbol=leg.symbol,
            side=Side(leg.side),
            quantity=leg.quantity,
            price=leg.price,
            fee=leg.fee,
            occurred_at=T0 + timedelta(seconds=index),
        )
        for index, leg in enumerate(generated, start=1)
    ]


def batches_of(items: list[Any], sizes: list[int]) -> list[list[Any]]:
    """Cut items into consecutive batches of the given sizes; whatever is left is the last batch."""
    batches: list[list[Any]] = []
    start = 0
    for size in sizes:
        if start >= len(items):
            break
        batches.append(items[start : start + size])
        start += size
    if start < len(items):
        batches.append(items[start:])
    return batches


def assert_same_state(actual: LedgerState, expected: LedgerState) -> None:
    """Field by field first, so a failure shows which part differs, then the whole state."""
    assert (actual.epoch, actual.seq, actual.hash) == (expected.epoch, expected.seq, expected.hash)
    assert actual.open == expected.open
    assert actual.closed == expected.closed
    assert dict(actual.symbol_totals) == dict(expected.symbol_totals)
    assert actual == expected


def signed_net(generated: list[Leg]) -> dict[PositionKey, Decimal]:
    net: dict[PositionKey, Decimal] = defaultdict(Decimal)
    for leg in generated:
        net[(leg.account, leg.symbol)] += leg.quantity if leg.side == "buy" else -leg.quantity
    return net


def fees_by_key(generated: list[Leg]) -> dict[PositionKey, Decimal]:
    fees: dict[PositionKey, Decimal] = defaultdict(Decimal)
    for leg in generated:
        fees[(leg.account, leg.symbol)] += leg.fee
    return fees


def cycle_sum(values: list[Decimal]) -> Decimal:
    """Cycle values summed as spec section 4 does arithmetic: the default Decimal context, in order.

    A sum can need more than 28 digits (-5 + -0.01000000000000000000000000011); the spec rounds it
    there, so an exact sum would ask more of the ledger than the spec promises.
    """
    with localcontext(DefaultContext):
        return sum(values, Decimal(0))


def assert_conserved(state: LedgerState, generated: list[Leg]) -> None:
    traded = {(leg.account, leg.symbol) for leg in generated}
    assert set(state.symbol_totals) == traded

    open_by_key = {position.key: position for position in state.open}
    net = signed_net(generated)
    for key in traded:
        if net[key] == 0:
            assert key not in open_by_key, f"{key} is flat but has an open position"
        else:
            assert open_by_key[key].signed_quantity == net[key]
    assert set(open_by_key) <= traded

    fees = fees_by_key(generated)
    for key in traded:
        assert state.symbol_totals[key].fees == fees[key]

        # Cycles of one key follow each other: the closed ones by closed_seq, then the open one.
        cycles = [c for c in state.closed if (c.account, c.symbol) == key]
        realized = [c.realized_pnl for c in cycles]
        cycle_fees = [c.fees for c in cycles]
        if key in open_by_key:
            realized.append(open_by_key[key].realized_pnl)
            cycle_fees.append(open_by_key[key].fees)
        assert state.symbol_totals[key].realized_pnl == cycle_sum(realized), key
        assert state.symbol_totals[key].fees == cycle_sum(cycle_fees), key


def assert_quantities_positive(state: LedgerState) -> None:
    keys = [position.key for position in state.open]
    assert len(keys) == len(set(keys)), "one netting position per (account, symbol)"
    for position in state.open:
        assert position.quantity > 0, position
        assert position.side in (PositionSide.LONG, PositionSide.SHORT), position
        assert position.entered_quantity >= position.quantity, position
    for closed in state.closed:
        assert closed.quantity > 0, closed
        assert closed.side in (PositionSide.LONG, PositionSide.SHORT), closed


def reference_state(executions: list[Execution], checkpoint: Checkpoint) -> LedgerState:
    return LedgerState.from_book(ReferenceFold().apply_all(executions), checkpoint)


@SQLITE_PROPERTY
@given(generated=leg_lists)
@example(generated=ALL_RULES)
def test_the_stored_projection_equals_a_replay_when_fills_are_recorded_one_by_one(
    empty_ledger: LedgerTemplate, generated: list[Leg]
) -> None:
    with empty_ledger.fresh() as ledger:
        receipts = [ledger.record(fill) for fill in fills_of(generated)]

        state = ledger.state()
        assert_same_state(state, ledger.replay())
        assert state.seq == len(generated)
        assert ledger.head == Checkpoint(1, len(generated), receipts[-1].hash if receipts else GENESIS_HASH)
        assert (state.epoch, state.seq, state.hash) == (ledger.head.epoch, ledger.head.seq, ledger.head.hash)


@SQLITE_PROPERTY
@given(generated=leg_lists, sizes=st.lists(st.integers(min_value=1, max_value=6), max_size=MAX_FILLS))
@example(generated=ALL_RULES, sizes=[2, 1, 3])
@example(generated=ALL_RULES, sizes=[len(ALL_RULES)])
def test_the_stored_projection_equals_a_replay_when_fills_are_recorded_in_batches(
    empty_ledger: LedgerTemplate, generated: list[Leg], sizes: list[int]
) -> None:
    with empty_ledger.fresh() as ledger:
        receipts = [
            receipt for batch in batches_of(fills_of(generated), sizes) for receipt in ledger.record_many(batch)
        ]

        assert [receipt.seq for receipt in receipts] == list(range(1, len(generated) + 1))
        assert not any(receipt.duplicate for receipt in receipts)
        state = ledger.state()
        assert_same_state(state, ledger.replay())
        assert (state.epoch, state.seq, state.hash) == (ledger.head.epoch, ledger.head.seq, ledger.head.hash)


@SQLITE_PROPERTY
@given(generated=leg_lists, sizes=st.lists(st.integers(min_value=1, max_value=6), max_size=MAX_FILLS))
@example(generated=ALL_RULES, sizes=[4])
def test_recording_every_fill_again_returns_the_original_receipts_and_changes_nothing(
    empty_ledger: LedgerTemplate, generated: list[Leg], sizes: list[int]
) -> None:
    fills = fills_of(generated)
    with empty_ledger.fresh() as ledger:
        originals = ledger.record_many(fills)
        before = ledger.state()

        again = [receipt for batch in batches_of(fills, sizes) for receipt in ledger.record_many(batch)]

        assert [(r.seq, r.epoch, r.hash, r.fill_id) for r in again] == [
            (r.seq, r.epoch, r.hash, r.fill_id) for r in originals
        ]
        assert all(receipt.duplicate for receipt in again)
        assert_same_state(ledger.state(), before)
        assert ledger.head.seq == len(fills)


@SQLITE_PROPERTY
@given(generated=leg_lists)
@example(generated=ALL_RULES)
def test_rebuilding_twice_leaves_the_stored_projection_as_it_was(
    empty_ledger: LedgerTemplate, generated: list[Leg]
) -> None:
    with empty_ledger.fresh() as ledger:
        ledger.record_many(fills_of(generated))
        before = ledger.state()
        assert ledger.verify().ok

        first = ledger.rebuild()
        after_first = ledger.state()
        second = ledger.rebuild()
        after_second = ledger.state()

        assert first == second == ledger.head
        assert_same_state(after_first, before)
        assert_same_state(after_second, before)
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.events == len(generated)


@SQLITE_PROPERTY
@given(generated=leg_lists)
@example(generated=ALL_RULES)
def test_no_position_quantity_is_ever_zero_or_negative(empty_ledger: LedgerTemplate, generated: list[Leg]) -> None:
    with empty_ledger.fresh() as ledger:
        for fill in fills_of(generated):
            ledger.record(fill)
            assert_quantities_positive(ledger.state())


@SQLITE_PROPERTY
@given(generated=leg_lists)
@example(generated=ALL_RULES)
@example(generated=ROUNDED_AT_28_DIGITS)
def test_quantity_fees_and_realized_pnl_are_conserved_after_every_fill(
    empty_ledger: LedgerTemplate, generated: list[Leg]
) -> None:
    with empty_ledger.fresh() as ledger:
        for count, fill in enumerate(fills_of(generated), start=1):
            ledger.record(fill)
            assert_conserved(ledger.state(), generated[:count])


@SQLITE_PROPERTY
@given(generated=leg_lists)
@example(generated=ALL_RULES)
def test_replay_until_a_seq_equals_a_fold_of_the_fills_up_to_that_seq(
    empty_ledger: LedgerTemplate, generated: list[Leg]
) -> None:
    executions = executions_of(generated)
    with empty_ledger.fresh() as ledger:
        receipts = ledger.record_many(fills_of(generated))
        hashes = [GENESIS_HASH, *(receipt.hash for receipt in receipts)]

        for k in range(len(generated) + 1):
            expected = reference_state(executions[:k], Checkpoint(1, k, hashes[k]))
            assert_same_state(ledger.replay(until_seq=k), expected)

        beyond = ledger.replay(until_seq=len(generated) + 5)
        assert_same_state(beyond, reference_state(executions, Checkpoint(1, len(generated), hashes[-1])))


@SQLITE_PROPERTY
@given(generated=leg_lists)
@example(generated=ALL_RULES)
def test_replay_until_a_time_equals_a_fold_of_the_fills_that_occurred_by_then(
    empty_ledger: LedgerTemplate, generated: list[Leg]
) -> None:
    # Fill k occurred at T0 + k seconds, so "by T0 + k s" and "by T0 + k.5 s" both mean the first k.
    executions = executions_of(generated)
    with empty_ledger.fresh() as ledger:
        receipts = ledger.record_many(fills_of(generated))
        hashes = [GENESIS_HASH, *(receipt.hash for receipt in receipts)]

        for k in range(len(generated) + 1):
            expected = reference_state(executions[:k], Checkpoint(1, k, hashes[k]))
            for offset in (timedelta(seconds=k), timedelta(seconds=k, milliseconds=500)):
                assert_same_state(ledger.replay(until_time=T0 + offset), expected)
