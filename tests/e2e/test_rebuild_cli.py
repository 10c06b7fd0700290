"""`tradeledger rebuild`: the stored projections and the head's mark of lots named re-derived from the log, the
mend `verify` names for them; its JSON is the head it rebuilt to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.conftest import Cli


def fill(fill_id: str, side: str, quantity: str, time: str, *more: str) -> list[str]:
    return ["record", "--fill-id", fill_id, "--exchange", "kraken", "--symbol", "BTC/USD", "--side", side,
            "--quantity", quantity, "--price", "100", "--time", time, *more]  # fmt: skip


def traded(cli: Cli) -> Cli:
    """Two buys of 1 BTC and a sale of 1 naming the first buy's lot (seq 3)."""
    cli(*fill("b1", "buy", "1", "2026-01-01T00:00:00Z"))
    cli(*fill("b2", "buy", "1", "2026-01-02T00:00:00Z"))
    cli(*fill("s1", "sell", "1", "2026-01-05T00:00:00Z", "--lot", "1=1"))
    return cli


def behind_its_back(url: str, statement: str) -> None:
    """A row changed as a process running older code, or a hand with sqlite3, changes it."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    with connection:
        connection.execute(statement)
    connection.close()


def test_rebuild_answers_the_head_it_rebuilt_to_as_json(cli: Cli) -> None:
    traded(cli)
    head = cli.json("verify")["head"]

    assert cli.json("rebuild") == {"epoch": head["epoch"], "seq": 3, "hash": head["hash"]}
    assert cli.json("verify")["ok"] is True


def test_a_mark_of_lots_named_left_behind_is_named_by_verify_with_rebuild_and_rebuild_mends_it(cli: Cli) -> None:
    traded(cli)
    behind_its_back(cli.url, "UPDATE ledger_head SET lots_named_until = NULL WHERE id = 1")

    failed = cli("verify", expect=1)

    assert "lots_named_until NULL" in failed.stderr
    assert "`tradeledger rebuild`" in failed.stderr

    rebuilt = cli("rebuild")

    assert rebuilt.stdout.startswith("rebuilt the projections and the head's mark of lots named from the log: head")
    assert "seq 3" in rebuilt.stdout
    assert cli.json("verify")["ok"] is True


def test_a_position_edited_behind_the_ledgers_back_is_set_back_to_the_log_by_rebuild(cli: Cli) -> None:
    traded(cli)
    behind_its_back(cli.url, "UPDATE positions SET quantity = '5' WHERE symbol = 'BTC/USD'")
    assert cli.json("verify", expect=1)["ok"] is False

    cli("rebuild")

    assert cli.json("verify")["ok"] is True
    (position,) = cli.json("positions")["open"]
    assert position["quantity"] == "1"


def test_rebuild_of_a_file_that_is_not_a_ledger_is_one_line_and_exit_2(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("not a database\n")

    result = Cli(f"sqlite:///{plain}")("rebuild", expect=2)

    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
