"""User text that looks like Rich markup prints as it is, in every command's human output.

A fill whose every text field is markup (`[/]`, `[link=x]`, `[bold`), an audited rollback whose reason
and actor are markup, and paths holding markup go through every command; none may crash (Rich's
MarkupError once surfaced after a rollback had committed) and each prints the text literally.
`test_every_command_prints_markup_literally` keeps the table complete when a command is added.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer.main

from tests.e2e.conftest import Cli
from tests.exchanges.test_ccxt_sync import Offline, page
from tradeledger import open_ledger
from tradeledger.cli import app, common, main
from tradeledger.exchanges.ccxt import syncing

CLOSE = "x[/]"
LINK = "[link=x]acct"
BOLD = "[bold"
FOLDER = "[bold]dir [link=x]"  # a folder whose name is markup Rich would swallow


@dataclass(frozen=True)
class Place:
    root: Path
    url: str

    @property
    def folder(self) -> Path:
        return self.root / FOLDER


def markup_fill(fill_id: str, *, side: str = "buy", seconds: int = 0) -> dict[str, object]:
    return {
        "fill_id": fill_id,
        "account": LINK,
        "exchange": BOLD,
        "symbol": "BTC/USD",
        "side": side,
        "quantity": "1",
        "price": "100",
        "fee": "0.5",
        "occurred_at": datetime(2026, 1, 5, 10, 0, seconds, tzinfo=UTC),
        "strategy": "[/]",
        "order_id": "[link=x]",
        "client_order_id": BOLD,
        "metadata": {"[/]": "[link=x]", "note": BOLD},
    }


def write_legacy_state(logs: Path) -> None:
    logs.mkdir(parents=True)
    trade = {
        "id": f"{CLOSE}-legacy",
        "symbol": "ETH/USD",
        "side": "buy",
        "amount": 1.0,
        "price": 2000.0,
        "timestamp": "2026-01-05T09:00:00",
        "strategy": "[/]",
        "exchange": BOLD,
        "fees": 1.0,
        "status": "filled",
        "order_id": "[link=x]",
        "client_order_id": None,
        "metadata": {},
    }
    (logs / "trade_manager_state.json").write_text(json.dumps({"trades": [trade], "positions": {}}))


@pytest.fixture
def place(tmp_path: Path) -> Place:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ledger.record({**markup_fill("plain"), "account": "default", "exchange": "kraken"})
        ledger.record(markup_fill(CLOSE, seconds=1))
        ledger.record(markup_fill(f"{CLOSE}-2", side="sell", seconds=2))
    (tmp_path / FOLDER).mkdir()
    return Place(tmp_path, url)


def run(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # Wider than any temporary folder's path: what is checked is that markup prints as it is, not where a
    # long path would wrap (the folder's name holds a space).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "1000")
        common.out.cache_clear()
        status = main(argv)
    common.out.cache_clear()
    captured = capfd.readouterr()
    return status, captured.out, captured.err


def rolled_back(place: Place, capfd: pytest.CaptureFixture[str]) -> None:
    """An audited rollback whose reason and actor are markup, so verify and report list them."""
    status, _out, err = run(
        [
            "--db",
            place.url,
            "rollback",
            "--to-seq",
            "2",
            "--reason",
            "[/]why",
            "--actor",
            BOLD,
            "--state-dir",
            str(place.folder),
        ],
        capfd,
    )
    assert status == 0, err


Setup = Callable[[Place, pytest.CaptureFixture[str]], list[str]]


def _record(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    fill = ["--fill-id", "[/]r", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "1", "--price", "1"]
    return ["--db", place.url, "record", *fill, "--account", LINK, "--exchange", BOLD, "--strategy", "[link=x]"]


def _record_funding(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    funding = ["--funding-id", "[/]f", "--symbol", "BTC/USDT:USDT", "--amount", "-1"]
    return ["--db", place.url, "record-funding", *funding, "--account", LINK, "--exchange", BOLD]


def _record_settlement(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    # A contract that expired before the wall clock: a time 5 minutes past it is refused when recorded.
    future = ["--symbol", "BTC/USDT:USDT-251226", "--account", LINK, "--exchange", BOLD]
    held = ["--fill-id", "[/]o", "--side", "buy", "--quantity", "1", "--price", "90000", "--time", "2025-12-20T00:00Z"]
    assert run(["--db", place.url, "record", *held, *future], capfd)[0] == 0
    return ["--db", place.url, "record-settlement", *future, "--price", "95500", "--time", "2025-12-26T08:00Z"]


def _record_transfer(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    move = ["--transfer-id", "[/]t", "--currency", "USDT", "--amount", "-5", "--kind", "internal"]
    return ["--db", place.url, "record-transfer", *move, "--account", BOLD, "--to-account", LINK]


def _balances(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    assert run(_record_transfer(place, capfd), capfd)[0] == 0
    return ["--db", place.url, "balances"]


def _ingest(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    trade = {"id": "[/]i", "timestamp": 1700000000000, "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": "1"}
    entry = {"id": "[link=x]", "direction": "in", "type": "[bold]rebate", "currency": "USDT", "amount": "1"}
    place.folder.mkdir(exist_ok=True)
    (place.folder / "trades.json").write_text(json.dumps([trade]))
    (place.folder / "ledger.json").write_text(json.dumps([entry]))
    options = ["--exchange", BOLD, "--account", LINK]
    assert run(["--db", place.url, "ingest", "ccxt", str(place.folder / "trades.json"), *options], _)[0] == 0
    return ["--db", place.url, "ingest", "ccxt", str(place.folder / "ledger.json"), *options]


def _sync(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    return ["--db", place.url, "sync", BOLD, "--symbols", "BTC/USDT", "--account", LINK]


def _reconcile(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    argv = _ingest(place, capfd)
    assert run(argv, capfd)[0] == 0
    with open_ledger(place.url) as ledger:
        held = {b.currency: str(b.amount) for b in ledger.balances(account=LINK).balances if b.exchange == BOLD}
    (place.folder / "balance.json").write_text(json.dumps({"total": held}))
    options = ["--exchange", BOLD, "--account", LINK, "--balances", str(place.folder / "balance.json")]
    return ["--db", place.url, "reconcile", *options]


@pytest.fixture(autouse=True)
def offline_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sync` talks to ccxt's bybit class answering from a recorded page, never the network."""
    # The trade a minute ago: sync steps a week at a time from a cursor further in the past (see syncing).
    ms = int(datetime.now(UTC).timestamp() * 1000) - 60_000
    monkeypatch.setattr(syncing, "connect", Offline([page(("[/]s", ms)), page(("[/]s", ms))]))


