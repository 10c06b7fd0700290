#!/usr/bin/env python3
"""The performance targets of spec section 8, each against its raw sqlite3 baseline, in one run.

usage: scripts/bench.py [--quick] [--runs N] [--dir DIR] [--pg-url URL]
                        [--only append|batches|ticks|fleet|startup|import|gains|rollback]

Every operation runs several times (min / median / max) next to its baseline, measured in the same
run on the same machine; the table ends with `bench: K/N targets met`. Baselines are those of
../shared/reference/perf-limits/ (copied here so the repository stands alone): the same generated
fills (`make_events`, seed 42: 10 accounts x 50 instruments, random UUID4 fill ids), the same
`events` table and JSON payload, the same pragmas (WAL; synchronous=FULL for the durable rows) and
the same sizes. `--quick` shrinks the sizes to finish in under two minutes. The peer `eventsourcing`
(its SQLite recorder) and msgspec come with `pip install -e '.[bench]'`; rows that need a missing
package say so and are left out of the count. The fleet rows (issue 18: commit in a writer process to
a subscriber's hands; 2-8 writer processes on PostgreSQL) have no target; PostgreSQL's single durable
append (one writer process against raw psycopg INSERT + COMMIT) has. The PostgreSQL rows need a
server (--pg-url, else $TRADELEDGER_BENCH_PG_URL or $TRADELEDGER_TEST_PG_URL) and are skipped, with
the reason under the table, without one. Docs: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tradeledger import EventNotice, open_ledger  # noqa: E402 - after the path set-up, so a checkout runs as is

# --- the perf-limits workload (common.py / models.py), verbatim in behaviour ----------------------

RAW_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq     INTEGER PRIMARY KEY,
    stream  TEXT NOT NULL,
    type    TEXT NOT NULL,
    payload TEXT NOT NULL,
    ts      TEXT NOT NULL,
    fill_id TEXT NOT NULL UNIQUE
)
"""
RAW_INSERT = "INSERT INTO events (stream, type, payload, ts, fill_id) VALUES (?, ?, ?, ?, ?)"
ACCOUNTS = [f"ACC-{i:04d}" for i in range(10)]
INSTRUMENTS = [f"SYM{i:03d}" for i in range(50)]
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
RawEvent = tuple[str, str, str, str, str]
T = TypeVar("T")


def make_events(n: int, seed: int = 42, start: int = 0) -> list[RawEvent]:
    """(stream, type, payload, ts, fill_id) rows: perf-limits' common.make_events."""
    rnd = random.Random(seed + start)  # noqa: S311 - a reproducible workload, not a secret
    out = []
    for i in range(start, start + n):
        acc = ACCOUNTS[rnd.randrange(len(ACCOUNTS))]
        ins = INSTRUMENTS[rnd.randrange(len(INSTRUMENTS))]
        side = "BUY" if rnd.random() < 0.55 else "SELL"  # noqa: PLR2004
        qty = f"{rnd.randrange(1, 100000) / 100:.2f}"
        price = f"{rnd.randrange(100000, 5000000) / 10000:.4f}"
        fee = f"{rnd.randrange(0, 500) / 100:.2f}"
        exec_at = (T0 + timedelta(microseconds=i * 1371)).isoformat()
        fill_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        payload = json.dumps(
            {
                "fill_id": fill_id,
                "account": acc,
                "instrument": ins,
                "side": side,
                "quantity": qty,
                "price": price,
                "fee": fee,
                "executed_at": exec_at,
            },
            separators=(",", ":"),
        )
        out.append((f"{acc}/{ins}", "FillRecorded", payload, exec_at, fill_id))
    return out


def as_fill(event: RawEvent) -> dict[str, str]:
    """The same fill as a tradeledger fill (symbol SYMxxx/USD, side in lower case, no exchange)."""
    data = json.loads(event[2])
    return {
        "fill_id": data["fill_id"],
        "account": data["account"],
        "exchange": "",
        "symbol": f"{data['instrument']}/USD",
        "side": data["side"].lower(),
        "quantity": data["quantity"],
        "price": data["price"],
        "fee": data["fee"],
        "occurred_at": data["executed_at"],
    }


# `python -m tradeledger ARGS`, then the process's own peak RSS (VmHWM) on stderr where Linux gives it. Not the
# child's rusage: on Linux its ru_maxrss counts the parent's RSS at the fork (folded in at exec), ~200 MB here.
PEAK_RSS = """
import pathlib, runpy, sys
try:
    runpy.run_module("tradeledger", run_name="__main__", alter_sys=True)
finally:
    status = pathlib.Path("/proc/self/status")
    if status.exists():
        print(next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:")), file=sys.stderr)
"""


def fresh_raw_db(path: Path, synchronous: str) -> sqlite3.Connection:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.sync()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute(RAW_SCHEMA)
    connection.commit()
    return connection


D0 = Decimal(0)


def apply_decimal(book: dict[str, list[Decimal]], key: str, side: str, q: Decimal, p: Decimal, fee: Decimal) -> None:
    """perf-limits' models.apply_decimal: weighted-average-cost update with realized PnL."""
    pos = book.get(key)
    if pos is None:
        pos = book[key] = [D0, D0, D0]
    qty, avg, realized = pos
    dq = q if side == "BUY" else -q
    if qty == 0 or (qty > 0) == (dq > 0):
        new = qty + dq
        pos[1] = (avg * qty + p * dq) / new
        pos[0] = new
        pos[2] = realized - fee
    else:
        closing = min(abs(dq), abs(qty))
        pos[2] = realized + (p - avg) * (closing if qty > 0 else -closing) - fee
        new = qty + dq
        pos[0] = new
        if new == 0:
            pos[1] = D0
        elif (new > 0) != (qty > 0):
            pos[1] = p


def optional(module: str) -> Any:  # noqa: ANN401 - a module that may be missing
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


# --- sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    single: int  # durable single-fill appends
    batched: int  # fills appended in 1,000-fill transactions
    log: int  # the log rebuilt and replayed to random seqs
    ticks: int
    ndjson: int
    peer_single: int
    state_queries: int = 20
    paced: int = 1_000  # fills a paced writer process commits, per subscription-latency run
    fleet: int = 2_000  # fills each writer process appends in the PostgreSQL fleet rows

    def scaled(self, factor: float) -> Sizes:
        def s(n: int) -> int:
            return max(2, round(n * factor))

        return Sizes(
            s(self.single),
            s(self.batched),
            s(self.log),
            s(self.ticks),
            s(self.ndjson),
            s(self.peer_single),
            max(2, min(self.state_queries, s(self.state_queries))),
            s(self.paced),
            s(self.fleet),
        )


FULL = Sizes(single=3_000, batched=100_000, log=1_000_000, ticks=200_000, ndjson=100_000, peer_single=3_000)
QUICK = Sizes(
    single=300,
    batched=10_000,
    log=50_000,
    ticks=20_000,
    ndjson=10_000,
    peer_single=300,
    paced=100,
    fleet=100,
)
BATCH = 1_000
LEGACY_TRADES = 10_000  # peers.md 1b: the legacy TradeManager's state size
LEGACY_TICKS = 3  # peers.md: 3 ticks a run at 10,000 trades (each ~0.2 s)
ROLLBACK_TAIL = 10  # events an operator's rollback removes in the rollback row


def random_walk(symbols: list[str], n: int, *, seed: int, sigma: float = 0.001) -> list[tuple[str, Decimal]]:
    """`n` ticks, round robin over `symbols` from 100: a zero-drift Gaussian walk, sigma 0.1 % a tick, seeded.

    Each tick multiplies the symbol's price by 1 + sigma·z (z standard normal), so the expected next price
    is the current one; prices are quoted to 4 decimals. A walk keeps making new highs and lows (about
    2·√(k/π) of each in k ticks), which is what moves the trailing stops and the watermarks.
    """
    rnd = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    walk = dict.fromkeys(symbols, 100.0)  # float ok: it generates the workload; each tick is a Decimal
    ticks: list[tuple[str, Decimal]] = []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        walk[symbol] *= 1 + sigma * rnd.gauss(0, 1)
        ticks.append((symbol, Decimal(f"{walk[symbol]:.4f}")))
    return ticks


