"""The CLI's commands, one behaviour each, on a real SQLite file."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import PostgresServer
from tests.e2e.conftest import GOLDEN, Cli
from tradeledger.application.bulk import Appended, EventText
from tradeledger.application.ledger import Ledger
from tradeledger.bootstrap import open_ledger
from tradeledger.cli.ndjson import read_fills
from tradeledger.domain import intake
from tradeledger.domain.fills import Fill

RECORD = (
    "record",
    "--fill-id",
    "K-1",
    "--symbol",
    "BTC/USD",
    "--side",
    "buy",
    "--quantity",
    "0.5",
    "--price",
    "96000",
    "--fee",
    "12.48",
    "--time",
    "2026-11-24T09:00:00Z",
    "--exchange",
    "kraken",
)


def sqlite_path(cli: Cli) -> str:
    return cli.url.removeprefix("sqlite:///")


def test_record_prints_the_receipt_as_json(cli: Cli) -> None:
    receipt = cli.json(*RECORD)

    assert set(receipt) == {"seq", "hash", "duplicate"}
    assert receipt["seq"] == 1
    assert receipt["duplicate"] is False
    assert len(receipt["hash"]) == 64


def test_recording_the_same_fill_twice_returns_the_original_receipt_marked_duplicate(cli: Cli) -> None:
    first = cli.json(*RECORD)

    second = cli.json(*RECORD)

    assert second == {**first, "duplicate": True}
    assert len(cli.json("history")) == 1


def test_recording_the_same_fill_id_with_other_content_is_refused_naming_both(cli: Cli) -> None:
    cli(*RECORD)
    changed = [*RECORD]
    changed[changed.index("--price") + 1] = "96001"

    result = cli(*changed, expect=2)

    assert "K-1" in result.stderr
    assert "96000" in result.stderr
    assert "96001" in result.stderr
    assert len(cli.json("history")) == 1


def test_record_refuses_a_zero_quantity_naming_field_and_value(cli: Cli) -> None:
    bad = [*RECORD]
    bad[bad.index("--quantity") + 1] = "0"

    result = cli(*bad, expect=2)

    assert "quantity" in result.stderr
    assert "0" in result.stderr
    assert cli.json("history") == []


def test_record_refuses_a_time_without_an_offset(cli: Cli) -> None:
    bad = [*RECORD]
    bad[bad.index("--time") + 1] = "2026-11-24T09:00:00"

    result = cli(*bad, expect=2)

    assert "--time" in result.stderr
    assert "2026-11-24T09:00:00" in result.stderr


def test_a_bad_import_line_is_reported_by_number_and_nothing_is_imported(cli: Cli, tmp_path: Path) -> None:
    lines = (GOLDEN / "flip_and_partials.ndjson").read_text().splitlines()
    lines[5] = lines[5].replace('"side": "buy"', '"side": "hold"')
    broken = tmp_path / "broken.ndjson"
    broken.write_text("\n".join(lines) + "\n")

    result = cli("import", str(broken), expect=2)

    assert "line 6" in result.stderr
    assert "side" in result.stderr
    assert "hold" in result.stderr
    assert cli.json("history") == []


def test_an_import_line_that_is_not_json_is_reported_by_number(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ndjson"
    broken.write_text('{"fill_id": "X"\n')

    result = cli("import", str(broken), expect=2)

    assert "line 1: not JSON" in result.stderr


def _fill_line(fill_id: str, quantity: str) -> str:
    return json.dumps(
        {
            "fill_id": fill_id,
            "exchange": "k",
            "symbol": "BTC/USD",
            "side": "buy",
            "quantity": quantity,
            "price": "1",
            "occurred_at": "2026-01-05T10:00:00Z",
        }
    )


def test_one_fill_id_on_two_lines_with_other_content_is_refused_naming_both_lines(cli: Cli, tmp_path: Path) -> None:
    fills = tmp_path / "twice.ndjson"
    fills.write_text("\n".join([_fill_line("A", "1"), _fill_line("B", "1"), _fill_line("A", "2")]) + "\n")

    result = cli("import", str(fills), expect=2)

    assert result.stderr == (
        "error: 1 bad line(s), nothing was imported: line 3: fill 'A' (account 'default', exchange 'k') "
        "is also on line 1 with other content\n"
    )
    assert cli.json("history") == []


def test_an_import_line_conflicting_with_the_log_is_named_by_number(cli: Cli, tmp_path: Path) -> None:
    first = tmp_path / "first.ndjson"
    first.write_text(_fill_line("A", "1") + "\n")
    cli("import", str(first))
    second = tmp_path / "second.ndjson"
    second.write_text(_fill_line("B", "1") + "\n" + _fill_line("A", "2") + "\n")

    result = cli("import", str(second), expect=2)

    assert result.stderr.startswith("error: line 2: fill 'A' (account 'default', exchange 'k') is already recorded")
    assert result.stderr.rstrip().endswith("nothing was imported")
    assert [fill["fill_id"] for fill in cli.json("history")] == ["A"]


def test_every_bad_import_line_is_named_though_the_ledger_stops_at_the_first(cli: Cli, tmp_path: Path) -> None:
    good = [_fill_line(f"G-{number}", "1") for number in range(2_500)]
    good[1_200] = '{"fill_id": "X"'  # not JSON
    good[2_400] = good[2_400].replace('"side": "buy"', '"side": "hold"')
    fills = tmp_path / "two-bad.ndjson"
    fills.write_text("\n".join(good) + "\n")

    result = cli("import", str(fills), expect=2)

    assert result.stderr.startswith("error: 2 bad line(s), nothing was imported: line 1201: not JSON")
    assert "; line 2401: side: " in result.stderr
    assert cli.json("history") == []


def test_an_import_line_starting_with_a_byte_order_mark_is_not_json(cli: Cli, tmp_path: Path) -> None:
    fills = tmp_path / "bom.ndjson"
    fills.write_text("\ufeff" + _fill_line("A", "1") + "\n", encoding="utf-8")

    result = cli("import", str(fills), expect=2)

    assert result.stderr == (
        "error: 1 bad line(s), nothing was imported: line 1: not JSON "
        "(Unexpected UTF-8 BOM (decode using utf-8-sig) at column 1)\n"
    )


def test_import_reports_its_progress_by_the_thousand_lines() -> None:
    lines = [_fill_line(f"P-{number}", "1") for number in range(2_500)]
    lines[1_000] = "   "  # blank: skipped, but counted as read
    seen: list[int] = []

    read = read_fills(lines, on_progress=seen.append)

    assert len(read.texts) == 2_499
    assert 1_001 not in read.numbers
    assert seen == [1_000, 2_000, 2_500]


def test_each_line_of_a_good_import_file_is_validated_once_never_by_the_model(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[object] = []
    fill_of = intake._fill  # the check itself, whoever calls it

    def counted(data: Any) -> Any:
        checked.append(data)
        return fill_of(data)

    def by_the_model(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a line's fill validated through the model")

    # The command validates each line once, by the fast path; the ledger takes the events' texts as they are.
    fills = tmp_path / "good.ndjson"
    fills.write_text("\n".join([_fill_line("A", "1"), "", _fill_line("B", "2")]) + "\n")
    with monkeypatch.context() as patched:
        patched.setattr(intake, "_fill", counted)
        patched.setattr(Fill, "model_validate", by_the_model)

        assert cli.json("import", str(fills)) == {"appended": 2, "duplicates": 0, "seq": 2}
    assert [fields["fill_id"] for fields in checked] == ["A", "B"]  # type: ignore[index]
    assert [fill["fill_id"] for fill in cli.json("history")] == ["A", "B"]


def test_a_bad_import_file_creates_no_ledger(tmp_path: Path) -> None:
    fills = tmp_path / "bad.ndjson"
    fills.write_text(_fill_line("A", "0") + "\n")
    missing = tmp_path / "new" / "ledger.db"
    missing.parent.mkdir()

    result = Cli(f"sqlite:///{missing}")("import", str(fills), expect=2)

    assert "nothing was imported" in result.stderr
    assert list(missing.parent.iterdir()) == []


def test_the_cyclic_collector_is_off_while_an_import_appends_and_on_again_after(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collecting: list[bool] = []
    append_texts = Ledger.append_texts

    def watched(ledger: Ledger, texts: Iterable[EventText]) -> Appended:
        collecting.append(gc.isenabled())
        return append_texts(ledger, texts)

    monkeypatch.setattr(Ledger, "append_texts", watched)
    good = tmp_path / "good.ndjson"
    good.write_text(_fill_line("A", "1") + "\n")
    bad = tmp_path / "bad.ndjson"
    bad.write_text(_fill_line("B", "0") + "\n")

    cli("import", str(good))
    assert gc.isenabled()
    cli("import", str(bad), expect=2)

    assert gc.isenabled()
    assert collecting == [False]  # the bad file was refused before the ledger was opened


def test_import_reads_json_numbers_as_exact_decimals(cli: Cli, tmp_path: Path) -> None:
    fills = tmp_path / "numbers.ndjson"
    fills.write_text(
        '{"fill_id": "N-1", "exchange": "kraken", "symbol": "ETH/USD", "side": "buy", "quantity": 0.1, '
        '"price": 3000.7, "fee": 0.3, "occurred_at": "2026-01-05T10:00:00Z", "metadata": {"score": 0.1}}\n'
    )

    cli("import", str(fills))

    [event] = cli.json("history")
    assert (event["quantity"], event["price"], event["fee"]) == ("0.1", "3000.7", "0.3")
    assert event["metadata"] == {"score": 0.1}


def test_history_lists_fills_in_seq_order_linked_by_their_hashes(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    events = cli.json("history")

    assert [e["seq"] for e in events] == list(range(1, 10))
    assert events[0]["prev_hash"] == "0" * 64
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in pairwise(events))
    assert events[3]["occurred_at"] == "2026-01-05T10:03:00.000000+00:00"
    assert events[6]["metadata"] == {"signal": "rsi", "confidence": 0.82}


def test_history_of_one_symbol_lists_only_its_fills(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    events = cli.json("history", "--symbol", "ETH/USD")

    assert [e["fill_id"] for e in events] == ["G-7", "G-8"]


@pytest.mark.parametrize(("json_flag", "symbol"), [([], "eth/usd"), (["--json"], "ETH-USD"), ([], "[b]ETH/USD")])
def test_history_refuses_a_symbol_that_is_no_unified_symbol_naming_it(
    cli: Cli, json_flag: list[str], symbol: str
) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    result = cli("history", *json_flag, "--symbol", symbol, expect=2)

    assert result.stdout == ""
    assert result.stderr == (
        "error: --symbol: must be BASE/QUOTE in capitals, like BTC/USD (spot), or BASE/QUOTE:SETTLE (a perpetual, "
        f"like BTC/USDT:USDT) or BASE/QUOTE:SETTLE-YYMMDD (a future) (got {symbol!r})\n"
    )


def test_history_of_a_symbol_the_ledger_does_not_hold_is_empty(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    assert cli.json("history", "--symbol", "XRP/USD") == []


def test_verify_reports_a_clean_log(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    report = cli.json("verify")

    assert report["ok"] is True
    assert report["events"] == 9
    assert report["first_bad_seq"] is None
    assert report["head"]["seq"] == 9


def test_verify_exits_non_zero_naming_the_first_edited_seq(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))
    with sqlite3.connect(sqlite_path(cli)) as connection:
        connection.execute("DROP TRIGGER ledger_events_no_update")
        connection.execute("UPDATE ledger_events SET price = '2800' WHERE seq = 8")

    report = cli.json("verify", expect=1)
    text = cli("verify", expect=1)

    assert report["ok"] is False
    assert report["first_bad_seq"] == 8
    assert "first bad seq 8" in text.stderr


def test_replay_changes_nothing(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))
    before = Path(sqlite_path(cli)).read_bytes()

    cli("replay", "--until-seq", "3")

    assert Path(sqlite_path(cli)).read_bytes() == before
    assert cli.json("verify")["ok"] is True


def test_replay_refuses_both_a_seq_and_a_time(cli: Cli) -> None:
    result = cli("replay", "--until-seq", "3", "--until-time", "2026-01-05T10:00:00Z", expect=2)

    assert "not both" in result.stderr


@pytest.mark.parametrize("amount", ["1E+5000", "1E-40"])
def test_a_tolerance_outside_a_fill_amounts_limits_is_refused_naming_it(cli: Cli, tmp_path: Path, amount: str) -> None:
    balance = tmp_path / "balance.json"
    balance.write_text('{"total": {"USDT": "1"}}')

    refused = cli("reconcile", "--balances", str(balance), "--exchange", "k", "--tolerance", f"USDT={amount}", expect=2)

    assert refused.stderr == f"error: --tolerance: USDT: is out of range 1E-24..1E+24 (got {amount})\n"


def test_a_mark_without_a_price_is_refused(cli: Cli) -> None:
    result = cli("positions", "--mark", "BTC/USD", expect=2)

    assert "--mark" in result.stderr
    assert "BTC/USD" in result.stderr


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("1E+5000", "is out of range 1E-24..1E+24 (got 1E+5000)"),
        ("1E-40", "is out of range 1E-24..1E+24 (got 1E-40)"),
        ("1" * 30, f"has 30 significant digits; at most 28 are kept exactly (got {'1' * 30})"),
    ],
)
def test_a_mark_outside_a_fill_prices_limits_is_refused_naming_it(
    cli: Cli, tmp_path: Path, price: str, reason: str
) -> None:
    cli("record", "--fill-id", "a", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "1", "--price", "100")

    for command in (["positions"], ["report", "--html", str(tmp_path / "r.html")]):
        refused = cli(*command, "--mark", f"BTC/USD={price}", expect=2).stderr
        assert refused == f"error: --mark: 'BTC/USD': {reason}\n"


def test_positions_prints_a_table_with_lifetime_totals(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    table = cli("positions", "--closed").stdout

    assert "SOL/USD" in table
    assert "Closed cycles" in table
    assert "Lifetime: realized 100.00, fees 2.77, net 97.23" in table


def run_module(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradeledger", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_demo_records_a_session_replays_and_verifies_on_a_fresh_file(tmp_path: Path) -> None:
    result = run_module("--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "duplicate=True, still seq 6" in result.stdout
    assert "Lifetime: realized 2,112.50, fees 605.39, net 1,507.11" in result.stdout
    assert "verify: ok — 14 events" in result.stdout


def test_the_demo_refuses_a_ledger_that_already_holds_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_module("--db", url, "demo", cwd=tmp_path)

    again = run_module("--db", url, "demo", cwd=tmp_path)

    assert again.returncode == 2
    assert "fresh ledger" in again.stderr


def test_the_demo_never_prints_the_password_of_its_database_url(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with postgres_server.fresh_database() as database:
        # The test server trusts its local connections: the password is carried, never checked.
        hidden = sa.make_url(database.url).set(password="s3cret-pw")  # noqa: S106 - a password to hide, never checked
        url = hidden.render_as_string(hide_password=False)

        first = run_module("--db", url, "demo", cwd=tmp_path)
        again = run_module("--db", url, "demo", cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "verify: ok — 14 events" in first.stdout
    assert "s3cret-pw" not in first.stdout + first.stderr
    assert ":***@" in first.stdout
    assert "tradeledger --db URL history" in first.stdout  # no command to copy with a password in it
    assert again.returncode == 2
    assert "fresh ledger" in again.stderr
    assert "s3cret-pw" not in again.stdout + again.stderr


def test_without_db_the_ledger_is_tradeledger_url_else_tradeledger_db_in_the_current_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRADELEDGER_URL"}
    record = [*RECORD, "--json"]

    default = subprocess.run(
        [sys.executable, "-m", "tradeledger", *record],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    chosen = run_module(*record, cwd=tmp_path, env={"TRADELEDGER_URL": f"sqlite:///{tmp_path / 'env.db'}"})

    assert default.returncode == 0, default.stderr
    assert chosen.returncode == 0, chosen.stderr
    assert (tmp_path / "tradeledger.db").exists()
    assert (tmp_path / "env.db").exists()
    assert json.loads(chosen.stdout)["seq"] == 1


def test_user_text_that_looks_like_markup_is_printed_as_it_is(cli: Cli) -> None:
    tricky = [*RECORD]
    tricky[tricky.index("--fill-id") + 1] = "[/x][bold]"

    recorded = cli(*tricky)
    history = cli("history")

    assert "recorded fill [/x][bold] as seq 1" in recorded.stdout
    assert "[/x][bold]" in history.stdout


def test_a_database_url_that_is_not_one_is_refused_with_exit_2(tmp_path: Path) -> None:
    result = Cli("not-a-url")("positions", expect=2)

    assert "database URL" in result.stderr
    assert "not-a-url" in result.stderr


def test_an_import_file_that_is_not_utf8_is_refused(cli: Cli, tmp_path: Path) -> None:
    latin = tmp_path / "latin.ndjson"
    latin.write_bytes(b"\xff\xfe{}\n")

    result = cli("import", str(latin), expect=2)

    assert "not UTF-8" in result.stderr


def test_an_import_line_with_a_repeated_key_is_refused(cli: Cli, tmp_path: Path) -> None:
    fills = tmp_path / "repeated.ndjson"
    fills.write_text(
        '{"fill_id": "R-1", "exchange": "k", "symbol": "BTC/USD", "side": "buy", "side": "sell", '
        '"quantity": "1", "price": "1", "occurred_at": "2026-01-05T10:00:00Z"}\n'
    )

    result = cli("import", str(fills), expect=2)

    assert "line 1: the key 'side' appears twice" in result.stderr


def test_metadata_numbers_that_a_float_would_change_are_refused(cli: Cli, tmp_path: Path) -> None:
    fills = tmp_path / "long-number.ndjson"
    fills.write_text(
        '{"fill_id": "M-1", "exchange": "k", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "1", '
        '"occurred_at": "2026-01-05T10:00:00Z", "metadata": {"ref": 12345678901234567890.123}}\n'
    )

    result = cli("import", str(fills), expect=2)

    assert "metadata.ref" in result.stderr
    assert "write it as a string" in result.stderr


def test_a_line_separator_inside_a_json_string_does_not_split_the_line(cli: Cli, tmp_path: Path) -> None:
    fills = tmp_path / "separator.ndjson"
    fills.write_text(
        '{"fill_id": "S-1", "exchange": "k", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "1", '
        '"occurred_at": "2026-01-05T10:00:00Z", "metadata": {"note": "a\u2028b"}}\n',
        encoding="utf-8",
    )

    cli("import", str(fills))

    [event] = cli.json("history")
    assert event["metadata"] == {"note": "a\u2028b"}


def test_replay_prints_the_paper_wallet_as_of_the_seq(cli: Cli) -> None:
    # Spec 5 wallet from 1000: buy 2@50 -> 900, sell 1@55 -> 955 (fee 0.5 -> 954.5), then sell 1@60.
    for side, quantity, price, fee in (("buy", "2", "50", "0"), ("sell", "1", "55", "0.5"), ("sell", "1", "60", "0")):
        cli(
            "record",
            "--fill-id",
            f"w-{side}-{price}",
            "--symbol",
            "XBT/USD",
            "--side",
            side,
            "--quantity",
            quantity,
            "--price",
            price,
            "--fee",
            fee,
            "--time",
            "2026-01-05T09:30:00+00:00",
        )

    at_two = cli.json("replay", "--until-seq", "2", "--initial-balance", "1000")["wallet"]
    text = cli("replay", "--initial-balance", "1000").stdout

    assert at_two == {
        "account": "default",
        "initial_balance": "1000",
        "cash": "954.5",
        "positions_at_cost": "50",
        "realized_pnl": "5",
        "funding": "0",
        "fees": "0.5",
        "cycles_opened": 1,
        "winning_cycles": 0,
    }
    assert "Paper wallet (default): cash 1,014.50 + positions at cost 0.00 = initial 1,000.00" in text
    assert (
        "--initial-balance: must be a finite number of 0 or more (got -1)"
        in cli("replay", "--initial-balance", "-1", expect=2).stderr
    )


def test_replay_and_report_take_the_same_starting_balances(cli: Cli, tmp_path: Path) -> None:
    cli("record", "--fill-id", "a", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "1", "--price", "100")

    assert cli.json("replay", "--initial-balance", "0")["wallet"]["cash"] == "-100"  # as report and PaperWallet take 0
    for command in (["replay"], ["report", "--html", str(tmp_path / "r.html")]):
        refused = cli(*command, "--initial-balance", "1E+5000", expect=2).stderr
        assert refused == "error: --initial-balance: is out of range 1E-24..1E+24 (got 1E+5000)\n"
        refused = cli(*command, "--initial-balance", "-1", expect=2).stderr
        assert refused == "error: --initial-balance: must be a finite number of 0 or more (got -1)\n"


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_a_reader_that_goes_away_early_ends_the_command_with_status_2_and_nothing_on_stderr(
    tmp_path: Path, output: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    fill = {"exchange": "kraken", "symbol": "BTC/USD", "side": "buy", "quantity": "0.5", "price": "96000"}
    with open_ledger(url) as ledger:  # far more output than a pipe holds
        ledger.record_many([{**fill, "fill_id": f"f{n}", "occurred_at": "2026-11-24T09:00:00Z"} for n in range(2_000)])
    with subprocess.Popen(
        [sys.executable, "-m", "tradeledger", "--db", url, "history", *output],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as reading:
        assert reading.stdout is not None
        assert reading.stderr is not None
        reading.stdout.read(100)
        reading.stdout.close()  # `tradeledger history | head -c 100`
        status, said = reading.wait(timeout=120), reading.stderr.read()

    assert (status, said) == (2, b"")
