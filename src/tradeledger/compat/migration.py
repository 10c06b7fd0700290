"""Migration from the legacy files (spec section 7): read them, plan the fills, reconcile, back up, append.

The legacy bot kept its books in `trade_manager_state.json` (every trade), `paper_wallet_state.yaml`
(the wallet's cash and positions, in four shapes) and `trades.csv` (a header-less fill log), and
logged `positions.log`. `read_legacy_files` reads them (the bytes once: what is parsed is what is
backed up), `plan_migration` turns them into the fills they imply and reconciles the legacy numbers
with a replay of those fills, naming the cause of each disagreement, and `run_migration` writes the
backups, appends the new fills in one transaction and verifies. Pure of Typer and Rich: the CLI
(`tradeledger migrate`) prints what this returns.

Which fills the files imply (the TradeManager's trades are primary):

- every trade of `trade_manager_state.json` whose status is "filled" and amount above 0, with the
  legacy trade id as its `fill_id`; a trade id recorded twice with the same content is one fill
  (the legacy TradeManager counted it twice);
- every row of `trades.csv` that no TradeManager trade explains (same symbol, side, amount and price
  after the legacy 8-place round-down, same second) and whose `is_stop` is false, as fill
  `csv:<sha256 prefix>`;
- every position of `paper_wallet_state.yaml` whose symbol the other two leave flat and that opened
  after their last fill of that symbol, as an opening fill `wallet:<sha256 prefix>`;
- never anything from `positions.log`: the positions only it shows are reported.

Fill ids and contents are derived only from the files, so a second run finds every fill in the
ledger and appends nothing. Naive legacy times are UTC (spec section 3).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tradeledger.application.ledger import Ledger, validate_fill
from tradeledger.compat.files import write_bytes_atomically
from tradeledger.compat.trades import Trade, to_decimal
from tradeledger.domain.fills import LEDGER_CONTEXT, Fill, Side, decimal_text, time_text
from tradeledger.domain.positions import (
    ZERO,
    ClosedPosition,
    Execution,
    Position,
    PositionBook,
    PositionSide,
)
from tradeledger.domain.records import Checkpoint, RecordedFill
from tradeledger.domain.wallet import WalletBook
from tradeledger.errors import InvalidArgument, LedgerError

STATE_FILE = "trade_manager_state.json"
WALLET_FILE = "paper_wallet_state.yaml"
TRADES_CSV = "trades.csv"
POSITIONS_LOG = "positions.log"
SOURCES = (STATE_FILE, WALLET_FILE, TRADES_CSV, POSITIONS_LOG)
# The exchange of migrated fills that name none (wallet positions, trades.csv rows, trades with "").
LEGACY_EXCHANGE = "legacy"
DEFAULT_ACCOUNT = "default"
BACKUP_FOLDER = "migration_backup"
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

_LOG_LINE = re.compile(
    r"Active (?P<symbol>\S+) (?P<side>\S+) (?P<amount>-?[0-9.]+) entry (?P<entry>-?[0-9.]+)"
    r" current (?P<current>-?[0-9.]+) pnl \$(?P<pnl>-?[0-9.,]+) \((?P<tag>[^)]*)\) balance \$(?P<balance>-?[0-9.,]+)"
)
_WALLET_SIDES = {"buy": Side.BUY, "long": Side.BUY, "sell": Side.SELL, "short": Side.SELL}


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


def read_legacy_files(
    paths: LegacyPaths, *, account: str = DEFAULT_ACCOUNT, on_progress: Progress | None = None
) -> LegacyFiles:
    """Read every source once. Anything unreadable raises MigrationError naming file, line or key, and value."""
    raw: dict[str, bytes] = {}
    for source, path in paths.items():
        try:
            raw[source] = path.read_bytes()
        except OSError as error:
            raise MigrationError(f"{path}: cannot read it ({error.strerror})") from None
    files = LegacyFiles(paths=paths, raw=raw)
    report = on_progress or (lambda _what, _done, _total: None)
    if paths.state_file is not None:
        trades, positions, statistics = _read_state(paths.state_file, raw[STATE_FILE], account, report)
        files = replace(files, trades=trades, positions=positions, statistics=statistics)
    if paths.trades_csv is not None:
        files = replace(files, csv_rows=_read_csv(paths.trades_csv, raw[TRADES_CSV], account, report))
    if paths.wallet_file is not None:
        files = replace(files, wallet=_read_wallet(paths.wallet_file, raw[WALLET_FILE]))
    if paths.positions_log is not None:
        files = replace(files, logged=_read_positions_log(paths.positions_log, raw[POSITIONS_LOG], report))
    return files


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MigrationError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _number(value: object, where: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise MigrationError(f"{where}: must be a number (got {value!r})")
    try:
        number = to_decimal(value, where)
    except InvalidArgument as error:
        raise MigrationError(str(error)) from None
    if not number.is_finite():
        raise MigrationError(f"{where}: must be a finite number (got {value!r})")
    return number


def _utc_time(value: object, where: str) -> datetime:
    """A legacy time: an ISO string or a datetime, naive read as UTC (spec section 3)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MigrationError(f"{where}: not an ISO 8601 time (got {value!r})") from None
    else:
        raise MigrationError(f"{where}: must be an ISO 8601 time (got {type(value).__name__} {value!r})")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _read_state(
    path: Path, data: bytes, account: str, report: Progress
) -> tuple[tuple[LegacyTrade, ...], dict[str, LegacyPositionRecord], dict[str, Decimal] | None]:
    try:
        state = json.loads(_text(path, data))
    except json.JSONDecodeError as error:
        raise MigrationError(f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise MigrationError(f"{path}: JSON nested too deep to read") from None
    if not isinstance(state, dict):
        raise MigrationError(f"{path}: expected a JSON object with a 'trades' list (got {type(state).__name__})")
    items = state.get("trades")
    if not isinstance(items, list):
        raise MigrationError(f"{path}: 'trades' must be a list of trades (got {items!r:.80})")
    trades = []
    for index, item in enumerate(items):
        trades.append(_legacy_trade(path, index, item, account))
        if (index + 1) % PROGRESS_EVERY == 0:
            report(f"reading {path.name}", index + 1, len(items))
    report(f"reading {path.name}", len(items), len(items))
    positions = _state_positions(path, state.get("positions"))
    statistics = _state_statistics(path, state.get("statistics"))
    return tuple(trades), positions, statistics


def _legacy_trade(path: Path, index: int, item: object, account: str) -> LegacyTrade:
    where = f"{path}: trades[{index}]"
    if not isinstance(item, dict):
        raise MigrationError(f"{where}: must be a trade object (got {item!r:.80})")
    where = f"{where} (id {item.get('id')!r})"
    for key in ("id", "symbol", "side", "amount", "price", "timestamp"):
        if key not in item:
            raise MigrationError(f"{where}: {key} is missing")
    status = item.get("status", "filled")
    amount = _number(item["amount"], f"{where}: amount")
    price = _number(item["price"], f"{where}: price")
    fees = _number(item.get("fees", 0), f"{where}: fees")
    timestamp = _utc_time(item["timestamp"], f"{where}: timestamp")
    skip = None
    if status != "filled":
        skip = f"status {status!r}: not a fill (the legacy TradeManager counted it anyway)"
    elif amount == 0:
        skip = "amount 0: moves no position (the legacy TradeManager kept it in its history)"
    fill = None
    if skip is None:
        try:
            trade = Trade.from_dict(item)
            fill = validate_fill(
                {
                    "fill_id": trade.id,
                    "account": account,
                    "exchange": trade.exchange or LEGACY_EXCHANGE,
                    "symbol": trade.symbol,
                    "side": trade.side,
                    "quantity": trade.amount,
                    "price": trade.price,
                    "fee": trade.fees,
                    "occurred_at": trade.timestamp,
                    "strategy": trade.strategy or None,
                    "order_id": trade.order_id,
                    "client_order_id": trade.client_order_id,
                    "metadata": {**trade.metadata, "migrated_from": STATE_FILE},
                },
                where=where,
            )
        except (LedgerError, TypeError, ValueError) as error:
            message = str(error).removeprefix("trade: ")
            raise MigrationError(message if message.startswith(where) else f"{where}: {message}") from None
    return LegacyTrade(
        index=index,
        id=str(item["id"]),
        symbol=str(item["symbol"]),
        side=str(item["side"]),
        amount=amount,
        price=price,
        fees=fees,
        timestamp=timestamp,
        status=str(status),
        fill=fill,
        skip_reason=skip,
    )


def _state_positions(path: Path, positions: object) -> dict[str, LegacyPositionRecord]:
    if positions is None:
        return {}
    if not isinstance(positions, dict):
        raise MigrationError(f"{path}: 'positions' must be an object keyed by symbol (got {positions!r:.80})")
    records = {}
    for symbol, item in positions.items():
        where = f"{path}: positions[{symbol!r}]"
        if not isinstance(item, dict):
            raise MigrationError(f"{where}: must be a position object (got {item!r:.80})")
        side = item.get("side")
        if side not in (PositionSide.LONG, PositionSide.SHORT):
            raise MigrationError(f"{where}: side must be 'long' or 'short' (got {side!r})")
        records[str(symbol)] = LegacyPositionRecord(
            symbol=str(symbol),
            side=str(side),
            total_amount=_number(item.get("total_amount", 0), f"{where}: total_amount"),
            average_price=_number(item.get("average_price", 0), f"{where}: average_price"),
            realized_pnl=_number(item.get("realized_pnl", 0), f"{where}: realized_pnl"),
            fees_paid=_number(item.get("fees_paid", 0), f"{where}: fees_paid"),
        )
    return records


def _state_statistics(path: Path, statistics: object) -> dict[str, Decimal] | None:
    if statistics is None:
        return None
    if not isinstance(statistics, dict):
        raise MigrationError(f"{path}: 'statistics' must be an object (got {statistics!r:.80})")
    keys = ("total_trades", "total_volume", "total_fees", "total_realized_pnl")
    return {key: _number(statistics[key], f"{path}: statistics.{key}") for key in keys if key in statistics}


def _content_id(prefix: str, *parts: object) -> str:
    text = "\n".join(str(part) for part in parts)
    return f"{prefix}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:ID_DIGEST_CHARS]}"


def _read_csv(path: Path, data: bytes, account: str, report: Progress) -> tuple[CsvRow, ...]:
    lines = _text(path, data).splitlines()
    rows: list[CsvRow] = []
    for number, fields in enumerate(csv.reader(lines), start=1):
        if number % PROGRESS_EVERY == 0:
            report(f"reading {path.name}", number, len(lines))
        if not fields or all(not value.strip() for value in fields):
            continue
        if number == 1 and tuple(value.strip().lower() for value in fields[:5]) == CSV_HEADER:
            continue  # a header line (the legacy file has none, a hand-made copy might)
        rows.append(_csv_row(path, number, fields, account))
    report(f"reading {path.name}", len(lines), len(lines))
    return tuple(rows)


def _csv_row(path: Path, number: int, fields: list[str], account: str) -> CsvRow:
    where = f"{path}: line {number}"
    if len(fields) not in (len(CSV_HEADER), len(CSV_HEADER) + 1):
        raise MigrationError(
            f"{where}: expected symbol,side,amount,price,timestamp[,is_stop] "
            f"(got {len(fields)} fields: {','.join(fields)!r})"
        )
    symbol, side_text, amount_text, price_text, time_text_ = (value.strip() for value in fields[:5])
    stop_text = fields[-1].strip().lower() if len(fields) > len(CSV_HEADER) else "false"
    if stop_text not in ("true", "false"):
        raise MigrationError(f"{where}: is_stop must be True or False (got {fields[-1]!r})")
    if side_text.lower() not in ("buy", "sell"):
        raise MigrationError(f"{where}: side must be buy or sell (got {side_text!r})")
    side = Side(side_text.lower())
    amount = _number(amount_text, f"{where}: amount")
    price = _number(price_text, f"{where}: price")
    timestamp = _utc_time(time_text_, f"{where}: timestamp")
    is_stop = stop_text == "true"
    skip = None
    if is_stop:
        skip = "is_stop is True: a stop order's row, skipped as the legacy replay skipped it"
    elif amount == 0:
        skip = "amount 0: moves no position"
    fill = None
    if skip is None:
        fill_id = _content_id(
            "csv",
            TRADES_CSV,
            number,
            symbol,
            side.value,
            decimal_text(amount),
            decimal_text(price),
            time_text(timestamp),
        )
        fill = validate_fill(
            {
                "fill_id": fill_id,
                "account": account,
                "exchange": LEGACY_EXCHANGE,
                "symbol": symbol,
                "side": side.value,
                "quantity": amount,
                "price": price,
                "fee": ZERO,
                "occurred_at": timestamp,
                "metadata": {"migrated_from": TRADES_CSV, "line": number},
            },
            where=where,
        )
    return CsvRow(number, symbol, side, amount, price, timestamp, is_stop, fill, skip)


def _read_wallet(path: Path, data: bytes) -> LegacyWallet:
    try:
        state = YAML(typ="safe", pure=True).load(_text(path, data))
    except (YAMLError, RecursionError) as error:
        raise MigrationError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(state, dict):
        raise MigrationError(f"{path}: expected the wallet's mapping of balance, positions, … (got {state!r:.80})")
    positions = state.get("positions") or {}
    if not isinstance(positions, dict):
        raise MigrationError(f"{path}: positions must be a mapping (got {positions!r:.80})")
    entries = [_wallet_entry(path, str(key), item) for key, item in positions.items()]
    return LegacyWallet(
        balance=_number(state.get("balance"), f"{path}: balance"),
        initial_balance=_number(state.get("initial_balance"), f"{path}: initial_balance"),
        realized_pnl=_number(state.get("realized_pnl", 0), f"{path}: realized_pnl"),
        entries=tuple(entries),
    )


def _wallet_entry(path: Path, key: str, item: object) -> WalletEntry:
    where = f"{path}: positions[{key!r}]"
    if not isinstance(item, dict):
        raise MigrationError(f"{where}: must be a position mapping (got {item!r:.80})")
    written_side = item.get("side")
    if not isinstance(written_side, str) or written_side.lower() not in _WALLET_SIDES:
        raise MigrationError(f"{where}: side must be buy, sell, long or short (got {written_side!r})")
    quantity_key = "size" if item.get("size") is not None else "amount"
    quantity = _number(item.get(quantity_key), f"{where}: {quantity_key}")
    entry_price = _number(item.get("entry_price"), f"{where}: entry_price")
    if quantity < 0 or entry_price <= 0:
        raise MigrationError(
            f"{where}: {quantity_key} must be 0 or more and entry_price above 0 (got {quantity} and {entry_price})"
        )
    time_key = "entry_time" if "entry_time" in item else "timestamp"
    symbol = item.get("symbol", key if "/" in key else None)
    if symbol is not None and not isinstance(symbol, str):
        raise MigrationError(f"{where}: symbol must be text or None (got {symbol!r})")
    if symbol is not None and "/" in key and symbol != key:
        raise MigrationError(f"{where}: the entry's symbol {symbol!r} contradicts its key")
    reserved = item.get("reserved")
    return WalletEntry(
        key=key,
        symbol=symbol,
        side=_WALLET_SIDES[written_side.lower()],
        written_side=written_side.lower(),
        quantity=quantity,
        quantity_key=quantity_key,
        entry_price=entry_price,
        opened_at=_utc_time(item.get(time_key), f"{where}: {time_key}"),
        fee=_number(item.get("fees_paid", 0), f"{where}: fees_paid"),
        reserved=None if reserved is None else _number(reserved, f"{where}: reserved"),
    )


def _read_positions_log(path: Path, data: bytes, report: Progress) -> tuple[LoggedPosition, ...]:
    lines = _text(path, data).splitlines()
    last: dict[str, LoggedPosition] = {}
    for number, line in enumerate(lines, start=1):
        if number % PROGRESS_EVERY == 0:
            report(f"reading {path.name}", number, len(lines))
        if "Active " not in line:
            continue  # the log's other lines (wallet balance, …)
        found = _LOG_LINE.search(line)
        if found is None:
            raise MigrationError(
                f"{path}: line {number}: not an 'Active SYMBOL side amount entry …' line (got {line!r})"
            )
        last[found["symbol"]] = LoggedPosition(
            line=number,
            logged_at=line[: found.start()].split(" - ")[0].strip(),
            symbol=found["symbol"],
            side=found["side"],
            amount=_number(found["amount"], f"{path}: line {number}: amount"),
            entry_price=_number(found["entry"], f"{path}: line {number}: entry"),
        )
    report(f"reading {path.name}", len(lines), len(lines))
    return tuple(sorted(last.values(), key=lambda logged: logged.line))


# --- the plan: which fills, and how the legacy numbers compare with their replay --------------------


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

    @property
    def new(self) -> tuple[PlannedFill, ...]:
        return tuple(planned for planned in self.fills if planned.is_new)

    @property
    def in_ledger(self) -> tuple[PlannedFill, ...]:
        return tuple(planned for planned in self.fills if not planned.is_new)

    @property
    def disagreements(self) -> tuple[Comparison, ...]:
        return tuple(item for item in self.reconciliation if item.status == "differs")


def _same_fill(a: Fill, b: Fill) -> bool:
    """The same execution: symbol, side, quantity, price, fee and time (ids, exchange and metadata aside)."""
    return (a.symbol, a.side, a.quantity, a.price, a.fee, a.occurred_at) == (
        b.symbol,
        b.side,
        b.quantity,
        b.price,
        b.fee,
        b.occurred_at,
    )


def _differences(first: Fill, second: Fill, first_name: str, second_name: str) -> str:
    names = ("symbol", "side", "quantity", "price", "fee", "occurred_at")
    return "; ".join(
        f"{name}: {first_name} {getattr(first, name)}, {second_name} {getattr(second, name)}"
        for name in names
        if getattr(first, name) != getattr(second, name)
    )


def _legacy_round(value: Decimal) -> Decimal:
    return value.quantize(EIGHT_PLACES, rounding=ROUND_DOWN)


def _matches_trade(row: CsvRow, trade: LegacyTrade) -> bool:
    """A trades.csv row and a TradeManager trade are one fill: symbol, side, amount and price (after the
    legacy 8-place round-down the TradeManager applied), and the time to the second."""
    return (
        row.symbol == trade.symbol
        and row.side.value == trade.side
        and _legacy_round(row.amount) == _legacy_round(trade.amount)
        and _legacy_round(row.price) == _legacy_round(trade.price)
        and row.timestamp.astimezone(UTC).replace(microsecond=0)
        == trade.timestamp.astimezone(UTC).replace(microsecond=0)
    )


def _execution(seq: int, fill: Fill) -> Execution:
    return Execution(seq, fill.account, fill.symbol, fill.side, fill.quantity, fill.price, fill.fee, fill.occurred_at)


def plan_migration(
    files: LegacyFiles,
    ledger: Ledger,
    *,
    account: str = DEFAULT_ACCOUNT,
    initial_balance: Decimal = Decimal(10000),
) -> MigrationPlan:
    """The fills the legacy files imply, which of them the ledger holds, and the reconciliation.

    Reads the ledger (the account's fills), changes nothing. A fill id the ledger holds for another
    execution raises MigrationError before anything is written.
    """
    skipped: list[Skipped] = []
    notes: list[str] = []
    merged = _merge_by_time(_trade_manager_fills(files, skipped), _csv_fills(files, skipped))
    wallet_fills, stale = _wallet_fills(files, merged, account, skipped, notes)
    fills = _with_ledger_seqs([*merged, *wallet_fills], ledger, account, files)
    book = PositionBook().apply_all(_execution(seq, planned.fill) for seq, planned in enumerate(fills, start=1))
    only_logged = tuple(logged for logged in files.logged if (account, logged.symbol) not in book.open)
    reconciliation = _reconcile(files, fills, account, initial_balance, skipped, stale)
    return MigrationPlan(
        account=account,
        initial_balance=initial_balance,
        fills=tuple(fills),
        skipped=tuple(skipped),
        only_in_positions_log=only_logged,
        reconciliation=tuple(reconciliation),
        notes=tuple(notes),
    )


def _trade_manager_fills(files: LegacyFiles, skipped: list[Skipped]) -> list[PlannedFill]:
    """trade_manager_state.json, the primary record: each trade id once."""
    fills: list[PlannedFill] = []
    seen: dict[str, LegacyTrade] = {}
    for trade in files.trades:
        if trade.fill is None:
            skipped.append(Skipped(STATE_FILE, trade.where, trade.symbol, trade.skip_reason or ""))
            continue
        first = seen.get(trade.id)
        if first is None:
            seen[trade.id] = trade
            fills.append(PlannedFill(trade.fill, STATE_FILE, trade.where))
            continue
        assert first.fill is not None
        if not _same_fill(first.fill, trade.fill):
            raise MigrationError(
                f"{files.paths.state_file}: {trade.where}: trade id {trade.id!r} is also {first.where} with other "
                f"content ({_differences(first.fill, trade.fill, first.where, trade.where)})"
            )
        reason = f"the same trade as {first.where} (recorded twice; the legacy TradeManager counted it twice)"
        skipped.append(Skipped(STATE_FILE, trade.where, trade.symbol, reason))
    return fills


def _second(moment: datetime) -> datetime:
    """A time to the second, in UTC: how a trades.csv row and a TradeManager trade are matched."""
    return moment.astimezone(UTC).replace(microsecond=0)


def _csv_fills(files: LegacyFiles, skipped: list[Skipped]) -> list[PlannedFill]:
    """trades.csv: the rows no TradeManager trade explains (each trade explains one row at most)."""
    candidates: dict[tuple[str, str, datetime], list[LegacyTrade]] = defaultdict(list)
    seen: set[str] = set()
    for trade in files.trades:
        if trade.fill is not None and trade.id not in seen:
            seen.add(trade.id)
            candidates[(trade.symbol, trade.side, _second(trade.timestamp))].append(trade)
    fills: list[PlannedFill] = []
    for row in files.csv_rows:
        where = f"line {row.line}"
        if row.fill is None:
            skipped.append(Skipped(TRADES_CSV, where, row.symbol, row.skip_reason or ""))
            continue
        same_second = candidates.get((row.symbol, row.side.value, _second(row.timestamp)), [])
        match = next((trade for trade in same_second if _matches_trade(row, trade)), None)
        if match is None:
            fills.append(PlannedFill(row.fill, TRADES_CSV, where))
            continue
        same_second.remove(match)
        skipped.append(
            Skipped(TRADES_CSV, where, row.symbol, f"already in {STATE_FILE} ({match.where}, id {match.id})")
        )
    return fills


def _wallet_fills(
    files: LegacyFiles, merged: Sequence[PlannedFill], account: str, skipped: list[Skipped], notes: list[str]
) -> tuple[list[PlannedFill], dict[str, str]]:
    """paper_wallet_state.yaml: an opening fill for each position whose symbol the other sources leave
    flat and which opened after their last fill of it; the stale ones (closed since) by symbol."""
    fills: list[PlannedFill] = []
    stale: dict[str, str] = {}
    if files.wallet is None:
        return fills, stale
    book = PositionBook()
    last_fill: dict[str, PlannedFill] = {}
    for seq, planned in enumerate(merged, start=1):
        book.apply(_execution(seq, planned.fill))
        last_fill[planned.fill.symbol] = planned
    for entry in sorted(files.wallet.entries, key=lambda e: e.opened_at):
        where = f"key {entry.key}"
        last = None if entry.symbol is None else last_fill.get(entry.symbol)
        if entry.symbol is None:
            reason = "symbol: None (opened without a symbol; nothing says what it holds)"
        elif entry.quantity == 0:
            reason = f"{entry.quantity_key} 0: holds nothing"
        elif (account, entry.symbol) in book.open:
            sources = sorted({p.source for p in merged if p.fill.symbol == entry.symbol})
            reason = f"{entry.symbol} is open in {' and '.join(sources)} (the primary record)"
        elif last is not None and entry.opened_at <= last.fill.occurred_at:
            reason = (
                f"stale: {last.source} closed {entry.symbol} at {_when(last.fill.occurred_at)} ({last.where}), "
                f"after this wallet position opened at {_when(entry.opened_at)}"
            )
            stale[entry.symbol] = reason
        else:
            fills.append(PlannedFill(_wallet_fill(entry, account), WALLET_FILE, where))
            continue
        skipped.append(Skipped(WALLET_FILE, where, entry.symbol, reason))
    shapes = _shape_counts(files.wallet.entries)
    if len(shapes) > 1:
        notes.append(_shapes_note(shapes))
    return fills, stale


def _merge_by_time(primary: list[PlannedFill], extra: list[PlannedFill]) -> list[PlannedFill]:
    """The primary fills in their order, each extra one placed before the first primary fill that is later."""
    pending = sorted(extra, key=lambda planned: planned.fill.occurred_at)
    merged: list[PlannedFill] = []
    at = 0
    for planned in primary:
        while at < len(pending) and pending[at].fill.occurred_at < planned.fill.occurred_at:
            merged.append(pending[at])
            at += 1
        merged.append(planned)
    merged.extend(pending[at:])
    return merged


def _wallet_fill(entry: WalletEntry, account: str) -> Fill:
    assert entry.symbol is not None
    fill_id = _content_id(
        "wallet",
        WALLET_FILE,
        entry.key,
        entry.symbol,
        entry.side.value,
        decimal_text(entry.quantity),
        decimal_text(entry.entry_price),
        time_text(entry.opened_at),
    )
    return validate_fill(
        {
            "fill_id": fill_id,
            "account": account,
            "exchange": LEGACY_EXCHANGE,
            "symbol": entry.symbol,
            "side": entry.side.value,
            "quantity": entry.quantity,
            "price": entry.entry_price,
            "fee": entry.fee,
            "occurred_at": entry.opened_at,
            "metadata": {"migrated_from": WALLET_FILE, "key": entry.key},
        },
        where=f"{WALLET_FILE}: positions[{entry.key!r}]",
    )


def _shape_counts(entries: Iterable[WalletEntry]) -> dict[str, list[str]]:
    shapes: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        shapes[entry.shape if entry.symbol is not None else "no symbol (symbol: None)"].append(entry.key)
    return dict(shapes)


def _shapes_note(shapes: Mapping[str, list[str]]) -> str:
    described = "; ".join(f"{shape}: {len(keys)} ({', '.join(keys)})" for shape, keys in shapes.items())
    return f"{WALLET_FILE} mixes {len(shapes)} position shapes (legacy-system.md §2.2): {described}"


def _with_ledger_seqs(fills: list[PlannedFill], ledger: Ledger, account: str, files: LegacyFiles) -> list[PlannedFill]:
    """Mark the fills the ledger already holds (same fill id and execution); refuse an id held for another."""
    recorded: dict[str, list[RecordedFill]] = defaultdict(list)
    for item in ledger.history(account=account):
        recorded[item.fill.fill_id].append(item)
    marked = []
    for planned in fills:
        held = recorded.get(planned.fill.fill_id, [])
        same = next((item for item in held if _same_fill(item.fill, planned.fill)), None)
        if same is not None:
            marked.append(replace(planned, seq=same.seq))
        elif held:
            path = {STATE_FILE: files.paths.state_file, TRADES_CSV: files.paths.trades_csv}.get(planned.source)
            differences = _differences(held[0].fill, planned.fill, "ledger", "file")
            raise MigrationError(
                f"{path or planned.source}: {planned.where}: the ledger already holds fill {planned.fill.fill_id!r} "
                f"(seq {held[0].seq}) for another execution ({differences}); nothing appended"
            )
        else:
            marked.append(planned)
    return marked


# --- reconciliation ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _LegacyPosition:
    """The legacy TradeManager's Position as its a4168224 rules leave it (legacy-system.md §1.3)."""

    side: str
    amount: Decimal
    avg: Decimal
    realized: Decimal
    fees: Decimal


@dataclass(slots=True)
class _CycleStory:
    """How the legacy position of a symbol came to differ from the cycle tradeledger has (same fills)."""

    start: str  # "open" | "flip" | "reopen" | "flip_from_closed"
    started_at: datetime
    fee_start_difference: Decimal = ZERO  # legacy fees - our cycle fees, right after the cycle's first fill
    dropped_fees: Decimal = ZERO  # fees of the cycle's reducing fills (never added by the legacy code)
    dropped_count: int = 0
    carried_realized: Decimal = ZERO  # legacy realized right after the cycle's first fill
    earlier_realized: Decimal = ZERO  # our earlier cycles' realized PnL (exact)
    earlier_fees: Decimal = ZERO
    earlier_cycles: int = 0
    flip_fee: Decimal = ZERO


@dataclass(slots=True)
class _LegacyFold:
    positions: dict[str, _LegacyPosition] = field(default_factory=dict)
    stories: dict[str, _CycleStory] = field(default_factory=dict)
    total_realized: Decimal = ZERO
    total_trades: int = 0
    total_volume: Decimal = ZERO
    total_fees: Decimal = ZERO
    not_fills: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _legacy_apply(fold: _LegacyFold, trade: LegacyTrade) -> None:
    """One record_trade of the legacy TradeManager (a4168224), in its Decimal arithmetic."""
    amount, price, fees = _legacy_round(trade.amount), _legacy_round(trade.price), _legacy_round(trade.fees)
    fold.total_trades += 1
    fold.total_volume += amount * price
    fold.total_fees += fees
    if amount == 0:
        return
    direction = "long" if trade.side == "buy" else "short"
    held = fold.positions.get(trade.symbol)
    if held is None:
        fold.positions[trade.symbol] = _LegacyPosition(direction, amount, price, ZERO, fees)
    elif held.side == direction:
        held.avg = (held.amount * held.avg + amount * price) / (held.amount + amount)
        held.amount += amount
        held.fees += fees
    elif amount <= held.amount:
        realized = (price - held.avg) * amount if held.side == "long" else (held.avg - price) * amount
        held.realized += realized
        fold.total_realized += realized
        held.amount -= amount
    else:
        realized = (price - held.avg) * held.amount if held.side == "long" else (held.avg - price) * held.amount
        fold.total_realized += realized
        # A new Position: __post_init__ quantizes the carried realized PnL to 8 places, rounding down.
        carried = _legacy_round(held.realized + realized)
        fold.positions[trade.symbol] = _LegacyPosition(direction, amount - held.amount, price, carried, fees)


def _fold_trade_manager(trades: Sequence[LegacyTrade], account: str) -> tuple[_LegacyFold, PositionBook]:
    """The legacy rules and ours over the state file's trades side by side, noting each divergence."""
    fold = _LegacyFold()
    ours = PositionBook()
    seen: set[str] = set()
    closed_cycles: Counter[str] = Counter()
    with localcontext(LEDGER_CONTEXT):
        for seq, trade in enumerate(trades, start=1):
            before_legacy = fold.positions.get(trade.symbol)
            legacy_side = None if before_legacy is None else before_legacy.side
            _legacy_apply(fold, trade)
            if trade.fill is None or trade.id in seen:
                reason = trade.skip_reason or "recorded twice"
                fold.not_fills[trade.symbol].append(f"{trade.where} ({reason})")
                continue
            seen.add(trade.id)
            key = (account, trade.symbol)
            before = ours.open.get(key)
            outcome = ours.apply(_execution(seq, trade.fill))
            if outcome.closed is not None:
                closed_cycles[trade.symbol] += 1
            legacy = fold.positions[trade.symbol]
            opened = outcome.position is not None and (
                before is None or outcome.position.opened_seq != before.opened_seq
            )
            if opened:
                assert outcome.position is not None
                closed_totals = ours.closed_totals.get(key)
                if before is not None:
                    start = "flip"
                elif legacy_side is None:
                    start = "open"
                else:
                    start = "reopen" if legacy_side == outcome.position.side.value else "flip_from_closed"
                fold.stories[trade.symbol] = _CycleStory(
                    start=start,
                    started_at=trade.timestamp,
                    fee_start_difference=legacy.fees - outcome.position.fees,
                    carried_realized=legacy.realized,
                    earlier_realized=ZERO if closed_totals is None else closed_totals.realized_pnl,
                    earlier_fees=ZERO if closed_totals is None else closed_totals.fees,
                    earlier_cycles=closed_cycles[trade.symbol],
                    flip_fee=trade.fill.fee,
                )
            elif before is not None and (outcome.position is None or outcome.position.quantity < before.quantity):
                story = fold.stories[trade.symbol]
                story.dropped_fees += trade.fill.fee
                story.dropped_count += 1
    return fold, ours


@dataclass(frozen=True, slots=True)
class _Cycle:
    """The figures of a symbol's open cycle, or of its last cycle when flat (what a legacy position shows)."""

    signed_quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    fees: Decimal


def _cycle(book: PositionBook, account: str, symbol: str) -> _Cycle | None:
    position: Position | None = book.open.get((account, symbol))
    if position is not None:
        return _Cycle(position.signed_quantity, position.avg_price, position.realized_pnl, position.fees)
    closed: list[ClosedPosition] = [c for c in book.closed if c.symbol == symbol and c.account == account]
    if not closed:
        return None
    last = closed[-1]
    return _Cycle(ZERO, last.avg_price, last.realized_pnl, last.fees)


def _close(a: Decimal, b: Decimal) -> bool:
    with localcontext(LEDGER_CONTEXT):
        return abs(a - b) <= max(abs(a), abs(b), Decimal(1)) * FLOAT_TOLERANCE


def _amount(value: Decimal) -> str:
    """An amount in a cause: at most 8 places (the compared values themselves are exact)."""
    try:
        return decimal_text(value.quantize(EIGHT_PLACES, context=LEDGER_CONTEXT))
    except InvalidOperation:  # more than 20 digits before the point
        return decimal_text(value)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _nearly(a: Decimal, b: Decimal) -> bool:
    """Equal but for 28-digit rounding (sums taken in another order)."""
    with localcontext(LEDGER_CONTEXT):
        return abs(a - b) <= max(abs(a), abs(b), Decimal(1)) * SUM_TOLERANCE


def _compare(
    scope: Scope,
    symbol: str | None,
    name: str,
    legacy: Decimal | None,
    replay: Decimal | None,
    *,
    legacy_rules: Decimal | None = None,
    flaws: Sequence[str] = (),
    elsewhere: Sequence[str] = (),
    unexplained: str = "",
) -> Comparison:
    """Compare one legacy number with the replay; when they differ, say why.

    `legacy_rules` is what the legacy code computes from the same records and `flaws` the named
    reasons it differs from the replay of those records; `elsewhere` names fills of other sources
    in the replay.
    """
    if legacy is not None and replay is not None and legacy == replay:
        return Comparison(scope, symbol, name, legacy, replay, "match")
    if legacy is not None and replay is not None and _close(legacy, replay):
        cause = f"float round trip: the file stores {legacy} for {decimal_text(replay)} (legacy-system.md §1.4, §8.2)"
        return Comparison(scope, symbol, name, legacy, replay, "float", (cause,))
    causes: list[str] = []
    if legacy is not None and legacy_rules is not None and _close(legacy, legacy_rules):
        causes.extend(flaws)
    elif legacy is not None and legacy_rules is not None:
        causes.append(
            unexplained
            or f"not explained by the legacy rules over the file's own records (they give "
            f"{_amount(legacy_rules)}): the file was edited, reset or saved part way (legacy-system.md §1.4)"
        )
    causes.extend(elsewhere)
    return Comparison(scope, symbol, name, legacy, replay, "differs", tuple(causes))


def _replay_all(fills: Sequence[PlannedFill], initial_balance: Decimal) -> tuple[PositionBook, WalletBook]:
    book = PositionBook()
    wallet = WalletBook(initial_balance)
    for seq, planned in enumerate(fills, start=1):
        execution = _execution(seq, planned.fill)
        before = book.open.get((execution.account, execution.symbol))
        wallet.apply(before, execution, book.apply(execution))
    return book, wallet


def _reconcile(
    files: LegacyFiles,
    fills: Sequence[PlannedFill],
    account: str,
    initial_balance: Decimal,
    skipped: Sequence[Skipped],
    stale: Mapping[str, str],
) -> list[Comparison]:
    book, wallet = _replay_all(fills, initial_balance)
    by_symbol: dict[str, list[PlannedFill]] = defaultdict(list)
    for planned in fills:
        by_symbol[planned.fill.symbol].append(planned)
    rows: list[Comparison] = []
    if files.paths.state_file is not None:
        rows += _reconcile_trade_manager(files, by_symbol, book, account)
    if files.wallet is not None:
        rows += _reconcile_wallet(files.wallet, by_symbol, book, wallet, account, skipped, stale)
    return rows


def _elsewhere(planned: Sequence[PlannedFill], source: str) -> list[str]:
    """A cause naming the fills of a symbol that come from other sources than `source`."""
    others: dict[str, list[str]] = defaultdict(list)
    for item in planned:
        if item.source != source:
            others[item.source].append(item.where)
    return [
        f"the replay also has {len(wheres)} fill(s) from {other} that {source} lacks ({', '.join(wheres)})"
        for other, wheres in others.items()
    ]


def _reconcile_trade_manager(
    files: LegacyFiles, by_symbol: Mapping[str, list[PlannedFill]], book: PositionBook, account: str
) -> list[Comparison]:
    fold, ours = _fold_trade_manager(files.trades, account)
    rows: list[Comparison] = []
    symbols = sorted(set(files.positions) | {t.symbol for t in files.trades})
    for symbol in symbols:
        record = files.positions.get(symbol)
        replay = _cycle(book, account, symbol)
        tm_only = _cycle(ours, account, symbol)
        legacy = fold.positions.get(symbol)
        story = fold.stories.get(symbol)
        elsewhere = _elsewhere(by_symbol.get(symbol, []), STATE_FILE)
        not_fills = fold.not_fills.get(symbol, [])
        counted = [f"the legacy TradeManager also counted {', '.join(not_fills)}"] if not_fills else []
        if record is None:
            if replay is not None and replay.signed_quantity != 0:
                cause = f"{STATE_FILE} has trades of {symbol} but no position entry for it"
                rows.append(
                    Comparison("trade_manager", symbol, "quantity", None, replay.signed_quantity, "differs", (cause,))
                )
            continue
        replay_quantity = ZERO if replay is None else replay.signed_quantity
        legacy_signed = None if legacy is None else (legacy.amount if legacy.side == "long" else -legacy.amount)
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "quantity",
                record.signed_amount,
                replay_quantity,
                legacy_rules=legacy_signed,
                flaws=counted,
                elsewhere=elsewhere,
            )
        )
        if replay is None:
            continue
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "average",
                record.average_price,
                replay.avg_price,
                legacy_rules=None if legacy is None else legacy.avg,
                flaws=counted,
                elsewhere=elsewhere,
            )
        )
        realized_flaws, fee_flaws = _story_flaws(story, tm_only, legacy)
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "realized",
                record.realized_pnl,
                replay.realized_pnl,
                legacy_rules=None if legacy is None else legacy.realized,
                flaws=[*realized_flaws, *counted],
                elsewhere=elsewhere,
            )
        )
        rows.append(
            _compare(
                "trade_manager",
                symbol,
                "fees",
                record.fees_paid,
                replay.fees,
                legacy_rules=None if legacy is None else legacy.fees,
                flaws=[*fee_flaws, *counted],
                elsewhere=elsewhere,
            )
        )
    if files.statistics is not None:
        rows += _reconcile_statistics(files, fold, ours)
    return rows


