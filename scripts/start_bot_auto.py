#!/usr/bin/env python3
"""The seed's step 4: start the paper-trading bot (`tradeledger paper-bot`) and watch its views agree.

    scripts/start_bot_auto.py [--cycles N] [--config crypto_bot/config.yaml] [--db URL] [--state-dir DIR]

Every cycle prints the open positions of each view (TradeManager, ctx.positions, paper wallet, monitor)
and any consistency warning; started again on the same ledger it resumes at the next bar. Runs in the
project's .venv (created on first use, like scripts/test).
"""

from __future__ import annotations

import sys

from _legacy_script import run_command  # scripts/ is on sys.path when a script in it runs

if __name__ == "__main__":
    sys.exit(run_command("paper-bot", sys.argv[1:], __file__))
