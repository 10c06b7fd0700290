"""The symbol filters of the reads (`Ledger.history`, `stream_history`, `position`, `account_history`,
`last_occurred`): symbols are stored only in ccxt's unified form (domain/markets.py), so a filter that is no
unified symbol can match nothing and is refused naming it; a unified symbol the ledger does not hold is an
empty answer (a bot may ask before its first fill)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidArgument, Ledger

SPOT_REFUSAL = (
    "symbol: must be BASE/QUOTE in capitals, like BTC/USD (spot), or BASE/QUOTE:SETTLE (a perpetual, like "
    "BTC/USDT:USDT) or BASE/QUOTE:SETTLE-YYMMDD (a future) (got {!r})"
)

READS: dict[str, Callable[[Ledger, str], Any]] = {
    "history": lambda ledger, symbol: ledger.history(symbol=symbol),
    "stream_history": lambda ledger, symbol: ledger.stream_history(symbol=symbol),
    "position": lambda ledger, symbol: ledger.position(symbol),
    "account_history": lambda ledger, symbol: ledger.account_history(
        "default", at=ledger.head, until_seq=ledger.head.seq, symbol=symbol
    ),
    "last_occurred": lambda ledger, symbol: ledger.last_occurred(
        account="default", exchange="kraken", types=["fill"], symbol=symbol
    ),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
@pytest.mark.parametrize("symbol", ["btc/usd", "BTC-USD", " BTC/USD", "[b]BTC/USD", ""])
def test_a_symbol_filter_that_is_no_unified_symbol_is_refused_naming_it(
    ledger: Ledger, read: Callable[[Ledger, str], Any], symbol: str
) -> None:
    ledger.record(fill_fields(symbol="BTC/USD"))

    with pytest.raises(InvalidArgument) as refused:
        read(ledger, symbol)

    assert str(refused.value) == SPOT_REFUSAL.format(symbol)


def test_a_symbol_filter_of_an_inverse_contract_is_refused_as_the_ledger_books_none(ledger: Ledger) -> None:
    with pytest.raises(InvalidArgument) as refused:
        ledger.history(symbol="BTC/USD:BTC")

    assert str(refused.value) == (
        "symbol: is an inverse contract (settled in its base currency BTC); only linear contracts, settled in the "
        "quote currency, are supported (got 'BTC/USD:BTC')"
    )


def test_a_unified_symbol_the_ledger_does_not_hold_is_an_empty_answer(ledger: Ledger) -> None:
    ledger.record(fill_fields(fill_id="held", symbol="BTC/USD"))

    assert ledger.history(symbol="ETH/USD") == []
    assert list(ledger.stream_history(symbol="ETH/USD")) == []
    assert ledger.position("ETH/USD") is None
    assert ledger.account_history("default", at=ledger.head, until_seq=ledger.head.seq, symbol="ETH/USD") == []
    assert ledger.last_occurred(account="default", exchange="kraken", types=["fill"], symbol="ETH/USD") is None
    assert [r.fill.event_id for r in ledger.history(symbol="BTC/USD")] == ["held"]
