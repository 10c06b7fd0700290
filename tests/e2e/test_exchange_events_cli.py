"""Exchange-real events through the CLI (spec section 9): fees in any currency, funding, transfers, balances,
and what a ledger written before them keeps."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import GOLDEN, Cli

MAIN_BEFORE_0007 = GOLDEN.parent / "main-e36b65c"
T0 = "2025-01-01T00:00:00Z"


def fill(fill_id: str, symbol: str, side: str, quantity: str, price: str, *fees: str) -> list[str]:
    fee_options = [option for fee in fees for option in ("--fee", fee)]
    return ["record", "--fill-id", fill_id, "--exchange", "binance", "--symbol", symbol, "--side", side,
            "--quantity", quantity, "--price", price, *fee_options, "--time", T0]  # fmt: skip


def test_a_fee_in_the_base_currency_nets_exactly_the_cash_made_and_leaves_no_coin(cli: Cli) -> None:
    cli(*fill("b1", "BTC/USDT", "buy", "1", "50000"), "--fee", "0.001", "--fee-currency", "BTC")
    cli(*fill("s1", "BTC/USDT", "sell", "0.999", "51000"))

    state = cli.json("positions", "--closed")
    balances = cli.json("balances")

    assert state["open"] == []
    [cycle] = state["closed"]
    assert (cycle["realized_pnl"], cycle["fees"], cycle["net_pnl"]) == ("999", "50", "949")
    assert balances == {
        "seq": 2,
        "balances": [
            {"account": "default", "exchange": "binance", "currency": "BTC", "amount": "0"},
            {"account": "default", "exchange": "binance", "currency": "USDT", "amount": "949"},
        ],
    }


def test_a_third_currency_fee_is_valued_by_its_quote_value_or_kept_unvalued_and_shown_at_a_mark(cli: Cli) -> None:
    cli(*fill("v", "ETH/USDT", "buy", "1", "2000", "0.01:BNB:6"))
    cli(*fill("u", "ETH/USDT", "buy", "1", "2000", "0.02:BNB", "1:USDT"))

    [position] = cli.json("positions", "--mark", "BNB/USDT=500")["open"]

    assert (position["fees"], position["net_pnl"]) == ("7", "-7")
    assert position["unvalued_fees"] == [{"currency": "BNB", "amount": "0.02", "value_at_mark": "10"}]
    assert cli.json("positions")["totals"]["unvalued_fees"] == [{"currency": "BNB", "amount": "0.02"}]
    text = cli("positions", "--mark", "BNB/USDT=500").stdout
    assert "Unvalued fees (not in net): 0.02 BNB (≈ 10 USDT at the BNB/USDT mark)" in text
    assert "not used" not in text
    bnb = [b for b in cli.json("balances")["balances"] if b["currency"] == "BNB"]
    assert bnb == [{"account": "default", "exchange": "binance", "currency": "BNB", "amount": "-0.03"}]


def test_a_maker_rebate_raises_the_net(cli: Cli) -> None:
    cli(*fill("r", "BTC/USDT", "buy", "1", "100", "-0.05"))

    [position] = cli.json("positions")["open"]

    assert (position["fees"], position["net_pnl"]) == ("-0.05", "0.05")


def test_funding_goes_into_the_open_cycle_and_transfers_move_balances_only(cli: Cli) -> None:
    cli("record-transfer", "--transfer-id", "d1", "--exchange", "bybit", "--currency", "USDT", "--amount", "1000",
        "--kind", "deposit", "--time", T0)  # fmt: skip
    cli("record", "--fill-id", "p1", "--exchange", "bybit", "--symbol", "BTC/USDT:USDT", "--side", "buy",
        "--quantity", "0.1", "--price", "50000", "--fee", "2", "--time", T0)  # fmt: skip
    cli("record-funding", "--funding-id", "f1", "--exchange", "bybit", "--symbol", "BTC/USDT:USDT",
        "--amount", "-1.5", "--time", "2025-01-01T08:00:00Z")  # fmt: skip
    cli("record", "--fill-id", "p2", "--exchange", "bybit", "--symbol", "BTC/USDT:USDT", "--side", "sell",
        "--quantity", "0.1", "--price", "51000", "--fee", "2", "--time", "2025-01-01T09:00:00Z")  # fmt: skip
    cli("record-transfer", "--transfer-id", "w1", "--exchange", "bybit", "--currency", "USDT", "--amount", "-500",
        "--fee", "1", "--kind", "withdrawal", "--time", "2025-01-02T00:00:00Z")  # fmt: skip
    cli("record-transfer", "--transfer-id", "m1", "--exchange", "bybit", "--currency", "USDT", "--amount", "-100",
        "--kind", "internal", "--to-account", "spot", "--time", "2025-01-02T00:00:00Z")  # fmt: skip

    state = cli.json("positions", "--closed")

    [cycle] = state["closed"]
    assert (cycle["realized_pnl"], cycle["fees"], cycle["funding"], cycle["net_pnl"]) == ("100", "4", "-1.5", "94.5")
    assert state["totals"]["net_pnl"] == "94.5"  # the transfers are not in it
    # 1000 in, +94.5 from the contract, -501 out, -100 moved to spot; the contract moved no BTC.
    assert cli.json("balances") == {
        "seq": 7,
        "balances": [
            {"account": "default", "exchange": "bybit", "currency": "USDT", "amount": "493.5"},
            {"account": "spot", "exchange": "bybit", "currency": "USDT", "amount": "100"},
        ],
    }
    assert cli.json("balances", "--account", "spot")["balances"] == [
        {"account": "spot", "exchange": "bybit", "currency": "USDT", "amount": "100"}
    ]
    assert cli.json("verify")["ok"] is True


def test_the_positions_tables_show_funding_so_each_rows_net_adds_up(cli: Cli) -> None:
    cli("record", "--fill-id", "p1", "--exchange", "bybit", "--symbol", "ETH/USDT:USDT", "--side", "sell",
        "--quantity", "2", "--price", "3000", "--fee", "1.2", "--time", T0)  # fmt: skip
    cli("record-funding", "--funding-id", "f1", "--exchange", "bybit", "--symbol", "ETH/USDT:USDT",
        "--amount", "0.75", "--time", "2025-01-01T08:00:00Z")  # fmt: skip
    cli("record", "--fill-id", "p2", "--exchange", "bybit", "--symbol", "ETH/USDT:USDT", "--side", "buy",
        "--quantity", "1", "--price", "2900", "--fee", "0.58", "--time", "2025-01-02T00:00:00Z")  # fmt: skip
    cli("record-funding", "--funding-id", "f2", "--exchange", "bybit", "--symbol", "ETH/USDT:USDT",
        "--amount", "-0.25", "--time", "2025-01-02T08:00:00Z")  # fmt: skip
    cli("record", "--fill-id", "s1", "--exchange", "binance", "--symbol", "BTC/USDT", "--side", "buy",
        "--quantity", "1", "--price", "100", "--time", T0)  # fmt: skip

    lines = [
        " ".join(line.replace("│", " ").replace("┃", " ").split()) for line in cli("positions").stdout.splitlines()
    ]

    # Realized + Funding - Fees = Net on every row and on the lifetime line: 100 + 0.5 - 1.78 = 98.72.
    assert "Symbol Side Qty Avg price Realized Funding Fees Net Opened" in lines
    assert "ETH/USDT:USDT short 1 3000 100.00 0.50 1.78 98.72 #1" in lines
    assert "BTC/USDT long 1 100 0.00 0.00 0.00 0.00 #5" in lines
    assert "Lifetime: realized 100.00, funding 0.50, fees 1.78, net 98.72" in lines


def test_the_positions_table_of_a_ledger_without_funding_has_no_funding_column(cli: Cli) -> None:
    cli(*fill("b1", "BTC/USDT", "buy", "1", "100", "0.1"))

    lines = [
        " ".join(line.replace("│", " ").replace("┃", " ").split()) for line in cli("positions").stdout.splitlines()
    ]

    assert "Symbol Side Qty Avg price Realized Fees Net Opened" in lines
    assert "Lifetime: realized 0.00, fees 0.10, net -0.10" in lines


def test_the_replayed_wallet_adds_the_funding_paid_into_its_cash(cli: Cli) -> None:
    cli("record", "--fill-id", "p1", "--exchange", "bybit", "--symbol", "BTC/USDT:USDT", "--side", "buy",
        "--quantity", "1", "--price", "100", "--fee", "0.1", "--time", T0)  # fmt: skip
    cli("record-funding", "--funding-id", "f1", "--exchange", "bybit", "--symbol", "BTC/USDT:USDT",
        "--amount", "-2", "--time", "2025-01-01T08:00:00Z")  # fmt: skip

    wallet = cli.json("replay", "--initial-balance", "1000")["wallet"]
    text = cli("replay", "--initial-balance", "1000").stdout

    # cash 1000 - 100 - 0.1 - 2 = 897.9; + 100 at cost = 997.9 = 1000 + 0 realized - 2 funding - 0.1 fees
    assert (wallet["cash"], wallet["positions_at_cost"], wallet["funding"], wallet["fees"]) == (
        "897.9",
        "100",
        "-2",
        "0.1",
    )
    assert (
        "cash 897.90 + positions at cost 100.00 = initial 1,000.00 + realized 0.00 + funding -2.00 - fees 0.10"
        in " ".join(text.split())
    )


def test_an_ndjson_file_of_typed_events_imports_and_history_shows_their_types(cli: Cli, tmp_path: Path) -> None:
    lines = [
        {"fill_id": "a", "exchange": "x", "symbol": "BTC/USDT:USDT", "side": "sell", "quantity": "1",
         "price": "100", "fees": [{"amount": "0.1", "currency": "USDT"}], "occurred_at": T0},
        {"type": "funding", "funding_id": "f", "exchange": "x", "symbol": "BTC/USDT:USDT", "amount": 2,
         "currency": "USDT", "occurred_at": T0},
        {"type": "transfer", "transfer_id": "t", "exchange": "x", "currency": "USDT", "amount": "-3",
         "kind": "withdrawal", "occurred_at": T0},
    ]  # fmt: skip
    events = tmp_path / "events.ndjson"
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))

    assert cli.json("import", str(events)) == {"appended": 3, "duplicates": 0, "seq": 3}
    assert cli.json("import", str(events)) == {"appended": 0, "duplicates": 3, "seq": 3}

    history = cli.json("history")
    assert [entry["type"] for entry in history] == ["fill", "funding", "transfer"]
    assert history[0]["fees"] == [{"amount": "0.1", "currency": "USDT"}]
    assert (history[1]["funding_id"], history[1]["amount"]) == ("f", "2")
    assert (history[2]["transfer_id"], history[2]["kind"]) == ("t", "withdrawal")
    [short] = cli.json("positions")["open"]
    assert (short["funding"], short["net_pnl"]) == ("2", "1.9")


def test_a_ledger_written_before_the_typed_events_opens_verifies_and_keeps_its_positions(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "old.db"
    shutil.copy(MAIN_BEFORE_0007 / "ledger.db", copy)
    copy.chmod(0o644)  # the fixture is kept read-only
    cli = Cli(f"sqlite:///{copy}")

    state = cli.json("positions", "--closed")

    before = json.loads((MAIN_BEFORE_0007 / "positions.json").read_text())
    for cycle in [*before["open"], *before["closed"], before["totals"]]:  # the new fields, zero or empty
        cycle.update(funding="0", unvalued_fees=[])
    assert state == before
    assert cli.json("verify")["ok"] is True
    # Built on the first open (revision 0007 asks for a rebuild): what each account holds, from its fills.
    held = [(b["account"], b["exchange"], b["currency"], b["amount"]) for b in cli.json("balances")["balances"]]
    assert held == [
        ("default", "binance", "BTC", "-1"),  # the open BTC short
        ("default", "binance", "ETH", "-1.5"),  # the open ETH short
        ("default", "binance", "USD", "4797.25"),
        ("default", "kraken", "ETH", "0.5"),  # bought after the rollback
        ("default", "kraken", "USD", "-1500.3"),  # 0.5 x 3000 + fee 0.3
        ("swing", "binance", "SOL", "10"),
        ("swing", "binance", "USD", "-200.02"),  # 10 x 20 + fee 0.02
    ]


def test_a_v1_fill_sent_again_with_its_fee_as_a_quote_fee_is_a_duplicate_and_another_fee_a_conflict(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "old.db"
    shutil.copy(MAIN_BEFORE_0007 / "ledger.db", copy)
    copy.chmod(0o644)  # the fixture is kept read-only
    cli = Cli(f"sqlite:///{copy}")
    g1 = ["record", "--fill-id", "G-1", "--exchange", "binance", "--symbol", "BTC/USD", "--side", "buy",
          "--quantity", "1", "--price", "100", "--time", "2026-01-05T10:00:00Z"]  # fmt: skip

    assert cli.json(*g1, "--fee", "0.1:USD") == {"seq": 1, "hash": cli.json("history")[0]["hash"], "duplicate": True}
    assert cli.json(*g1, "--fee", "0.10")["duplicate"] is True
    refused = cli(*g1, "--fee", "0.1:BNB", expect=2)

    assert "G-1" in refused.stderr
    assert cli.json("verify")["events"] == 10


def test_an_export_written_before_the_typed_events_imports_and_verifies(cli: Cli) -> None:
    summary = cli.json("import", str(MAIN_BEFORE_0007 / "export.ndjson"))

    assert (summary["appended"], summary["rollbacks"], summary["seq"], summary["verify"]) == (10, 1, 10, True)
    exported = [json.loads(line) for line in cli("export").stdout.splitlines()]
    assert exported[0]["version"] == 2
    assert exported[0]["event_versions"] == {"fill": [1]}
    assert {(line["event_type"], line["version"]) for line in exported[1:-1]} == {("fill", 1)}


def test_ccxt_unified_symbols_with_digit_codes_and_dated_futures_are_booked_in_base_units(cli: Cli) -> None:
    cli(*fill("pepe", "1000PEPE/USDT:USDT", "buy", "2500", "0.0121", "0.01"))
    cli(*fill("fut", "BTC/USDT:USDT-251226", "sell", "0.5", "98000"))

    opened = {p["symbol"]: (p["side"], p["quantity"], p["avg_price"]) for p in cli.json("positions")["open"]}

    assert opened == {
        "1000PEPE/USDT:USDT": ("long", "2500", "0.0121"),
        "BTC/USDT:USDT-251226": ("short", "0.5", "98000"),
    }
    # Contracts move no base: only the fee left the settle currency.
    assert cli.json("balances")["balances"] == [
        {"account": "default", "exchange": "binance", "currency": "USDT", "amount": "-0.01"}
    ]


def test_fees_given_as_fee_and_fee_currency_pairs_are_the_fees_their_colon_form_gives(cli: Cli, tmp_path: Path) -> None:
    paired = fill("p", "ETH/USDT", "buy", "1", "2000")
    paired += ["--fee", "1", "--fee", "0.02", "--fee-currency", "BNB", "--fee-quote-value", "6.1"]
    paired += ["--fee=-0.5", "--fee-currency=USDT", "--fee", "0.001", "--fee-currency", "ETH"]
    colon = Cli(f"sqlite:///{tmp_path / 'colon.db'}")

    cli(*paired)
    colon(*fill("p", "ETH/USDT", "buy", "1", "2000", "1", "0.02:BNB:6.1", "-0.5:USDT", "0.001:ETH"))

    [stored] = cli.json("history")
    assert stored["fees"] == [
        {"amount": "0.02", "currency": "BNB", "quote_value": "6.1"},
        {"amount": "0.001", "currency": "ETH"},
        {"amount": "-0.5", "currency": "USDT"},
        {"amount": "1", "currency": "USDT"},
    ]
    assert [event["fees"] for event in colon.json("history")] == [stored["fees"]]
    [position] = cli.json("positions")["open"]
    assert (position["quantity"], position["fees"]) == ("0.999", "8.6")  # 1 + 6.1 - 0.5 + 0.001 x 2000


@pytest.mark.parametrize(
    ("fees", "refused"),
    [
        (["--fee-currency", "BNB", "--fee", "1", "--fee", "2"], "--fee-currency 'BNB' comes before any --fee"),
        (["--fee", "1", "--fee-currency", "BNB", "--fee-currency", "USDT", "--fee", "2"], "--fee-currency twice"),
        (["--fee", "1:BNB", "--fee-currency", "USDT", "--fee", "2"], "--fee '1:BNB' names its currency already"),
        (["--fee", "1", "--fee-quote-value", "5", "--fee", "2"], "--fee-quote-value of a --fee without --fee-currency"),
    ],
)
def test_fee_pairs_that_do_not_pair_are_refused_naming_the_option(cli: Cli, fees: list[str], refused: str) -> None:
    result = cli(*fill("p", "ETH/USDT", "buy", "1", "2000"), *fees, expect=2)

    assert refused in result.stderr
    assert cli.json("history") == []


def test_an_internal_move_into_the_account_it_leaves_is_refused_naming_to_account(cli: Cli) -> None:
    result = cli("record-transfer", "--transfer-id", "m1", "--exchange", "bybit", "--currency", "USDT",
                 "--amount", "-100", "--kind", "internal", "--account", "spot", "--to-account", "spot",
                 "--time", T0, expect=2)  # fmt: skip

    assert "--to-account: an internal move goes to another account than the one it leaves ('spot')" in result.stderr
    assert cli.json("history") == []


def test_an_internal_move_conserves_the_total_less_its_fee(cli: Cli) -> None:
    """1000 USDT into default; 300 moved to desk2 paying 1: default holds 699, desk2 300, the total 999."""
    cli("record-transfer", "--transfer-id", "d1", "--exchange", "bybit", "--currency", "USDT", "--amount", "1000",
        "--kind", "deposit", "--time", T0)  # fmt: skip
    cli("record-transfer", "--transfer-id", "m1", "--exchange", "bybit", "--currency", "USDT", "--amount", "-300",
        "--fee", "1", "--kind", "internal", "--to-account", "desk2", "--time", T0)  # fmt: skip

    assert cli.json("balances")["balances"] == [
        {"account": "default", "exchange": "bybit", "currency": "USDT", "amount": "699"},
        {"account": "desk2", "exchange": "bybit", "currency": "USDT", "amount": "300"},
    ]
    assert cli.json("positions")["totals"]["net_pnl"] == "0"  # never PnL
    moves = [(e["seq"], e["account"], e["transfer_id"], e["amount"], e["fee"]) for e in cli.json("history")]
    assert moves == [
        (1, "default", "d1", "1000", "0"),
        (2, "default", "m1", "-300", "1"),
        (3, "desk2", "m1", "300", "0"),
    ]


def test_history_filtered_to_nothing_says_no_event_matches_not_that_the_log_is_empty(cli: Cli) -> None:
    cli("record-transfer", "--transfer-id", "d1", "--exchange", "bybit", "--currency", "USDT", "--amount", "1000",
        "--kind", "deposit", "--time", T0)  # fmt: skip

    by_symbol = cli("history", "--symbol", "BTC/USDT").stdout
    by_account = cli("history", "--account", "desk2").stdout
    both = cli("history", "--symbol", "BTC/USDT", "--account", "desk2").stdout

    assert "the log is empty" not in by_symbol + by_account + both
    assert "no event matches --symbol BTC/USDT" in by_symbol
    assert "no event matches --account desk2" in by_account
    assert "no event matches --symbol BTC/USDT --account desk2" in both


def test_an_internal_move_recorded_again_reports_each_side_as_new_or_duplicate(cli: Cli) -> None:
    move = ["record-transfer", "--transfer-id", "m1", "--exchange", "bybit", "--currency", "USDT", "--amount", "-100",
            "--kind", "internal", "--time", T0]  # fmt: skip
    cli(*move)  # the side out of default alone: seq 1

    text = cli(*move, "--to-account", "desk2").stdout  # default's side again, desk2's side new: seq 2
    again = cli.json(*move, "--to-account", "desk2")  # both again

    assert "nothing appended" not in text
    assert "transfer m1 is already recorded as seq 1" in text
    assert "and its other side into account desk2 as seq 2" in text
    hashes = {event["seq"]: event["hash"] for event in cli.json("history")}
    assert again == {
        "seq": 1,
        "hash": hashes[1],
        "duplicate": True,
        "other_side": {"account": "desk2", "seq": 2, "hash": hashes[2], "duplicate": True},
    }
    both_again = cli(*move, "--to-account", "desk2").stdout
    assert "transfer m1 is already recorded as seq 1 (nothing appended)" in both_again
    assert "its other side in account desk2 is already recorded as seq 2" in both_again


def test_verify_of_a_balance_changed_behind_the_ledgers_back_names_the_balances_not_a_seq_of_none(cli: Cli) -> None:
    cli("record-transfer", "--transfer-id", "d1", "--exchange", "bybit", "--currency", "USDT", "--amount", "1000",
        "--kind", "deposit", "--time", T0)  # fmt: skip
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE projection_entries SET value = '999' WHERE projection = 'balances'")

    result = cli("verify", expect=1)

    assert "None" not in result.stderr
    assert result.stderr.startswith("verify: FAILED — no bad seq; the first difference is in the balances\n")
    assert "('default', 'bybit', 'USDT'): stored 999, a fold of the log gives 1000" in result.stderr


def test_a_withdrawal_larger_than_the_balance_is_recorded_and_the_balance_shown_negative(cli: Cli) -> None:
    """The log records what the exchange reports; a deposit the ledger has not seen (older than its first sync,
    or not ingested yet) must not block the withdrawal that follows it. The balance says what the log explains:
    100 in, 250 and a fee of 1 out, -151, for reconcile to name against the exchange."""
    cli("record-transfer", "--transfer-id", "d1", "--exchange", "bybit", "--currency", "USDT", "--amount", "100",
        "--kind", "deposit", "--time", T0)  # fmt: skip
    cli("record-transfer", "--transfer-id", "w1", "--exchange", "bybit", "--currency", "USDT", "--amount", "-250",
        "--fee", "1", "--kind", "withdrawal", "--time", T0)  # fmt: skip

    assert cli.json("balances")["balances"] == [
        {"account": "default", "exchange": "bybit", "currency": "USDT", "amount": "-151"}
    ]
    assert cli.json("verify")["ok"] is True
