#!/usr/bin/env python3
"""The seed's step 3: switch the TradeManager on as the single source of truth (`tradeledger enable-sot`).

    scripts/enable_trade_manager_sot.py [--config crypto_bot/config.yaml] [--validate-only] [--json]

Sets the keys of the seed's "Configuration Changes" (trade_manager.*, position_monitor.*,
paper_wallet.*) and nothing else, keeping comments, key order and formatting; the config is copied to
`<config>.bak.<YYYYmmdd_HHMMSS>` first. `--validate-only` changes nothing: exit 0 when every key is set,
1 listing the missing ones. `.yml` works too. Runs in the project's .venv (created on first use).
"""

from __future__ import annotations

import sys

from _legacy_script import run_command  # scripts/ is on sys.path when a script in it runs

if __name__ == "__main__":
    sys.exit(run_command("enable-sot", sys.argv[1:], __file__))
