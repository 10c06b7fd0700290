"""Bad input through Ledger.record / record_many (spec sections 2 and 3).

A refused fill raises before anything is written: the log, the projection, the head and the
database files stay exactly as they were, and the next good fill takes the next seq.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend
from tests.factories import fill_fields, make_fill, recorded_fills
from tradeledger import Checkpoint, FeeEntry, Fill, FillConflict, InvalidFill, Ledger, LedgerState, RecordedFill

TABLES = (
    "ledger_events",
    "ledger_head",
    "positions",
    "closed_positions",
    "alembic_version",
)


def database_path(db_url: str) -> Path | None:
    """The SQLite file; None on PostgreSQL, where the tables' contents are compared instead."""
    return Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None


def table_rows(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ledger table, read around tradeledger (read-only on SQLite)."""
    path = database_path(db_url)
    if path is not None:
        # Read-only, so closing this connection never checkpoints the WAL.
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall()) for table in TABLES}
    backend = Backend("postgresql", db_url)
    try:
        return {table: sorted(backend.sql(f"SELECT * FROM {table}")) for table in TABLES}
    finally:
        backend.close()


@dataclass(frozen=True)
class Snapshot:
    """Everything a refused fill must leave alone."""

    head: Checkpoint
    state: LedgerState
    history: list[RecordedFill]
    rows: dict[str, list[tuple[Any, ...]]]
    files: dict[str, bytes]


def snapshot(ledger: Ledger, db_url: str) -> Snapshot:
    path = database_path(db_url)
    head, state, history = ledger.head, ledger.state(), list(ledger.history())
    rows = table_rows(db_url)
    # The -shm file is SQLite's shared index that readers touch too; it holds no data.
    files = (
        {}
        if path is None
        else {
            name: file.read_bytes()
            for name in (path.name, f"{path.name}-wal")
            if (file := path.with_name(name)).exists()
        }
    )
    return Snapshot(head, state, history, rows, files)


def assert_unchanged(ledger: Ledger, db_url: str, before: Snapshot) -> None:
    after = snapshot(ledger, db_url)
    assert after.head == before.head
    assert after.state == before.state
    assert after.history == before.history
    assert after.rows == before.rows
    assert after.files == before.files


@pytest.fixture
def traded(ledger: Ledger) -> Ledger:
    """A ledger with history: a closed BTC cycle, an open ETH long and an open short elsewhere."""
    ledger.record_many(
        [
            fill_fields(symbol="BTC/USD", side="buy", quantity="2", price="100", fee="0.2"),
            fill_fields(symbol="BTC/USD", side="sell", quantity="2", price="110", fee="0.2"),
            fill_fields(symbol="ETH/USD", side="buy", quantity="1.5", price="10", fee="0.01"),
            fill_fields(account="hedge", symbol="BTC/USD", side="sell", quantity="1", price="105"),
        ]
    )
    assert ledger.head.seq == 4
    assert len(ledger.state().open) == 2
    assert len(ledger.state().closed) == 1
    return ledger


def renderings(value: object) -> list[str]:
    """The ways an error message may show a value: repr, str, and a time's ISO text."""
    forms = [repr(value), str(value)]
    if isinstance(value, datetime):
        forms += [repr(value.isoformat()), value.isoformat()]
    return forms


def assert_names(message: str, field: str, value: object) -> None:
    """The message names the field and shows the value given, as `(got <value>)`."""
    assert f"{field}:" in message, f"{field!r} not named in {message!r}"
    shown = "|".join(re.escape(form) for form in renderings(value))
    # The value may follow its type's name: "(got list [1, 2])".
    got = re.compile(rf"\(got (?:[a-z]+ )?(?:{shown})\)")
    assert got.search(message), f"{value!r} not shown in {message!r}"


def assert_refused_and_nothing_written(
    ledger: Ledger, db_url: str, fill: dict[str, Any], *expected_in_message: str
) -> str:
    before = snapshot(ledger, db_url)

    with pytest.raises(InvalidFill) as refused:
        ledger.record(fill)

    message = str(refused.value)
    for expected in expected_in_message:
        assert expected in message, f"{expected!r} not in {message!r}"
    assert_unchanged(ledger, db_url, before)
    # The refusal took no seq: the next good fill follows the last recorded one.
    assert ledger.record(fill_fields()).seq == before.head.seq + 1
    assert ledger.verify().ok
    return message


BAD_VALUES = [
    pytest.param("side", "hold", id="side-hold"),
    pytest.param("side", "BUY", id="side-upper-case-BUY"),
    pytest.param("side", "long", id="side-long"),
    pytest.param("side", "", id="side-empty"),
    pytest.param("quantity", "0", id="quantity-zero"),
    pytest.param("quantity", "-1", id="quantity-negative"),
    pytest.param("quantity", Decimal("-0.001"), id="quantity-negative-decimal"),
    pytest.param("quantity", "NaN", id="quantity-nan"),
    pytest.param("quantity", Decimal("NaN"), id="quantity-nan-decimal"),
    pytest.param("quantity", "Infinity", id="quantity-infinity"),
    pytest.param("quantity", "-Infinity", id="quantity-minus-infinity"),
    pytest.param("quantity", "abc", id="quantity-not-a-number"),
    pytest.param("quantity", "", id="quantity-empty"),
    pytest.param("price", "0", id="price-zero"),
    pytest.param("price", Decimal("0.000"), id="price-zero-decimal"),
    pytest.param("price", "-100", id="price-negative"),
    pytest.param("price", "NaN", id="price-nan"),
    pytest.param("price", "Infinity", id="price-infinity"),
    pytest.param("price", Decimal("Infinity"), id="price-infinity-decimal"),
    pytest.param("price", "abc", id="price-not-a-number"),
    pytest.param("fee", "NaN", id="fee-nan"),
    pytest.param("fee", "sNaN", id="fee-signalling-nan"),
    pytest.param("fee", "Infinity", id="fee-infinity"),
    pytest.param("fee", "abc", id="fee-not-a-number"),
    pytest.param("symbol", "BTCUSD", id="symbol-without-slash"),
    pytest.param("symbol", "btc/usd", id="symbol-lower-case"),
    pytest.param("symbol", "BTC/", id="symbol-without-quote"),
    pytest.param("symbol", "/USD", id="symbol-without-base"),
    pytest.param("symbol", "BTC/USD/EUR", id="symbol-three-parts"),
    pytest.param("symbol", " BTC/USD", id="symbol-leading-space"),
    pytest.param("symbol", "", id="symbol-empty"),
    pytest.param("occurred_at", "2026-01-05T09:30:00", id="occurred_at-naive-text"),
    pytest.param("occurred_at", datetime(2026, 1, 5, 9, 30), id="occurred_at-naive-datetime"),  # noqa: DTZ001
    pytest.param("occurred_at", "yesterday", id="occurred_at-not-a-time"),
    pytest.param("metadata", [1, 2], id="metadata-list"),
    pytest.param("metadata", '{"a": 1}', id="metadata-json-text-not-object"),
    pytest.param("metadata", 42, id="metadata-number"),
    pytest.param("metadata", {"tags": {"a", "b"}}, id="metadata-holding-a-set"),
    pytest.param("metadata", {"ratio": float("nan")}, id="metadata-holding-nan"),
    pytest.param("metadata", {"at": datetime(2026, 1, 5, tzinfo=UTC)}, id="metadata-holding-datetime"),
    pytest.param("fill_id", "", id="fill_id-empty"),
    pytest.param("account", "", id="account-empty"),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_field_and_value_and_nothing_is_written(
    traded: Ledger, db_url: str, field: str, value: object
) -> None:
    message = assert_refused_and_nothing_written(traded, db_url, fill_fields(**{field: value}))
    assert_names(message, field, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("quantity", 1.5, id="quantity"),
        pytest.param("price", 100.0, id="price"),
        pytest.param("fee", 0.1, id="fee"),
    ],
)
def test_a_float_amount_is_refused_because_floats_are_not_exact(
    traded: Ledger, db_url: str, field: str, value: float
) -> None:
    message = assert_refused_and_nothing_written(traded, db_url, fill_fields(**{field: value}), "not exact")
    assert_names(message, field, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("colour", "red", id="colour"),
        pytest.param("qty", "1", id="qty-misspelt-quantity"),
        pytest.param("seq", 7, id="seq-is-assigned-by-the-log"),
    ],
)
def test_an_unknown_field_is_refused_naming_it_and_nothing_is_written(
    traded: Ledger, db_url: str, field: str, value: object
) -> None:
    message = assert_refused_and_nothing_written(traded, db_url, fill_fields(**{field: value}), "not a fill field")
    assert_names(message, field, value)


