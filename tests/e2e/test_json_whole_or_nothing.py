"""A command's `--json` reaches stdout whole or not at all, and its exit status says which (README: exit status);
an output file that is stdout (`--output /dev/stdout`) holds the output alone, its command's note on stderr.

Tools we do not control read the JSON: a document cut off where the command failed (exit 2, one line on stderr)
must not be on stdout for them to half-read, and a document the reader did not take whole must not end with 0.
The long outputs are written as they are made (`history --json`, a rollback's removed events: their memory must not
grow with the log), so what is checked here is what a failure part way through them leaves behind.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import GOLDEN, Cli
from tests.e2e.test_cli import run_module
from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.cli import app

EVENTS = 300  # ~150 KB of `history --json`, more than is written at once (cli/common.py EMIT_CHUNK: 64 K characters)
EDITED = 290
REFUSED = f"error: seq {EDITED}: the stored fill cannot be read: quantity 'abc' is not a number; run verify\n"


def _edited_late(url: str) -> None:
    """EVENTS fills, then the row at seq EDITED edited behind the ledger's back into a quantity no fill holds."""
    with open_ledger(url) as ledger:
        ledger.record_many(fill_fields(side=("buy", "sell")[n % 2]) for n in range(EVENTS))
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TRIGGER ledger_events_no_update")
        connection.execute("UPDATE ledger_events SET quantity = 'abc' WHERE seq = ?", (EDITED,))


def _head_and_rollbacks(cli: Cli) -> tuple[dict[str, object], int]:
    report = json.loads(cli("verify", "--json", expect=1).stdout)
    return report["head"], len(report["rollbacks"])


def test_history_json_refused_part_way_through_the_log_leaves_nothing_on_stdout(cli: Cli) -> None:
    _edited_late(cli.url)

    result = cli.runner.invoke(app, ["--db", cli.url, "history", "--json"])

    assert (result.exit_code, result.stdout, result.stderr) == (2, "", REFUSED)


def test_a_rollback_dry_run_json_refused_part_way_through_its_removed_events_leaves_nothing_on_stdout(
    cli: Cli,
) -> None:
    _edited_late(cli.url)

    result = cli.runner.invoke(
        app, ["--db", cli.url, "rollback", "--to-seq", "1", "--reason", "r", "--dry-run", "--json"]
    )

    assert (result.exit_code, result.stdout, result.stderr) == (2, "", REFUSED)


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_a_rollback_whose_removed_events_hold_an_unreadable_row_is_refused_and_rolls_nothing_back(
    cli: Cli, output: list[str]
) -> None:
    _edited_late(cli.url)
    before = _head_and_rollbacks(cli)

    result = cli.runner.invoke(app, ["--db", cli.url, "rollback", "--to-seq", "1", "--reason", "r", *output])

    assert (result.exit_code, result.stdout, result.stderr) == (2, "", REFUSED)
    assert _head_and_rollbacks(cli) == before == ({"epoch": 1, "seq": EVENTS, "hash": before[0]["hash"]}, 0)


def _closed_cycles(url: str, cycles: int) -> None:
    with open_ledger(url) as ledger:
        ledger.record_many(fill_fields(side=("buy", "sell")[n % 2]) for n in range(2 * cycles))


@pytest.mark.parametrize(
    "unbuffered",
    [
        pytest.param(False, id="buffered"),
        pytest.param(True, id="PYTHONUNBUFFERED=1"),
    ],
)
@pytest.mark.parametrize("command", [["positions", "--closed", "--json"], ["replay", "--json"]])
def test_a_json_document_the_reader_did_not_take_whole_ends_with_status_2_and_nothing_on_stderr(
    tmp_path: Path, command: list[str], unbuffered: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _closed_cycles(url, 1_000)  # ~400 KB of JSON written at once: more than a pipe holds
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    if unbuffered:
        environment["PYTHONUNBUFFERED"] = "1"  # as many container images set it
    with subprocess.Popen(
        [sys.executable, "-m", "tradeledger", "--db", url, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    ) as reading:
        assert reading.stdout is not None
        assert reading.stderr is not None
        reading.stdout.read(100)
        reading.stdout.close()  # `tradeledger positions --closed --json | head -c 100`
        status, said = reading.wait(timeout=120), reading.stderr.read()

    assert (status, said) == (2, b"")


EVERY_EVENT = GOLDEN / "every_event" / "export.ndjson"  # 20 events over both epochs, and a rollback record


def test_an_export_to_dev_stdout_is_the_ndjson_alone_and_its_note_goes_to_stderr(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(EVERY_EVENT))

    result = run_module("--db", cli.url, "export", "--output", "/dev/stdout", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == EVERY_EVENT.read_text(encoding="utf-8")  # event for event, the same bytes
    assert result.stderr == (
        "exported 20 events to /dev/stdout; head 3eab3c0aaab3ede2d9bd27f486c0334dbcfa1c6d0202340c70060ef6ffc3fccf\n"
    )


def test_a_gains_worksheet_to_dev_stdout_is_the_csv_alone_and_its_notes_go_to_stderr(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(EVERY_EVENT))
    written = tmp_path / "gains.csv"
    cli("gains", "--method", "fifo", "--csv", str(written))

    result = run_module("--db", cli.url, "gains", "--method", "fifo", "--csv", "/dev/stdout", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == written.read_text(encoding="utf-8")
    assert result.stderr == "wrote 10 rows to /dev/stdout\n"


def test_a_report_to_dev_stdout_is_the_page_alone_and_its_note_goes_to_stderr(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(EVERY_EVENT))

    result = run_module("--db", cli.url, "report", "--html", "/dev/stdout", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert result.stdout.endswith("</html>\n")
    # the page's path as the report names it: /dev/stdout resolved (/proc/…/fd/pipe:[…])
    assert re.fullmatch(r"report written to \S+: 15 fills, 4 symbols, state seq 20, verify ok\n", result.stderr)
