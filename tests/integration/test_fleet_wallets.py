"""Paper wallets of one account in two processes (a fleet, README "Run a fleet"): a command is checked against
the account's books (spec section 5: the open size, an open position of the symbol, max_open_trades, the cash)
and appended; another process may append to the account between the check and the append.

Each worker pauses right after its first check passed (the check is wrapped in the worker, tests/processes.py
`run_in_lockstep` releases both only once both checked): both checked the same books, neither appended yet.
Exactly one command may then land; the other must be refused as if it had been checked after the first
(TradeRefused, nothing appended), never appended on books the log has moved past.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.backends import Backend
from tests.processes import run_in_lockstep
from tradeledger import Fill, open_ledger
from tradeledger.application.subscribing import Subscription
from tradeledger.compat import BotContext, PaperWallet, TradeManager
from tradeledger.domain.records import Checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

ACCOUNT = "paper"
B0 = Decimal(1000)

# argv: url command (close | open) symbol trade_manager (yes | no). Prints {"done": ...} or {"refused": message}.
WORKER = r"""
import json
import sys

from tradeledger import open_ledger
from tradeledger.compat import PaperWallet, TradeManager
from tradeledger.compat.paper_wallet import rules
from tradeledger.errors import TradeRefused

url, command, symbol, with_manager = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "yes"
paused = []


def pausing(check):
    def checked(*args, **kwargs):
        found = check(*args, **kwargs)
        if not paused:  # the first check only: both workers hold the same books here, neither appended
            paused.append(True)
            print("checked", flush=True)
            if sys.stdin.readline().strip() != "go":
                sys.exit("no go signal")
        return found
    return checked


rules.check_close = pausing(rules.check_close)
rules.check_open = pausing(rules.check_open)

with open_ledger(url) as ledger:
    manager = TradeManager(ledger, account="paper") if with_manager else None
    wallet = PaperWallet(ledger, 1000, account="paper", trade_manager=manager)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    try:
        if command == "close":
            done = str(wallet.close(symbol, 1, 110))
        else:
            done = wallet.open(symbol, "buy", 1, 100)
        result = {"done": done}
    except TradeRefused as error:
        result = {"refused": str(error)}
    wallet.shutdown()
    if manager is not None:
        manager.close()
print(json.dumps(result), flush=True)
"""


# argv: url path (wallet | trade-manager). The bot's exit handler closes what the log holds of BTC/USD; prints
# {"exits": n}, the closes it made.
EXIT_WORKER = r"""
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal

from tradeledger import open_ledger
from tradeledger.compat import PaperWallet, TradeManager
from tradeledger.compat.bot import ExitHandler

url, path = sys.argv[1], sys.argv[2]
held = ExitHandler._held
paused = []


def pausing(self, symbol):
    found = held(self, symbol)
    if not paused:  # the first look only: both handlers found the same long, neither closed it yet
        paused.append(True)
        print("checked", flush=True)
        if sys.stdin.readline().strip() != "go":
            sys.exit("no go signal")
    return found


ExitHandler._held = pausing

with open_ledger(url) as ledger:
    manager = TradeManager(ledger, account="paper")
    wallet = PaperWallet(ledger, 1000, account="paper", trade_manager=manager) if path == "wallet" else None
    handler = ExitHandler(manager, wallet, clock=lambda: datetime(2026, 1, 5, 12, tzinfo=UTC))
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")
    handler("BTC/USD", {}, Decimal("95"), "stop_loss")
    if wallet is not None:
        wallet.shutdown()
    manager.close()
print(json.dumps({"exits": len(handler.exits)}), flush=True)
"""


# argv: url role. Checker: a bot's consistency check whose first view (the TradeManager's) is read before the
# opener's fill and the others after it; prints {"consistent": bool}. Opener: opens ETH/USD at that moment.
CONSISTENCY_WORKER = r"""
import json
import sys

from tradeledger import open_ledger
from tradeledger.compat import BotContext, PaperWallet, TradeManager


