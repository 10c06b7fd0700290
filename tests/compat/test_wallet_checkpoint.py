"""The paper wallet's checkpoint (issue 19): a restart folds only the account's events after it, exactly.

Every test compares a wallet that started from a checkpoint with a fold from the first event (a
wallet on a second ledger holding the same events, and `Ledger.replay_wallet`): every figure, Decimal
for Decimal (and the books' repr, digit for digit), and the invariant check.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.conftest import Clock
from tradeledger import Ledger
from tradeledger.application.checkpoints import ResumedAccount
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.paper_wallet.checkpoint import SAVE_EVERY, TABLE, checkpoint_key, replay_of, state_text
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import accounting_of
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.wallet import WalletReplay
from tradeledger.errors import InvalidArgument, InvalidFill, StorageError, TradeRefused
from tradeledger.storage.memory import MemoryLedgerStore

BOT, OTHER = "bot", "other"
BTC, ETH, PERP = "BTC/USD", "ETH/USD", "BTC/USDT:USDT"
B0 = Decimal(100_000)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    """The ledger's clock a day after the events (T0 + seconds): none of them is 5 minutes past it."""
    return Clock(T0 + timedelta(days=1))


def memory_ledger(clock: Clock) -> Ledger:
    return Ledger(MemoryLedgerStore(), clock=clock)


def a_fill(
    n: int, symbol: str, side: str, quantity: str, price: str, *, account: str = BOT, **more: Any
) -> dict[str, Any]:
    fields = {
        "fill_id": f"F-{n}",
        "account": account,
        "exchange": "bybit" if symbol == PERP else "kraken",
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "price": price,
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
    }
    if "fees" not in more:
        fields["fee"] = more.pop("fee", "0")
    return fields | more


def a_funding(n: int, amount: str, *, account: str = BOT) -> dict[str, Any]:
    return {
        "type": "funding",
        "funding_id": f"FU-{n}",
        "account": account,
        "exchange": "bybit",
        "symbol": PERP,
        "amount": amount,
        "currency": "USDT",
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
    }


def hand_built(start: int, count: int) -> list[dict[str, Any]]:
    """Longs and shorts that add, reduce, close and flip; base fees; funding; another account's fills."""
    events: list[dict[str, Any]] = []
    for n in range(start, start + count):
        step = n % 9
        price = str(100 + (n * 7) % 13)
        if step == 0:
            events.append(a_fill(n, BTC, "buy", "2", price, fees=[{"amount": "0.002", "currency": "BTC"}]))
        elif step == 1:
            events.append(a_fill(n, BTC, "sell", "1.998" if n % 2 else "1", price, fee="0.13"))
        elif step == 2:
            events.append(a_fill(n, ETH, "sell", "3", price, fee="0.3"))  # a short
        elif step == 3:
            events.append(a_fill(n, ETH, "buy", "4.5", price, fee="0.01"))  # flips it long
        elif step == 4:
            events.append(a_fill(n, ETH, "sell", "1.5", str(Decimal(price) / 3)))  # closes it
        elif step == 5:
            events.append(a_fill(n, PERP, "sell" if n % 2 else "buy", "0.7", price, fee="0.07"))
        elif step == 6:
            events.append(a_funding(n, "-0.35" if n % 2 else "1.1"))
        elif step == 7:
            events.append(a_fill(n, BTC, "buy", "1", price, account=OTHER))
        else:
            events.append(a_fill(n, PERP, "buy" if n % 2 else "sell", "0.3", price, fee="0.01"))
    return events


def figures(wallet: PaperWallet) -> tuple[Any, ...]:
    """Every figure of a wallet; `repr` of its books (and of the wallet's own position fold, which the next
    events continue) keeps each Decimal's digits."""
    wallet.check_invariant()
    books = wallet._book.wallet
    current = wallet._book.wallet_at()
    assert current is not None
    return (
        wallet.balance,
        wallet.realized_pnl,
        wallet.total_trades,
        wallet.winning_trades,
        wallet.win_rate,
        wallet.get_wallet_summary(),
        wallet.get_position_summary(),
        {symbol: dict(entry) for symbol, entry in wallet.positions.items()},
        repr(books),
        repr(current[0].positions.positions()),  # what a later fold continues from
    )


