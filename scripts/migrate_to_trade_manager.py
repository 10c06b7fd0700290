#!/usr/bin/env python3
"""The seed's steps 1 and 2: back up the legacy state and migrate it into the ledger (`tradeledger migrate`).

    scripts/migrate_to_trade_manager.py --backup --dry-run     # step 1: backups + what would be appended
    scripts/migrate_to_trade_manager.py                        # step 2: backups, append once, verify
    scripts/migrate_to_trade_manager.py [--config crypto_bot/config.yaml] [--db URL] [--logs-dir DIR] [--json]

The legacy flags keep their meaning: `--dry-run` appends nothing and prints the fills it would append
and the reconciliation of the legacy numbers; `--backup` writes the backups (a real run always does;
`--no-backup` is refused there); `--config` is the bot's config. Every other option of
`tradeledger migrate` is passed through. Runs in the project's .venv (created on first use, like
scripts/test).
"""

from __future__ import annotations

import sys

from _legacy_script import run_command  # scripts/ is on sys.path when a script in it runs

if __name__ == "__main__":
    sys.exit(run_command("migrate", sys.argv[1:], __file__))
