"""How much of a symbol's history the legacy read models look at to find one cycle's trades, counted, not
timed: the cycle's own trades and a binary search, not every trade of the symbol. `TradeManager`'s closed
positions (every legacy state file it writes) looked through the whole history for each closed cycle, and
`paper-bot` slowed with every bar: 500 bars took 6 s, 2,000 took 34 s."""

from __future__ import annotations

from typing import Any, SupportsIndex

from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.compat.account import AccountBook

CYCLES = 400


class CountingList(list[Any]):
    """A list that counts the items handed out, by iteration or by index."""

    looked = 0

    def __iter__(self) -> Any:
        for item in super().__iter__():
            CountingList.looked += 1
            yield item

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        found = super().__getitem__(index)
        CountingList.looked += len(found) if isinstance(index, slice) else 1
        return found


def test_the_trades_of_400_closed_cycles_are_found_without_reading_the_whole_history_each_time(ledger: Ledger) -> None:
    ledger.record_many(
        [fill_fields(fill_id=f"{side}{n}", side=side) for n in range(CYCLES) for side in ("buy", "sell")]
    )
    book = AccountBook(ledger, "default")
    trades = CountingList(book.by_symbol["BTC/USD"])
    book.by_symbol["BTC/USD"] = trades
    CountingList.looked = 0

    found = [book.cycle_trades(c.symbol, c.opened_seq, c.closed_seq) for c in book.positions.closed]

    assert [[trade.id for trade in cycle] for cycle in found[:2]] == [["buy0", "sell0"], ["buy1", "sell1"]]
    assert len(found) == CYCLES
    assert CountingList.looked <= 30 * CYCLES  # the whole history for each: 400 * 800 = 320,000
