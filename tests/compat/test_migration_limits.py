"""Legacy numbers at and beyond the ledger's limits (a fill's amounts: 1E-24..1E+24, at most 28 significant
digits): a meme-coin amount of 3.5e21 or a holding of 1e22 migrates exactly; a value no fill can hold
(1e300, 1e-30, 1E+25, nan, inf) is refused before anything is read further, naming the file, the legacy
field and the value; the legacy figures only compared with the replay (a position record, the statistics,
the wallet's balance) are kept as read and shown as a disagreement.

The files are written here in the shapes of `shared/fixtures/legacy-real/` and the state file of
`shared/fixtures/legacy-generated/` (reference/legacy-system.md sections 1.4 and 2.2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tradeledger import Ledger
from tradeledger.compat.migration import (
    STATE_FILE,
    TRADES_CSV,
    WALLET_FILE,
    LegacyPaths,
    MigrationError,
    plan_migration,
    read_legacy_files,
    run_migration,
    wallet_initial_balance,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def trade(**changes: object) -> dict[str, object]:
    """One trade of the legacy state file (its keys as the legacy TradeManager wrote them)."""
    return {
        "id": "t-pepe-1",
        "symbol": "PEPE/USDT",
        "side": "buy",
        "amount": 3.5e21,
        "price": 0.0000001,
        "timestamp": "2025-08-26T19:01:55.574138",
        "strategy": "",
        "exchange": "",
        "fees": 0.35,
        "status": "filled",
        "order_id": None,
        "client_order_id": None,
        "metadata": {},
        **changes,
    }


def state_file(logs: Path, *trades: dict[str, object], **extra: object) -> Path:
    """A trade_manager_state.json; JSON numbers written as Python's json writes floats (3.5e+21)."""
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / STATE_FILE
    path.write_text(json.dumps({"trades": list(trades), **extra}))
    return path


def wallet_file(logs: Path, *, amount: str = "1e22", entry_price: str = "0.00000001", fees_paid: str = "0.0",
                balance: str = "10000.0", key: str = "amount") -> Path:  # fmt: skip
    """A paper_wallet_state.yaml of the symbol-keyed shape (legacy-real/paper_wallet_state.symbol_keyed.yaml)."""
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / WALLET_FILE
    path.write_text(
        f"balance: {balance}\ninitial_balance: 10000.0\nrealized_pnl: 0.0\npositions:\n"
        f"  BONK/USD:\n    {key}: {amount}\n    entry_price: {entry_price}\n"
        f"    entry_time: '2025-09-01T07:11:40.746983'\n    fees_paid: {fees_paid}\n    reserved: 0.0\n"
        "    side: long\n    symbol: BONK/USD\n"
    )
    return path


def csv_file(logs: Path, text: str) -> Path:
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / TRADES_CSV
    path.write_text(text)
    return path


def migrate(logs: Path, ledger: Ledger) -> None:
    files = read_legacy_files(LegacyPaths.resolve(logs))
    plan = plan_migration(files, ledger, initial_balance=Decimal(10000))
    run_migration(ledger, plan, files, backup_folder=logs / "migration_backup", clock=lambda: NOW, ledger_url="x",
                  dry_run=False, backup=True)  # fmt: skip


def test_a_meme_coin_amount_of_3_5e21_in_the_state_file_migrates_exactly(tmp_path: Path, ledger: Ledger) -> None:
    logs = tmp_path / "logs"
    state_file(logs, trade(), trade(id="t-pepe-2", side="sell", amount=1.5e21, price=0.0000002, fees=0.3))

    migrate(logs, ledger)

    [position] = ledger.positions()
    assert position.quantity == Decimal(2000000000000000000000)
    assert position.avg_price == Decimal("0.0000001")
    assert position.realized_pnl == Decimal(150000000000000)  # (0.0000002 - 0.0000001) x 1.5e21
    assert position.fees == Decimal("0.65")