@pytest.mark.parametrize("field", ["fill_id", "exchange", "symbol", "side", "quantity", "price", "occurred_at"])
def test_a_missing_required_field_is_refused_naming_it_and_nothing_is_written(
    traded: Ledger, db_url: str, field: str
) -> None:
    fill = fill_fields()
    del fill[field]
    assert_refused_and_nothing_written(traded, db_url, fill, f"{field}: is required")


def test_every_bad_field_of_one_fill_is_named(traded: Ledger, db_url: str) -> None:
    fill = fill_fields(side="hold", quantity="-1", symbol="BTCUSD")
    message = assert_refused_and_nothing_written(traded, db_url, fill)
    assert_names(message, "side", "hold")
    assert_names(message, "quantity", "-1")
    assert_names(message, "symbol", "BTCUSD")


def test_a_fill_changed_without_validation_is_refused_and_nothing_is_written(traded: Ledger, db_url: str) -> None:
    # model_copy(update=...) skips pydantic validation, so a Fill instance can hold a bad amount.
    unchecked = make_fill().model_copy(update={"quantity": Decimal(-1)})
    before = snapshot(traded, db_url)

    with pytest.raises(InvalidFill) as refused:
        traded.record(unchecked)

    assert_names(str(refused.value), "quantity", Decimal(-1))
    assert_unchanged(traded, db_url, before)
    assert traded.verify().ok


