"""`quote` of `Ledger.gains` and `Ledger.lots` (`--quote` of the commands) keeps one quote currency: a value that is
no currency code (spec section 2: capitals and digits) can match no symbol, so it is refused naming it, not
answered with an empty report."""

from __future__ import annotations

import pytest

from tests.factories import fill_fields
from tradeledger import InvalidArgument, Ledger


@pytest.mark.parametrize("quote", ["usd", "USD ", "BTC/USD", ""])
def test_gains_and_lots_refuse_a_quote_that_is_no_currency_code(ledger: Ledger, quote: str) -> None:
    ledger.record(fill_fields(symbol="BTC/USD"))
    refusal = f"quote: must be a currency code in capitals and digits, like BTC or 1000PEPE (got {quote!r})"

    with pytest.raises(InvalidArgument) as gains:
        ledger.gains("fifo", quote=quote)
    with pytest.raises(InvalidArgument) as lots:
        ledger.lots("fifo", quote=quote)

    assert str(gains.value) == str(lots.value) == refusal


def test_gains_and_lots_of_a_quote_currency_no_symbol_has_are_empty(ledger: Ledger) -> None:
    ledger.record(fill_fields(symbol="BTC/USD"))

    assert ledger.lots("fifo", quote="EUR").lots == ()
    assert [lot.quote for lot in ledger.lots("fifo", quote="USD").lots] == ["USD"]
