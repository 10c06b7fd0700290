"""A log row edited behind the ledger's back into a value no append writes: every command that folds the log
refuses it in one line naming its seq and `verify`, exit 2; none reads it as something else, none crashes.

`verify` is the command that finds an edit (exit 1). The others fold the stored text as the appends wrote
it, without re-checking each hash (a replay of a million fills would cost seconds more); what they must
never do is fold a value no event could hold (a side that is neither buy nor sell read as a sell, a
negative quantity) into figures that look right, or end in "unexpected …: this is a bug".
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import GOLDEN, Cli
from tradeledger import Problem, open_ledger
from tradeledger.cli import app
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import UnreadableEvent

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


# The account whose books hold each edited row (seq 16, a funding payment, is the swing account's).
ACCOUNT = {3: "default", 13: "default", 16: "swing", 18: "default"}
UNREADABLE = r"seq {seq}: the stored (fill|funding|transfer|event) cannot be read: .+; run verify"
NEW_FILL = ("record", "--fill-id", "new", "--symbol", "ETH/USD", "--side", "buy", "--quantity", "1", "--price", "10")
NEW_FILL_AT = (*NEW_FILL, "--exchange", "binance", "--time", "2026-03-01T00:00:00Z")


@pytest.mark.parametrize(("seq", "edit"), EDITS, ids=[edit for _, edit in EDITS])
def test_the_other_readers_of_an_edited_log_refuse_the_row_or_read_only_what_the_appends_wrote(
    cli: Cli, tmp_path: Path, seq: int, edit: str
) -> None:
    """`watch`, `Ledger.subscribe` and the compat read models (a TradeManager's and a PaperWallet's figures) read
    the log: they refuse the row. `verify --json` names it (exit 1). `positions` and `balances` read the stored
    projection, and an append folds from it: their figures are the unedited ledger's, never the edited value's.
    """
    unedited = Cli(f"sqlite:///{tmp_path / 'unedited.db'}")
    unedited("import", str(EVERY_EVENT))
    _edited(cli, seq, edit)
    line = UNREADABLE.format(seq=seq)

    watched = cli.runner.invoke(app, ["--db", cli.url, "watch", "--json", "--until-seq", "20"])
    assert (watched.exit_code, re.fullmatch(f"error: {line}\n", watched.stderr) is not None) == (2, True)
    verified = cli.json("verify", expect=1)
    assert (verified["ok"], verified["first_bad_seq"]) == (False, seq)
    assert {problem["seq"] for problem in verified["problems"]} == {seq}
    with open_ledger(cli.url) as ledger:
        subscription = ledger.subscribe()
        with pytest.raises(UnreadableEvent, match=f"^{line}$"):
            subscription.poll()
        subscription.close()
        with pytest.raises(UnreadableEvent, match=f"^{line}$"):
            TradeManager(ledger, account=ACCOUNT[seq]).get_statistics()
        with pytest.raises(UnreadableEvent, match=f"^{line}$"):
            PaperWallet(ledger, "100000", account=ACCOUNT[seq]).get_wallet_summary()

    for command in (("positions", "--json"), ("balances", "--json")):
        assert cli.json(*command) == unedited.json(*command)
    cli(*NEW_FILL_AT)
    unedited(*NEW_FILL_AT)
    assert cli.json("positions") == unedited.json("positions")
    assert cli.json("balances") == unedited.json("balances")


@pytest.mark.parametrize(("seq", "edit"), EDITS, ids=[edit for _, edit in EDITS])
def test_export_writes_an_edited_row_as_stored_and_import_refuses_it_by_its_content(
    cli: Cli, tmp_path: Path, seq: int, edit: str
) -> None:
    """An export is the evidence: the row as stored, edited or not. `import` checks each line's content before it
    opens the target, and refuses the edited one naming its line and seq; nothing is imported."""
    _edited(cli, seq, edit)

    exported = tmp_path / "edited.ndjson"
    cli("export", "--output", str(exported))
    lines = [json.loads(text) for text in exported.read_text().split("\n") if text]
    number, stored = next((n, found) for n, found in enumerate(lines, start=1) if found.get("seq") == seq)
    column = edit.split(" = ", maxsplit=1)[0]
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as connection:
        (row,) = connection.execute(f"SELECT {column} FROM ledger_events WHERE seq = ?", (seq,))
    assert stored["event_type" if column == "type" else column] == row[0]
    again = f"sqlite:///{tmp_path / 'again.db'}"
    imported = cli.runner.invoke(app, ["--db", again, "import", str(exported)])
    assert imported.exit_code == 2
    assert re.fullmatch(rf"error: line {number}: seq {seq}: .+; nothing was imported\n", imported.stderr), (
        imported.stderr
    )
    assert Cli(again).json("positions")["seq"] == 0


@pytest.mark.parametrize(
    ("seq", "edit"),
    [(s, e) for s, e in EDITS if s in (3, 13) and not e.startswith("occurred_at")],
    ids=[e for s, e in EDITS if s in (3, 13) and not e.startswith("occurred_at")],
)
def test_reconcile_trades_refuses_an_edited_fill_in_the_span_of_the_list(
    cli: Cli, tmp_path: Path, seq: int, edit: str
) -> None:
    """`reconcile --trades` reads the log's fills in the list's span (a trade at the edited fill's time): it refuses
    the row. A fill edited to another time is outside the span and not read (its cost follows the list)."""
    _edited(cli, seq, edit)
    at = {3: "2026-01-05T10:02:00+00:00", 13: "2026-02-03T08:30:00.250000+00:00"}[seq]
    trade = {"id": "M-1", "timestamp": int(datetime.fromisoformat(at).timestamp() * 1000), "symbol": "BTC/USD"}
    trade |= {"side": "buy", "price": "100", "amount": "1", "fee": {"cost": "0.1", "currency": "USD"}}
    trades = tmp_path / "trades.json"
    trades.write_text(json.dumps([trade]))

    result = cli.runner.invoke(app, ["--db", cli.url, "reconcile", "--exchange", "binance", "--trades", str(trades)])

    assert result.exit_code == 2
    assert re.fullmatch(f"error: {UNREADABLE.format(seq=seq)}\n", result.stderr), result.stderr


def _forged(cli: Cli, seq: int, edit: str) -> None:
    """The row at `seq` edited, then the chain from it hashed again and the head moved along: an edit no hash
    gives away (a forger's), only its content."""
    cli("import", str(EVERY_EVENT))
    names = ", ".join(field.name for field in dataclasses.fields(StoredEvent))
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TRIGGER ledger_events_no_update")
        connection.execute(f"UPDATE ledger_events SET {edit} WHERE seq = ?", (seq,))
        (link,) = connection.execute("SELECT hash FROM ledger_events WHERE seq = ?", (seq - 1,)).fetchone()
        for values in connection.execute(f"SELECT {names} FROM ledger_events WHERE seq >= ? ORDER BY seq", (seq,)):
            event = dataclasses.replace(StoredEvent(*values), prev_hash=link)
            link = event.computed_hash()
            connection.execute(
                "UPDATE ledger_events SET prev_hash = ?, hash = ? WHERE seq = ?", (event.prev_hash, link, event.seq)
            )
        connection.execute("UPDATE ledger_head SET hash = ?, checkpoint_hash = ?", (link, link))


NOT_UTC = "is not a time as the ledger writes it (UTC, to the microsecond)"
FORGED = [
    (16, "amount = 'Infinity'", "amount 'Infinity' must be a finite number (got Infinity)"),
    (18, "amount = 'NaN'", "amount 'NaN' must be a finite number (got NaN)"),
    (18, "fee = '-1'", "fee '-1' must not be negative"),
    (
        15,
        "occurred_at = '2026-02-05T10:30:00.250000+02:00'",
        f"occurred_at '2026-02-05T10:30:00.250000+02:00' {NOT_UTC}",
    ),
    (20, "occurred_at = '2026-02-09T08:30:00.250000'", f"occurred_at '2026-02-09T08:30:00.250000' {NOT_UTC}"),
]


@pytest.mark.parametrize(("seq", "edit", "detail"), FORGED, ids=[edit for _, edit, _ in FORGED])
def test_verify_names_the_content_the_folds_refuse_when_no_hash_gives_the_edit_away(
    cli: Cli, seq: int, edit: str, detail: str
) -> None:
    """A row the folds refuse ("run verify") is one `verify` names, by its content, even when its hash holds."""
    _forged(cli, seq, edit)

    replayed = cli("replay", expect=2)
    verified = cli.json("verify", expect=1)

    kind = {15: "fill", 16: "funding"}.get(seq, "transfer")
    assert replayed.stderr == f"error: seq {seq}: the stored {kind} cannot be read: {detail}; run verify\n"
    assert (verified["ok"], verified["first_bad_seq"]) == (False, seq)
    assert verified["problems"] == [{"seq": seq, "check": "content", "detail": detail}]


PENDING_REBUILD = "revision 0007: funding, unvalued fees and the balances projection"
NOT_REBUILT = f"the rebuild a schema upgrade asked for has not run ({PENDING_REBUILD}): the projections are not checked"


@pytest.mark.parametrize(("seq", "edit"), [EDITS[0], EDITS[15], EDITS[18]], ids=["side", "fees", "funding"])
def test_verify_and_export_open_a_ledger_whose_pending_rebuild_an_edited_row_stops(
    cli: Cli, tmp_path: Path, seq: int, edit: str
) -> None:
    """A schema upgrade that asks the next open to rebuild the projections (revision 0007 on a ledger with events)
    cannot rebuild them from a log with an edited row. The commands that read the projections or fold the log
    refuse to open it, naming the row and `verify`; `verify` opens it and names the row and the rebuild that has
    not run (exit 1), and `export` takes the evidence out. Nothing is rebuilt from the edited log."""
    _edited(cli, seq, edit)
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "INSERT INTO projection_entries (projection, key, value) VALUES ('pending', 'rebuild', ?)",
            (PENDING_REBUILD,),
        )
    line = UNREADABLE.format(seq=seq)

    with pytest.raises(UnreadableEvent, match=f"^cannot open the ledger at .+: {line}$"):
        open_ledger(cli.url)
    with open_ledger(cli.url, audit=True) as ledger:
        assert Problem(None, "projection", NOT_REBUILT) in ledger.verify().problems
    for command in (("positions",), ("balances", "--json"), NEW_FILL):
        refused = cli.runner.invoke(app, ["--db", cli.url, *command])
        assert refused.exit_code == 2
        assert re.fullmatch(f"error: cannot open the ledger at .+: {line}\n", refused.stderr), refused.stderr
    verified = cli.json("verify", expect=1)
    assert (verified["ok"], verified["first_bad_seq"]) == (False, seq)
    assert {problem["seq"] for problem in verified["problems"]} == {seq, None}
    assert {"seq": None, "check": "projection", "detail": NOT_REBUILT} in verified["problems"]
    exported = tmp_path / "edited.ndjson"
    cli("export", "--output", str(exported))
    lines = [json.loads(text) for text in exported.read_text().split("\n") if text]
    assert [found["seq"] for found in lines if found["type"] == "event"] == list(range(1, 21))
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as connection:
        assert connection.execute("SELECT value FROM projection_entries WHERE projection = 'pending'").fetchall() == [
            (PENDING_REBUILD,)
        ]


CONTRACT_EDITS = [
    "quantity = '-1'",
    "price = 'NaN'",
    "fees = 'not json'",
    """fees = '[{"amount":"x","currency":"USDT"}]'""",
]


@pytest.mark.parametrize("edit", CONTRACT_EDITS)
def test_lots_and_gains_refuse_an_edited_contract_fill_they_keep_no_lots_for(cli: Cli, edit: str) -> None:
    """A contract's fills make no lots (spec section 11), but `lots` and `gains` read the whole log as the other
    folds do: an edited one is refused as theirs are, not passed over as if it held a trade."""
    _edited(cli, 15, edit)  # BTC/USDT:USDT, a linear contract

    for command in (("lots",), ("gains", "--method", "fifo", "--json")):
        result = cli.runner.invoke(app, ["--db", cli.url, *command])
        assert result.exit_code == 2, (command, result.stdout)
        assert re.fullmatch(f"error: {UNREADABLE.format(seq=15)}\n", result.stderr), result.stderr
