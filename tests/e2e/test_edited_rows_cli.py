"""A log row edited behind the ledger's back into a value no append writes: every command that folds the log
refuses it in one line naming its seq and `verify`, exit 2; none reads it as something else, none crashes.

`verify` is the command that finds an edit (exit 1). The others fold the stored text as the appends wrote
it, without re-checking each hash (a replay of a million fills would cost seconds more); what they must
never do is fold a value no event could hold (a side that is neither buy nor sell read as a sell, a
negative quantity) into figures that look right, or end in "unexpected …: this is a bug".
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import GOLDEN, Cli
from tradeledger.cli import app

EVERY_EVENT = GOLDEN / "every_event" / "export.ndjson"  # seq 1-15 fills (11-15 v2), 16-17 funding, 18-20 transfers

# (seq, the edit): each a value the event models refuse on append.
EDITS = [
    (3, "side = 'sideways'"),
    (3, "quantity = 'abc'"),
    (3, "quantity = '-1'"),
    (3, "quantity = '0'"),
    (3, "quantity = 'Infinity'"),
    (3, "price = 'NaN'"),
    (3, "price = NULL"),
    (3, "fee = 'x'"),
    (3, "fee = '-5'"),
    (3, "type = 'weird'"),
    (3, "symbol = 'BTCUSD'"),
    (3, "occurred_at = 'garbage'"),
    (3, "occurred_at = '2026-01-05T10:02:00'"),
    (3, "occurred_at = '2026-01-05T12:02:00.000000+02:00'"),
    (3, "occurred_at = '2026-13-05T10:02:00.000000+00:00'"),
    (13, "fees = 'not json'"),
    (13, """fees = '[{"amount":"x","currency":"USD"}]'"""),
    (16, "amount = 'abc'"),
    (16, "symbol = NULL"),
    (18, "amount = 'NaN'"),
]

FOLDING = [
    ("replay",),
    ("replay", "--initial-balance", "100000"),
    ("lots",),
    ("lots", "--withdrawals-dispose"),
    ("gains", "--method", "fifo"),
    ("gains", "--method", "average", "--json"),
    ("history",),
    ("rollback", "--to-seq", "1", "--dry-run", "--reason", "check"),
    ("rollback", "--to-seq", "19", "--reason", "check"),
]


def _edited(cli: Cli, seq: int, edit: str) -> None:
    cli("import", str(EVERY_EVENT))
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TRIGGER ledger_events_no_update")
        connection.execute(f"UPDATE ledger_events SET {edit} WHERE seq = ?", (seq,))


@pytest.mark.parametrize(("seq", "edit"), EDITS, ids=[edit for _, edit in EDITS])
def test_every_command_that_folds_the_log_refuses_an_edited_row_naming_its_seq(
    cli: Cli, tmp_path: Path, seq: int, edit: str
) -> None:
    _edited(cli, seq, edit)
    commands = [
        *FOLDING,
        ("report", "--html", str(tmp_path / "report.html")),
        ("copy", "--from", cli.url, "--to", f"sqlite:///{tmp_path / 'copy.db'}"),
    ]

    wrong = []
    for command in commands:
        result = cli.runner.invoke(app, ["--db", cli.url, *command])
        lines = result.stderr.splitlines()
        if not (
            result.exit_code == 2
            and len(lines) == 1
            and lines[0].startswith("error: ")
            and re.search(rf"\bseq {seq}\b", lines[0])
            and "verify" in lines[0]
            and "unexpected" not in lines[0]
        ):
            wrong.append((" ".join(command), result.exit_code, result.stderr))

    assert wrong == []
    assert cli("verify", expect=1).stderr.startswith("verify: FAILED")
