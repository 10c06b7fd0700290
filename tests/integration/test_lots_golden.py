"""The lots' figures on a busy mixed ledger, pinned: every report equal, Decimal for Decimal and row for row, to
what the lots' fold gave before its inline path for the common fill (issue 19).

The ledger (`build`) is drawn from a fixed seed: three accounts over four tax years, spot fills on four
symbols (one quoted in BTC) that go long, short and flip, every kind of fee (v1, none, quote, quote rebate,
base, base rebate, unvalued and valued BNB, two fees), sells naming their lots, deposits, withdrawals with
fees, a contract fill and funding (no lots). `figures` reads every method, a plan that changes by year,
fees in the basis or not, withdrawals disposing or not, a year or all, an account, a quote and a shorter
term, and the open lots. `tests/fixtures/golden/lots_mixed.figures.json` holds what the fold of main at
c6a0652 gave (`python -m tests.integration.test_lots_golden` writes it again: only for a change that
means to change the figures, and say which in the commit).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeledger import InvalidArgument, InvalidFill, Ledger, open_ledger

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden" / "lots_mixed.figures.json"
START = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)
SYMBOLS = {"BTC/USD": 30_000, "ETH/USD": 2_000, "BTC/EUR": 28_000, "ETH/BTC": 0.07}
PLANS: dict[str, list[str]] = {
    "fifo": ["fifo"],
    "lifo": ["lifo"],
    "hifo": ["hifo"],
    "average": ["average"],
    "specific": ["specific"],
    "by-year": ["fifo", "2022=hifo", "2023=average", "2024=lifo"],
    "average-then-fifo": ["average", "2023=fifo"],
    "hifo-then-specific": ["hifo", "2024=specific"],
}
OPTIONS: dict[str, dict[str, Any]] = {
    "": {},
    "fees-out": {"fees_in_basis": False},
    "withdrawals": {"withdrawals_dispose": True},
}


def _fees(rnd: random.Random, symbol: str) -> dict[str, Any]:
    base, quote = symbol.split("/")
    amount = f"{rnd.randrange(1, 500) / 100:.2f}"
    small = f"{rnd.randrange(1, 200) / 100_000:.5f}"
    kind = rnd.choices(
        ["v1", "none", "quote", "rebate", "base", "base-rebate", "bnb", "bnb-valued", "two"],
        [15, 5, 40, 5, 10, 5, 5, 5, 5],
    )[0]
    if kind == "v1":
        return {"fee": amount}
    if kind == "none":
        return {"fees": []}
    fee: dict[str, str] = {
        "quote": {"amount": amount, "currency": quote},
        "rebate": {"amount": f"-{amount}", "currency": quote},
        "base": {"amount": small, "currency": base},
        "base-rebate": {"amount": f"-{small}", "currency": base},
        "bnb": {"amount": small, "currency": "BNB"},
        "bnb-valued": {"amount": small, "currency": "BNB", "quote_value": amount},
        "two": {"amount": amount, "currency": quote},
    }[kind]
    if kind == "two":
        return {"fees": [fee, {"amount": small, "currency": base}]}
    return {"fees": [fee]}


def build(ledger: Ledger, count: int = 1_500, seed: int = 19) -> None:
    """`count` events drawn from `seed` (a fill the ledger refuses, such as a base fee a short cannot pay, is
    left out, as a bot's would be)."""
    rnd = random.Random(seed)
    prices = dict(SYMBOLS)
    when = START
    held: dict[tuple[str, str], Decimal] = {}  # (account, symbol): the position, base fees aside
    last_buy: dict[tuple[str, str], tuple[int, Decimal]] = {}  # a buy that opened a long lot, and its quantity
    for index in range(count):
        when += timedelta(hours=rnd.randrange(0, 40), seconds=rnd.randrange(1, 3600))
        account = rnd.choice(["a", "a", "b", "c"])
        common = {"account": account, "exchange": "x", "occurred_at": when.isoformat()}
        draw = rnd.random()
        if draw < 0.06:
            currency = rnd.choice(["BTC", "ETH", "USD"])
            amount = f"-{rnd.randrange(1, 300) / 100:.2f}"
            fee = rnd.choice(["0", "0", "0.01"])
            event = {"type": "transfer", "transfer_id": f"w{index}", "currency": currency, "amount": amount}
            ledger.record({**common, **event, "fee": fee, "kind": "withdrawal"})
            continue
        if draw < 0.08:
            event = {"type": "transfer", "transfer_id": f"d{index}", "currency": "BTC", "amount": "1.5"}
            ledger.record({**common, **event, "kind": "deposit"})
            continue
        if draw < 0.10:
            contract = {"symbol": "BTC/USD:USD", "side": rnd.choice(["buy", "sell"]), "quantity": "0.5"}
            ledger.record({**common, **contract, "fill_id": f"k{index}", "price": "30000", "fee": "1"})
            if rnd.random() < 0.5:
                funding = {"funding_id": f"g{index}", "symbol": "BTC/USD:USD", "amount": "-0.75", "currency": "USD"}
                ledger.record({**common, **funding, "type": "funding"})
            continue
        symbol = rnd.choice(list(SYMBOLS))
        prices[symbol] *= 1 + (rnd.random() - 0.48) / 20
        places = 6 if symbol == "ETH/BTC" else 2
        side = rnd.choice(["buy", "sell"])
        quantity = Decimal(rnd.randrange(1, 4_000)) / 1_000
        fill: dict[str, Any] = {
            **common,
            "fill_id": f"f{index}",
            "symbol": symbol,
            "side": side,
            "price": f"{prices[symbol]:.{places}f}",
            **_fees(rnd, symbol),
        }
        key = (account, symbol)
        lot = last_buy.pop(key, None)  # named by the very next fill of the key only: then it is still open
        if side == "sell" and lot is not None and rnd.random() < 0.3:
            quantity = min(quantity, lot[1] / 2)  # half at most: the lot's own base fee may take a little
            fill["metadata"] = {"lots": [{"seq": lot[0], "quantity": str(quantity)}]}
        fill["quantity"] = str(quantity)
        try:
            receipt = ledger.record(fill)
        except InvalidFill:
            continue
        before = held.get(key, Decimal(0))
        held[key] = before + quantity if side == "buy" else before - quantity
        if side == "buy" and before >= 0:
            last_buy[key] = (receipt.seq, quantity)


def _digest(items: Any) -> str:
    text = "\n".join("|".join(str(field) for field in item) for item in items)
    return hashlib.sha256(text.encode()).hexdigest()


def _fields(item: Any) -> tuple[Any, ...]:
    return tuple(getattr(item, name) for name in item.__slots__)


def _gains(ledger: Ledger, plan: list[str], **options: Any) -> dict[str, Any]:
    try:
        report = ledger.gains(plan, **options)
    except InvalidArgument as error:
        return {"refused": str(error)}
    return {
        "rows": len(report.rows),
        "digest": _digest(report.rows),
        "missing": _digest(_fields(item) for item in report.missing),
        "totals": [str(value) for value in _fields(report.totals)],
        "years": list(report.years),
        "seq": report.seq,
    }


def _lots(ledger: Ledger, plan: list[str], **options: Any) -> dict[str, Any]:
    try:
        report = ledger.lots(plan, **options)
    except InvalidArgument as error:
        return {"refused": str(error)}
    return {"lots": len(report.lots), "digest": _digest(_fields(lot) for lot in report.lots), "seq": report.seq}


def figures(ledger: Ledger) -> dict[str, Any]:
    """Every report named by what it asks for."""
    found: dict[str, Any] = {}
    middle = datetime(2023, 2, 1, tzinfo=UTC)
    for name, plan in PLANS.items():
        for label, options in OPTIONS.items():
            for year in (None, 2022, 2023, 2024):
                found[f"gains {name} {label} year={year}"] = _gains(ledger, plan, year=year, **options)
            found[f"lots {name} {label}"] = _lots(ledger, plan, **options)
            found[f"lots {name} {label} until 2023-02"] = _lots(ledger, plan, until_time=middle, **options)
        found[f"gains {name} account=b"] = _gains(ledger, plan, account="b")
        found[f"gains {name} quote=EUR year=2023"] = _gains(ledger, plan, quote="EUR", year=2023)
        found[f"gains {name} long_after_days=100"] = _gains(ledger, plan, long_after_days=100)
        found[f"lots {name} account=c quote=BTC"] = _lots(ledger, plan, account="c", quote="BTC")
    return found


def test_the_lots_figures_of_a_mixed_ledger_are_those_pinned(ledger: Ledger) -> None:
    build(ledger)

    found = figures(ledger)

    pinned = json.loads(GOLDEN.read_text())
    assert {name: found[name] for name in pinned} == pinned
    assert found.keys() == pinned.keys()


def test_the_pinned_ledger_has_what_it_is_meant_to_cover() -> None:
    pinned = json.loads(GOLDEN.read_text())

    fifo = pinned["gains fifo  year=None"]
    assert fifo["rows"] > 500
    assert fifo["years"] == [2021, 2022, 2023, 2024]
    assert pinned["gains fifo withdrawals year=None"]["missing"] != fifo["missing"]
    assert "refused" not in pinned["gains specific  year=None"]
    assert pinned["gains specific  year=None"]["digest"] != fifo["digest"]


if __name__ == "__main__":  # write the pinned figures again (see the module's docstring)
    path = Path(sys.argv[1]) / "lots.db" if len(sys.argv) > 1 else Path("lots-golden.db")
    path.unlink(missing_ok=True)
    with open_ledger(f"sqlite:///{path}", synchronous="normal") as built:
        build(built)
        GOLDEN.write_text(json.dumps(figures(built), indent=1, sort_keys=True) + "\n")
    path.unlink()
