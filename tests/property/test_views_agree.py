"""Every view of one log of exchange-real events says the same numbers (spec sections 5, 6 and 9).

After any batches of fills (spot and contract; quote, base, valued and unvalued third-currency fees, rebates),
funding and transfers (deposits, withdrawals with fees, internal moves) in two accounts on two exchanges, with a
snapshot every few events and rollbacks to any seq among them:

- the stored positions equal a replay of the whole log and a replay to the head's seq, and the replay to every seq
  is the one the log had when that seq was its head (an event appended later changes no earlier state);
- a ledger given only the events left after the rollbacks has the same positions and balances;
- each account's PaperWallet says the cash, realized PnL, funding and fees of `replay --initial-balance` for it,
  and its positions are the account's positions;
- the open tax lots of every method add up to the spot positions, no disposal misses an acquisition, and with
  every spot cycle closed the gains (fees in the basis) are the spot net PnL;
- the report's page (`report --html`) folds the same positions as the replay, the balances `balances` prints and the
  totals `positions` prints.
"""

from __future__ import annotations

import contextlib
import random
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import RECORDED_AT
from tests.property.test_kept_fold_interleavings import event
from tradeledger import FillConflict, InvalidFill, Ledger, LedgerState
from tradeledger.application.audit import build_report
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.domain.markets import market
from tradeledger.storage.memory import MemoryLedgerStore

B0 = Decimal(1_000_000)
ROUNDING = Decimal("1E-18")
OPS = st.lists(
    st.tuples(st.sampled_from(["append", "append", "append", "rollback"]), st.integers(0, 2**32)), max_size=8
)


def figures(state: LedgerState) -> tuple[object, ...]:
    return state.open, state.closed, state.symbol_totals, state.totals


@settings(max_examples=150, deadline=None)
@given(ops=OPS, every=st.sampled_from([1, 2, 3, 7]))
@example(ops=[("append", 4466), ("append", 4466), ("append", 13330)], every=1)  # gains 28-digit rounding
def test_positions_replays_wallets_report_and_balances_agree(ops: list[tuple[str, int]], every: int) -> None:
    with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT, snapshot_every=every) as ledger:
        as_head: dict[int, tuple[object, ...]] = {}  # the state at each seq when it was the head
        for step, (op, seed) in enumerate(ops):
            draw = random.Random(seed)
            if op == "rollback":
                if ledger.head.seq:
                    to_seq = draw.randrange(ledger.head.seq)
                    ledger.rollback(reason="test", actor="test", to_seq=to_seq)
                    as_head = {seq: state for seq, state in as_head.items() if seq <= to_seq}
            else:
                batch = [event(draw, f"{step}-{n}") for n in range(draw.randint(1, 9))]
                with contextlib.suppress(InvalidFill, FillConflict):  # refused whole: nothing written
                    ledger.record_many(batch)
            state = ledger.state()
            as_head[state.seq] = figures(state)
            assert figures(ledger.replay()) == figures(state) == figures(ledger.replay(until_seq=state.seq))
        for seq, expected in as_head.items():
            assert figures(ledger.replay(until_seq=seq)) == expected, seq

        state = ledger.state()
        with Ledger(MemoryLedgerStore(), clock=lambda: RECORDED_AT) as fresh:  # the kept events, never rolled back
            kept = [recorded.fill for recorded in ledger.history()]
            if kept:
                fresh.record_many(kept)
            assert figures(fresh.state()) == figures(state)
            assert fresh.balances() == ledger.balances()
        for account in ("default", "b"):
            replayed = ledger.replay_wallet(B0, account=account)
            wallet = PaperWallet(ledger, B0, account=account, auto_save=False)
            summary = wallet.get_wallet_summary()
            assert (wallet.balance, wallet.realized_pnl, summary["balance"]) == (
                replayed.cash,
                replayed.realized_pnl,
                replayed.cash,
            )
            positions = {p.symbol: p for p in state.open if p.account == account}
            held = {
                symbol: (entry["side"], entry["size"], entry["entry_price"])
                for symbol, entry in wallet.positions.items()
            }
            assert held == {symbol: (p.side.value, p.quantity, p.avg_price) for symbol, p in positions.items()}

        spot = {(p.account, p.symbol): p.signed_quantity for p in state.open if market(p.symbol).settle is None}
        for method in ("fifo", "lifo", "hifo", "average"):
            in_lots: dict[tuple[str, str], Decimal] = {}
            for lot in ledger.lots(method).lots:
                key = (lot.account, f"{lot.currency}/{lot.quote}")
                in_lots[key] = in_lots.get(key, Decimal(0)) + lot.quantity
            assert {key: size for key, size in in_lots.items() if size} == spot, method
        gains = ledger.gains("fifo")
        assert gains.missing == ()
        if not spot:  # every spot cycle closed: the gains with fees in the basis are the spot net PnL, to the
            # 28-digit rounding of the two sums (a lot's unit cost is a division; its parts' bases add up to its
            # cost, and the rows' sum rounds at 28 digits: -79.99999999999999999999999990 against -80)
            net = sum(
                (t.net_pnl for (_, symbol), t in state.symbol_totals.items() if market(symbol).settle is None),
                Decimal(0),
            )
            assert abs(gains.totals.gain - net) <= ROUNDING, (gains.totals.gain, net)

        report = build_report(ledger, url="memory", generated_at=RECORDED_AT, initial_balance=B0)
        assert report.verify.ok, report.verify.problems
        assert report.folds_agree is True
        assert report.balances == ledger.balances()
        assert figures(report.state) == figures(state)
        mine = build_report(ledger, url="memory", generated_at=RECORDED_AT, initial_balance=B0, account="b")
        assert mine.folds_agree is True
        assert mine.wallet.cash == ledger.replay_wallet(B0, account="b").cash
        assert mine.balances == ledger.balances(account="b")
