"""A dated future settled at its expiry leaves the legacy read models as any closing fill does: closed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.compat.conftest import Clock
from tradeledger import Ledger
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import create_trade

FUTURE = "BTC/USDT:USDT-261225"
OPENED_AT = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)
SETTLED_AT = datetime(2026, 12, 25, 8, 0, tzinfo=UTC)


def test_the_trade_manager_and_the_paper_wallet_see_the_settled_position_closed_with_its_pnl(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    clock.now = SETTLED_AT  # the ledger records on the expiry day: a fill 5 minutes past its clock is refused
    manager = TradeManager(open_bot_ledger(), state_file=tmp_path / "trade_manager_state.json", clock=lambda: OPENED_AT)
    wallet = PaperWallet(manager.ledger, 200000, trade_manager=manager, clock=lambda: OPENED_AT)
    manager.record_trade(create_trade(FUTURE, "buy", "2", "90000", timestamp=OPENED_AT))
    assert manager.get_position(FUTURE) is not None

    manager.ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT, fee_rate="0.0002")

    assert manager.get_position(FUTURE) is None
    assert FUTURE not in wallet.positions
    assert wallet.realized_pnl == Decimal(11000)
    assert wallet.balance == Decimal("210961.8")  # 200,000 + 11,000 - 38.20
    wallet.check_invariant()


def test_a_settlement_rolled_back_reopens_the_position_in_the_read_models_and_a_new_settlement_closes_it_again(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    clock.now = SETTLED_AT  # the ledger records on the expiry day: a fill 5 minutes past its clock is refused
    manager = TradeManager(open_bot_ledger(), state_file=tmp_path / "trade_manager_state.json", clock=lambda: OPENED_AT)
    wallet = PaperWallet(manager.ledger, 200000, trade_manager=manager, clock=lambda: OPENED_AT)
    manager.record_trade(create_trade(FUTURE, "buy", "2", "90000", timestamp=OPENED_AT))
    manager.ledger.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT)
    other = open_bot_ledger()  # another process rolls the settlement back, books a fill it lacked, settles again

    other.rollback(to_seq=1, reason="a sale of the expiry day was missing", actor="ops")
    assert manager.get_position(FUTURE) is not None
    assert wallet.realized_pnl == 0
    other.record({"fill_id": "s1", "exchange": "", "symbol": FUTURE, "side": "sell", "quantity": "0.5",
                  "price": "93000", "occurred_at": "2026-12-25T06:00:00+00:00"})  # fmt: skip
    other.record_settlement(FUTURE, price="95500", occurred_at=SETTLED_AT)

    assert manager.get_position(FUTURE) is None
    assert FUTURE not in wallet.positions
    assert wallet.realized_pnl == Decimal(9750)  # 3,000 * 0.5 + 5,500 * 1.5
    assert wallet.balance == Decimal(209750)
    wallet.check_invariant()