def _story_flaws(
    story: _CycleStory | None, cycle: _Cycle | None, legacy: _LegacyPosition | None
) -> tuple[list[str], list[str]]:
    """The named legacy flaws that take the legacy realized PnL and fees away from our cycle's figures.

    Each list is given only when its parts add up exactly to the legacy figure (else the generic
    'not explained' cause stands)."""
    if story is None or cycle is None or legacy is None:
        return [], []
    realized: list[str] = []
    if story.carried_realized != 0:
        how = {
            "flip": "a flip",
            "reopen": "a re-open after a full close",
            "flip_from_closed": "a re-open on the other side",
        }
        realized.append(
            f"realized PnL carried over from {story.earlier_cycles} earlier cycle(s) of the symbol by "
            f"{how.get(story.start, 'the legacy position')} at {_when(story.started_at)}: "
            f"{_amount(story.earlier_realized)} (legacy-system.md §1.3; tradeledger keeps it in the closed cycles)"
        )
        rounded = story.carried_realized - story.earlier_realized
        if not _nearly(story.carried_realized, story.earlier_realized):
            realized.append(
                f"the carried realized PnL was rounded down to 8 places when the flip built the new position: "
                f"{_amount(rounded)} (legacy-system.md §1.2)"
            )
    with localcontext(LEDGER_CONTEXT):
        if not _nearly(cycle.realized_pnl + story.carried_realized, legacy.realized):
            realized = []
        fees: list[str] = []
        if story.dropped_count:
            fees.append(
                f"the fees of {story.dropped_count} reducing fill(s), {_amount(story.dropped_fees)}, "
                "were never added to fees_paid (legacy-system.md §1.3)"
            )
        if story.start == "flip" and story.flip_fee != 0:
            fees.append(
                f"the flip at {_when(story.started_at)} put its whole fee {_amount(story.flip_fee)} "
                "on the new position; tradeledger books the closing share "
                f"{_amount(story.fee_start_difference)} in the closed cycle (legacy-system.md §1.3)"
            )
        elif story.start == "reopen" and story.fee_start_difference != 0:
            fees.append(
                f"re-opened on the same side after a full close at {_when(story.started_at)}: the legacy position "
                f"kept {_amount(story.fee_start_difference)} of fees from before (legacy-system.md §1.3)"
            )
        if story.start in ("flip", "flip_from_closed") and story.earlier_fees != 0:
            fees.append(
                f"the {_amount(story.earlier_fees)} of fees paid before the flip are on no legacy position "
                "(old fees lost on a flip, legacy-system.md §1.3)"
            )
        if not _nearly(cycle.fees + story.fee_start_difference - story.dropped_fees, legacy.fees):
            fees = []
    return realized, fees


