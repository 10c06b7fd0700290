"""Golden fixtures replayed through the CLI: NDJSON fills in, the state JSON of the contract out."""

from __future__ import annotations

import json

from tests.e2e.conftest import GOLDEN, Cli

MARKS = ("--mark", "BTC/USD=190", "--mark", "ETH/USD=3100")


def expected(name: str) -> object:
    return json.loads((GOLDEN / name).read_text())


def test_importing_the_golden_fills_gives_the_hand_computed_positions(cli: Cli) -> None:
    summary = cli.json("import", str(GOLDEN / "flip_and_partials.ndjson"))

    assert summary == {"appended": 9, "duplicates": 0, "seq": 9}
    assert cli.json("positions", "--closed", *MARKS) == expected("flip_and_partials.positions.json")


def test_replay_until_a_seq_gives_the_hand_computed_earlier_state(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    assert cli.json("replay", "--until-seq", "4") == expected("flip_and_partials.replay-seq-4.json")


def test_replay_of_the_whole_log_equals_the_stored_positions(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    stored = cli.json("positions", "--closed")

    assert cli.json("replay") == stored


def test_replay_until_a_time_keeps_the_fills_that_occurred_by_then(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    # G-4 occurred at 11:03+01:00, that is 10:03 UTC: included.
    state = cli.json("replay", "--until-time", "2026-01-05T10:03:00Z")

    assert state == expected("flip_and_partials.replay-seq-4.json")


def test_importing_the_same_file_again_appends_nothing_and_counts_duplicates(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    again = cli.json("import", str(GOLDEN / "flip_and_partials.ndjson"))

    assert again == {"appended": 0, "duplicates": 9, "seq": 9}
    assert cli.json("verify")["ok"] is True


def test_positions_of_one_account_have_that_accounts_totals(cli: Cli) -> None:
    cli("import", str(GOLDEN / "flip_and_partials.ndjson"))

    state = cli.json("positions", "--account", "swing")

    assert [p["symbol"] for p in state["open"]] == ["SOL/USD"]
    assert state["closed"] == []
    assert state["totals"] == {
        "realized_pnl": "0",
        "fees": "0.02",
        "funding": "0",
        "unvalued_fees": [],
        "net_pnl": "-0.02",
    }