def level_moves(ticks: list[tuple[str, Decimal]], entry: Decimal = Decimal(100)) -> int:
    """How many ticks make a new high or low watermark of a position opened at `entry`: the writes."""
    highs: dict[str, Decimal] = {}
    lows: dict[str, Decimal] = {}
    moves = 0
    for symbol, price in ticks:
        if price > highs.get(symbol, entry):
            highs[symbol] = price
            moves += 1
        elif price < lows.get(symbol, entry):
            lows[symbol] = price
            moves += 1
    return moves


def base_fee_fills(events: list[RawEvent]) -> tuple[list[dict[str, Any]], int]:
    """The fills of `events` with `fees` given: a buy that opens or adds to a long pays 0.1 % of its quantity
    in the base currency (the only fills a base fee can never turn short, spec section 9), every other
    fill its fee in USD. Returns the fills and how many pay in the base currency."""
    held: dict[tuple[str, str], Decimal] = {}
    fills: list[dict[str, Any]] = []
    based = 0
    for event in events:
        fill: dict[str, Any] = as_fill(event)
        fee = fill.pop("fee")
        key = (fill["account"], fill["symbol"])
        before = held.get(key, D0)
        quantity = Decimal(fill["quantity"])
        if fill["side"] == "buy" and before >= 0:
            base_fee = quantity / 1000
            fill["fees"] = [{"amount": str(base_fee), "currency": fill["symbol"].split("/")[0]}]
            held[key] = before + quantity - base_fee
            based += 1
        else:
            fill["fees"] = [{"amount": fee, "currency": "USD"}]
            held[key] = before + (quantity if fill["side"] == "buy" else -quantity)
        fills.append(fill)
    return fills, based


def ccxt_trades_text(events: list[RawEvent]) -> str:
    """`events` as the JSON list ccxt's fetch_my_trades returns (binance's unified trades, numbers as JSON
    numbers as ccxt writes them, a fee in the quote currency, the raw record under `info`)."""
    entries = []
    for event in events:
        data = json.loads(event[2])
        stamp = datetime.fromisoformat(data["executed_at"])
        millis = int(stamp.timestamp() * 1000)
        symbol = f"{data['instrument']}/USDT"
        side = data["side"].lower()
        trade_id = str(uuid.UUID(data["fill_id"]).int % 10**12)
        text = json.dumps(
            {
                "info": {"symbol": symbol.replace("/", ""), "id": trade_id, "isBuyer": side == "buy"},
                "timestamp": millis,
                "datetime": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "symbol": symbol,
                "id": trade_id,
                "order": data["fill_id"],
                "type": None,
                "side": side,
                "takerOrMaker": "taker",
            },
            separators=(",", ":"),
        )
        numbers = (
            f'"price":{data["price"]},"amount":{data["quantity"]},'
            f'"fee":{{"cost":{data["fee"]},"currency":"USDT"}},"fees":[{{"cost":{data["fee"]},"currency":"USDT"}}]'
        )
        entries.append(f"{text[:-1]},{numbers}}}")
    return "[\n" + ",\n".join(entries) + "\n]\n"