def _reconcile_statistics(files: LegacyFiles, fold: _LegacyFold, ours: PositionBook) -> list[Comparison]:
    assert files.statistics is not None
    tm_fills = [t.fill for t in files.trades if t.fill is not None]
    unique = list({fill.fill_id: fill for fill in tm_fills}.values())
    with localcontext(LEDGER_CONTEXT):
        replay = {
            "total_trades": Decimal(len(unique)),
            "total_volume": sum((f.quantity * f.price for f in unique), ZERO),
            "total_fees": sum((f.fee for f in unique), ZERO),
            "total_realized_pnl": sum((t.realized_pnl for t in ours.totals.values()), ZERO),
        }
    rules = {
        "total_trades": Decimal(fold.total_trades),
        "total_volume": fold.total_volume,
        "total_fees": fold.total_fees,
        "total_realized_pnl": fold.total_realized,
    }
    not_fills = [item for items in fold.not_fills.values() for item in items]
    counted = [f"the legacy TradeManager also counted {', '.join(not_fills)}"] if not_fills else []
    stored = "statistics are stored, not derived from the trades (legacy-system.md §1.4, §8.2)"
    return [
        _compare(
            "statistics",
            None,
            name,
            files.statistics[name],
            replay[name],
            legacy_rules=rules[name],
            flaws=counted,
            unexplained=stored,
        )
        for name in replay
        if name in files.statistics
    ]