def step(name):
    print(name, flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go signal")


url, role = sys.argv[1], sys.argv[2]
with open_ledger(url) as ledger:
    manager = TradeManager(ledger, account="paper")
    wallet = PaperWallet(ledger, 1000, account="paper", trade_manager=manager)
    context = BotContext(trade_manager=manager, paper_wallet=wallet)
    step("ready")
    if role == "opener":
        step("looked")
        wallet.open("ETH/USD", "buy", 1, 100)
        step("opened")
        result = {}
    else:
        views = type(manager).get_all_positions
        armed = []

        def pausing(self):
            found = views(self)
            if not armed:  # the TradeManager's view is read: the other process opens a position now
                armed.append(True)
                step("looked")
                step("opened")
            return found

        type(manager).get_all_positions = pausing
        result = {"consistent": context.validate_position_consistency()}
    wallet.shutdown()
    manager.close()
print(json.dumps(result), flush=True)
"""


def race(url: str, command: str, symbols: tuple[str, str], *, trade_manager: bool = False) -> list[dict[str, str]]:
    """Both workers check `command` (worker A on the first symbol, B on the second) on the same books, then both
    go on; their results, refusals last."""
    flag = "yes" if trade_manager else "no"
    argv = {name: [url, command, symbol, flag] for name, symbol in zip(("A", "B"), symbols, strict=True)}
    outputs = run_in_lockstep(WORKER, argv, ("ready", "checked"))
    return sorted((json.loads(out) for out in outputs.values()), key=lambda result: "refused" in result)


@pytest.mark.parametrize("trade_manager", [False, True], ids=["wallet", "wallet-with-trade-manager"])
def test_two_processes_closing_the_same_long_at_once_close_it_once_and_the_other_is_refused(
    backend: Backend, trade_manager: bool
) -> None:
    with open_ledger(backend.url) as ledger:
        PaperWallet(ledger, B0, account=ACCOUNT).open("BTC/USD", "buy", 1, 100)

    results = race(backend.url, "close", ("BTC/USD", "BTC/USD"), trade_manager=trade_manager)

    assert results[0] == {"done": "10"}
    assert "refused" in results[1]
    assert "has no open position in BTC/USD" in results[1]["refused"]
    with open_ledger(backend.url) as ledger:
        fills = [r.fill for r in ledger.history(account=ACCOUNT) if isinstance(r.fill, Fill)]
        assert [(f.side.value, f.quantity) for f in fills] == [("buy", Decimal(1)), ("sell", Decimal(1))]
        assert ledger.positions(account=ACCOUNT) == ()  # flat, never short
        assert ledger.replay_wallet(B0, account=ACCOUNT).cash == Decimal(1010)
        assert ledger.verify().ok


def test_two_processes_opening_the_same_symbol_at_once_open_it_once_and_the_other_is_refused(
    backend: Backend,
) -> None:
    with open_ledger(backend.url) as ledger:
        assert ledger.head.seq == 0  # the schema exists before the race

    results = race(backend.url, "open", ("ETH/USD", "ETH/USD"))

    assert "done" in results[0]
    assert "refused" in results[1]
    assert "ETH/USD already has an open long" in results[1]["refused"]
    with open_ledger(backend.url) as ledger:
        (position,) = ledger.positions(account=ACCOUNT)
        assert (position.symbol, position.signed_quantity) == ("ETH/USD", Decimal(1))
        assert ledger.replay_wallet(B0, account=ACCOUNT).cash == Decimal(900)


def test_a_command_checked_before_another_process_opened_another_symbol_is_checked_again_and_lands(
    backend: Backend,
) -> None:
    with open_ledger(backend.url) as ledger:
        assert ledger.head.seq == 0

    results = race(backend.url, "open", ("ETH/USD", "SOL/USD"))

    assert ["done" in result for result in results] == [True, True]
    with open_ledger(backend.url) as ledger:
        opened = {(p.symbol, p.signed_quantity) for p in ledger.positions(account=ACCOUNT)}
        assert opened == {("ETH/USD", Decimal(1)), ("SOL/USD", Decimal(1))}
        assert ledger.replay_wallet(B0, account=ACCOUNT).cash == Decimal(800)


def fill(fill_id: str, account: str) -> dict[str, str]:
    return {
        "fill_id": fill_id,
        "account": account,
        "exchange": "kraken",
        "symbol": "BTC/USD",
        "side": "buy",
        "quantity": "1",
        "price": "100",
        "occurred_at": "2026-01-05T09:30:00+00:00",
    }


def test_record_if_current_appends_only_while_the_account_has_no_event_after_the_position_and_the_log_has_it(
    backend: Backend,
) -> None:
    with open_ledger(backend.url) as ledger:
        first = ledger.record(fill("a1", "paper"))
        at = Checkpoint(first.epoch, first.seq, first.hash)
        ledger.record(fill("o1", "other"))  # another account's event: the paper account's books are unchanged
        landed = ledger.record_if_current(fill("a2", "paper"), account=ACCOUNT, at=at)
        assert landed is not None
        assert landed.seq == 3

        assert ledger.record_if_current(fill("a3", "paper"), account=ACCOUNT, at=at) is None  # a2 is after `at`

        ledger.rollback(to_seq=0, reason="test", actor="test")
        ledger.record(fill("a1", "paper"))  # seq 1 again, in a new epoch: `at` (its seq and hash) is gone
        assert ledger.record_if_current(fill("a4", "paper"), account=ACCOUNT, at=at) is None
        assert [r.fill.fill_id for r in ledger.history() if isinstance(r.fill, Fill)] == ["a1"]


@pytest.mark.parametrize("path", ["wallet", "trade-manager"])
def test_two_processes_exiting_the_same_long_at_once_close_it_once(backend: Backend, path: str) -> None:
    with open_ledger(backend.url) as ledger:
        PaperWallet(ledger, B0, account=ACCOUNT).open("BTC/USD", "buy", 1, 100)

    outputs = run_in_lockstep(EXIT_WORKER, {name: [backend.url, path] for name in ("A", "B")}, ("ready", "checked"))

    assert sorted(json.loads(out)["exits"] for out in outputs.values()) == [0, 1]
    with open_ledger(backend.url) as ledger:
        fills = [r.fill for r in ledger.history(account=ACCOUNT) if isinstance(r.fill, Fill)]
        assert [(f.side.value, f.quantity) for f in fills] == [("buy", Decimal(1)), ("sell", Decimal(1))]
        assert ledger.positions(account=ACCOUNT) == ()  # flat, never short


def test_a_consistency_check_while_another_process_opens_a_position_compares_views_of_one_log_position(
    backend: Backend,
) -> None:
    with open_ledger(backend.url) as ledger:
        PaperWallet(ledger, B0, account=ACCOUNT).open("BTC/USD", "buy", 1, 100)

    argv = {"checker": [backend.url, "checker"], "opener": [backend.url, "opener"]}
    outputs = run_in_lockstep(CONSISTENCY_WORKER, argv, ("ready", "looked", "opened"))

    assert json.loads(outputs["checker"]) == {"consistent": True}


def test_a_consistency_check_reads_the_log_anew_before_it_reports_a_mismatch_a_lagging_change_signal_made(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_ledger(backend.url) as ledger, open_ledger(backend.url) as other:
        manager = TradeManager(ledger, account=ACCOUNT)
        wallet = PaperWallet(ledger, B0, account=ACCOUNT, trade_manager=manager)
        context = BotContext(trade_manager=manager, paper_wallet=wallet)
        wallet.open("BTC/USD", "buy", 1, 100)
        assert context.validate_position_consistency()
        PaperWallet(other, B0, account=ACCOUNT).open("ETH/USD", "buy", 1, 100)  # another process's append
        manager.refresh()  # the TradeManager has read it (its own NOTIFY may still be on its way too)
        assert [position.symbol for position in manager.get_all_positions()] == ["BTC/USD", "ETH/USD"]
        # The wallet's change signal has not fired yet (a PostgreSQL NOTIFY still on its way): its view lags.
        monkeypatch.setattr(Subscription, "changed", lambda _self: False)

        consistent = context.validate_position_consistency()

        assert consistent
        assert sorted(wallet.positions) == ["BTC/USD", "ETH/USD"]
        wallet.shutdown()
        manager.close()