def load_legacy_trade_manager(path: Path, folder: Path) -> Any:  # noqa: ANN401 - a module loaded from a file
    """A user-extracted legacy trade_manager.py, imported unmodified with importlib.

    Its one import from its own project (`crypto_bot.utils.logger.LOG_DIR`, in later versions) is given
    as the scratch folder, where its CSV replay finds no trades.csv."""
    if not path.is_file():
        raise SystemExit(f"bench: --legacy-trade-manager {path}: no such file (docs/benchmarks.md says how to get it)")
    for name in ("crypto_bot", "crypto_bot.utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    logger = types.ModuleType("crypto_bot.utils.logger")
    logger.LOG_DIR = folder  # type: ignore[attr-defined]
    sys.modules.setdefault("crypto_bot.utils.logger", logger)
    spec = importlib.util.spec_from_file_location("legacy_trade_manager", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench: --legacy-trade-manager {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while the class is made
    # Its warnings (no config.yaml, reversals) are still formatted, as in peers.md, but not printed.
    logging.getLogger(spec.name).addHandler(logging.NullHandler())
    logging.getLogger(spec.name).propagate = False
    spec.loader.exec_module(module)
    return module


# --- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    operation: str
    unit: str
    ours: list[float]
    baseline: float | None
    baseline_label: str
    target: str
    met: bool | None  # None: no target, or it could not be measured
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.ours or not self.baseline:
            return None
        return statistics.median(self.ours) / self.baseline


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f}"
    if unit == "ms":
        return f"{value:.2f}"
    if value >= 1e6:  # noqa: PLR2004
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:  # noqa: PLR2004
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def timed_rate(n: int, action: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    action()
    return n / (time.perf_counter() - start)


def batched_rate(connection: sqlite3.Connection, insert: str, rows: Sequence[Sequence[object]], size: int) -> float:
    """Rows per second of `insert` by executemany, `size` rows a commit; the connection is closed after."""

    def run() -> None:
        for i in range(0, len(rows), size):
            connection.executemany(insert, rows[i : i + size])
            connection.commit()

    rate = timed_rate(len(rows), run)
    connection.close()
    return rate


# --- the operations -----------------------------------------------------------------------------


class Bench:
    def __init__(self, sizes: Sizes, runs: int, folder: Path) -> None:
        self.sizes = sizes
        self.runs = runs
        self.folder = folder
        self.rows: list[Row] = []
        self.skipped: list[str] = []  # rows left out, each with the reason (printed after the table)

    def path(self, name: str) -> Path:
        return self.folder / name

    def fresh_ledger_url(self, name: str) -> str:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path(name)}{suffix}").unlink(missing_ok=True)
        os.sync()
        return f"sqlite:///{self.path(name)}"

    def say(self, text: str) -> None:
        print(f"# {text}", file=sys.stderr, flush=True)

    # durable single-fill appends -------------------------------------------------------------

    def single_append(self) -> list[float]:
        n = self.sizes.single
        events = make_events(n)
        fills = [as_fill(event) for event in events]

        def raw_once() -> float:
            connection = fresh_raw_db(self.path("raw_single.db"), "FULL")

            def run() -> None:
                for event in events:
                    connection.execute(RAW_INSERT, event)
                    connection.commit()

            rate = timed_rate(n, run)
            connection.close()
            return rate

        def ours_once() -> float:
            with open_ledger(self.fresh_ledger_url("single.db")) as ledger:
                ledger.record(fills[0])  # the schema and first connection, outside the timer
                return timed_rate(n - 1, lambda: [ledger.record(fill) for fill in fills[1:]])

        self.say(f"single durable appends, {n} fills")
        raw, ours = self.alternate(raw_once, ours_once)
        self.rows.append(
            Row(
                "append 1 fill/txn, durable (WAL, FULL), dedupe + hash + projection",
                "fills/s",
                ours,
                statistics.median(raw),
                f"raw sqlite3 commit/event WAL+FULL ({fmt(min(raw), '')}-{fmt(max(raw), '')})",
                ">= 0.50x",
                statistics.median(ours) >= 0.5 * statistics.median(raw),
            )
        )
        return ours

    def alternate(self, first: Callable[[], T], second: Callable[[], T]) -> tuple[list[T], list[T]]:
        """Run two measurements in turns, so a change in machine load touches both alike."""
        a: list[T] = []
        b: list[T] = []
        for _ in range(self.runs):
            a.append(first())
            b.append(second())
        return a, b

    # 1,000-fill batches ------------------------------------------------------------------------

    def batches(self) -> None:
        n = self.sizes.batched
        events = make_events(n, start=10_000_000)
        self.say(f"{min(BATCH, n)}-fill batches, {n} fills")
        raw, ours = self.batched_runs("batch", [as_fill(event) for event in events], events)
        self.rows.append(
            Row(
                f"append {min(BATCH, n):,} fills/txn (durable)",
                "fills/s",
                ours,
                statistics.median(raw),
                "raw sqlite3 executemany, same batches, WAL+FULL",
                ">= 0.40x",
                statistics.median(ours) >= 0.4 * statistics.median(raw),
            )
        )
        self.schema_floor(events)

    def schema_floor(self, events: list[RawEvent]) -> None:
        """What the log's rows alone cost: the rows our batches wrote to `ledger_events`, inserted by a plain
        executemany into a fresh ledger's schema (its unique key and its append-only trigger), same batches, in
        turns with the raw baseline. No validation, hash, fold or projection: the floor of the batches row."""
        n = len(events)
        size = min(BATCH, n)
        source = sqlite3.connect(self.path("batch.db"))  # the batches row's last ledger
        stored = source.execute("SELECT * FROM ledger_events ORDER BY seq").fetchall()
        source.close()
        insert = f"INSERT INTO ledger_events VALUES ({', '.join('?' * len(stored[0]))})"  # noqa: S608 - our columns

        def raw_once() -> float:
            return batched_rate(fresh_raw_db(self.path("raw_floor.db"), "FULL"), RAW_INSERT, events, size)

        def floor_once() -> float:
            with open_ledger(self.fresh_ledger_url("floor.db")) as ledger:
                ledger.head  # noqa: B018 - the schema, outside the timer
            connection = sqlite3.connect(self.path("floor.db"))
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            return batched_rate(connection, insert, stored, size)

        raw, floor = self.alternate(raw_once, floor_once)
        self.rows.append(
            Row(
                "  the same events' rows alone into our log's schema (plain executemany): the floor of the row above",
                "fills/s",
                floor,
                statistics.median(raw),
                "raw sqlite3 executemany, same batches, WAL+FULL",
                "(none)",
                None,
                note="24 columns, the unique (fill_id, account, exchange) and the append-only trigger; nothing else",
            )
        )

    def batched_runs(
        self, name: str, fills: list[dict[str, Any]], rows: list[RawEvent]
    ) -> tuple[list[float], list[float]]:
        """Raw executemany of `rows` and our record_many of `fills`, BATCH at a time, in turns: their rates."""
        n = len(fills)
        size = min(BATCH, n)

        def raw_once() -> float:
            return batched_rate(fresh_raw_db(self.path(f"raw_{name}.db"), "FULL"), RAW_INSERT, rows, size)

        def ours_once() -> float:
            with open_ledger(self.fresh_ledger_url(f"{name}.db")) as ledger:
                ledger.head  # noqa: B018 - the schema, outside the timer
                return timed_rate(n, lambda: [ledger.record_many(fills[i : i + size]) for i in range(0, n, size)])

        return self.alternate(raw_once, ours_once)

    # 1,000-fill batches whose fee is paid in the base currency ---------------------------------

    def base_fee_batches(self) -> None:
        """The batches row again, with the fee of every buy that opens or adds to a long paid in the base
        currency (spec section 9: a fee-free disposal of that much base at the fill price): `fees` given."""
        n = self.sizes.batched
        fills, based = base_fee_fills(make_events(n, start=60_000_000))
        rows = [
            (
                f"{fill['account']}/{fill['symbol']}",
                "FillRecorded",
                json.dumps(fill),
                fill["occurred_at"],
                fill["fill_id"],
            )
            for fill in fills
        ]
        self.say(f"{min(BATCH, n)}-fill batches with fees in the base currency, {n} fills ({based:,} base fees)")
        raw, ours = self.batched_runs("base_fee", fills, rows)
        self.rows.append(
            Row(
                f"append {min(BATCH, n):,} fills/txn (durable), fees in the base currency",
                "fills/s",
                ours,
                statistics.median(raw),
                "raw sqlite3 executemany, same batches and payloads, WAL+FULL",
                "(none)",
                None,
                note=f"{based:,} of {n:,} fills pay a base fee (each buy opening or adding to a long), the rest USD",
            )
        )

    # the big log: rebuild with peak RSS, state as of random seqs ---------------------------------

    def build_log(self) -> tuple[str, Path]:
        n = self.sizes.log
        url = self.fresh_ledger_url("log.db")
        raw_path = self.path("raw_log.db")
        raw = fresh_raw_db(raw_path, "NORMAL")
        started = time.perf_counter()
        with open_ledger(url, synchronous="normal") as ledger:
            for start in range(0, n, 100_000):
                chunk = make_events(min(100_000, n - start), seed=1, start=start)
                for i in range(0, len(chunk), 10_000):
                    raw.executemany(RAW_INSERT, chunk[i : i + 10_000])
                    raw.commit()
                    ledger.record_many([as_fill(event) for event in chunk[i : i + 10_000]])
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
        self.say(f"built the {n:,}-fill log (ours and raw) in {time.perf_counter() - started:.0f} s")
        return url, raw_path

    def rebuild(self, url: str, raw_path: Path) -> list[float]:
        n = self.sizes.log
        msgspec = optional("msgspec")

        def raw_once() -> float:
            book: dict[str, list[Decimal]] = {}
            count = 0
            connection = sqlite3.connect(raw_path)
            start = time.perf_counter()
            if msgspec is not None:
                fill_struct = msgspec.defstruct(
                    "FillS",
                    [
                        ("fill_id", str),
                        ("account", str),
                        ("instrument", str),
                        ("side", str),
                        ("quantity", Decimal),
                        ("price", Decimal),
                        ("fee", Decimal),
                        ("executed_at", datetime),
                    ],
                    frozen=True,
                )
                decode = msgspec.json.Decoder(fill_struct).decode
                for stream, payload in connection.execute("SELECT stream, payload FROM events ORDER BY seq"):
                    e = decode(payload)
                    apply_decimal(book, stream, e.side, e.quantity, e.price, e.fee)
                    count += 1
            else:
                for stream, payload in connection.execute("SELECT stream, payload FROM events ORDER BY seq"):
                    d = json.loads(payload)
                    apply_decimal(
                        book, stream, d["side"], Decimal(d["quantity"]), Decimal(d["price"]), Decimal(d["fee"])
                    )
                    count += 1
            rate = count / (time.perf_counter() - start)
            connection.close()
            return rate

        rss: list[float] = []

        def ours_once() -> float:
            # In a child process, so its peak RSS is the rebuild's (interpreter included).
            out = subprocess.run(
                [sys.executable, __file__, "--child-rebuild", url], capture_output=True, text=True, check=True
            )
            result = json.loads(out.stdout)
            rss.append(result["rss_mb"])
            return float(n / result["seconds"])

        self.say(f"rebuild from {n:,} fills")
        raw, ours = self.alternate(raw_once, ours_once)
        decoder = "msgspec Struct(Decimal)" if msgspec is not None else "stdlib json + Decimal (msgspec missing)"
        self.rows.append(
            Row(
                f"rebuild every projection from {n:,} fills",
                "fills/s",
                ours,
                statistics.median(raw),
                f"raw sqlite3 fetch + {decoder} + Decimal fold",
                ">= 0.40x",
                statistics.median(ours) >= 0.4 * statistics.median(raw),
            )
        )
        self.rows.append(
            Row(
                f"  peak RSS of that rebuild (whole process, {n:,} fills)",
                "MB",
                rss,
                None,
                "",
                "< 400 MB",
                max(rss) < 400,  # noqa: PLR2004
            )
        )
        return ours

    def state_as_of(self, url: str) -> None:
        n = self.sizes.log
        rnd = random.Random(7)  # noqa: S311
        seqs = [rnd.randint(1, n) for _ in range(self.sizes.state_queries)]
        times: list[float] = []
        with open_ledger(url) as ledger:
            ledger.replay(until_seq=1, closed=False)  # connections and imports, outside the timer
            for seq in seqs:
                start = time.perf_counter()
                state = ledger.replay(until_seq=seq, closed=False)
                times.append(time.perf_counter() - start)
                assert state.seq == seq
            start = time.perf_counter()
            ledger.replay(until_seq=seqs[0])
            full = time.perf_counter() - start
        self.say(f"state as of {len(seqs)} random seqs of {n:,}")
        self.rows.append(
            Row(
                f"state as of a random seq in a {n:,}-fill log (open positions + totals)",
                "s",
                times,
                None,
                f"(a full replay with every closed cycle: {full:.2f} s)",
                "< 0.2 s (max)",
                max(times) < 0.2,  # noqa: PLR2004
                note=f"{len(times)} random seqs",
            )
        )

    # a TradeManager and a PaperWallet starting on the big log --------------------------------------

    def startup(self, url: str) -> None:
        """Spec section 8: open the ledger, build the compat object over one account as the legacy bot does
        at start (compat.bot.LegacyBot.build), and time it until its first read is answered."""
        compat = importlib.import_module("tradeledger.compat")
        n = self.sizes.log
        account = ACCOUNTS[0]

        def once(build: Callable[[Any], Any], first_read: Callable[[Any], object]) -> float:
            gc.collect()
            start = time.perf_counter()
            with open_ledger(url) as ledger:
                built = build(ledger)
                first_read(built)
                seconds = time.perf_counter() - start
                (built.close if hasattr(built, "get_all_positions") else built.shutdown)()
            return seconds

        def manager(ledger: Any) -> Any:  # noqa: ANN401
            return compat.TradeManager(ledger, account=account)

        def wallet(ledger: Any) -> Any:  # noqa: ANN401
            return compat.PaperWallet(ledger, Decimal(1_000_000), account=account)

        cases: list[tuple[str, str, Callable[[], float]]] = [
            ("TradeManager", "get_all_positions()", lambda: once(manager, lambda m: m.get_all_positions())),
            ("PaperWallet", "positions", lambda: once(wallet, lambda w: dict(w.positions))),
            ("PaperWallet", "balance, from its checkpoint", lambda: once(wallet, lambda w: w.balance)),
        ]
        self.say(f"a TradeManager and a PaperWallet starting on the {n:,}-fill log")
        # A bot's earlier run, outside the timer: the first wallet on this ledger folds the account's events
        # once and saves its checkpoint (compat.paper_wallet.checkpoint); the starts timed below resume from it.
        first_fold = once(wallet, lambda w: w.balance)
        self.say(f"the first PaperWallet's start + balance (no checkpoint yet: a fold) took {first_fold:.1f} s")
        times: list[list[float]] = [[] for _ in cases]
        for _ in range(self.runs):  # in turns, as `alternate`
            for i, (_, _, run) in enumerate(cases):
                times[i].append(run())
        for (what, first_read, _), seconds in zip(cases, times, strict=True):
            self.rows.append(
                Row(
                    f"a {what} starting on a {n:,}-fill ledger (open_ledger + constructor + {first_read})",
                    "s",
                    seconds,
                    None,
                    "",
                    "< 0.2 s (max)",
                    max(seconds) < 0.2,  # noqa: PLR2004
                    note=f"account {account}, ~{n // len(ACCOUNTS):,} of the fills, 50 open positions"
                    + (
                        f"; after a first wallet's run saved its checkpoint, untimed: that first start + balance "
                        f"folded the account's events in {first_fold:.1f} s"
                        if "checkpoint" in first_read
                        else ""
                    ),
                )
            )

    # an operator's rollback on the big log -------------------------------------------------------

    def rollback(self, url: str) -> None:
        """An audited rollback of the log's last ROLLBACK_TAIL events, each run on what the run before left (so
        it runs last on the big log): the projection rewound from the newest snapshot, not the whole log."""
        n = self.sizes.log
        times: list[float] = []
        with open_ledger(url) as ledger:  # durable, as an operator's command opens it
            for _ in range(self.runs):
                gc.collect()
                target = ledger.head.seq - ROLLBACK_TAIL
                start = time.perf_counter()
                ledger.rollback(to_seq=target, reason="bench", actor="bench")
                times.append(time.perf_counter() - start)
                assert ledger.head.seq == target
        self.say(f"{self.runs} rollbacks of {ROLLBACK_TAIL} events on the {n:,}-fill log")
        self.rows.append(
            Row(
                f"rollback of the last {ROLLBACK_TAIL} events of a {n:,}-fill log (Ledger.rollback, durable)",
                "s",
                times,
                None,
                "",
                "(none)",
                None,
                note="audited record, tail removed, projection rewound from the newest snapshot; each run on the "
                "log the run before left",
            )
        )

    # tax lots -----------------------------------------------------------------------------------

    def gains(self, url: str) -> None:
        """`gains --year` (fifo) over the whole log, in a child process as `tradeledger gains` runs, in turns with
        a rebuild of the positions (a child process too, as in the rebuild row), so that a change in machine load
        touches both alike: the lots are folded from the log on demand (spec section 11), never stored."""
        n = self.sizes.log
        year = T0.year  # make_events spreads the fills over minutes of that year
        matched: list[int] = []
        peaks: list[float] = []

        def rebuild_once() -> float:
            out = subprocess.run(
                [sys.executable, __file__, "--child-rebuild", url], capture_output=True, text=True, check=True
            )
            return float(n / json.loads(out.stdout)["seconds"])

        def gains_once() -> float:
            out = subprocess.run(
                [sys.executable, __file__, "--child-gains", url, "--gains-year", str(year)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout)
            matched.append(result["rows"])
            peaks.append(result["rss_mb"])
            return float(n / result["seconds"])

        rebuilds, rates = self.alternate(rebuild_once, gains_once)
        self.say(f"gains --year {year} on {n:,} fills: {matched[-1]:,} matched parts")
        rebuild = statistics.median(rebuilds)
        self.rows.append(
            Row(
                f"gains --year (fifo) on {n:,} fills, against our rebuild of the positions",
                "fills/s",
                rates,
                rebuild,
                "our rebuild of every projection, same log, in turns with each gains run",
                ">= 0.50x (time <= 2x the rebuild)",
                statistics.median(rates) >= 0.5 * rebuild,
                note=f"each in a child process; {matched[-1]:,} matched parts, peak RSS {max(peaks):.0f} MB",
            )
        )

    # update_price ------------------------------------------------------------------------------

    def ticks(self) -> list[float]:
        compat = optional("tradeledger.compat")
        n = self.sizes.ticks
        symbols = [f"SYM{i:03d}/USD" for i in range(50)]
        prices = random_walk(symbols, n, seed=3)
        moves = level_moves(prices)

        def raw_once() -> float:
            marks: dict[str, Decimal] = {}
            highs: dict[str, Decimal] = dict.fromkeys(symbols, Decimal(0))

            def run() -> None:
                for symbol, price in prices:
                    marks[symbol] = price
                    highs[symbol] = max(highs[symbol], price)

            return timed_rate(n, run)

        note = f"{moves:,} ticks move a level: one commit each; legacy TradeManager: 5.4/s at 10k trades (peers.md)"
        if compat is None:
            msg = "tradeledger.compat is not importable; install tradeledger (pip install -e .)"
            raise SystemExit(msg)

        def ours_once() -> float:
            with open_ledger(self.fresh_ledger_url("ticks.db")) as ledger:
                manager = compat.TradeManager(ledger)
                for symbol in symbols:
                    manager.record_trade(compat.create_trade(symbol, "buy", Decimal(1), Decimal(100)))
                rate = timed_rate(n, lambda: [manager.update_price(symbol, price) for symbol, price in prices])
                if hasattr(manager, "close"):
                    manager.close()
                return rate

        self.say(f"update_price, {n:,} ticks of a random walk ({moves:,} move a level)")
        raw, ours = self.alternate(raw_once, ours_once)
        self.rows.append(
            Row(
                "update_price on 50 open positions, a random walk (TradeManager)",
                "ticks/s",
                ours,
                statistics.median(raw),
                "a bare dict update loop (mark + high watermark)",
                ">= 50,000/s",
                statistics.median(ours) >= 50_000,  # noqa: PLR2004
                note=note,
            )
        )
        return ours

    # the legacy TradeManager's update_price (reference/peers.md section 1) -------------------------

    def legacy_ticks(self, path: Path | None, ours: list[float]) -> None:
        """peers.md 1b: the legacy TradeManager holding 10,000 trades, each tick rewriting its JSON file.

        Its code is not part of this repository: `--legacy-trade-manager PATH` names a trade_manager.py the
        user extracted (docs/benchmarks.md says how). It is loaded unmodified; the harness only disables
        its 30-second auto-save thread (a subclass) and skips the per-trade save while the 10,000 trades
        are recorded, before the timer, as peers.md did."""
        if path is None:
            self.skipped.append(
                "the legacy TradeManager's update_price row: pass --legacy-trade-manager PATH, a trade_manager.py "
                "extracted from LegacyCoinTrader1.0 (crypto_bot/utils/trade_manager.py; docs/benchmarks.md)"
            )
            return
        module = load_legacy_trade_manager(path, self.folder)
        manager_class = cast("Any", types.new_class("BenchTradeManager", (module.TradeManager,)))
        manager_class._start_auto_save = lambda _self: None  # noqa: SLF001 - peers.md: no background saves
        symbols = [f"SYM{i:03d}/USD" for i in range(50)]
        trades = [
            module.create_trade(
                fill["symbol"],
                fill["side"],
                Decimal(fill["quantity"]),
                Decimal(fill["price"]),
                fees=Decimal(fill["fee"]),
            )
            for fill in (as_fill(event) for event in make_events(LEGACY_TRADES, start=70_000_000))
        ]
        prices = random_walk(symbols, LEGACY_TICKS, seed=3)

        def legacy_once() -> float:
            state = self.path("legacy_trade_manager_state.json")
            state.unlink(missing_ok=True)
            manager = manager_class(storage_path=str(state))
            manager.save_state = lambda: None  # recording the 10,000 trades: no save per trade (before the timer)
            for trade in trades:
                manager.record_trade(trade)
            del manager.save_state
            manager.save_state()
            return timed_rate(len(prices), lambda: [manager.update_price(symbol, price) for symbol, price in prices])

        self.say(f"the legacy TradeManager: {LEGACY_TICKS} update_price ticks at {LEGACY_TRADES:,} trades")
        rates = [legacy_once() for _ in range(self.runs)]
        self.rows.append(
            Row(
                f"update_price: ours (row above) vs the legacy TradeManager at {LEGACY_TRADES:,} trades",
                "ticks/s",
                ours,
                statistics.median(rates),
                f"legacy TradeManager {path.name}, each tick rewrites its JSON state ({fmt(min(rates), '')}-"
                f"{fmt(max(rates), '')}; peers.md: 5.4/s)",
                "(none)",
                None,
                note=f"legacy: {LEGACY_TICKS} ticks a run, auto-save thread off",
            )
        )

    # NDJSON import -----------------------------------------------------------------------------

    def ndjson_import(self) -> None:
        n = self.sizes.ndjson
        events = make_events(n, start=20_000_000)
        file = self.path("import.ndjson")
        file.write_text("".join(json.dumps(as_fill(event)) + "\n" for event in events), encoding="utf-8")

        def raw_once() -> float:
            connection = fresh_raw_db(self.path("raw_import.db"), "FULL")

            def run() -> None:
                rows = []
                with file.open(encoding="utf-8") as lines:
                    for line in lines:
                        d = json.loads(line)
                        stream = f"{d['account']}/{d['symbol']}"
                        rows.append((stream, "FillRecorded", line.rstrip("\n"), d["occurred_at"], d["fill_id"]))
                connection.executemany(RAW_INSERT, rows)
                connection.commit()

            rate = timed_rate(n, run)
            connection.close()
            return rate

        peaks: list[float] = []  # the import process's peak RSS, MB (its VmHWM: see PEAK_RSS)

        def ours_once() -> float:
            url = self.fresh_ledger_url("import.db")
            command = [sys.executable, "-c", PEAK_RSS, "--db", url, "import", str(file), "--json"]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, check=True, text=True)
            seconds = time.perf_counter() - start
            peaks.extend(int(line.split()[1]) / 1024 for line in done.stderr.splitlines() if line.startswith("VmHWM:"))
            return n / seconds

        self.say(f"import of a {n:,}-line NDJSON file")
        raw, ours = self.alternate(raw_once, ours_once)
        self.rows.append(
            Row(
                f"tradeledger import of a {n:,}-line NDJSON file (CLI process)",
                "fills/s",
                ours,
                statistics.median(raw),
                "raw json.loads + executemany, one txn, WAL+FULL",
                ">= 0.30x",
                statistics.median(ours) >= 0.3 * statistics.median(raw),
                note="start-up included, one transaction"
                + (f"; peak RSS {max(peaks):.0f} MB" if peaks else "; peak RSS: no /proc/self/status"),
            )
        )

    # ccxt ingest ---------------------------------------------------------------------------------

    def ccxt_ingest(self) -> None:
        """`tradeledger ingest ccxt FILE --exchange binance` as a process on a list of ccxt unified trades."""
        n = self.sizes.ndjson
        file = self.path("trades.ccxt.json")
        file.write_text(ccxt_trades_text(make_events(n, start=80_000_000)), encoding="utf-8")

        def raw_once() -> float:
            connection = fresh_raw_db(self.path("raw_ccxt.db"), "FULL")

            def run() -> None:
                trades = json.loads(file.read_text(encoding="utf-8"))
                rows = [
                    (f"binance/{t['symbol']}", "FillRecorded", json.dumps(t), t["datetime"], f"{t['symbol']}:{t['id']}")
                    for t in trades
                ]
                connection.executemany(RAW_INSERT, rows)
                connection.commit()

            rate = timed_rate(n, run)
            connection.close()
            return rate

        def ours_once() -> float:
            url = self.fresh_ledger_url("ccxt.db")
            command = [sys.executable, "-m", "tradeledger", "--db", url, "ingest", "ccxt", str(file)]
            start = time.perf_counter()
            out = subprocess.run([*command, "--exchange", "binance", "--json"], capture_output=True, check=True)
            seconds = time.perf_counter() - start
            if json.loads(out.stdout)["appended"] != n:
                raise SystemExit(f"bench: ingest ccxt appended {out.stdout!r}, expected all {n} trades")
            return n / seconds

        self.say(f"ccxt ingest of {n:,} trades")
        raw, ours = self.alternate(raw_once, ours_once)
        self.rows.append(
            Row(
                f"tradeledger ingest ccxt of {n:,} trades (CLI process, --exchange binance)",
                "fills/s",
                ours,
                statistics.median(raw),
                "raw json.loads of the list + executemany, one txn, WAL+FULL",
                "(none)",
                None,
                note="fetch_my_trades' unified shape, numbers as JSON numbers, start-up included",
            )
        )

    # the eventsourcing peer ----------------------------------------------------------------------

    def peer(self, our_append: list[float], our_rebuild: list[float]) -> None:
        if optional("eventsourcing.application") is None:
            for what in ("append", "rebuild"):
                self.rows.append(
                    Row(
                        f"eventsourcing 9 (SQLite) peer: {what}",
                        "fills/s",
                        [],
                        None,
                        "",
                        "ours >= 2x",
                        None,
                        "not installed: pip install -e '.[bench]'",
                    )
                )
            return
        peer = EventsourcingPeer(self.folder)
        n = self.sizes.log  # the peer rebuilds the very log ours rebuilt (same fills, same size)
        self.say(f"eventsourcing: {self.sizes.peer_single} single appends, rebuild of {n:,}")
        appends = [peer.append(make_events(self.sizes.peer_single, start=30_000_000)) for _ in range(self.runs)]
        started = time.perf_counter()
        peer.build(n)
        self.say(f"built the peer's {n:,}-fill log in {time.perf_counter() - started:.0f} s")
        rebuilds = [peer.rebuild() for _ in range(self.runs)]
        version = importlib.metadata.version("eventsourcing")
        pairs = (
            ("append 1 fill/txn, durable (our row 1)", appends, our_append, self.sizes.peer_single),
            (f"rebuild, both on the same {n:,} fills (our rebuild row)", rebuilds, our_rebuild, n),
        )
        for what, rates, ours, n in pairs:
            median = statistics.median(rates)
            self.rows.append(
                Row(
                    f"ours vs the eventsourcing peer: {what}",
                    "fills/s",
                    ours,
                    median,
                    f"eventsourcing {version} SQLite, {n:,} fills ({fmt(min(rates), '')}-{fmt(max(rates), '')})",
                    ">= 2.00x",
                    bool(ours) and statistics.median(ours) >= 2 * median,
                )
            )

    # report ----------------------------------------------------------------------------------

    def report(self) -> int:
        print(
            f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, load average {os.getloadavg()[0]:.2f} at the end; runs: {self.runs}\n"
        )
        print("| operation | unit | min | median | max | baseline (median) | ratio | target | met |")
        print("|---|---|---:|---:|---:|---|---:|---|---|")
        for row in self.rows:
            if row.ours:
                low, mid, high = (fmt(v, row.unit) for v in (min(row.ours), statistics.median(row.ours), max(row.ours)))
            else:
                low = mid = high = "-"
            baseline = "-" if row.baseline is None else f"{fmt(row.baseline, row.unit)} {row.baseline_label}"
            if row.baseline is None and row.baseline_label:
                baseline = row.baseline_label
            ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
            verdict = {True: "yes", False: "**no**", None: "-"}[row.met]
            note = f" ({row.note})" if row.note else ""
            cells = [f"{row.operation}{note}", row.unit, low, mid, high, baseline, ratio, row.target, verdict]
            print("| " + " | ".join(cells) + " |")
        for reason in self.skipped:
            print(f"\nskipped: {reason}")
        counted = [row for row in self.rows if row.met is not None]
        met = sum(bool(row.met) for row in counted)
        print(f"\nbench: {met}/{len(counted)} targets met")
        return 0


class EventsourcingPeer:
    """peers.md section 2: one Position aggregate per instrument, a FillRecorded event per fill."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        application = importlib.import_module("eventsourcing.application")
        domain = importlib.import_module("eventsourcing.domain")

        def body(namespace: dict[str, Any]) -> None:
            def init(self: Any, symbol: str) -> None:  # noqa: ANN401
                self.symbol = symbol
                self.book = {}

            def create_id(symbol: str) -> uuid.UUID:
                return uuid.uuid5(uuid.NAMESPACE_URL, f"/positions/{symbol}")

            def record_fill(self: Any, side: str, qty: str, price: str, fee: str) -> None:  # noqa: ANN401
                apply_decimal(self.book, "pos", side, Decimal(qty), Decimal(price), Decimal(fee))

            namespace["__init__"] = init
            namespace["create_id"] = staticmethod(create_id)
            namespace["record_fill"] = domain.event("FillRecorded")(record_fill)

        self.position: Any = cast("Any", types.new_class("Position", (domain.Aggregate,), exec_body=body))
        self.create_id = self.position.create_id
        self.application = application.Application

    def app(self, name: str, *, fresh: bool) -> Any:  # noqa: ANN401
        path = self.folder / name
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "AGGREGATE_CACHE_MAXSIZE": "100",
        }
        return self.application(env=env)

    def append(self, events: list[RawEvent]) -> float:
        app = self.app("peer_append.db", fresh=True)
        for symbol in INSTRUMENTS:
            app.save(self.position(symbol))
        decoded = [json.loads(event[2]) for event in events]
        os.sync()

        def run() -> None:
            for d in decoded:
                aggregate = app.repository.get(self.create_id(d["instrument"]))
                aggregate.record_fill(d["side"], d["quantity"], d["price"], d["fee"])
                app.save(aggregate)

        rate = timed_rate(len(decoded), run)
        app.close()
        return rate

    def build(self, n: int) -> None:
        app = self.app("peer_log.db", fresh=True)
        aggregates = {symbol: self.position(symbol) for symbol in INSTRUMENTS}
        app.save(*aggregates.values())
        for start in range(0, n, 10_000):
            for event in make_events(min(10_000, n - start), seed=1, start=start):
                d = json.loads(event[2])
                aggregates[d["instrument"]].record_fill(d["side"], d["quantity"], d["price"], d["fee"])
            app.save(*aggregates.values())
        self.count = n + len(INSTRUMENTS)
        app.close()

    def rebuild(self) -> float:
        app = self.app("peer_log.db", fresh=False)
        book: dict[str, list[Decimal]] = {}
        gc.collect()
        start = time.perf_counter()
        count = 0
        position = 1
        while True:
            page = app.recorder.select_notifications(position, 1000)
            if not page:
                break
            for notification in page:
                event = app.mapper.to_domain_event(notification)
                if hasattr(event, "qty"):
                    apply_decimal(
                        book,
                        str(event.originator_id),
                        event.side,
                        Decimal(event.qty),
                        Decimal(event.price),
                        Decimal(event.fee),
                    )
                count += 1
            position = page[-1].id + 1
        rate = count / (time.perf_counter() - start)
        app.close()
        return rate


# --- a fleet: commit-to-subscriber latency, N writer processes on PostgreSQL ------------------------

PG_URL_VARIABLES = ("TRADELEDGER_BENCH_PG_URL", "TRADELEDGER_TEST_PG_URL")
PACE_S = 0.01  # a paced writer commits one fill every 10 ms (100 fills/s)
RAW_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq     BIGSERIAL PRIMARY KEY,
    stream  TEXT NOT NULL,
    type    TEXT NOT NULL,
    payload TEXT NOT NULL,
    ts      TEXT NOT NULL,
    fill_id TEXT NOT NULL UNIQUE
)
"""
RAW_PG_INSERT = "INSERT INTO events (stream, type, payload, ts, fill_id) VALUES (%s, %s, %s, %s, %s)"
RAW_CHANNEL = "bench_events"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 100 values: the 99th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * fraction) - 1))]


