"""The bot's YAML config as typed settings: the keys tradeledger reads, validated; the rest kept as is.

Fractions are fractions: 0.01 is 1 %. A value of 1 or more (the legacy test's `5.0` "percent") is
refused with an error naming the key, never reinterpreted. YAML floats become Decimals through
their shortest repr (0.01 -> Decimal("0.01")), so the config never brings binary noise into prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tradeledger.compat.yaml_text import load_bounded
from tradeledger.domain.risk import RiskSettings
from tradeledger.errors import InvalidArgument

DEFAULT_STOP_LOSS = Decimal("0.01")
DEFAULT_TAKE_PROFIT = Decimal("0.04")
DEFAULT_TRAILING = Decimal("0.008")
DEFAULT_INITIAL_BALANCE = Decimal(10000)


class ConfigError(InvalidArgument):
    """The bot's config file cannot be read, or a key tradeledger reads has a bad value."""


def _decimal_from_yaml(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"must be a number (got {value!r})")  # noqa: TRY004
    if isinstance(value, float | int):
        return Decimal(repr(value))
    return value


def _decimal_from_yaml_or_text(value: object) -> object:
    """As `_decimal_from_yaml`, and a quoted number ("0.00000001") read exactly as written."""
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"must be a number (got {value!r})") from None
    return _decimal_from_yaml(value)


def _fraction(value: Decimal) -> Decimal:
    if not value.is_finite() or not Decimal(0) <= value < 1:
        raise ValueError(f"must be a fraction from 0 up to 1, e.g. 0.008 for 0.8 % (got {value})")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError(f"must be a number of 0 or more (got {value})")
    return value


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"must be a number above 0 (got {value})")
    return value


Fraction = Annotated[Decimal, BeforeValidator(_decimal_from_yaml), AfterValidator(_fraction)]
Money = Annotated[Decimal, BeforeValidator(_decimal_from_yaml), AfterValidator(_positive)]
Amount = Annotated[Decimal, BeforeValidator(_decimal_from_yaml_or_text), AfterValidator(_not_negative)]
Count = Annotated[int, Field(ge=1)]
Seconds = Annotated[Decimal, BeforeValidator(_decimal_from_yaml), AfterValidator(_positive)]


class _Section(BaseModel):
    # The bot keeps many more keys in these sections; tradeledger types the ones it reads.
    # strict: YAML gives real booleans and integers; "yes" or 1 for a flag is refused, not guessed.
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class RealTimeMonitoring(_Section):
    enabled: bool = True
    check_interval_seconds: Seconds = Decimal(5)


class ExitStrategy(_Section):
    stop_loss_pct: Fraction | None = None
    take_profit_pct: Fraction | None = None
    trailing_stop_pct: Fraction | None = None
    min_gain_to_trail: Fraction = Decimal(0)
    real_time_monitoring: RealTimeMonitoring = RealTimeMonitoring()


class Risk(_Section):
    stop_loss_pct: Fraction | None = None
    take_profit_pct: Fraction | None = None
    trailing_stop_pct: Fraction | None = None


class TradeManagerSection(_Section):
    enabled: bool = True
    single_source_of_truth: bool | None = None  # unset: the top-level use_trade_manager_as_source decides
    migration_complete: bool = False
    migration_date: str | None = None
    sync_legacy_systems: bool = True
    validate_consistency: bool = True


class PositionMonitorSection(_Section):
    use_trade_manager: bool = True
    sync_with_legacy: bool = True


class PaperWalletSection(_Section):
    initial_balance: Money | None = None
    max_open_trades: Count | None = None
    allow_short: bool | None = None
    sync_with_trade_manager: bool = True
    auto_sync_on_trade: bool = True


