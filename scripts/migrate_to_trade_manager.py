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

import os
import sys
from pathlib import Path

try:
    from tradeledger.cli.app import main
except ModuleNotFoundError:  # not in the project's venv yet: build it (scripts/_env.sh) and run there
    root = Path(__file__).resolve().parent.parent
    command = f'source "{root}/scripts/_env.sh" && exec python "$0" "$@"'
    os.execv("/bin/bash", ["bash", "-c", command, __file__, *sys.argv[1:]])  # noqa: S606 - a fixed program


def run(argv: list[str]) -> int:
    """`--db URL` is a global option of tradeledger; the rest go to the migrate command."""
    global_options: list[str] = []
    if "--db" in argv:
        at = argv.index("--db")
        global_options, argv = argv[at : at + 2], argv[:at] + argv[at + 2 :]
    return main([*global_options, "migrate", *argv])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
