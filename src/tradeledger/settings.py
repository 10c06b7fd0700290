"""Settings read from arguments and TRADELEDGER_* environment variables, only when a ledger opens."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradeledger.storage.engine import Synchronous

DEFAULT_URL = "sqlite:///tradeledger.db"


class LedgerSettings(BaseSettings):
    """How to reach a ledger. Environment: TRADELEDGER_URL, TRADELEDGER_SYNCHRONOUS, TRADELEDGER_BUSY_TIMEOUT_S."""

    model_config = SettingsConfigDict(env_prefix="TRADELEDGER_", extra="ignore")

    url: str = DEFAULT_URL
    # FULL: a fill acknowledged is a fill kept, even through a power cut. NORMAL (WAL) can lose the
    # last commits on power loss, never on a process crash.
    synchronous: Synchronous = "full"
    busy_timeout_s: float = Field(default=30.0, gt=0, le=3600)
