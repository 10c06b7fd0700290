"""`record-settlement`: an expired dated future's open position closed at its settlement price, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from freezegun import freeze_time

from tests.e2e.conftest import Cli

FUTURE = "BTC/USDT:USDT-261225"


@pytest.fixture(autouse=True)
def _the_day_after_expiry() -> Iterator[None]:
    """The wall clock the day after FUTURE expired, when its settlement is recorded (a fill 5 minutes past the clock
    is refused)."""
    with freeze_time("2026-12-26T12:00:00Z"):
        yield


def opened(cli: Cli, side: str = "buy", quantity: str = "2", price: str = "90000") -> None:
    cli("record", "--fill-id", "o1", "--exchange", "binance", "--symbol", FUTURE, "--side", side,
        "--quantity", quantity, "--price", price, "--time", "2026-12-20T10:00:00Z")  # fmt: skip


POSITION_KEYS = ("account", "avg_price", "fees", "funding", "net_pnl", "opened_at", "opened_seq", "quantity",
                 "realized_pnl", "side", "symbol", "unvalued_fees")  # fmt: skip
SETTLE = ["record-settlement", "--symbol", FUTURE, "--price", "95500", "--time", "2026-12-25T08:00:00Z"]


def test_record_settlement_closes_the_position_and_the_settle_currency_gains_the_realized_pnl(cli: Cli) -> None:
    opened(cli)

    receipt = cli.json(*SETTLE, "--fee-rate", "0.0002")

    assert set(receipt) == {"seq", "hash", "duplicate"}
    assert (receipt["seq"], receipt["duplicate"]) == (2, False)
    state = cli.json("positions", "--closed")
    assert state["open"] == []
    [cycle] = state["closed"]
    assert (cycle["realized_pnl"], cycle["fees"], cycle["net_pnl"]) == ("11000", "38.2", "10961.8")
    assert cli.json("balances")["balances"] == [
        {"account": "default", "exchange": "binance", "currency": "USDT", "amount": "10961.8"}
    ]
    assert cli.json("verify")["ok"] is True


def test_record_settlement_says_what_it_closed(cli: Cli) -> None:
    opened(cli, side="sell", quantity="0.5", price="98000")

    result = cli(*SETTLE, "--fee", "9.55")

    assert result.stdout.startswith(
        "recorded settlement settlement:BTC/USDT:USDT-261225 in account 'default' on exchange 'binance' "
        "(buy 0.5 at 95500) as seq 2, hash "
    )


def test_record_settlement_refuses_when_nothing_is_open(cli: Cli) -> None:
    result = cli(*SETTLE, expect=2)

    assert result.stderr == (
        "error: --symbol: account 'default' holds no open position in BTC/USDT:USDT-261225; nothing to settle\n"
    )


def test_record_refuses_a_fill_after_the_expiry_day(cli: Cli) -> None:
    opened(cli)

    result = cli("record", "--fill-id", "late", "--exchange", "binance", "--symbol", FUTURE, "--side", "sell",
                 "--quantity", "2", "--price", "95500", "--time", "2026-12-26T00:00:01Z", expect=2)  # fmt: skip

    assert result.stderr.startswith(
        "error: fill 1: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25 (its expiry"
    )
    assert cli.json("positions")["open"][0]["quantity"] == "2"


def test_record_settlement_sent_again_is_a_duplicate_and_appends_nothing(cli: Cli) -> None:
    opened(cli)
    cli(*SETTLE)

    again = cli(*SETTLE)

    assert again.stdout == (
        "duplicate: settlement settlement:BTC/USDT:USDT-261225 is already recorded as seq 2 (nothing appended)\n"
    )
    assert cli.json(*SETTLE) == {"seq": 2, "hash": cli.json("verify")["head"]["hash"], "duplicate": True}


def test_positions_names_an_open_position_on_a_contract_that_expired_before_today_and_keeps_its_json(cli: Cli) -> None:
    for fill_id, symbol in (("old", "BTC/USDT:USDT-251226"), ("far", "BTC/USDT:USDT-991231")):
        cli("record", "--fill-id", fill_id, "--symbol", symbol, "--side", "buy", "--quantity", "1",
            "--price", "90000", "--time", "2025-01-02T00:00:00Z")  # fmt: skip
    note = (
        "BTC/USDT:USDT-251226 (account 'default') expired on 2025-12-26 and is still open: record its settlement with "
        "record-settlement"
    )

    table = cli("positions")
    document = cli("positions", "--json")

    assert table.stdout.rstrip("\n").endswith(note)
    assert "991231 (account" not in table.stdout
    assert document.stderr == note + "\n"
    found = json.loads(document.stdout)  # the document as it always was: the note is off it
    assert sorted(found) == ["closed", "epoch", "open", "seq", "totals"]
    assert sorted(found["open"][0]) == sorted(POSITION_KEYS)
    assert [p["symbol"] for p in found["open"]] == [
        "BTC/USDT:USDT-251226",
        "BTC/USDT:USDT-991231",
    ]


def test_positions_quotes_an_expired_positions_account_and_prints_its_markup_as_it_is(cli: Cli) -> None:
    hostile = "[red]x[/] [bold]"
    cli("record", "--fill-id", "old", "--account", hostile, "--symbol", "BTC/USDT:USDT-251226", "--side", "buy",
        "--quantity", "1", "--price", "90000", "--time", "2025-01-02T00:00:00Z")  # fmt: skip
    note = (
        "BTC/USDT:USDT-251226 (account '[red]x[/] [bold]') expired on 2025-12-26 and is still open: record its "
        "settlement with record-settlement"
    )

    table = cli("positions")
    document = cli("positions", "--json")

    assert table.stdout.rstrip("\n").endswith("\n" + note)
    assert document.stderr == note + "\n"


def test_import_refuses_a_settlement_that_leaves_part_of_the_position_open_and_imports_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    opened(cli)
    lines = [
        {"fill_id": "b2", "exchange": "binance", "symbol": FUTURE, "side": "buy", "quantity": "1", "price": "91000",
         "occurred_at": "2026-12-21T10:00:00Z"},
        {"fill_id": f"settlement:{FUTURE}", "exchange": "binance", "symbol": FUTURE, "side": "sell", "quantity": "2",
         "price": "95500", "occurred_at": "2026-12-25T08:00:00Z", "metadata": {"settlement": True}},
    ]  # fmt: skip
    source = tmp_path / "settled.ndjson"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = cli("import", str(source), expect=2)

    assert result.stderr == (
        "error: line 2: quantity: a settlement closes the whole open position of BTC/USDT:USDT-261225 in account "
        "'default' (long 3: a sell of 3) (got 2)\n"
    )
    assert cli.json("verify")["head"]["seq"] == 1


def test_record_funding_refuses_funding_after_the_expiry_day_naming_it_funding(cli: Cli) -> None:
    opened(cli)

    result = cli("record-funding", "--funding-id", "f1", "--exchange", "binance", "--symbol", FUTURE,
                 "--amount", "-1.5", "--time", "2026-12-26T00:00:00Z", expect=2)  # fmt: skip

    assert result.stderr.startswith(
        "error: funding 1: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25 (its expiry 261225); funding after"
    )
    assert cli.json("positions")["open"][0]["funding"] == "0"


def test_import_names_the_line_of_funding_after_the_expiry_day(cli: Cli, tmp_path: Path) -> None:
    lines = [
        {"fill_id": "b1", "exchange": "binance", "symbol": FUTURE, "side": "buy", "quantity": "1", "price": "91000",
         "occurred_at": "2026-12-21T10:00:00Z"},
        {"type": "funding", "funding_id": "f1", "exchange": "binance", "symbol": FUTURE, "amount": "-1.5",
         "currency": "USDT", "occurred_at": "2026-12-26T00:00:00Z"},
    ]  # fmt: skip
    source = tmp_path / "late-funding.ndjson"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = cli("import", str(source), expect=2)

    assert result.stderr.startswith(
        "error: line 2: occurred_at: BTC/USDT:USDT-261225 expired on 2026-12-25 (its expiry 261225); funding after"
    )
    assert cli.json("verify")["head"]["seq"] == 0


def test_record_settlement_on_a_second_exchange_quotes_both_names_as_written_on_one_line(cli: Cli) -> None:
    hostile = "[red]my 'main'[/] desk"
    cli("record", "--fill-id", "o1", "--exchange", hostile, "--symbol", FUTURE, "--side", "buy",
        "--quantity", "2", "--price", "90000", "--time", "2026-12-20T10:00:00Z")  # fmt: skip
    cli(*SETTLE, "--exchange", hostile)

    result = cli(*SETTLE, "--exchange", "other [b]", expect=2)

    assert result.stdout == ""
    assert result.stderr == (
        "error: --exchange: account 'default' settled BTC/USDT:USDT-261225 on \"[red]my 'main'[/] desk\" at seq 2 (a "
        "contract settles once per account, whichever of its exchanges it was filled on); nothing is open to settle "
        "on the exchange named (got 'other [b]')\n"
    )


def test_ingest_names_the_entry_of_a_funding_payment_after_the_settlement_as_the_list_holds_it(
    cli: Cli, tmp_path: Path
) -> None:
    opened(cli)
    cli(*SETTLE)
    # The list as ccxt's fetch_funding_history returns it, out of time order: the append takes it sorted by time,
    # where the dated future's payment (entry 0, at 16:00) is the third event: "funding 3" of the batch.
    payments = [
        {"id": "f-late", "timestamp": 1798214400000, "symbol": FUTURE, "code": "USDT", "amount": "-2"},
        {"id": "p-1", "timestamp": 1798160400000, "symbol": "BTC/USDT:USDT", "code": "USDT", "amount": "1"},
        {"id": "p-2", "timestamp": 1798164000000, "symbol": "BTC/USDT:USDT", "code": "USDT", "amount": "1"},
    ]
    source = tmp_path / "funding.json"
    source.write_text(json.dumps(payments))

    result = cli("ingest", "ccxt", str(source), "--exchange", "binance", expect=2)

    assert result.stdout == ""
    assert result.stderr == (
        "error: entry 0: symbol: account 'default' settled BTC/USDT:USDT-261225 on 'binance' at seq 2; funding after "
        "its settlement is refused: roll the settlement back, record the funding, then settle again "
        "(got BTC/USDT:USDT-261225); nothing was ingested\n"
    )
    assert cli.json("positions")["totals"]["funding"] == "0"


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (["--fee-rate", "NaN"], "--fee-rate: must be a finite Decimal or decimal string (got 'NaN')"),
        (["--price", "NaN"], "--price: must be a finite Decimal or decimal string (got 'NaN')"),
        (["--price", "-1"], "--price: must be greater than 0 (got -1)"),
        (
            ["--fee", "1", "--fee-rate", "0.1"],
            "--fee-rate: give the delivery fee as fees or as a rate of the value, not both",
        ),
        (
            ["--symbol", "BTC/USDT:USDT"],
            "--symbol: only a dated future (BASE/QUOTE:SETTLE-YYMMDD) settles at an expiry (got 'BTC/USDT:USDT')",
        ),
    ],
    ids=["fee rate", "price", "a negative price", "both fees", "a perpetual"],
)
def test_record_settlement_names_the_option_typed_in_a_refusal(cli: Cli, options: list[str], refusal: str) -> None:
    opened(cli)

    result = cli(*SETTLE, *options, expect=2)

    assert result.stdout == ""
    assert result.stderr == f"error: {refusal}\n"
    assert len(cli.json("history")) == 1
