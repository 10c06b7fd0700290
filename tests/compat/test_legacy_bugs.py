"""Bugs of the legacy bot (legacy-system.md) replayed through the compat API, in the order the legacy bot made its
calls, where no other test already replays them: each test names the section and says what the legacy code did.

The other bugs of legacy-system.md and the tests that hold them are listed in docs/legacy-bugs.md.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.compat.conftest import T0, Clock
from tradeledger import Ledger
from tradeledger.compat import BotContext, PaperWallet, TradeManager, create_trade
from tradeledger.compat.bot import LegacyBot
from tradeledger.errors import TradeRefused

BTC, ETH = "BTC/USD", "ETH/USD"
REAL = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "legacy-real"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_symbol_closed_and_traded_again_is_a_new_cycle_with_its_own_entry_time_and_no_carried_pnl(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    """Steps 5 and 6 of the legacy session (§1.3): the short closed at 125 stayed in `positions` at amount 0,
    and the sell at 200 re-used it, carrying realized 50 and the entry time of step 4. A restart between
    the two steps changes nothing here."""
    manager = TradeManager(open_bot_ledger(), clock=clock)
    steps = [
        ("buy", "1", "100", "0.1"),
        ("buy", "1", "110", "0.1"),
        ("sell", "0.5", "120", "0.2"),
        ("sell", "2.5", "130", "0.3"),
    ]
    for minute, (side, amount, price, fee) in enumerate(steps):
        manager.record_trade(create_trade(BTC, side, amount, price, fees=fee, timestamp=at(minute)))
    manager.record_trade(create_trade(BTC, "buy", 1, 125, timestamp=at(4)))  # step 5: the short closes
    assert manager.get_position(BTC) is None
    manager.close()

    manager = TradeManager(open_bot_ledger(), clock=clock)  # a restart between the steps
    manager.record_trade(create_trade(BTC, "sell", 1, 200, timestamp=at(5)))  # step 6

    position = manager.get_position(BTC)
    assert position is not None
    assert (position.side, position.total_amount, position.average_price) == ("short", Decimal(1), Decimal(200))
    assert (position.realized_pnl, position.fees_paid, position.entry_time) == (Decimal(0), Decimal(0), at(5))
    assert [(c.side, c.realized_pnl, c.fees_paid, c.entry_time) for c in manager.get_closed_positions()] == [
        ("long", Decimal(45), Decimal("0.58"), at(0)),
        ("short", Decimal(5), Decimal("0.12"), at(3)),
    ]
    # The legacy statistics for the six steps, which its own position (realized 50, fees 0.3) did not explain.
    assert manager.get_statistics() == {
        "total_trades": 6,
        "total_volume": Decimal(920),
        "total_fees": Decimal("0.7"),
        "total_realized_pnl": Decimal(50),
    }


def test_an_add_is_listed_under_the_open_position_and_moves_its_last_update(
    tmp_path: Path, open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    """§1.3: a same-side add was not appended to `position.trades` and did not touch `last_update`."""
    manager = TradeManager(open_bot_ledger(), clock=clock, state_file=tmp_path / "trade_manager_state.json")
    opening = manager.record_trade(create_trade(BTC, "buy", 1, 100, timestamp=at(0)))
    clock.now = at(7)  # the add is recorded when it happens (a time 5 minutes past the clock is refused)
    adding = manager.record_trade(create_trade(BTC, "buy", 2, 103, timestamp=at(7)))

    position = manager.get_position(BTC)
    assert position is not None
    assert [trade.id for trade in position.trades] == [opening, adding]
    assert (position.total_amount, position.average_price, position.last_update) == (Decimal(3), Decimal(102), at(7))
    assert [trade["id"] for trade in position.to_dict()["trades"]] == [opening, adding]


def test_wallet_positions_opened_under_trade_ids_are_keyed_by_symbol_and_the_views_agree(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """§1.7: the legacy check compared wallet keys with symbols, and `open(symbol, side, amount, price, id)` keyed
    the position by its id (`apu_usd_1756860750`), so the check failed by construction ("count mismatch")."""
    manager = TradeManager(ledger)
    wallet = PaperWallet(ledger, 10000, trade_manager=manager)
    context = BotContext(config={}, trade_manager=manager, paper_wallet=wallet)
    caplog.set_level(logging.WARNING, logger="tradeledger.compat")

    assert wallet.open(BTC, "buy", "0.01", 50000, "btc_usd_1756860750") == "btc_usd_1756860750"
    assert wallet.open(ETH, "sell", 1, 3000, "eth_usd_1756860750") == "eth_usd_1756860750"

    assert list(wallet.positions) == list(context.positions) == [BTC, ETH]
    assert context.validate_position_consistency() is True
    assert wallet.close("btc_usd_1756860750", "0.01", 51000) == Decimal(10)
    assert list(wallet.positions) == list(context.positions) == [ETH]
    assert context.validate_position_consistency() is True
    assert "mismatch" not in caplog.text


def test_every_view_gives_one_unrealized_pnl_at_the_mark_through_a_partial_close_and_a_flip(ledger: Ledger) -> None:
    """§3.2, §6.3: `pnl` was USD in one writer, a fraction in another, and the wallet's `long` read as a short
    (§2.3: long 2 @100 marked at 120 reported -40). Here every view is one fold at one mark: the TradeManager's
    (pnl, percent), ctx's USD, the wallet's fraction of the cost and its `unrealized`, the portfolio summary."""
    manager = TradeManager(ledger)
    wallet = PaperWallet(ledger, 10000, trade_manager=manager)
    context = BotContext(config={}, trade_manager=manager, paper_wallet=wallet)
    steps = [
        (("buy", 2, 100), 120, Decimal(40), Decimal(20)),  # long 2 @100: +40, 20 %
        (("sell", 1, 125), 110, Decimal(10), Decimal(10)),  # long 1 @100 left: +10
        (("sell", 3, 130), 140, Decimal(-20), Decimal("-7.692307692307692307692307692")),  # short 2 @130
    ]
    for minute, ((side, amount, price), mark, pnl, percent) in enumerate(steps):
        manager.record_trade(create_trade(BTC, side, amount, price, timestamp=at(minute)))
        manager.update_price(BTC, mark)
        position = manager.get_position(BTC)
        assert position is not None
        entry = wallet.positions[BTC]
        assert position.calculate_unrealized_pnl(mark) == (pnl, percent)
        assert context.positions[BTC]["pnl"] == pnl
        assert wallet.unrealized(BTC, mark) == pnl
        assert entry["pnl"] * entry["entry_price"] * entry["size"] == pnl
        assert entry["current_price"] == mark
        summary = manager.get_portfolio_summary()
        assert (summary["total_unrealized_pnl"], summary["total_unrealized_pnl_pct"]) == (pnl, percent)
        wallet.check_invariant()


def test_the_legacy_entry_order_with_a_crash_before_the_wallet_open_books_the_trade_once(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    """§3.3: main.py recorded the trade in the TradeManager, wrote ctx.positions, then called paper_wallet.open;
    a crash (or a refused open) between the steps left the stores disagreeing. Here the fill is the wallet's
    position and cost as soon as it is recorded; after a restart the wallet open the bot then makes is refused
    (the symbol is open) and appends nothing."""
    ledger = open_bot_ledger()
    manager = TradeManager(ledger, clock=clock)
    wallet = PaperWallet(ledger, 10000, trade_manager=manager, clock=clock)
    manager.record_trade(create_trade(ETH, "buy", 2, 3000, fees="1.2", timestamp=at(0)))
    manager.close()
    wallet.shutdown()
    ledger.close()  # the crash: nothing after record_trade ran

    ledger = open_bot_ledger()
    manager = TradeManager(ledger, clock=clock)
    wallet = PaperWallet(ledger, 10000, trade_manager=manager, clock=clock)
    context = BotContext(config={}, trade_manager=manager, paper_wallet=wallet)
    assert (wallet.balance, dict(wallet.positions[ETH])["size"]) == (Decimal("3998.8"), Decimal(2))
    with pytest.raises(TradeRefused, match="ETH/USD already has an open long"):
        wallet.open(ETH, "buy", 2, 3000)

    assert ledger.head.seq == 1
    assert context.get_position_count() == len(wallet.positions) == len(manager.get_all_positions()) == 1
    assert context.validate_position_consistency() is True


def test_closing_a_long_the_trade_manager_recorded_credits_the_proceeds_once_and_a_retry_is_refused(
    ledger: Ledger,
) -> None:
    """§2.3: after a sync the wallet held `side: long`; close() took the short branch, credited entry x amount +
    pnl, then raised KeyError('reserved') with the position still there, so each retry credited again
    (1000 -> 1160 -> 1320)."""
    manager = TradeManager(ledger)
    wallet = PaperWallet(ledger, 1000, trade_manager=manager)
    manager.record_trade(create_trade(BTC, "buy", 2, 100, timestamp=at(0)))
    assert (wallet.balance, wallet.positions[BTC]["side"]) == (Decimal(800), "long")

    assert wallet.close(BTC, 2, 120) == Decimal(40)
    assert wallet.balance == Decimal(1040)
    with pytest.raises(TradeRefused):
        wallet.close(BTC, 2, 120)

    assert wallet.balance == Decimal(1040)
    assert ledger.head.seq == 2


def test_a_legacy_positions_log_beside_the_state_files_brings_no_position_back(tmp_path: Path, ledger: Ledger) -> None:
    """§3.3, the ghost generator: every cycle re-recorded each `Active …` line of positions.log whose symbol the
    TradeManager did not hold open, so a closed position came back. Here positions.log is no source: a bot
    started on a folder holding the real one opens nothing, and a position it closes stays closed after a
    restart; the file is left as it was."""
    if not REAL.is_dir():
        pytest.fail(f"the shared fixtures {REAL} are missing; the shared folder must sit beside the repo")
    state_dir = tmp_path / "logs"
    state_dir.mkdir()
    shutil.copyfile(REAL / "positions.log", state_dir / "positions.log")
    logged = (state_dir / "positions.log").read_bytes()
    prices = {"BTC/USDT": Decimal(50000), "ETH/USDT": Decimal(3000)}
    config = {"execution_mode": "paper"}

    bot = LegacyBot.build(ledger, config, price_source=prices.__getitem__, state_dir=state_dir)
    assert bot.trade_manager is not None
    assert bot.paper_wallet is not None
    assert (bot.trade_manager.get_all_positions(), dict(bot.context.positions)) == ([], {})
    bot.paper_wallet.open("BTC/USDT", "buy", "0.1", 50000)
    bot.paper_wallet.close("BTC/USDT", "0.1", 50500)
    bot.close()

    again = LegacyBot.build(ledger, config, price_source=prices.__getitem__, state_dir=state_dir)
    assert again.trade_manager is not None
    assert again.paper_wallet is not None
    assert (again.trade_manager.get_all_positions(), dict(again.context.positions)) == ([], {})
    assert dict(again.paper_wallet.positions) == {}
    assert again.context.validate_position_consistency() is True
    assert (state_dir / "positions.log").read_bytes() == logged
    again.close()


def test_unrealized_total_and_total_value_count_the_open_positions_at_the_trade_managers_marks(ledger: Ledger) -> None:
    """§2.3: `unrealized_total()` was a stub returning 0, so `total_value` (balance + it) was the cash alone, without
    the cost the opens had taken from it. Here: the unrealized PnL at the marks (an unmarked position adds 0), and
    the equity, cash + the open positions at cost + that PnL."""
    manager = TradeManager(ledger)
    wallet = PaperWallet(ledger, 1000, trade_manager=manager)
    wallet.open(BTC, "buy", 2, 100)  # cash 800
    wallet.open(ETH, "sell", 1, 50)  # cash 750, 50 reserved
    manager.update_price(BTC, 120)

    assert (wallet.unrealized_total(), wallet.total_value) == (Decimal(40), Decimal(1040))  # ETH unmarked
    manager.update_price(ETH, 40)
    assert (wallet.unrealized_total(), wallet.total_value) == (Decimal(50), Decimal(1050))
    wallet.close(BTC, 2, 120)
    wallet.close(ETH, 1, 40)
    assert (wallet.unrealized_total(), wallet.total_value, wallet.balance) == (Decimal(0), Decimal(1050), Decimal(1050))
