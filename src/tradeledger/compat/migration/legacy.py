"""The shapes of a migration: the legacy files as read, the planned fills, the comparisons, the error."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Context, Decimal, localcontext
from pathlib import Path
from typing import Literal

from tradeledger.compat.trades import TRADE_KEYS, legacy_time, to_decimal
from tradeledger.domain.fills import LEDGER_CONTEXT, MAX_DIGITS, Fill, Side, exact_amount
from tradeledger.domain.positions import PositionSide
from tradeledger.domain.records import Checkpoint
from tradeledger.errors import InvalidArgument

STATE_FILE = "trade_manager_state.json"
WALLET_FILE = "paper_wallet_state.yaml"
TRADES_CSV = "trades.csv"
POSITIONS_LOG = "positions.log"
SOURCES = (STATE_FILE, WALLET_FILE, TRADES_CSV, POSITIONS_LOG)
# The exchange of migrated fills that name none (wallet positions, trades.csv rows, trades with "").
LEGACY_EXCHANGE = "legacy"
DEFAULT_ACCOUNT = "default"
BACKUP_FOLDER = "migration_backup"
BOM = "\ufeff"  # the byte order mark a UTF-8 file may begin with (see legacy_text)
# Backup file names (the seed's rollback copies trade_manager_backup_*.json back).
BACKUP_NAMES = {
    STATE_FILE: "trade_manager_backup_{stamp}.json",
    WALLET_FILE: "paper_wallet_backup_{stamp}.yaml",
    TRADES_CSV: "trades_backup_{stamp}.csv",
}
MANIFEST_NAME = "migration_backup_{stamp}.json"
STAMP_FORMAT = "%Y%m%d_%H%M%S"
ID_DIGEST_CHARS = 24  # 96 bits of SHA-256: fill ids of rows and positions that have none
EIGHT_PLACES = Decimal("0.00000001")  # the legacy Trade/Position quantum (ROUND_DOWN)
# A legacy JSON/YAML float agrees with an exact value when it is within this relative distance
# (a double keeps ~16 digits; the legacy flaws move the 8th decimal place or more).
FLOAT_TOLERANCE = Decimal("1E-12")
SUM_TOLERANCE = Decimal("1E-20")
PROGRESS_EVERY = 256
CSV_HEADER = ("symbol", "side", "amount", "price", "timestamp")

Progress = Callable[[str, int, int], None]  # (what, done, total)
Clock = Callable[[], datetime]
Status = Literal["match", "float", "differs"]
Scope = Literal["trade_manager", "statistics", "wallet"]

# A line of positions.log naming a position; its tag, "(positive)", holds no parenthesis, so that a search
# tried at each "Active " of a line stops at the next one (with `[^)]*` each try ran to the line's end).
LOG_LINE = re.compile(
    r"Active (?P<symbol>\S+) (?P<side>\S+) (?P<amount>-?[0-9.]+) entry (?P<entry>-?[0-9.]+)"
    r" current (?P<current>-?[0-9.]+) pnl \$(?P<pnl>-?[0-9.,]+) \((?P<tag>[^()]*)\) balance \$(?P<balance>-?[0-9.,]+)"
)
MAX_LOG_LINE = 4096  # characters of a positions.log line naming a position (the legacy bot's are ~140)
WALLET_SIDES = {"buy": Side.BUY, "long": Side.BUY, "sell": Side.SELL, "short": Side.SELL}


class MigrationError(InvalidArgument):
    """A legacy file cannot be migrated as it is; the message names the file, the line or key and the value."""


# --- the legacy files, read ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegacyPaths:
    """Where the legacy files are; None for a file that is not a source of this migration."""

    state_file: Path | None = None
    wallet_file: Path | None = None
    trades_csv: Path | None = None
    positions_log: Path | None = None

    @classmethod
    def resolve(
        cls,
        logs_dir: Path,
        *,
        state_file: Path | None = None,
        wallet_file: Path | None = None,
        trades_csv: Path | None = None,
        positions_log: Path | None = None,
    ) -> LegacyPaths:
        """Named files must exist; the default of each (its legacy name in `logs_dir`) is used only if it does."""
        chosen: dict[str, Path | None] = {}
        for source, given in zip(SOURCES, (state_file, wallet_file, trades_csv, positions_log), strict=True):
            if given is not None:
                if not given.is_file():
                    raise MigrationError(f"{given}: no such file (given as the {source} to migrate)")
                chosen[source] = given
            else:
                default = logs_dir / source
                chosen[source] = default if default.is_file() else None
        return cls(chosen[STATE_FILE], chosen[WALLET_FILE], chosen[TRADES_CSV], chosen[POSITIONS_LOG])

    def items(self) -> list[tuple[str, Path]]:
        """(legacy name, path) of each file that is a source, in the order they are read."""
        paths = (self.state_file, self.wallet_file, self.trades_csv, self.positions_log)
        return [(source, path) for source, path in zip(SOURCES, paths, strict=True) if path is not None]


@dataclass(frozen=True, slots=True)
class LegacyTrade:
    """One trade of trade_manager_state.json: the fill it is, or why it is none."""

    index: int
    id: str
    symbol: str
    side: str  # as written; the legacy position math reads anything but "buy" as a short
    amount: Decimal
    price: Decimal
    fees: Decimal
    timestamp: datetime
    status: str
    fill: Fill | None
    skip_reason: str | None

    @property
    def where(self) -> str:
        return f"trades[{self.index}]"


@dataclass(frozen=True, slots=True)
class LegacyPositionRecord:
    """A position entry of trade_manager_state.json (the figures the reconciliation compares)."""

    symbol: str
    side: str
    total_amount: Decimal
    average_price: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal

    @property
    def signed_amount(self) -> Decimal:
        return self.total_amount if self.side == PositionSide.LONG else -self.total_amount


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One row of trades.csv (`symbol,side,amount,price,timestamp[,is_stop]`)."""

    line: int
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    timestamp: datetime
    is_stop: bool
    fill: Fill | None
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """One position of paper_wallet_state.yaml, whichever of the four legacy shapes it has."""

    key: str
    symbol: str | None
    side: Side
    written_side: str
    quantity: Decimal
    quantity_key: str  # "size" or "amount"
    entry_price: Decimal
    opened_at: datetime
    fee: Decimal
    reserved: Decimal | None

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity

    @property
    def cost(self) -> Decimal:
        with localcontext(LEDGER_CONTEXT):
            return self.quantity * self.entry_price

    @property
    def shape(self) -> str:
        """The legacy shape in words: how it is keyed, its quantity key and its side vocabulary."""
        keyed = "symbol key" if self.key == self.symbol else "trade-id key"
        vocabulary = "long/short" if self.written_side in ("long", "short") else "buy/sell"
        return f"{keyed}, {self.quantity_key}, side {vocabulary}"


