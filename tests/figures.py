"""Figures for docs/reliability.md: appended as JSON lines to $TRADELEDGER_RELIABILITY_LOG when it is set."""

from __future__ import annotations

import json
import os
from pathlib import Path


def record_figures(test: str, **values: object) -> None:
    log = os.environ.get("TRADELEDGER_RELIABILITY_LOG")
    if log:
        with Path(log).open("a", encoding="utf-8") as figures:
            figures.write(json.dumps({"test": test, **values}) + "\n")
