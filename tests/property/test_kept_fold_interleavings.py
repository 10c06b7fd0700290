"""A Ledger's kept fold (appending.FoldCache) against a rebuild: after any interleaving of our batches
(`record`, `record_many`, `append_texts`), another writer's, refused batches, rollbacks and rebuilds,
the stored projection is what a rebuild of the log writes (positions, closed cycles, balances and
cursors; not the snapshots, which a batch takes at its end and a rebuild at every multiple of
`snapshot_every`)."""

from __future__ import annotations

import random
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RECORDED_AT
from tests.factories import fill_fields
from tests.integration.test_chunked_batches import rows_of
from tradeledger import FillConflict, InvalidFill, Ledger, open_ledger
from tradeledger.application import bulk
from tradeledger.application.bulk import EventText

T = "2026-01-06T00:00:00Z"
SPOT, CONTRACTS = ("BTC/USD", "ETH/USD"), ("BTC/USDT:USDT", "ETH/USDT:USDT")
COMPARED = ("positions", "closed_positions", "projection_entries")


def event(draw: random.Random, name: str) -> dict[str, Any]:
    """A fill (spot or contract; quote, base or other fees, valued or not, rebates), a funding payment or a
    transfer (a deposit, a withdrawal with or without a fee, one side of an internal move), in one of two
    accounts on one of two exchanges."""
    where = {"account": draw.choice(["default", "b"]), "exchange": draw.choice(["kraken", "kraken", "binance"])}
    kind = draw.random()
    if kind < 0.08:
        return {"type": "funding", "funding_id": name, **where, "symbol": draw.choice(CONTRACTS),
                "amount": draw.choice(["-3", "1"]), "currency": "USDT", "occurred_at": T}  # fmt: skip
    if kind < 0.15:
        moved = draw.choice(["deposit", "withdrawal", "internal"])
        amount = draw.choice(["100", "0.5", "2500"])
        out = moved == "withdrawal" or (moved == "internal" and draw.random() < 0.5)
        return {"type": "transfer", "transfer_id": name, **where, "kind": moved,
                "currency": draw.choice(["USD", "USDT", "BTC"]), "amount": f"-{amount}" if out else amount,
                "fee": draw.choice(["0", "0.1"]) if out else "0", "occurred_at": T}  # fmt: skip
    symbol = draw.choice(SPOT + CONTRACTS)
    fields = fill_fields(
        fill_id=name,
        **where,
        symbol=symbol,
        side=draw.choice(["buy", "sell"]),
        quantity=draw.choice(["1", "2", "3"]),
        price=draw.choice(["90", "100", "110"]),
    )
    fee = draw.random()
    base = symbol.split("/")[0]
    if fee < 0.3:  # a base fee: refused when the position cannot pay it; it may flip a contract, a rebate a spot short
        del fields["fee"]
        fields["fees"] = [{"amount": draw.choice(["0.01", "0.5", "5", "-0.01", "-5"]), "currency": base}]
    elif fee < 0.45:
        del fields["fee"]
        fields["fees"] = [{"amount": "0.02", "currency": "BNB", "quote_value": "6"}]
    elif fee < 0.55:
        del fields["fee"]
        fields["fees"] = [{"amount": "0.02", "currency": "BNB"}, {"amount": "-0.3", "currency": "USDT"}]
    return fields


def rebuilt_copy(path: Path, into: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The rows a rebuild writes, on a copy of the ledger file (our ledgers see no rebuild)."""
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(into)) as target:
        source.backup(target)  # what the WAL holds too
    url = f"sqlite:///{into}"
    with open_ledger(url, clock=lambda: RECORDED_AT) as ledger:
        ledger.rebuild()
    rows = rows_of(url)
    for leftover in into.parent.glob(f"{into.name}*"):
        leftover.unlink()
    return rows


OPS = st.lists(
    st.tuples(st.sampled_from(["ours", "ours", "ours", "other", "rollback", "rebuild"]), st.integers(0, 2**32)),
    min_size=1,
    max_size=10,
)


@settings(max_examples=25, deadline=None)
@given(ops=OPS, chunk=st.sampled_from([2, 3, 1000]))
def test_interleaved_batches_rollbacks_and_rebuilds_leave_the_projection_a_rebuild_writes(
    ops: list[tuple[str, int]], chunk: int
) -> None:
    with tempfile.TemporaryDirectory() as directory, mock.patch.object(bulk, "CHUNK", chunk):
        path = Path(directory) / "ledger.db"
        url = f"sqlite:///{path}"
        seen: list[dict[str, Any]] = []
        with open_ledger(url, clock=lambda: RECORDED_AT) as ours, open_ledger(url, clock=lambda: RECORDED_AT) as other:
            for step, (op, seed) in enumerate(ops):
                draw = random.Random(seed)
                writer: Ledger = other if op == "other" else ours
                try:
                    if op == "rollback" and ours.head.seq:
                        other.rollback(reason="test", actor="test", to_seq=draw.randrange(ours.head.seq))
                    elif op == "rebuild":
                        other.rebuild()
                    elif op in ("ours", "other"):
                        events = [event(draw, f"{step}-{n}") for n in range(draw.randint(0, 7))]
                        events += [draw.choice(seen)] if seen and draw.random() < 0.2 else []  # a duplicate
                        if len(events) == 1:
                            writer.record(events[0])
                        elif draw.random() < 0.25:  # as an import appends them
                            writer.append_texts([EventText(fields) for fields in events])
                        else:
                            writer.record_many(events, cursors={"sync": str(step)} if draw.random() < 0.3 else None)
                        seen += events
                except (InvalidFill, FillConflict):
                    pass  # refused whole: nothing written
                stored = rows_of(url)
                rebuilt = rebuilt_copy(path, Path(directory) / "copy.db")
                for table in COMPARED:
                    assert stored[table] == rebuilt[table], (step, op, table)