class ExchangeReconcileSection(BaseModel):
    """`exchange_reconcile`: the ledger against an exchange's `fetch_balance()` when the bot starts.

    tradeledger's own section, so an unknown key (a misspelt `on_mismatch`) is refused, not kept.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    exchange: Annotated[str, Field(min_length=1)]  # a ccxt exchange id, as the fills of the ledger name it
    tolerance: dict[Annotated[str, Field(min_length=1)], Amount] = Field(default_factory=dict)  # per currency: dust
    on_mismatch: Literal["warn", "refuse"] = "warn"


class BotConfig(_Section):
    """The bot's config.yaml. Sections and keys not listed here are kept but not read."""

    execution_mode: Literal["dry_run", "paper", "live"] = "dry_run"
    use_trade_manager_as_source: bool | None = None
    max_open_trades: Count | None = None
    allow_short: bool | None = None
    exit_strategy: ExitStrategy = ExitStrategy()
    risk: Risk = Risk()
    trade_manager: TradeManagerSection = TradeManagerSection()
    position_monitor: PositionMonitorSection = PositionMonitorSection()
    paper_wallet: PaperWalletSection = PaperWalletSection()
    exchange_reconcile: ExchangeReconcileSection | None = None  # unset: no reconciliation at start

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "config") -> BotConfig:
        try:
            return cls.model_validate(dict(values))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg'].removeprefix('Value error, ')}"
                + ("" if "(got " in item["msg"] else f" (got {item['input']!r})")
                for item in error.errors()
            )
            raise ConfigError(f"{source}: {problems}") from None

    @property
    def trade_manager_is_primary(self) -> bool:
        """trade_manager.single_source_of_truth, else the top-level use_trade_manager_as_source, else True.

        The legacy default was False (and nothing read the flag); with one log there is nothing to
        fall back to, so the TradeManager leads unless the config says otherwise.
        """
        for value in (self.trade_manager.single_source_of_truth, self.use_trade_manager_as_source):
            if value is not None:
                return value
        return True

    def risk_settings(self) -> RiskSettings:
        """Levels for a new cycle: exit_strategy, then risk, then the defaults (0.01, 0.04, 0.008)."""

        def pick(first: Decimal | None, second: Decimal | None, default: Decimal) -> Decimal:
            return first if first is not None else second if second is not None else default

        return RiskSettings(
            stop_loss_pct=pick(self.exit_strategy.stop_loss_pct, self.risk.stop_loss_pct, DEFAULT_STOP_LOSS),
            take_profit_pct=pick(self.exit_strategy.take_profit_pct, self.risk.take_profit_pct, DEFAULT_TAKE_PROFIT),
            trailing_stop_pct=pick(self.exit_strategy.trailing_stop_pct, self.risk.trailing_stop_pct, DEFAULT_TRAILING),
        )

    @property
    def wallet_initial_balance(self) -> Decimal:
        return self.paper_wallet.initial_balance or DEFAULT_INITIAL_BALANCE

    @property
    def wallet_max_open_trades(self) -> int:
        """paper_wallet.max_open_trades, then the top-level max_open_trades, then 10."""
        for value in (self.paper_wallet.max_open_trades, self.max_open_trades):
            if value is not None:
                return value
        return 10

    @property
    def wallet_allow_short(self) -> bool:
        """paper_wallet.allow_short, then the top-level allow_short, then True."""
        for value in (self.paper_wallet.allow_short, self.allow_short):
            if value is not None:
                return value
        return True


def load_bot_config(path: str | Path) -> BotConfig:
    """Read the bot's YAML config; a missing file, bad YAML or a bad value raises ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from None
    try:
        values = load_bounded(YAML(typ="safe", pure=True), text)
    except YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys (got {type(values).__name__})")
    return BotConfig.from_mapping(values, source=str(path))


def as_bot_config(config: BotConfig | Mapping[str, Any] | None) -> BotConfig:
    """A BotConfig from a BotConfig, a plain mapping (the legacy dict) or None (every default)."""
    if config is None:
        return BotConfig()
    if isinstance(config, BotConfig):
        return config
    return BotConfig.from_mapping(config)
