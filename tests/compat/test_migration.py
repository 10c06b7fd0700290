"""Migration of the legacy files (spec section 7): the fills they imply, the reconciliation, backups, the append.

Every test works on copies of `shared/fixtures/legacy-generated/` (a state file the legacy TradeManager
wrote itself) and `shared/fixtures/legacy-real/` (files the legacy bot left behind) in tmp_path, with a
real SQLite ledger. Where the legacy numbers disagree with a replay of the fills, the test pins the
disagreement and the flaw the reconciliation names for it (legacy-system.md sections 1.3, 2.2-2.4).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tradeledger import Ledger
from tradeledger.compat.migration import (
    LEGACY_EXCHANGE,
    STATE_FILE,
    TRADES_CSV,
    WALLET_FILE,
    Comparison,
    LegacyFiles,
    LegacyPaths,
    MigrationError,
    MigrationPlan,
    plan_migration,
    read_legacy_files,
    rollback_commands,
    run_migration,
    wallet_initial_balance,
)
from tradeledger.errors import LedgerError

SHARED = Path(__file__).resolve().parents[3] / "shared"
GENERATED = SHARED / "fixtures" / "legacy-generated"
REAL = SHARED / "fixtures" / "legacy-real"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAMP = "20260302_090000"
URL = "sqlite:////tmp/ledger.db"


def clock() -> datetime:
    return NOW


def needs(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"the shared fixture {path} is missing; the shared folder must sit beside the repo (../shared)")
    return path


@pytest.fixture
def generated_logs(tmp_path: Path) -> Path:
    """crypto_bot/logs with a copy of the legacy TradeManager's own state file."""
    logs = tmp_path / "crypto_bot" / "logs"
    logs.mkdir(parents=True)
    shutil.copyfile(needs(GENERATED / STATE_FILE), logs / STATE_FILE)
    return logs


def real_logs(tmp_path: Path, wallet: str = "mixed_shapes") -> Path:
    """crypto_bot/ with the real config files, logs/ with trades.csv, positions.log and one wallet snapshot."""
    bot = tmp_path / "crypto_bot"
    logs = bot / "logs"
    logs.mkdir(parents=True)
    for name in ("config.yaml", "paper_wallet_config.yaml"):
        shutil.copyfile(needs(REAL / name), bot / name)
    for name in ("trades.csv", "positions.log"):
        shutil.copyfile(needs(REAL / name), logs / name)
    shutil.copyfile(needs(REAL / f"paper_wallet_state.{wallet}.yaml"), logs / WALLET_FILE)
    return logs


def read(logs: Path) -> LegacyFiles:
    return read_legacy_files(LegacyPaths.resolve(logs))


def plan_for(logs: Path, ledger: Ledger) -> tuple[LegacyFiles, MigrationPlan]:
    files = read(logs)
    return files, plan_migration(files, ledger)


def row(plan: MigrationPlan, scope: str, symbol: str | None, field: str) -> Comparison:
    found = [r for r in plan.reconciliation if (r.scope, r.symbol, r.field) == (scope, symbol, field)]
    assert len(found) == 1, (scope, symbol, field, plan.reconciliation)
    return found[0]


def run(ledger: Ledger, plan: MigrationPlan, files: LegacyFiles, *, dry_run: bool = False, backup: bool = True):
    return run_migration(
        ledger,
        plan,
        files,
        backup_folder=files_folder(files) / "migration_backup",
        clock=clock,
        ledger_url=URL,
        dry_run=dry_run,
        backup=backup,
    )


def files_folder(files: LegacyFiles) -> Path:
    return next(path for _, path in files.paths.items()).parent


# --- legacy-generated: the state file the legacy TradeManager wrote --------------------------------------


def test_the_legacy_state_file_implies_its_120_trades_as_fills_under_their_trade_ids(
    generated_logs: Path, ledger: Ledger
) -> None:
    files, plan = plan_for(generated_logs, ledger)
    state = json.loads((generated_logs / STATE_FILE).read_text())

    assert len(plan.fills) == len(plan.new) == 120
    assert [p.fill.fill_id for p in plan.fills] == [trade["id"] for trade in state["trades"]]
    assert {p.source for p in plan.fills} == {STATE_FILE}
    assert plan.skipped == ()
    # "" becomes the legacy exchange; the named ones are kept
    assert Counter(p.fill.exchange for p in plan.fills) == Counter(
        LEGACY_EXCHANGE if t["exchange"] == "" else t["exchange"] for t in state["trades"]
    )
    first = plan.fills[0].fill
    assert (first.symbol, first.side.value, first.quantity, first.price, first.fee) == (
        "DOT/USD",
        "sell",
        Decimal("200.0"),
        Decimal("4.0544"),
        Decimal("2.108288"),
    )
    assert first.occurred_at == datetime(2026, 11, 23, 21, 48, 6, 780530, tzinfo=UTC)  # naive read as UTC
    assert first.metadata == {"migrated_from": STATE_FILE}
    link_open = next(p.fill for p in plan.fills if p.fill.fill_id == "aae1db7a-a3a1-42c6-937f-788f8291135a")
    assert link_open.metadata == {
        "regime": "bearish",
        "confidence": 0.66,
        "allow_short": True,
        "migrated_from": STATE_FILE,
    }
    assert (link_open.strategy, link_open.order_id) == ("momentum_bot", "OCSRS6-N3RHH-LHUB6A")
    assert len(files.trades) == 120


def test_the_fills_are_exactly_the_session_that_produced_the_state_file(generated_logs: Path, ledger: Ledger) -> None:
    # session.ndjson holds the 120 trades as they were fed to the legacy TradeManager, amounts as decimal
    # strings: reading the state file's floats back gives the same exact values.
    session = [json.loads(line) for line in needs(GENERATED / "session.ndjson").read_text().splitlines()]
    _, plan = plan_for(generated_logs, ledger)

    assert len(session) == len(plan.fills) == 120
    for row_, planned in zip(session, plan.fills, strict=True):
        fill = planned.fill
        assert (fill.fill_id, fill.symbol, fill.side.value) == (row_["id"], row_["symbol"], row_["side"])
        assert (fill.quantity, fill.price, fill.fee) == (
            Decimal(row_["amount"]),
            Decimal(row_["price"]),
            Decimal(row_["fees"]),
        )
        assert fill.occurred_at == datetime.fromisoformat(row_["timestamp"]).replace(tzinfo=UTC)
        assert (fill.strategy or "", fill.order_id) == (row_["strategy"], row_["order_id"])


def test_the_reconciliation_of_the_legacy_state_file_counts_matches_floats_and_differences(
    generated_logs: Path, ledger: Ledger
) -> None:
    _, plan = plan_for(generated_logs, ledger)

    assert len(plan.reconciliation) == 8 * 4 + 4  # 8 symbols x quantity, average, realized, fees; 4 statistics
    assert Counter(r.status for r in plan.reconciliation) == {"match": 11, "float": 10, "differs": 15}
    # quantities all agree; averages agree but for the float the file stores
    assert {r.status for r in plan.reconciliation if r.field == "quantity"} == {"match"}
    assert {r.status for r in plan.reconciliation if r.field == "average"} == {"float"}
    # every disagreement has a named legacy flaw, none is unexplained
    for item in plan.disagreements:
        assert item.causes, item
        assert all("legacy-system.md §1." in cause for cause in item.causes), item
        assert not any("not explained" in cause for cause in item.causes), item
    assert sorted((r.symbol, r.field) for r in plan.disagreements) == sorted(
        [
            (symbol, "fees")
            for symbol in ("ADA/USD", "BTC/USD", "DOT/USD", "ETH/USD", "LINK/USD", "SOL/USDT", "UNI/USD", "XRP/EUR")
        ]
        + [
            (symbol, "realized")
            for symbol in ("ADA/USD", "BTC/USD", "DOT/USD", "ETH/USD", "SOL/USDT", "UNI/USD", "XRP/EUR")
        ]
    )


