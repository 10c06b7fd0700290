"""Settings read from arguments and TRADELEDGER_* environment variables, only when a ledger opens.

A pydantic model that reads the environment itself, as pydantic-settings' `BaseSettings` did with this
configuration (a variable's name in any case, its text validated as an argument would be, an argument
before the environment, other TRADELEDGER_* variables ignored), without importing pydantic-settings:
~60 M instructions (~20 ms) of every command's start-up.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tradeledger.storage.engine import Synchronous

DEFAULT_URL = "sqlite:///tradeledger.db"
ENV_PREFIX = "TRADELEDGER_"


class LedgerSettings(BaseModel):
    """How to reach a ledger. Environment: TRADELEDGER_URL, TRADELEDGER_SYNCHRONOUS, TRADELEDGER_BUSY_TIMEOUT_S."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    url: str = DEFAULT_URL
    # FULL: a fill acknowledged is a fill kept, even through a power cut. NORMAL (WAL) can lose the
    # last commits on power loss, never on a process crash.
    synchronous: Synchronous = "full"
    busy_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    def __init__(self, **arguments: Any) -> None:  # noqa: ANN401 - validated by the model, as any argument
        super().__init__(**{**from_environment(type(self)), **arguments})


def from_environment(settings: type[BaseModel]) -> dict[str, str]:
    """The text of each field's TRADELEDGER_<FIELD> variable that is set (even empty), its name matched in any
    case; of two names that differ only in case, the one later in the environment."""
    variables = {name.lower(): value for name, value in os.environ.items()}
    prefix = ENV_PREFIX.lower()
    return {field: variables[prefix + field] for field in settings.model_fields if prefix + field in variables}