def _reconcile_wallet(
    legacy: LegacyWallet,
    by_symbol: Mapping[str, list[PlannedFill]],
    book: PositionBook,
    wallet: WalletBook,
    account: str,
    skipped: Sequence[Skipped],
    stale: Mapping[str, str],
) -> list[Comparison]:
    rows: list[Comparison] = []
    entries: dict[str, list[WalletEntry]] = defaultdict(list)
    for entry in legacy.entries:
        if entry.symbol is not None:
            entries[entry.symbol].append(entry)
    replay_open = {symbol for (owner, symbol) in book.open if owner == account}
    for symbol in sorted(set(entries) | replay_open):
        held = entries.get(symbol, [])
        position = book.open.get((account, symbol))
        with localcontext(LEDGER_CONTEXT):
            quantity = sum((e.signed_quantity for e in held), ZERO)
            cost = sum((e.cost for e in held), ZERO)
            average = cost / sum((e.quantity for e in held), ZERO) if held and quantity != 0 else None
        causes: list[str] = []
        if symbol in stale:
            causes.append(
                f"the wallet was not updated when the position closed: {stale[symbol]} (legacy-system.md §3.3)"
            )
        elif not held:
            sources = sorted({p.source for p in by_symbol.get(symbol, [])})
            causes.append(
                f"the wallet does not hold it; the replay opens it from {' and '.join(sources)} (the legacy bot "
                "recorded trades the wallet never booked: CEX fills, refused or reset wallet opens; "
                "legacy-system.md §3.3, §6.4)"
            )
        else:
            shapes = {e.shape for e in held}
            if len(held) > 1:
                keys = ", ".join(f"{e.key} ({e.shape})" for e in held)
                causes.append(f"held under {len(held)} wallet keys: {keys} (legacy-system.md §2.2)")
            if len(shapes) == 1 and position is not None and (position.signed_quantity > 0) != (quantity > 0):
                causes.append(
                    "the wallet's side disagrees with the fills (long/short vs buy/sell, legacy-system.md §2.2)"
                )
            primary = [
                s for s in skipped if s.source == WALLET_FILE and s.symbol == symbol and "is open in" in s.reason
            ]
            if primary:
                causes.append(
                    "the wallet and the primary record disagree; the legacy bot updated them separately "
                    "(legacy-system.md §3.3)"
                )
        replay_quantity = ZERO if position is None else position.signed_quantity
        rows.append(_wallet_row(symbol, "quantity", quantity, replay_quantity, causes))
        if average is not None and position is not None:
            rows.append(_wallet_row(symbol, "average", average, position.avg_price, causes))
    rows.append(_wallet_cash(legacy, book, wallet, account))
    return rows