@pytest.mark.parametrize(
    ("entry", "field", "value"),
    [
        pytest.param(
            FeeEntry.model_construct(amount=Decimal("NaN"), currency="BNB"), "amount", Decimal("NaN"), id="nan-amount"
        ),
        pytest.param(
            FeeEntry(amount=Decimal(1), currency="BNB").model_copy(update={"amount": Decimal("1." + "1" * 30)}),
            "amount",
            Decimal("1." + "1" * 30),
            id="amount-rounded-if-stored",
        ),
        pytest.param(
            FeeEntry(amount=Decimal(1), currency="BNB").model_copy(update={"currency": "bnb"}),
            "currency",
            "bnb",
            id="lower-case-currency",
        ),
    ],
)
def test_a_fee_entry_changed_without_validation_is_refused_and_nothing_is_written(
    traded: Ledger, db_url: str, entry: FeeEntry, field: str, value: object
) -> None:
    # Like a Fill, a FeeEntry built by model_construct or model_copy(update=...) skipped validation:
    # it was stored as is (a NaN balance, an amount rounded in the hashed text, a currency "bnb").
    fields = {key: value for key, value in fill_fields().items() if key != "fee"}
    before = snapshot(traded, db_url)

    for given in (fields | {"fees": [entry]}, Fill.model_validate(fields).model_copy(update={"fees": (entry,)})):
        with pytest.raises(InvalidFill) as refused:
            traded.record(given)
        assert_names(str(refused.value), f"fees.0.{field}", value)

    assert_unchanged(traded, db_url, before)
    assert traded.verify().ok


def test_something_that_is_not_a_fill_is_refused_and_nothing_is_written(traded: Ledger, db_url: str) -> None:
    before = snapshot(traded, db_url)

    with pytest.raises(InvalidFill, match="expected a Fill or a mapping of fill fields, got list"):
        traded.record([("symbol", "BTC/USD")])  # type: ignore[arg-type]

    assert_unchanged(traded, db_url, before)


# --- batches ---------------------------------------------------------------------------------


