#!/usr/bin/env python3
"""A specific sale's `metadata.lots` checked when recorded (docs/benchmarks.md, "A specific sale's lots checked by
the fold"): per case OWN/OTHER/named|plain, a bot account's history of OWN events (buy 1, then sell 1 naming that
buy's lot when `named`) after OTHER events of another account is imported (timed), then a sale naming a lot is
timed after a buy (median of 7). OWN/OTHER/backfill ("Backfills checked against the lots named"): the same history
naming no lots, then a buy and a sale naming its lot (the head's mark), then a buy backfilled inside the third pair
from the end (its pool not empty then) is timed, each run on a fresh copy of the ledger (median of 5).

usage: scripts/bench_lot_picks.py 10000/0/named 0/10000/plain 100000/0/plain 100000/0/backfill ...
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from tradeledger import open_ledger

T0 = datetime(2025, 1, 1, tzinfo=UTC)
_IDS = count()


def _fill(account: str, side: str, second: int, lot: int | None = None) -> dict[str, Any]:
    fill: dict[str, Any] = {
        "fill_id": f"F{next(_IDS)}",
        "account": account,
        "exchange": "kraken",
        "symbol": "BTC/USD",
        "side": side,
        "quantity": "1",
        "price": "100",
        "fee": "0",
        "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
    }
    if lot is not None:
        fill["metadata"] = {"lots": [{"seq": lot, "quantity": "1"}]}
    return fill


def _history(account: str, events: int, start: int, first_seq: int, *, named: bool) -> list[dict[str, Any]]:
    """`events` / 2 pairs of a buy and a sale (naming the buy's lot when `named`), the first at seq `first_seq`."""
    fills: list[dict[str, Any]] = []
    for pair in range(events // 2):
        fills.append(_fill(account, "buy", start + 2 * pair))
        fills.append(_fill(account, "sell", start + 2 * pair + 1, first_seq + 2 * pair if named else None))
    return fills


def _case(own: int, other: int, *, named: bool) -> str:
    directory = Path(tempfile.mkdtemp(prefix="bench-lot-picks-"))
    url = f"sqlite:///{directory / 'ledger.db'}"
    fills = _history("other", other, 0, 1, named=False) + _history("bot", own, other + 10, other + 1, named=named)
    path = directory / "fills.ndjson"
    path.write_text("".join(json.dumps(fill) + "\n" for fill in fills))
    began = time.perf_counter()
    command = [sys.executable, "-m", "tradeledger", "--db", url, "import", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    imported = time.perf_counter() - began
    timings: list[float] = []
    with open_ledger(url) as ledger:
        for run in range(7):
            second = own + other + 100 + 2 * run
            lot = ledger.record(_fill("bot", "buy", second)).seq
            began = time.perf_counter()
            ledger.record(_fill("bot", "sell", second + 1, lot))
            timings.append(time.perf_counter() - began)
    sales = own // 2 if named else 0
    return (
        f"own={own} other={other}: import of {len(fills)} events ({sales} sales naming lots) {imported:.2f} s; "
        f"a sale naming a lot {statistics.median(timings) * 1000:.1f} ms (median of 7)"
    )


def _backfill(own: int, other: int) -> str:
    directory = Path(tempfile.mkdtemp(prefix="bench-lot-picks-"))
    url = f"sqlite:///{directory / 'ledger.db'}"
    fills = _history("other", other, 0, 1, named=False) + _history("bot", own, other + 10, other + 1, named=False)
    path = directory / "fills.ndjson"
    path.write_text("".join(json.dumps(fill) + "\n" for fill in fills))
    subprocess.run([sys.executable, "-m", "tradeledger", "--db", url, "import", str(path)], check=True)
    second = own + other + 100
    with open_ledger(url) as ledger:
        lot = ledger.record(_fill("bot", "buy", second)).seq
        ledger.record(_fill("bot", "sell", second + 1, lot))
    inside = other + 10 + own - 6  # the third pair from the end of the bot's history: between its buy and its sale
    timings: list[float] = []
    for run in range(5):
        copy = directory / f"copy{run}.db"
        shutil.copyfile(directory / "ledger.db", copy)
        with open_ledger(f"sqlite:///{copy}") as ledger:
            backfill = _fill("bot", "buy", inside) | {"occurred_at": (T0 + timedelta(seconds=inside + 0.5)).isoformat()}
            began = time.perf_counter()
            ledger.record(backfill)
            timings.append(time.perf_counter() - began)
        copy.unlink()
    return (
        f"own={own} other={other}: a buy backfilled inside an open pair {statistics.median(timings) * 1000:.1f} ms "
        f"(median of 5; {', '.join(f'{t * 1000:.0f}' for t in timings)} ms)"
    )


def main() -> None:
    for case in sys.argv[1:]:
        own, other, kind = case.split("/")
        if kind == "backfill":
            print(_backfill(int(own), int(other)), flush=True)
        else:
            print(_case(int(own), int(other), named=kind == "named"), flush=True)


if __name__ == "__main__":
    main()
