#!/usr/bin/env python3
"""The seed's step 3: switch the TradeManager on as the single source of truth (`tradeledger enable-sot`).

    scripts/enable_trade_manager_sot.py [--config crypto_bot/config.yaml] [--validate-only] [--json]

Sets the keys of the seed's "Configuration Changes" (trade_manager.*, position_monitor.*,
paper_wallet.*) and nothing else, keeping comments, key order and formatting; the config is copied to
`<config>.bak.<YYYYmmdd_HHMMSS>` first. `--validate-only` changes nothing: exit 0 when every key is set,
1 listing the missing ones. `.yml` works too. Runs in the project's .venv (created on first use).
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
    """Every option goes to the enable-sot command."""
    return main(["enable-sot", *argv])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