def folded_from_the_first_event(events: list[dict[str, Any]], clock: Clock, balance: Decimal = B0) -> tuple[Any, ...]:
    """The figures of a wallet on a ledger holding the same events that never saw a checkpoint."""
    with memory_ledger(clock) as fresh:
        fresh.record_many(events)
        wallet = PaperWallet(fresh, balance, account=BOT, clock=clock)
        assert wallet._checkpoints.resumed_at is None
        found = figures(wallet)
        assert wallet._book.wallet == fresh.replay_wallet(balance, account=BOT)
        wallet.shutdown()
        return found


def stored(ledger: Ledger, balance: Decimal = B0) -> ResumedAccount:
    found = ledger.resume_account(TABLE, checkpoint_key(BOT, balance), account=BOT, at=ledger.head)
    assert found is not None
    return found


def run_once(ledger: Ledger, clock: Clock, balance: Decimal = B0) -> None:
    """A bot's earlier run: its wallet folds its books, then shuts down."""
    wallet = PaperWallet(ledger, balance, account=BOT, clock=clock)
    assert wallet.balance is not None
    wallet.shutdown()


def test_a_wallet_started_from_a_checkpoint_gives_the_figures_of_a_fold_from_the_first_event(clock: Clock) -> None:
    first, later = hand_built(0, 60), hand_built(60, 45)
    with memory_ledger(clock) as ledger:
        ledger.record_many(first)
        run_once(ledger, clock)
        saved = stored(ledger)
        assert saved.state is not None
        assert saved.at == ledger.head  # saved when it folded: at the head it had read
        ledger.record_many(later)

        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        resumed = figures(wallet)

        assert wallet._checkpoints.resumed_at == saved.at
        assert wallet._book.events_read < len(later) + 10  # the later events of the account, not the history
        assert resumed == folded_from_the_first_event(first + later, clock)
        wallet.shutdown()


def test_a_rollback_that_removes_the_checkpoints_event_voids_it_and_a_new_one_is_saved(clock: Clock) -> None:
    first, later = hand_built(0, 40), hand_built(100, 30)
    with memory_ledger(clock) as ledger:
        ledger.record_many(first)
        run_once(ledger, clock)
        ledger.rollback(to_seq=25, reason="bad fills", actor="test")
        ledger.record_many(later)

        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        found = figures(wallet)

        assert wallet._checkpoints.resumed_at is None  # folded from the first event
        assert found == folded_from_the_first_event(first[:25] + later, clock)
        assert stored(ledger).at == ledger.head  # and saved again, at the new head
        wallet.shutdown()


def test_wallets_with_different_initial_balances_keep_checkpoints_of_their_own(clock: Clock) -> None:
    first, later = hand_built(0, 50), hand_built(50, 20)
    balances = (B0, Decimal(500_000), Decimal("100000.00"))  # 100000.00 is written otherwise: another fold
    with memory_ledger(clock) as ledger:
        ledger.record_many(first)
        for balance in balances:
            run_once(ledger, clock, balance)
        assert len({stored(ledger, balance).state for balance in balances}) == len(balances)
        ledger.record_many(later)

        for balance in balances:
            wallet = PaperWallet(ledger, balance, account=BOT, clock=clock)
            assert figures(wallet) == folded_from_the_first_event(first + later, clock, balance)
            assert wallet._checkpoints.resumed_at is not None
            wallet.shutdown()


