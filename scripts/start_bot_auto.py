#!/usr/bin/env python3
"""The seed's step 4: start the paper-trading bot (`tradeledger paper-bot`) and watch its views agree.

    scripts/start_bot_auto.py [--cycles N] [--config crypto_bot/config.yaml] [--db URL] [--state-dir DIR]

Every cycle prints the open positions of each view (TradeManager, ctx.positions, paper wallet, monitor)
and any consistency warning; started again on the same ledger it resumes at the next bar. Runs in the
project's .venv (created on first use, like scripts/test).
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
    """`--db URL` is a global option of tradeledger; the rest go to the paper-bot command."""
    global_options: list[str] = []
    if "--db" in argv:
        at = argv.index("--db")
        global_options, argv = argv[at : at + 2], argv[:at] + argv[at + 2 :]
    return main([*global_options, "paper-bot", *argv])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