def psycopg_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as libpq takes it."""
    import sqlalchemy as sa  # noqa: PLC0415 - the PostgreSQL rows only

    return str(sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))


class PgServer:
    """A fresh database per measurement on the server at a URL whose role may CREATE DATABASE."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa  # noqa: PLC0415 - the PostgreSQL rows only

        self.url = sa.make_url(url)
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    def create(self) -> str:
        name = f"tradeledger_bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return str(self.url.set(database=name).render_as_string(hide_password=False))

    def drop(self, url: str) -> None:
        import sqlalchemy as sa  # noqa: PLC0415

        name = sa.make_url(url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def setting(self, name: str) -> str:
        """A setting of the server (`SHOW name`), e.g. fsync: the scripts/pg test server runs with it off."""
        with self.admin.connect() as connection:
            return str(connection.exec_driver_sql(f"SHOW {name}").scalar())

    def close(self) -> None:
        self.admin.dispose()


@dataclass(frozen=True)
class WriterSpec:
    """A writer process: `kind` ours (open_ledger + record), raw-sqlite or raw-pg; one fill per transaction."""

    kind: str
    url: str
    n: int
    start: int  # make_events' start: a different one per process, so fill ids never collide
    pace_s: float = 0.0  # 0: as fast as it goes
    notify: bool = False  # raw-pg: NOTIFY in each transaction (the latency baseline)


class Writer:
    """A writer subprocess: it connects, says ready, waits for go, appends, then reports its commit times."""

    def __init__(self, spec: WriterSpec) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child-writer", json.dumps(spec.__dict__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line != "ready\n":
            self.process.kill()
            raise SystemExit(f"bench: a writer process failed to start (said {line!r})")

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=600)
        if self.process.returncode != 0:
            raise SystemExit(f"bench: a writer process failed (status {self.process.returncode})")
        return cast("dict[str, Any]", json.loads(out))


