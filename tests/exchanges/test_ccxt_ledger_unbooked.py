"""A ledger entry no event books is skipped saying what moved and how to record it (spec section 10).

kraken's recorded ledger (tests/fixtures/ccxt-recorded/kraken-ledger-unbooked.json, ccxt 4.5.90's parse of kraken's
raw `Ledgers` answer): a Buy Crypto of BTC for 50 USD (kraken's `spend` and `receive`, not in kraken's TradesHistory;
ccxt passes kraken's own word on as the type), a margin rollover fee of 0.02 USD and a staking reward of DOT.S.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tradeledger.cli import app
from tradeledger.exchanges.ccxt.mapping import Kind, map_entries

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-recorded"


def test_kraken_ledger_entries_the_trades_do_not_carry_are_skipped_naming_what_moved_and_how_to_record_it() -> None:
    entries = json.loads((RECORDED / "kraken-ledger-unbooked.json").read_text())

    mapped = map_entries(entries, exchange="kraken", kind=Kind.LEDGER)

    assert mapped.events == ()
    assert mapped.skipped == (
        (
            0,
            (
                "a ledger spend entry (Buy Crypto or convert of 'kraken', not in its trade list): -50.4000 USD moved "
                "that no event books; reconcile shows it as a USD difference: record the conversion as one fill with "
                "`record` (both legs have referenceId TJKLXX-PFLZT-SNYMTW)"
            ),
        ),
        (
            1,
            (
                "a ledger receive entry (Buy Crypto or convert of 'kraken', not in its trade list): +0.0016000000 BTC "
                "moved that no event books; reconcile shows it as a BTC difference: record the conversion as one "
                "fill with `record` (both legs have referenceId TJKLXX-PFLZT-SNYMTW)"
            ),
        ),
        (
            2,
            (
                "a ledger rollover entry (a margin position's rollover fee): -0.0200 USD moved that no event books; "
                "reconcile shows it as a USD difference: record it with `record-transfer --kind withdrawal`"
            ),
        ),
        (
            3,
            (
                "a ledger staking entry (income the trade list does not carry): +0.0123456789 DOT.S moved that "
                "no event books; reconcile shows it as a DOT.S difference: record it with "
                "`record-transfer --kind deposit`"
            ),
        ),
    )


def test_a_ledger_trade_entry_of_a_trade_in_the_trade_list_is_skipped_as_carried_by_it() -> None:
    (_, trade, _) = json.loads((RECORDED / "kraken-ledger.json").read_text())

    mapped = map_entries([trade], exchange="kraken", kind=Kind.LEDGER)

    assert mapped.skipped == ((0, "a ledger trade entry (its trade carries it: ingest the trade list)"),)


def test_ingest_of_a_kraken_ledger_books_nothing_it_cannot_and_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--db",
            f"sqlite:///{tmp_path / 'ledger.db'}",
            "ingest",
            "ccxt",
            str(RECORDED / "kraken-ledger-unbooked.json"),
            "--exchange",
            "kraken",
        ],
    )

    assert result.exit_code == 0
    shown = " ".join(result.stdout.split())
    assert "(ledger): 0 appended, 0 duplicates, 4 skipped; head seq 0 skipped 1: a ledger receive entry" in shown
    assert (
        "skipped 1: a ledger rollover entry (a margin position's rollover fee): -0.0200 USD moved that no event books; "
        "reconcile shows it as a USD difference: record it with `record-transfer --kind withdrawal` "
        "skipped 1: a ledger spend"
    ) in shown


def test_a_ledger_charge_is_skipped_as_a_withdrawal_to_record_and_one_without_an_amount_still_skipped() -> None:
    entries = [
        {"id": "c1", "type": "settlement", "direction": "out", "currency": "USDT", "amount": "3.5", "timestamp": 1},
        {"id": "c2", "type": "airdrop", "direction": "in", "currency": "ARB", "amount": None, "timestamp": 2},
    ]

    mapped = map_entries(entries, exchange="okx", kind=Kind.LEDGER)

    assert mapped.skipped == (
        (
            0,
            (
                "a ledger settlement entry (a charge the trade list does not carry): -3.5 USDT moved that no event "
                "books; reconcile shows it as a USDT difference: record it with `record-transfer --kind withdrawal`"
            ),
        ),
        (
            1,
            (
                "a ledger airdrop entry (money the trade list does not carry): an amount not given (None) of ARB "
                "moved that no event books; reconcile shows it as a ARB difference: record it with "
                "`record-transfer --kind deposit` (income) or `--kind withdrawal` (a charge)"
            ),
        ),
    )