def test_link_fees_lack_the_7_covering_fills_fees(generated_logs: Path, ledger: Ledger) -> None:
    _, plan = plan_for(generated_logs, ledger)
    fees = row(plan, "trade_manager", "LINK/USD", "fees")

    # legacy-system.md 1.3: closing fees are not added to fees_paid (the fixture README: 7.6207005 + 6.4677015)
    assert (fees.legacy, fees.replay, fees.status) == (Decimal("7.6207005"), Decimal("14.0884020"), "differs")
    assert fees.causes == (
        "the fees of 7 reducing fill(s), 6.4677015, were never added to fees_paid (legacy-system.md §1.3)",
    )
    assert row(plan, "trade_manager", "LINK/USD", "realized").status == "float"  # one cycle: nothing carried


def test_dot_flip_shows_the_dropped_fees_the_whole_flip_fee_and_the_carried_realized_pnl(
    generated_logs: Path, ledger: Ledger
) -> None:
    _, plan = plan_for(generated_logs, ledger)
    fees = row(plan, "trade_manager", "DOT/USD", "fees")
    realized = row(plan, "trade_manager", "DOT/USD", "realized")

    assert (fees.legacy, fees.replay) == (Decimal("4.9956082"), Decimal("7.0222488"))
    # 7.0222488 - 2.8625302 (the 4 sells) + 0.8358896 (the flip fee's closing share) = 4.9956082
    assert fees.causes == (
        "the fees of 4 reducing fill(s), 2.8625302, were never added to fees_paid (legacy-system.md §1.3)",
        (
            "the flip at 2026-11-24 04:17:52 UTC put its whole fee 2.571968 on the new position; tradeledger books "
            "the closing share 0.8358896 in the closed cycle (legacy-system.md §1.3)"
        ),
        (
            "the 7.4738534 of fees paid before the flip are on no legacy position (old fees lost on a flip, "
            "legacy-system.md §1.3)"
        ),
    )
    assert (realized.legacy, realized.replay) == (
        Decimal("-11.064576203558346"),
        Decimal("-14.20657620355834641548927266"),
    )
    assert realized.causes == (
        (
            "realized PnL carried over from 1 earlier cycle(s) of the symbol by a flip at 2026-11-24 04:17:52 UTC: "
            "3.142 (legacy-system.md §1.3; tradeledger keeps it in the closed cycles)"
        ),
    )


def test_ada_realized_pnl_names_the_round_down_at_its_flip(generated_logs: Path, ledger: Ledger) -> None:
    _, plan = plan_for(generated_logs, ledger)
    realized = row(plan, "trade_manager", "ADA/USD", "realized")

    # ADA is flat: the legacy position (amount 0) is compared with its last cycle, a short closed at 3.9314
    assert row(plan, "trade_manager", "ADA/USD", "quantity").status == "match"
    assert (realized.legacy, realized.replay) == (Decimal("-56.27869999"), Decimal("3.931399999999999999999999970"))
    assert realized.causes == (
        (
            "realized PnL carried over from 2 earlier cycle(s) of the symbol by a re-open after a full close at "
            "2026-11-24 16:34:52 UTC: -60.2101 (legacy-system.md §1.3; tradeledger keeps it in the closed cycles)"
        ),
        (
            "the carried realized PnL was rounded down to 8 places when the flip built the new position: 0.00000001 "
            "(legacy-system.md §1.2)"
        ),
    )


def test_btc_re_open_carries_the_first_cycles_realized_pnl_and_fees(generated_logs: Path, ledger: Ledger) -> None:
    _, plan = plan_for(generated_logs, ledger)
    realized = row(plan, "trade_manager", "BTC/USD", "realized")
    fees = row(plan, "trade_manager", "BTC/USD", "fees")

    # the fixture README: 15.78415524 against 4.74965524 for the current cycle
    assert realized.legacy == Decimal("15.784155244755246")
    assert realized.replay is not None
    assert realized.replay.quantize(Decimal("0.00000001")) == Decimal("4.74965524")
    assert "carried over from 1 earlier cycle(s)" in realized.causes[0]
    assert ": 11.0345 " in realized.causes[0]
    assert (fees.legacy, fees.replay) == (Decimal("45.0018501"), Decimal("39.6000582"))
    assert fees.causes == (
        "the fees of 3 reducing fill(s), 18.733173, were never added to fees_paid (legacy-system.md §1.3)",
        (
            "re-opened on the same side after a full close at 2026-11-24 12:10:46 UTC: the legacy position kept "
            "24.1349649 of fees from before (legacy-system.md §1.3)"
        ),
    )


def test_the_statistics_agree_with_the_replay_of_the_trades(generated_logs: Path, ledger: Ledger) -> None:
    _, plan = plan_for(generated_logs, ledger)

    assert [(r.field, r.legacy, r.replay, r.status) for r in plan.reconciliation if r.scope == "statistics"] == [
        ("total_trades", Decimal(120), Decimal(120), "match"),
        ("total_volume", Decimal("154588.1838"), Decimal("154588.1838"), "match"),
        ("total_fees", Decimal("308.16093108"), Decimal("308.16093108"), "match"),
        ("total_realized_pnl", Decimal("-75.90223609246172"), Decimal("-75.90223609246171357972600105"), "float"),
    ]


def test_a_real_run_backs_up_appends_the_120_fills_in_one_transaction_and_verifies(
    generated_logs: Path, ledger: Ledger
) -> None:
    files, plan = plan_for(generated_logs, ledger)

    result = run(ledger, plan, files)

    assert (result.appended, result.head_before.seq, result.head_after.seq if result.head_after else None) == (
        0 + 120,
        0,
        120,
    )
    assert result.ok
    assert result.verify_ok is True
    assert ledger.verify().ok
    totals = ledger.state().totals
    assert (totals.fees, totals.realized_pnl.quantize(Decimal("0.00000001"))) == (
        Decimal("308.16093108"),
        Decimal("-75.90223609"),
    )
    assert len(ledger.state().open) == 6
    assert len(ledger.state().closed) == 11


def test_running_the_migration_twice_appends_nothing_the_second_time(generated_logs: Path, ledger: Ledger) -> None:
    files, plan = plan_for(generated_logs, ledger)
    run(ledger, plan, files)
    later = datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)

    again = plan_migration(read(generated_logs), ledger)
    result = run_migration(
        ledger,
        again,
        files,
        backup_folder=generated_logs / "migration_backup",
        clock=lambda: later,
        ledger_url=URL,
        dry_run=False,
        backup=True,
    )

    assert (len(again.new), len(again.in_ledger)) == (0, 120)
    assert [p.seq for p in again.fills] == list(range(1, 121))
    assert result.appended == 0
    assert ledger.head.seq == 120
    assert again.reconciliation == plan.reconciliation  # the same legacy numbers against the same fills
    assert result.ok


