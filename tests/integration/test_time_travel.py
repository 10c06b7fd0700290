"""Replays as of a time (spec section 6) over a log whose events occurred out of log order: `until_time` folds the
events that occurred by then in log order, a subset the appends never checked as a whole.

Contract tests (but the one of SQLite's streaming cursor): each runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend
from tests.conftest import RECORDED_AT
from tradeledger import InvalidArgument, Ledger, open_ledger

# Seq 1 buys 2 ETH at 12:01; seq 2, which occurred at 12:00, buys 3 and pays a fee of 5 ETH: the 2 of seq 1 pay it
# in log order (flat after it), while the events that occurred by 12:00:30 (seq 2 alone) would pay 5 ETH out of 3.
REPORTED_LATE: list[dict[str, Any]] = [
    {"fill_id": "a", "exchange": "kraken", "symbol": "ETH/USD", "side": "buy", "quantity": "2", "price": "100",
     "fee": "0", "occurred_at": "2026-03-01T12:01:00Z"},
    {"fill_id": "b", "exchange": "kraken", "symbol": "ETH/USD", "side": "buy", "quantity": "3", "price": "100",
     "fees": [{"amount": "5", "currency": "ETH"}], "occurred_at": "2026-03-01T12:00:00Z"},
]  # fmt: skip
BETWEEN = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
REFUSAL = (
    "until_time: the events that occurred by 2026-03-01T12:00:30.000000+00:00 do not fold in log order: seq 2: "
    "fees[0].amount: a fee of 5 ETH is more than the 3 ETH the fill leaves held on the spot market ETH/USD; it "
    "would turn the position short (the log took seq 2 after events that occurred later, left out here); replay "
    "up to a seq instead"
)


@pytest.fixture
def late(backend: Backend) -> Iterator[Ledger]:
    with open_ledger(backend.url, clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many(REPORTED_LATE)
        yield ledger


def test_the_same_log_replays_up_to_any_seq_and_until_the_times_that_fold(late: Ledger) -> None:
    assert late.replay(until_seq=1).open[0].quantity == Decimal(2)
    assert late.replay(until_seq=2).open == ()
    assert late.replay(until_time=datetime(2026, 3, 1, 11, tzinfo=UTC)).seq == 0
    assert late.replay(until_time=datetime(2026, 3, 1, 12, 1, tzinfo=UTC)).seq == 2


def test_a_replay_refused_while_it_reads_the_log_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    """On SQLite, whose cursor streams the log's rows (PostgreSQL's reads them whole)."""
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as ledger:
        ledger.record_many(REPORTED_LATE)
    for command in (["replay"], ["replay", "--initial-balance", "1000"], ["report", "--html", f"{tmp_path}/r.html"]):
        args = [*command, "--until-time", "2026-03-01T12:00:30Z"]
        done = subprocess.run(
            [sys.executable, "-m", "tradeledger", "--db", db_url, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

        assert done.returncode == 2, command
        assert done.stderr.startswith("error: "), command
        assert done.stderr.count("\n") == 1, (command, done.stderr)


def test_a_replay_until_a_time_whose_events_do_not_fold_in_log_order_is_refused_naming_the_seq(late: Ledger) -> None:
    with pytest.raises(InvalidArgument) as refused:
        late.replay(until_time=BETWEEN)

    assert str(refused.value) == REFUSAL


def test_the_wallet_until_such_a_time_is_refused_naming_the_seq(late: Ledger) -> None:
    with pytest.raises(InvalidArgument) as refused:
        late.replay_wallet(Decimal(1000), until_time=BETWEEN)

    assert str(refused.value) == REFUSAL


def test_the_lots_until_such_a_time_are_refused_naming_the_seq(late: Ledger) -> None:
    with pytest.raises(InvalidArgument) as refused:
        late.lots(until_time=BETWEEN)

    assert str(refused.value) == REFUSAL


def test_the_commands_print_that_refusal(late: Ledger, backend: Backend, tmp_path: Path) -> None:
    for command in (["replay"], ["replay", "--initial-balance", "1000"], ["report", "--html", f"{tmp_path}/r.html"]):
        args = [*command, "--until-time", "2026-03-01T12:00:30Z"]
        done = subprocess.run(
            [sys.executable, "-m", "tradeledger", "--db", backend.url, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

        assert (done.returncode, done.stderr) == (2, f"error: {REFUSAL}\n"), command
