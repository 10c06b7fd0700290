"""`tradeledger report --reconcile-balances/--reconcile-trades`: the report's reconciliation section (issue 16,
spec section 10), checked as HTML with the numbers and causes `reconcile` finds, worked out here by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_report import Tables, make_report
from tests.exchanges.test_ccxt_reconcile import BNB_FEE, DEPOSITS, MISSED, TRADE
from tradeledger import open_ledger
from tradeledger.cli import main
from tradeledger.exchanges.ccxt.ingesting import ingest

# The ledger: USDT 1000 - 2·70 - 0.14 (trade 1) - 2·70 (trade 3) = 719.86; LTC 2 + 2 = 4; BNB 1 - 0.0002
# (trade 3's fee, unvalued). A balance that matches it exactly:
MATCHING = {"USDT": "719.86", "LTC": "4", "BNB": "0.9998"}
AGREE = ["agrees"]


def record(url: str, *, account: str = "default", exchange: str = "binance") -> None:
    with open_ledger(url) as ledger:
        ingest(ledger, DEPOSITS, exchange=exchange, account=account)
        ingest(ledger, [TRADE, BNB_FEE], exchange=exchange, account=account)


def write(path: Path, value: object) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def balance_file(tmp_path: Path, total: dict[str, str], name: str = "balance.json") -> str:
    return write(tmp_path / name, {"info": {}, "total": total, "free": total, "used": {}})


def section(page: str) -> str:
    """The reconciliation section's HTML (from its heading to the next section's)."""
    start = page.index("<h2>Reconciliation with the exchange</h2>")
    return page[start : page.index("<h2>", start + 1)]


def test_a_matching_balance_and_trade_list_give_a_section_that_says_the_ledger_agrees(cli: Cli, tmp_path: Path) -> None:
    record(cli.url)
    balances = balance_file(tmp_path, MATCHING)
    trades = write(tmp_path / "trades.json", [TRADE, BNB_FEE])

    summary, page = make_report(
        cli, tmp_path / "r.html", "--reconcile-balances", balances, "--reconcile-trades", trades
    )
    tables = Tables(page)

    assert summary["reconciled"] is True
    assert tables.texts["reconcile-verdict"] == "The ledger agrees with the exchange."
    assert 'id="reconcile-verdict" class="ok"' in page
    # currency, ledger, exchange total, difference, cause
    assert tables.body("reconcile-balances") == [
        ["BNB", "0.9998", "0.9998", "0", *AGREE],
        ["LTC", "4", "4", "0", *AGREE],
        ["USDT", "719.86", "719.86", "0", *AGREE],
    ]
    for kind in ("missing", "unknown", "conflicting"):
        assert f'<p class="empty" id="reconcile-{kind}-empty">None: ' in page
    assert "Account default on binance in the ledger (the whole log, up to seq\n4)" in section(page)
    assert f"the balances in {balances} (" in section(page)
    assert f"the trade list in {trades} (" in section(page)
    assert "Dust tolerances: none." in section(page)


def test_a_balance_off_by_a_missed_fill_an_unvalued_fee_and_a_deposit_names_each_cause_exactly(
    cli: Cli, tmp_path: Path
) -> None:
    record(cli.url)
    trades = write(tmp_path / "trades.json", [TRADE, BNB_FEE, MISSED])
    # The exchange also sold 0.5 LTC @ 71 (+35.5 - 0.14 USDT, -0.5 LTC: the missed fill LTC/USDT:2), took the
    # BNB fee from another wallet (BNB 1, not 0.9998), holds 100 ETH deposited but not ingested, and 0.00000001
    # DOGE of dust, within the tolerance of 0.0000001 DOGE.
    total = {"USDT": "755.22", "LTC": "3.5", "BNB": "1", "ETH": "100", "DOGE": "0.00000001"}
    balances = balance_file(tmp_path, total)

    summary, page = make_report(
        cli,
        tmp_path / "r.html",
        "--reconcile-balances",
        balances,
        "--reconcile-trades",
        trades,
        "--reconcile-exchange",
        "binance",
        "--tolerance",
        "DOGE=0.0000001",
        expect=1,
    )
    tables = Tables(page)

    assert summary["reconciled"] is False
    assert summary["verify"] is True  # the report is written; exit 1 is the difference, as reconcile's
    assert tables.texts["reconcile-verdict"] == (
        "The ledger differs from the exchange: 4 balances differ, 1 fill missing from the ledger."
    )
    assert 'id="reconcile-verdict" class="bad"' in page
    assert tables.body("reconcile-balances") == [
        [
            "BNB",
            "0.9998",
            "1",
            "0.0002",
            "the unvalued fees in BNB (0.0002): paid from another wallet, or not recorded",
        ],
        ["DOGE", "0", "0.00000001", "0.00000001", "dust within the tolerance 0.0000001 DOGE"],
        ["ETH", "0", "100", "100", "more ETH on the exchange: a deposit or transfer in not ingested, or a missed buy"],
        ["LTC", "4", "3.5", "-0.5", "missing fills: LTC/USDT:2"],
        ["USDT", "719.86", "755.22", "35.36", "missing fills: LTC/USDT:2"],
    ]
    # a difference that counts is highlighted in red, dust in amber; the exact value is each cell's tooltip
    assert '<td class="num bad" title="35.36">35.36</td>' in page
    assert '<td class="num warn" title="0.00000001">0.00000001</td>' in page
    assert '<td class="warn">dust within the tolerance 0.0000001 DOGE</td>' in page
    # fill id, symbol, its 0-based entry in the exchange's list, its seq in the log (none: missing)
    assert tables.body("reconcile-missing") == [["LTC/USDT:2", "LTC/USDT", "2", "—"]]
    assert "Dust tolerances: 0.0000001 DOGE." in section(page)


def test_fills_unknown_to_the_exchange_and_with_other_content_are_listed(cli: Cli, tmp_path: Path) -> None:
    record(cli.url)
    # trade 1 at another price; trade 3 is not on the list, though inside its symbols and time span
    listed = [{**TRADE, "price": "70.5"}, {**MISSED, "timestamp": 1700000030000 + 1}]
    trades = write(tmp_path / "trades.json", listed)

    summary, page = make_report(cli, tmp_path / "r.html", "--reconcile-trades", trades, expect=1)
    tables = Tables(page)

    assert tables.texts["reconcile-verdict"] == (
        "The ledger differs from the exchange: 1 fill missing from the ledger, 1 fill unknown to the exchange, "
        "1 fill conflicting."
    )
    assert "reconcile-balances" not in page  # no balances given: no balances table
    assert tables.body("reconcile-missing") == [["LTC/USDT:2", "LTC/USDT", "1", "—"]]
    assert tables.body("reconcile-unknown") == [["LTC/USDT:3", "LTC/USDT", "—", "4"]]
    assert tables.body("reconcile-conflicting") == [["LTC/USDT:1", "LTC/USDT", "0", "3", "price"]]
    assert tables.tables["reconcile-conflicting"][0][-1] == "Fields that differ"
    assert summary["reconciled"] is False


def test_without_the_options_there_is_no_section_and_no_summary_key(cli: Cli, tmp_path: Path) -> None:
    record(cli.url)

    summary, page = make_report(cli, tmp_path / "r.html")

    assert "Reconciliation" not in page
    assert "reconcile-" not in page
    assert "reconciled" not in summary


def test_the_line_says_whether_the_ledger_agrees(cli: Cli, tmp_path: Path) -> None:
    record(cli.url)
    target = tmp_path / "r.html"

    agrees = cli("report", "--html", str(target), "--reconcile-balances", balance_file(tmp_path, MATCHING))
    differs = cli(
        "report", "--html", str(target), "--reconcile-balances", balance_file(tmp_path, {"USDT": "1"}), expect=1
    )

    assert agrees.stdout.rstrip().endswith("verify ok, reconcile ok")
    assert differs.stdout.rstrip().endswith("verify ok, reconcile DIFFERENCES")


MARKUP = "<b>desk & co</b>"
SCRIPT = "<script>alert('x')</script>"


def test_markup_in_an_account_exchange_currency_cause_or_file_name_is_escaped(cli: Cli, tmp_path: Path) -> None:
    record(cli.url, account=MARKUP, exchange="bin<i>x")
    folder = tmp_path / "<img src=x onerror=alert(1)>"
    folder.mkdir()
    balances = balance_file(folder, {**MATCHING, SCRIPT: "1"})

    _, page = make_report(cli, tmp_path / "r.html", "--account", MARKUP, "--reconcile-balances", balances, expect=1)
    tables = Tables(page)
    html = section(page)

    assert "<script" not in page
    assert "<img" not in page
    assert "<b>desk" not in page
    assert "<i>x" not in page
    assert "Account &lt;b&gt;desk &amp; co&lt;/b&gt; on bin&lt;i&gt;x in the ledger" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    row = tables.body("reconcile-balances")[0]
    assert row == [
        SCRIPT,
        "0",
        "1",
        "1",
        f"more {SCRIPT} on the exchange: a deposit or transfer in not ingested, or a missed buy",
    ]
    assert "<td>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</td>" in html


def report_argv(url: str, target: Path, *args: str) -> list[str]:
    return ["--db", url, "report", "--html", str(target), *args]


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"total": {"USDT": "1"', "not JSON"),  # truncated
        ('[{"id": "1"}]', "fetch_balance"),  # a list, not a balance
        ('{"total": {"USDT": 1.5e}}', "not JSON"),
        ('{"total": {"USDT": "lots"}}', "total.USDT"),
        ('{"total": {"USDT": true}}', "total.USDT"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_a_bad_balances_file_is_one_line_on_stderr_exit_2_and_no_report(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, named: str
) -> None:
    record(db_url)
    bad = tmp_path / "balance.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    target = tmp_path / "r.html"

    status = main(report_argv(db_url, target, "--reconcile-balances", str(bad)))
    captured = capsys.readouterr()

    assert status == 2
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: ")
    assert named in captured.err
    assert not target.exists()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--reconcile-trades", "{dir}/trades-bad.json"), "entry 0: id"),
        (("--reconcile-trades", "{dir}/balance.json"), "a JSON list"),
        (("--reconcile-balances", "{dir}/nowhere.json"), "--reconcile-balances"),
        (("--reconcile-balances", "{dir}/balance.json", "--tolerance", "USDT=-1"), "--tolerance"),
        (("--reconcile-balances", "{dir}/balance.json", "--tolerance", "USDT"), "--tolerance"),
        (("--tolerance", "USDT=1"), "--reconcile-balances"),
        (("--reconcile-exchange", "binance"), "--reconcile-balances"),
        (("--reconcile-balances", "{dir}/balance.json", "--account", "nobody"), "--reconcile-exchange"),
        (("--reconcile-balances", "{dir}/balance.json", "--until-time", "2026-01-01T00:00:00Z"), "--until-time"),
    ],
)
def test_bad_reconcile_options_are_one_line_on_stderr_exit_2_and_no_report(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], named: str
) -> None:
    record(db_url)
    balance_file(tmp_path, MATCHING)
    write(tmp_path / "trades-bad.json", [{k: v for k, v in TRADE.items() if k != "id"}])
    target = tmp_path / "r.html"

    status = main(report_argv(db_url, target, *(arg.format(dir=tmp_path) for arg in args)))
    captured = capsys.readouterr()

    assert status == 2
    assert captured.err.count("\n") == 1, captured.err
    assert named in captured.err
    assert not target.exists()


def test_the_exchange_is_the_accounts_only_one_unless_named(cli: Cli, tmp_path: Path) -> None:
    record(cli.url)
    record(cli.url, exchange="kraken")  # a second exchange: it must now be named
    balances = balance_file(tmp_path, MATCHING)

    failed = cli("report", "--html", str(tmp_path / "r.html"), "--reconcile-balances", balances, expect=2)
    summary, page = make_report(
        cli, tmp_path / "r.html", "--reconcile-balances", balances, "--reconcile-exchange", "kraken"
    )

    assert "--reconcile-exchange: name the exchange to reconcile" in failed.stderr
    assert "'binance', 'kraken'" in failed.stderr
    assert summary["reconciled"] is True
    assert "Account default on kraken in the ledger" in section(page)