def test_a_dry_run_appends_nothing_and_writes_backups_only_when_asked(generated_logs: Path, ledger: Ledger) -> None:
    files, plan = plan_for(generated_logs, ledger)
    folder = generated_logs / "migration_backup"

    quiet = run(ledger, plan, files, dry_run=True, backup=False)
    assert (quiet.appended, quiet.head_after, quiet.backup) == (0, None, None)
    assert not folder.exists()

    step_one = run(ledger, plan, files, dry_run=True, backup=True)  # the seed's "--backup --dry-run"
    assert step_one.backup is not None
    assert sorted(p.name for p in folder.iterdir()) == [
        f"migration_backup_{STAMP}.json",
        f"trade_manager_backup_{STAMP}.json",
    ]
    manifest = json.loads((folder / f"migration_backup_{STAMP}.json").read_text())
    assert manifest["head_after"] is None
    assert manifest["appended"] == 0
    assert ledger.head.seq == 0


def test_a_real_run_without_backups_is_refused(generated_logs: Path, ledger: Ledger) -> None:
    files, plan = plan_for(generated_logs, ledger)

    with pytest.raises(MigrationError, match="must back up the legacy files first"):
        run(ledger, plan, files, backup=False)

    assert ledger.head.seq == 0


def test_the_backups_exist_under_the_manifests_names_before_the_append_and_survive_its_failure(
    generated_logs: Path, ledger: Ledger
) -> None:
    files, plan = plan_for(generated_logs, ledger)
    first = plan.fills[0].fill
    # Between the plan and the append another writer records the first trade's id with another price: the append
    # finds the account moved, plans again, and that plan refuses the fill id held for another execution.
    ledger.record(first.model_copy(update={"price": Decimal("4.0545"), "metadata": None}))

    with pytest.raises(
        MigrationError,
        match=rf"trades\[0\]: the ledger already holds fill '{first.fill_id}' \(seq 1\) for another execution "
        r"\(price: ledger 4\.0545, file 4\.0544\); nothing appended",
    ):
        run(ledger, plan, files)

    folder = generated_logs / "migration_backup"
    manifest = json.loads((folder / f"migration_backup_{STAMP}.json").read_text())
    assert manifest == {
        "created_at": "2026-03-02T09:00:00+00:00",
        "ledger": URL,
        "head_before": {"epoch": 1, "seq": 1, "hash": ledger.head.hash},
        "head_after": None,
        "appended": 0,
        "files": {str((generated_logs / STATE_FILE).absolute()): f"trade_manager_backup_{STAMP}.json"},
        "sha256": {
            f"trade_manager_backup_{STAMP}.json": hashlib.sha256((GENERATED / STATE_FILE).read_bytes()).hexdigest()
        },
    }
    backup = folder / f"trade_manager_backup_{STAMP}.json"
    assert backup.read_bytes() == (GENERATED / STATE_FILE).read_bytes()  # a byte copy
    assert ledger.head.seq == 1  # the batch appended nothing


def test_the_manifest_records_the_heads_and_the_printed_rollback_uses_its_names(
    generated_logs: Path, ledger: Ledger
) -> None:
    files, plan = plan_for(generated_logs, ledger)

    result = run(ledger, plan, files)

    folder = generated_logs / "migration_backup"
    manifest = json.loads((folder / f"migration_backup_{STAMP}.json").read_text())
    assert manifest["head_before"] == {"epoch": 1, "seq": 0, "hash": "0" * 64}
    assert manifest["head_after"] == {"epoch": 1, "seq": 120, "hash": ledger.head.hash}
    assert manifest["appended"] == 120
    assert rollback_commands(result, files) == [
        f"tradeledger restore {folder / f'migration_backup_{STAMP}.json'}",
        # the seed's Rollback Plan: cp …/migration_backup/trade_manager_backup_* …/trade_manager_state.json
        f"cp {folder / f'trade_manager_backup_{STAMP}.json'} {generated_logs / STATE_FILE}",
    ]


def test_a_backup_of_the_same_second_is_never_replaced_the_next_takes_a_suffix(
    generated_logs: Path, ledger: Ledger
) -> None:
    files, plan = plan_for(generated_logs, ledger)
    run(ledger, plan, files, dry_run=True, backup=True)
    folder = generated_logs / "migration_backup"
    manifest = folder / f"migration_backup_{STAMP}.json"
    before = manifest.read_bytes()

    result = run(ledger, plan, files)

    assert manifest.read_bytes() == before
    assert result.backup is not None
    assert result.backup.manifest == folder / f"migration_backup_{STAMP}_2.json"
    assert (folder / f"trade_manager_backup_{STAMP}_2.json").read_bytes() == files.raw["trade_manager_state.json"]
    assert ledger.head.seq == 120


def test_a_fill_id_the_ledger_holds_for_another_execution_is_refused_before_any_backup(
    generated_logs: Path, ledger: Ledger
) -> None:
    files = read(generated_logs)
    trade = files.trades[5]
    assert trade.fill is not None
    ledger.record(trade.fill.model_copy(update={"exchange": "kraken", "quantity": Decimal(1), "metadata": None}))

    with pytest.raises(
        MigrationError,
        match=r"trades\[5\]: the ledger already holds fill .* \(quantity: ledger 1, file 3000\.0\); nothing appended",
    ):
        plan_migration(files, ledger)

    assert not (generated_logs / "migration_backup").exists()
    assert ledger.head.seq == 1


def test_fills_the_new_trade_manager_already_recorded_are_found_whatever_their_exchange(
    generated_logs: Path, ledger: Ledger
) -> None:
    # A bot that ran on the new TradeManager recorded legacy trade ids with exchange "": the same executions.
    files = read(generated_logs)
    for trade in files.trades[:3]:
        assert trade.fill is not None
        ledger.record(trade.fill.model_copy(update={"exchange": "", "metadata": None}))

    plan = plan_migration(files, ledger)

    assert [p.seq for p in plan.fills[:3]] == [1, 2, 3]
    assert len(plan.new) == 117


# --- legacy-real: the files the legacy bot left -------------------------------------------------------


