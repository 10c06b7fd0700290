"""What the seed's scripts share: run a `tradeledger` command from the project's .venv.

`scripts/start_bot_auto.py`, `scripts/migrate_to_trade_manager.py` and
`scripts/enable_trade_manager_sot.py` keep the legacy names; each is `run_command("<command>")`.
Outside the project's venv the script re-executes itself there, building it first (scripts/_env.sh).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def run_command(command: str, argv: list[str], script: str) -> int:
    """`tradeledger [--db URL] <command> <argv without --db>`: `--db` is a global option of tradeledger."""
    try:
        from tradeledger.cli.app import main  # noqa: PLC0415 - only importable inside the venv
    except ModuleNotFoundError:  # not in the project's venv yet: build it and run there
        root = Path(__file__).resolve().parent.parent
        shell = f'source "{root}/scripts/_env.sh" && exec python "$0" "$@"'
        os.execv("/bin/bash", ["bash", "-c", shell, script, *argv])  # noqa: S606 - a fixed program
    global_options: list[str] = []
    if "--db" in argv:
        at = argv.index("--db")
        global_options, argv = argv[at : at + 2], argv[:at] + argv[at + 2 :]
    return main([*global_options, command, *argv])


if __name__ == "__main__":
    sys.exit("scripts/_legacy_script.py is imported by the seed's scripts; run one of them")
