"""Reading the legacy files: each file's bytes once, parsed into the shapes of `legacy`, bad values named.

Fees in another currency (spec section 9): a trade dict with `fee_currency` (or its alias `fee_asset`
or `commission_asset`) has its `fees` in that currency, valued by `fee_quote_value` when it is a third
currency (else unvalued); a trades.csv whose header names a fee column (`fee` or `fees`) and a
`fee_currency` column (or an alias) gives each row that fee. Without one, as before: the quote currency.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tradeledger.application.appending import validate_fill
from tradeledger.compat.migration.legacy import (
    CSV_HEADER,
    DEFAULT_ACCOUNT,
    LEGACY_EXCHANGE,
    LOG_LINE,
    MAX_LOG_LINE,
    POSITIONS_LOG,
    PROGRESS_EVERY,
    STATE_FILE,
    TRADES_CSV,
    WALLET_FILE,
    WALLET_SIDES,
    CsvRow,
    LegacyFiles,
    LegacyPaths,
    LegacyPositionRecord,
    LegacyTrade,
    LegacyWallet,
    LoggedPosition,
    MigrationError,
    Progress,
    WalletEntry,
    check_position_trades,
    content_id,
    fill_number,
    legacy_number,
    legacy_text,
    utc_time,
)
from tradeledger.compat.trades import Trade
from tradeledger.compat.yaml_text import load_bounded
from tradeledger.domain.fills import Side, decimal_text, time_text
from tradeledger.domain.json_values import json_int
from tradeledger.domain.markets import market
from tradeledger.domain.positions import (
    ZERO,
    PositionSide,
)
from tradeledger.errors import LedgerError


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


def _read_state(
    path: Path, data: bytes, account: str, report: Progress
) -> tuple[tuple[LegacyTrade, ...], dict[str, LegacyPositionRecord], dict[str, Decimal] | None]:
    try:
        state = json.loads(legacy_text(path, data), parse_int=json_int)  # a long int: a Decimal, refused by its key
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
    positions = _state_positions(path, state.get("positions"), items)
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
    amount = fill_number(item["amount"], f"{where}: amount")
    price = fill_number(item["price"], f"{where}: price")
    fees = fill_number(item.get("fees", 0), f"{where}: fees")
    item = _fee_currency_named(item, where)
    timestamp = utc_time(item["timestamp"], f"{where}: timestamp")
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
                    "fees": trade.fee_entries,
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


# The names a legacy file may give the fee's currency; the first is ours.
FEE_CURRENCY_NAMES = ("fee_currency", "fee_asset", "commission_asset")
# trades.csv header columns besides CSV_HEADER that make the reader read rows by column name.
_CSV_FEE_COLUMNS = ("fee", "fees", *FEE_CURRENCY_NAMES, "fee_quote_value")


def _fee_currency_named(item: dict[str, object], where: str) -> dict[str, object]:
    """The trade dict with its fee currency under `fee_currency`, whichever alias the file used."""
    given = {name: item[name] for name in FEE_CURRENCY_NAMES if item.get(name) not in (None, "")}
    if len(set(map(str, given.values()))) > 1:
        raise MigrationError(f"{where}: {' and '.join(given)} name different fee currencies ({given})")
    renamed = {key: value for key, value in item.items() if key not in FEE_CURRENCY_NAMES}
    if given:
        renamed["fee_currency"] = next(iter(given.values()))
    if "fee_quote_value" in renamed and renamed["fee_quote_value"] is None:
        del renamed["fee_quote_value"]
    return renamed


def _state_positions(path: Path, positions: object, trades: list[object]) -> dict[str, LegacyPositionRecord]:
    if positions is None:
        return {}
    if not isinstance(positions, dict):
        raise MigrationError(f"{path}: 'positions' must be an object keyed by symbol (got {positions!r:.80})")
    records = {}
    by_id: dict[str, tuple[int, dict[str, object]]] = {}
    for index, trade in enumerate(trades):
        assert isinstance(trade, dict)  # read by _legacy_trade first
        by_id.setdefault(str(trade["id"]), (index, trade))
    for symbol, item in positions.items():
        where = f"{path}: positions[{symbol!r}]"
        if not isinstance(item, dict):
            raise MigrationError(f"{where}: must be a position object (got {item!r:.80})")
        check_position_trades(where, item.get("trades"), by_id)
        side = item.get("side")
        if side not in (PositionSide.LONG, PositionSide.SHORT):
            raise MigrationError(f"{where}: side must be 'long' or 'short' (got {side!r})")
        records[str(symbol)] = LegacyPositionRecord(
            symbol=str(symbol),
            side=str(side),
            total_amount=legacy_number(item.get("total_amount", 0), f"{where}: total_amount"),
            average_price=legacy_number(item.get("average_price", 0), f"{where}: average_price"),
            realized_pnl=legacy_number(item.get("realized_pnl", 0), f"{where}: realized_pnl"),
            fees_paid=legacy_number(item.get("fees_paid", 0), f"{where}: fees_paid"),
        )
    return records


def _state_statistics(path: Path, statistics: object) -> dict[str, Decimal] | None:
    if statistics is None:
        return None
    if not isinstance(statistics, dict):
        raise MigrationError(f"{path}: 'statistics' must be an object (got {statistics!r:.80})")
    keys = ("total_trades", "total_volume", "total_fees", "total_realized_pnl")
    return {key: legacy_number(statistics[key], f"{path}: statistics.{key}") for key in keys if key in statistics}


def _read_csv(path: Path, data: bytes, account: str, report: Progress) -> tuple[CsvRow, ...]:
    text = legacy_text(path, data)
    lines = text.splitlines()
    rows: list[CsvRow] = []
    columns: dict[str, int] | None = None
    for number, fields in enumerate(csv.reader(lines), start=1):
        if number % PROGRESS_EVERY == 0:
            report(f"reading {path.name}", number, len(lines))
        if not fields or all(not value.strip() for value in fields):
            continue
        if number == 1 and tuple(value.strip().lower() for value in fields[:5]) == CSV_HEADER:
            # A header line (the legacy file has none, a hand-made copy might); with fee columns the
            # rows are read by column name.
            columns = _csv_columns(path, [value.strip().lower() for value in fields])
            continue
        if columns is not None:
            rows.append(_csv_row_by_name(path, number, fields, account, columns))
        else:
            rows.append(_csv_row(path, number, fields, account))
    report(f"reading {path.name}", len(lines), len(lines))
    _refuse_a_cut_last_row(path, text, lines, rows)
    return tuple(rows)


def _refuse_a_cut_last_row(path: Path, text: str, lines: list[str], rows: list[CsvRow]) -> None:
    """The legacy bot ends every row it appends with a line end; a last row without one was cut off while
    written. Where the cut leaves a row that still reads (a time to the second, a fraction cut short, no
    is_stop), its fill would have another time and fill id than the whole row's: refused, never read as it
    parses (checked after the rows, so a cut that leaves no row names what it broke)."""
    if not rows or text.endswith(("\n", "\r")) or not lines[-1].strip() or rows[-1].line != len(lines):
        return
    raise MigrationError(
        f"{path}: line {len(lines)}: no line end after its last field {lines[-1].rsplit(',', 1)[-1].strip()!r}: "
        "the row was cut off while the file was written (the legacy bot ends each row with one); if the row is "
        "whole, end it with a line end"
    )


def _csv_columns(path: Path, names: list[str]) -> dict[str, int] | None:
    """The columns of a header naming fee columns, by name; None for a header without any (read as before)."""
    if not set(names) & set(_CSV_FEE_COLUMNS):
        return None
    known = {*CSV_HEADER, "is_stop", *_CSV_FEE_COLUMNS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise MigrationError(f"{path}: line 1: unknown columns {unknown}; known: {', '.join(sorted(known))}")
    if len(set(names)) != len(names):
        raise MigrationError(f"{path}: line 1: a column is named twice ({','.join(names)})")
    if "fee" in names and "fees" in names:
        raise MigrationError(f"{path}: line 1: give the fee in one column, fee or fees")
    return {name: index for index, name in enumerate(names)}


def _csv_row_by_name(path: Path, number: int, fields: list[str], account: str, columns: dict[str, int]) -> CsvRow:
    """A row of a trades.csv with a header naming fee columns: the fee in its currency, if any."""
    where = f"{path}: line {number}"
    if len(fields) != len(columns):
        raise MigrationError(f"{where}: expected {len(columns)} fields as the header names (got {len(fields)})")
    value = {name: fields[index].strip() for name, index in columns.items()}
    positional = [value[name] for name in CSV_HEADER]
    if "is_stop" in value:
        positional.append(value["is_stop"] or "False")
    row = _csv_row(path, number, positional, account)
    fee_text = value.get("fee") or value.get("fees") or ""
    currencies = {value[name] for name in FEE_CURRENCY_NAMES if value.get(name)}
    if len(currencies) > 1:
        raise MigrationError(f"{where}: the fee currency columns disagree ({', '.join(sorted(currencies))})")
    currency = next(iter(currencies), None)
    quote_text = value.get("fee_quote_value") or ""
    if row.fill is None or not fee_text:
        if (currency or quote_text) and row.fill is not None:
            raise MigrationError(f"{where}: a fee currency or quote value is given without a fee")
        return row
    fee = fill_number(fee_text, f"{where}: fee")
    if fee == 0:
        return row
    entry: dict[str, object] = {"amount": fee}
    if currency:
        entry["currency"] = currency
    if quote_text:
        entry["quote_value"] = fill_number(quote_text, f"{where}: fee_quote_value")
    parts = (decimal_text(fee), currency or market(row.symbol).quote, quote_text)
    fill = validate_fill(
        {
            **row.fill.model_dump(exclude={"type", "fees"}),
            "fill_id": content_id(
                "csv",
                TRADES_CSV,
                number,
                row.symbol,
                row.side.value,
                decimal_text(row.amount),
                decimal_text(row.price),
                time_text(row.timestamp),
                *parts,
            ),
            "fees": [entry],
        },
        where=where,
    )
    return replace(row, fill=fill)


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
    amount = fill_number(amount_text, f"{where}: amount")
    price = fill_number(price_text, f"{where}: price")
    timestamp = utc_time(time_text_, f"{where}: timestamp")
    is_stop = stop_text == "true"
    skip = None
    if is_stop:
        skip = "is_stop is True: a stop order's row, skipped as the legacy replay skipped it"
    elif amount == 0:
        skip = "amount 0: moves no position"
    fill = None
    if skip is None:
        fill_id = content_id(
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
        state = load_bounded(YAML(typ="safe", pure=True), legacy_text(path, data))
    except YAMLError as error:
        raise MigrationError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(state, dict):
        raise MigrationError(f"{path}: expected the wallet's mapping of balance, positions, … (got {state!r:.80})")
    positions = state.get("positions") or {}
    if not isinstance(positions, dict):
        raise MigrationError(f"{path}: positions must be a mapping (got {positions!r:.80})")
    entries = [_wallet_entry(path, str(key), item) for key, item in positions.items()]
    return LegacyWallet(
        balance=legacy_number(state.get("balance"), f"{path}: balance"),
        initial_balance=legacy_number(state.get("initial_balance"), f"{path}: initial_balance"),
        realized_pnl=legacy_number(state.get("realized_pnl", 0), f"{path}: realized_pnl"),
        entries=tuple(entries),
    )


def _wallet_entry(path: Path, key: str, item: object) -> WalletEntry:
    where = f"{path}: positions[{key!r}]"
    if not isinstance(item, dict):
        raise MigrationError(f"{where}: must be a position mapping (got {item!r:.80})")
    written_side = item.get("side")
    if not isinstance(written_side, str) or written_side.lower() not in WALLET_SIDES:
        raise MigrationError(f"{where}: side must be buy, sell, long or short (got {written_side!r})")
    quantity_key = "size" if item.get("size") is not None else "amount"
    quantity = fill_number(item.get(quantity_key), f"{where}: {quantity_key}")
    if quantity_key == "size" and item.get("amount") is not None:
        # Both shapes at once (legacy-system.md §2.2): one quantity written twice is read; two are refused.
        amount = fill_number(item["amount"], f"{where}: amount")
        if amount != quantity:
            raise MigrationError(
                f"{where}: size {item['size']!r} and amount {item['amount']!r} give two quantities for one position"
            )
    entry_price = fill_number(item.get("entry_price"), f"{where}: entry_price")
    if quantity < 0 or entry_price <= 0:
        raise MigrationError(
            f"{where}: {quantity_key} must be 0 or more and entry_price above 0 (got {quantity} and {entry_price})"
        )
    time_key = "entry_time" if "entry_time" in item else "timestamp"
    if "symbol" not in item and "/" not in key:
        # Every legacy shape writes `symbol` (None for an open without one, legacy-system.md §2.2): an entry
        # under a trade-id key without it is a file cut off or edited, not a position opened without a symbol.
        raise MigrationError(
            f"{where}: symbol is missing (every legacy wallet position names one, or None; a file cut off?)"
        )
    symbol = item.get("symbol", key if "/" in key else None)
    if symbol is not None and not isinstance(symbol, str):
        raise MigrationError(f"{where}: symbol must be text or None (got {symbol!r})")
    if symbol is not None and "/" in key and symbol != key:
        raise MigrationError(f"{where}: the entry's symbol {symbol!r} contradicts its key")
    reserved = item.get("reserved")
    return WalletEntry(
        key=key,
        symbol=symbol,
        side=WALLET_SIDES[written_side.lower()],
        written_side=written_side.lower(),
        quantity=quantity,
        quantity_key=quantity_key,
        entry_price=entry_price,
        opened_at=utc_time(item.get(time_key), f"{where}: {time_key}"),
        fee=fill_number(item.get("fees_paid", 0), f"{where}: fees_paid"),
        reserved=None if reserved is None else legacy_number(reserved, f"{where}: reserved"),
    )


def _read_positions_log(path: Path, data: bytes, report: Progress) -> tuple[LoggedPosition, ...]:
    lines = legacy_text(path, data).splitlines()
    last: dict[str, LoggedPosition] = {}
    for number, line in enumerate(lines, start=1):
        if number % PROGRESS_EVERY == 0:
            report(f"reading {path.name}", number, len(lines))
        if "Active " not in line:
            continue  # the log's other lines (wallet balance, …)
        if len(line) > MAX_LOG_LINE:
            raise MigrationError(
                f"{path}: line {number}: longer than {MAX_LOG_LINE:,} characters ({len(line):,}); a line naming a "
                f"position is ~140 (starts {line[:40]!r})"
            )
        found = LOG_LINE.search(line)
        if found is None:
            raise MigrationError(
                f"{path}: line {number}: not an 'Active SYMBOL side amount entry …' line (got {line!r})"
            )
        last[found["symbol"]] = LoggedPosition(
            line=number,
            logged_at=line[: found.start()].split(" - ")[0].strip(),
            symbol=found["symbol"],
            side=found["side"],
            amount=legacy_number(found["amount"], f"{path}: line {number}: amount"),
            entry_price=legacy_number(found["entry"], f"{path}: line {number}: entry"),
        )
    report(f"reading {path.name}", len(lines), len(lines))
    return tuple(sorted(last.values(), key=lambda logged: logged.line))