def test_the_real_files_plan_2_csv_fills_and_11_wallet_openings_and_report_2_log_only_positions(
    tmp_path: Path, ledger: Ledger
) -> None:
    files, plan = plan_for(real_logs(tmp_path), ledger)

    assert files.paths.state_file is None  # not committed upstream: simply not a source
    assert [(p.source, p.where, p.fill.symbol, p.fill.side.value, p.fill.quantity) for p in plan.fills[:2]] == [
        (TRADES_CSV, "line 1", "CXT/EUR", "buy", Decimal("45193.047249903")),
        (TRADES_CSV, "line 2", "BTC/USD", "buy", Decimal("0.008100400681202503")),
    ]
    wallet = {p.fill.symbol: p for p in plan.fills if p.source == WALLET_FILE}
    assert len(wallet) == 11
    sides = {symbol: p.fill.side.value for symbol, p in wallet.items()}
    assert sides == {
        "DOT/USD": "sell",  # symbol key, side short
        "MICHI/USD": "buy",
        "TREMP/USD": "buy",
        "UNI/USD": "buy",  # symbol key, side long
        "XRP/EUR": "buy",
        "APU/USD": "buy",  # trade-id key apu_usd_1756860750: its symbol field
        "GOAT/USD": "buy",
        "RAIIN/USD": "buy",
        "SOGNI/USD": "sell",
        "SOL/USDT": "sell",  # trade-id key with side short
        "TRUMP/EUR": "buy",
    }
    apu = wallet["APU/USD"]
    assert apu.where == "key apu_usd_1756860750"
    assert apu.fill.fill_id.startswith("wallet:")
    assert (apu.fill.quantity, apu.fill.price, apu.fill.exchange) == (
        Decimal("4935549.0196"),
        Decimal("0.000184"),
        "legacy",
    )
    assert apu.fill.occurred_at == datetime(2025, 9, 3, 0, 52, 30, 579207, tzinfo=UTC)
    assert apu.fill.metadata == {"migrated_from": WALLET_FILE, "key": "apu_usd_1756860750"}
    assert [(p.symbol, p.side, p.amount, p.line) for p in plan.only_in_positions_log] == [
        ("ETH/USDT", "sell", Decimal("1.0000"), 18),
        ("BTC/USDT", "buy", Decimal("0.1000"), 19),
    ]
    assert plan.notes == (
        (
            "paper_wallet_state.yaml mixes 3 position shapes (legacy-system.md §2.2): "
            "symbol key, amount, side long/short: 5 (DOT/USD, MICHI/USD, TREMP/USD, UNI/USD, XRP/EUR); "
            "trade-id key, amount, side buy/sell: 5 (apu_usd_1756860750, goat_usd_1756860750, "
            "raiin_usd_1756860750, sogni_usd_1756860750, trump_eur_1756860750); "
            "trade-id key, amount, side long/short: 1 (sol_usdt_1756860750)"
        ),
        BTC_LOG_NOTE,
    )


BTC_LOG_NOTE = (
    "positions.log line 4 (2025-08-26 14:02:01,208) logs BTC/USD buy 0.0081 entry 110752.2, where the plan "
    "holds BTC/USD long 0.008100400681202503 at 110640.1 (from trades.csv): the files disagree on its entry "
    "price; positions.log is only reported, never appended"
)


def test_the_real_positions_log_entry_of_btc_that_trades_csv_contradicts_is_named_in_a_note(
    tmp_path: Path, ledger: Ledger
) -> None:
    # positions.log line 4 logs the wallet's BTC/USD at entry 110752.2 (its cash fell by 0.0081004 x 110752.2 =
    # 897.14, 8862.49 -> 7965.35), trades.csv line 2 the order at 110640.1: the files disagree on the price the
    # bot paid. CXT/EUR (45193.0472 at 0.025170 against 45193.047249903 at 0.02517) agrees to the log's places.
    _, plan = plan_for(real_logs(tmp_path), ledger)

    assert plan.notes[1:] == (BTC_LOG_NOTE,)


def test_the_real_wallet_cash_disagrees_by_the_cost_of_the_csv_fills_and_is_negative(
    tmp_path: Path, ledger: Ledger
) -> None:
    _, plan = plan_for(real_logs(tmp_path), ledger)
    cash = row(plan, "wallet", None, "cash")

    # the wallet's own books hold: 10000 - 11702.8695449769661 at cost = -1702.869544976967 (a float)
    assert (cash.legacy, cash.replay, cash.status) == (
        Decimal("-1702.869544976967"),
        Decimal("-3736.6076856653376621703"),
        "differs",
    )
    assert cash.causes == (
        (
            "positions at cost: the replay holds 13736.60768567, the wallet 11702.86954498 (see the wallet rows): "
            "-2033.73814069"
        ),
        (
            "the legacy balance is negative (-1702.86954498); the legacy wallet clamps it to 0 when it loads "
            "(legacy-system.md §2.1, §2.4)"
        ),
    )
    # the two trades.csv fills are the positions the wallet never held
    assert [(r.symbol, r.legacy, r.replay) for r in plan.disagreements if r.scope == "wallet" and r.symbol] == [
        ("BTC/USD", Decimal(0), Decimal("0.008100400681202503")),
        ("CXT/EUR", Decimal(0), Decimal("45193.047249903")),
    ]
    assert all(r.status == "match" for r in plan.reconciliation if r.symbol not in (None, "BTC/USD", "CXT/EUR"))


@pytest.mark.parametrize(
    ("wallet", "wallet_fills", "legacy_cash", "replay_cash", "shapes"),
    [
        ("mixed_shapes", 11, "-1702.869544976967", "-3736.6076856653376621703", 3),
        ("earlier", 11, "-1702.869544976967", "-3736.6076856653376621703", 3),
        ("symbol_keyed", 5, "5405.968282633234", "3372.2301419448623378297", 1),
    ],
)
def test_each_real_wallet_snapshot_is_read_whatever_its_shapes(
    tmp_path: Path, ledger: Ledger, wallet: str, wallet_fills: int, legacy_cash: str, replay_cash: str, shapes: int
) -> None:
    _, plan = plan_for(real_logs(tmp_path, wallet), ledger)

    assert sum(p.source == WALLET_FILE for p in plan.fills) == wallet_fills
    cash = row(plan, "wallet", None, "cash")
    assert (cash.legacy, cash.replay) == (Decimal(legacy_cash), Decimal(replay_cash))
    assert plan.notes[-1] == BTC_LOG_NOTE  # every snapshot beside the real trades.csv and positions.log
    assert len(plan.notes) == (2 if shapes > 1 else 1)


def test_the_real_files_migrate_and_a_second_run_appends_nothing(tmp_path: Path, ledger: Ledger) -> None:
    logs = real_logs(tmp_path)
    files, plan = plan_for(logs, ledger)

    first = run(ledger, plan, files)
    second_plan = plan_migration(read(logs), ledger)

    assert (first.appended, first.ok) == (13, True)
    assert sorted(p.name for p in (logs / "migration_backup").iterdir()) == [
        f"migration_backup_{STAMP}.json",
        f"paper_wallet_backup_{STAMP}.yaml",
        f"trades_backup_{STAMP}.csv",
    ]
    assert len(second_plan.new) == 0
    assert len(second_plan.in_ledger) == 13
    assert {p.symbol for p in ledger.positions()} == {p.fill.symbol for p in plan.fills}
    assert ledger.verify().ok


def test_a_later_snapshot_of_a_migrated_wallet_opens_none_of_its_positions_a_second_time(
    tmp_path: Path, ledger: Ledger
) -> None:
    # The real wallet an hour apart: the six trade-id positions of `earlier` (…_1756858422, opened 00:13:42) are
    # there again in `mixed_shapes` under new keys (…_1756860750, 00:52:30) at the same sizes and prices. A wallet
    # position is a state, not a fill: the ledger already holds each one, so appending it again would double it
    # (4,935,549.0196 APU twice) while the reconciliation, a replay of the plan alone, showed every row matching.
    earlier = real_logs(tmp_path / "earlier", "earlier")
    (earlier / TRADES_CSV).unlink()
    first_files, first_plan = plan_for(earlier, ledger)
    assert run(ledger, first_plan, first_files).appended == 11
    later = real_logs(tmp_path / "later", "mixed_shapes")
    (later / TRADES_CSV).unlink()
    held_before = {(p.symbol, p.side.value, p.quantity, p.avg_price) for p in ledger.positions()}

    files, plan = plan_for(later, ledger)
    result = run(ledger, plan, files)

    assert result.appended == 0
    assert {(p.symbol, p.side.value, p.quantity, p.avg_price) for p in ledger.positions()} == held_before
    assert len(plan.in_ledger) == 5  # the symbol-keyed positions: the same key, the same fill
    reasons = {s.where: s.reason for s in plan.skipped}
    assert reasons["key apu_usd_1756860750"] == (
        "APU/USD is already open in the ledger at this side, size and price (long 4935549.0196 at 0.000184, "
        "opened at seq 9): a wallet position is a state, not a fill; appending it would hold it twice"
    )
    assert len(reasons) == 6
    apu = row(plan, "wallet", "APU/USD", "quantity")
    assert (apu.legacy, apu.replay, apu.status) == (Decimal("4935549.0196"), Decimal(0), "differs")
    assert apu.causes == (f"not appended: {reasons['key apu_usd_1756860750']}",)


