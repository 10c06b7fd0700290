"""Two migrations at once on one SQLite file: each plans against the ledger (its checks read the account's fills),
then appends. Two `Ledger`s opened on the file are two processes' connections; each plans before either appends
(the race's worst interleaving: a barrier between the threads, or the runs one after the other)."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from tests.compat.test_migration import GENERATED, needs, plan_for, real_logs, run
from tradeledger import Ledger, open_ledger
from tradeledger.compat.migration import STATE_FILE, TRADES_CSV, WALLET_FILE, MigrationError, MigrationResult

APU = ("APU/USD", "long", Decimal("4935549.0196"), Decimal("0.000184"))


def opened(url: str) -> Ledger:
    return open_ledger(url)


def positions(ledger: Ledger) -> set[tuple[str, str, Decimal, Decimal]]:
    return {(p.symbol, p.side.value, p.quantity, p.avg_price) for p in ledger.positions()}


def wallet_only(folder: Path, wallet: str) -> Path:
    logs = real_logs(folder, wallet)
    for name in (TRADES_CSV, "positions.log"):
        (logs / name).unlink()
    return logs


def test_the_same_files_migrated_twice_at_once_are_appended_once(tmp_path: Path) -> None:
    # Two copies of the real files (each run backs up into its own folder), two runs planned on the empty ledger,
    # appending at the same moment: the append's own dedupe leaves the second run nothing to add.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    folders = [real_logs(tmp_path / name) for name in ("one", "two")]
    barrier = threading.Barrier(2)
    outcomes: dict[int, MigrationResult | BaseException] = {}

    def migrate(index: int) -> None:
        with opened(url) as ledger:
            files, plan = plan_for(folders[index], ledger)
            barrier.wait()
            try:
                outcomes[index] = run(ledger, plan, files)
            except BaseException as error:  # noqa: BLE001 - handed to the test's thread, asserted below
                outcomes[index] = error

    threads = [threading.Thread(target=migrate, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    results = [outcomes[0], outcomes[1]]
    assert all(isinstance(result, MigrationResult) for result in results), results
    assert sorted(result.appended for result in results if isinstance(result, MigrationResult)) == [0, 13]
    assert all(result.ok and result.missing == () for result in results if isinstance(result, MigrationResult))
    with opened(url) as ledger:
        assert ledger.head.seq == 13
        assert len(ledger.positions()) == 13
        assert APU in positions(ledger)
        assert ledger.verify().ok


def test_two_snapshots_of_one_wallet_migrated_at_once_open_each_position_once(tmp_path: Path) -> None:
    # The real wallet an hour apart: the later snapshot holds the earlier's six trade-id positions under new keys.
    # Run after the earlier one, its plan opens none of them again (test_migration); planned at the same time as
    # it, both plans see a flat ledger, and the later one's openings (other fill ids) would hold APU twice.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    earlier, later = wallet_only(tmp_path / "earlier", "earlier"), wallet_only(tmp_path / "later", "mixed_shapes")
    with opened(url) as first, opened(url) as second:
        first_files, first_plan = plan_for(earlier, first)
        second_files, second_plan = plan_for(later, second)
        assert (len(first_plan.new), len(second_plan.new)) == (11, 11)

        appended = run(first, first_plan, first_files).appended
        again = run(second, second_plan, second_files)

        assert (appended, again.appended, again.ok) == (11, 0, True)
        assert len(second.positions()) == 11
        assert APU in positions(second)
        assert second.head.seq == 11


def test_the_state_file_migrated_while_a_run_opens_its_symbols_from_the_wallet_is_refused(tmp_path: Path) -> None:
    # Run 1 has the wallet alone (DOT/USD opened from it); run 2 the state file, DOT/USD's whole history, and the
    # wallet. One after the other, run 2 is refused naming both (test_migration); planned at once, run 2's plan
    # saw a flat ledger and would append the state file's trades on top of run 1's wallet openings.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    alone = wallet_only(tmp_path / "alone", "mixed_shapes")
    logs = tmp_path / "with_state" / "crypto_bot" / "logs"
    logs.mkdir(parents=True)
    (logs / STATE_FILE).write_bytes(needs(GENERATED / STATE_FILE).read_bytes())
    (logs / WALLET_FILE).write_bytes((alone / WALLET_FILE).read_bytes())
    with opened(url) as first, opened(url) as second:
        first_files, first_plan = plan_for(alone, first)
        second_files, second_plan = plan_for(logs, second)
        run(first, first_plan, first_files)
        held = positions(first)

        with pytest.raises(
            MigrationError,
            match=(
                r"trade_manager_state\.json: trades\[0\] \(id '[0-9a-f-]+'\): DOT/USD is in the ledger from an "
                r"earlier migration of paper_wallet_state\.yaml \(seq 5, key DOT/USD\), which this plan does not "
                r"explain"
            ),
        ):
            run(second, second_plan, second_files)

        assert second.head.seq == 11
        assert positions(second) == held


def test_a_migration_whose_account_moved_since_its_plan_appends_nothing_and_asks_for_a_new_plan(
    tmp_path: Path,
) -> None:
    # A bot appends to the account between the plan and its append: the plan's checks may no longer hold. Planned
    # again, its 11 wallet openings would still be new: refused, nothing appended; the next run plans and appends.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    logs = wallet_only(tmp_path / "alone", "mixed_shapes")
    bot = {"fill_id": "bot-1", "exchange": "kraken", "symbol": "ETH/USD", "side": "buy", "quantity": "1",
           "price": "2000", "occurred_at": "2025-09-04T00:00:00+00:00"}  # fmt: skip
    with opened(url) as migrating, opened(url) as trading:
        files, plan = plan_for(logs, migrating)
        trading.record(bot)

        with pytest.raises(
            MigrationError,
            match=(
                r"^the ledger moved while this migration was planned: account default has events after seq 0 that "
                r"the plan did not see \(another migrate, or a bot, appended meanwhile\), and planned again 11 of its "
                r"fills would be new; nothing was appended: run migrate again to see the plan against the ledger as "
                r"it is now$"
            ),
        ):
            run(migrating, plan, files)
        assert migrating.head.seq == 1

        files, plan = plan_for(logs, migrating)
        assert run(migrating, plan, files).appended == 11