@dataclass(frozen=True, slots=True)
class LegacyWallet:
    balance: Decimal
    initial_balance: Decimal
    realized_pnl: Decimal
    entries: tuple[WalletEntry, ...]


@dataclass(frozen=True, slots=True)
class LoggedPosition:
    """The last `Active …` line of a symbol in positions.log."""

    line: int
    logged_at: str
    symbol: str
    side: str
    amount: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True)
class LegacyFiles:
    """The legacy files as read: their bytes (what the backups copy) and what they hold."""

    paths: LegacyPaths
    raw: Mapping[str, bytes]
    trades: tuple[LegacyTrade, ...] = ()
    positions: Mapping[str, LegacyPositionRecord] = field(default_factory=dict)
    statistics: Mapping[str, Decimal] | None = None
    csv_rows: tuple[CsvRow, ...] = ()
    wallet: LegacyWallet | None = None
    logged: tuple[LoggedPosition, ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedFill:
    """A fill the legacy files imply. `seq` is set when the ledger already holds it (nothing to append)."""

    fill: Fill
    source: str
    where: str
    seq: int | None = None

    @property
    def is_new(self) -> bool:
        return self.seq is None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A legacy record that becomes no fill, and why."""

    source: str
    where: str
    symbol: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RowFill:
    """A trades.csv row and the planned fill it is counted as: a TradeManager trade's, or a fill of its own."""

    line: int
    fill_id: str
    source: str
    where: str


@dataclass(frozen=True, slots=True)
class IdenticalRows:
    """Rows of trades.csv alike in every field (symbol, side, amount, price, time, fee), each kept (compat.migration
    .identical): two fills of one size in the same instant, or one row written twice."""

    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    timestamp: datetime
    fills: tuple[RowFill, ...]  # one a row, in line order

    @property
    def lines(self) -> tuple[int, ...]:
        return tuple(row.line for row in self.fills)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One legacy number against the replay: equal, equal but for the float it was stored as, or not."""

    scope: Scope
    symbol: str | None
    field: str
    legacy: Decimal | None
    replay: Decimal | None
    status: Status
    causes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    account: str
    initial_balance: Decimal
    fills: tuple[PlannedFill, ...]
    skipped: tuple[Skipped, ...]
    only_in_positions_log: tuple[LoggedPosition, ...]
    reconciliation: tuple[Comparison, ...]
    notes: tuple[str, ...]
    at: Checkpoint  # the log position the plan's reads of the ledger saw: its append is made only while it holds
    identical_rows: tuple[IdenticalRows, ...] = ()  # of trades.csv, each kept as a fill: named, never merged

    @property
    def new(self) -> tuple[PlannedFill, ...]:
        return tuple(planned for planned in self.fills if planned.is_new)

    @property
    def in_ledger(self) -> tuple[PlannedFill, ...]:
        return tuple(planned for planned in self.fills if not planned.is_new)

    @property
    def disagreements(self) -> tuple[Comparison, ...]:
        return tuple(item for item in self.reconciliation if item.status == "differs")


def legacy_round(value: Decimal) -> Decimal:
    """`value` to the legacy Trade/Position quantum, 8 places rounding down, as the legacy code rounds it.

    In a context with room for every digit before the point and the 8 after it: the ledger's 28 digits cannot
    quantize an amount of more than 20 integer digits (3.5e21 of a meme coin, or the realized PnL it makes),
    and its 8 places round nothing there; only the places below the 8th are cut."""
    digits = max(value.adjusted() + 1, 0) + 8
    return value.quantize(EIGHT_PLACES, context=Context(prec=max(digits, MAX_DIGITS), rounding=ROUND_DOWN))


def same_fill(a: Fill, b: Fill) -> bool:
    """The same execution: symbol, side, quantity, price, fee and time (ids, exchange and metadata aside)."""
    return (a.symbol, a.side, a.quantity, a.price, a.fee, a.occurred_at) == (
        b.symbol,
        b.side,
        b.quantity,
        b.price,
        b.fee,
        b.occurred_at,
    )


def fill_differences(first: Fill, second: Fill, first_name: str, second_name: str) -> str:
    names = ("symbol", "side", "quantity", "price", "fee", "occurred_at")
    return "; ".join(
        f"{name}: {first_name} {getattr(first, name)}, {second_name} {getattr(second, name)}"
        for name in names
        if getattr(first, name) != getattr(second, name)
    )


def shown_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def legacy_text(path: Path, data: bytes) -> str:
    """A legacy file's text: UTF-8, a byte order mark at its start left out (Windows editors write one; JSON and
    the CSV's first symbol would take it for content), as YAML leaves it out."""
    try:
        return data.decode("utf-8").removeprefix(BOM)
    except UnicodeDecodeError as error:
        raise MigrationError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def legacy_number(value: object, where: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise MigrationError(f"{where}: must be a number (got {value!r})")
    try:
        number = to_decimal(value, where)
    except InvalidArgument as error:
        raise MigrationError(str(error)) from None
    if not number.is_finite():
        raise MigrationError(f"{where}: must be a finite number (got {value!r})")
    return number


def fill_number(value: object, where: str) -> Decimal:
    """A legacy number that is (or, in a trade the legacy bot counted without it being a fill, stands for) a fill's
    quantity, price or fee: finite, of at most 28 significant digits, within 1E-24..1E+24 (domain.fills), else
    MigrationError naming `where` (the file and the legacy field) and the value, before anything is written."""
    number = legacy_number(value, where)
    try:
        return exact_amount(number)
    except ValueError as error:
        raise MigrationError(f"{where}: {error}") from None


def utc_time(value: object, where: str) -> datetime:
    """A legacy time: an ISO date, or one with a time to the second at least, or a datetime; naive read as
    UTC (spec section 3)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            parsed = legacy_time(value.strip(), where)
        except InvalidArgument as error:
            raise MigrationError(str(error)) from None
    else:
        raise MigrationError(f"{where}: must be an ISO 8601 time (got {type(value).__name__} {value!r})")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def content_id(prefix: str, *parts: object) -> str:
    text = "\n".join(str(part) for part in parts)
    return f"{prefix}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:ID_DIGEST_CHARS]}"


def check_position_trades(where: str, nested: object, by_id: dict[str, tuple[int, dict[str, object]]]) -> None:
    """A position's copies of its trades (`Position.to_dict()["trades"]`) must say what the trade list says.

    The legacy TradeManager appended each trade to its list before a position took a copy, and wrote both
    from one Trade object, so a copy that differs, or that the list lacks, is a file edited or saved part
    way; the migration reads the trade list, and would otherwise migrate one of two stories (or drop the
    position the copy opened)."""
    if nested is None:
        return
    if not isinstance(nested, list):
        raise MigrationError(f"{where}.trades: must be a list of trades (got {nested!r:.80})")
    for index, copy in enumerate(nested):
        if not isinstance(copy, dict):
            raise MigrationError(f"{where}.trades[{index}]: must be a trade object (got {copy!r:.80})")
        if "id" not in copy:
            raise MigrationError(f"{where}.trades[{index}]: id is missing (got {copy!r:.80})")
        found = by_id.get(str(copy["id"]))
        if found is None:
            raise MigrationError(
                f"{where}.trades[{index}] (id {copy['id']!r}): not in the trade list ('trades'); the legacy "
                "TradeManager listed every trade before its position took a copy: a file saved part way or edited"
            )
        listed_at, listed = found
        for key in (*TRADE_KEYS, *sorted(set(copy) - set(TRADE_KEYS))):
            if copy.get(key) != listed.get(key):
                raise MigrationError(
                    f"{where}.trades[{index}] (id {copy['id']!r}): {key} {copy.get(key)!r} differs from "
                    f"trades[{listed_at}]'s {listed.get(key)!r}; the legacy bot wrote both from one trade"
                )