def test_a_wallet_position_the_ledger_holds_at_another_size_is_refused_naming_both(
    tmp_path: Path, ledger: Ledger
) -> None:
    earlier = real_logs(tmp_path / "earlier", "earlier")
    (earlier / TRADES_CSV).unlink()
    first_files, first_plan = plan_for(earlier, ledger)
    run(ledger, first_plan, first_files)
    later = real_logs(tmp_path / "later", "mixed_shapes")
    (later / TRADES_CSV).unlink()
    wallet = later / WALLET_FILE
    wallet.write_text(wallet.read_text().replace("amount: 4935549.0196", "amount: 5000000", 1))

    with pytest.raises(
        MigrationError,
        match=(
            r"paper_wallet_state\.yaml: positions\['apu_usd_1756860750'\]: the wallet holds APU/USD long 5000000 at "
            r"0\.000184 where the ledger already holds long 4935549\.0196 at 0\.000184 \(opened at seq 9\)"
        ),
    ):
        plan_for(later, ledger)
    assert ledger.head.seq == 11


def test_a_wallet_position_the_ledger_closed_after_it_opened_is_not_opened_again(
    tmp_path: Path, ledger: Ledger
) -> None:
    # The ghost generator of legacy-system.md §3.3, through the migration: the bot on the ledger sold what the
    # wallet held; a wallet snapshot from before that sale (under a new key) must not bring the position back.
    earlier = real_logs(tmp_path / "earlier", "earlier")
    (earlier / TRADES_CSV).unlink()
    first_files, first_plan = plan_for(earlier, ledger)
    run(ledger, first_plan, first_files)
    ledger.record(
        {
            "fill_id": "bot-sell-apu",
            "exchange": "kraken",
            "symbol": "APU/USD",
            "side": "sell",
            "quantity": "4935549.0196",
            "price": "0.0002",
            "occurred_at": datetime(2025, 9, 4, tzinfo=UTC),
        }
    )
    later = real_logs(tmp_path / "later", "mixed_shapes")
    (later / TRADES_CSV).unlink()

    _, plan = plan_for(later, ledger)

    reasons = {s.where: s.reason for s in plan.skipped}
    assert reasons["key apu_usd_1756860750"] == (
        "stale: the ledger closed APU/USD at 2025-09-04 00:00:00 UTC (seq 12), after this wallet position opened "
        "at 2025-09-03 00:52:30 UTC"
    )
    assert "APU/USD" not in {p.fill.symbol for p in plan.new}


# --- overlaps between the sources ---------------------------------------------------------------------


def trade(trade_id: str, symbol: str, side: str, amount: float, price: float, timestamp: str, fees: float = 0):
    return {
        "id": trade_id,
        "symbol": symbol,
        "side": side,
        "amount": amount,
        "price": price,
        "timestamp": timestamp,
        "strategy": "",
        "exchange": "",
        "fees": fees,
        "status": "filled",
        "order_id": None,
        "client_order_id": None,
        "metadata": {},
    }


def write_state(logs: Path, trades: list[dict[str, object]]) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    (logs / STATE_FILE).write_text(json.dumps({"trades": trades, "positions": {}, "price_cache": {}}))


def test_a_csv_row_the_trade_manager_has_is_not_appended_again_and_stop_rows_are_skipped(
    tmp_path: Path, ledger: Ledger
) -> None:
    logs = tmp_path / "logs"
    # The TradeManager keeps 8 places (rounded down) and its own microseconds; trades.csv the raw float.
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.0081004, 110640.1, "2025-08-26T19:02:01.206000")])
    (logs / TRADES_CSV).write_text(
        "BTC/USD,buy,0.008100400681202503,110640.1,2025-08-26T19:02:01.206690,False\n"
        "BTC/USD,sell,0.008,111000,2025-08-26T20:00:00,True\n"
        "BTC/USD,sell,0.004,111500,2025-08-26T21:00:00,False\n"
    )

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [(STATE_FILE, "trades[0]"), (TRADES_CSV, "line 3")]
    assert [(s.source, s.where, s.reason) for s in plan.skipped] == [
        (TRADES_CSV, "line 1", f"already in {STATE_FILE} (trades[0], id t-1)"),
        (TRADES_CSV, "line 2", "is_stop is True: a stop order's row, skipped as the legacy replay skipped it"),
    ]


def test_a_csv_row_whose_trade_an_earlier_run_migrated_is_not_appended_when_the_state_file_is_missing(
    tmp_path: Path, ledger: Ledger
) -> None:
    # Run 1 had both files: the row was the TradeManager's trade t-1, appended under its id. Run 2 is given
    # trades.csv alone (the state file moved, lost or left out): the row's own fill id is not in the ledger,
    # but its trade is, and appending the row would hold 0.0081004 BTC twice.
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.0081004, 110640.1, "2025-08-26T19:02:01.206000")])
    row_text = "BTC/USD,buy,0.008100400681202503,110640.1,2025-08-26T19:02:01.206690,False\n"
    (logs / TRADES_CSV).write_text(row_text)
    files, plan = plan_for(logs, ledger)
    run(ledger, plan, files)
    only_csv = tmp_path / "only_csv"
    only_csv.mkdir()
    (only_csv / TRADES_CSV).write_text(row_text + "BTC/USD,sell,0.004,111500,2025-08-26T21:00:00,False\n")

    second = plan_migration(read(only_csv), ledger)

    assert [(p.where, p.fill.quantity) for p in second.new] == [("line 2", Decimal("0.004"))]
    reason = (
        "already in the ledger as seq 1 (fill 't-1'): the trade this row recorded, at the same size and price "
        "within a second (trades.csv and the TradeManager timed one fill twice)"
    )
    assert [(s.where, s.reason) for s in second.skipped] == [("line 1", reason)]


def test_a_trade_whose_csv_row_an_earlier_run_migrated_alone_is_not_appended_again(
    tmp_path: Path, ledger: Ledger
) -> None:
    # The other order: run 1 had trades.csv alone (the row appended under its own id), run 2 has the state file
    # too. The row is the trade t-1, which the ledger already holds as the row's fill.
    only_csv = tmp_path / "only_csv"
    only_csv.mkdir()
    row_text = "BTC/USD,buy,0.008100400681202503,110640.1,2025-08-26T19:02:01.206690,False\n"
    (only_csv / TRADES_CSV).write_text(row_text)
    files, plan = plan_for(only_csv, ledger)
    run(ledger, plan, files)
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.0081004, 110640.1, "2025-08-26T19:02:01.206000")])
    (logs / TRADES_CSV).write_text(row_text)

    second = plan_migration(read(logs), ledger)

    assert second.new == ()
    [fill_id] = [p.fill.fill_id for p in plan.fills]
    reasons = {s.where: s.reason for s in second.skipped}
    assert reasons["trades[0]"] == (
        f"already in the ledger as seq 1 (fill {fill_id!r}): this trade's row of trades.csv, migrated before, at "
        "the same size and price within a second"
    )


