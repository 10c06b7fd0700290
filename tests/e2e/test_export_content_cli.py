"""`tradeledger import` of an export whose lines chain (every hash recomputed) but do not hold a readable event,
or whose header does not: refused naming the line and the field, before the target is written."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend
from tests.e2e.conftest import Cli
from tests.e2e.test_import_memory import line as fill_line
from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.application.exporting import _LINE_FIELDS
from tradeledger.application.ledger import Ledger
from tradeledger.application.verification import VerifyReport
from tradeledger.domain.records import StoredEvent


@pytest.fixture
def exported(tmp_path: Path) -> list[dict[str, Any]]:
    """An export of two fills, a funding payment and a deposit (of a SQLite ledger), as its parsed lines."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    with open_ledger(source) as ledger:
        ledger.record(fill_fields(symbol="BTC/USDT:USDT", side="buy", quantity="2", price="100", fee="0.2"))
        ledger.record(fill_fields(symbol="BTC/USDT:USDT", side="sell", quantity="1", price="110"))
        ledger.record(
            {"type": "funding", "funding_id": "fu-1", "exchange": "paper", "symbol": "BTC/USDT:USDT"}
            | {"amount": "-0.5", "currency": "USDT", "occurred_at": "2026-03-02T09:00:00+00:00"}
        )
        ledger.record(
            {"type": "transfer", "transfer_id": "t-1", "exchange": "paper", "currency": "USDT"}
            | {"amount": "1000", "kind": "deposit", "occurred_at": "2026-03-01T09:00:00+00:00"}
        )
    output = tmp_path / "export.ndjson"
    Cli(source)("export", "--output", str(output))
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def rehashed(items: list[dict[str, Any]], seq: int, changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The export with event `seq` changed and every hash from it on recomputed, the header's head too: a
    file whose chain holds, so only what the lines say can refuse it."""
    previous = items[1]["prev_hash"]
    for item in items[1:]:
        if item["seq"] == seq:
            item.update(changes)
        if item["seq"] >= seq:
            item["prev_hash"] = previous
            values = {"type" if name == "event_type" else name: item[name] for name in _LINE_FIELDS}
            item["hash"] = StoredEvent(**values).computed_hash()
        previous = item["hash"]
    items[0]["head"]["hash"] = previous
    return items


def written(items: list[dict[str, Any]], tmp_path: Path) -> Path:
    path = tmp_path / "edited.ndjson"
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("seq", "changes", "message"),
    [
        (2, {"quantity": "-1"}, "line 3: seq 2: quantity '-1' is not a valid amount"),
        (2, {"side": "long"}, "line 3: seq 2: unreadable fill: 'long' is not a valid Side"),
        (2, {"price": "abc"}, "line 3: seq 2: unreadable fill: price 'abc' is not a number"),
        (3, {"amount": "abc"}, "line 4: seq 3: unreadable funding: amount 'abc' is not a number"),
        (3, {"currency": None}, "line 4: seq 3: unreadable funding: currency is missing"),
        (4, {"amount": "1,5"}, "line 5: seq 4: unreadable transfer: amount '1,5' is not a number"),
        (1, {"fees": '[{"amount":"x","currency":"USDT"}]'}, "line 2: seq 1: unreadable fill: "),
    ],
    ids=["negative quantity", "side", "price", "funding amount", "funding currency", "transfer amount", "fees"],
)
def test_an_export_whose_event_does_not_read_is_refused_naming_its_line_and_nothing_is_written(
    exported: list[dict[str, Any]],
    tmp_path: Path,
    backend: Backend,
    seq: int,
    changes: dict[str, Any],
    message: str,
) -> None:
    path = written(rehashed(exported, seq, changes), tmp_path)
    target = Cli(backend.url)

    result = target("import", str(path), expect=2)

    assert result.stderr.startswith(f"error: {message}")
    assert "bug" not in result.stderr
    assert result.stderr.rstrip().endswith("nothing was imported")
    with open_ledger(backend.url) as ledger:
        assert (ledger.head.seq, ledger.admin_log()) == (0, ())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda head: head.update(epoch="x"), "line 1: the header's head epoch must be a whole number (got 'x')"),
        (lambda head: head.update(seq=[4]), "line 1: the header's head seq must be a whole number (got [4])"),
        (lambda head: head.update(seq=-4), "line 1: the header's head seq must be a whole number (got -4)"),
        (lambda head: head.update(hash=7), "line 1: the header's head hash must be a string (got 7)"),
    ],
    ids=["epoch text", "seq list", "seq negative", "hash number"],
)
def test_an_export_header_whose_head_is_not_whole_numbers_is_refused_naming_the_field(
    exported: list[dict[str, Any]], tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    edit(exported[0]["head"])
    target = Cli(f"sqlite:///{tmp_path / 'copy.db'}")

    result = target("import", str(written(exported, tmp_path)), expect=2)

    assert result.stderr == f"error: {message}\n"
    assert not (tmp_path / "copy.db").exists()


def imported_peak(tmp_path: Path, events: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """The traced memory peak of `import` of an export of `events` buys into an empty SQLite ledger (one open
    position: a state that does not grow with the log, as closed cycles would), the `verify` that ends it
    left out (its own memory, measured by itself) and run after."""
    folder = tmp_path / str(events)
    folder.mkdir()
    fills = folder / "fills.ndjson"
    fills.write_text("".join(fill_line(f"P-{n:06d}") + "\n" for n in range(events)))
    source = Cli(f"sqlite:///{folder / 'source.db'}")
    source("import", str(fills))
    exported = folder / "export.ndjson"
    source("export", "--output", str(exported))
    target = Cli(f"sqlite:///{folder / 'target.db'}")
    with monkeypatch.context() as patched:
        patched.setattr(Ledger, "verify", lambda ledger: VerifyReport(events, ledger.head, ()))
        tracemalloc.start()
        try:
            assert target.json("import", str(exported))["seq"] == events
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert target.json("verify")["ok"] is True
    return peak


def test_an_export_is_imported_in_memory_that_does_not_grow_with_its_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = imported_peak(tmp_path, 1_000, monkeypatch), imported_peak(tmp_path, 4_000, monkeypatch)

    # Read a line at a time (validated, then read again to write), the peak is the write chunk's (1,000 events):
    # holding every line, object and event grew it by ~4,100 bytes an event, 12 MB for the 3,000 more.
    assert (large - small) / 3_000 < 500