def _wallet_row(symbol: str, name: str, legacy: Decimal, replay: Decimal, causes: Sequence[str]) -> Comparison:
    row = _compare("wallet", symbol, name, legacy, replay)
    if row.status == "differs":
        return replace(row, causes=tuple(causes) or ("the wallet and the fills disagree (legacy-system.md §3.3)",))
    return row


def _wallet_cash(legacy: LegacyWallet, book: PositionBook, wallet: WalletBook, account: str) -> Comparison:
    """Wallet cash: the legacy balance against the replay's, the difference split into named parts.

    replay - legacy = (B0 - W0) + (realized_r - realized_w) - fees_r - (cost_r - cost_w) - off_books, where
    off_books is how far the legacy balance is from the wallet's own books (W0 + realized_w - cost_w)."""
    with localcontext(LEDGER_CONTEXT):
        wallet_cost = sum((entry.cost for entry in legacy.entries), ZERO)
        replay_cost = sum((p.quantity * p.avg_price for (owner, _), p in book.open.items() if owner == account), ZERO)
        own_books = legacy.initial_balance + legacy.realized_pnl - wallet_cost
        off_books = ZERO if _close(legacy.balance, own_books) else legacy.balance - own_books
        parts = [
            (
                wallet.initial_balance - legacy.initial_balance,
                (
                    f"initial balance: {_amount(wallet.initial_balance)} configured, "
                    f"{_amount(legacy.initial_balance)} in the wallet file "
                    "(fix scripts overwrote it, legacy-system.md §6.1)"
                ),
            ),
            (
                wallet.realized_pnl - legacy.realized_pnl,
                (
                    f"realized PnL: the replay books {_amount(wallet.realized_pnl)}, "
                    f"the wallet {_amount(legacy.realized_pnl)}"
                ),
            ),
            (
                -wallet.fees,
                (
                    f"fees: the replay deducts {_amount(wallet.fees)}; "
                    "the legacy wallet has no fee model (legacy-system.md §2.3)"
                ),
            ),
            (
                wallet_cost - replay_cost,
                (
                    f"positions at cost: the replay holds {_amount(replay_cost)}, "
                    f"the wallet {_amount(wallet_cost)} (see the wallet rows)"
                ),
            ),
            (
                -off_books,
                (
                    f"the legacy balance is {_amount(off_books)} off the wallet's own books (initial + realized "
                    f"- positions at cost = {_amount(own_books)}): long closes credited only the PnL, or syncs "
                    "that replaced positions without moving cash (legacy-system.md §2.3)"
                ),
            ),
        ]
    causes = [f"{text}: {_amount(amount)}" for amount, text in parts if amount != 0]
    if legacy.balance < 0:
        causes.append(
            f"the legacy balance is negative ({_amount(legacy.balance)}); the legacy wallet clamps it to 0 "
            "when it loads (legacy-system.md §2.1, §2.4)"
        )
    row = _compare("wallet", None, "cash", legacy.balance, wallet.cash)
    return row if row.status == "match" else replace(row, causes=(*row.causes, *causes))


