"""`exchange_reconcile`: the legacy bot reconciles its account against an exchange when it starts.

A difference is the "mismatch" warning the seed tells the user to watch for at start, with the numbers
(ledger, exchange total, difference, cause); `on_mismatch: refuse` refuses to start instead. The
exchange is ccxt's real binance class answered offline from a recorded fetchBalance, or a small fake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.compat.conftest import Clock
from tests.exchanges.offline import offline_exchange, recorded_case
from tradeledger import Ledger
from tradeledger.compat import ConfigError, LegacyBot, StartRefused, load_bot_config
from tradeledger.compat.config import BotConfig
from tradeledger.exchanges.ccxt.ingesting import ingest

DEPOSITS = [
    {"id": "d1", "type": "deposit", "currency": "USDT", "amount": "1000", "timestamp": 1690000000000, "status": "ok"},
    {"id": "d2", "type": "deposit", "currency": "LTC", "amount": "1", "timestamp": 1690000000000, "status": "ok"},
]
BUY = {
    "id": "7",
    "timestamp": 1700000000000,
    "symbol": "LTC/USDT",
    "side": "buy",
    "price": "70",
    "amount": "0.25",
    "fee": {"cost": "0.0175", "currency": "USDT"},
}
# In the ledger, on binance: USDT 1000 - 17.5 - 0.0175 = 982.4825; LTC 1 + 0.25 = 1.25.
HELD = {"USDT": "982.4825", "LTC": "1.25"}
COMPAT = "tradeledger.compat"


class FakeExchange:
    """fetch_balance() as ccxt answers it in string number mode, or the error given; counts its calls."""

    def __init__(self, total: dict[str, str] | None = None, error: Exception | None = None) -> None:
        self.total = total or {}
        self.error = error
        self.calls = 0

    def fetch_balance(self) -> dict[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return {"info": {}, "free": dict(self.total), "used": {}, "total": dict(self.total)}


@pytest.fixture
def ledger(open_bot_ledger: Callable[[], Ledger]) -> Ledger:
    opened = open_bot_ledger()
    ingest(opened, DEPOSITS, exchange="binance")
    ingest(opened, [BUY], exchange="binance")
    return opened


def start(
    ledger: Ledger, clock: Clock, section: dict[str, Any] | None, client: object, state_dir: Path | None = None
) -> LegacyBot:
    config: dict[str, Any] = {"execution_mode": "live"}
    if section is not None:
        config["exchange_reconcile"] = section
    return LegacyBot.build(
        ledger,
        BotConfig.from_mapping(config),
        price_source=lambda _symbol: Decimal(70),
        state_dir=state_dir,
        clock=clock,
        exchange_client=client,  # type: ignore[arg-type]
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == COMPAT and r.levelno >= logging.WARNING]


def test_a_matching_balance_starts_without_a_warning(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = FakeExchange(HELD)

    bot = start(ledger, clock, {"exchange": "binance"}, exchange)

    assert exchange.calls == 1
    assert warnings_of(caplog) == []
    assert bot.reconciliation is not None
    assert bot.reconciliation.ok
    assert [(r.currency, r.ledger, r.exchange_total) for r in bot.reconciliation.balances] == [
        ("LTC", Decimal("1.25"), Decimal("1.25")),
        ("USDT", Decimal("982.4825"), Decimal("982.4825")),
    ]


def test_a_mismatch_is_a_warning_per_currency_with_the_numbers_and_the_bot_starts(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # A buy of 0.1 LTC at 70 made by hand on the exchange while the bot was down: the ledger lacks it.
    exchange = FakeExchange({"USDT": "975.4825", "LTC": "1.35"})

    bot = start(ledger, clock, {"exchange": "binance"}, exchange)

    assert warnings_of(caplog) == [
        (
            "balance mismatch at start: LTC on 'binance' (account 'default'): ledger 1.25, exchange 1.35, "
            "difference 0.1 (more LTC on the exchange: a deposit or transfer in not ingested, or a missed buy)"
        ),
        (
            "balance mismatch at start: USDT on 'binance' (account 'default'): ledger 982.4825, exchange 975.4825, "
            "difference -7 (less USDT on the exchange: a withdrawal or fee not ingested, or a missed sell)"
        ),
    ]
    assert bot.reconciliation is not None
    assert not bot.reconciliation.ok
    assert [row.difference for row in bot.reconciliation.balances] == [Decimal("0.1"), Decimal(-7)]
    assert bot.context.positions["LTC/USDT"]["size"] == Decimal("0.25")  # started: the bot's views are there


def test_a_currency_only_one_side_holds_is_a_mismatch_against_zero(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    start(ledger, clock, {"exchange": "binance"}, FakeExchange({**HELD, "BNB": "0.5"}))

    assert warnings_of(caplog) == [
        (
            "balance mismatch at start: BNB on 'binance' (account 'default'): ledger 0, exchange 0.5, "
            "difference 0.5 (more BNB on the exchange: a deposit or transfer in not ingested, or a missed buy)"
        )
    ]


def test_dust_within_the_tolerance_read_exactly_from_the_yaml_passes(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "execution_mode: live\n"
        "exchange_reconcile:\n"
        "  exchange: binance\n"
        "  tolerance:\n"
        '    LTC: "0.00000001"\n'  # quoted: exactly as written
        "    USDT: 0.01\n",  # a YAML float: its shortest repr, 0.01, never binary noise
        encoding="utf-8",
    )
    config = load_bot_config(path)
    assert config.exchange_reconcile is not None
    assert config.exchange_reconcile.tolerance == {"LTC": Decimal("0.00000001"), "USDT": Decimal("0.01")}
    exchange = FakeExchange({"USDT": "982.4925", "LTC": "1.25000001"})

    bot = LegacyBot.build(ledger, config, price_source=lambda _symbol: Decimal(70), exchange_client=exchange)

    assert warnings_of(caplog) == []
    assert bot.reconciliation is not None
    assert bot.reconciliation.ok
    assert [row.cause for row in bot.reconciliation.balances] == [
        "dust within the tolerance 0.00000001 LTC",
        "dust within the tolerance 0.01 USDT",
    ]
    # One satoshi more than the tolerance is a mismatch again.
    start(
        ledger,
        clock,
        {"exchange": "binance", "tolerance": {"LTC": "0.00000001"}},
        FakeExchange({**HELD, "LTC": "1.25000002"}),
    )
    assert len(warnings_of(caplog)) == 1
    assert "ledger 1.25, exchange 1.25000002, difference 0.00000002" in warnings_of(caplog)[0]


def test_refuse_raises_naming_every_difference_before_anything_is_built(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    exchange = FakeExchange({"USDT": "975.4825", "LTC": "1.35"})
    config = {"exchange": "binance", "on_mismatch": "refuse"}

    with pytest.raises(StartRefused) as refused:
        start(ledger, clock, config, exchange, state_dir=tmp_path / "state")

    message = str(refused.value)
    assert message.startswith(
        f"exchange_reconcile: the ledger does not agree with 'binance' at seq {ledger.head.seq} (on_mismatch: refuse): "
    )
    assert "LTC on 'binance' (account 'default'): ledger 1.25, exchange 1.35, difference 0.1" in message
    assert "USDT on 'binance' (account 'default'): ledger 982.4825, exchange 975.4825, difference -7" in message
    assert warnings_of(caplog) == []  # refused, not warned
    assert not (tmp_path / "state").exists()  # no TradeManager, no state file
    # The same ledger in agreement starts in refuse mode.
    assert start(ledger, clock, config, FakeExchange(HELD)).reconciliation is not None


def test_an_exchange_error_is_one_warning_naming_exchange_and_call_and_the_bot_starts(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    error = ccxt.NetworkError("binance GET https://api.binance.com/api/v3/account\nRead timed out. (read timeout=10)")

    bot = start(ledger, clock, {"exchange": "binance"}, FakeExchange(error=error))

    assert warnings_of(caplog) == [
        (
            "exchange_reconcile: 'binance' fetch_balance failed: NetworkError: binance GET "
            "https://api.binance.com/api/v3/account; the ledger was not compared with the exchange; starting anyway"
        )
    ]
    assert bot.reconciliation is None
    assert bot.context is not None


def test_an_exchange_error_with_refuse_refuses_to_start(ledger: Ledger, clock: Clock) -> None:
    error = ccxt.ExchangeNotAvailable("binance 503 Service Unavailable")

    with pytest.raises(
        StartRefused, match=r"'binance' fetch_balance failed: ExchangeNotAvailable: .*on_mismatch: refuse"
    ):
        start(ledger, clock, {"exchange": "binance", "on_mismatch": "refuse"}, FakeExchange(error=error))


def test_an_answer_with_an_inexact_number_is_not_compared_and_is_named(
    ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    class FloatExchange(FakeExchange):
        def fetch_balance(self) -> dict[str, Any]:
            return {"total": {"USDT": 982.4825}}  # a ccxt client not in string number mode

    bot = start(ledger, clock, {"exchange": "binance"}, FloatExchange())

    (warning,) = warnings_of(caplog)
    assert warning.startswith(
        "exchange_reconcile: 'binance' fetch_balance failed: balances: total.USDT: must be an exact"
    )
    assert bot.reconciliation is None


def test_ccxts_real_binance_class_offline_on_a_recorded_balance(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # The recorded spot account holds LTC 0.91974100 and ETH 0.02229833 (free; nothing locked), BTC 0.
    recorded = recorded_case("binance", "fetchBalance", 0)["httpResponse"]
    ledger = open_bot_ledger()
    ingest(
        ledger,
        [
            {
                "id": "l",
                "type": "deposit",
                "currency": "LTC",
                "amount": "0.919741",
                "timestamp": 1690000000000,
                "status": "ok",
            },
            {
                "id": "e",
                "type": "deposit",
                "currency": "ETH",
                "amount": "0.02",
                "timestamp": 1690000000000,
                "status": "ok",
            },
        ],
        exchange="binance",
    )
    exchange = offline_exchange("binance", [recorded])

    bot = start(ledger, clock, {"exchange": "binance"}, exchange)

    (url,) = exchange.offline.urls  # one request, answered from the recording: no network
    assert "api.binance.com/api/v3/account" in url
    assert warnings_of(caplog) == [
        (
            "balance mismatch at start: ETH on 'binance' (account 'default'): ledger 0.02, exchange 0.02229833, "
            "difference 0.00229833 (more ETH on the exchange: a deposit or transfer in not ingested, or a missed buy)"
        )
    ]
    assert bot.reconciliation is not None
    assert [(r.currency, r.differs) for r in bot.reconciliation.balances] == [
        ("BTC", False),
        ("ETH", True),
        ("LTC", False),
    ]


def test_no_section_asks_no_exchange(ledger: Ledger, clock: Clock) -> None:
    exchange = FakeExchange(error=AssertionError("must not be called"))

    bot = start(ledger, clock, None, exchange)

    assert (exchange.calls, bot.reconciliation) == (0, None)


def test_without_a_client_the_keys_come_from_the_environment_and_a_missing_one_is_named(
    ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("TRADELEDGER_BINANCE_API_KEY", "TRADELEDGER_BINANCE_SECRET", "TRADELEDGER_BINANCE_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)

    with pytest.raises(ConfigError, match=r"exchange_reconcile\.exchange 'binance': .*TRADELEDGER_BINANCE_API_KEY"):
        start(ledger, clock, {"exchange": "binance"}, None)
    with pytest.raises(ConfigError, match=r"exchange_reconcile\.exchange 'binanse': .*not a ccxt exchange id"):
        start(ledger, clock, {"exchange": "binanse"}, None)
