"""One spelling per exchange name in a ledger: the idempotency key is (account, exchange, id), compared exactly, so
a bot that records its fills under "Binance" and a `sync binance` (ccxt's ids are lower case) of the same trades
would book every fill twice, no duplicate seen. An append refuses an exchange name the ledger does not hold that
differs only in case (Unicode case folding, in NFC) from one it holds, or from another name of the same append,
naming both, and writes nothing. A log written before the check, holding two spellings, is never checked again:
it verifies, replays, rebuilds and copies, and takes appends under each spelling it holds (spec sections 2, 9)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tradeledger import InvalidFill, Ledger, open_ledger
from tradeledger.application.appending import project_events, validate_event
from tradeledger.application.copying import copy_ledger
from tradeledger.compat import TradeManager
from tradeledger.compat.trades import create_trade
from tradeledger.domain.fills import time_text
from tradeledger.domain.records import StoredEvent

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
T = "2026-12-01T10:00:00+00:00"


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with open_ledger(db_url, clock=lambda: NOW) as opened:
        yield opened


def fill(fill_id: str, exchange: str, side: str = "buy", **more: Any) -> dict[str, Any]:
    return {
        "fill_id": fill_id, "exchange": exchange, "symbol": "BTC/USDT", "side": side, "quantity": "1",
        "price": "90000", "fee": "9", "occurred_at": T, **more,
    }  # fmt: skip


def funding(funding_id: str, exchange: str) -> dict[str, Any]:
    return {
        "type": "funding", "funding_id": funding_id, "exchange": exchange, "symbol": "BTC/USDT:USDT",
        "amount": "-1.5", "currency": "USDT", "occurred_at": T,
    }  # fmt: skip


def transfer(transfer_id: str, exchange: str) -> dict[str, Any]:
    return {
        "type": "transfer", "transfer_id": transfer_id, "exchange": exchange, "currency": "USDT",
        "amount": "1000", "kind": "deposit", "occurred_at": T,
    }  # fmt: skip


def exchanges_held(ledger: Ledger) -> list[str]:
    return sorted({balance.exchange for balance in ledger.balances().balances})


EVENTS: dict[str, Callable[[str, str], dict[str, Any]]] = {"fill": fill, "funding": funding, "transfer": transfer}


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_an_event_under_an_exchange_name_differing_only_in_case_is_refused_naming_both_and_nothing_is_written(
    ledger: Ledger, kind: str
) -> None:
    ledger.record(EVENTS[kind]("e-1", "binance"))
    before = (ledger.balances(), ledger.positions())

    with pytest.raises(InvalidFill) as refused:
        ledger.record(EVENTS[kind]("e-2", "Binance"))

    assert str(refused.value) == (
        f"{kind} 1: exchange: 'Binance' differs only in case from 'binance' already in the ledger"
    )
    assert ledger.head.seq == 1
    assert (ledger.balances(), ledger.positions()) == before


def test_the_same_trade_under_a_second_spelling_is_not_booked_twice(ledger: Ledger) -> None:
    ledger.record(fill("555-1", "Binance"))  # the bot's own name for it

    with pytest.raises(InvalidFill, match="'binance' differs only in case from 'Binance' already in the ledger"):
        ledger.record_many([fill("555-1", "binance")])  # what sync and ingest name it: ccxt's id

    [position] = ledger.positions()
    assert position.quantity == 1
    assert exchanges_held(ledger) == ["Binance"]


def test_two_spellings_in_one_append_are_refused_whole_naming_the_later_event(ledger: Ledger) -> None:
    batch = [fill("a", "kraken"), fill("b", "bybit"), fill("c", "ByBit", side="sell")]

    with pytest.raises(InvalidFill) as refused:
        ledger.record_many(batch)

    message = "fill 3: exchange: 'ByBit' differs only in case from 'bybit' earlier in the same append"
    assert str(refused.value) == message
    assert ledger.head.seq == 0


@pytest.mark.parametrize(
    ("held", "given"),
    [("Börse", "BÖRSE"), ("börse", "BÖRSE"), ("Straße", "STRASSE"), ("ΣΤΟΆ", "στοά")],
)
def test_case_is_folded_as_unicode_folds_it(ledger: Ledger, held: str, given: str) -> None:
    ledger.record(fill("a", held))

    with pytest.raises(InvalidFill, match=f"exchange: '{given}' differs only in case from '{held}'"):
        ledger.record(fill("b", given))

    assert exchanges_held(ledger) == [held]


def test_names_that_differ_by_more_than_case_and_the_spelling_held_are_recorded(ledger: Ledger) -> None:
    ledger.record(fill("a", "binance"))
    ledger.record(fill("b", "binance", side="sell"))
    ledger.record(fill("c", "binanceusdm"))
    ledger.record(fill("d", "Börse"))
    ledger.record(fill("e", "Borse"))  # not a case of Börse: another letter
    ledger.record(fill("f", ""))  # no exchange (the legacy records)

    assert ledger.head.seq == 6
    assert exchanges_held(ledger) == ["", "Borse", "Börse", "binance", "binanceusdm"]


def test_a_spelling_another_writer_added_after_this_ledger_last_appended_is_seen(db_url: str) -> None:
    with open_ledger(db_url, clock=lambda: NOW) as first, open_ledger(db_url, clock=lambda: NOW) as second:
        first.record(fill("a", "kraken"))  # `first` now knows the names it appended under
        second.record(fill("b", "binance"))

        with pytest.raises(InvalidFill, match="'Binance' differs only in case from 'binance' already in the ledger"):
            first.record(fill("c", "Binance"))

        assert first.head.seq == 2


def test_a_spelling_a_rollback_removed_is_free_again_and_a_ledger_that_held_it_sees_the_new_one(db_url: str) -> None:
    with open_ledger(db_url, clock=lambda: NOW) as first, open_ledger(db_url, clock=lambda: NOW) as second:
        first.record(fill("a", "binance"))
        second.rollback(to_seq=0, reason="recorded under the wrong name", actor="ops")
        second.record(fill("a", "Binance"))  # the ledger holds no "binance" any more

        with pytest.raises(InvalidFill, match="'binance' differs only in case from 'Binance' already in the ledger"):
            first.record(fill("b", "binance"))

        assert exchanges_held(first) == ["Binance"]


def old_log(ledger: Ledger, events: Sequence[dict[str, Any]]) -> None:
    """`events` appended as a ledger of before this check wrote them (sealed and folded, no check): the way a copy
    writes a log (application/copying.py)."""
    store = ledger._store
    with store.unit_of_work() as uow:
        head = uow.log.head()
        sealed, prev = [], head.hash
        for seq, event in enumerate(events, start=head.seq + 1):
            content = ledger_content(event)
            stored = StoredEvent.seal(content, seq=seq, epoch=head.epoch, recorded_at=time_text(NOW), prev_hash=prev)
            prev = stored.hash
            sealed.append(stored)
        project_events(uow, sealed, snapshot_every=10_000)
        uow.commit()


def ledger_content(event: dict[str, Any]) -> dict[str, Any]:
    return validate_event(event).canonical()


def test_an_old_log_holding_two_spellings_verifies_replays_rebuilds_and_copies(ledger: Ledger, tmp_path: Path) -> None:
    old_log(ledger, [fill("a", "Binance"), fill("a", "binance")])

    assert ledger.verify().ok
    assert [position.quantity for position in ledger.positions()] == [2]
    assert ledger.replay() == ledger.state()
    ledger.rebuild()
    assert ledger.verify().ok
    with open_ledger(f"sqlite:///{tmp_path / 'copy.db'}") as target:
        copied = copy_ledger(ledger._store, target._store)
        assert copied.verify.ok
        assert exchanges_held(target) == ["Binance", "binance"]


def test_an_old_log_takes_appends_under_each_spelling_it_holds_and_refuses_a_third(ledger: Ledger) -> None:
    old_log(ledger, [fill("a", "Binance"), fill("a", "binance")])

    ledger.record(fill("b", "Binance", side="sell"))
    ledger.record(fill("b", "binance", side="sell"))
    with pytest.raises(InvalidFill, match="'BINANCE' differs only in case from 'Binance' already in the ledger"):
        ledger.record(fill("c", "BINANCE"))

    assert ledger.head.seq == 4


def test_the_legacy_trade_manager_is_refused_the_same_way(ledger: Ledger) -> None:
    ledger.record(fill("a", "binance"))
    manager = TradeManager(ledger, clock=lambda: NOW)
    try:
        trade = create_trade("BTC/USDT", "buy", "1", "90000", exchange="Binance", timestamp=NOW)
        with pytest.raises(InvalidFill, match="'Binance' differs only in case from 'binance' already in the ledger"):
            manager.record_trade(trade)
    finally:
        manager.close()

    assert ledger.head.seq == 1
