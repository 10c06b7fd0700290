"""Bad input at scale: fuzzed fills through the API and fuzzed NDJSON files through `import`.

Every input either lands whole (every new fill of it, at the next seqs, exactly as validated) or is
refused with a LedgerError that says where and what, and the log is exactly as it was: nothing
partial. One ledger per test takes every example, so refusals and successes interleave and earlier
fills make later ones duplicates or conflicts.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import RECORDED_AT
from tradeledger import Fill, FillConflict, InvalidFill, Ledger, LedgerError, Receipt, open_ledger
from tradeledger.cli import app

pytestmark = pytest.mark.reliability

# One ledger for all examples (that is the point), so the function-scoped fixture is shared on purpose.
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FUZZ_FILES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

FIELDS = (
    "fill_id",
    "account",
    "exchange",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "occurred_at",
    "strategy",
    "order_id",
    "client_order_id",
    "metadata",
)

# Values of every shape a caller might send, good and bad.
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.text(max_size=20), st.floats(allow_nan=True)
)
any_value = st.one_of(
    json_scalars,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["0", "-1", "1e400", "NaN", "Infinity", "1" * 40, "0.1", " 1", "1_000", "١٢", "BTC/USD", "buy"]),
    st.datetimes(timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=-5)))),
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
)
good_amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4)


@st.composite
def fuzzed_fills(draw: st.DrawFn) -> dict[str, Any]:
    """A valid fill from a pool of ids (so duplicates and conflicts happen), then 0-3 mutations (mostly none)."""
    fill: dict[str, Any] = {
        "fill_id": draw(st.sampled_from([f"Z-{n}" for n in range(3000)])),
        "account": draw(st.sampled_from(["default", "hedge"])),
        "exchange": "kraken",
        "symbol": draw(st.sampled_from(["BTC/USD", "ETH/USD"])),
        "side": draw(st.sampled_from(["buy", "sell"])),
        "quantity": draw(good_amounts),
        "price": draw(good_amounts),
        "fee": draw(st.sampled_from([Decimal(0), Decimal("0.01")])),
        "occurred_at": datetime(2026, 1, 5, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 10**6))),
    }
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3]))):
        kind = draw(st.sampled_from(["set", "delete", "unknown"]))
        field = draw(st.sampled_from(FIELDS))
        if kind == "set":
            fill[field] = draw(any_value)
        elif kind == "delete":
            fill.pop(field, None)
        else:
            fill[draw(st.text(min_size=1, max_size=8).filter(lambda name: name not in FIELDS))] = draw(any_value)
    return fill


def log_of(ledger: Ledger) -> list[tuple[int, str]]:
    return [(r.seq, r.hash) for r in ledger.history()]


def canonical_or_none(fill: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return Fill.model_validate(fill).canonical()
    except ValueError:
        return None


def attempt(ledger: Ledger, batch: list[dict[str, Any]]) -> tuple[list[Receipt] | None, LedgerError | None]:
    try:
        return ledger.record_many(batch), None
    except (InvalidFill, FillConflict) as error:
        return None, error


@pytest.fixture
def fuzz_ledger(db_url: str) -> Iterator[Ledger]:
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as opened:
        yield opened


@FUZZ
@given(batch=st.lists(fuzzed_fills(), min_size=1, max_size=3))
def test_a_fuzzed_batch_of_fills_lands_whole_or_is_refused_naming_the_fill_and_nothing_is_written(
    fuzz_ledger: Ledger, batch: list[dict[str, Any]]
) -> None:
    before, state_before = log_of(fuzz_ledger), fuzz_ledger.state()

    receipts, refusal = attempt(fuzz_ledger, batch)

    event("refused" if refusal else "landed")
    if refusal is not None:
        # "fill 2: price: ..." names the fill and field; a conflict names both contents.
        assert str(refusal).startswith("fill ") or "with different content" in str(refusal), refusal
        assert log_of(fuzz_ledger) == before
        assert fuzz_ledger.state() == state_before
        return
    assert receipts is not None
    # Landed: every fill valid, the new ones at the next seqs holding exactly their validated content.
    contents = [canonical_or_none(fill) for fill in batch]
    assert None not in contents
    new = [r for r in receipts if not r.duplicate]
    assert [r.seq for r in new] == list(range(len(before) + 1, len(before) + len(new) + 1))
    after = fuzz_ledger.history()
    assert [(r.seq, r.hash) for r in after[: len(before)]] == before
    stored = {r.seq: r.fill.canonical() for r in after}
    assert all(stored[r.seq] == content for r, content in zip(receipts, contents, strict=True))
    assert fuzz_ledger.state() == fuzz_ledger.replay()


def ndjson_line(value: object) -> str:
    return json.dumps(value, default=str)


line_strategy = st.one_of(
    fuzzed_fills().map(ndjson_line),
    fuzzed_fills().map(ndjson_line).map(lambda line: line[: len(line) // 2]),  # a torn line
    st.sampled_from(["", "   ", "null", "[]", "42", '"text"', "{", '{"fill_id": "a", "fill_id": "b"}']),
    st.text(max_size=30).filter(lambda line: "\n" not in line),
)


@FUZZ_FILES
@given(lines=st.lists(line_strategy, min_size=1, max_size=12), raw=st.none() | st.binary(max_size=200))
def test_a_fuzzed_ndjson_file_imports_whole_or_is_refused_naming_its_bad_lines_and_nothing_is_written(
    fuzz_ledger: Ledger, db_url: str, lines: list[str], raw: bytes | None
) -> None:
    content = "\n".join(lines).encode() if raw is None else raw
    before = log_of(fuzz_ledger)
    state_before = fuzz_ledger.state()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fills.ndjson"
        path.write_bytes(content)
        result = CliRunner().invoke(app, ["--db", db_url, "import", str(path), "--json"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    event("refused" if result.exit_code else "imported")
    if result.exit_code == 2:
        assert result.stderr.startswith("error: "), result.stderr
        # Every refusal names its bad lines by number (a fill conflicting with another line names both,
        # one conflicting with the log names its line), or says the file is not UTF-8 text.
        assert re.match(r"error: (\d+ bad line\(s\), nothing was imported: )?line \d+: ", result.stderr) or (
            "not UTF-8" in result.stderr
        ), result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert log_of(fuzz_ledger) == before
        assert fuzz_ledger.state() == state_before
        return
    summary = json.loads(result.stdout)
    non_blank = [line for line in content.decode().split("\n") if line.strip()]
    assert summary["appended"] + summary["duplicates"] == len(non_blank)
    assert summary["seq"] == len(before) + summary["appended"]
    assert log_of(fuzz_ledger)[: len(before)] == before
    assert len(log_of(fuzz_ledger)) == summary["seq"]
