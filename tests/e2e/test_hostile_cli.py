"""Every command, fed hostile input files and unwritable output paths: exit 2, one line on stderr, no traceback.

The table below names at least one case per command; `test_every_command_has_hostile_cases` keeps it
so when a command is added. Cases run in-process through `main()`, the console script's entry
point (what a user's shell runs), so Click's usage errors and the last-resort handler are included.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from tests.factories import fill_fields
from tradeledger import open_ledger
from tradeledger.cli import app, main
from tradeledger.cli.common import MAX_ERROR_CHARACTERS


@dataclass(frozen=True)
class Place:
    """A folder of hostile files beside a ledger holding two fills."""

    root: Path
    url: str

    def __truediv__(self, name: str) -> str:
        return str(self.root / name)


def _write_hostile_files(root: Path) -> None:
    fill = (
        '{"fill_id":"d","exchange":"k","symbol":"BTC/USD","side":"buy","quantity":"1","price":"1",'
        '"occurred_at":"2025-01-02T00:00:00+00:00"'
    )
    (root / "deep-metadata.ndjson").write_text(fill + ',"metadata":' + '{"a":' * 950 + "1" + "}" * 950 + "}\n")
    (root / "brackets.ndjson").write_text("[" * 10_000 + "]" * 10_000 + "\n")
    (root / "long-integer.ndjson").write_text(fill.replace('"quantity":"1"', '"quantity":' + "9" * 4301) + "}\n")
    other = fill.replace('"quantity":"1"', '"quantity":"2"')
    (root / "same-id-twice.ndjson").write_text(fill + "}\n" + other + "}\n")
    (root / "latin-1.ndjson").write_bytes((fill + ',"strategy":"caf\xe9"}\n').encode("latin-1"))
    trade = (
        '{"id":"1","timestamp":1700000000000,"symbol":"BTC/USDT","side":"buy","price":"1","amount":"1",'
        '"fee":{"cost":"0.1","currency":"USDT"}}'
    )
    (root / "ccxt-inverse.json").write_text("[" + trade.replace("BTC/USDT", "BTC/USD:BTC") + "]")
    (root / "ccxt-no-id.json").write_text("[" + trade + "," + trade.replace('"id":"1",', "") + "]")
    (root / "ccxt-lowercase-fee.json").write_text("[" + trade.replace('"currency":"USDT"', '"currency":"usdt"') + "]")
    (root / "ccxt-truncated.json").write_text("[" + trade[:-10])
    (root / "ccxt-trade.json").write_text("[" + trade + "]")
    (root / "ccxt-object.json").write_text(trade)
    (root / "balance-bad.json").write_text('{"total": {"USDT": "ten"}}')
    funding = '{"id":"f","timestamp":1700000000000,"symbol":"BTC/USDT:USDT","code":"USDT","amount":"1"}'
    (root / "ccxt-mixed.json").write_text("[" + trade + "," + funding + "]")
    (root / "deep.json").write_text('{"trades":' + "[" * 5000 + "]" * 5000 + "}")
    (root / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    laughs = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]  # then 8 lists of 10 aliases of the one before: 10**9 values
    laughs += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 9)]
    (root / "laughs.yaml").write_text("\n".join(laughs) + "\nexit_strategy: {stop_loss_pct: *l8}\n")
    (root / "long-price.csv").write_text("time,symbol,price\n2025-01-01T00:00:00+00:00,BTC/USD," + "9" * 4301 + "\n")
    (root / "prices.csv").write_text("time,symbol,price\n2025-01-01T00:00:00+00:00,BTC/USD,\uff11\uff10\uff10\n")
    (root / "plain.txt").write_text("not a database, not a folder\n")
    (root / "a-folder").mkdir()
    (root / "logs").mkdir()
    (root / "logs" / "trade_manager_state.json").write_text((root / "deep.json").read_text())
    (root / "long-integer.yaml").write_text("paper_wallet:\n  max_open_trades: " + "9" * 4301 + "\n")
    (root / "february-30.yaml").write_text("trade_manager:\n  since: 2025-02-30\n")
    (root / "long-amount").mkdir()
    state = '{"trades": [{"id": "t", "symbol": "BTC/USD", "side": "buy", "amount": %s, "price": 1, "timestamp": "%s"}]}'
    (root / "long-amount" / "trade_manager_state.json").write_text(state % ("9" * 4301, "2025-01-01T00:00:00"))
    (root / "long-time").mkdir()  # a refusal that quotes the value: a million characters on one stderr line
    (root / "long-time" / "trade_manager_state.json").write_text(state % ("1", "x" * 1_000_000))
    (root / "long-log").mkdir()  # one line of 1,200 position records: the line's pattern tried at each (8,000: 21 s)
    (root / "long-log" / "positions.log").write_text("Active X/Y buy 1 entry 1 current 1 pnl $1 (" * 1200 + "\n")


@pytest.fixture
def place(tmp_path: Path) -> Place:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ledger.record_many([fill_fields(fill_id="f1"), fill_fields(fill_id="f2", quantity="2")])
    _write_hostile_files(tmp_path)
    return Place(tmp_path, url)


Case = Callable[[Place], list[str]]
NOT_A_DATABASE: Case = lambda p: ["--db", f"sqlite:///{p / 'plain.txt'}"]  # noqa: E731
IN_MEMORY = ["--db", "sqlite://"]
RECORD = ["record", "--fill-id", "r1", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "1", "--price", "1"]
FUNDING = ["record-funding", "--funding-id", "f1", "--symbol", "BTC/USDT:USDT", "--amount", "1"]
INGEST = ["ingest", "ccxt", "--exchange", "binance"]
SETTLE = ["record-settlement", "--symbol", "BTC/USDT:USDT-261225", "--price", "1", "--time", "2026-12-25T08:00:00Z"]


def paper_bot(option: str, name: str) -> Case:
    """`paper-bot` reading the hostile file `name` through `option`, its state kept in a folder of its own."""
    return lambda p: ["--db", p.url, "paper-bot", option, p / name, "--state-dir", p / "a-folder"]


def reconciled_report(*more: str) -> Case:
    """`report` with a reconciliation section (a balance file that reads), and `more`."""
    return lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--reconcile-balances", p / "balance-bad.json",
                      *more]  # fmt: skip


def migrate_dry_run(folder: str) -> Case:
    """`migrate --dry-run` of the legacy files in the hostile folder `folder`."""
    return lambda p: ["--db", p.url, "migrate", "--logs-dir", p / folder, "--dry-run"]


TRANSFER = ["record-transfer", "--transfer-id", "t1", "--currency", "USDT", "--kind", "deposit", "--amount", "1"]

CASES: dict[str, tuple[Case, str]] = {
    # command: what goes wrong -> (its arguments, a fragment the one line of stderr must hold)
    "record: fullwidth digits": (lambda p: ["--db", p.url, *RECORD[:-1], "\uff11\uff10\uff10"], "price"),
    "record: an id in NFD": (lambda p: ["--db", p.url, *RECORD[:2], "cafe\u0301", *RECORD[3:]], "NFC"),
    "record: a no-break space in an id": (lambda p: ["--db", p.url, *RECORD[:2], "a\u00a0b", *RECORD[3:]], "U+00A0"),
    "record: an in-memory ledger": (lambda _: [*IN_MEMORY, *RECORD], "in-memory"),
    "record: a file that is not a database": (lambda p: [*NOT_A_DATABASE(p), *RECORD], "not a"),
    "record: a fee of four parts": (lambda p: ["--db", p.url, *RECORD, "--fee", "1:BNB:2:3"], "--fee"),
    "record: a fee in a lowercase currency": (lambda p: ["--db", p.url, *RECORD, "--fee", "1:bnb"], "currency"),
    "record: a fee currency before two fees": (
        lambda p: ["--db", p.url, *RECORD, "--fee-currency", "BNB", "--fee", "1", "--fee", "2"],
        "--fee-currency",
    ),
    "record: a lot that is not SEQ=QUANTITY": (lambda p: ["--db", p.url, *RECORD, "--lot", "\uff11=1"], "--lot"),
    "record: a lot that no buy acquired": (lambda p: ["--db", p.url, *RECORD, "--lot", "1=1"], "metadata.lots"),
    "record: an inverse contract": (lambda p: ["--db", p.url, *RECORD[:4], "BTC/USD:BTC", *RECORD[5:]], "inverse"),
    "record: a fullwidth fee quote value": (
        lambda p: ["--db", p.url, *RECORD, "--fee", "1:ETH", "--fee-quote-value", "\uff11"],
        "quote_value",
    ),
    "record: an order id with a zero-width space": (
        lambda p: ["--db", p.url, *RECORD, "--order-id", "a\u200bb"],
        "order_id",
    ),
    "record: an exchange the ledger holds in another case": (
        lambda p: ["--db", p.url, *RECORD, "--exchange", "KRAKEN"],
        "fill 1: exchange: 'KRAKEN' differs only in case from 'kraken' already in the ledger",
    ),
    "record-funding: a spot symbol": (lambda p: ["--db", p.url, *FUNDING[:4], "BTC/USDT", *FUNDING[5:]], "spot"),
    "record-funding: another currency": (lambda p: ["--db", p.url, *FUNDING, "--currency", "BTC"], "settle"),
    "record-funding: an in-memory ledger": (lambda _: [*IN_MEMORY, *FUNDING], "in-memory"),
    "record-funding: an exchange the ledger holds in another case": (
        lambda p: ["--db", p.url, *FUNDING, "--exchange", "Kraken"],
        "funding 1: exchange: 'Kraken' differs only in case from 'kraken' already in the ledger",
    ),
    "record-settlement: nothing open": (lambda p: ["--db", p.url, *SETTLE], "no open position"),
    "record-settlement: a perpetual": (lambda p: ["--db", p.url, *SETTLE[:2], "BTC/USD", *SETTLE[3:]], "dated future"),
    "record-settlement: a fullwidth price": (lambda p: ["--db", p.url, *SETTLE[:4], "\uff11", *SETTLE[5:]], "price"),
    "record-settlement: a fee rate and a fee": (
        lambda p: ["--db", p.url, *SETTLE, "--fee", "1", "--fee-rate", "0.1"],
        "fee",
    ),
    "record-settlement: a time without an offset": (lambda p: ["--db", p.url, *SETTLE[:-1], "2026-12-25"], "--time"),
    "record-settlement: an in-memory ledger": (lambda _: [*IN_MEMORY, *SETTLE], "in-memory"),
    "record-settlement: markup in the account and the exchange, nothing open": (
        lambda p: ["--db", p.url, *SETTLE, "--account", "[red]a[/]", "--exchange", "[bold]x\u202e"],
        "account '[red]a[/]' holds no open position",
    ),
    "record-settlement: a fee rate that is not a number": (
        lambda p: ["--db", p.url, *SETTLE, "--fee-rate", "NaN"],
        "--fee-rate: must be a finite",
    ),
    "record-transfer: a fullwidth amount": (lambda p: ["--db", p.url, *TRANSFER[:-1], "\uff11"], "amount"),
    "record-transfer: zero": (lambda p: ["--db", p.url, *TRANSFER[:-1], "0"], "amount"),
    "record-transfer: a negative deposit": (lambda p: ["--db", p.url, *TRANSFER[:-1], "-5"], "deposit"),
    "record-transfer: another side of a deposit": (
        lambda p: ["--db", p.url, *TRANSFER, "--to-account", "b"],
        "--to-account",
    ),
    "record-transfer: an exchange the ledger holds in another case": (
        lambda p: ["--db", p.url, *TRANSFER, "--exchange", "KRAKEN"],
        "transfer 1: exchange: 'KRAKEN' differs only in case from 'kraken' already in the ledger",
    ),
    "balances: not a database": (lambda p: [*NOT_A_DATABASE(p), "balances"], "not a"),
    "import: metadata 950 deep": (lambda p: ["--db", p.url, "import", p / "deep-metadata.ndjson"], "metadata"),
    "import: 10,000 nested brackets": (lambda p: ["--db", p.url, "import", p / "brackets.ndjson"], "too deep"),
    "import: a 4,301-digit integer": (lambda p: ["--db", p.url, "import", p / "long-integer.ndjson"], "quantity"),
    "import: one id twice": (lambda p: ["--db", p.url, "import", p / "same-id-twice.ndjson"], "line 1"),
    "import: not UTF-8": (lambda p: ["--db", p.url, "import", p / "latin-1.ndjson"], "UTF-8"),
    "import: a folder": (lambda p: ["--db", p.url, "import", p / "a-folder"], "directory"),
    "import: an in-memory ledger": (lambda p: [*IN_MEMORY, "import", p / "same-id-twice.ndjson"], "in-memory"),
    "ingest: an inverse contract": (lambda p: ["--db", p.url, *INGEST, p / "ccxt-inverse.json"], "entry 0: symbol"),
    "ingest: a trade without an id": (lambda p: ["--db", p.url, *INGEST, p / "ccxt-no-id.json"], "entry 1: id"),
    "ingest: a lowercase fee currency": (
        lambda p: ["--db", p.url, *INGEST, p / "ccxt-lowercase-fee.json"],
        "entry 0: fee.currency",
    ),
    "ingest: a truncated file": (lambda p: ["--db", p.url, *INGEST, p / "ccxt-truncated.json"], "not JSON"),
    "ingest: a CSV file": (lambda p: ["--db", p.url, *INGEST, p / "prices.csv"], "not JSON"),
    "ingest: an object, not a list": (lambda p: ["--db", p.url, *INGEST, p / "ccxt-object.json"], "a JSON list"),
    "ingest: a mixed list": (lambda p: ["--db", p.url, *INGEST, p / "ccxt-mixed.json"], "mixed"),
    "ingest: 10,000 nested brackets": (lambda p: ["--db", p.url, *INGEST, p / "brackets.ndjson"], "too deep"),
    "ingest: not UTF-8": (lambda p: ["--db", p.url, *INGEST, p / "latin-1.ndjson"], "UTF-8"),
    "ingest: an in-memory ledger": (lambda p: [*IN_MEMORY, *INGEST, p / "ccxt-trade.json"], "in-memory"),
    "ingest: an unknown kind": (lambda p: ["--db", p.url, *INGEST, p / "ccxt-trade.json", "--kind", "x"], "--kind"),
    "ingest: a contract size of a spot symbol": (
        lambda p: ["--db", p.url, *INGEST, p / "ccxt-trade.json", "--contract-size", "BTC/USDT=1"],
        "--contract-size: 'BTC/USDT' is a spot symbol",
    ),
    "ingest: an exchange the ledger holds in another case": (
        lambda p: ["--db", p.url, "ingest", "ccxt", p / "ccxt-trade.json", "--exchange", "KRAKEN"],
        "entry 0: exchange: 'KRAKEN' differs only in case from 'kraken' already in the ledger",
    ),
    "sync: not a ccxt exchange": (lambda p: ["--db", p.url, "sync", "[bold]nope", "--symbols", "BTC/USDT"], "ccxt"),
    "sync: keys missing": (lambda p: ["--db", p.url, "sync", "binance", "--symbols", "BTC/USDT"], "API_KEY"),
    "sync: an inverse symbol": (lambda p: ["--db", p.url, "sync", "kraken", "--symbols", "BTC/USD:BTC"], "inverse"),
    "sync: a fullwidth since": (
        lambda p: ["--db", p.url, "sync", "kraken", "--symbols", "BTC/USDT", "--since", "\uff12\uff10\uff12\uff14"],
        "--since",
    ),
    "reconcile: nothing to compare": (lambda p: ["--db", p.url, "reconcile"], "--balances"),
    "reconcile: a balance that is a list": (
        lambda p: ["--db", p.url, "reconcile", "--balances", p / "ccxt-trade.json", "--exchange", "k"],
        "fetch_balance",
    ),
    "reconcile: a total that is not a number": (
        lambda p: ["--db", p.url, "reconcile", "--balances", p / "balance-bad.json", "--exchange", "k"],
        "total.USDT",
    ),
    "reconcile: a bad tolerance": (
        lambda p: ["--db", p.url, "reconcile", "--trades", p / "ccxt-trade.json", "--tolerance", "USDT=-1"],
        "--tolerance",
    ),
    "reconcile: no exchange named, none held": (
        lambda p: ["--db", p.url, "reconcile", "--trades", p / "ccxt-trade.json", "--account", "nobody"],
        "--exchange",
    ),
    "reconcile: an exchange the ledger holds in another case": (
        lambda p: ["--db", p.url, "reconcile", "--balances", p / "balance-bad.json", "--exchange", "KRAKEN"],
        "--exchange: 'KRAKEN' differs only in case from 'kraken' already in the ledger",
    ),
    "reconcile: a contract size of a spot symbol": (
        lambda p: ["--db", p.url, "reconcile", "--trades", p / "ccxt-trade.json", "--contract-size", "BTC/USDT=1"],
        "--contract-size",
    ),
    "watch: not a database": (lambda p: [*NOT_A_DATABASE(p), "watch"], "not a"),
    "watch: a seq past the head": (lambda p: ["--db", p.url, "watch", "--from-seq", "99"], "seq 99"),
    "watch: a negative seq": (lambda p: ["--db", p.url, "watch", "--from-seq", "-1"], "--from-seq"),
    "positions: not a database": (lambda p: [*NOT_A_DATABASE(p), "positions"], "not a"),
    "positions: a fullwidth mark": (lambda p: ["--db", p.url, "positions", "--mark", "BTC/USD=\uff11"], "--mark"),
    "replay: not a database": (lambda p: [*NOT_A_DATABASE(p), "replay"], "not a"),
    "replay: a fullwidth balance": (
        lambda p: ["--db", p.url, "replay", "--initial-balance", "\uff11\uff10"],
        "--initial-balance",
    ),
    "replay: an until time that is not one": (lambda p: ["--db", p.url, "replay", "--until-time", "x"], "--until-time"),
    "history: not a database": (lambda p: [*NOT_A_DATABASE(p), "history"], "not a"),
    "history: a symbol in lower case": (lambda p: ["--db", p.url, "history", "--symbol", "btc/usd"], "--symbol: must"),
    "gains: not a database": (lambda p: [*NOT_A_DATABASE(p), "gains", "--method", "fifo"], "not a"),
    "gains: an unknown method": (lambda p: ["--db", p.url, "gains", "--method", "fifo\u202e"], "--method"),
    "gains: a year that is not one": (
        lambda p: ["--db", p.url, "gains", "--method", "fifo", "--year", "\uff12\uff10\uff12\uff15"],
        "--year",
    ),
    "gains: a CSV onto a folder": (
        lambda p: ["--db", p.url, "gains", "--method", "fifo", "--csv", p / "a-folder"],
        "--csv",
    ),
    "gains: a CSV into a missing folder": (
        lambda p: ["--db", p.url, "gains", "--method", "fifo", "--csv", p / "nope/g.csv"],
        "no such",
    ),
    "gains: a CSV onto a full disk": (
        lambda p: ["--db", p.url, "gains", "--method", "fifo", "--csv", "/dev/full"],
        "No space left",
    ),
    "gains: a quote that is no currency code": (
        lambda p: ["--db", p.url, "gains", "--method", "fifo", "--quote", "[b]usd"],
        "--quote: must be a currency code",
    ),
    "gains: a long term of 0 days": (
        lambda p: ["--db", p.url, "gains", "--method", "fifo", "--long-after-days", "0"],
        "--long-after-days",
    ),
    "lots: not a database": (lambda p: [*NOT_A_DATABASE(p), "lots"], "not a"),
    "lots: a naive as-of time": (lambda p: ["--db", p.url, "lots", "--as-of", "2025-01-01T00:00:00"], "--as-of"),
    "lots: a quote in lower case": (lambda p: ["--db", p.url, "lots", "--quote", "usd"], "--quote: must be a currency"),
    "lots: a method for a year given twice": (
        lambda p: ["--db", p.url, "lots", "--method", "2024=fifo", "--method", "2024=hifo"],
        "--method",
    ),
    "verify: not a database": (lambda p: [*NOT_A_DATABASE(p), "verify"], "not a"),
    "rebuild: not a database": (lambda p: [*NOT_A_DATABASE(p), "rebuild"], "not a"),
    "rebuild: a ledger under a file": (
        lambda p: ["--db", f"sqlite:///{p / 'plain.txt'}/l.db", "rebuild"],
        "cannot open",
    ),
    "copy: a target under a file": (
        lambda p: ["copy", "--from", p.url, "--to", f"sqlite:///{p / 'plain.txt'}/copy.db"],
        "cannot open",
    ),
    "copy: an in-memory target": (lambda p: ["copy", "--from", p.url, "--to", "sqlite://"], "--to"),
    "demo: an in-memory ledger": (lambda _: [*IN_MEMORY, "demo"], "in-memory"),
    "demo: a ledger under a file": (lambda p: ["--db", f"sqlite:///{p / 'plain.txt'}/demo.db", "demo"], "cannot open"),
    "paper-bot: a config nested 5,000 deep": (paper_bot("--config", "deep.yaml"), "deep.yaml"),
    "paper-bot: a config whose aliases stand for 10**9 values": (
        paper_bot("--config", "laughs.yaml"),
        "aliases expand it to more than 100,000 values",
    ),
    "paper-bot: a config with a 4,301-digit integer": (
        paper_bot("--config", "long-integer.yaml"),
        "long-integer.yaml: not valid YAML (",
    ),
    "paper-bot: fullwidth prices": (paper_bot("--prices", "prices.csv"), "prices.csv"),
    "paper-bot: a 4,301-digit price": (
        paper_bot("--prices", "long-price.csv"),
        "long-price.csv:2: price: has 4301 significant digits",
    ),
    "paper-bot: a state folder that is a file": (
        lambda p: ["--db", p.url, "paper-bot", "--cycles", "1", "--state-dir", p / "plain.txt"],
        "plain.txt",
    ),
    "paper-bot: an in-memory ledger": (lambda p: [*IN_MEMORY, "paper-bot", "--state-dir", p / "a-folder"], "in-memory"),
    "report: onto a folder": (lambda p: ["--db", p.url, "report", "--html", p / "a-folder"], "folder"),
    "report: into a missing folder": (lambda p: ["--db", p.url, "report", "--html", p / "nope/r.html"], "no such"),
    "report: under a file": (lambda p: ["--db", p.url, "report", "--html", p / "plain.txt/r.html"], "not a folder"),
    "report: onto a full disk": (lambda p: ["--db", p.url, "report", "--html", "/dev/full"], "No space left"),
    "report: a fullwidth balance": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--initial-balance", "\uff11"],
        "--initial-balance",
    ),
    "report: a truncated reconcile balance": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--reconcile-balances", p / "ccxt-truncated.json"],
        "not JSON",
    ),
    "report: a reconcile trade without an id": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--reconcile-trades", p / "ccxt-no-id.json"],
        "entry 1: id",
    ),
    "report: an unknown gains method": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--gains-year", "2025", "--method", "x[/]"],
        "--method",
    ),
    "report: a reconcile exchange the ledger holds in another case": (
        reconciled_report("--reconcile-exchange", "KRAKEN"),
        "--reconcile-exchange: 'KRAKEN' differs only in case from 'kraken' already in the ledger",
    ),
    "report: a reconcile exchange without a reconciliation": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--reconcile-exchange", "[b]kraken"],
        "--reconcile-exchange: belongs to the reconciliation section",
    ),
    "report: a contract size of a spot symbol": (
        reconciled_report("--contract-size", "BTC/USDT=1"),
        "--contract-size",
    ),
    "report: a fullwidth tolerance": (
        reconciled_report("--tolerance", "USDT=\uff11"),
        "--tolerance",
    ),
    "report: an unknown chart axis": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--chart-axis", "x[/]"],
        "--chart-axis",
    ),
    "report: a mark that is not a price": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--mark", "BTC/USD=[b]"],
        "--mark",
    ),
    "report: an until time without an offset": (
        lambda p: ["--db", p.url, "report", "--html", p / "r.html", "--until-time", "2025-01-01"],
        "--until-time",
    ),
    "rollback: a missing state folder": (
        lambda p: ["--db", p.url, "rollback", "--to-seq", "1", "--reason", "r", "--state-dir", p / "nope"],
        "--state-dir",
    ),
    "rollback: a state folder that is a file": (
        lambda p: ["--db", p.url, "rollback", "--to-seq", "1", "--reason", "r", "--state-dir", p / "plain.txt"],
        "--state-dir",
    ),
    "rollback: a config nested 5,000 deep": (
        lambda p: ["--db", p.url, "rollback", "--to-seq", "1", "--reason", "r", "--config", p / "deep.yaml"],
        "deep.yaml",
    ),
    "rollback: an in-memory ledger": (
        lambda _: [*IN_MEMORY, "rollback", "--to-seq", "0", "--reason", "r"],
        "in-memory",
    ),
    "rollback: a time without an offset": (
        lambda p: ["--db", p.url, "rollback", "--to-time", "2025-01-01", "--reason", "r"],
        "--to-time",
    ),
    "restore: a manifest nested 5,000 deep": (lambda p: ["--db", p.url, "restore", p / "deep.json"], "deep.json"),
    "restore: a manifest that is not JSON": (lambda p: ["--db", p.url, "restore", p / "plain.txt"], "plain.txt"),
    "export: onto a folder": (lambda p: ["--db", p.url, "export", "--output", p / "a-folder"], "--output"),
    "export: into a missing folder": (lambda p: ["--db", p.url, "export", "--output", p / "nope/x.ndjson"], "no such"),
    "export: under a file": (lambda p: ["--db", p.url, "export", "--output", p / "plain.txt/x"], "not a folder"),
    "export: onto a full disk": (lambda p: ["--db", p.url, "export", "--output", "/dev/full"], "No space left"),
    "keygen: onto a folder": (lambda p: ["keygen", "--output", p / "a-folder"], "--output"),
    "keygen: into a missing folder": (lambda p: ["keygen", "--output", p / "nope/key"], "no such folder"),
    "keygen: onto an existing file": (lambda p: ["keygen", "--output", p / "plain.txt"], "never replaced"),
    "checkpoint: a key that is not one": (lambda p: ["--db", p.url, "checkpoint", "--key", p / "plain.txt"], "--key"),
    "checkpoint: a missing key": (lambda p: ["--db", p.url, "checkpoint", "--key", p / "nope.pem"], "--key"),
    "verify: an anchor nested 5,000 deep": (
        lambda p: ["--db", p.url, "verify", "--anchor", p / "deep.json"],
        "--anchor",
    ),
    "verify: an anchor that is a folder": (lambda p: ["--db", p.url, "verify", "--anchor", p / "a-folder"], "--anchor"),
    "verify: a public key that is not one": (
        lambda p: ["--db", p.url, "verify", "--public-key", "[b]" + "0" * 61],
        "--public-key",
    ),
    "migrate: a state file nested 5,000 deep": (migrate_dry_run("logs"), "trade_manager_state.json"),
    "migrate: a positions.log line of 52,800 characters": (
        migrate_dry_run("long-log"),
        "positions.log: line 1: longer than 4,096 characters",
    ),
    "migrate: a state file with a 4,301-digit amount": (migrate_dry_run("long-amount"), "trades[0] (id 't'): amount"),
    "migrate: a state file with a timestamp of a million characters": (
        migrate_dry_run("long-time"),
        "trades[0] (id 't'): timestamp: not an ISO 8601 time (got 'xxx",
    ),
    "migrate: a logs folder that is a file": (migrate_dry_run("plain.txt"), "plain.txt"),
    "migrate: an in-memory ledger": (lambda p: [*IN_MEMORY, "migrate", "--logs-dir", p / "logs"], "in-memory"),
    "enable-sot: a config nested 5,000 deep": (lambda p: ["enable-sot", "--config", p / "deep.yaml"], "deep.yaml"),
    "enable-sot: a config whose aliases stand for 10**9 values": (
        lambda p: ["enable-sot", "--config", p / "laughs.yaml"],
        "laughs.yaml",
    ),
    "enable-sot: a config with February 30": (
        lambda p: ["enable-sot", "--config", p / "february-30.yaml"],
        "february-30.yaml: not valid YAML (day is out of range for month)",
    ),
    "enable-sot: a config under a file": (lambda p: ["enable-sot", "--config", p / "plain.txt/c.yaml"], "plain.txt"),
}


def run_main(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capfd.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_hostile_input_or_an_unwritable_path_is_one_line_on_stderr_and_exit_2(
    case: str, place: Place, capfd: pytest.CaptureFixture[str]
) -> None:
    arguments, fragment = CASES[case]
    full_disk_before = Path("/dev/full").stat().st_mode

    status, _out, err = run_main(arguments(place), capfd)

    assert status == 2, (status, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert len(lines[0]) <= len("error: ") + MAX_ERROR_CHARACTERS, err[:200]
    assert fragment in lines[0], err
    assert "unexpected" not in lines[0], err  # a named refusal, not the last-resort handler
    assert Path("/dev/full").stat().st_mode == full_disk_before  # a device is written in place, never replaced
    assert stat.S_ISCHR(full_disk_before)


def test_a_refused_command_writes_nothing_to_the_ledger(place: Place, capfd: pytest.CaptureFixture[str]) -> None:
    for case, (arguments, _fragment) in CASES.items():
        if case.startswith(("import", "record", "rollback", "paper-bot")):
            run_main(arguments(place), capfd)
    with open_ledger(place.url) as ledger:
        assert ledger.head.seq == 2
        assert [r.fill.event_id for r in ledger.history()] == ["f1", "f2"]
        assert list(ledger.admin_log()) == []


def test_every_command_has_hostile_cases() -> None:
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    covered = {case.split(":")[0] for case in CASES}
    assert commands == covered


def test_an_error_line_too_long_keeps_its_start_and_end_and_says_what_it_left_out(
    place: Place, capfd: pytest.CaptureFixture[str]
) -> None:
    state = place.root / "long-time" / "trade_manager_state.json"
    whole = f"{state}: trades[0] (id 't'): timestamp: not an ISO 8601 time (got '{'x' * 1_000_000}')"

    _status, _out, err = run_main(["--db", place.url, "migrate", "--logs-dir", str(state.parent), "--dry-run"], capfd)

    left_out = len(whole) - 1_400 - 500
    assert err == f"error: {whole[:1_400]} … ({left_out:,} characters left out) … {whole[-500:]}\n"


def test_a_usage_error_is_one_line_naming_the_option_and_where_to_look(capfd: pytest.CaptureFixture[str]) -> None:
    status, _out, err = run_main(["replay", "--until-seq", "x"], capfd)

    assert status == 2
    assert err.splitlines() == [
        (
            "error: Invalid value for '--until-seq': Input should be a valid integer, unable to parse string as an "
            "integer (see: tradeledger replay --help)"
        )
    ]


def test_the_installed_command_prints_no_traceback_for_a_line_of_10000_brackets(place: Place) -> None:
    command = [sys.executable, "-m", "tradeledger", "--db", place.url, "import", place / "brackets.ndjson"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    assert done.returncode == 2
    assert done.stderr == (
        "error: 1 bad line(s), nothing was imported: line 1: JSON nested too deep to read "
        "(metadata may nest at most 32 levels)\n"
    )