def child_writer(text: str) -> None:
    """The writer process of `Writer`: prints `ready`, reads `go`, appends, prints its times as JSON."""
    spec = WriterSpec(**json.loads(text))
    events = make_events(spec.n, start=spec.start)
    close: Callable[[], object]
    if spec.kind == "ours":
        ledger = open_ledger(spec.url)
        ledger.head  # noqa: B018 - connect outside the timer
        fills = {event[4]: as_fill(event) for event in events}

        def append(event: RawEvent) -> None:
            ledger.record(fills[event[4]])

        close = ledger.close
    elif spec.kind == "raw-sqlite":
        connection = sqlite3.connect(str(sa_database(spec.url)))
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")

        def append(event: RawEvent) -> None:
            connection.execute(RAW_INSERT, event)
            connection.commit()

        close = connection.close
    else:
        psycopg = importlib.import_module("psycopg")
        pg = psycopg.connect(psycopg_url(spec.url))

        def append(event: RawEvent) -> None:
            with pg.transaction():
                pg.execute(RAW_PG_INSERT, event)
                if spec.notify:
                    pg.execute(f"NOTIFY {RAW_CHANNEL}")

        close = pg.close
    print("ready", flush=True)
    sys.stdin.readline()
    commits: list[tuple[str, int]] = []
    started = time.time_ns()
    due = time.monotonic()
    for event in events:
        append(event)
        commits.append((event[4], time.time_ns()))  # committed: the append has returned
        if spec.pace_s:
            due += spec.pace_s
            time.sleep(max(0.0, due - time.monotonic()))
    ended = time.time_ns()
    close()
    print(json.dumps({"commits": commits, "started_ns": started, "ended_ns": ended}))