def test_a_batch_with_one_bad_fill_in_the_middle_appends_nothing_and_names_its_position(
    traded: Ledger, db_url: str
) -> None:
    batch = [
        fill_fields(side="buy", quantity="1"),
        fill_fields(side="buy", quantity="2"),
        fill_fields(side="sell", quantity="0"),
        fill_fields(side="sell", quantity="1"),
        fill_fields(symbol="ETH/USD"),
    ]
    before = snapshot(traded, db_url)

    with pytest.raises(InvalidFill) as refused:
        traded.record_many(batch)

    message = str(refused.value)
    assert message.startswith("fill 3: ")
    assert_names(message, "quantity", "0")
    for position in (1, 2, 4, 5):
        assert f"fill {position}:" not in message
    assert_unchanged(traded, db_url, before)


def test_the_first_bad_fill_of_a_batch_is_named_by_its_position(traded: Ledger, db_url: str) -> None:
    batch = [fill_fields(), fill_fields(price="-1"), fill_fields(), fill_fields(side="hold")]
    before = snapshot(traded, db_url)

    with pytest.raises(InvalidFill) as refused:
        traded.record_many(batch)

    message = str(refused.value)
    assert message.startswith("fill 2: price:")
    assert_names(message, "price", "-1")
    assert_unchanged(traded, db_url, before)


def test_an_empty_batch_appends_nothing(traded: Ledger, db_url: str) -> None:
    before = snapshot(traded, db_url)

    assert traded.record_many([]) == []

    assert_unchanged(traded, db_url, before)


# --- the natural key (account, exchange, fill_id) ----------------------------------------------


def without_empty_fields(content: dict[str, Any]) -> dict[str, Any]:
    """An event's stored content as a conflict's message shows it: less the fields its type leaves None."""
    return {field: value for field, value in content.items() if value is not None}


CHANGED_CONTENT = [
    pytest.param({"quantity": "2"}, id="quantity"),
    pytest.param({"price": "101"}, id="price"),
    pytest.param({"side": "sell"}, id="side"),
    pytest.param({"fee": "0.5"}, id="fee"),
    pytest.param({"symbol": "ETH/USD"}, id="symbol"),
    pytest.param({"occurred_at": "2026-01-05T10:00:00+00:00"}, id="occurred_at"),
    pytest.param({"strategy": "momentum"}, id="strategy"),
    pytest.param({"order_id": "O-2"}, id="order_id"),
    pytest.param({"metadata": {"note": "different"}}, id="metadata"),
]


@pytest.mark.parametrize("change", CHANGED_CONTENT)
def test_the_same_fill_key_with_different_content_is_refused_naming_both_and_nothing_is_written(
    traded: Ledger, db_url: str, change: dict[str, Any]
) -> None:
    original = fill_fields(fill_id="T-1", quantity="1", price="100", order_id="O-1")
    traded.record(original)
    changed = {**original, **change}
    before = snapshot(traded, db_url)

    with pytest.raises(FillConflict) as refused:
        traded.record(changed)

    message = str(refused.value)
    recorded_content = Fill.model_validate(original).canonical()
    new_content = Fill.model_validate(changed).canonical()
    assert "'T-1'" in message
    assert str(without_empty_fields(recorded_content)) in message
    assert str(without_empty_fields(new_content)) in message
    for field in change:
        assert field in message
    assert refused.value.key == ("default", "kraken", "T-1")
    assert refused.value.existing == recorded_content
    assert refused.value.new == new_content
    assert_unchanged(traded, db_url, before)


def test_a_conflict_with_the_log_inside_a_batch_appends_nothing_of_the_batch(traded: Ledger, db_url: str) -> None:
    original = fill_fields(fill_id="T-1", quantity="1")
    traded.record(original)
    before = snapshot(traded, db_url)

    with pytest.raises(FillConflict, match="'T-1'"):
        traded.record_many([fill_fields(), {**original, "quantity": "3"}, fill_fields()])

    assert_unchanged(traded, db_url, before)