def test_a_checkpoint_of_an_older_process_resumes_on_a_log_another_process_appended_to(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    first, later = hand_built(0, 40), hand_built(40, 40)
    older = open_bot_ledger()
    older.record_many(first)
    run_once(older, clock)
    at = older.head
    older.close()
    appender = open_bot_ledger()  # another process appends meanwhile
    appender.record_many(later)

    ledger = open_bot_ledger()
    wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
    found = figures(wallet)

    assert wallet._checkpoints.resumed_at == at
    assert found == folded_from_the_first_event(first + later, clock)
    assert stored(ledger).at == at  # fewer than SAVE_EVERY events past it: not saved on a read ...
    wallet.shutdown()
    assert stored(ledger).at == ledger.head  # ... but at shutdown
    appender.close()


def test_a_checkpoint_another_process_saved_ahead_of_the_book_is_not_folded_twice(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    first, later = hand_built(0, 30), hand_built(30, 30)
    ledger = open_bot_ledger()
    ledger.record_many(first)
    wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)  # its book at the head, its cash not folded yet
    other = open_bot_ledger()
    other.record_many(later)
    run_once(other, clock)  # saves a checkpoint at the new head

    assert wallet._book.wallet is not None  # the wallet starts from that checkpoint before its book caught up
    assert wallet._checkpoints.resumed_at == other.head
    assert figures(wallet) == folded_from_the_first_event(first + later, clock)
    wallet.shutdown()


@pytest.mark.parametrize("appended", [30, 10], ids=["past-the-checkpoint", "short-of-it"])
def test_a_checkpoint_ahead_of_the_book_that_a_rollback_removes_before_the_book_reaches_it_is_not_used(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, appended: int
) -> None:
    first, later, instead = hand_built(0, 30), hand_built(30, 30), hand_built(300, appended)
    ledger = open_bot_ledger()
    ledger.record_many(first)
    wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)  # its book at seq 30
    other = open_bot_ledger()
    other.record_many(later)
    run_once(other, clock)  # saves a checkpoint at seq 60
    assert wallet._book.wallet is not None  # the wallet starts from it, its book still at seq 30
    # Before the book reads on, another process rolls back past the checkpoint (not past the book's
    # position: the book gets no rollback notice) and appends other events at those seqs (or fewer).
    other.rollback(to_seq=35, reason="bad fills", actor="test")
    other.record_many(instead)

    assert figures(wallet) == folded_from_the_first_event(first + later[:5] + instead, clock)
    wallet.shutdown()
    assert replay_of(stored(ledger).state or "", B0).wallet == ledger.replay_wallet(B0, account=BOT)


def test_after_a_start_from_the_checkpoint_an_open_with_a_new_id_reads_no_history(clock: Clock) -> None:
    with memory_ledger(clock) as ledger:
        ledger.record_many(hand_built(0, 60))
        run_once(ledger, clock)
        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        assert wallet.balance is not None
        read = wallet._book.events_read

        opened = wallet.open("SOL/USD", "buy", 1, 10)
        assert wallet.balance is not None

        assert wallet._book.events_read == read + 1  # the fill it appended, not the account's 50-odd before
        wallet.close("SOL/USD", 1, 11)
        with pytest.raises(TradeRefused, match=r"identifier .* is already the id of a paper fill"):
            wallet.open("XRP/USD", "buy", 1, 1, identifier=opened)  # a given id is looked up: the history is read
        assert wallet._book.events_read > read + 50
        wallet.shutdown()


def test_the_checkpoint_is_saved_after_a_full_fold_then_every_so_many_events_and_not_on_other_reads(
    clock: Clock,
) -> None:
    with memory_ledger(clock) as ledger:
        ledger.record_many(hand_built(0, 20))
        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        assert dict(wallet.positions)  # the positions need no cash: nothing folded, nothing saved
        assert wallet._checkpoints.saves == 0
        balance = wallet.balance
        assert wallet._checkpoints.saves == 1
        others = [
            a_fill(1000 + n, BTC, "buy" if n % 2 else "sell", "1", "100", account=OTHER) for n in range(SAVE_EVERY)
        ]
        ledger.record_many(others[:-1])
        assert wallet.balance == balance
        assert wallet._checkpoints.saves == 1  # SAVE_EVERY - 1 events past it
        ledger.record_many(others[-1:])
        assert wallet.balance == balance
        assert wallet._checkpoints.saves == 2
        assert stored(ledger).at == ledger.head
        wallet.shutdown()
        assert wallet._checkpoints.saves == 2  # nothing moved since