def sa_database(url: str) -> str:
    """The file of a sqlite:/// URL."""
    return url.removeprefix("sqlite:///")


class Fleet:
    """The rows of issue 18: how soon a subscriber in another process has an event, and N writers on PostgreSQL."""

    def __init__(self, bench: Bench, pg_url: str | None) -> None:
        self.bench = bench
        self.sizes = bench.sizes
        self.runs = bench.runs
        self.pg_url = pg_url

    def run(self) -> None:
        self.latency_rows("SQLite", self.sqlite_ours, self.sqlite_raw, "raw sqlite3 INSERT+commit (WAL, FULL)")
        why = self.why_no_postgres()
        if why is not None:
            self.bench.skipped.append(
                f"PostgreSQL rows (one durable fill per transaction, subscription latency, 2-8 writer processes): {why}"
            )
            return
        assert self.pg_url is not None
        self.server = PgServer(self.pg_url)
        try:
            self.latency_rows("PostgreSQL", self.pg_ours, self.pg_raw, "raw psycopg INSERT+NOTIFY, LISTEN reader")
            self.writer_rows()
        finally:
            self.server.close()

    def why_no_postgres(self) -> str | None:
        if self.pg_url is None:
            names = " or ".join(f"${name}" for name in PG_URL_VARIABLES)
            return f'no server: set {names} (a role that may CREATE DATABASE), or eval "$(scripts/pg start)"'
        if optional("psycopg") is None:
            return "psycopg is not installed (pip install -e '.[postgres]')"
        return None

    # commit -> a subscriber's hands -------------------------------------------------------------

    def latency_rows(
        self, backend: str, ours_once: Callable[[], list[float]], raw_once: Callable[[], list[float]], raw_label: str
    ) -> None:
        n = self.sizes.paced
        self.bench.say(f"{backend}: commit -> subscriber, a writer process at {1 / PACE_S:.0f} fills/s, {n} fills")
        raw, ours = self.bench.alternate(raw_once, ours_once)
        mechanism = "PRAGMA data_version every 5 ms" if backend == "SQLite" else "LISTEN/NOTIFY"
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            ours_p = [percentile(run, fraction) for run in ours]
            raw_p = [percentile(run, fraction) for run in raw]
            self.bench.rows.append(
                Row(
                    f"commit in a writer process -> event in a subscriber's hands, {name}, {backend} ({mechanism})",
                    "ms",
                    ours_p,
                    statistics.median(raw_p),
                    f"{raw_label}, the reader selects by seq ({fmt(min(raw_p), 'ms')}-{fmt(max(raw_p), 'ms')})",
                    "(none)",
                    None,
                    note=f"{n:,} fills at {1 / PACE_S:.0f}/s, {name} of each run",
                )
            )

    def paced(self, kind: str, url: str, *, notify: bool = False) -> Writer:
        writer = Writer(WriterSpec(kind, url, self.sizes.paced, 40_000_000, PACE_S, notify))
        writer.ready()
        return writer

    @staticmethod
    def latencies(writer: Writer, received: dict[str, int]) -> list[float]:
        commits = writer.result()["commits"]
        missing = sum(fill_id not in received for fill_id, _ in commits)
        if missing:
            raise SystemExit(f"bench: {missing} of {len(commits)} events never reached the subscriber")
        return [(received[fill_id] - committed) / 1e6 for fill_id, committed in commits]

    def subscribe(self, url: str, kind: str) -> list[float]:
        """Ours: the writer appends through the ledger, this process reads through `Ledger.subscribe`."""
        n = self.sizes.paced
        received: dict[str, int] = {}
        with open_ledger(url) as ledger:
            ledger.head  # noqa: B018 - the schema, before the writer opens it
            writer = self.paced(kind, url)
            subscription = ledger.subscribe(after=0)
            subscription.poll(0)  # the change signal (LISTEN or data_version) is up before the first fill
            writer.go()
            deadline = time.monotonic() + 60 + n * PACE_S * 2
            while len(received) < n and time.monotonic() < deadline:
                notices = subscription.poll(1.0)
                now = time.time_ns()
                for notice in notices:
                    if isinstance(notice, EventNotice):
                        received[str(getattr(notice.event.event, "fill_id", ""))] = now
            subscription.close()
        return self.latencies(writer, received)

    def sqlite_ours(self) -> list[float]:
        return self.subscribe(self.bench.fresh_ledger_url("latency.db"), "ours")

    def sqlite_raw(self) -> list[float]:
        path = self.bench.path("raw_latency.db")
        fresh_raw_db(path, "FULL").close()
        reader = sqlite3.connect(path)
        writer = self.paced("raw-sqlite", f"sqlite:///{path}")
        seen = reader.execute("PRAGMA data_version").fetchone()[0]
        writer.go()
        received: dict[str, int] = {}
        last = 0
        deadline = time.monotonic() + 60 + self.sizes.paced * PACE_S * 2
        while len(received) < self.sizes.paced and time.monotonic() < deadline:
            version = reader.execute("PRAGMA data_version").fetchone()[0]
            if version == seen:
                time.sleep(0.005)
                continue
            seen = version
            rows = reader.execute("SELECT seq, fill_id FROM events WHERE seq > ? ORDER BY seq", (last,)).fetchall()
            now = time.time_ns()
            for seq, fill_id in rows:
                received[fill_id] = now
                last = seq
        reader.close()
        return self.latencies(writer, received)

    def pg_ours(self) -> list[float]:
        url = self.server.create()
        try:
            return self.subscribe(url, "ours")
        finally:
            self.server.drop(url)

    def pg_raw(self) -> list[float]:
        psycopg = importlib.import_module("psycopg")
        url = self.server.create()
        try:
            with (
                psycopg.connect(psycopg_url(url), autocommit=True) as reader,
                psycopg.connect(psycopg_url(url), autocommit=True) as listener,
            ):
                reader.execute(RAW_PG_SCHEMA)
                listener.execute(f"LISTEN {RAW_CHANNEL}")
                writer = self.paced("raw-pg", url, notify=True)
                writer.go()
                received: dict[str, int] = {}
                last = 0
                deadline = time.monotonic() + 60 + self.sizes.paced * PACE_S * 2
                while len(received) < self.sizes.paced and time.monotonic() < deadline:
                    for _ in listener.notifies(timeout=1.0, stop_after=1):
                        pass
                    rows = reader.execute(
                        "SELECT seq, fill_id FROM events WHERE seq > %s ORDER BY seq", (last,)
                    ).fetchall()
                    now = time.time_ns()
                    for seq, fill_id in rows:
                        received[fill_id] = now
                        last = seq
            return self.latencies(writer, received)
        finally:
            self.server.drop(url)

    # 1, 2, 4 and 8 writer processes ------------------------------------------------------------

    def writer_rows(self) -> None:
        self.single_writer_row()
        n = self.sizes.fleet
        counts = (2, 4, 8) if n >= FULL.fleet else (2,)  # --quick (and the bench test): 2 writers, not 2, 4 and 8
        for count in counts:
            self.bench.say(f"PostgreSQL: {count} writer processes, {n:,} fills each, one per transaction")
            raw, ours = self.bench.alternate(
                functools.partial(self.append_rate, "raw-pg", count, n),
                functools.partial(self.append_rate, "ours", count, n),
            )
            self.bench.rows.append(
                Row(
                    f"append 1 fill/txn on PostgreSQL, {count} writer processes at once",
                    "fills/s",
                    ours,
                    statistics.median(raw),
                    f"raw psycopg, {count} processes, an INSERT per txn into a plain table "
                    f"({fmt(min(raw), '')}-{fmt(max(raw), '')})",
                    "(none)",
                    None,
                    note=f"{n:,} fills each; all together over first start to last end",
                )
            )

    def single_writer_row(self) -> None:
        """Spec section 8: one durable fill per transaction on PostgreSQL against raw psycopg on the same server.
        Counted only on a durable server (fsync on, and a commit waits for its WAL: synchronous_commit on or
        local), as the spec's row is durable: `scripts/pg start --durable`. On the test suite's server (fsync off)
        the row still prints, as what the CPU alone allows, with no target."""
        n = self.sizes.single
        fsync, synchronous = self.server.setting("fsync"), self.server.setting("synchronous_commit")
        durable = fsync == "on" and synchronous in ("on", "local", "remote_write", "remote_apply")
        self.bench.say(f"PostgreSQL: one durable fill per transaction, one writer process, {n:,} fills")
        raw, ours = self.bench.alternate(
            functools.partial(self.append_rate, "raw-pg", 1, n), functools.partial(self.append_rate, "ours", 1, n)
        )
        self.bench.rows.append(
            Row(
                "PostgreSQL: one durable fill per transaction, dedupe + hash + projection (1 writer process)",
                "fills/s",
                ours,
                statistics.median(raw),
                f"raw psycopg INSERT + COMMIT of the same rows, same server, fsync={fsync} "
                f"({fmt(min(raw), '')}-{fmt(max(raw), '')})",
                ">= 0.50x" if durable else "(none: server not durable)",
                statistics.median(ours) >= 0.5 * statistics.median(raw) if durable else None,
                note=f"{n:,} fills; server fsync={fsync}, synchronous_commit={synchronous}"
                + ("" if durable else "; the target counts on a durable server only: scripts/pg start --durable"),
            )
        )

    def append_rate(self, kind: str, count: int, n: int) -> float:
        psycopg = importlib.import_module("psycopg")
        url = self.server.create()
        try:
            if kind == "ours":
                with open_ledger(url) as ledger:
                    ledger.head  # noqa: B018 - the schema, before the writers open it
            else:
                with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
                    connection.execute(RAW_PG_SCHEMA)
            writers = [Writer(WriterSpec(kind, url, n, 50_000_000 + i * n)) for i in range(count)]
            for writer in writers:
                writer.ready()
            for writer in writers:
                writer.go()
            results = [writer.result() for writer in writers]
            started = min(result["started_ns"] for result in results)
            ended = max(result["ended_ns"] for result in results)
            return float(count * n / ((ended - started) / 1e9))
        finally:
            self.server.drop(url)