# --- backups, the append and the check -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backup:
    """The backup of one migration run: the copies and the manifest the rollback and restore commands read."""

    stamp: str
    folder: Path
    manifest: Path
    files: Mapping[str, str]  # original path -> backup file name (in `folder`)

    def backup_of(self, source: str) -> Path | None:
        name = BACKUP_NAMES.get(source, "").format(stamp=self.stamp)
        return self.folder / name if name in self.files.values() else None


@dataclass(frozen=True, slots=True)
class MigrationResult:
    appended: int
    head_before: Checkpoint
    head_after: Checkpoint | None  # None for a dry run
    backup: Backup | None
    verify_ok: bool | None = None
    verify_problems: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # planned fills not found in the ledger after the append

    @property
    def ok(self) -> bool:
        return self.verify_ok is not False and not self.missing


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"epoch": checkpoint.epoch, "seq": checkpoint.seq, "hash": checkpoint.hash}


def backup_stamp(when: datetime) -> str:
    """The time part of backup names: UTC, YYYYmmdd_HHMMSS."""
    moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def _manifest(
    backup: Backup, created_at: datetime, ledger_url: str, before: Checkpoint, after: Checkpoint | None, appended: int
) -> bytes:
    manifest = {
        "created_at": created_at.astimezone(UTC).isoformat(),
        "ledger": ledger_url,
        "head_before": checkpoint_json(before),
        "head_after": None if after is None else checkpoint_json(after),
        "appended": appended,
        "files": dict(backup.files),
    }
    return (json.dumps(manifest, indent=2) + "\n").encode("utf-8")


