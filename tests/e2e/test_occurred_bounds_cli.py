"""The CLI refuses an event dated after the wall clock plus 5 minutes, or before 2009-01-03 (UTC), when it records
it: one line on stderr naming the field, the value and the bound, exit 2, nothing written (domain/occurrence.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from freezegun import freeze_time

from tests.e2e.conftest import Cli

RECORD = (
    "record",
    "--exchange",
    "binance",
    "--symbol",
    "BTC/USDT",
    "--side",
    "buy",
    "--quantity",
    "1",
    "--price",
    "90000",
)


@pytest.fixture(autouse=True)
def _wall_clock() -> Iterator[None]:
    with freeze_time("2026-12-07T18:00:00Z"):
        yield


def test_record_of_a_fill_dated_years_ahead_is_refused_naming_the_bound(cli: Cli) -> None:
    result = cli(*RECORD, "--fill-id", "typo", "--time", "2031-12-07T18:00:00Z", expect=2)

    assert result.stderr == (
        "error: fill 1: occurred_at: is after 2026-12-07T18:05:00.000000+00:00, the clock when it was recorded "
        "(2026-12-07T18:00:00.000000+00:00) plus 5 minutes for clock skew (a year typo, a local time given as UTC, "
        "or milliseconds read as seconds?) (got 2031-12-07T18:00:00.000000+00:00)\n"
    )
    assert cli.json("verify")["head"]["seq"] == 0


def test_record_at_five_minutes_past_the_wall_clock_is_recorded(cli: Cli) -> None:
    assert cli.json(*RECORD, "--fill-id", "edge", "--time", "2026-12-07T18:05:00Z")["seq"] == 1


def test_record_transfer_in_1970_is_refused_naming_the_earliest_day(cli: Cli) -> None:
    result = cli(
        "record-transfer",
        "--transfer-id",
        "t0",
        "--currency",
        "USDT",
        "--amount",
        "100",
        "--kind",
        "deposit",
        "--exchange",
        "binance",
        "--time",
        "1970-01-20T16:13:20Z",
        expect=2,
    )

    assert result.stderr == (
        "error: transfer 1: occurred_at: is before 2009-01-03T00:00:00.000000+00:00, the day of Bitcoin's first block: "
        "no crypto trade occurred before it (a timestamp of 0, or seconds read as milliseconds, reads as 1970) "
        "(got 1970-01-20T16:13:20.000000+00:00)\n"
    )
    assert cli.json("verify")["head"]["seq"] == 0


def test_import_with_one_line_out_of_bounds_names_its_line_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    lines = [
        {
            "fill_id": f"f{n}",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "side": "buy",
            "quantity": "1",
            "price": "90000",
            "occurred_at": at,
        }
        for n, at in enumerate(["2026-12-01T00:00:00Z", "2026-12-07T18:05:00.000001Z", "2026-12-02T00:00:00Z"])
    ]
    file = tmp_path / "fills.ndjson"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = cli("import", str(file), expect=2)

    assert result.stderr.startswith(
        "error: line 2: occurred_at: is after 2026-12-07T18:05:00.000000+00:00, the clock when it was recorded"
    )
    assert result.stderr.endswith("(got 2026-12-07T18:05:00.000001+00:00)\n")
    assert cli.json("verify")["head"]["seq"] == 0


def test_ingest_of_a_trade_whose_timestamp_is_seconds_read_as_milliseconds_names_the_entry(
    cli: Cli, tmp_path: Path
) -> None:
    trades = [
        {"id": "t1", "timestamp": 1764000000000, "symbol": "BTC/USDT", "side": "buy", "price": "70", "amount": "2"},
        {"id": "t2", "timestamp": 1764000000, "symbol": "BTC/USDT", "side": "sell", "price": "71", "amount": "1"},
    ]
    file = tmp_path / "trades.json"
    file.write_text(json.dumps(trades))

    result = cli("ingest", "ccxt", str(file), "--exchange", "binance", expect=2)

    assert result.stderr.startswith("error: entry 1: occurred_at: is before 2009-01-03T00:00:00.000000+00:00")
    assert "(got 1970-01-21T10:00:00.000000+00:00)" in result.stderr
    assert cli.json("verify")["head"]["seq"] == 0
