"""`tradeledger report --html`: the auditor's report, checked as HTML (no browser; see test_report_browser.py)."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tradeledger import open_ledger
from tradeledger.domain.risk import PriceMark
from tradeledger.storage.urls import shown_url

DAY = "2026-03-01"
# A small session with the numbers of spec §4 worked out by hand (fees in the quote currency):
#   BTC: buy 1@100 fee .1, buy 1@110 (avg 105), sell .5@120 fee .2 (realizes (120-105)·.5 = 7.5),
#        sell 2.5@90 fee .5: a flip; the close of 1.5 realizes (90-105)·1.5 = -22.5 and takes
#        .5·1.5/2.5 = .3 of the fee, so the cycle ends long 2 @105, realized -15, fees .6, net -15.6;
#        the rest opens short 1 @90 with fee .2.
#   ETH: sell 2@50 fee .1, buy 2@40 fee .1 (realizes (50-40)·2 = 20; cycle fees .2, net 19.8);
#        the next day buy 1@45 opens a long.
SESSION: list[dict[str, Any]] = [
    {"fill_id": "F1", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "100", "fee": "0.1"},
    {"fill_id": "F2", "symbol": "BTC/USD", "side": "buy", "quantity": "1", "price": "110", "fee": "0"},
    {"fill_id": "F3", "symbol": "BTC/USD", "side": "sell", "quantity": "0.5", "price": "120", "fee": "0.2"},
    {"fill_id": "F4", "symbol": "BTC/USD", "side": "sell", "quantity": "2.5", "price": "90", "fee": "0.5"},
    {"fill_id": "F5", "symbol": "ETH/USD", "side": "sell", "quantity": "2", "price": "50", "fee": "0.1"},
    {"fill_id": "F6", "symbol": "ETH/USD", "side": "buy", "quantity": "2", "price": "40", "fee": "0.1"},
    {"fill_id": "F7", "symbol": "ETH/USD", "side": "buy", "quantity": "1", "price": "45", "fee": "0"},
]
TIMES = [f"{DAY}T10:0{minute}:00+00:00" for minute in range(1, 7)] + ["2026-03-02T09:00:00+00:00"]
END_OF_DAY = f"{DAY}T23:00:00Z"
# Per fill in seq (and here also time) order: its realized PnL, and the wallet's cash after it (B0 10000):
# buy pays q·p, selling a long gets q·p, covering a short gets q·(2·avg - p), every fee is paid.
REALIZED = ["0.00", "0.00", "7.50", "-22.50", "0.00", "20.00", "0.00"]
CASH = ["9,899.90", "9,789.90", "9,849.70", "9,894.20", "9,794.10", "9,914.00", "9,869.00"]
CUMULATIVE_REALIZED = ["0", "0", "7.5", "-15", "-15", "5", "5"]
CUMULATIVE_NET = ["-0.1", "-0.1", "7.2", "-15.8", "-15.9", "4", "4"]
# mark, where it came from, unrealized PnL, in percent: short 1 @90 at 80 gains 10, 10/90 = 11.11 %
BTC_AT_80 = ["80.00", "--mark", "10.00", "11.11"]
UNMARKED = ["unmarked", "—", "—", "—"]
CUMULATIVE_CASH = ["9899.9", "9789.9", "9849.7", "9894.2", "9794.1", "9914", "9869"]

# Spec §9 on binance (issue 15): a 50000 USDT deposit; spot BTC/USDT: buy 1 @50000 with a 0.001 BTC fee
# (a fee-free disposal at 50000: realizes 0, fee 50 USDT, long 0.999), sell 0.5 @51000 paying 5.1 USDT and
# 0.01 BNB without a quote value (realizes 500; the BNB is unvalued); the perpetual BTC/USDT:USDT: buy 0.1
# @50000 paying 2 USDT, then a funding payment of -1.5 USDT on it.
# Totals: realized 500, fees 50 + 5.1 + 2 = 57.1, funding -1.5, net 500 - 1.5 - 57.1 = 441.4, 0.01 BNB unvalued.
# Balances: BNB -0.01; BTC 1 - 0.001 - 0.5 = 0.499; USDT 50000 - 50000 + 25500 - 5.1 - 2 - 1.5 = 25491.4.
EXCHANGE_EVENTS: list[dict[str, Any]] = [
    {"type": "transfer", "transfer_id": "D1", "currency": "USDT", "amount": "50000", "kind": "deposit"},
    {
        "fill_id": "S1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "quantity": "1",
        "price": "50000",
        "fees": [{"amount": "0.001", "currency": "BTC"}],
    },
    {
        "fill_id": "S2",
        "symbol": "BTC/USDT",
        "side": "sell",
        "quantity": "0.5",
        "price": "51000",
        "fees": [{"amount": "5.1", "currency": "USDT"}, {"amount": "0.01", "currency": "BNB"}],
    },
    {
        "fill_id": "P1",
        "symbol": "BTC/USDT:USDT",
        "side": "buy",
        "quantity": "0.1",
        "price": "50000",
        "fees": [{"amount": "2", "currency": "USDT"}],
    },
    {"type": "funding", "funding_id": "FU1", "symbol": "BTC/USDT:USDT", "amount": "-1.5", "currency": "USDT"},
]
EXCHANGE_TIMES = [f"{DAY}T09:00:00+00:00", *TIMES[:4]]


class Tables(HTMLParser):
    """Every <table id=…> of a page as rows of cell texts; and the text of each element with an id."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._open_ids: list[tuple[str, str, list[str]]] = []  # (tag, id or "", texts)
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        element_id = found.get("id") or ""
        if tag == "table" and element_id:
            self._table = element_id
            self.tables[element_id] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        if tag in ("span", "code", "p"):  # every one, so a nested element closes only itself
            self._open_ids.append((tag, element_id, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if self._open_ids and self._open_ids[-1][0] == tag:
            _, element_id, parts = self._open_ids.pop()
            if element_id:
                self.texts[element_id] = "".join(parts).strip()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, _, parts in self._open_ids:
            parts.append(data)

    def body(self, table_id: str) -> list[list[str]]:
        return self.tables[table_id][1:]  # without the header row


def record_session(url: str, fills: list[dict[str, Any]] = SESSION, times: list[str] = TIMES) -> None:
    with open_ledger(url) as ledger:
        ledger.record_many(
            [{"exchange": "kraken", **fill, "occurred_at": time} for fill, time in zip(fills, times, strict=True)]
        )


def record_exchange_events(url: str) -> None:
    with open_ledger(url) as ledger:
        ledger.record_many(
            [
                {"exchange": "binance", **event, "occurred_at": time}
                for event, time in zip(EXCHANGE_EVENTS, EXCHANGE_TIMES, strict=True)
            ]
        )


def make_report(cli: Cli, path: Path, *args: str, expect: int = 0) -> tuple[dict[str, Any], str]:
    summary = cli.json("report", "--html", str(path), *args, expect=expect)
    return summary, path.read_text(encoding="utf-8")


def svg_points(page: str, series: str) -> list[tuple[float, float]]:
    """The vertices of a series' step line: its start, then one (H x, V y) step per later fill."""
    match = re.search(rf'<path id="series-{series}"[^>]* d="M([-\d.]+),([-\d.]+)((?: H[-\d.]+ V[-\d.]+)*)"', page)
    assert match is not None, f"no step path for {series}"
    steps = re.findall(r" H([-\d.]+) V([-\d.]+)", match.group(3))
    return [(float(x), float(y)) for x, y in [(match.group(1), match.group(2)), *steps]]


def point_values(page: str, series: str) -> list[str]:
    """The exact cumulative values in the tooltips of a series' markers, in drawing order."""
    return re.findall(rf'<circle class="point {series}"[^>]*><title>[^<]* after seq \d+: ([^<]*)</title>', page)


def test_the_report_shows_each_table_with_the_sessions_numbers(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    summary, page = make_report(cli, tmp_path / "report.html", "--mark", "BTC/USD=80")
    tables = Tables(page)

    assert tables.body("symbols") == [
        # symbol, open side, qty, avg, lifetime realized, fees, net, mark, from, unrealized, %
        ["BTC/USD", "short", "1", "90.00", "-15.00", "0.80", "-15.80", *BTC_AT_80],
        ["ETH/USD", "long", "1", "45.00", "20.00", "0.20", "19.80", *UNMARKED],
    ]
    # symbol, side, qty, avg, realized, fees and net of the cycle, opened seq and time, then the mark columns
    assert tables.body("open") == [
        ["BTC/USD", "short", "1", "90.00", "0.00", "0.20", "-0.20", "4", f"{DAY} 10:04:00 UTC", *BTC_AT_80],
        ["ETH/USD", "long", "1", "45.00", "0.00", "0.00", "0.00", "7", "2026-03-02 09:00:00 UTC", *UNMARKED],
    ]
    opened_1, opened_5 = f"{DAY} 10:01:00 UTC", f"{DAY} 10:05:00 UTC"
    assert tables.body("closed") == [
        ["BTC/USD", "long", "2", "105.00", "-15.00", "0.60", "-15.60", "1", opened_1, "4", f"{DAY} 10:04:00 UTC"],
        ["ETH/USD", "short", "2", "50.00", "20.00", "0.20", "19.80", "5", opened_5, "6", f"{DAY} 10:06:00 UTC"],
    ]
    assert tables.tables["totals"] == [
        ["Realized (gross)", "5.00"],
        ["Fees", "1.00"],
        ["Funding", "0.00"],
        ["Unvalued fees (not in net)", "none"],
        ["Net realized", "4.00"],
        ["Unrealized at mark (1 open position(s) unmarked, not included)", "10.00"],
        ["Net realized + unrealized", "14.00"],
    ]
    # cash + Σ|s|·avg = 9869 + (1·90 + 1·45) = 10004 = 10000 + 5 - 1
    assert tables.tables["wallet"] == [
        ["Initial balance B0", "10,000.00"],
        ["Cash", "9,869.00"],
        ["Open positions at cost Σ|s|·avg", "135.00"],
        ["cash + Σ|s|·avg", "10,004.00"],
        ["B0 + realized + funding \u2212 fees", "10,004.00"],
        ["Difference", "0"],
        # 32E-27 of the largest amount each of the 7 fills touched (the cash, near 10,000, each time)
        ["At most, by the 28-digit rounding of these events", "0.000000000000000000002219712"],
    ]
    fills = tables.body("fills")
    assert [row[2] for row in fills] == [f"F{n}" for n in range(1, 8)]
    assert [row[-3] for row in fills] == REALIZED
    assert [row[-2] for row in fills] == CASH
    assert summary["seq"] == 7
    assert summary["fills"] == 7
    assert summary["symbols"] == 2
    assert summary["verify"] is True
    assert summary["html"] == str((tmp_path / "report.html").resolve())
    assert tables.texts["verify"].startswith("passed")
    assert tables.texts["fill-count"] == "7"
    assert "fold-warning" not in page  # the replay and the reference fold agree


def test_every_cell_carries_the_exact_value_behind_its_rounded_display(cli: Cli, tmp_path: Path) -> None:
    fills = [
        {"fill_id": "A", "symbol": "BTC/USD", "side": "buy", "quantity": "3", "price": "100", "fee": "0"},
        {"fill_id": "B", "symbol": "BTC/USD", "side": "buy", "quantity": "0.000000001", "price": "1", "fee": "0"},
    ]
    record_session(cli.url, fills, TIMES[:2])

    _, page = make_report(cli, tmp_path / "report.html")

    # avg = (300 + 0.000000001) / 3.000000001 = 99.999999967000000011 (exact here); shown to 8 places
    assert '<td class="num" title="99.999999967000000011">99.99999997</td>' in page
    assert '<td class="num" title="3.000000001">3</td>' in page  # a quantity, rounded to 8 places for display
    # a quantity below the 8th place: its first significant digits, never 0 (it showed "0" before helper-47)
    assert '<td class="num" title="0.000000001">0.000000001</td>' in page


def test_until_time_leaves_out_the_fills_that_occurred_later(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    summary, page = make_report(cli, tmp_path / "report.html", "--until-time", END_OF_DAY)
    tables = Tables(page)

    assert summary["fills"] == 6
    assert summary["seq"] == 6
    assert [row[2] for row in tables.body("fills")] == [f"F{n}" for n in range(1, 7)]
    assert tables.body("symbols")[1][:7] == ["ETH/USD", "flat", "—", "—", "20.00", "0.20", "19.80"]
    assert [row[0] for row in tables.body("open")] == ["BTC/USD"]
    assert tables.tables["wallet"][1] == ["Cash", "9,914.00"]
    assert "2026-03-01T23:00:00.000000+00:00" in page
    for series in ("realized", "net", "cash"):
        assert len(svg_points(page, series)) == 6


def test_the_chart_has_one_point_per_fill_with_the_cumulative_values(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    _, page = make_report(cli, tmp_path / "report.html")

    assert page.count("<svg") == 1
    for series in ("realized", "net", "cash"):
        points = svg_points(page, series)
        assert len(points) == len(SESSION)
        xs = [x for x, _ in points]
        assert xs == sorted(xs)  # drawn by the time each fill occurred
        assert page.count(f'<circle class="point {series}"') == len(SESSION)
    assert point_values(page, "realized") == CUMULATIVE_REALIZED
    assert point_values(page, "net") == CUMULATIVE_NET
    assert point_values(page, "cash") == CUMULATIVE_CASH
    # gross realized PnL rises from fill 2 to fill 3 (+7.5): a higher value is drawn higher up (smaller y)
    realized = svg_points(page, "realized")
    assert realized[2][1] < realized[1][1]
    assert realized[3][1] > realized[2][1]


def test_a_fill_reported_late_is_drawn_at_the_time_it_occurred(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)
    late = {"fill_id": "LATE", "symbol": "SOL/USD", "side": "buy", "quantity": "1", "price": "10", "fee": "1"}
    record_session(cli.url, [late], [f"{DAY}T09:00:00+00:00"])  # seq 8, but it occurred before all others

    _, page = make_report(cli, tmp_path / "report.html")

    assert point_values(page, "net")[0] == "-1"  # the late fill's fee comes first in time
    assert point_values(page, "net")[-1] == "3"  # and the last point is the total: 5 - (1 + 1)
    assert point_values(page, "cash")[-1] == "9858"  # 9869 - 10 - 1
    assert len(svg_points(page, "cash")) == 8


def test_user_text_is_escaped_and_never_appears_raw(cli: Cli, tmp_path: Path) -> None:
    hostile = {
        "fill_id": "<script>alert('fill')</script>",
        "account": "<b>desk & co</b>",
        "strategy": '"><img src=x onerror=alert(1)>',
        "exchange": "<i>x</i>",
        "symbol": "BTC/USD",
        "side": "buy",
        "quantity": "1",
        "price": "100",
    }
    with open_ledger(cli.url) as ledger:
        ledger.record({**hostile, "occurred_at": TIMES[0]})
        ledger.record({**SESSION[4], "exchange": "kraken", "occurred_at": TIMES[1]})
        ledger.record(
            {
                "type": "transfer",
                "transfer_id": "<script>alert('transfer')</script>",
                "account": hostile["account"],
                "exchange": hostile["exchange"],
                "currency": "USD",
                "amount": "5",
                "kind": "deposit",
                "occurred_at": TIMES[2],
            }
        )

    _, page = make_report(cli, tmp_path / "report.html")
    tables = Tables(page)

    assert "<script" not in page
    assert "<img" not in page
    assert "<b>desk" not in page
    assert "<i>x" not in page
    assert "&lt;script&gt;alert(&#x27;fill&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;desk &amp; co&lt;/b&gt;" in page
    first = tables.body("fills")[0]
    assert first[2:5] == ["<script>alert('fill')</script>", "<b>desk & co</b>", "<i>x</i>"]
    assert '"><img src=x onerror=alert(1)>' in first
    assert tables.body("symbols")[0][:2] == ["<b>desk & co</b>", "BTC/USD"]  # two accounts: an account column
    assert tables.body("movements")[0][2:5] == ["<script>alert('transfer')</script>", "<b>desk & co</b>", "<i>x</i>"]
    assert tables.body("balances")[0][:3] == ["<b>desk & co</b>", "<i>x</i>", "BTC"]


def test_the_head_hash_is_the_chains_head(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)
    with open_ledger(cli.url) as ledger:
        head = ledger.head

    summary, page = make_report(cli, tmp_path / "report.html", "--until-time", END_OF_DAY)
    tables = Tables(page)

    assert summary["head_hash"] == head.hash
    assert summary["epoch"] == head.epoch
    assert tables.texts["head-hash"] == head.hash
    with open_ledger(cli.url) as ledger:
        sixth = ledger.history()[5]
    assert tables.texts["state-hash"] == sixth.hash  # the state as of --until-time is the 6th fill's
    assert tables.texts["state-seq"] == "6"


def test_a_tampered_ledger_reports_that_verify_failed(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)
    with closing(sqlite3.connect(cli.url.removeprefix("sqlite:///"))) as connection, connection:
        connection.execute("UPDATE positions SET quantity = '5' WHERE symbol = 'BTC/USD'")

    summary, page = make_report(cli, tmp_path / "report.html", expect=1)
    tables = Tables(page)

    assert summary["verify"] is False
    assert tables.texts["verify"].startswith("FAILED")
    assert "projection" in tables.texts["verify"]
    assert "BTC/USD" in tables.texts["verify"]
    # the numbers come from the log, not from the edited row
    assert tables.body("open")[0][:3] == ["BTC/USD", "short", "1"]


def test_a_rollback_record_whose_removed_events_do_not_read_is_reported_with_verify_failed(
    cli: Cli, tmp_path: Path
) -> None:
    record_session(cli.url)
    cli("rollback", "--to-seq", "3", "--reason", "undo", "--actor", "ops")
    with closing(sqlite3.connect(cli.url.removeprefix("sqlite:///"))) as connection, connection:
        connection.execute("DROP TRIGGER ledger_admin_log_no_update")
        connection.execute("UPDATE ledger_admin_log SET removed = '[1]'")

    summary, page = make_report(cli, tmp_path / "report.html", expect=1)
    tables = Tables(page)

    assert summary["verify"] is False
    assert tables.texts["verify"] == (
        "FAILED — 2 problem(s); first: seq 4: admin: admin record 1: the admin log's hash chain does not hold there"
    )
    assert tables.body("rollbacks")[0][6] == "cannot be read (see verify)"


def test_stored_marks_price_open_positions_unless_a_mark_is_given(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)
    with open_ledger(cli.url) as ledger:
        marked_at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
        ledger.save_marks([PriceMark("ETH/USD", Decimal(50), marked_at), PriceMark("BTC/USD", Decimal(95), marked_at)])

    _, page = make_report(cli, tmp_path / "report.html", "--mark", "BTC/USD=80")
    rows = Tables(page).body("symbols")

    assert rows[0][7:] == ["80.00", "--mark", "10.00", "11.11"]
    assert rows[1][7:] == ["50.00", "stored 2026-03-02T12:00:00.000000+00:00", "5.00", "11.11"]
    assert Tables(page).tables["totals"][5] == ["Unrealized at mark", "15.00"]


def test_the_initial_balance_sets_the_wallets_b0(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    _, page = make_report(cli, tmp_path / "report.html", "--initial-balance", "500.5")
    wallet = Tables(page).tables["wallet"]

    assert wallet[0] == ["Initial balance B0", "500.50"]
    assert wallet[1] == ["Cash", "369.50"]  # 9869 - 9500 + 0.5
    assert wallet[3:5] == [["cash + Σ|s|·avg", "504.50"], ["B0 + realized + funding \u2212 fees", "504.50"]]


def test_account_narrows_the_report_to_one_account(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)
    other = {"fill_id": "O1", "account": "desk2", "symbol": "SOL/USD", "side": "buy", "quantity": "3", "price": "7"}
    record_session(cli.url, [other], [TIMES[0]])

    summary, page = make_report(cli, tmp_path / "report.html", "--account", "desk2")
    tables = Tables(page)

    assert summary["fills"] == 1
    assert summary["symbols"] == 1
    assert [row[0] for row in tables.body("symbols")] == ["SOL/USD"]
    assert tables.tables["wallet"][1] == ["Cash", "9,979.00"]


@pytest.mark.parametrize("bound", [(), ("--until-time", END_OF_DAY)])
def test_a_report_narrowed_to_one_account_shows_that_accounts_balances_only(
    cli: Cli, tmp_path: Path, bound: tuple[str, ...]
) -> None:
    # Unbounded, the balances are verify's fold of the whole log narrowed; bounded by a time, folded by the report.
    record_session(cli.url)
    other = {"fill_id": "O1", "account": "desk2", "symbol": "SOL/USD", "side": "buy", "quantity": "3", "price": "7"}
    record_session(cli.url, [other], [TIMES[0]])

    _, page = make_report(cli, tmp_path / "report.html", "--account", "desk2", *bound)

    assert Tables(page).body("balances") == [["desk2", "kraken", "SOL", "3"], ["desk2", "kraken", "USD", "-21"]]


def test_an_empty_ledger_gives_a_valid_report_saying_there_are_no_fills(cli: Cli, tmp_path: Path) -> None:
    summary, page = make_report(cli, tmp_path / "report.html")
    tables = Tables(page)

    assert summary == {
        "html": str((tmp_path / "report.html").resolve()),
        "seq": 0,
        "epoch": summary["epoch"],
        "head_hash": "0" * 64,
        "verify": True,
        "symbols": 0,
        "fills": 0,
    }
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert tables.texts["no-fills"] == "There are no fills in this report."
    assert "<svg" not in page
    assert "No open positions." in page
    assert tables.tables["wallet"][1] == ["Cash", "10,000.00"]


def test_without_json_it_prints_where_the_report_went(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    result = cli("report", "--html", str(tmp_path / "report.html"))

    assert "report written to" in result.stdout
    assert "7 fills, 2 symbols" in result.stdout
    assert "verify ok" in result.stdout


def test_the_file_is_replaced_whole_and_readable_by_others(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    umask = os.umask(0o022)
    try:
        make_report(cli, target)
    finally:
        os.umask(umask)

    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.html.")] == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--until-time", "yesterday"), "'yesterday'"),
        (("--until-time", "2026-03-01T10:00:00"), "needs a UTC offset"),
        (("--mark", "BTC/USD=cheap"), "'BTC/USD=cheap'"),
        (("--mark", "BTC/USD=-1"), "'BTC/USD=-1'"),
        (("--initial-balance", "lots"), "'lots'"),
        (("--initial-balance", "-5"), "(got -5)"),
        (("--initial-balance", "1" * 29), "1" * 29),
    ],
)
def test_bad_values_exit_2_naming_the_value(cli: Cli, tmp_path: Path, args: tuple[str, ...], named: str) -> None:
    target = tmp_path / "report.html"

    result = cli("report", "--html", str(target), *args, expect=2)

    assert named in result.stderr
    assert not target.exists()


@pytest.mark.parametrize("where", ["missing-folder/report.html", "a-folder"])
def test_an_unwritable_path_exits_2_naming_it(cli: Cli, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-folder").mkdir()
    target = tmp_path / where

    result = cli("report", "--html", str(target), expect=2)

    assert f"--html: cannot write {str(target)!r}" in result.stderr.replace("\n", "")
    assert not (tmp_path / "missing-folder").exists()
    assert list((tmp_path / "a-folder").iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://auditor:s3cr/t@db.example:5432/ledger",
            "postgresql+psycopg://auditor:***@db.example:5432/ledger",
        ),
        ("postgresql://auditor@db.example/ledger", "postgresql://auditor@db.example/ledger"),
        ("sqlite:////var/lib/bot/ledger.db", "sqlite:////var/lib/bot/ledger.db"),
    ],
)
def test_the_ledger_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_the_page_names_the_ledger_it_reports_on(cli: Cli, tmp_path: Path) -> None:
    _, page = make_report(cli, tmp_path / "report.html")

    assert f"<td>{cli.url}</td>" in page


def test_the_report_lists_every_audited_rollback_with_the_events_it_removed(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)
    with open_ledger(cli.url) as ledger:
        removed = ledger.history()[-2:]
        ledger.rollback(to_seq=len(SESSION) - 2, reason="two fills from a broken feed", actor="auditor@desk")

    _, page = make_report(cli, tmp_path / "report.html")

    (row,) = Tables(page).body("rollbacks")
    assert row[2:4] == ["auditor@desk", "two fills from a broken feed"]
    assert row[4:6] == [f"epoch 1 seq {len(SESSION)}", f"epoch 2 seq {len(SESSION) - 2}"]
    for fill in removed:
        assert f"#{fill.seq} {fill.fill.event_id} ({fill.hash[:12]})" in row[6]


def test_a_ledger_never_rolled_back_says_so(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    _, page = make_report(cli, tmp_path / "report.html")

    assert "No rollback: the log has only ever been appended to." in page


def test_a_relative_sqlite_ledger_is_named_by_its_absolute_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = Cli("sqlite:///relative.db")

    _, page = make_report(cli, tmp_path / "report.html")

    assert f"<td>sqlite:///{tmp_path / 'relative.db'}</td>" in page


def test_without_initial_balance_the_page_says_the_10000_is_a_default(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    _, default = make_report(cli, tmp_path / "default.html")
    _, given = make_report(cli, tmp_path / "given.html", "--initial-balance", "10000")

    assert Tables(default).texts["wallet-balance"] == (
        "Starting balance B0 = 10,000.00: a default, not read from the ledger (which does not hold the "
        "wallet's starting cash); pass --initial-balance B0 for the real one."
    )
    assert Tables(given).texts["wallet-balance"] == "Starting balance B0 = 10,000.00, given with --initial-balance."


def test_cash_below_zero_is_flagged_as_an_overdraft_of_the_cash_secured_wallet(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)

    _, page = make_report(cli, tmp_path / "report.html", "--initial-balance", "150")
    _, enough = make_report(cli, tmp_path / "enough.html", "--initial-balance", "500")

    # From 150: F1 pays 100.1 (49.90 left), F2 pays 110: cash -60.10 after seq 2, the lowest it goes.
    assert Tables(page).texts["wallet-overdraft"] == (
        "Overdraft: the cash went below zero, first after seq 2 (-60.10), lowest -60.10 after seq 2. "
        "A cash-secured wallet cannot spend more than it holds: the starting balance is too low for "
        "these fills, or they did not go through this wallet."
    )
    assert 'id="wallet-overdraft" class="bad"' in page
    assert "wallet-overdraft" not in enough


def x_gaps(page: str) -> list[float]:
    xs = [x for x, _ in svg_points(page, "cash")]
    return [round(later - earlier, 1) for earlier, later in pairwise(xs)]


def test_fills_at_uneven_times_are_drawn_evenly_spaced_by_default(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url)  # six fills a minute apart, the seventh the next day

    _, auto = make_report(cli, tmp_path / "auto.html")
    _, by_time = make_report(cli, tmp_path / "time.html", "--chart-axis", "time")
    _, by_fill = make_report(cli, tmp_path / "fills.html", "--chart-axis", "fills")

    assert len(set(x_gaps(auto))) == 1
    assert x_gaps(by_fill) == x_gaps(auto)
    assert x_gaps(by_time)[-1] > 100 * x_gaps(by_time)[0]
    assert Tables(auto).texts["chart-axis"].startswith("Fills evenly spaced in the order they occurred")
    assert Tables(by_time).texts["chart-axis"].startswith("Fills placed at the time they occurred")


def test_fills_at_even_times_are_drawn_by_time_by_default(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url, times=[f"{DAY}T10:0{minute}:00+00:00" for minute in range(7)])

    _, page = make_report(cli, tmp_path / "report.html")

    assert Tables(page).texts["chart-axis"].startswith("Fills placed at the time they occurred")


def test_a_chart_axis_that_is_not_one_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("report", "--html", str(tmp_path / "r.html"), "--chart-axis", "seq", expect=2)

    assert "--chart-axis" in result.stderr
    assert "'seq'" in result.stderr


def test_fills_that_all_occurred_at_one_time_are_drawn_evenly_spaced(cli: Cli, tmp_path: Path) -> None:
    record_session(cli.url, times=[f"{DAY}T10:00:00+00:00"] * len(SESSION))

    _, page = make_report(cli, tmp_path / "report.html")

    assert len(set(x_gaps(page))) == 1
    assert x_gaps(page)[0] > 0


def test_fees_by_currency_funding_unvalued_fees_balances_and_transfers_are_shown(cli: Cli, tmp_path: Path) -> None:
    record_exchange_events(cli.url)

    _, page = make_report(cli, tmp_path / "report.html")
    tables = Tables(page)

    totals = dict(tables.tables["totals"][:5])
    assert totals == {
        "Realized (gross)": "500.00",
        "Fees": "57.10",
        "Funding": "-1.50",
        "Unvalued fees (not in net)": "0.01 BNB unvalued",
        "Net realized": "441.40",
    }
    # fee currency, quote, fills, amount paid, quote value of the valued part, the unvalued part
    assert tables.body("fee-currencies") == [
        ["BNB", "USDT", "1", "0.01", "0.00", "0.01 BNB unvalued"],
        ["BTC", "USDT", "1", "0.001", "50.00", "—"],
        ["USDT", "USDT", "2", "7.1", "7.10", "—"],
    ]
    assert tables.body("balances") == [
        ["default", "binance", "BNB", "-0.01"],
        ["default", "binance", "BTC", "0.499"],
        ["default", "binance", "USDT", "25,491.4"],
    ]
    when_ = f"{DAY} 09:00:00 UTC"
    movements = [row[:10] for row in tables.body("movements")]
    assert movements == [
        ["1", when_, "D1", "default", "binance", "USDT", "deposit", "50,000", "USDT", "0"],
        ["5", f"{DAY} 10:04:00 UTC", "FU1", "default", "binance", "BTC/USDT:USDT", "funding", "-1.5", "USDT", "—"],
    ]
    # the fills table lists fills only; a fill's unvalued fee is shown as such beside its valued ones
    assert [row[2] for row in tables.body("fills")] == ["S1", "S2", "P1"]
    assert [row[8] for row in tables.body("fills")] == ["50.00", "5.10 + 0.01 BNB unvalued", "2.00"]
    # with funding in the log, the PnL tables show it so that Net adds up: realized + funding - fees
    assert tables.tables["symbols"][0][5:9] == ["Fees", "Funding", "Net", "Mark"]
    assert [row[4:8] for row in tables.body("symbols")] == [
        ["500.00", "55.10 + 0.01 BNB unvalued", "0.00", "444.90"],
        ["0.00", "2.00", "-1.50", "-3.50"],
    ]
    assert tables.texts["fill-count"] == "3"


def test_a_mark_for_an_unvalued_fees_currency_values_it_on_the_page_without_booking_it(
    cli: Cli, tmp_path: Path
) -> None:
    record_exchange_events(cli.url)

    _, page = make_report(cli, tmp_path / "report.html", "--mark", "BNB/USDT=600")
    totals = dict(Tables(page).tables["totals"][:5])

    assert totals["Unvalued fees (not in net)"] == "0.01 BNB unvalued (≈ 6.00 USDT at the BNB/USDT mark)"
    assert totals["Net realized"] == "441.40"  # unchanged: the mark is for display only
