"""Every config key the legacy bot's migration set (spec 7, legacy-system.md 7.10) takes effect.

Each test builds the bot from a config with the key one way and the other, does the same thing,
and sees the difference. (position_monitor.use_trade_manager and sync_with_legacy are flipped in
test_position_monitor.py, next to the monitor logic they switch.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import Clock
from tradeledger import Ledger
from tradeledger.compat.bot import LegacyBot
from tradeledger.compat.config import BotConfig, ConfigError, load_bot_config
from tradeledger.compat.reconcile_at_start import StartRefused
from tradeledger.compat.trades import create_trade
from tradeledger.errors import ReadOnlyView, TradeRefused

SHARED = Path(__file__).resolve().parents[3] / "shared"
BTC, ETH, SOL = "BTC/USD", "ETH/USD", "SOL/USD"
PRICES = {BTC: Decimal(50000), ETH: Decimal(3000), SOL: Decimal(150)}


def build(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, config: dict[str, Any], state_dir: Path | None = None
) -> LegacyBot:
    return LegacyBot.build(
        open_bot_ledger(),
        BotConfig.from_mapping(config),
        price_source=PRICES.__getitem__,
        state_dir=state_dir,
        clock=clock,
    )


def test_the_real_legacy_config_loads_with_its_risk_levels_and_wallet_limits() -> None:
    config = load_bot_config(SHARED / "fixtures" / "legacy-real" / "config.yaml")

    assert config.execution_mode == "paper"
    assert config.trade_manager_is_primary  # use_trade_manager_as_source: true at the top level
    settings = config.risk_settings()
    # exit_strategy has take_profit 0.04 and trailing 0.01; the stop comes from risk.stop_loss_pct.
    assert (settings.take_profit_pct, settings.trailing_stop_pct) == (Decimal("0.04"), Decimal("0.01"))
    assert settings.stop_loss_pct == Decimal("0.02")
    assert (config.wallet_allow_short, config.wallet_max_open_trades) == (True, 10)


def test_the_commented_config_loads_like_the_plain_one() -> None:
    plain = load_bot_config(SHARED / "fixtures" / "legacy-real" / "config.yaml")
    commented = load_bot_config(SHARED / "fixtures" / "config.commented.yaml")

    assert commented.risk_settings() == plain.risk_settings()


def test_a_bad_value_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("paper_wallet:\n  initial_balance: -5\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"paper_wallet\.initial_balance: .*-5"):
        load_bot_config(path)


def test_a_missing_config_file_is_an_error_not_an_empty_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_bot_config(tmp_path / "absent.yaml")


# --- trade_manager.* -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "trade_manager_is_source"),
    [
        ({}, True),
        ({"trade_manager": {"single_source_of_truth": True}}, True),
        ({"trade_manager": {"single_source_of_truth": False}}, False),
        ({"use_trade_manager_as_source": False}, False),
        ({"use_trade_manager_as_source": False, "trade_manager": {"single_source_of_truth": True}}, True),
    ],
)
def test_single_source_of_truth_decides_which_view_ctx_positions_is(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, config: dict[str, Any], *, trade_manager_is_source: bool
) -> None:
    bot = build(open_bot_ledger, clock, config)
    assert bot.paper_wallet is not None
    bot.paper_wallet.open(BTC, "buy", "0.01", "50000")

    entry = bot.context.positions[BTC]

    assert bot.context.use_trade_manager_as_source is trade_manager_is_source
    assert bot.context.validate_position_consistency()
    if trade_manager_is_source:  # the TradeManager's legacy view: its stop, no wallet reserve
        assert (entry["trailing_stop"], "reserved" in entry) == (Decimal("49500.00"), False)  # 50000 x (1 - 0.01)
        with pytest.raises(ReadOnlyView, match="record_trade"):
            bot.context.positions = {}
    else:  # the paper wallet's view, as the legacy auto_fix_wallet_sync mirrored it into ctx
        assert (entry["reserved"], "trailing_stop" in entry) == (Decimal(0), False)
        bot.context.positions = {"ETH/USD": {"size": 1}}  # the legacy bot may keep its own dict again
        assert bot.context.get_position_symbols() == ["ETH/USD"]
        assert not bot.context.validate_position_consistency()


def test_the_legacy_constructor_call_and_a_late_trade_manager_work(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    # main.py built BotContext(positions=..., df_cache=..., regime_cache=..., config=<dict>) and set
    # ctx.trade_manager afterwards; the legacy code then never had a sync manager.
    from tradeledger.compat.context import BotContext  # noqa: PLC0415 - the class under test
    from tradeledger.compat.trade_manager import TradeManager  # noqa: PLC0415

    raw_config = {"exit_strategy": {"trailing_stop_pct": 0.01}, "exchange": "kraken"}
    ctx = BotContext(positions={}, df_cache={}, regime_cache={}, config=raw_config, notifier="telegram")
    manager = TradeManager(open_bot_ledger(), raw_config, clock=clock)
    ctx.trade_manager = manager
    manager.record_trade(create_trade(BTC, "buy", "1", "100", timestamp=clock()))

    assert ctx.config is raw_config
    assert ctx.notifier == "telegram"  # type: ignore[attr-defined]
    assert ctx.position_sync_manager is not None
    assert ctx.consistency_checks == 1
    assert list(ctx.positions) == [BTC]
    assert ctx.get_position_count() == 1


def test_trade_manager_disabled_builds_no_trade_manager_and_the_wallet_appends_itself(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    enabled = build(open_bot_ledger, clock, {})
    disabled = build(open_bot_ledger, clock, {"trade_manager": {"enabled": False}})
    assert disabled.paper_wallet is not None

    disabled.paper_wallet.open(ETH, "buy", "1", "3000")

    assert enabled.trade_manager is not None
    assert disabled.trade_manager is None
    assert disabled.context.use_trade_manager_as_source is False
    assert disabled.ledger.position(ETH) is not None  # the fill is in the log all the same


def test_sync_legacy_systems_keeps_the_legacy_state_file_current(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    kept = build(open_bot_ledger, clock, {}, tmp_path / "kept")
    off = build(open_bot_ledger, clock, {"trade_manager": {"sync_legacy_systems": False}}, tmp_path / "off")
    assert kept.trade_manager is not None
    assert off.trade_manager is not None

    kept.trade_manager.record_trade(create_trade(BTC, "buy", "1", "50000", timestamp=clock()))
    off.trade_manager.record_trade(create_trade(ETH, "buy", "1", "3000", timestamp=clock()))

    state = json.loads((tmp_path / "kept" / "trade_manager_state.json").read_text(encoding="utf-8"))
    assert list(state["positions"]) == [BTC]
    assert not (tmp_path / "off" / "trade_manager_state.json").exists()


def test_validate_consistency_checks_after_every_append(open_bot_ledger: Callable[[], Ledger], clock: Clock) -> None:
    checked = build(open_bot_ledger, clock, {})
    unchecked = build(open_bot_ledger, clock, {"trade_manager": {"validate_consistency": False}})
    assert checked.paper_wallet is not None
    assert unchecked.paper_wallet is not None

    checked.paper_wallet.open(BTC, "buy", "0.01", "50000")
    checked.paper_wallet.close(BTC, "0.01", "50500")
    unchecked.paper_wallet.open(ETH, "buy", "1", "3000")

    assert checked.context.consistency_checks == 2
    assert checked.context.inconsistencies == []
    assert unchecked.context.consistency_checks == 0


def test_validate_consistency_also_follows_wallet_appends_that_bypass_the_trade_manager(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    bot = build(open_bot_ledger, clock, {"paper_wallet": {"sync_with_trade_manager": False}})
    assert bot.paper_wallet is not None

    bot.paper_wallet.open(BTC, "buy", "0.01", "50000")

    assert bot.context.consistency_checks == 1
    assert bot.context.inconsistencies == []


def test_validate_consistency_reports_a_mismatch_in_the_log_with_the_legacy_wording(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # A wallet on another account than the TradeManager's is a real mismatch: its fills are not the TM's.
    bot = build(open_bot_ledger, clock, {})
    assert bot.trade_manager is not None
    from tradeledger.compat.paper_wallet import PaperWallet  # noqa: PLC0415 - only this test needs it

    bot.context.paper_wallet = PaperWallet(bot.ledger, 10000, account="elsewhere", clock=clock)
    bot.trade_manager.record_trade(create_trade(BTC, "buy", "1", "50000", timestamp=clock()))

    assert "Position count mismatch: TM=1, ctx=1, wallet=0" in caplog.text
    assert not bot.context.validate_position_consistency()


# --- paper_wallet.* and execution_mode --------------------------------------------------------------


def test_sync_with_trade_manager_sends_wallet_trades_through_the_trade_manager(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    synced = build(open_bot_ledger, clock, {})
    direct = build(open_bot_ledger, clock, {"paper_wallet": {"sync_with_trade_manager": False}})
    seen: dict[str, list[str]] = {"synced": [], "direct": []}
    assert synced.trade_manager is not None
    assert direct.trade_manager is not None
    synced.trade_manager.add_trade_callback(lambda trade: seen["synced"].append(trade.symbol))
    direct.trade_manager.add_trade_callback(lambda trade: seen["direct"].append(trade.symbol))
    assert synced.paper_wallet is not None
    assert direct.paper_wallet is not None

    synced.paper_wallet.open(BTC, "buy", "0.01", "50000")
    direct.paper_wallet.open(ETH, "buy", "1", "3000")

    assert seen == {"synced": [BTC], "direct": []}
    # Either way the TradeManager shows the position: there is one log, nothing to drift.
    assert direct.trade_manager.get_position(ETH) is not None


def test_auto_sync_on_trade_rewrites_the_wallet_file_after_each_trade(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path
) -> None:
    auto = build(open_bot_ledger, clock, {}, tmp_path / "auto")
    manual = build(open_bot_ledger, clock, {"paper_wallet": {"auto_sync_on_trade": False}}, tmp_path / "manual")
    assert auto.paper_wallet is not None
    assert manual.paper_wallet is not None

    auto.paper_wallet.open(BTC, "buy", "0.01", "50000")
    manual.paper_wallet.open(ETH, "buy", "1", "3000")

    assert (tmp_path / "auto" / "paper_wallet_state.yaml").exists()
    assert not (tmp_path / "manual" / "paper_wallet_state.yaml").exists()
    manual.close()
    assert (tmp_path / "manual" / "paper_wallet_state.yaml").exists()


@pytest.mark.parametrize(("mode", "has_wallet"), [("dry_run", True), ("paper", True), ("live", False)])
def test_execution_mode_decides_whether_there_is_a_paper_wallet(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, mode: str, *, has_wallet: bool
) -> None:
    bot = build(open_bot_ledger, clock, {"execution_mode": mode})

    assert (bot.paper_wallet is not None) is has_wallet


def test_the_wallet_takes_its_balance_and_limits_from_the_paper_wallet_section(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    config = {"paper_wallet": {"initial_balance": 2500, "max_open_trades": 1, "allow_short": False}}
    bot = build(open_bot_ledger, clock, config)
    wallet = bot.paper_wallet
    assert wallet is not None

    assert wallet.balance == Decimal(2500)
    with pytest.raises(TradeRefused, match="short"):
        wallet.open(ETH, "sell", "0.1", "3000")
    wallet.open(ETH, "buy", "0.1", "3000")
    with pytest.raises(TradeRefused, match="max_open_trades"):
        wallet.open(SOL, "buy", "1", "150")


def test_wallet_limits_fall_back_to_the_top_level_keys(open_bot_ledger: Callable[[], Ledger], clock: Clock) -> None:
    bot = build(open_bot_ledger, clock, {"max_open_trades": 1, "allow_short": False})
    wallet = bot.paper_wallet
    assert wallet is not None

    wallet.open(ETH, "buy", "0.1", "3000")
    with pytest.raises(TradeRefused, match="max_open_trades"):
        wallet.open(SOL, "buy", "1", "150")


# --- exchange_reconcile.* (the behaviour in test_reconcile_at_start.py) ---------------------------


def test_exchange_reconcile_asks_the_named_exchange_at_start_and_unset_asks_none(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    class Exchange:
        calls = 0

        def fetch_balance(self) -> dict[str, Any]:
            Exchange.calls += 1
            return {"total": {"USDT": "5"}}  # the ledger holds no USDT on kraken

    section = {"exchange": "kraken", "tolerance": {"USDT": "5"}}
    plain = LegacyBot.build(open_bot_ledger(), {}, price_source=PRICES.__getitem__, exchange_client=Exchange())
    dusty = LegacyBot.build(
        open_bot_ledger(), {"exchange_reconcile": section}, price_source=PRICES.__getitem__, exchange_client=Exchange()
    )
    section["tolerance"] = {"USDT": "4.99"}
    warned = LegacyBot.build(
        open_bot_ledger(), {"exchange_reconcile": section}, price_source=PRICES.__getitem__, exchange_client=Exchange()
    )

    assert Exchange.calls == 2
    assert plain.reconciliation is None
    assert dusty.reconciliation is not None
    assert dusty.reconciliation.ok
    assert warned.reconciliation is not None
    assert not warned.reconciliation.ok
    assert "balance mismatch at start: USDT on 'kraken' (account 'default'): ledger 0, exchange 5" in caplog.text
    with pytest.raises(StartRefused, match="USDT on 'kraken'"):
        LegacyBot.build(
            open_bot_ledger(),
            {"exchange_reconcile": {**section, "on_mismatch": "refuse"}},
            price_source=PRICES.__getitem__,
            exchange_client=Exchange(),
        )


def test_risk_levels_fall_back_from_exit_strategy_to_risk(open_bot_ledger: Callable[[], Ledger], clock: Clock) -> None:
    bot = build(open_bot_ledger, clock, {"risk": {"stop_loss_pct": 0.05, "take_profit_pct": 0.2}})
    assert bot.trade_manager is not None

    bot.trade_manager.record_trade(create_trade(BTC, "buy", "1", "100", timestamp=clock()))
    position = bot.trade_manager.get_position(BTC)

    assert position is not None
    assert (position.stop_loss_price, position.take_profit_price) == (Decimal(95), Decimal(120))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"allow_short": "yes"}, "allow_short"),
        ({"max_open_trades": True}, "max_open_trades"),
        ({"paper_wallet": {"max_open_trades": 0}}, r"paper_wallet\.max_open_trades"),
        ({"trade_manager": {"single_source_of_truth": "true"}}, r"trade_manager\.single_source_of_truth"),
        ({"execution_mode": "backtest"}, "execution_mode"),
        ({"risk": {"stop_loss_pct": 1.5}}, r"risk\.stop_loss_pct"),
        ({"exchange_reconcile": {}}, r"exchange_reconcile\.exchange: Field required"),
        ({"exchange_reconcile": {"exchange": ""}}, r"exchange_reconcile\.exchange"),
        ({"exchange_reconcile": "binance"}, r"exchange_reconcile: .*'binance'"),
        ({"exchange_reconcile": {"exchange": "binance", "tolerance": {"BTC": -1}}}, r"tolerance\.BTC: .*-1"),
        ({"exchange_reconcile": {"exchange": "binance", "tolerance": {"BTC": "dust"}}}, r"tolerance\.BTC: .*'dust'"),
        ({"exchange_reconcile": {"exchange": "binance", "tolerance": {"BTC": True}}}, r"tolerance\.BTC"),
        ({"exchange_reconcile": {"exchange": "binance", "on_mismatch": "stop"}}, r"exchange_reconcile\.on_mismatch"),
        # tradeledger's own section: a misspelt key is refused, not kept as the bot's other keys are.
        (
            {"exchange_reconcile": {"exchange": "binance", "on_missmatch": "refuse"}},
            r"exchange_reconcile\.on_missmatch",
        ),
    ],
)
def test_a_config_value_of_the_wrong_kind_is_refused_naming_its_key(values: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        BotConfig.from_mapping(values)
