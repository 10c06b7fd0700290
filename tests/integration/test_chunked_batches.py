"""application/bulk.py (record_many a chunk at a time): what must hold across chunk boundaries, on
SQLite and PostgreSQL: snapshots and the projection as a rebuild writes them, cursors, a failing generator,
lots named across chunks, and an append during a `gains` read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from tests.backends import Backend
from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tradeledger import EventNotice, FillConflict, InvalidArgument, InvalidFill, Ledger, open_ledger
from tradeledger.application import bulk, lots
from tradeledger.application.ports import LAST_REBUILD, REBUILDS

CHUNK = 3
TABLES = ("ledger_events", "ledger_head", "positions", "closed_positions", "position_snapshots", "projection_entries")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)


def rows_of(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of TABLES but the token a rebuild leaves (`ports.REBUILDS`: a new one each rebuild)."""
    backend = Backend("sqlite" if db_url.startswith("sqlite") else "postgresql", db_url)
    try:
        return {
            table: sorted(tuple(row) for row in backend.sql(f"SELECT * FROM {table}") if row[0] != REBUILDS)
            for table in TABLES
        }
    finally:
        backend.close()


def mixed(count: int, prefix: str) -> list[dict[str, Any]]:
    """Fills over three keys that open, close and flip positions, with quote and base fees, and transfers."""
    sides = ["buy", "buy", "sell", "sell", "sell", "buy", "buy"]
    events: list[dict[str, Any]] = []
    for n in range(count):
        if n % 5 == 4:
            events.append(
                {
                    "type": "transfer",
                    "transfer_id": f"{prefix}-t{n}",
                    "exchange": "kraken",
                    "currency": "USD",
                    "amount": "10",
                    "kind": "deposit",
                    "occurred_at": fill_fields()["occurred_at"],
                }
            )
            continue
        symbol = ("BTC/USD", "ETH/USD", "BTC/USDT:USDT")[n % 3]
        events.append(
            fill_fields(fill_id=f"{prefix}-{n}", symbol=symbol, side=sides[n % 7], quantity=str(1 + n % 3), fee="0.1")
        )
    return events


def picks(seq: int) -> dict[str, Any]:
    return {"lots": [{"seq": seq, "quantity": "1"}]}


