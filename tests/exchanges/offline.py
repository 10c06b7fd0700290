"""ccxt's real parsers, offline, on recorded exchange answers (/work/shared/fixtures/exchange-ccxt).

An offline exchange has its markets set from tests/fixtures/ccxt-markets (so load_markets never
fetches), returns numbers as exact strings (``number = str``), and answers each HTTP request with
the next recorded raw answer: a request beyond the answers given raises, so no network call happens.
"""

from __future__ import annotations

import decimal
import json
import re
from pathlib import Path
from typing import Any

import ccxt

MARKETS = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-markets"
RECORDED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "exchange-ccxt"  # as test_ccxt_ingest
CCXT_VERSION: str = ccxt.__version__
EXCHANGES = ("binance", "bybit", "coinbase", "kraken", "kucoin", "okx")

# Account modes pinned, so ccxt does not ask the exchange for them first (one request less, no guess):
# bybit reads the unified-account flags from /v5/user/query-api and /v5/account/info unless both are set
# (the values ccxt's own static tests use); kucoin asks /api/ua/v1/account/mode unless ``uta`` is set
# (the recorded answers are of the classic, non-unified API).
ACCOUNT_MODES: dict[str, dict[str, Any]] = {
    "bybit": {"enableUnifiedAccount": True, "enableUnifiedMargin": False},
    "kucoin": {"uta": False},
}


class UnexpectedRequest(AssertionError):
    """ccxt asked for more than the recorded answers: offline, that would have been a network call."""


def fixture(name: str) -> dict[str, Any]:
    """The recorded cases of one exchange, every JSON number read as a Decimal (never through a float)."""
    text = (RECORDED / f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text, parse_float=decimal.Decimal)
    return loaded


def recorded_case(name: str, method: str, index: int) -> dict[str, Any]:
    """One case ({description, method, input, httpResponse, parsedResponse}) of a fixture."""
    case: dict[str, Any] = fixture(name)["methods"][method][index]
    return case


def markets(name: str) -> list[dict[str, Any]]:
    """The few ccxt market dicts the recorded answers of one exchange refer to."""
    loaded: list[dict[str, Any]] = json.loads((MARKETS / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


class OfflineExchange:
    """Answers ccxt's ``fetch`` with recorded raw answers, in order, and records the URLs asked for."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.urls: list[str] = []

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:  # noqa: ARG002
        self.urls.append(url)
        if not self.answers:
            raise UnexpectedRequest(f"no recorded answer left for {method} {url}")
        return self.answers.pop(0)


def offline_exchange(name: str, answers: list[Any] | None = None) -> ccxt.Exchange:
    """A ccxt exchange with its markets set, numbers as strings, and ``fetch`` answering ``answers`` in order.

    The URLs it was asked for are in ``exchange.offline.urls``; a request with no answer left raises
    UnexpectedRequest.
    """
    exchange: ccxt.Exchange = getattr(ccxt, name)(
        {"apiKey": "key", "secret": "secretsecret", "password": "password", "enableRateLimit": False}
    )
    exchange.number = str
    exchange.extend_exchange_options(ACCOUNT_MODES.get(name, {}))
    exchange.set_markets(markets(name))
    offline = OfflineExchange(answers or [])
    exchange.fetch = offline.fetch
    exchange.offline = offline
    return exchange


def snake_case(method: str) -> str:
    """ccxt's python name of a unified method: fetchMyTrades -> fetch_my_trades."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


def replay_case(name: str, method: str, index: int) -> tuple[ccxt.Exchange, Any]:
    """The offline exchange (with the URLs it asked for) and ccxt's parsed result of one recorded case."""
    data = fixture(name)
    case = data["methods"][method][index]
    exchange = offline_exchange(name, [case["httpResponse"]])
    exchange.extend_exchange_options(data["options"])
    return exchange, getattr(exchange, snake_case(method))(*case["input"])


def run_case(name: str, method: str, index: int) -> Any:
    """ccxt's parsed result (numbers as exact strings) of one recorded case, computed offline."""
    return replay_case(name, method, index)[1]