def test_trades_of_a_symbol_an_earlier_run_opened_from_the_wallet_alone_are_refused_naming_both(
    tmp_path: Path, ledger: Ledger
) -> None:
    # Run 1 had the wallet alone: DOT/USD opened from its snapshot (short 268.16840976 at 3.7384). Run 2 brings
    # the state file, whose trades are DOT/USD's whole history: appended on top, the ledger would count the
    # position twice, while the plan's replay (its own fills) showed the state file's figures. Which story
    # holds cannot be told from the files: refused, naming the trade and the ledger's wallet fill.
    wallet_only = real_logs(tmp_path / "wallet_only")
    for name in (TRADES_CSV, "positions.log"):
        (wallet_only / name).unlink()
    files, plan = plan_for(wallet_only, ledger)
    run(ledger, plan, files)
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copyfile(needs(GENERATED / STATE_FILE), logs / STATE_FILE)
    shutil.copyfile(wallet_only / WALLET_FILE, logs / WALLET_FILE)

    with pytest.raises(
        MigrationError,
        match=(
            r"trade_manager_state\.json: trades\[0\] \(id '[0-9a-f-]+'\): DOT/USD is in the ledger from an earlier "
            r"migration of paper_wallet_state\.yaml \(seq 5, key DOT/USD\), which this plan does not explain"
        ),
    ):
        plan_migration(read(logs), ledger)


def test_a_csv_row_a_moment_after_its_trade_across_a_second_is_that_trade_not_a_second_fill(
    tmp_path: Path, ledger: Ledger
) -> None:
    """The legacy bot timed the same fill twice (utcnow in the TradeManager, again in trade_logger): two times a
    few ms apart that a second's boundary may fall between. Counting the row again would double the position,
    the legacy double count (legacy-system.md §6.4, §8.5) that the migration exists to end."""
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.5, 50000.0, "2025-08-26T19:01:55.999000")])
    (logs / TRADES_CSV).write_text("BTC/USD,buy,0.5,50000.0,2025-08-26T19:01:56.001000,False\n")

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [(STATE_FILE, "trades[0]")]
    assert [(s.source, s.where, s.reason) for s in plan.skipped] == [
        (TRADES_CSV, "line 1", f"already in {STATE_FILE} (trades[0], id t-1)"),
    ]


def test_a_csv_row_like_a_trade_but_two_seconds_from_it_is_a_fill_of_its_own(tmp_path: Path, ledger: Ledger) -> None:
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.5, 50000.0, "2025-08-26T19:01:55.999000")])
    (logs / TRADES_CSV).write_text("BTC/USD,buy,0.5,50000.0,2025-08-26T19:01:58.000000,False\n")

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [(STATE_FILE, "trades[0]"), (TRADES_CSV, "line 1")]


TWIN_ROW = "BTC/USD,buy,0.5,50000.0,2025-08-26T19:01:55.574138,False\n"
TWINS_ARE = "(buy 0.5 BTC/USD at 50000, 2025-08-26T19:01:55.574138+00:00)"
TWINS_UNTOLD = (
    "two fills of one size in the same instant, or one row written twice (no legacy bug is known to write one "
    "twice, and the files cannot tell which): the migration drops no row; check them before the append, a row "
    "written twice doubles its quantity"
)


def test_identical_csv_rows_are_each_kept_as_a_fill_and_named_in_the_plan(tmp_path: Path, ledger: Ledger) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / TRADES_CSV).write_text(TWIN_ROW + "ETH/USD,buy,2,3000,2025-08-26T19:05:00,False\n" + TWIN_ROW)

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [
        (TRADES_CSV, "line 1"),
        (TRADES_CSV, "line 3"),
        (TRADES_CSV, "line 2"),
    ]
    assert len({p.fill.fill_id for p in plan.fills}) == 3
    assert plan.notes == (
        f"trades.csv lines 1 and 3 are identical rows {TWINS_ARE}: each is kept as a fill of its own; {TWINS_UNTOLD}",
    )


def test_identical_csv_rows_of_which_one_trade_explains_one_are_named_in_the_plan_and_the_reconciliation(
    tmp_path: Path, ledger: Ledger
) -> None:
    """The state file holds one such trade and trades.csv two rows: the other row is a fill the TradeManager
    missed (trade_logger's fills never reached it, legacy-system.md §6.4) or the same row twice. Kept, and said."""
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.5, 50000.0, "2025-08-26T19:01:55.574000")])
    state = json.loads((logs / STATE_FILE).read_text())
    state["positions"] = {
        "BTC/USD": {"symbol": "BTC/USD", "side": "long", "total_amount": 0.5, "average_price": 50000.0,
                    "realized_pnl": 0.0, "fees_paid": 0.0, "entry_time": "2025-08-26T19:01:55.574000"}
    }  # fmt: skip
    (logs / STATE_FILE).write_text(json.dumps(state))
    (logs / TRADES_CSV).write_text(TWIN_ROW + TWIN_ROW)

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [(STATE_FILE, "trades[0]"), (TRADES_CSV, "line 2")]
    note = (
        f"trades.csv lines 1 and 2 are identical rows {TWINS_ARE}: line 1 is trade t-1 of {STATE_FILE} "
        f"(trades[0]), which holds one such trade, and line 2 is kept as a fill of its own; {TWINS_UNTOLD}"
    )
    assert plan.notes == (note,)
    quantity = row(plan, "trade_manager", "BTC/USD", "quantity")
    assert (quantity.legacy, quantity.replay, quantity.status) == (Decimal("0.5"), Decimal("1.0"), "differs")
    twice = "trades.csv lines 1 and 2 are identical rows, each kept (line 1 as trade t-1): if the row was written"
    assert quantity.causes == (
        f"the replay also has 1 fill(s) from trades.csv that {STATE_FILE} lacks (line 2)",
        twice + " twice, the replay counts it twice",
    )


def test_three_identical_csv_rows_one_trade_explains_name_the_trade_and_the_two_kept_lines(
    tmp_path: Path, ledger: Ledger
) -> None:
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 0.5, 50000.0, "2025-08-26T19:01:55.574000")])
    (logs / TRADES_CSV).write_text(TWIN_ROW * 3)

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [
        (STATE_FILE, "trades[0]"),
        (TRADES_CSV, "line 2"),
        (TRADES_CSV, "line 3"),
    ]
    note = (
        f"trades.csv lines 1, 2 and 3 are identical rows {TWINS_ARE}: line 1 is trade t-1 of {STATE_FILE} "
        f"(trades[0]), which holds one such trade, and lines 2 and 3 are each kept as a fill of its own; {TWINS_UNTOLD}"
    )
    assert plan.notes == (note,)
    assert [(f.line, f.fill_id, f.source) for f in plan.identical_rows[0].fills] == [
        (1, "t-1", STATE_FILE),
        (2, plan.fills[1].fill.fill_id, TRADES_CSV),
        (3, plan.fills[2].fill.fill_id, TRADES_CSV),
    ]