def test_the_legacy_replay_of_a_huge_amount_agrees_with_ours(tmp_path: Path, ledger: Ledger) -> None:
    """The legacy TradeManager's rules (8 places, rounding down) leave 3.5e21 as it is: nothing to reconcile."""
    logs = tmp_path / "logs"
    position = {"symbol": "PEPE/USDT", "side": "long", "total_amount": 3.5e21, "average_price": 0.0000001,
                "realized_pnl": 0.0, "fees_paid": 0.35}  # fmt: skip
    state_file(logs, trade(), positions={"PEPE/USDT": position})

    plan = plan_migration(read_legacy_files(LegacyPaths.resolve(logs)), ledger)

    assert [row for row in plan.reconciliation if row.status == "differs"] == []
    [planned] = plan.fills
    assert planned.fill.quantity == Decimal(3500000000000000000000)


def test_a_wallet_holding_1e22_migrates_exactly(tmp_path: Path, ledger: Ledger) -> None:
    logs = tmp_path / "logs"
    wallet_file(logs, amount="1e22", entry_price="0.00000001")

    migrate(logs, ledger)

    [position] = ledger.positions()
    assert (position.quantity, position.avg_price) == (Decimal(10000000000000000000000), Decimal("0.00000001"))


def test_a_csv_row_of_1e22_migrates_exactly(tmp_path: Path, ledger: Ledger) -> None:
    logs = tmp_path / "logs"
    csv_file(logs, "BONK/USD,buy,1e22,0.00000001,2025-08-26T19:01:55.574138,False\n")

    migrate(logs, ledger)

    [position] = ledger.positions()
    assert position.quantity == Decimal(10000000000000000000000)


OUT_OF_LIMITS = ["1e300", "1e-30", "1E+25", "nan", "inf"]


FEE_HEADER = "symbol,side,amount,price,timestamp,fee,fee_currency"
# How each value is written in a file, and how the error line quotes it.
JSON_TEXT = {"nan": "NaN", "inf": "Infinity"}
YAML_TEXT = {"nan": ".nan", "inf": ".inf"}
QUOTED = {"1e300": "1E+300", "1e-30": "1E-30", "1E+25": "1E+25", "nan": "nan", "inf": "inf"}


def refusal(logs: Path, ledger: Ledger) -> str:
    with pytest.raises(MigrationError) as raised:
        migrate(logs, ledger)
    assert ledger.history() == []
    assert not (logs / "migration_backup").exists()
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("value", OUT_OF_LIMITS)
@pytest.mark.parametrize("field", ["amount", "price", "fees"])
def test_a_state_file_trade_beyond_the_limits_is_refused_naming_file_field_and_value(
    tmp_path: Path, ledger: Ledger, field: str, value: str
) -> None:
    refused_state_trade(tmp_path, ledger, field, value, "filled")


@pytest.mark.parametrize("value", OUT_OF_LIMITS)
@pytest.mark.parametrize("field", ["amount", "price", "fees"])
def test_a_state_file_trade_that_is_no_fill_is_held_to_the_limits_too(
    tmp_path: Path, ledger: Ledger, field: str, value: str
) -> None:
    """The legacy TradeManager counted a trade of status pending without it being a fill: its numbers enter the
    legacy replay that the reconciliation compares, so they are held to a fill's limits too."""
    refused_state_trade(tmp_path, ledger, field, value, "pending")


def refused_state_trade(tmp_path: Path, ledger: Ledger, field: str, value: str, status: str) -> None:
    logs = tmp_path / "logs"
    path = state_file(logs, trade(**{field: "@@", "status": status}))
    path.write_text(path.read_text().replace('"@@"', JSON_TEXT.get(value, value)))

    message = refusal(logs, ledger)

    assert message.startswith(f"{path}: trades[0] (id 't-pepe-1'): {field}: "), message
    assert QUOTED[value] in message, message


@pytest.mark.parametrize("value", OUT_OF_LIMITS)
@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("amount", "BONK/USD,buy,@@,0.00000001,2025-08-26T19:01:55,False\n"),
        ("price", "BONK/USD,buy,1e22,@@,2025-08-26T19:01:55,False\n"),
        ("amount", "BONK/USD,buy,@@,0.00000001,2025-08-26T19:01:55,True\n"),  # a stop row, skipped
        ("fee", f"{FEE_HEADER}\nBONK/USD,buy,1e22,0.00000001,2025-08-26T19:01:55,@@,USD\n"),
        ("fee_quote_value", f"{FEE_HEADER},fee_quote_value\nBONK/USD,buy,1e22,1E-8,2025-08-26T19:01:55,1,BNB,@@\n"),
    ],
)  # fmt: skip
def test_a_trades_csv_value_beyond_the_limits_is_refused_naming_file_field_and_value(
    tmp_path: Path, ledger: Ledger, field: str, text: str, value: str
) -> None:
    logs = tmp_path / "logs"
    path = csv_file(logs, text.replace("@@", value))
    line = text.count("\n")

    message = refusal(logs, ledger)

    assert message.startswith(f"{path}: line {line}: {field}: "), message
    assert QUOTED[value] in message, message


