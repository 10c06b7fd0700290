"""The lots a match takes (spec section 11), against a plain scan of the lots as the pools found them
before issue 19: hifo's highest unit cost (the earlier lot on a tie) and the lots a specific disposal names.

Each generated log trades HOOL/USD in two accounts over four years, each year matched by its own method
(hifo more often than the others), with unit costs that tie (`10` and `10.00`), base fees and rebates
(a rebate adds to the lot its fill opened), withdrawals that dispose, specific fills naming earlier
fills (some more than is left of them: refused), and runs of 70 buys or sells (the pools drop the lots
used up at their head past 64). Both books fold the log row by row and must agree on every figure, as
text, and on every refusal.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeledger.domain import lots
from tradeledger.domain.fold_state import ExecutionRow
from tradeledger.domain.lot_pools import Lot, Pool
from tradeledger.domain.lot_terms import Method, MethodPlan
from tradeledger.domain.lots import LotBook
from tradeledger.errors import InvalidArgument, InvalidFill

PROPERTY = settings(max_examples=150, deadline=None)
ACCOUNTS = ["a", "b"]
PRICES = ["10", "10.00", "12", "12.0", "9.5", "15", "7.25"]
QUANTITIES = ["1", "0.5", "2", "0.25", "3"]
FEES = [
    "[]",
    '[{"amount":"0.1","currency":"USD"}]',
    '[{"amount":"0.01","currency":"HOOL"}]',
    '[{"amount":"-0.01","currency":"HOOL"}]',
]
METHODS = [Method.HIFO, Method.HIFO, Method.FIFO, Method.LIFO, Method.AVERAGE, Method.SPECIFIC]
Log = tuple[list[ExecutionRow], dict[int, Any], dict[int, str]]


class ScanPool(Pool):
    """The pool finding lots by a scan of every lot listed from its head, as before issue 19."""

    __slots__ = ()

    def highest(self) -> Lot:
        best: Lot | None = None
        for lot in self.lots[self.head :]:
            if lot.quantity and (best is None or lot.unit > best.unit):
                best = lot
        assert best is not None
        return best

    def open_lot(self, seq: int) -> Lot | None:
        return next((lot for lot in self.lots[self.head :] if lot.quantity and lot.seq == seq), None)


@st.composite
def plans(draw: st.DrawFn) -> MethodPlan:
    first, *later = (draw(st.sampled_from(METHODS)) for _ in range(4))
    return MethodPlan.parse([first.value, *(f"{2024 + index}={method.value}" for index, method in enumerate(later))])


@st.composite
def logs(draw: st.DrawFn) -> Log:
    """Stored rows (fills and withdrawals of HOOL), the metadata of the fills naming lots, the transfers' kinds."""
    rows: list[ExecutionRow] = []
    metadata: dict[int, Any] = {}
    kinds: dict[int, str] = {}
    day = date(2023, 1, 1)

    def add(account: str, side: str | None, quantity: str, price: str | None, fees: str | None) -> int:
        seq = len(rows) + 1
        at = f"{day.isoformat()}T00:00:00.{seq:06d}+00:00"
        if side is None:  # a withdrawal of `quantity` HOOL
            rows.append((seq, account, "x", None, None, None, None, "0", at, "transfer", None, f"-{quantity}", "HOOL"))
            kinds[seq] = "withdrawal"
        else:
            rows.append((seq, account, "x", "HOOL/USD", side, quantity, price, None, at, "fill", fees, None, None))
        return seq

    for _ in range(draw(st.integers(min_value=1, max_value=30))):
        day += timedelta(days=draw(st.integers(min_value=0, max_value=90)))
        account = draw(st.sampled_from(ACCOUNTS))
        step = draw(st.sampled_from(["buy", "buy", "sell", "sell", "specific", "withdrawal", "buys", "sells"]))
        if step in ("buy", "sell"):
            add(
                account,
                step,
                draw(st.sampled_from(QUANTITIES)),
                draw(st.sampled_from(PRICES)),
                draw(st.sampled_from(FEES)),
            )
        elif step == "withdrawal":
            add(account, None, draw(st.sampled_from(QUANTITIES)), None, None)
        elif step == "specific":
            named = draw(
                st.lists(st.integers(min_value=1, max_value=len(rows) + 1), min_size=1, max_size=3, unique=True)
            )
            amounts = [draw(st.sampled_from(["0.25", "0.5", "1"])) for _ in named]
            side = draw(st.sampled_from(["sell", "sell", "buy"]))
            seq = add(account, side, str(sum((Decimal(a) for a in amounts), Decimal(0))), "11", "[]")
            metadata[seq] = {"lots": [{"seq": n, "quantity": a} for n, a in zip(named, amounts, strict=True)]}
        else:  # a run of 70 fills of one lot each
            for price in draw(st.lists(st.sampled_from(PRICES), min_size=70, max_size=70)):
                add(account, step[:-1], "1", price, "[]")
    return rows, metadata, kinds


def folded(pool: type[Pool], plan: MethodPlan, log: Log) -> list[object]:
    """Every figure (as text) and refusal of a LotBook whose pools are `pool`s, folding the log row by row."""
    rows, metadata, kinds = log
    refusals: list[str] = []
    with patch.object(lots, "Pool", pool):
        book = LotBook(plan, withdrawals_dispose=True)
        for row in rows:
            try:
                book.apply_rows([row], metadata, kinds)
            except (InvalidArgument, InvalidFill) as error:
                refusals.append(str(error))
    return [
        [tuple(map(str, row)) for row in book.rows],
        [tuple(map(str, missing)) for missing in map(vars_of, book.missing)],
        sorted(book.years),
        book.last_seq,
        [tuple(map(str, vars_of(lot))) for lot in book.open_lots()],
        {key: str(size) for key, size in book.positions().items()},
        refusals,
    ]


def vars_of(value: Any) -> tuple[object, ...]:
    return tuple(getattr(value, name) for name in value.__slots__)


@PROPERTY
@given(plans(), logs())
def test_each_match_takes_the_lots_a_scan_of_every_open_lot_takes(plan: MethodPlan, log: Log) -> None:
    assert folded(Pool, plan, log) == folded(ScanPool, plan, log)