def write_backups(
    files: LegacyFiles, folder: Path, *, clock: Clock, ledger_url: str, head_before: Checkpoint
) -> Backup:
    """Copy the source files (the bytes that were read) into `folder` and write the manifest.

    Names carry the clock's UTC time; a backup is never replaced: when one of the same second exists
    (a dry run with --backup just before), the names take the next free suffix (`<ts>_2`, `<ts>_3` …).
    """
    created_at = clock()
    base = backup_stamp(created_at)
    for attempt in itertools.count(1):
        stamp = base if attempt == 1 else f"{base}_{attempt}"
        copies = {
            source: (path, folder / BACKUP_NAMES[source].format(stamp=stamp))
            for source, path in files.paths.items()
            if source in BACKUP_NAMES
        }
        manifest = folder / MANIFEST_NAME.format(stamp=stamp)
        if not any(target.exists() for target in [manifest, *(target for _, target in copies.values())]):
            break
    backup = Backup(
        stamp=stamp,
        folder=folder,
        manifest=manifest,
        files={str(path.absolute()): target.name for path, target in copies.values()},
    )
    for source, (_, target) in copies.items():
        write_bytes_atomically(target, bytes(files.raw[source]), exclusive=True)
    write_bytes_atomically(manifest, _manifest(backup, created_at, ledger_url, head_before, None, 0), exclusive=True)
    return backup


