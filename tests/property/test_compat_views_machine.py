"""The compat read models, driven through any sequence of their calls, agree with each other and with the ledger.

`test_views_agree` builds a PaperWallet once, after the log is written; here the legacy bot's objects live through
the calls as a bot keeps them: a TradeManager with its PaperWallet and BotContext on one Ledger, and a second wallet
on another Ledger of the same SQLite file (another process's), each taking turns with trades recorded through the
TradeManager (fees in the quote, the base or a third currency), wallet commands (open, close, buy, sell; a fee in
the base or a third currency), fills, funding and transfers another writer records, price ticks, duplicates,
rollbacks by either Ledger and restarts. After every step, without a `refresh()` (each view catches up by itself):

- the TradeManager's positions, `ctx.positions` and both wallets' positions are `Ledger.state()`'s open positions
  (side, size, entry), and `validate_position_consistency()` holds;
- both wallets' cash is `replay_wallet`'s, the invariant holds, the counts of open and closed positions and the
  realized PnL of the summaries are the ledger's to the last digit;
- the state files (`trade_manager_state.json`, `paper_wallet_state.yaml`) list the same positions and counts;
- a TradeManager and a wallet built afresh on the ledger now say the same as the ones that lived through it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from ruamel.yaml import YAML

from tradeledger import Fill, open_ledger
from tradeledger.compat.context import BotContext
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import create_trade
from tradeledger.errors import FillConflict, InvalidArgument, InvalidFill, TradeRefused

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
B0 = Decimal(10_000)
SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD", "BTC/USD:USD"]
SIDES = ["buy", "sell"]
amounts = st.sampled_from(["0.5", "1", "1.5", "2", "3", "0.25"]).map(Decimal)
prices = st.sampled_from(["50", "90", "100", "110", "120", "250", "333.33"]).map(Decimal)
fees = st.sampled_from(["0", "0", "1", "2.5"]).map(Decimal)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class CompatViews(RuleBasedStateMachine):
    """A bot's compat objects on a SQLite file, another process's Ledger and wallet beside them."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.url = f"sqlite:///{self.dir / 'bot.db'}"
        self.clock = Clock()
        self.ledger = open_ledger(self.url, clock=self.clock, synchronous="off")
        self.other = open_ledger(self.url, clock=self.clock, synchronous="off")
        self.ids = itertools.count()
        self.build()

    def build(self) -> None:
        self.tm = TradeManager(self.ledger, state_file=self.dir / "tm.json", clock=self.clock)
        self.wallet = PaperWallet(
            self.ledger, B0, trade_manager=self.tm, state_file=self.dir / "pw.yaml", clock=self.clock
        )
        self.ctx = BotContext(config={}, trade_manager=self.tm, paper_wallet=self.wallet)
        self.wallet2 = PaperWallet(self.other, B0, auto_save=False, clock=self.clock)

    def teardown(self) -> None:
        self.tm.close()
        self.wallet.shutdown()
        self.wallet2.shutdown()
        self.ledger.close()
        self.other.close()
        shutil.rmtree(self.dir)

    # --- calls ----------------------------------------------------------------------------------

    @rule(symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(SIDES), amount=amounts, price=prices, fee=fees)
    def tm_record(self, symbol: str, side: str, amount: Decimal, price: Decimal, fee: Decimal) -> None:
        self.tm.record_trade(create_trade(symbol, side, amount, price, fees=fee, timestamp=self.clock()))

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(SIDES),
        amount=amounts,
        price=prices,
        fee=fees,
        fee_kind=st.sampled_from(["quote", "base", "bnb", "bnb-valued"]),
    )
    def tm_record_fee_currency(
        self, symbol: str, side: str, amount: Decimal, price: Decimal, fee: Decimal, fee_kind: str
    ) -> None:
        base = symbol.split("/", maxsplit=1)[0]
        currency = {"quote": None, "base": base, "bnb": "BNB", "bnb-valued": "BNB"}[fee_kind]
        value = Decimal(3) if fee_kind == "bnb-valued" else None
        small = fee / 100 if fee_kind == "base" else fee
        with contextlib.suppress(InvalidArgument, InvalidFill):
            self.tm.record_trade(
                create_trade(
                    symbol,
                    side,
                    amount,
                    price,
                    fees=small,
                    fee_currency=currency,
                    fee_quote_value=value,
                    timestamp=self.clock(),
                )
            )

    @rule(symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(SIDES), amount=amounts, price=prices, fee=fees)
    def wallet_open(self, symbol: str, side: str, amount: Decimal, price: Decimal, fee: Decimal) -> None:
        with contextlib.suppress(TradeRefused):
            self.wallet.open(symbol, side, amount, price, fee=fee)

    @rule(symbol=st.sampled_from(SYMBOLS), amount=amounts, price=prices, fee=fees)
    def wallet_close(self, symbol: str, amount: Decimal, price: Decimal, fee: Decimal) -> None:
        with contextlib.suppress(TradeRefused):
            self.wallet.close(symbol, amount, price, fee=fee)

    @rule(symbol=st.sampled_from(SYMBOLS), amount=amounts, price=prices, fee=fees)
    def wallet_buy(self, symbol: str, amount: Decimal, price: Decimal, fee: Decimal) -> None:
        with contextlib.suppress(TradeRefused):
            self.wallet.buy(symbol, amount, price, fee=fee)

    @rule(symbol=st.sampled_from(SYMBOLS), amount=amounts, price=prices, fee=fees)
    def wallet_sell(self, symbol: str, amount: Decimal, price: Decimal, fee: Decimal) -> None:
        with contextlib.suppress(TradeRefused):
            self.wallet.sell(symbol, amount, price, fee=fee)

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(SIDES),
        amount=amounts,
        price=prices,
        account=st.sampled_from(["default", "default", "other"]),
    )
    def foreign_fill(self, symbol: str, side: str, amount: Decimal, price: Decimal, account: str) -> None:
        self.other.record(
            Fill.model_validate(
                {
                    "fill_id": f"x{next(self.ids)}",
                    "account": account,
                    "exchange": "kraken",
                    "symbol": symbol,
                    "side": side,
                    "quantity": amount,
                    "price": price,
                    "occurred_at": self.clock(),
                }
            )
        )

    @rule(symbol=st.sampled_from(SYMBOLS), price=prices)
    def tick(self, symbol: str, price: Decimal) -> None:
        self.tm.update_price(symbol, price)

    @rule(back=st.integers(1, 4), by_other=st.booleans())
    def rollback(self, back: int, by_other: bool) -> None:
        head = self.ledger.head.seq
        if head == 0:
            return
        who = self.other if by_other else self.ledger
        who.rollback(reason="probe", actor="probe", to_seq=max(0, head - back))

    @rule()
    def restart(self) -> None:
        self.tm.close()
        self.wallet.shutdown()
        self.wallet2.shutdown()
        self.build()

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(SIDES),
        amount=amounts,
        price=prices,
        fee=fees,
        op=st.sampled_from(["open", "close", "buy", "sell"]),
    )
    def wallet2_command(self, symbol: str, side: str, amount: Decimal, price: Decimal, fee: Decimal, op: str) -> None:
        with contextlib.suppress(TradeRefused):
            if op == "open":
                self.wallet2.open(symbol, side, amount, price, fee=fee)
            elif op == "close":
                self.wallet2.close(symbol, amount, price, fee=fee)
            elif op == "buy":
                self.wallet2.buy(symbol, amount, price, fee=fee)
            else:
                self.wallet2.sell(symbol, amount, price, fee=fee)

    @rule(symbol=st.sampled_from(SYMBOLS), amount=amounts, price=prices, fee=fees, base=st.booleans())
    def wallet_buy_base_fee(self, symbol: str, amount: Decimal, price: Decimal, fee: Decimal, base: bool) -> None:
        currency = symbol.split("/", maxsplit=1)[0] if base else "BNB"
        with contextlib.suppress(TradeRefused, InvalidArgument, InvalidFill):
            self.wallet.buy(symbol, amount, price, fee=fee / 100, fee_currency=currency)

    @rule(amount=st.sampled_from(["-3", "2.5", "-0.75"]).map(Decimal), by_other=st.booleans())
    def funding(self, amount: Decimal, by_other: bool) -> None:
        who = self.other if by_other else self.ledger
        who.record(
            {
                "type": "funding",
                "funding_id": f"fu{next(self.ids)}",
                "exchange": "kraken",
                "symbol": "BTC/USD:USD",
                "amount": amount,
                "currency": "USD",
                "occurred_at": self.clock(),
            }
        )

    @rule(amount=st.sampled_from(["100", "-50"]).map(Decimal))
    def transfer(self, amount: Decimal) -> None:
        self.other.record(
            {
                "type": "transfer",
                "transfer_id": f"tr{next(self.ids)}",
                "exchange": "kraken",
                "currency": "USD",
                "amount": amount,
                "kind": "deposit" if amount > 0 else "withdrawal",
                "occurred_at": self.clock(),
            }
        )

    @rule()
    def duplicate_replay(self) -> None:
        trades = self.tm.get_trade_history()
        if trades:
            with contextlib.suppress(FillConflict):
                self.tm.record_trade(trades[-1])

    # --- what must hold -------------------------------------------------------------------------

    @invariant()
    def views_agree(self) -> None:  # noqa: PLR0915 - one look at every view
        state = self.ledger.state(account="default")
        expected = {p.symbol: (p.side.value, p.quantity, p.avg_price) for p in state.open if p.account == "default"}
        tm = {s: (p.side, p.total_amount, p.average_price) for s, p in self.tm.positions.items()}
        assert tm == expected, (tm, expected)
        ctx = {s: (e["side"], e["size"], e["entry_price"]) for s, e in self.ctx.positions.items()}
        assert ctx == expected, (ctx, expected)
        wallet = {s: (e["side"], e["size"], e["entry_price"]) for s, e in self.wallet.positions.items()}
        assert wallet == expected, (wallet, expected)
        wallet2 = {s: (e["side"], e["size"], e["entry_price"]) for s, e in self.wallet2.positions.items()}
        assert wallet2 == expected, (wallet2, expected)
        assert self.wallet2.balance == self.ledger.replay_wallet(B0).cash
        self.wallet.save_state()
        pw = YAML(typ="safe", pure=True).load((self.dir / "pw.yaml").read_text())
        assert set(pw["positions"]) == set(expected)
        assert Decimal(str(pw["balance"])) == Decimal(str(float(self.wallet.balance)))
        assert pw["total_trades"] == self.wallet.total_trades
        assert self.ctx.validate_position_consistency()
        replayed = self.ledger.replay_wallet(B0)
        assert self.wallet.balance == replayed.cash
        assert self.wallet.realized_pnl == replayed.realized_pnl
        self.wallet.check_invariant()
        closed = [c for c in state.closed if c.account == "default"]
        assert len(self.tm.get_closed_positions()) == len(closed)
        summary = self.tm.get_portfolio_summary()
        assert summary["open_positions_count"] == len(expected)
        assert summary["closed_positions_count"] == len(closed)
        assert summary["total_realized_pnl"] == state.totals.realized_pnl
        fills = [r for r in self.ledger.history(account="default") if isinstance(r.fill, Fill)]
        assert summary["total_trades"] == len(fills)
        wsum = self.wallet.get_wallet_summary()
        assert wsum["position_count"] == len(expected)
        psum = self.wallet.get_position_summary()
        assert set(psum["positions"]) == set(expected)
        # the state files
        self.tm.save_state()
        written = json.loads((self.dir / "tm.json").read_text())
        assert set(written["positions"]) == set(expected)
        assert written["statistics"]["total_trades"] == len(fills)
        assert len(written["closed_positions"]) == len(closed)
        assert len(written["trades"]) == len(fills)
        # a fresh set of read models says the same
        fresh_tm = TradeManager(self.ledger, clock=self.clock)
        fresh_wallet = PaperWallet(self.ledger, B0, trade_manager=fresh_tm, auto_save=False, clock=self.clock)
        try:
            assert {s: (p.side, p.total_amount, p.average_price) for s, p in fresh_tm.positions.items()} == expected
            assert fresh_wallet.balance == self.wallet.balance
            assert fresh_wallet.total_trades == self.wallet.total_trades
            assert fresh_wallet.winning_trades == self.wallet.winning_trades
            assert fresh_tm.get_statistics() == self.tm.get_statistics()
            assert [p.to_dict() for p in fresh_tm.get_closed_positions()] == [
                p.to_dict() for p in self.tm.get_closed_positions()
            ]
        finally:
            fresh_wallet.shutdown()
            fresh_tm.close()


CompatViews.TestCase.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
TestCompatViewsAgreeThroughAnyCalls = CompatViews.TestCase
