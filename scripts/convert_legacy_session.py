"""Convert a legacy TradeManager session into the `tradeledger import` NDJSON format.

Regenerates tests/fixtures/golden/legacy_session.ndjson:

    python scripts/convert_legacy_session.py \
        ../shared/fixtures/legacy-generated/session.ndjson \
        ../shared/fixtures/legacy-generated/trade_manager_state.json \
        tests/fixtures/golden/legacy_session.ndjson

Each session row becomes one fill: `id` -> `fill_id`, `amount` -> `quantity`, `fees` -> `fee`, the
naive `timestamp` read as UTC (spec section 3), `strategy` omitted when "", `order_id` omitted when
null, and `metadata` taken from the state file's trade of the same id when it is non-empty (the
session file has no metadata column). Amounts stay the exact decimal strings of the session.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SESSION_KEYS = ("id", "symbol", "side", "amount", "price", "fees", "timestamp", "strategy", "exchange", "order_id")
DECIMAL_KEYS = ("amount", "price", "fees")


class ConversionError(Exception):
    """The legacy files do not have the shape this converter expects."""


def legacy_metadata(state_path: Path) -> dict[str, dict[str, Any]]:
    """Trade id -> metadata, for every trade of the legacy state file."""
    state = json.loads(state_path.read_text(encoding="utf-8"))
    trades = state.get("trades") if isinstance(state, dict) else None
    if not isinstance(trades, list):
        raise ConversionError(f"{state_path}: expected a JSON object with a 'trades' list")
    metadata: dict[str, dict[str, Any]] = {}
    for trade in trades:
        value = trade.get("metadata") or {}
        if not isinstance(value, dict):
            raise ConversionError(f"{state_path}: trade {trade.get('id')!r} has metadata that is not an object")
        metadata[str(trade["id"])] = value
    return metadata


def utc_text(naive: str, where: str) -> str:
    """A naive legacy ISO timestamp (meant as utcnow) as an aware UTC ISO string."""
    parsed = datetime.fromisoformat(naive)
    if parsed.tzinfo is not None:
        raise ConversionError(f"{where}: timestamp {naive!r} already has an offset; legacy timestamps are naive")
    return parsed.replace(tzinfo=UTC).isoformat()


def convert_row(row: dict[str, Any], metadata: dict[str, dict[str, Any]], where: str) -> dict[str, Any]:
    """One legacy session row as one fill of the import format."""
    if set(row) != set(SESSION_KEYS):
        raise ConversionError(f"{where}: expected the keys {', '.join(SESSION_KEYS)}; got {', '.join(row)}")
    for key in DECIMAL_KEYS:
        if not isinstance(row[key], str):
            raise ConversionError(f"{where}: {key} must be a decimal string, got {row[key]!r}")
    if row["id"] not in metadata:
        raise ConversionError(f"{where}: trade {row['id']!r} is not in the legacy state file")
    fill: dict[str, Any] = {
        "fill_id": row["id"],
        "exchange": row["exchange"],
        "symbol": row["symbol"],
        "side": row["side"],
        "quantity": row["amount"],
        "price": row["price"],
        "fee": row["fees"],
        "occurred_at": utc_text(row["timestamp"], where),
    }
    if row["strategy"] != "":
        fill["strategy"] = row["strategy"]
    if row["order_id"] is not None:
        fill["order_id"] = row["order_id"]
    if metadata[row["id"]]:
        fill["metadata"] = metadata[row["id"]]
    return fill


def convert(session_path: Path, state_path: Path) -> list[dict[str, Any]]:
    """Every session row as a fill, in recording order; blank lines are skipped."""
    metadata = legacy_metadata(state_path)
    fills = []
    for number, line in enumerate(session_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        where = f"{session_path}:{number}"
        if not isinstance(row, dict):
            raise ConversionError(f"{where}: expected a JSON object")
        fills.append(convert_row(row, metadata, where))
    return fills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("session", type=Path, help="legacy session.ndjson (the trades as fed in)")
    parser.add_argument("state", type=Path, help="legacy trade_manager_state.json (for metadata)")
    parser.add_argument("output", type=Path, help="NDJSON file of fills to write")
    args = parser.parse_args(argv)
    try:
        fills = convert(args.session, args.state)
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = "".join(json.dumps(fill, ensure_ascii=False) + "\n" for fill in fills)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(fills)} fills to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
