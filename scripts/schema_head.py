#!/usr/bin/env python3
"""Write migrations/head_sqlite.sql: the schema a new SQLite ledger is created with, dumped from what the
revisions in migrations/versions build on an empty database. Run it after adding or changing a revision;
tests/integration/test_schema.py fails until it is run.

    scripts/schema_head.py
"""

from __future__ import annotations

from pathlib import Path

from tradeledger.storage.migrate import HEAD_SCRIPT, head_script_from_revisions

TARGET = Path(__file__).resolve().parents[1] / "migrations" / HEAD_SCRIPT

if __name__ == "__main__":
    TARGET.write_text(head_script_from_revisions(), encoding="utf-8")
    print(f"wrote {TARGET}")