def test_identical_csv_rows_are_named_among_the_causes_of_the_wallet_cash_difference(
    tmp_path: Path, ledger: Ledger
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / TRADES_CSV).write_text(TWIN_ROW * 2)
    (logs / WALLET_FILE).write_text(
        "balance: 10000.0\ninitial_balance: 10000.0\nrealized_pnl: 0.0\ntotal_trades: 0\nwinning_trades: 0\n"
        "positions: {}\n"
    )

    plan = plan_migration(read(logs), ledger)

    cash = row(plan, "wallet", None, "cash")
    assert (cash.legacy, cash.replay, cash.status) == (Decimal("10000.0"), Decimal("-40000.0"), "differs")
    assert cash.causes[-1] == (
        "trades.csv lines 1 and 2 are identical rows, each kept as a fill: if the row was written twice, the replay "
        "counts it twice"
    )


def test_identical_csv_rows_each_a_trade_of_the_state_file_are_its_trades_and_not_named(
    tmp_path: Path, ledger: Ledger
) -> None:
    """Two partial fills of one size the TradeManager recorded as two trades: the primary record holds both."""
    logs = tmp_path / "logs"
    write_state(
        logs,
        [
            trade("t-1", "BTC/USD", "buy", 0.5, 50000.0, "2025-08-26T19:01:55.574000"),
            trade("t-2", "BTC/USD", "buy", 0.5, 50000.0, "2025-08-26T19:01:55.574000"),
        ],
    )
    (logs / TRADES_CSV).write_text(TWIN_ROW * 2)

    plan = plan_migration(read(logs), ledger)

    assert [(p.source, p.where) for p in plan.fills] == [(STATE_FILE, "trades[0]"), (STATE_FILE, "trades[1]")]
    assert (plan.identical_rows, plan.notes) == ((), ())


def test_wallet_positions_become_opening_fills_only_where_the_other_sources_are_flat(
    tmp_path: Path, ledger: Ledger
) -> None:
    logs = tmp_path / "logs"
    write_state(
        logs,
        [
            trade("t-1", "ETH/USD", "buy", 1, 3000, "2025-09-01T10:00:00"),
            trade("t-2", "SOL/USD", "buy", 2, 200, "2025-09-01T10:00:00"),
            trade("t-3", "SOL/USD", "sell", 2, 210, "2025-09-02T10:00:00"),  # the dashboard sold it
        ],
    )
    (logs / WALLET_FILE).write_text(
        "balance: 9000.0\ninitial_balance: 10000.0\nrealized_pnl: 0.0\ntotal_trades: 3\nwinning_trades: 0\n"
        "positions:\n"
        "  ETH/USD: {symbol: ETH/USD, side: buy, size: 1.0, entry_price: 3000.0, reserved: 0.0,"
        " entry_time: '2025-09-01T10:00:00'}\n"
        "  SOL/USD: {symbol: SOL/USD, side: long, amount: 2.0, entry_price: 200.0, reserved: 0.0,"
        " timestamp: '2025-09-01T10:00:00'}\n"
        "  ada_usd_1: {symbol: ADA/USD, side: sell, amount: 100.0, entry_price: 0.5, reserved: 50.0,"
        " entry_time: '2025-09-03T10:00:00'}\n"
        "  LINK/USD: {symbol: LINK/USD, side: long, amount: 3.0, entry_price: 20.0, current_price: 21.0, pnl: 0.05,"
        " fees_paid: 0.12, timestamp: '2025-09-03T11:00:00'}\n"
        "  3f2c: {symbol: null, side: buy, amount: 5.0, entry_price: 10.0, reserved: 0.0,"
        " entry_time: '2025-09-03T12:00:00'}\n"
    )

    plan = plan_migration(read(logs), ledger)

    wallet = [
        (p.fill.symbol, p.fill.side.value, p.fill.quantity, p.fill.fee) for p in plan.fills if p.source == WALLET_FILE
    ]
    assert wallet == [
        ("ADA/USD", "sell", Decimal("100.0"), Decimal(0)),
        ("LINK/USD", "buy", Decimal("3.0"), Decimal("0.12")),
    ]
    reasons = {s.where: s.reason for s in plan.skipped}
    assert reasons == {
        "key ETH/USD": f"ETH/USD is open in {STATE_FILE} (the primary record)",
        "key SOL/USD": f"stale: {STATE_FILE} closed SOL/USD at 2025-09-02 10:00:00 UTC (trades[2]), after this wallet "
        "position opened at 2025-09-01 10:00:00 UTC",
        "key 3f2c": "symbol: None (opened without a symbol; nothing says what it holds)",
    }
    sol = row(plan, "wallet", "SOL/USD", "quantity")
    assert (sol.legacy, sol.replay, sol.status) == (Decimal("2.0"), Decimal(0), "differs")
    assert "the wallet was not updated when the position closed" in sol.causes[0]
    assert "legacy-system.md §3.3" in sol.causes[0]
    assert len(plan.notes) == 1  # four shapes in one file


def test_a_wallet_short_where_the_state_file_holds_a_long_is_put_down_to_the_stores_disagreeing_not_to_words(
    tmp_path: Path, ledger: Ledger
) -> None:
    # The wallet wrote `side: sell` for a short and the TradeManager's trade is a buy: both words are read right.
    # The legacy bot updated its stores separately (legacy-system.md §3.3); no misread side word is involved.
    logs = tmp_path / "logs"
    write_state(logs, [trade("t-1", "BTC/USD", "buy", 1, 100, "2025-09-01T10:00:00")])
    (logs / WALLET_FILE).write_text(
        "balance: 900.0\ninitial_balance: 1000.0\npositions:\n"
        "  BTC/USD: {symbol: BTC/USD, side: sell, size: 1.0, entry_price: 100.0, reserved: 100.0,"
        " entry_time: '2025-09-01T11:00:00'}\n"
    )

    plan = plan_migration(read(logs), ledger)

    quantity = row(plan, "wallet", "BTC/USD", "quantity")
    assert (quantity.legacy, quantity.replay, quantity.status) == (Decimal(-1), Decimal(1), "differs")
    assert quantity.causes == (
        "the wallet and the primary record disagree; the legacy bot updated them separately (legacy-system.md §3.3)",
    )


def test_a_trade_recorded_twice_is_one_fill_and_the_reconciliation_names_the_double_count(
    tmp_path: Path, ledger: Ledger
) -> None:
    logs = tmp_path / "logs"
    twice = trade("t-1", "ETH/USD", "buy", 1, 3000, "2025-09-01T10:00:00")
    write_state(logs, [twice, twice])
    state = json.loads((logs / STATE_FILE).read_text())
    state["positions"] = {
        "ETH/USD": {"symbol": "ETH/USD", "side": "long", "total_amount": 2.0, "average_price": 3000.0,
                    "realized_pnl": 0.0, "fees_paid": 0.0, "entry_time": "2025-09-01T10:00:00"}
    }  # fmt: skip
    (logs / STATE_FILE).write_text(json.dumps(state))

    plan = plan_migration(read(logs), ledger)

    assert len(plan.fills) == 1
    assert (
        plan.skipped[0].reason
        == "the same trade as trades[0] (recorded twice; the legacy TradeManager counted it twice)"
    )
    quantity = row(plan, "trade_manager", "ETH/USD", "quantity")
    assert (quantity.legacy, quantity.replay, quantity.status) == (Decimal("2.0"), Decimal(1), "differs")
    assert quantity.causes == ("the legacy TradeManager also counted trades[1] (recorded twice)",)


def position_record(symbol: str, amount: float, price: float, opened: str, trades: list[dict[str, object]]):
    """A legacy Position.to_dict() of an open long (legacy-system.md §1.2), with its copies of trades."""
    return {"symbol": symbol, "side": "long", "total_amount": amount, "average_price": price, "realized_pnl": 0.0,
            "fees_paid": 0.0, "entry_time": opened, "trades": trades}  # fmt: skip