def _export_then_import(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    exported = place.folder / "e.ndjson"
    assert run(["--db", place.url, "export", "--output", str(exported)], capfd)[0] == 0
    return ["--db", f"sqlite:///{place.folder / 'imported.db'}", "import", str(exported)]


def _migrate(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    write_legacy_state(place.folder / "logs")
    return ["--db", place.url, "migrate", "--logs-dir", str(place.folder / "logs")]


def _restore(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    assert run(_migrate(place, capfd), capfd)[0] == 0
    (manifest,) = (place.folder / "logs" / "migration_backup").glob("migration_backup_*.json")
    return ["--db", place.url, "restore", str(manifest)]


def _verify(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    rolled_back(place, capfd)
    return ["--db", place.url, "verify"]


def _report(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    rolled_back(place, capfd)
    return ["--db", place.url, "report", "--html", str(place.folder / "r.html")]


def _enable_sot(place: Place, _: pytest.CaptureFixture[str]) -> list[str]:
    config = place.folder / "config.yaml"
    config.write_text("# the bot [/] config\nexchange: kraken\n")
    return ["enable-sot", "--config", str(config)]


def _checkpoint(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    assert run(["keygen", "--output", str(place.folder / "key")], capfd)[0] == 0
    return ["--db", place.url, "checkpoint", "--key", str(place.folder / "key"), "--output", str(place.folder / "a")]


def _lots(place: Place, capfd: pytest.CaptureFixture[str]) -> list[str]:
    assert run(_record(place, capfd), capfd)[0] == 0  # a lot held by the markup account
    return ["--db", place.url, "lots", "--account", LINK]


CASES: dict[str, tuple[Setup, list[str]]] = {
    # command -> (its arguments after any set-up, the texts its output must hold literally)
    "record": (_record, ["[/]r"]),
    "import": (_export_then_import, [FOLDER]),
    "export": (lambda p, _: ["--db", p.url, "export", "--output", str(p.folder / "e.ndjson")], [FOLDER]),
    "positions": (lambda p, _: ["--db", p.url, "positions", "--closed", "--mark", "BTC/USD=101"], [LINK]),
    "replay": (lambda p, _: ["--db", p.url, "replay", "--initial-balance", "1000", "--account", LINK], [LINK]),
    "history": (lambda p, _: ["--db", p.url, "history"], [CLOSE, f"{CLOSE}-2"]),
    "verify": (_verify, ["[/]why", BOLD]),
    "rebuild": (lambda p, _: ["--db", p.url, "rebuild"], ["rebuilt the projections"]),  # prints no user text
    "copy": (lambda p, _: ["copy", "--from", p.url, "--to", f"sqlite:///{p.folder / 'copy.db'}"], ["copied 3 events"]),
    "rollback": (
        lambda p, _: [
            "--db",
            p.url,
            "rollback",
            "--to-seq",
            "1",
            "--reason",
            "[/]",
            "--actor",
            BOLD,
            "--state-dir",
            str(p.folder),
        ],
        [CLOSE, f"{CLOSE}-2", "[/]"],
    ),
    "restore": (_restore, [FOLDER]),
    "report": (_report, [FOLDER]),
    "demo": (lambda p, _: ["--db", f"sqlite:///{p.folder / 'demo.db'}", "demo"], [FOLDER]),
    "paper-bot": (
        lambda p, _: [
            "--db",
            f"sqlite:///{p.folder / 'bot.db'}",
            "paper-bot",
            "--cycles",
            "8",
            "--state-dir",
            str(p.folder / "logs"),
        ],
        ["cycle"],
    ),
    "migrate": (_migrate, [f"{CLOSE}-legacy", FOLDER]),
    "enable-sot": (_enable_sot, [FOLDER]),
    "keygen": (lambda p, _: ["keygen", "--output", str(p.folder / "key")], [FOLDER]),
    "checkpoint": (_checkpoint, [FOLDER]),
    # After the others: a case added before `restore` lengthens its temporary folder's name (pytest
    # numbers them per name), and the restored path would wrap at the console's width.
    "record-funding": (_record_funding, ["[/]f"]),
    "record-transfer": (_record_transfer, ["[/]t", LINK]),
    "record-settlement": (_record_settlement, [f"in account '{LINK}' on exchange '{BOLD}' (sell 1 at 95500)"]),
    "balances": (_balances, [LINK, BOLD]),
    "ingest": (_ingest, [FOLDER, "[bold]rebate"]),
    "sync": (_sync, [BOLD, "trades BTC/USDT"]),
    "reconcile": (_reconcile, [LINK, BOLD, "reconcile: ok"]),
    "watch": (lambda p, _: ["--db", p.url, "watch", "--until-seq", "3"], [CLOSE, f"{CLOSE}-2"]),
    "gains": (lambda p, _: ["--db", p.url, "gains", "--method", "fifo"], [LINK]),
    "lots": (_lots, [LINK]),
}


@pytest.mark.parametrize("command", list(CASES))
def test_markup_in_user_text_prints_literally_and_crashes_nothing(
    command: str, place: Place, capfd: pytest.CaptureFixture[str]
) -> None:
    setup, expected = CASES[command]
    argv = setup(place, capfd)

    status, out, err = run(argv, capfd)

    assert status == 0, (status, err)
    assert "Traceback" not in out + err
    for text in expected:
        assert text in out, (text, out)


def test_a_rollback_dry_run_of_markup_fills_prints_them_and_changes_nothing(
    place: Place, capfd: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        ["--db", place.url, "rollback", "--to-seq", "1", "--reason", "r", "--actor", "ops", "--dry-run"], capfd
    )

    assert status == 0, err
    assert CLOSE in out
    assert f"{CLOSE}-2" in out
    with open_ledger(place.url) as ledger:
        assert ledger.head.seq == 3


def test_every_command_prints_markup_literally() -> None:
    assert set(typer.main.get_command(app).commands) == set(CASES)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["positions", "history"])
def test_emoji_codes_in_user_text_print_as_they_are(
    command: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ledger.record({**markup_fill(":+1:"), "account": ":+1:", "exchange": ":smile:"})
        ledger.record({**markup_fill("plain"), "account": "default", "exchange": "kraken"})  # an account column

    status, out, err = run(["--db", url, command], capfd)

    assert status == 0, err
    assert "👍" not in out + err
    assert "😄" not in out + err
    assert ":+1:" in out + err, (out, err)


def test_a_mark_out_of_range_quotes_its_symbol_as_typed(cli: Cli) -> None:
    result = cli("positions", "--mark", "x, [b]y=1e99", expect=2)

    assert result.stdout == ""
    assert result.stderr == "error: --mark: 'x, [b]y': is out of range 1E-24..1E+24 (got 1E+99)\n"