def test_snapshots_and_projection_across_chunks_are_those_of_one_chunk_and_of_a_rebuild(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    before, batch = mixed(2, "pre"), mixed(23, "S")
    with open_ledger(db_url, clock=lambda: RECORDED_AT, snapshot_every=4) as ledger:
        ledger.record_many(before)
        receipts = ledger.record_many(iter(batch))
        assert ledger.verify().ok
        chunked = rows_of(db_url)
        ledger.rebuild()
        assert rows_of(db_url)["positions"] == chunked["positions"]
        assert rows_of(db_url)["closed_positions"] == chunked["closed_positions"]
        assert rows_of(db_url)["projection_entries"] == chunked["projection_entries"]

    monkeypatch.setattr(bulk, "CHUNK", 1_000)
    one = f"sqlite:///{tmp_path / 'one.db'}"
    with open_ledger(one, clock=lambda: RECORDED_AT, snapshot_every=4) as whole:
        whole.record_many(before)
        assert whole.record_many(batch) == receipts
    assert rows_of(one) == chunked  # every table, snapshots included, text for text


def test_cursors_are_not_stored_when_the_last_chunk_is_refused(ledger: Ledger) -> None:
    ledger.record_many([fill_fields(fill_id="X-1")], cursors={"sync": "1"})
    batch = [*mixed(2 * CHUNK, "C"), fill_fields(fill_id="X-1", price="999")]

    with pytest.raises(FillConflict):
        ledger.record_many(batch, cursors={"sync": "2"})

    assert ledger.cursors() == {"sync": "1"}
    assert ledger.head.seq == 1


def test_a_generator_that_fails_in_a_later_chunk_writes_nothing_and_is_read_once(ledger: Ledger) -> None:
    taken: list[int] = []

    def source() -> Iterator[dict[str, Any]]:
        for n, fields in enumerate(mixed(2 * CHUNK, "G")):
            taken.append(n)
            yield fields
        raise RuntimeError("the exchange went away")

    with pytest.raises(RuntimeError, match="went away"):
        ledger.record_many(source(), cursors={"sync": "9"})

    assert taken == list(range(2 * CHUNK))
    assert ledger.head.seq == 0
    assert ledger.cursors() == {}


def test_a_bad_value_in_the_last_chunk_is_named_by_its_place_and_nothing_lands(ledger: Ledger) -> None:
    batch = [*mixed(2 * CHUNK + 1, "V"), fill_fields(fill_id="V-bad", quantity="-1")]

    with pytest.raises(InvalidFill, match=rf"fill {2 * CHUNK + 2}: .*quantity"):
        ledger.record_many(iter(batch))

    assert ledger.head.seq == 0
    assert ledger.verify().ok


def test_a_lot_acquired_in_an_earlier_chunk_can_be_named_and_is_used_up_across_chunks(ledger: Ledger) -> None:
    buys = [fill_fields(fill_id=f"L-{n}", symbol="ETH/USD", side="buy", quantity="1") for n in range(CHUNK)]
    sell = fill_fields(fill_id="L-sell", symbol="ETH/USD", side="sell", metadata=picks(1))

    receipts = ledger.record_many([*buys, sell])  # the sell is the first of the second chunk
    assert receipts[-1].seq == CHUNK + 1
    gains = ledger.gains("specific")
    assert [row.acquired_seq for row in gains.rows] == [1]

    again = fill_fields(fill_id="L-again", symbol="ETH/USD", side="sell", metadata=picks(2))
    twice = fill_fields(fill_id="L-twice", symbol="ETH/USD", side="sell", metadata=picks(2))
    filler = [fill_fields(fill_id=f"L-f{n}", symbol="BTC/USD") for n in range(CHUNK - 1)]
    with pytest.raises(InvalidFill, match=r"fill 4: metadata.lots: lot 2 is used up"):
        ledger.record_many([again, *filler, twice])  # named in chunk 1, named again in chunk 2
    assert ledger.head.seq == CHUNK + 1


def test_gains_reports_the_seq_of_the_rows_it_folded_when_an_append_lands_during_its_read(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record_many(
        [
            fill_fields(fill_id="G-1", side="buy", quantity="2", price="100"),
            fill_fields(fill_id="G-2", side="sell", quantity="1", price="120"),
        ]
    )
    plain_rows = lots._plain_rows
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as other:

        def rows_with_an_append_between(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for number, row in enumerate(plain_rows(*args, **kwargs)):
                if number == 0:  # the stream is open: another connection appends and commits
                    other.record(fill_fields(fill_id="G-3", side="sell", quantity="1", price="130"))
                yield row

        monkeypatch.setattr(lots, "_plain_rows", rows_with_an_append_between)
        report = ledger.gains("fifo")

    assert [row.disposed_seq for row in report.rows] == [2]
    assert report.seq == 2  # as of the rows it folded
    assert ledger.head.seq == 3


def test_a_refused_base_fee_in_a_later_chunk_names_the_fill_and_the_fee_as_sent(ledger: Ledger) -> None:
    fees = [{"amount": "0.1", "currency": "USD"}, {"amount": "5", "currency": "ETH"}]  # the log sorts ETH first
    batch = [*mixed(2 * CHUNK, "H"), fill_fields(fill_id="H-fee", symbol="ETH/USD", fee=None, fees=fees)]
    batch[-1].pop("fee")

    with pytest.raises(InvalidFill, match=rf"^fill {2 * CHUNK + 1}: fees\[1\]"):
        ledger.record_many(iter(batch))

    assert ledger.head.seq == 0


def test_a_subscriber_sees_each_event_of_a_chunked_batch_once_in_seq_order(ledger: Ledger) -> None:
    with ledger.subscribe(0) as subscription:
        ledger.record_many(iter(mixed(2 * CHUNK + 2, "N")))
        seen = subscription.poll(timeout=5)
        seen += subscription.poll()

    assert all(isinstance(notice, EventNotice) for notice in seen)
    assert [notice.seq for notice in seen if isinstance(notice, EventNotice)] == list(range(1, 2 * CHUNK + 3))


def test_batches_through_one_ledger_project_as_a_rebuild_when_another_writer_and_a_refusal_come_between(
    db_url: str,
) -> None:
    clock = lambda: RECORDED_AT  # noqa: E731
    with open_ledger(db_url, clock=clock) as ours, open_ledger(db_url, clock=clock) as other:
        ours.record_many(mixed(7, "A"))
        other.record_many(mixed(5, "B"))  # moves the keys our last batch left folded
        ours.record_many(mixed(7, "C"))
        conflicting = fill_fields(fill_id="A-0", symbol="BTC/USD", side="buy", quantity="99", fee="0.1")
        with pytest.raises(FillConflict):
            ours.record_many([*mixed(2 * CHUNK, "D"), conflicting])  # two chunks folded, then refused
        ours.record_many(mixed(7, "E"))
        batched = rows_of(db_url)
        ours.rebuild()

    rebuilt = rows_of(db_url)
    for table in ("positions", "closed_positions", "projection_entries"):
        assert batched[table] == rebuilt[table], table


def test_a_batch_after_our_own_writes_positions_folded_from_the_log_not_a_row_changed_behind_our_back(
    db_url: str,
) -> None:
    backend = Backend("sqlite" if db_url.startswith("sqlite") else "postgresql", db_url)
    buy = {"symbol": "ETH/USD", "side": "buy", "fee": "0"}
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many([fill_fields(fill_id="T-1", quantity="2", **buy)])
        backend.sql("UPDATE positions SET quantity = '7' WHERE symbol = 'ETH/USD'")
        ledger.record_many([fill_fields(fill_id="T-2", quantity="1", **buy)])
        ours = ledger.position("ETH/USD")
    backend.close()

    assert ours is not None
    assert ours.quantity == Decimal(3)


BUY_ETH = {"symbol": "ETH/USD", "side": "buy", "fee": "0"}


@contextmanager
def a_fold_kept_from_a_wrong_projection(db_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on `db_url`: `other` bought 2 ETH, the stored position was then set to 7 (a projection gone
    wrong), and `ledger` bought 1 more in a batch that read it and folded on from it (its kept fold says 8)."""
    backend = Backend("sqlite" if db_url.startswith("sqlite") else "postgresql", db_url)
    try:
        with (
            open_ledger(db_url, clock=lambda: RECORDED_AT) as ledger,
            open_ledger(db_url, clock=lambda: RECORDED_AT) as other,
        ):
            other.record_many([fill_fields(fill_id="R-1", quantity="2", **BUY_ETH)])
            backend.sql("UPDATE positions SET quantity = '7' WHERE symbol = 'ETH/USD'")
            ledger.record_many([fill_fields(fill_id="R-2", quantity="1", **BUY_ETH)])
            yield ledger, other
    finally:
        backend.close()


@pytest.mark.parametrize("rebuilt_by", ["this ledger", "another process"])
def test_after_a_rebuild_a_batch_moves_on_from_the_repaired_projection_not_from_what_it_had_folded(
    db_url: str, rebuilt_by: str
) -> None:
    with a_fold_kept_from_a_wrong_projection(db_url) as (ledger, other):
        (ledger if rebuilt_by == "this ledger" else other).rebuild()  # no head moves
        ledger.record_many([fill_fields(fill_id="R-3", quantity="1", **BUY_ETH)])
        ours = ledger.position("ETH/USD")

    assert ours is not None
    assert ours.quantity == Decimal(4)


def test_the_rebuild_token_is_the_ledgers_own_so_no_subscriber_can_make_a_kept_fold_miss_a_rebuild(
    db_url: str,
) -> None:
    with a_fold_kept_from_a_wrong_projection(db_url) as (ledger, other):
        other.rebuild()  # repairs it: a new token, the head unmoved
        refused = []
        for write in (
            lambda: other.subscribe(name="view").save(entries={REBUILDS: {LAST_REBUILD: None}}),
            lambda: other.save_checkpoint(REBUILDS, LAST_REBUILD, "{}", at=other.head),
        ):
            try:
                write()
            except InvalidArgument as error:
                refused.append(str(error))
        ledger.record_many([fill_fields(fill_id="R-3", quantity="1", **BUY_ETH)])
        ours = ledger.position("ETH/USD")

    assert refused == [
        "entries: 'rebuilds' is a table of the ledger's own; name another",
        "table: 'rebuilds' is a table of the ledger's own or not a name; name another",
    ]
    assert ours is not None
    assert ours.quantity == Decimal(4)  # 2 + 1 + 1, as the repaired projection and a rebuild say


def test_a_spot_balance_first_met_in_a_later_chunk_moves_from_its_stored_amount_after_a_contract_on_its_base(
    db_url: str,
) -> None:
    # The contract's fill in the first chunk gives the hot loop a slot holding a cell for ETH it never
    # read (a contract moves no base); the spot fills of the second chunk must move ETH from the 3 stored.
    spot = {"account": "b", "symbol": "ETH/USD", "fee": "0"}
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as other:
        other.record(fill_fields(fill_id="S-0", side="buy", quantity="3", **spot))
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many(
            [
                fill_fields(fill_id="C-1", account="b", symbol="ETH/USDT:USDT", side="sell", quantity="3"),
                *[fill_fields(fill_id=f"P-{n}", symbol="BTC/USD", side="buy") for n in range(CHUNK - 1)],
                fill_fields(fill_id="S-1", side="sell", quantity="2", **spot),
            ]
        )
        held = {(b.account, b.currency): b.amount for b in ledger.balances().balances}
        batched = rows_of(db_url)
        ledger.rebuild()

    assert held[("b", "ETH")] == Decimal(1)
    assert batched["projection_entries"] == rows_of(db_url)["projection_entries"]
