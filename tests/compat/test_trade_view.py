"""The legacy Trade view of a recorded fill (compat.trades.Trade.from_fill): the same Trade a caller would make
from the fill's values, built without validating the fill a second time."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradeledger.compat.trades import Trade
from tradeledger.domain.fills import Fill

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
FILLS: list[dict[str, Any]] = [
    {"fill_id": "q", "symbol": "BTC/USD", "side": "buy", "quantity": "0.5", "price": "100", "fee": "0.1"},
    {"fill_id": "n", "symbol": "ETH/USD", "side": "sell", "quantity": "2", "price": "3000", "fee": "0",
     "strategy": "trend", "order_id": "o-1", "client_order_id": "c-1", "metadata": {"k": [1, "x"]}},
    {"fill_id": "b", "symbol": "BTC/USDT", "side": "buy", "quantity": "1", "price": "50000",
     "fees": [{"amount": "0.001", "currency": "BTC"}]},
    {"fill_id": "t", "symbol": "BTC/USDT", "side": "buy", "quantity": "1", "price": "50000",
     "fees": [{"amount": "0.01", "currency": "BNB", "quote_value": "6"}]},
    {"fill_id": "m", "symbol": "BTC/USDT", "side": "buy", "quantity": "1", "price": "50000",
     "fees": [{"amount": "2", "currency": "USDT"}, {"amount": "0.01", "currency": "BNB", "quote_value": "6"}]},
]  # fmt: skip


@pytest.mark.parametrize("values", FILLS, ids=[f["fill_id"] for f in FILLS])
def test_the_view_of_a_fill_is_the_trade_made_from_its_values(values: dict[str, Any]) -> None:
    fill = Fill.model_validate({"exchange": "kraken", "occurred_at": AT, **values})

    view = Trade.from_fill(fill)
    made = Trade(**{f.name: getattr(view, f.name) for f in fields(Trade)})  # a caller's Trade: validated

    assert view == made
    assert (view.id, view.amount, view.price, view.timestamp, view.status) == (
        values["fill_id"], Decimal(values["quantity"]), Decimal(values["price"]), AT, "filled"
    )  # fmt: skip


def test_the_multi_fee_fill_shows_the_quote_value_of_its_fees() -> None:
    fill = Fill.model_validate({"exchange": "kraken", "occurred_at": AT, **FILLS[-1]})

    view = Trade.from_fill(fill)

    assert (view.fees, view.fee_currency, view.fee_quote_value) == (Decimal(8), None, None)


def test_a_recorded_fill_is_not_validated_again_for_its_view(monkeypatch: pytest.MonkeyPatch) -> None:
    fill = Fill.model_validate({"exchange": "kraken", "occurred_at": AT, **FILLS[1]})
    validated: list[object] = []
    monkeypatch.setattr(Fill, "model_validate", classmethod(lambda _cls, value: validated.append(value)))

    Trade.from_fill(fill)

    assert validated == []