def run_migration(
    ledger: Ledger,
    plan: MigrationPlan,
    files: LegacyFiles,
    *,
    backup_folder: Path,
    clock: Clock,
    ledger_url: str,
    dry_run: bool,
    backup: bool,
) -> MigrationResult:
    """Back up (always for a real run; with `backup` for a dry run), then append the new fills in one
    transaction, complete the manifest and verify. A dry run appends nothing."""
    if not dry_run and not backup:
        raise MigrationError(
            "a migration that appends must back up the legacy files first (--no-backup is for --dry-run only)"
        )
    head_before = ledger.head
    made = (
        write_backups(files, backup_folder, clock=clock, ledger_url=ledger_url, head_before=head_before)
        if backup
        else None
    )
    if dry_run:
        return MigrationResult(0, head_before, None, made)
    receipts = ledger.record_many(planned.fill for planned in plan.new)
    appended = sum(not receipt.duplicate for receipt in receipts)
    head_after = ledger.head
    if made is not None:
        created_at = clock()
        write_bytes_atomically(
            made.manifest, _manifest(made, created_at, ledger_url, head_before, head_after, appended)
        )
    report = ledger.verify()
    recorded: dict[str, list[Fill]] = defaultdict(list)
    for item in ledger.history(account=plan.account):
        recorded[item.fill.fill_id].append(item.fill)
    missing = tuple(
        f"{planned.source} {planned.where}: fill {planned.fill.fill_id}"
        for planned in plan.fills
        if not any(_same_fill(held, planned.fill) for held in recorded.get(planned.fill.fill_id, []))
    )
    problems = tuple(f"{'ledger' if p.seq is None else f'seq {p.seq}'}: {p.check}: {p.detail}" for p in report.problems)
    return MigrationResult(appended, head_before, head_after, made, report.ok, problems, missing)


def rollback_commands(result: MigrationResult, files: LegacyFiles, *, db_option: str = "") -> list[str]:
    """The commands that undo a migration: `restore` (the audited rollback of the ledger to where the
    migration found it, then the legacy files put back), and the seed's own `cp` of the state file.

    A bare `rollback` is not offered: it would rewrite the legacy files from the rolled-back log
    instead of bringing the originals back. Nothing to undo when nothing was appended."""
    if result.backup is None or result.appended == 0:
        return []
    commands = [f"tradeledger{db_option} restore {result.backup.manifest}"]
    copy = result.backup.backup_of(STATE_FILE)
    if copy is not None and files.paths.state_file is not None:
        commands.append(f"cp {copy} {files.paths.state_file}")
    return commands


def wallet_initial_balance(config_initial: Decimal | None, config_path: Path | None) -> tuple[Decimal, str]:
    """The wallet's starting balance: the config's paper_wallet.initial_balance, else
    paper_wallet_config.yaml beside the config, else 10000 (legacy-system.md §2.1); and where it came from."""
    if config_initial is not None:
        return config_initial, "paper_wallet.initial_balance in the config"
    if config_path is not None:
        beside = config_path.parent / "paper_wallet_config.yaml"
        if beside.is_file():
            try:
                values = YAML(typ="safe", pure=True).load(beside.read_text(encoding="utf-8"))
            except (OSError, YAMLError, UnicodeDecodeError, RecursionError) as error:
                raise MigrationError(f"{beside}: cannot read it ({error})") from None
            if isinstance(values, dict) and values.get("initial_balance") is not None:
                balance = _number(values["initial_balance"], f"{beside}: initial_balance")
                if balance <= 0:
                    raise MigrationError(f"{beside}: initial_balance must be above 0 (got {balance})")
                return balance, str(beside)
    return Decimal(10000), "the legacy default"
