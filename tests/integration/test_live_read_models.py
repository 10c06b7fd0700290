"""Compat read models in one process see another process's appends and rollbacks (issue 18), on both backends.

The writer is a subprocess with a ledger of its own. A read model learns of its commits through the
store's change signal (`PRAGMA data_version` on SQLite, LISTEN/NOTIFY on PostgreSQL); the test waits
for it with a hang guard, never asserting a duration. This process's own appends are visible as
soon as they return, with no wait (the Ledger's write counter, not a NOTIFY that may come later).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import pytest

from tests.factories import fill_fields
from tradeledger import Ledger
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager

HANG_GUARD_S = 60.0  # a bound on a signal that never comes, never an assertion on speed
BTC, ETH = "BTC/USD", "ETH/USD"
T = TypeVar("T")

WRITER = """
import sys
from tradeledger import open_ledger

url, action, argument = sys.argv[1:4]
with open_ledger(url) as ledger:
    if action == "record":
        symbol, side, quantity, price, fill_id = argument.split(",")
        ledger.record({
            "fill_id": fill_id, "account": "default", "exchange": "kraken", "symbol": symbol, "side": side,
            "quantity": quantity, "price": price, "fee": "0", "occurred_at": "2026-03-02T10:00:00+00:00",
        })
    else:
        ledger.rollback(to_seq=int(argument), reason="a fill sent twice", actor="ops")
"""


def in_another_process(url: str, action: str, argument: str) -> None:
    subprocess.run(
        [sys.executable, "-c", WRITER, url, action, argument],
        check=True,
        timeout=HANG_GUARD_S,
        env=dict(os.environ),
        capture_output=True,
    )


def eventually(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Read until `done` (the change signal has reached this process), failing after the hang guard."""
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"the read model never saw the other process's commit (last read {value!r})")
        time.sleep(0.005)


def test_a_trade_manager_sees_another_process_append(ledger: Ledger, db_url: str) -> None:
    ledger.record(fill_fields(symbol=ETH, side="buy", quantity="1", price="10"))
    tm = TradeManager(ledger)
    assert tm.get_position(BTC) is None

    in_another_process(db_url, "record", f"{BTC},buy,2,100,X-1")

    position = eventually(lambda: tm.get_position(BTC), lambda found: found is not None)
    assert position is not None
    assert (position.total_amount, position.average_price) == (Decimal(2), Decimal(100))
    assert [p.symbol for p in tm.get_all_positions()] == [BTC, ETH]
    tm.close()


def test_this_process_append_is_visible_as_soon_as_it_returns(ledger: Ledger) -> None:
    tm = TradeManager(ledger)
    wallet = PaperWallet(ledger, 1000)
    assert tm.get_all_positions() == []
    assert wallet.balance == Decimal(1000)

    ledger.record(fill_fields(symbol=BTC, side="buy", quantity="2", price="100"))

    position = tm.get_position(BTC)  # no wait: the Ledger's write counter moved
    assert position is not None
    assert position.total_amount == Decimal(2)
    assert wallet.balance == Decimal(800)
    reads = tm._book.reads
    for _ in range(20):
        tm.get_position(BTC)
    # Nothing was written since: no read, or one for a change signal of the append that arrived late.
    assert tm._book.reads - reads <= 1
    tm.close()
    wallet.shutdown()


def test_a_rollback_in_another_process_resets_the_read_models(ledger: Ledger, db_url: str) -> None:
    ledger.record(fill_fields(symbol=ETH, side="buy", quantity="1", price="10"))
    ledger.record(fill_fields(symbol=BTC, side="buy", quantity="1", price="100"))
    tm = TradeManager(ledger)
    wallet = PaperWallet(ledger, 1000)
    assert wallet.balance == Decimal(890)
    assert tm.get_position(BTC) is not None

    in_another_process(db_url, "rollback", "1")

    assert eventually(lambda: tm.get_position(BTC), lambda found: found is None) is None
    assert tm._book.resets == 1
    assert [p.symbol for p in tm.get_all_positions()] == [ETH]
    assert eventually(lambda: wallet.balance, lambda cash: cash == Decimal(990)) == Decimal(990)

    in_another_process(db_url, "record", f"{BTC},sell,1,120,X-2")
    position = eventually(lambda: tm.get_position(BTC), lambda found: found is not None)
    assert position is not None
    assert position.side == "short"
    tm.close()
    wallet.shutdown()


def test_a_read_model_dropped_without_close_releases_its_connection(ledger: Ledger) -> None:
    tm = TradeManager(ledger)
    tm.get_all_positions()
    subscription = tm._book._subscription
    assert subscription._signal is not None

    del tm
    gc.collect()

    assert subscription._signal is None


def test_a_paper_wallet_resumes_from_the_checkpoint_of_an_earlier_run_after_another_process_appended(
    ledger: Ledger, db_url: str
) -> None:
    ledger.record_many(
        [
            fill_fields(symbol=BTC, side="buy", quantity="2", price="100", fee="0.1"),
            fill_fields(symbol=BTC, side="sell", quantity="1", price="110", fee="0.1"),
        ]
    )
    earlier = PaperWallet(ledger, 10_000)
    assert earlier.balance == Decimal("9909.8")  # folded from the first event, and saved
    earlier.shutdown()
    in_another_process(db_url, "record", f"{ETH},buy,1,50,F-after-checkpoint")

    wallet = PaperWallet(ledger, 10_000)

    assert wallet.balance == Decimal("9859.8") == ledger.replay_wallet(Decimal(10_000)).cash
    assert wallet._checkpoints.resumed_at is not None
    assert wallet._checkpoints.resumed_at.seq == 2  # it folded the other process's fill only
    wallet.shutdown()
