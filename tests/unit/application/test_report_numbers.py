"""The audit use case behind `report --html` (application.audit): its numbers, checked without the page,
over the in-memory store.

The session is tests/e2e/test_report.py's, whose per-fill numbers are worked out by hand there (spec §4, §5).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.e2e.test_report import EXCHANGE_EVENTS, EXCHANGE_TIMES, SESSION, TIMES
from tradeledger import Ledger
from tradeledger.application.audit import FeeTotal, Mark, Report, build_report, resolve_axis, uneven
from tradeledger.domain.balances import Balance
from tradeledger.domain.risk import PriceMark

GENERATED_AT = datetime(2026, 3, 3, tzinfo=UTC)
B0 = Decimal(10000)


def record(
    ledger: Ledger, fills: list[dict[str, Any]] = SESSION, times: list[str] = TIMES, exchange: str = "kraken"
) -> None:
    ledger.record_many([{"exchange": exchange, **fill, "occurred_at": t} for fill, t in zip(fills, times, strict=True)])


def audit(ledger: Ledger, **options: object) -> Report:
    return build_report(ledger, url="sqlite:////ledger.db", generated_at=GENERATED_AT, **options)  # type: ignore[arg-type]


def decimals(*values: str) -> list[Decimal]:
    return [Decimal(v) for v in values]


def test_each_fill_carries_its_realized_pnl_and_the_wallet_cash_after_it(ledger: Ledger) -> None:
    record(ledger)

    report = audit(ledger)

    assert [row.recorded.seq for row in report.fills] == [1, 2, 3, 4, 5, 6, 7]
    assert [row.realized for row in report.fills] == decimals("0", "0", "7.5", "-22.5", "0", "20", "0")
    assert [row.cash for row in report.fills] == decimals(
        "9899.9", "9789.9", "9849.7", "9894.2", "9794.1", "9914", "9869"
    )
    assert report.folds_agree is True
    assert report.initial_balance == B0
    assert report.balance_given is False


def test_the_series_are_cumulative_sums_in_the_order_the_fills_occurred(ledger: Ledger) -> None:
    record(ledger)
    late = {"fill_id": "LATE", "symbol": "SOL/USD", "side": "buy", "quantity": "1", "price": "10", "fee": "1"}
    record(ledger, [late], ["2026-03-01T09:00:00+00:00"])  # seq 8, but it occurred first

    series = audit(ledger).series

    assert [point.seq for point in series] == [8, 1, 2, 3, 4, 5, 6, 7]
    assert [point.realized for point in series] == decimals("0", "0", "0", "7.5", "-15", "-15", "5", "5")
    assert [point.net for point in series] == decimals("-1", "-1.1", "-1.1", "6.2", "-16.8", "-16.9", "3", "3")
    assert [point.cash for point in series] == decimals(
        "9989", "9888.9", "9778.9", "9838.7", "9883.2", "9783.1", "9903", "9858"
    )


def test_marked_totals_add_the_unrealized_pnl_of_the_marked_open_positions(ledger: Ledger) -> None:
    record(ledger)

    totals = audit(ledger, marks={"BTC/USD": Decimal(80)}).marked_totals()

    # short 1 @90 marked at 80 gains 10; ETH long 1 @45 has no mark; net realized 5 - 1 = 4
    assert totals.unrealized == Decimal(10)
    assert totals.net_with_unrealized == Decimal(14)
    assert totals.unmarked == 1


def test_a_given_mark_wins_over_the_stored_one_which_is_used_otherwise(ledger: Ledger) -> None:
    record(ledger)
    marked_at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    ledger.save_marks([PriceMark("ETH/USD", Decimal(50), marked_at), PriceMark("BTC/USD", Decimal(95), marked_at)])

    marks = audit(ledger, marks={"BTC/USD": Decimal(80)}).marks

    assert marks == {
        "BTC/USD": Mark(Decimal(80), "--mark"),
        "ETH/USD": Mark(Decimal(50), "stored 2026-03-02T12:00:00.000000+00:00"),
    }


def test_the_wallet_check_shows_both_sides_of_the_invariant(ledger: Ledger) -> None:
    record(ledger)

    check = audit(ledger).wallet_check()

    # cash 9869 + Σ|s|·avg (1·90 + 1·45) = 10004 = 10000 + 5 realized - 1 fees
    assert [check.held, check.left, check.right, check.difference] == decimals("135", "10004", "10004", "0")


def record_perp(ledger: Ledger, *, close: bool) -> None:
    """Buy 1 BTC/USDT:USDT at 100 (fee 0.1), pay 2 USDT of funding an hour later, and with `close` sell it at
    110 (fee 0.1) an hour after that."""
    at = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    perp = {"exchange": "bybit", "symbol": "BTC/USDT:USDT", "quantity": "1"}
    events = [
        {**perp, "fill_id": "o", "side": "buy", "price": "100", "fee": "0.1", "occurred_at": at},
        {"type": "funding", "funding_id": "f", "exchange": "bybit", "symbol": "BTC/USDT:USDT",
         "amount": "-2", "currency": "USDT", "occurred_at": at + timedelta(hours=1)},
    ]  # fmt: skip
    if close:
        events.append({**perp, "fill_id": "c", "side": "sell", "price": "110", "fee": "0.1",
                       "occurred_at": at + timedelta(hours=2)})  # fmt: skip
    ledger.record_many(events)


def test_the_wallet_check_counts_the_funding_paid_into_the_cash(ledger: Ledger) -> None:
    record_perp(ledger, close=False)

    check = audit(ledger).wallet_check()

    # cash 10000 - 100 - 0.1 - 2 = 9897.9, + 1·100 at cost = 9997.9 = 10000 + 0 realized - 2 funding - 0.1 fees
    assert [check.held, check.left, check.right, check.difference] == decimals("100", "9997.9", "9997.9", "0")


def test_an_overdraft_names_the_first_fill_below_zero_and_the_lowest(ledger: Ledger) -> None:
    record(ledger)

    overdraft = audit(ledger, initial_balance=Decimal(150)).overdraft()

    assert overdraft is not None
    assert (overdraft.first.recorded.seq, overdraft.first.cash) == (2, Decimal("-60.1"))
    assert (overdraft.lowest.recorded.seq, overdraft.lowest.cash) == (2, Decimal("-60.1"))
    assert audit(ledger, initial_balance=Decimal(500)).overdraft() is None


def test_until_time_and_account_narrow_the_fills_and_the_state(ledger: Ledger) -> None:
    record(ledger)
    until = audit(ledger, until_time=datetime(2026, 3, 1, 23, tzinfo=UTC))
    other = {"fill_id": "O1", "account": "desk2", "symbol": "SOL/USD", "side": "buy", "quantity": "3", "price": "7"}
    record(ledger, [other], [TIMES[0]])

    desk2 = audit(ledger, account="desk2")

    assert [row.recorded.fill.event_id for row in until.fills] == ["F1", "F2", "F3", "F4", "F5", "F6"]
    assert until.state.seq == 6
    assert until.wallet.cash == Decimal(9914)
    assert [row.recorded.fill.event_id for row in desk2.fills] == ["O1"]
    assert desk2.symbols == (("desk2", "SOL/USD"),)
    assert desk2.wallet.cash == Decimal(9979)
    assert until.multi_account is False
    assert audit(ledger).multi_account is True
    assert audit(ledger).quote_currencies == ["USD"]


def test_an_empty_ledger_has_no_fills_no_series_and_the_starting_cash(ledger: Ledger) -> None:
    report = audit(ledger, initial_balance=Decimal(250))

    assert report.fills == ()
    assert report.series == ()
    assert report.wallet.cash == Decimal(250)
    assert report.balance_given is True
    assert report.overdraft() is None


def test_auto_spaces_the_fills_evenly_when_one_gap_is_over_ten_typical_gaps() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    minutes = [start + timedelta(minutes=m) for m in (0, 1, 2, 3)]

    assert resolve_axis("auto", minutes) == "time"
    assert (
        resolve_axis("auto", [*minutes, start + timedelta(minutes=13)]) == "time"
    )  # a 10-minute gap: not over 10 median gaps
    assert resolve_axis("auto", [*minutes, start + timedelta(minutes=13, seconds=1)]) == "fills"
    assert resolve_axis("auto", [start, start]) == "fills"  # two fills at one time
    assert resolve_axis("auto", [start, start + timedelta(days=9)]) == "time"  # one gap says nothing
    assert resolve_axis("time", [start, start]) == "time"
    assert resolve_axis("fills", minutes) == "fills"
    assert uneven([]) is False


def test_the_report_records_the_axis_asked_for_and_the_one_drawn(ledger: Ledger) -> None:
    record(ledger)  # six fills a minute apart, the seventh the next day

    report = audit(ledger, chart_axis="auto")

    assert (report.axis_choice, report.chart_axis) == ("auto", "fills")


def test_fees_by_currency_funding_unvalued_fees_transfers_and_balances(ledger: Ledger) -> None:
    record(ledger, EXCHANGE_EVENTS, EXCHANGE_TIMES, "binance")  # worked out in tests/e2e/test_report.py

    report = audit(ledger)

    totals = report.state.totals
    assert (totals.realized_pnl, totals.fees, totals.funding) == (Decimal(500), Decimal("57.1"), Decimal("-1.5"))
    assert totals.unvalued_fees == (("BNB", Decimal("0.01")),)
    assert totals.net_pnl == Decimal("441.4")
    assert report.fee_totals == (
        FeeTotal("BNB", "USDT", 1, Decimal("0.01"), Decimal(0), Decimal("0.01")),
        FeeTotal("BTC", "USDT", 1, Decimal("0.001"), Decimal(50), Decimal(0)),
        FeeTotal("USDT", "USDT", 2, Decimal("7.1"), Decimal("7.1"), Decimal(0)),
    )
    assert [row.fill.fill_id for row in report.fills] == ["S1", "S2", "P1"]
    assert [(r.seq, r.fill.event_id) for r in report.movements] == [(1, "D1"), (5, "FU1")]
    assert report.has_funding is True
    assert report.balances.seq == 5
    assert report.balances.balances == (
        Balance("default", "binance", "BNB", Decimal("-0.01")),
        Balance("default", "binance", "BTC", Decimal("0.499")),
        Balance("default", "binance", "USDT", Decimal("25491.4")),
    )
    assert report.balances == ledger.balances()  # the fold of the report's events is the stored projection
    assert report.quote_currencies == ["USDT"]


def test_balances_and_movements_stop_at_until_time(ledger: Ledger) -> None:
    record(ledger, EXCHANGE_EVENTS, EXCHANGE_TIMES, "binance")

    report = audit(ledger, until_time=datetime(2026, 3, 1, 10, 1, 30, tzinfo=UTC))  # the deposit and the buy

    assert [r.fill.event_id for r in report.movements] == ["D1"]
    assert report.has_funding is False
    assert report.fee_totals == (FeeTotal("BTC", "USDT", 1, Decimal("0.001"), Decimal(50), Decimal(0)),)
    assert report.balances.balances == (
        Balance("default", "binance", "BTC", Decimal("0.999")),
        Balance("default", "binance", "USDT", Decimal(0)),
    )


def test_the_charts_net_line_adds_the_funding_paid_before_each_fill(ledger: Ledger) -> None:
    record_perp(ledger, close=True)

    report = audit(ledger)

    assert [(point.realized, point.net) for point in report.series] == [
        (Decimal(0), Decimal("-0.1")),
        (Decimal(10), Decimal("7.8")),  # 10 - 2 funding - 0.2 fees
    ]
    assert report.series[-1].net == report.state.totals.net_pnl


def test_the_report_folds_agree_when_a_base_fee_flips_a_contract_position(ledger: Ledger) -> None:
    """Long 1 BTC/USDT:USDT @ 100, sell 0.9995 @ 110 paying 1 USDT and 0.001 BTC: the fee's disposal closes the
    long 0.0005 left and opens a short of 0.0005 at 110 carrying the whole 0.11 of the fee (spec 9). The page's
    wallet fold keeps the same open short, so the report does not call its two folds disagreeing."""
    at = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    perp = {"exchange": "bybit", "symbol": "BTC/USDT:USDT"}
    ledger.record_many([
        {**perp, "fill_id": "o", "side": "buy", "quantity": "1", "price": "100", "occurred_at": at},
        {**perp, "fill_id": "c", "side": "sell", "quantity": "0.9995", "price": "110", "occurred_at": at,
         "fees": [{"amount": "1", "currency": "USDT"}, {"amount": "0.001", "currency": "BTC"}]},
    ])  # fmt: skip

    report = audit(ledger)

    (short,) = report.state.open
    assert (short.signed_quantity, short.fees) == (Decimal("-0.0005"), Decimal("0.11"))
    assert report.folds_agree is True
    assert report.wallet.cash == Decimal("10008.835")