def child_rebuild(url: str) -> None:
    with open_ledger(url, synchronous="normal") as ledger:
        ledger.head  # noqa: B018 - connect outside the timer
        start = time.perf_counter()
        ledger.rebuild()
        seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": rss_mb}))


def child_gains(url: str, year: int) -> None:
    with open_ledger(url) as ledger:
        ledger.head  # noqa: B018 - connect outside the timer
        gc.collect()
        start = time.perf_counter()
        report = ledger.gains("fifo", year=year)
        seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": rss_mb, "rows": len(report.rows)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under two minutes")
    parser.add_argument("--runs", type=int, default=None, help="runs per operation (default 3; 2 with --quick)")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    parser.add_argument(
        "--only",
        choices=["append", "batches", "ticks", "fleet", "startup", "import", "gains", "rollback"],
        default=None,
        help="append: the single durable append row; batches: the 1,000-fill batches row and its schema floor; "
        "ticks: the update_price row; fleet: issue 18's rows; startup: the big log and the start-up rows; "
        "import: the NDJSON import row; gains: the big log and the gains --year row; rollback: the big log and "
        "the rollback row",
    )
    parser.add_argument(
        "--pg-url",
        default=next((os.environ[name] for name in PG_URL_VARIABLES if os.environ.get(name)), None),
        help="PostgreSQL server for the fleet rows (default: $TRADELEDGER_BENCH_PG_URL, $TRADELEDGER_TEST_PG_URL)",
    )
    parser.add_argument(
        "--legacy-trade-manager",
        type=Path,
        default=None,
        metavar="PATH",
        help="a trade_manager.py extracted from LegacyCoinTrader1.0, for its update_price row (docs/benchmarks.md)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)  # tiny sizes for the CI test
    parser.add_argument("--child-rebuild", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-writer", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-gains", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gains-year", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rebuild:
        child_rebuild(args.child_rebuild)
        return 0
    if args.child_gains:
        child_gains(args.child_gains, args.gains_year)
        return 0
    if args.child_writer:
        child_writer(args.child_writer)
        return 0
    sizes = (QUICK if args.quick else FULL).scaled(args.scale)
    runs = args.runs or (2 if args.quick else 3)
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="tradeledger-bench-", dir=args.dir))
    try:
        bench = Bench(sizes, runs, folder)
        only: dict[str, Callable[[], object]] = {
            "append": bench.single_append,
            "batches": bench.batches,
            "ticks": lambda: bench.legacy_ticks(args.legacy_trade_manager, bench.ticks()),
            "fleet": lambda: Fleet(bench, args.pg_url).run(),
            "startup": lambda: bench.startup(bench.build_log()[0]),
            "import": bench.ndjson_import,
            "gains": lambda: bench.gains(bench.build_log()[0]),
            "rollback": lambda: bench.rollback(bench.build_log()[0]),
        }
        if args.only is not None:
            only[args.only]()
            return bench.report()
        our_append = bench.single_append()
        bench.batches()
        bench.base_fee_batches()
        url, raw_path = bench.build_log()
        our_rebuild = bench.rebuild(url, raw_path)
        bench.state_as_of(url)
        bench.startup(url)
        bench.gains(url)
        bench.rollback(url)  # last on the big log: it removes events
        bench.legacy_ticks(args.legacy_trade_manager, bench.ticks())
        bench.ndjson_import()
        bench.ccxt_ingest()
        bench.peer(our_append, our_rebuild)
        Fleet(bench, args.pg_url).run()
        return bench.report()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