def test_a_checkpoint_the_database_refuses_is_logged_and_the_figures_stand(
    clock: Clock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with memory_ledger(clock) as ledger:
        ledger.record_many(hand_built(0, 20))
        expected = folded_from_the_first_event(hand_built(0, 20), clock)

        def refuse(*_: object, **__: object) -> bool:
            raise StorageError("database is locked")

        monkeypatch.setattr(ledger, "save_checkpoint", refuse)
        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        with caplog.at_level(logging.WARNING, logger="tradeledger.compat"):
            assert figures(wallet) == expected
        assert "checkpoint of account bot was not saved (database is locked)" in caplog.text
        assert wallet._checkpoints.saves == 0
        wallet.shutdown()


def test_a_save_the_ledger_refuses_for_a_later_checkpoint_is_not_counted_as_written(
    open_bot_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    first, more, later = hand_built(0, 30), hand_built(30, 5), hand_built(35, 30)
    ledger = open_bot_ledger()
    ledger.record_many(first)
    wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
    assert wallet.balance is not None  # folded from the first event: saved at seq 30
    assert wallet._checkpoints.saves == 1
    ledger.record_many(more)
    assert wallet.balance is not None  # its book at seq 35, 5 events past its checkpoint: not saved
    other = open_bot_ledger()
    other.record_many(later)
    run_once(other, clock)  # another process saves a checkpoint at seq 65

    wallet.shutdown()  # its save at seq 35 is refused: the entry there is of a later position the log still has

    assert stored(ledger).at == other.head
    assert wallet._checkpoints.saves == 1


def test_save_checkpoint_refuses_the_ledgers_own_tables_and_keeps_a_later_checkpoint(clock: Clock) -> None:
    with memory_ledger(clock) as ledger:
        ledger.record_many(hand_built(0, 10))
        early = Checkpoint(ledger.head.epoch, 3, ledger.history()[2].hash)
        with pytest.raises(InvalidArgument, match="'subscribers' is a table of the ledger's own"):
            ledger.save_checkpoint("subscribers", "k", "{}", at=ledger.head)
        assert ledger.save_checkpoint("mine", "k", "late", at=ledger.head)
        assert not ledger.save_checkpoint("mine", "k", "early", at=early)  # the later one stays
        found = ledger.resume_account("mine", "k", account=BOT, at=ledger.head)
        assert found is not None
        assert (found.state, found.at, found.events) == ("late", ledger.head, [])


def test_save_checkpoint_replaces_a_later_checkpoint_only_while_it_is_the_one_named_replaced(clock: Clock) -> None:
    with memory_ledger(clock) as ledger:
        ledger.record_many(hand_built(0, 10))
        early = Checkpoint(ledger.head.epoch, 3, ledger.history()[2].hash)
        middle = Checkpoint(ledger.head.epoch, 6, ledger.history()[5].hash)
        assert ledger.save_checkpoint("mine", "k", "old format", at=middle)
        assert ledger.save_checkpoint("mine", "k", "later", at=ledger.head)  # saved since the reader dropped middle

        assert not ledger.save_checkpoint("mine", "k", "early", at=early, replacing=middle)  # the later one stays
        assert ledger.save_checkpoint("mine", "k", "early", at=early, replacing=ledger.head)
        found = ledger.resume_account("mine", "k", account=BOT, at=ledger.head)
        assert found is not None
        assert (found.state, found.at) == ("early", early)
        gone = Checkpoint(ledger.head.epoch, 5, "0" * 64)
        assert not ledger.save_checkpoint("mine", "k", "gone", at=gone)  # the log has no such event
        assert ledger.resume_account("mine", "k", account=BOT, at=gone) is None


def test_a_checkpoint_of_another_initial_balance_is_refused_naming_the_table() -> None:
    text = state_text(replay_of(state_text(_empty_replay()), B0))
    with pytest.raises(StorageError, match=r"checkpoint of initial balance 5 cannot be read .* table 'paper_wallets'"):
        replay_of(text, Decimal(5))


def _empty_replay() -> Any:
    from tradeledger.domain.wallet import WalletReplay  # noqa: PLC0415

    return WalletReplay(B0)


# --- the property: any events, any split ----------------------------------------------------------

quantities = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5), places=2).map(str)
prices = st.decimals(min_value=Decimal(1), max_value=Decimal(500), places=2).map(str)


