"""ccxt 4.5.90's real parsers on the recorded exchange answers, offline, compared exactly with the recordings.

Every case of the six fixture files runs (none is skipped). ccxt returns numbers as strings
(``number = str``); each is compared as ``Decimal(str)`` with the recorded value, which the fixture
loader reads as Decimal. Everything ccxt returns is compared except ``info`` (the raw answer itself).
Where ccxt 4.5.90 differs from the recording, the difference is listed in KNOWN_DIFFERENCES with
its reason, and the test asserts exactly that list: a new difference, or one that went away, fails.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.exchanges.offline import (
    CCXT_VERSION,
    EXCHANGES,
    UnexpectedRequest,
    fixture,
    offline_exchange,
    recorded_case,
    replay_case,
    run_case,
    snake_case,
)

MISSING = "<missing in ccxt's result>"
NUMBER_KEYS = {"amount", "price", "cost", "total", "free", "used", "debt", "before", "after", "rate"}

# (exchange, method, index) -> the differences [(path, ccxt 4.5.90's value, recorded value)], and why.
KNOWN_DIFFERENCES: dict[tuple[str, str, int], list[tuple[str, Any, Any]]] = {
    # ccxt 4.5.90's binance options["networksById"] maps the raw network id TRX to the unified code
    # TRC20; the recording kept the raw id.
    ("binance", "fetchDeposits", 0): [("[0].network", "TRC20", "TRX")],
    ("binance", "fetchWithdrawals", 0): [("[0].network", "TRC20", "TRX")],
    # ccxt 4.5.90 keeps the microseconds of coinbase's trade_time in `datetime` (the timestamp, in
    # milliseconds, is the same).
    ("coinbase", "fetchMyTrades", 1): [
        ("[0].datetime", "2024-04-09T11:45:50.552204Z", "2024-04-09T11:45:50.552Z"),
    ],
    # kucoin's cross-margin answer has `liability` but no `interest`: ccxt 4.5.90 adds them with
    # Precise.string_add, which gives None when one side is missing, so no debt (recorded: 0).
    ("kucoin", "fetchBalance", 1): [(".USDT.debt", None, Decimal(0)), (".debt", MISSING, {"USDT": Decimal(0)})],
    # The recording went through floats: okx's exact balance strings lost digits there (see
    # test_okx_ledger_balances_are_the_exact_raw_strings_which_a_float_would_have_rounded).
    ("okx", "fetchLedger", 0): [
        ("[0].after", "67533.7456994514348308", Decimal("67533.74569945144")),
        ("[0].before", "67543.9036994514348308", Decimal("67543.90369945145")),
    ],
}


# The one request each case makes (host and path), answered by the recording; any other request fails.
ENDPOINTS: dict[tuple[str, str, int], str] = {
    ("binance", "fetchMyTrades", 0): "api.binance.com/api/v3/myTrades",
    ("binance", "fetchMyTrades", 1): "fapi.binance.com/fapi/v1/userTrades",
    ("binance", "fetchMyTrades", 2): "papi.binance.com/papi/v1/margin/myTrades",
    ("binance", "fetchBalance", 0): "api.binance.com/api/v3/account",
    ("binance", "fetchBalance", 1): "fapi.binance.com/fapi/v3/account",
    ("binance", "fetchBalance", 2): "papi.binance.com/papi/v1/balance",
    ("binance", "fetchBalance", 3): "papi.binance.com/papi/v1/balance",
    ("binance", "fetchFundingHistory", 0): "papi.binance.com/papi/v1/um/income",
    ("binance", "fetchWithdrawals", 0): "api.binance.com/sapi/v1/capital/withdraw/history",
    ("binance", "fetchDeposits", 0): "api.binance.com/sapi/v1/capital/deposit/hisrec",
    ("bybit", "fetchBalance", 0): "api.bybit.com/v5/account/wallet-balance",
    ("bybit", "fetchMyTrades", 0): "api.bybit.com/v5/execution/list",
    ("bybit", "fetchMyTrades", 1): "api.bybit.com/v5/execution/list",
    ("bybit", "fetchMyTrades", 2): "api.bybit.com/v5/execution/list",
    ("bybit", "fetchMyTrades", 3): "api.bybit.com/v5/execution/list",
    ("bybit", "fetchLedger", 0): "api.bybit.com/v5/account/transaction-log",
    ("bybit", "fetchFundingHistory", 0): "api.bybit.com/v5/execution/list",
    ("coinbase", "fetchMyTrades", 0): "api.coinbase.com/api/v3/brokerage/orders/historical/fills",
    ("coinbase", "fetchMyTrades", 1): "api.coinbase.com/api/v3/brokerage/orders/historical/fills",
    ("coinbase", "fetchBalance", 0): "api.coinbase.com/v2/accounts",
    ("coinbase", "fetchBalance", 1): "api.coinbase.com/v2/accounts",
    ("kraken", "fetchDeposits", 0): "api.kraken.com/0/private/DepositStatus",
    ("kraken", "fetchWithdrawals", 0): "api.kraken.com/0/private/WithdrawStatus",
    ("kucoin", "fetchMyTrades", 0): "api.kucoin.com/api/v1/fills",
    ("kucoin", "fetchLedger", 0): "api.kucoin.com/api/v1/accounts/ledgers",
    ("kucoin", "fetchBalance", 0): "api.kucoin.com/api/v1/accounts",
    ("kucoin", "fetchBalance", 1): "api.kucoin.com/api/v1/margin/account",
    ("kucoin", "fetchBalance", 2): "api.kucoin.com/api/v3/isolated/accounts",
    ("okx", "fetchBalance", 0): "www.okx.com/api/v5/asset/balances",
    ("okx", "fetchBalance", 1): "www.okx.com/api/v5/asset/balances",
    ("okx", "fetchBalance", 2): "www.okx.com/api/v5/account/balance",
    ("okx", "fetchBalance", 3): "www.okx.com/api/v5/account/balance",
    ("okx", "fetchMyTrades", 0): "www.okx.com/api/v5/trade/fills-history",
    ("okx", "fetchLedger", 0): "www.okx.com/api/v5/account/bills",
}


def all_cases() -> Iterator[Any]:
    for name in EXCHANGES:
        for method, cases in fixture(name)["methods"].items():
            for index, case in enumerate(cases):
                yield pytest.param(name, method, index, id=f"{name}-{method}-{index}-{case['description']}")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: a socket connection attempt fails the test (the offline fetch should never reach one)."""

    def refuse(*args: object) -> None:
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def differences(computed: Any, recorded: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Where ccxt's result differs from the recorded one (numbers compared exactly, as Decimals)."""
    if isinstance(recorded, dict) and isinstance(computed, dict):
        return dict_differences(computed, recorded, path)
    if isinstance(recorded, list) and isinstance(computed, list) and len(computed) == len(recorded):
        pairs = enumerate(zip(computed, recorded, strict=True))
        return [found for i, (c, r) in pairs for found in differences(c, r, f"{path}[{i}]")]
    return [] if same_value(computed, recorded) else [(path, computed, recorded)]


def dict_differences(computed: dict[str, Any], recorded: dict[str, Any], path: str) -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = []
    for key in sorted((set(recorded) | set(computed)) - {"info"}):
        if key not in computed:
            found.append((f"{path}.{key}", MISSING, recorded[key]))
        elif key not in recorded:
            found.append((f"{path}.{key}", computed[key], "<not recorded>"))
        else:
            found += differences(computed[key], recorded[key], f"{path}.{key}")
    return found


def same_value(computed: Any, recorded: Any) -> bool:
    """A recorded number (Decimal, or int for timestamps) equals ccxt's exact string; anything else compares as is."""
    if isinstance(recorded, bool) or not isinstance(recorded, Decimal | int) or isinstance(computed, int):
        return bool(computed == recorded)
    return isinstance(computed, str) and Decimal(computed) == recorded


def flat_isolated_balance(recorded: dict[str, Any]) -> dict[str, Any]:
    """kucoin's isolated balance as ccxt 4.5.90 shapes it: per currency, no longer nested per symbol."""
    return {**{key: value for key, value in recorded.items() if key != "LTC/USDT"}, **recorded["LTC/USDT"]}


@pytest.mark.parametrize(("name", "method", "index"), list(all_cases()))
def test_ccxt_parses_the_recorded_answer_as_recorded(name: str, method: str, index: int) -> None:
    case = recorded_case(name, method, index)
    exchange, result = replay_case(name, method, index)
    recorded = case["parsedResponse"]
    if (name, method, index) == ("kucoin", "fetchBalance", 2):
        recorded = flat_isolated_balance(recorded)

    assert differences(result, recorded) == KNOWN_DIFFERENCES.get((name, method, index), [])
    asked = [urlsplit(url) for url in exchange.offline.urls]
    assert [f"{url.netloc}{url.path}" for url in asked] == [ENDPOINTS[name, method, index]]


@pytest.mark.parametrize(("name", "method", "index"), list(all_cases()))
def test_ccxt_returns_every_number_as_an_exact_string(name: str, method: str, index: int) -> None:
    def numbers(value: Any) -> Iterator[Any]:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in NUMBER_KEYS and not isinstance(inner, dict):
                    yield inner
                if key != "info":
                    yield from numbers(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from numbers(inner)

    found = [n for n in numbers(run_case(name, method, index)) if n is not None]
    recorded = [n for n in numbers(recorded_case(name, method, index)["parsedResponse"]) if n is not None]
    assert bool(found) == bool(recorded)  # okx's second funding balance is empty: nothing to check there
    assert all(isinstance(n, str) for n in found), found


def test_the_fixture_is_read_without_floats() -> None:
    trade = recorded_case("bybit", "fetchMyTrades", 0)["parsedResponse"][0]
    assert trade["fee"]["cost"] == Decimal("3.36E-7")
    assert type(trade["fee"]["cost"]) is Decimal


def test_the_known_differences_are_those_of_ccxt_4_5_90() -> None:
    assert CCXT_VERSION == "4.5.90"  # another version may parse differently: review KNOWN_DIFFERENCES


def test_every_fixture_case_is_compared() -> None:
    counts = {name: sum(len(cases) for cases in fixture(name)["methods"].values()) for name in EXCHANGES}
    assert counts == {"binance": 10, "bybit": 7, "coinbase": 4, "kraken": 2, "kucoin": 5, "okx": 6}
    assert len(list(all_cases())) == len(ENDPOINTS) == 34


def test_okx_ledger_balances_are_the_exact_raw_strings_which_a_float_would_have_rounded() -> None:
    raw = recorded_case("okx", "fetchLedger", 0)["httpResponse"]["data"][0]
    recorded = recorded_case("okx", "fetchLedger", 0)["parsedResponse"][0]
    entry = run_case("okx", "fetchLedger", 0)[0]

    assert entry["after"] == raw["bal"] == "67533.7456994514348308"
    assert Decimal(entry["before"]) == Decimal(raw["bal"]) - Decimal(raw["balChg"]) == Decimal("67543.9036994514348308")
    assert entry["amount"] == raw["balChg"] == "-10.1580000000000000"
    # The recording is what a float makes of the exact values: 22 significant digits cut to 16.
    assert float(entry["after"]) == float(recorded["after"])
    assert Decimal(entry["after"]) != recorded["after"] == Decimal("67533.74569945144")
    assert Decimal(entry["before"]) != recorded["before"] == Decimal("67543.90369945145")


def test_bybit_fee_of_3_36e_7_is_the_raw_string_not_a_float_rendering() -> None:
    raw = recorded_case("bybit", "fetchMyTrades", 0)["httpResponse"]["result"]["list"][0]
    trade = run_case("bybit", "fetchMyTrades", 0)[0]

    assert trade["fee"] == {"currency": "BTC", "cost": "0.000000336", "rate": "0.001"}
    assert trade["fee"]["cost"] == raw["execFee"]
    assert str(float(trade["fee"]["cost"])) == "3.36e-07"  # the same value, in the notation a float path prints


@pytest.mark.parametrize("index", [2, 3])
def test_okx_used_0_4000000000000001_is_ccxts_exact_total_less_free_not_a_float_artefact(index: int) -> None:
    raw = next(
        d
        for d in recorded_case("okx", "fetchBalance", index)["httpResponse"]["data"][0]["details"]
        if d["ccy"] == "BTC"
    )
    btc = run_case("okx", "fetchBalance", index)["BTC"]

    assert btc == {"free": "0.6612664522199999", "used": "0.4000000000000001", "total": "1.06126645222"}
    assert (btc["free"], btc["total"]) == (raw["availBal"], raw["eq"])
    assert Decimal(btc["used"]) == Decimal(raw["eq"]) - Decimal(raw["availBal"])  # exact, in string mode too
    assert raw["frozenBal"] == "0.4"  # what okx itself says is frozen: its availBal carries the artefact


def test_kucoin_isolated_balance_is_merged_per_currency_not_nested_per_symbol() -> None:
    recorded = recorded_case("kucoin", "fetchBalance", 2)["parsedResponse"]
    balance = run_case("kucoin", "fetchBalance", 2)

    assert "LTC/USDT" not in balance
    assert "LTC/USDT" in recorded
    assert balance["USDT"] == {"free": "5", "used": "0", "total": "5", "debt": "0"}
    assert differences(balance["USDT"], recorded["LTC/USDT"]["USDT"]) == []


def test_a_request_beyond_the_recorded_answers_raises_instead_of_reaching_the_network() -> None:
    exchange = offline_exchange("okx")

    with pytest.raises(UnexpectedRequest, match="no recorded answer left"):
        exchange.fetch_my_trades("LTC/USDT")
    assert len(exchange.offline.urls) == 1


def test_markets_are_set_so_load_markets_asks_nothing() -> None:
    for name in EXCHANGES:
        exchange = offline_exchange(name)
        assert exchange.load_markets()
        assert exchange.offline.urls == []


def test_snake_case_names_ccxts_python_methods() -> None:
    assert snake_case("fetchMyTrades") == "fetch_my_trades"
    assert snake_case("fetchFundingHistory") == "fetch_funding_history"


def test_the_comparison_reads_numbers_exactly_and_misses_nothing() -> None:
    assert differences({"a": "0.10", "t": 1}, {"a": Decimal("0.1"), "t": 1}) == []
    assert differences({"a": "0.1000000000000001"}, {"a": Decimal("0.1")}) == [
        (".a", "0.1000000000000001", Decimal("0.1"))
    ]
    assert differences({"a": 0.1}, {"a": Decimal("0.1")}) == [(".a", 0.1, Decimal("0.1"))]  # a float is not exact
    assert differences([{}], [{"b": "x"}]) == [("[0].b", MISSING, "x")]
    assert differences({"info": {"raw": 1}}, {"info": {"raw": 2}}) == []