@pytest.mark.parametrize("value", OUT_OF_LIMITS)
@pytest.mark.parametrize("field", ["amount", "size", "entry_price", "fees_paid"])
def test_a_wallet_value_beyond_the_limits_is_refused_naming_file_field_and_value(
    tmp_path: Path, ledger: Ledger, field: str, value: str
) -> None:
    logs = tmp_path / "logs"
    written = YAML_TEXT.get(value, value)
    if field in ("amount", "size"):
        path = wallet_file(logs, amount=written, key=field)
    elif field == "entry_price":
        path = wallet_file(logs, entry_price=written)
    else:
        path = wallet_file(logs, fees_paid=written)

    message = refusal(logs, ledger)

    assert message.startswith(f"{path}: positions['BONK/USD']: {field}: "), message
    assert QUOTED[value] in message, message


@pytest.mark.parametrize("value", ["1e300", "1e-30", "3.5e21"])
@pytest.mark.parametrize(
    ("where", "scope", "field"),
    [
        ("positions.total_amount", "trade_manager", "quantity"),
        ("statistics.total_volume", "statistics", "total_volume"),
        ("statistics.total_fees", "statistics", "total_fees"),
    ],
)
def test_a_legacy_figure_only_compared_is_kept_as_read_and_shown_as_a_disagreement(
    tmp_path: Path, ledger: Ledger, where: str, scope: str, field: str, value: str
) -> None:
    """Figures the legacy bot derived are never appended: the reconciliation shows them beside the replay's
    (its point is to show where they disagree), exactly as read, so the migration of the fills goes on."""
    logs = tmp_path / "logs"
    position: dict[str, object] = {"symbol": "BONK/USD", "side": "long", "total_amount": 1e9, "average_price": 0.00002,
                "realized_pnl": 0.0, "fees_paid": 0.02}  # fmt: skip
    statistics: dict[str, object] = {
        "total_trades": 1,
        "total_volume": 20000.0,
        "total_fees": 0.02,
        "total_realized_pnl": 0.0,
    }
    group, key = where.split(".")
    (position if group == "positions" else statistics)[key] = "@@"
    bonk = trade(symbol="BONK/USD", amount=1e9, price=0.00002, fees=0.02)
    path = state_file(logs, bonk, positions={"BONK/USD": position}, statistics=statistics)
    path.write_text(path.read_text().replace('"@@"', value))

    plan = plan_migration(read_legacy_files(LegacyPaths.resolve(logs)), ledger)

    [row] = [r for r in plan.reconciliation if (r.scope, r.field) == (scope, field)]
    assert (row.legacy, row.status) == (Decimal(value), "differs")
    assert len(plan.new) == 1


@pytest.mark.parametrize(("value", "quoted"), [("1e300", "1E+300"), ("1e-30", "1E-30"), ("1E+25", "1E+25")])
@pytest.mark.parametrize("source", ["config", "paper_wallet_config.yaml"])
def test_a_starting_balance_beyond_the_limits_is_refused_naming_its_file(
    tmp_path: Path, source: str, value: str, quoted: str
) -> None:
    """The wallet's starting balance (legacy-real/config.yaml, paper_wallet_config.yaml) is the replay's B0: a
    fill amount's limits (domain.wallet.starting_cash), named with the file it came from."""
    config = tmp_path / "config.yaml"
    config.write_text("exit_strategy: {}\n")
    if source == "config":
        expected = f"{config}: paper_wallet.initial_balance: is out of range 1E-24..1E+24 (got {quoted})"
        given = Decimal(value)
    else:
        (tmp_path / source).write_text(f"initial_balance: {value}\nallow_short: true\n")
        expected = f"{tmp_path / source}: initial_balance: is out of range 1E-24..1E+24 (got {quoted})"
        given = None

    with pytest.raises(MigrationError) as raised:
        wallet_initial_balance(given, config)

    assert str(raised.value) == expected
