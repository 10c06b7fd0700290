"""The chunked import (cli/fills.py, application/bulk.py): lots named across chunks and a refusal at
append time named by its line, an export still imported event for event, and a bad last line writing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_import_memory import line as fill_line
from tradeledger.application import bulk

CHUNK = 3


def line(fill_id: str, **fields: Any) -> str:
    return fill_line(fill_id, **({"symbol": "ETH/USD"} | fields))


def picks(seq: int) -> dict[str, Any]:
    return {"lots": [{"seq": seq, "quantity": "1"}]}


def test_a_lot_named_across_chunks_is_imported_and_one_used_up_is_refused_naming_its_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    buys = [line(f"B-{n}") for n in range(CHUNK)]
    good = [buys[0], buys[0], "", *buys[1:], line("S-1", side="sell", metadata=picks(1))]
    path = tmp_path / "good.ndjson"
    path.write_text("\n".join(good) + "\n")

    assert cli.json("import", str(path)) == {"appended": CHUNK + 1, "duplicates": 1, "seq": CHUNK + 1}

    bad = [buys[0], "", *(line(f"C-{n}") for n in range(CHUNK)), line("S-2", side="sell", metadata=picks(1))]
    path.write_text("\n".join(bad) + "\n")
    result = cli("import", str(path), expect=2)

    assert result.stderr.startswith("error: line 6: metadata.lots: lot 1 is used up"), result.stderr
    assert len(cli.json("history")) == CHUNK + 1


def test_an_export_is_still_imported_event_for_event(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    path = tmp_path / "fills.ndjson"
    path.write_text("\n".join(line(f"E-{n}", side=("buy", "sell")[n % 2]) for n in range(2 * CHUNK + 1)) + "\n")
    cli("import", str(path))
    exported = tmp_path / "export.ndjson"
    cli("export", "--output", str(exported))

    copy = Cli(f"sqlite:///{tmp_path / 'copy.db'}")
    summary = copy.json("import", str(exported))

    assert summary["verify"] is True
    assert copy.json("history") == cli.json("history")


def test_a_bad_last_line_of_a_long_file_creates_no_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    path = tmp_path / "fills.ndjson"
    path.write_text("\n".join([*(line(f"F-{n}") for n in range(3 * CHUNK)), line("F-bad", price="-1")]) + "\n")
    database = tmp_path / "never.db"

    result = Cli(f"sqlite:///{database}")("import", str(path), expect=2)

    assert f"line {3 * CHUNK + 1}: " in result.stderr
    assert not database.exists()