def test_a_positions_copy_of_a_trade_the_trade_list_lacks_is_refused_naming_it(tmp_path: Path, ledger: Ledger) -> None:
    # The legacy TradeManager appended every trade to its list before the position took a copy, and wrote
    # both from one object: a copy the list lacks is a file saved part way or edited. Read as it stood, the
    # migration appended nothing for BTC/USD and its open position went missing from the ledger.
    logs = tmp_path / "logs"
    btc = trade("t-1", "BTC/USD", "buy", 1.0, 100.0, "2025-09-01T10:00:00.000001")
    eth = trade("t-2", "ETH/USD", "buy", 2.0, 50.0, "2025-09-01T11:00:00.000001")
    write_state(logs, [eth])
    state = json.loads((logs / STATE_FILE).read_text())
    state["positions"] = {
        "BTC/USD": position_record("BTC/USD", 1.0, 100.0, "2025-09-01T10:00:00.000001", [btc]),
        "ETH/USD": position_record("ETH/USD", 2.0, 50.0, "2025-09-01T11:00:00.000001", [eth]),
    }
    (logs / STATE_FILE).write_text(json.dumps(state))

    with pytest.raises(
        MigrationError,
        match=r"trade_manager_state\.json: positions\['BTC/USD'\]\.trades\[0\] \(id 't-1'\): not in the trade list",
    ):
        plan_migration(read(logs), ledger)
    assert ledger.head.seq == 0


def test_a_position_record_no_trade_explains_differs_with_its_cause_named(tmp_path: Path, ledger: Ledger) -> None:
    logs = tmp_path / "logs"
    write_state(logs, [])
    state = json.loads((logs / STATE_FILE).read_text())
    state["positions"] = {"BTC/USD": position_record("BTC/USD", 1.0, 100.0, "2025-09-01T10:00:00", [])}
    (logs / STATE_FILE).write_text(json.dumps(state))

    plan = plan_migration(read(logs), ledger)

    assert plan.fills == ()
    quantity = row(plan, "trade_manager", "BTC/USD", "quantity")
    assert (quantity.legacy, quantity.replay, quantity.status) == (Decimal("1.0"), Decimal(0), "differs")
    unexplained = (
        "not explained by the legacy rules over the file's own records (they give 0): the file was edited, "
        "reset or saved part way (legacy-system.md §1.4)"
    )
    assert quantity.causes == (unexplained,)


# --- bad input: named, never skipped, nothing appended -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (TRADES_CSV, "BTC/USD,buy,0.1,100,2025-08-26T19:02:01,False\nBTC/USD,buy,abc,100,2025-08-26T19:03:01,False\n",
         r"trades\.csv: line 2: amount: must be a decimal number \(got 'abc'\)"),
        (TRADES_CSV, "BTC/USD,hold,0.1,100,2025-08-26T19:02:01,False\n",
         r"trades\.csv: line 1: side must be buy or sell \(got 'hold'\)"),
        (TRADES_CSV, "BTC/USD,buy,0.1,100,yesterday,False\n",
         r"trades\.csv: line 1: timestamp: not an ISO 8601 time \(got 'yesterday'\)"),
        (TRADES_CSV, "BTC/USD,buy,0.1,100,2025-08-26T19:02:01,maybe\n",
         r"trades\.csv: line 1: is_stop must be True or False \(got 'maybe'\)"),
        (TRADES_CSV, "BTCUSD,buy,0.1,100,2025-08-26T19:02:01,False\n",
         r"trades\.csv: line 1: symbol: must be BASE/QUOTE"),
        (STATE_FILE, json.dumps({"trades": [trade("t-1", "BTC/USD", "short", 1, 100, "2025-09-01T10:00:00")]}),
         r"trade_manager_state\.json: trades\[0\] \(id 't-1'\): side: Input should be 'buy' or 'sell' \(got 'short'\)"),
        (STATE_FILE, json.dumps({"trades": [trade("t-1", "BTC/USD", "buy", -1, 100, "2025-09-01T10:00:00")]}),
         r"trade_manager_state\.json: trades\[0\] \(id 't-1'\): .*amount: must be greater than 0 \(got -1\)"),
        (STATE_FILE, "{not json", r"trade_manager_state\.json: not JSON"),
        (WALLET_FILE, ("balance: 1\ninitial_balance: 1\npositions:\n  X/USD: {side: buy, size: 1, entry_price: 0,"
         " entry_time: '2025-09-01T10:00:00'}\n"),
         r"paper_wallet_state\.yaml: positions\['X/USD'\]: size must be 0 or more and entry_price above 0"),
        (WALLET_FILE, "balance: 1\ninitial_balance: 1\npositions:\n  X/USD: {side: up, size: 1, entry_price: 1}\n",
         r"paper_wallet_state\.yaml: positions\['X/USD'\]: side must be buy, sell, long or short \(got 'up'\)"),
        (WALLET_FILE, "balance: 1\ninitial_balance: 1\npositions:\n  X/USD: {side: buy, size: 1, entry_price: 1}\n",
         r"paper_wallet_state\.yaml: positions\['X/USD'\]: timestamp: must be an ISO 8601 time \(got NoneType None\)"),
        ("positions.log", "2025-08-26 14:01:55,576 - INFO - Active CXT/EUR buy lots entry 1\n",
         r"positions\.log: line 1: not an 'Active SYMBOL side amount entry …' line"),
    ],
)  # fmt: skip
def test_an_unreadable_record_names_file_line_and_value_and_nothing_is_appended(
    tmp_path: Path, ledger: Ledger, name: str, text: str, message: str
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / name).write_text(text)

    with pytest.raises(LedgerError, match=message):
        plan_migration(read(logs), ledger)

    assert ledger.head.seq == 0
    assert not (logs / "migration_backup").exists()


def test_a_missing_default_file_is_no_source_but_a_missing_named_file_is_an_error(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / TRADES_CSV).write_text("")

    paths = LegacyPaths.resolve(logs)
    assert (paths.state_file, paths.wallet_file, paths.trades_csv, paths.positions_log) == (
        None,
        None,
        logs / TRADES_CSV,
        None,
    )
    with pytest.raises(MigrationError, match="no such file"):
        LegacyPaths.resolve(logs, state_file=tmp_path / "elsewhere.json")


def test_the_wallet_starting_balance_comes_from_the_config_then_the_file_beside_it_then_10000(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"

    assert wallet_initial_balance(Decimal(2500), config) == (
        Decimal(2500),
        "paper_wallet.initial_balance in the config",
    )
    assert wallet_initial_balance(None, config) == (Decimal(10000), "the legacy default")
    (tmp_path / "paper_wallet_config.yaml").write_text("initial_balance: 5405.97\nallow_short: true\n")
    assert wallet_initial_balance(None, config) == (Decimal("5405.97"), str(tmp_path / "paper_wallet_config.yaml"))


def test_progress_is_reported_per_file(generated_logs: Path) -> None:
    seen: list[tuple[str, int, int]] = []

    def record(what: str, done: int, total: int) -> None:
        seen.append((what, done, total))

    read_legacy_files(LegacyPaths.resolve(generated_logs), on_progress=record)

    assert seen[-1] == (f"reading {STATE_FILE}", 120, 120)
