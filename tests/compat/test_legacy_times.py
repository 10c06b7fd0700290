"""Times in legacy dicts (`Trade.from_dict`, `Position.from_dict`): naive read as UTC, as the legacy bot wrote them
(`datetime.utcnow().isoformat()`, to the microsecond), and anything else refused naming the field and the value.

A time of day cut off before its seconds (`2026-03-02T09`, `…T09:30`: a file or a message cut short) is no
time the legacy bot wrote; read as it parses it would move the trade to the whole hour or minute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tradeledger.compat import Position
from tradeledger.compat.trades import Trade, create_trade
from tradeledger.errors import InvalidArgument, InvalidFill

T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def trade_dict(**changes: object) -> dict[str, Any]:
    return {**create_trade("BTC/USD", "buy", "1", "100", timestamp=T0).to_dict(), **changes}


def position_dict(**changes: object) -> dict[str, Any]:
    return {"symbol": "BTC/USD", "side": "long", "total_amount": 1.0, "average_price": 100.0,
            "entry_time": "2026-03-02T09:30:15.123456", **changes}  # fmt: skip


def test_a_naive_legacy_time_to_the_microsecond_or_second_is_read_as_utc() -> None:
    assert Trade.from_dict(trade_dict(timestamp="2026-03-02T09:30:15.123456")).timestamp == T0
    assert Trade.from_dict(trade_dict(timestamp="2026-03-02T09:30:15")).timestamp == T0.replace(microsecond=0)
    assert Position.from_dict(position_dict()).entry_time == T0


@pytest.mark.parametrize("cut", ["2026-03-02T09", "2026-03-02T09:30"])
def test_a_trade_dict_time_cut_off_before_its_seconds_is_refused_naming_it(cut: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"timestamp.*'{cut}'"):
        Trade.from_dict(trade_dict(timestamp=cut))


@pytest.mark.parametrize("text", ["garbage", "2026-03-02T09", "2026-03-02T09:30"])
@pytest.mark.parametrize("field", ["entry_time", "last_update"])
def test_a_position_dict_time_that_is_no_legacy_time_is_refused_naming_field_and_value(field: str, text: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"{field}.*'{text}'"):
        Position.from_dict(position_dict(**{field: text}))


def test_create_trade_times_are_utc_and_a_naive_time_through_the_api_is_refused_naming_it() -> None:
    """The legacy create_trade stamped datetime.utcnow(), naive; through the API a naive time is ambiguous."""
    made = create_trade("BTC/USD", "buy", "1", "100")
    assert made.timestamp.utcoffset() is not None
    assert made.to_dict()["timestamp"].endswith("+00:00")

    with pytest.raises(InvalidFill, match=r"timestamp: must carry a timezone.*2026-03-02T09:30:15"):
        create_trade("BTC/USD", "buy", "1", "100", timestamp=datetime(2026, 3, 2, 9, 30, 15))  # noqa: DTZ001