@st.composite
def event_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Fills of two accounts on spot and a perpetual (quote and base fees), funding; a refused base fee left out."""
    positions = PositionFold()
    drawn: list[dict[str, Any]] = []
    for n in range(draw(st.integers(min_value=1, max_value=30))):
        account = draw(st.sampled_from([BOT, BOT, OTHER]))
        kind = draw(st.sampled_from(["spot", "spot", "perp", "funding"]))
        if kind == "funding":
            event = a_funding(n, draw(st.sampled_from(["-1.5", "0.25", "3"])), account=account)
        else:
            symbol = draw(st.sampled_from([BTC, ETH])) if kind == "spot" else PERP
            fee = draw(st.sampled_from(["none", "quote", "base"] if kind == "spot" else ["none", "quote"]))
            more: dict[str, Any] = {}
            if fee == "quote":
                more["fee"] = draw(st.sampled_from(["0.1", "0.37", "1"]))
            elif fee == "base":
                more["fees"] = [{"amount": draw(st.sampled_from(["0.001", "0.01"])), "currency": symbol.split("/")[0]}]
            side = draw(st.sampled_from(["buy", "sell"]))
            event = a_fill(n, symbol, side, draw(quantities), draw(prices), account=account, **more)
        try:
            positions.apply(accounting_of(n + 1, _validated(event)))
        except InvalidFill:
            continue
        drawn.append(event)
    return drawn


def _validated(event: dict[str, Any]) -> Any:
    from tradeledger.application.appending import validate_event  # noqa: PLC0415

    return validate_event(event, where="event")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_lists(), split=st.floats(min_value=0, max_value=1))
def test_any_events_folded_from_a_checkpoint_give_exactly_the_fold_from_the_first_event(
    events: list[dict[str, Any]], split: float
) -> None:
    clock = Clock()
    cut = round(len(events) * split)
    with memory_ledger(clock) as ledger:
        ledger.record_many(events[:cut])
        run_once(ledger, clock)
        ledger.record_many(events[cut:])
        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        found = figures(wallet)
        assert wallet._checkpoints.resumed_at is not None
        assert found == folded_from_the_first_event(events, clock)
        assert wallet._book.wallet == ledger.replay_wallet(B0, account=BOT)
        wallet.shutdown()


def test_a_fold_that_fails_part_way_leaves_no_half_folded_book_behind(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, later = hand_built(0, 30), hand_built(30, 20)
    with memory_ledger(clock) as ledger:
        ledger.record_many(first)
        wallet = PaperWallet(ledger, B0, account=BOT, clock=clock)
        assert wallet.balance is not None  # folded, and saved at the head
        receipts = ledger.record_many(later)
        failing_seq = receipts[5].seq
        original = WalletReplay.apply

        def apply_failing_once(replay: WalletReplay, event: Any) -> Any:
            if event.seq == failing_seq:
                monkeypatch.setattr(WalletReplay, "apply", original)
                raise RuntimeError("the disk went away mid-fold")
            return original(replay, event)

        monkeypatch.setattr(WalletReplay, "apply", apply_failing_once)
        with pytest.raises(RuntimeError, match="mid-fold"):
            assert wallet.balance is not None

        expected = folded_from_the_first_event(first + later, clock)
        assert figures(wallet) == expected
        wallet.shutdown()
        assert stored(ledger).at == ledger.head
        restarted = PaperWallet(ledger, B0, account=BOT, clock=clock)  # from the checkpoint saved at shutdown
        assert figures(restarted) == expected
        assert restarted._checkpoints.resumed_at == ledger.head
        restarted.shutdown()


def test_a_book_resumed_from_a_checkpoint_carries_the_rounding_its_history_made() -> None:
    from tests.unit.domain.test_wallet_rounding import ADDS, history  # noqa: PLC0415

    events = history(ADDS)
    replay = WalletReplay(B0)
    replay.apply_all(events[:ADDS])  # every add made: the averages' rounding is all in the books
    assert replay.wallet is not None

    resumed = replay_of(state_text(replay), B0)

    assert resumed.wallet is not None
    assert resumed.wallet.rounding == abs(replay.wallet.sides()[3]) > 0  # its difference there, exactly
    resumed.apply_all(events[ADDS:])  # the sells: each checks the invariant against the carried bound
    assert resumed.wallet == WalletReplay(B0).apply_all(events).wallet


# --- a checkpoint of another version of the code --------------------------------------------------

FLIP = [  # long 1, then a sell that leaves 0.0005 and pays 0.001 BTC: the fee's disposal flips the long short
    a_fill(1, PERP, "buy", "1", "100"),
    a_fill(2, PERP, "sell", "0.9995", "100.04", fees=[{"amount": "0.001", "currency": "BTC"}]),
]
# The checkpoint version 1 of the code (before the wallet's replay booked a flipping base fee as the positions do)
# saved after FLIP, as it wrote it: the fee's value 0.10004 split pro rata, 0.05002 on the long it closed (net
# 0.04 - 0.05002 < 0: no winning cycle) and 0.05002 on the short it opened. The positions put it all on the short.
V1_AFTER_FLIP = (
    '{"version":1,"initial_balance":"1000","cash":"999.889940","realized_pnl":"0.040000","fees":"0.10004",'
    '"funding":"0","cycles_opened":2,"winning_cycles":0,"last_seq":2,"cost_basis":[["bot","BTC/USDT:USDT",'
    '"0.050020"]],"fold_seq":2,"positions":[{"account":"bot","symbol":"BTC/USDT:USDT","open":{"side":"short",'
    '"quantity":"0.0005","avg_price":"100.04","realized_pnl":"0","fees":"0.050020000000000000",'
    '"opened_at":"2026-03-02T09:00:02+00:00","opened_seq":2,"entered_quantity":"0.0005","last_seq":2,'
    '"funding":"0","unvalued_fees":[]},"closed":["0.040000","0.050020000000000000","0",[]]}]}'
)


def test_a_checkpoint_an_older_version_wrote_is_dropped_the_account_folded_again_and_saved_at_version_2(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    balance = Decimal(1000)
    with memory_ledger(clock) as ledger:
        ledger.record_many(FLIP)
        assert ledger.save_checkpoint(TABLE, checkpoint_key(BOT, balance), V1_AFTER_FLIP, at=ledger.head)
        ledger.record_many([a_fill(3, PERP, "buy", "0.0005", "100.04")])  # closes the short: net -0.10004

        wallet = PaperWallet(ledger, balance, account=BOT, clock=clock)
        with caplog.at_level(logging.WARNING, logger="tradeledger.compat"):
            found = (wallet.balance, wallet.realized_pnl, wallet.total_trades, wallet.winning_trades, wallet.win_rate)

        # 999.889940 after FLIP, + 0.0005 x (2 x 100.04 - 100.04) = 0.05002 for the short's close
        assert found == (Decimal("999.939960"), Decimal("0.040000"), 2, 1, Decimal(50))
        assert wallet._checkpoints.resumed_at is None  # folded from the first event
        assert figures(wallet) == folded_from_the_first_event([*FLIP, a_fill(3, PERP, "buy", "0.0005", "100.04")],
                                                              clock, balance)  # fmt: skip
        assert (
            "the paper wallet checkpoint of account bot (initial balance 1000) was written by version 1 of its "
            "format, this code writes version 2: it was dropped, the account folded from its first event, and a "
            "checkpoint of version 2 is saved"
        ) in caplog.text
        saved = stored(ledger, balance)
        state = json.loads(saved.state or "")
        assert (saved.at, state["version"], state["winning_cycles"]) == (ledger.head, 2, 1)
        assert state["positions"][0]["closed"] == ["0.040000", "0.10004", "0", []]  # the short's fee, not half
        wallet.shutdown()

        caplog.clear()
        restarted = PaperWallet(ledger, balance, account=BOT, clock=clock)
        with caplog.at_level(logging.WARNING, logger="tradeledger.compat"):
            assert restarted.winning_trades == 1
        assert restarted._checkpoints.resumed_at == ledger.head  # from the checkpoint of version 2, quietly
        assert caplog.text == ""
        restarted.shutdown()


def test_an_older_versions_checkpoint_saved_ahead_of_the_book_is_folded_again_once_not_at_every_start(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    balance, key = Decimal(1000), checkpoint_key(BOT, Decimal(1000))
    ledger = open_bot_ledger()
    ledger.record_many(FLIP)
    wallet = PaperWallet(ledger, balance, account=BOT, clock=clock)  # its book at seq 2, its cash not folded yet
    older = open_bot_ledger()  # a process of the code before version 2 appends and saves its checkpoint at seq 3
    older.record_many([a_fill(3, BTC, "buy", "1", "100", account=OTHER)])
    assert older.save_checkpoint(TABLE, key, V1_AFTER_FLIP, at=older.head)
    with caplog.at_level(logging.WARNING, logger="tradeledger.compat"):
        assert wallet._book.wallet is not None  # folded before its book caught up (as when a NOTIFY comes late)
    assert "was written by version 1 of its format" in caplog.text
    wallet.shutdown()  # its book still at seq 2: it saves there, over the dropped checkpoint of seq 3

    caplog.clear()
    restarted = PaperWallet(open_bot_ledger(), balance, account=BOT, clock=clock)
    with caplog.at_level(logging.WARNING, logger="tradeledger.compat"):
        assert restarted.balance == Decimal("999.889940")

    assert caplog.text == ""  # not dropped and folded again: the first start replaced it with one of version 2
    assert restarted._checkpoints.resumed_at is not None
    assert json.loads(stored(ledger, balance).state or "")["version"] == 2
    restarted.shutdown()


def test_a_checkpoint_a_newer_version_wrote_is_refused_naming_both_versions(clock: Clock) -> None:
    balance = Decimal(1000)
    with memory_ledger(clock) as ledger:
        ledger.record_many(FLIP)
        newer = V1_AFTER_FLIP.replace('"version":1', '"version":3')
        assert ledger.save_checkpoint(TABLE, checkpoint_key(BOT, balance), newer, at=ledger.head)
        wallet = PaperWallet(ledger, balance, account=BOT, clock=clock)

        with pytest.raises(StorageError) as refused:
            assert wallet.balance is not None

        assert str(refused.value) == (
            "the paper wallet checkpoint of initial balance 1000 cannot be read (it was written by version 3 of its "
            "format, newer than this code's 2: run a tradeledger that reads it); remove its entry of table "
            "'paper_wallets' to fold the account from its first event instead"
        )
        assert stored(ledger, balance).state == newer  # left as it was
        wallet.shutdown()
