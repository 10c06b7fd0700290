"""The balances a batch reads before it folds (domain.balances.all_touched): every one `touched_balances`
names for each of its rows, whatever the rows repeat."""

from __future__ import annotations

from tradeledger.domain.balances import all_touched, touched_balances

ROWS: list[tuple[str, str, str | None, str, str | None, str | None]] = [
    ("a", "binance", "BTC/USDT", "fill", '[{"amount":"0.1","currency":"USDT"}]', None),
    ("a", "binance", "BTC/USDT", "fill", '[{"amount":"0.001","currency":"BNB"}]', None),  # same market, a BNB fee
    ("a", "binance", "BTC/USDT", "fill", "[]", None),
    ("a", "kraken", "BTC/USDT", "fill", None, None),  # a v1 fill: its fee is in the quote
    ("b", "okx", "ETH/USDT:USDT", "fill", '[{"amount":"1","currency":"ETH"},{"amount":"2","currency":"USD"}]', None),
    ("b", "okx", "ETH/USDT:USDT", "funding", None, "USDT"),
    ("b", "binance", None, "transfer", None, "EUR"),
    ("b", "binance", None, "transfer", None, "EUR"),
]  # fmt: skip


def test_a_batch_touches_every_balance_each_of_its_rows_touches() -> None:
    expected = set().union(*(touched_balances(*row) for row in ROWS))

    assert all_touched(ROWS) == expected
    assert all_touched(reversed(ROWS)) == expected
    assert ("a", "binance", "BNB") in expected
    assert ("b", "okx", "ETH") in expected  # a contract moves no base: only a fee in it does
    assert ("a", "kraken", "BTC") in expected
    assert ("b", "okx", "USD") in expected