def test_a_conflict_between_two_fills_of_one_batch_appends_nothing(traded: Ledger, db_url: str) -> None:
    first = fill_fields(fill_id="T-9", quantity="1")
    second = {**first, "quantity": "2"}
    before = snapshot(traded, db_url)

    with pytest.raises(FillConflict) as refused:
        traded.record_many([fill_fields(), first, fill_fields(), second])

    message = str(refused.value)
    assert "'T-9'" in message
    assert str(without_empty_fields(Fill.model_validate(first).canonical())) in message
    assert str(without_empty_fields(Fill.model_validate(second).canonical())) in message
    assert_unchanged(traded, db_url, before)


def test_the_same_fill_again_returns_the_original_receipt_marked_duplicate_and_appends_nothing(
    traded: Ledger, db_url: str
) -> None:
    fill = fill_fields(fill_id="T-1", metadata={"note": "first"}, strategy="momentum")
    original = traded.record(fill)
    before = snapshot(traded, db_url)

    again = traded.record(dict(fill))

    assert not original.duplicate
    assert again.duplicate
    assert (again.seq, again.epoch, again.hash, again.fill_id) == (
        original.seq,
        original.epoch,
        original.hash,
        original.fill_id,
    )
    assert_unchanged(traded, db_url, before)


def test_the_same_fill_written_differently_is_a_duplicate(traded: Ledger, db_url: str) -> None:
    fill = fill_fields(fill_id="T-1", quantity="1.5", price="100", fee="0.1")
    original = traded.record(fill)
    occurred_at = datetime.fromisoformat(fill["occurred_at"])
    before = snapshot(traded, db_url)

    # Equal amounts and the same instant in another time zone are the same content.
    again = traded.record(
        {
            **fill,
            "quantity": Decimal("1.500"),
            "price": "100.0",
            "fee": "0.10",
            "occurred_at": occurred_at.astimezone(timezone(timedelta(hours=2))),
        }
    )

    assert again.duplicate
    assert (again.seq, again.hash) == (original.seq, original.hash)
    assert_unchanged(traded, db_url, before)


def test_a_batch_returns_duplicates_with_original_receipts_and_appends_only_new_fills(
    traded: Ledger,
) -> None:
    old = fill_fields(fill_id="T-1")
    original = traded.record(old)
    new = fill_fields(fill_id="T-2")

    receipts = traded.record_many([old, new, new])

    assert receipts[0].duplicate
    assert (receipts[0].seq, receipts[0].hash) == (original.seq, original.hash)
    assert not receipts[1].duplicate
    assert receipts[1].seq == original.seq + 1
    assert receipts[2].duplicate
    assert (receipts[2].seq, receipts[2].hash) == (receipts[1].seq, receipts[1].hash)
    assert traded.head.seq == original.seq + 1
    assert traded.verify().ok


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"exchange": "binance"}, id="another-exchange"),
        pytest.param({"account": "hedge"}, id="another-account"),
    ],
)
def test_the_same_fill_id_elsewhere_is_a_different_fill(ledger: Ledger, other: dict[str, str]) -> None:
    fill = fill_fields(fill_id="T-1", quantity="1", price="100")
    first = ledger.record(fill)

    elsewhere = {**fill, **other, "quantity": "2"}
    second = ledger.record(elsewhere)

    assert not second.duplicate
    assert (first.seq, second.seq) == (1, 2)
    assert second.hash != first.hash
    keys = [(f.fill.account, f.fill.exchange, f.fill.event_id) for f in ledger.history()]
    assert keys == [("default", "kraken", "T-1"), (elsewhere["account"], elsewhere["exchange"], "T-1")]
    assert [f.quantity for f in recorded_fills(ledger.history())] == [Decimal(1), Decimal(2)]


def test_the_same_fill_id_on_another_account_opens_that_accounts_own_position(ledger: Ledger) -> None:
    fill = fill_fields(fill_id="T-1", quantity="1", price="100")
    ledger.record(fill)

    ledger.record({**fill, "account": "hedge", "quantity": "2"})

    positions = {(p.account, p.symbol): p.quantity for p in ledger.state().open}
    assert positions == {("default", "BTC/USD"): Decimal(1), ("hedge", "BTC/USD"): Decimal(2)}
    assert ledger.verify().ok


