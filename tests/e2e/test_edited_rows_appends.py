"""An append on a ledger whose log holds a row edited behind its back (tests/e2e/test_edited_rows_cli.py's EDITS).

An append folds its events from the stored projection, never from the log's rows, so a new event is not made
wrong by an edited row before it. But two checks of an append do read a stored row: the duplicate check reads
the row already under the event's key (`record` again, an `import` again), and a fill that names its tax lots
reads each lot's row. Both must refuse an edited row as the folds do (one line naming its seq, the field and
`verify`), never call it a conflict with its edited content, a lot that does not exist or is used up, never
accept a lot of an infinite quantity, and never end in "unexpected …: this is a bug". On SQLite and PostgreSQL:
both read the row through the same log port, one SQL statement each.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from tests.e2e.test_edited_rows_cli import EDITS, EVERY_EVENT
from tradeledger import open_ledger
from tradeledger.cli import app
from tradeledger.errors import StorageError

if TYPE_CHECKING:
    from tests.backends import Backend
    from tradeledger.domain.events import Event

# The message the folds give an edited row (domain/stored_rows.py: `unreadable`).
UNREADABLE = r"seq {seq}: the stored (fill|funding|transfer|event) cannot be read: .+; run verify"
# Fills a buy can name as its lot (a sell of BTC/USD in account default on binance: a short sale's lot).
LOTS = [(seq, edit) for seq, edit in EDITS if seq in (3, 13)]


def _edited(backend: Backend, seq: int, edit: str) -> dict[int, Event]:
    """The golden log imported, then the row at `seq` edited behind the ledger's back; the events as recorded."""
    imported = CliRunner().invoke(app, ["--db", backend.url, "import", str(EVERY_EVENT)])
    assert imported.exit_code == 0, imported.stderr
    with open_ledger(backend.url) as ledger:
        recorded = {found.seq: found.event for found in ledger.history()}
    backend.drop_append_only_guard()
    backend.sql(f"UPDATE ledger_events SET {edit} WHERE seq = {seq}")
    return recorded


def _head(backend: Backend) -> int:
    ((seq,),) = backend.sql("SELECT max(seq) FROM ledger_events")
    return int(seq)


@pytest.mark.parametrize(("seq", "edit"), EDITS, ids=[edit for _, edit in EDITS])
def test_recording_again_an_event_whose_row_was_edited_refuses_the_row_not_the_event(
    backend: Backend, seq: int, edit: str
) -> None:
    original = _edited(backend, seq, edit)[seq]

    with open_ledger(backend.url) as ledger, pytest.raises(StorageError) as refused:
        ledger.record(original)

    assert re.fullmatch(UNREADABLE.format(seq=seq), str(refused.value)), str(refused.value)
    assert _head(backend) == 20


@pytest.mark.parametrize(("seq", "edit"), [e for e in EDITS if e[0] == 3], ids=[e for s, e in EDITS if s == 3])
def test_record_of_a_fill_whose_row_was_edited_says_the_row_cannot_be_read_in_one_line(
    backend: Backend, seq: int, edit: str
) -> None:
    _edited(backend, seq, edit)
    again = ["record", "--fill-id", "G-3", "--symbol", "BTC/USD", "--side", "sell", "--quantity", "0.5"]
    again += ["--price", "120", "--fee", "0.2", "--exchange", "binance", "--time", "2026-01-05T10:02:00Z"]

    result = CliRunner().invoke(app, ["--db", backend.url, *again])

    assert result.exit_code == 2, result.stderr
    assert re.fullmatch(f"error: {UNREADABLE.format(seq=seq)}\n", result.stderr), result.stderr
    assert _head(backend) == 20


def _naming_lot(seq: int) -> list[str]:
    """`record` of a buy of 0.25 BTC/USD that names the sell at `seq` as its lot (a short sale it covers)."""
    return [
        *("record", "--fill-id", "cover", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "0.25"),
        *("--price", "100", "--exchange", "binance", "--time", "2026-03-01T00:00:00Z", "--lot", f"{seq}=0.25"),
    ]


def test_a_fill_naming_an_unedited_sell_as_its_lot_is_recorded(backend: Backend) -> None:
    _edited(backend, 1, "strategy = strategy")  # the guard dropped, nothing changed

    result = CliRunner().invoke(app, ["--db", backend.url, *_naming_lot(13)])  # 0.251 short when the buy occurs

    assert result.exit_code == 0, result.stderr
    assert _head(backend) == 21


def test_a_fill_naming_an_unedited_sell_that_opened_no_short_lot_is_refused(backend: Backend) -> None:
    _edited(backend, 1, "strategy = strategy")  # the guard dropped, nothing changed

    result = CliRunner().invoke(app, ["--db", backend.url, *_naming_lot(3)])  # it sold long lots: no short lot

    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(
        "error: fill 1: metadata.lots: lot 3 has 0 left in account 'default' when this fill is matched under specific"
    ), result.stderr
    assert _head(backend) == 20


@pytest.mark.parametrize(("seq", "edit"), LOTS, ids=[edit for _, edit in LOTS])
def test_a_fill_naming_an_edited_row_as_its_lot_is_refused_naming_that_row(
    backend: Backend, seq: int, edit: str
) -> None:
    _edited(backend, seq, edit)

    result = CliRunner().invoke(app, ["--db", backend.url, *_naming_lot(seq)])

    assert result.exit_code == 2, result.stderr
    assert re.fullmatch(f"error: {UNREADABLE.format(seq=seq)}\n", result.stderr), result.stderr
    assert _head(backend) == 20
