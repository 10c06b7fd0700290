"""`sync` fed hostile exchange answers through ccxt 4.5.90's real luno offline (its ledger is read per luno account,
each stream labelled with the account's code and id as luno sends them): one line on stderr and exit 2 for what
cannot be read, never the last-resort handler, and the exchange's own text printed as written (no Rich markup)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.exchanges.offline import offline_exchange
from tests.exchanges.test_ccxt_sync_currencies import LUNO_ROWS, Router, luno_answer
from tradeledger.cli import main
from tradeledger.exchanges.ccxt import syncing


def luno(account_id: str, delta: str = "0.5") -> Any:
    """luno holding one BTC account `account_id`, whose ledger is one row received of `delta` BTC."""
    rows = luno_answer(LUNO_ROWS)

    def answer(path: str, query: Mapping[str, str]) -> Any:
        if path == "/api/1/balance":
            return {"balance": [{"account_id": account_id, "asset": "XBT", "balance": "0.5", "reserved": "0"}]}
        if path.endswith("/transactions"):
            row = {"row_index": 1, "timestamp": 1700000100000, "balance": "0.5", "available": "0.5",
                   "balance_delta": delta, "available_delta": delta, "description": "Received",
                   "currency": "XBT"}  # fmt: skip
            return {"id": account_id, "transactions": [row]}
        return rows(path, query)

    exchange = offline_exchange("luno")
    exchange.fetch = Router(answer).fetch
    return exchange


def sync(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(syncing, "connect", lambda _name, _environ: client)
    with freeze_time("2023-11-15"):
        status = main(["--db", f"sqlite:///{tmp_path / 'ledger.db'}", "sync", "luno", "--symbols", "BTC/ZAR", *more])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_stream_labelled_with_markup_from_the_exchange_is_printed_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = sync(tmp_path, luno("[bold red]1 00[/]"), monkeypatch, capsys)

    assert (status, err) == (0, "")
    assert out.splitlines()[1:] == [
        "  'trades BTC/ZAR': 0 appended, 0 duplicates, 0 skipped, 1 page(s)",
        "  'ledger BTC [bold red]1 00[/]': 1 appended, 1 duplicates, 0 skipped, 2 page(s)",
    ]
    again = json.loads(sync(tmp_path, luno("[bold red]1 00[/]"), monkeypatch, capsys, "--json")[1])
    assert [stream["stream"] for stream in again["streams"]] == ["trades BTC/ZAR", "ledger BTC [bold red]1 00[/]"]


def test_an_answer_ccxts_parser_cannot_read_is_one_line_naming_the_call_not_a_bug_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = sync(tmp_path, luno("100", delta="ten"), monkeypatch, capsys)

    assert (status, out) == (2, "")
    assert err == (
        "error: 'luno' fetch_ledger failed at cursor None: ccxt could not read the answer: ValueError: invalid literal "
        "for int() with base 10: 'n'; the pages appended before it are kept\n"
    )


HOSTILE_ID = "it's 1, [b]main[/]"


def test_a_stream_label_with_spaces_quotes_commas_and_markup_is_quoted_in_the_report_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = sync(tmp_path, luno(HOSTILE_ID), monkeypatch, capsys)

    assert (status, err) == (0, "")
    assert out.splitlines()[0].startswith("synced 'luno': ")
    assert out.splitlines()[1:] == [
        "  'trades BTC/ZAR': 0 appended, 0 duplicates, 0 skipped, 1 page(s)",
        '  "ledger BTC it\'s 1, [b]main[/]": 1 appended, 1 duplicates, 0 skipped, 2 page(s)',
    ]


def test_a_refusal_of_a_ccxt_call_quotes_the_exchange(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = sync(tmp_path, luno(HOSTILE_ID, delta="ten"), monkeypatch, capsys)

    assert (status, out) == (2, "")
    assert err.startswith("error: 'luno' fetch_ledger failed at cursor None: ccxt could not read the answer: ")