FUNDING = {
    "type": "funding",
    "funding_id": "fund-1",
    "exchange": "bybit",
    "symbol": "BTC/USDT:USDT",
    "amount": "1",
    "currency": "USDT",
    "occurred_at": "2026-01-06T00:00:00Z",
}
TRANSFER = {
    "type": "transfer",
    "transfer_id": "move-1",
    "exchange": "bybit",
    "currency": "USDT",
    "amount": "100",
    "kind": "deposit",
    "occurred_at": "2026-01-06T00:00:00Z",
}


def with_fees(fees: list[dict[str, str]], **fields: str) -> dict[str, Any]:
    """A fill whose fees are `fees` (and no legacy `fee`)."""
    return {**{k: v for k, v in fill_fields(**fields).items() if k != "fee"}, "fees": fees}


BAD_EVENTS = [
    pytest.param({**fill_fields(), "type": "trade"}, ("type:", "'trade'"), id="unknown-type"),
    pytest.param(
        with_fees([{"amount": "0.1", "currency": "bnb"}]), ("fees.0.currency", "'bnb'"), id="fee-currency-case"
    ),
    pytest.param(
        with_fees([{"amount": "0.1", "currency": "B N B"}]), ("fees.0.currency", "'B N B'"), id="fee-currency-text"
    ),
    pytest.param(
        with_fees([{"amount": "5", "currency": "ETH"}], symbol="ETH/USD"),
        ("fees[0].amount", "5 ETH", "short"),
        id="spot-base-fee-over-the-position",
    ),
    pytest.param(
        with_fees([{"amount": "0.1", "currency": "USD", "quote_value": "0.1"}]),
        ("fees.0.quote_value",),
        id="quote-value-on-a-quote-fee",
    ),
    pytest.param(
        with_fees([{"amount": "0.01", "currency": "BNB", "quote_value": "-6"}]),
        ("fees.0", "quote_value -6", "amount 0.01", "opposite signs"),
        id="quote-value-of-a-fee-negative",
    ),
    pytest.param(
        with_fees([{"amount": "0", "currency": "BNB", "quote_value": "6"}]),
        ("fees.0", "quote_value 6", "amount of 0"),
        id="quote-value-of-no-fee",
    ),
    pytest.param({**FUNDING, "symbol": "BTC/USDT"}, ("symbol:", "spot"), id="funding-on-spot"),
    pytest.param({**FUNDING, "currency": "BTC"}, ("currency:", "USDT", "'BTC'"), id="funding-other-currency"),
    pytest.param({**TRANSFER, "amount": "0"}, ("amount:", "got 0"), id="transfer-zero"),
    pytest.param({**TRANSFER, "amount": "-5"}, ("amount:", "deposit", "-5"), id="transfer-negative-deposit"),
    pytest.param({**TRANSFER, "kind": "gift"}, ("kind", "'gift'"), id="transfer-unknown-kind"),
    pytest.param({**fill_fields(), "symbol": "BTC/USD:BTC"}, ("symbol:", "inverse"), id="inverse-contract"),
    pytest.param({**fill_fields(), "symbol": "BTC/USD:USD-250101-50000-C"}, ("symbol:", "option"), id="option"),
]


@pytest.mark.parametrize(("event", "expected"), BAD_EVENTS)
def test_a_bad_typed_event_is_refused_naming_field_and_value_and_nothing_is_written(
    traded: Ledger, db_url: str, event: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert_refused_and_nothing_written(traded, db_url, event, *expected)


def test_a_refused_base_fee_is_named_by_its_place_in_the_fill_as_sent(traded: Ledger, db_url: str) -> None:
    # The log keeps fees sorted by currency (USD after ETH); the refusal names the ETH fee as sent: fees[1].
    event = with_fees([{"amount": "0.1", "currency": "USD"}, {"amount": "5", "currency": "ETH"}], symbol="ETH/USD")

    message = assert_refused_and_nothing_written(traded, db_url, event, "fees[1].amount", "5 ETH")

    assert "fees[0]" not in message
