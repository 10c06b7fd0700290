"""The legacy state file's text: `json.dumps(state, indent=2)` byte for byte, each trade encoded once."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.conftest import T0, Clock
from tradeledger import Ledger, ReadOnlyView
from tradeledger.compat.state_text import Encoded, Tree, TreeList, dumps
from tradeledger.compat.trade_manager import TradeManager
from tradeledger.compat.trades import Trade, create_trade, legacy_float
from tradeledger.domain.fills import MAX_METADATA_DEPTH

BTC, ETH = "BTC/USD", "ETH/USD"

# JSON values with the texts json escapes: newlines, quotes, backslashes, non-ASCII, control characters.
_TEXT = st.text(alphabet=st.sampled_from(["a", "Z", " ", "\n", '"', "\\", "é", "€", "\x00", "\t", "}", "]", ","]))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=30,
)


def _wrapped(value: Any, choices: st.DataObject) -> Any:
    """`value` with some containers laid out by `dumps` itself and some values given as their texts."""
    if choices.draw(st.booleans()):
        return Encoded(json.dumps(value, indent=2))
    if isinstance(value, dict) and choices.draw(st.booleans()):
        return Tree({key: _wrapped(item, choices) for key, item in value.items()})
    if isinstance(value, list) and choices.draw(st.booleans()):
        return TreeList(_wrapped(item, choices) for item in value)
    return value


@settings(max_examples=300, deadline=None)
@given(value=_JSON, choices=st.data())
def test_dumps_writes_what_json_dumps_with_indent_2_writes_wherever_texts_are_given(
    value: Any, choices: st.DataObject
) -> None:
    assert dumps(_wrapped(value, choices)) == json.dumps(value, indent=2)


def test_an_encoded_text_two_levels_deep_is_indented_as_json_would_indent_it() -> None:
    state = Tree(trades=TreeList([Encoded(json.dumps({"id": "t-1", "tags": ["a\nb"]}, indent=2))]), n=1)

    assert dumps(state).splitlines() == [
        "{",
        '  "trades": [',
        "    {",
        '      "id": "t-1",',
        '      "tags": [',
        '        "a\\nb"',
        "      ]",
        "    }",
        "  ],",
        '  "n": 1',
        "}",
    ]


@pytest.fixture
def tm(open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path) -> TradeManager:
    return TradeManager(open_bot_ledger(), state_file=tmp_path / "trade_manager_state.json", clock=clock)


def _trade(symbol: str, side: str, amount: str, price: str, **extra: Any) -> Trade:
    return create_trade(symbol, side, amount, price, fees="0.1", timestamp=T0, **extra)


def _saved(tm: TradeManager) -> str:
    return tm.save_state().read_text(encoding="utf-8")


def test_the_state_file_is_json_dumps_of_its_state_with_indent_2(tm: TradeManager) -> None:
    tm.record_trade(_trade(BTC, "buy", "1", "100", metadata={"note": "line one\nline two", "é": ["x"]}))
    tm.record_trade(_trade(BTC, "sell", "1", "110"))
    tm.record_trade(_trade(ETH, "buy", "2", "50"))

    text = _saved(tm)
    state = json.loads(text)

    assert text == json.dumps(state, indent=2) + "\n"
    assert state["trades"] == [t.to_dict() for _, t in tm._book.trades]
    assert state["positions"][ETH]["trades"] == [state["trades"][2]]
    assert state["closed_positions"][0]["trades"] == state["trades"][:2]
    assert state["trades"][0]["metadata"] == {"note": "line one\nline two", "é": ["x"]}


def test_a_second_write_encodes_only_the_trades_recorded_since(
    tm: TradeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    for price in ("100", "101", "102"):
        tm.record_trade(_trade(BTC, "buy", "1", price))
    _saved(tm)
    encoded: list[str] = []
    to_dict = Trade.to_dict

    def counted(trade: Trade) -> dict[str, Any]:
        encoded.append(trade.id)
        return to_dict(trade)

    monkeypatch.setattr(Trade, "to_dict", counted)
    new = tm.record_trade(_trade(BTC, "buy", "1", "103"))

    text = _saved(tm)

    assert encoded == [new]  # once, though it is both in `trades` and in its position's trades
    assert len(json.loads(text)["trades"]) == 4
    assert len(json.loads(text)["positions"][BTC]["trades"]) == 4


def test_after_a_rollback_the_state_file_holds_the_trades_recorded_in_the_new_epoch(tm: TradeManager) -> None:
    tm.record_trade(_trade(BTC, "buy", "1", "100"))
    tm.record_trade(replace(_trade(BTC, "buy", "1", "101"), id="t-2"))
    _saved(tm)
    tm.ledger.rollback(to_seq=1, reason="bad fill", actor="test")
    tm.record_trade(replace(_trade(BTC, "buy", "5", "90"), id="t-2"))  # the same id, other content

    state = json.loads(_saved(tm))

    assert [(t["id"], t["amount"], t["price"]) for t in state["trades"]][1:] == [("t-2", 5.0, 90.0)]
    assert state["positions"][BTC]["total_amount"] == 6.0


def test_a_recorded_trades_metadata_is_read_only_so_the_state_file_always_holds_the_ledgers(tm: TradeManager) -> None:
    tm.record_trade(_trade(BTC, "buy", "1", "100", metadata={"note": "a", "tags": ["x"]}))
    _saved(tm)  # the trade's text is kept from here on
    (recorded,) = tm.get_trade_history()

    with pytest.raises(ReadOnlyView, match="read-only view of the ledger"):
        recorded.metadata["note"] = "changed"
    with pytest.raises(ReadOnlyView, match="read-only view of the ledger"):
        tm.get_all_positions()[0].trades[0].metadata["tags"].append("y")
    with pytest.raises(ReadOnlyView, match="read-only view of the ledger"):
        recorded.to_dict()["metadata"]["tags"].append("y")
    tm.record_trade(_trade(ETH, "buy", "2", "50"))
    text = _saved(tm)

    state = {**json.loads(text), "trades": [trade.to_dict() for trade in tm.get_trade_history()]}
    assert text == json.dumps(state, indent=2) + "\n"
    assert state["trades"][0]["metadata"] == {"note": "a", "tags": ["x"]}
    assert recorded.to_dict()["metadata"] == {"note": "a", "tags": ["x"]}
    assert copy.deepcopy(recorded.metadata) == {"note": "a", "tags": ["x"]}
    assert type(copy.deepcopy(recorded.metadata)["tags"]) is list  # a copy is the caller's own


def _as_json_dumps_wrote_it(tm: TradeManager, text: str) -> str:
    """The state file as the TradeManager wrote it before state_text: json.dumps(state, indent=2) of the
    trades' and positions' `to_dict` (the time of the write taken from `text`)."""
    statistics = tm.get_statistics()
    state = {
        "trades": [trade.to_dict() for trade in tm.get_trade_history()],
        "positions": {p.symbol: p.to_dict() for p in tm.get_all_positions()},
        "closed_positions": [p.to_dict() for p in tm.get_closed_positions()],
        "price_cache": {symbol: legacy_float(price) for symbol, price in sorted(tm.price_cache.items())},
        "statistics": {
            "total_trades": statistics["total_trades"],
            "total_volume": legacy_float(statistics["total_volume"]),
            "total_fees": legacy_float(statistics["total_fees"]),
            "total_realized_pnl": legacy_float(statistics["total_realized_pnl"]),
        },
        "last_save_time": json.loads(text)["last_save_time"],
    }
    return json.dumps(state, indent=2) + "\n"


# Hostile metadata: every text json escapes, nesting, and the deepest the ledger keeps (MAX_METADATA_DEPTH).
def _nested(depth: int) -> dict[str, Any]:
    """Metadata `depth` levels deep (an object, then arrays), its innermost text one json escapes."""
    inner: Any = "\\x00\n\u2028"
    for _ in range(depth - 1):
        inner = [inner]
    return {"deep": inner}


_METADATA = st.dictionaries(_TEXT, _JSON, max_size=4) | st.integers(1, MAX_METADATA_DEPTH).map(_nested)
_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell", "save", "rollback", "reload", "price"]),
        st.sampled_from([BTC, ETH]),
        _METADATA,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_every_state_file_is_what_json_dumps_wrote_through_trades_closes_rollbacks_and_reloads(
    open_bot_ledger: Callable[[], Ledger], clock: Clock, tmp_path: Path, steps: list[tuple[str, str, Any]]
) -> None:
    """Trades with hostile metadata that open, add to, close and flip positions (a trade in `trades` and again in
    its cycle's), saves between them (texts kept), rollbacks by the ledger (the book reloaded: new Trade objects),
    a TradeManager made again on the same ledger; each state file as json.dumps(state, indent=2) of to_dict."""
    ledger = open_bot_ledger()
    state_file = tmp_path / f"state-{uuid.uuid4().hex}.json"
    tm = TradeManager(ledger, state_file=state_file, clock=clock)
    for n, (step, symbol, metadata) in enumerate(steps):
        if step in ("buy", "sell"):
            tm.record_trade(_trade(symbol, step, "1", str(100 + n), metadata=metadata))
        elif step == "rollback" and ledger.head.seq:
            ledger.rollback(to_seq=ledger.head.seq - 1, reason="test", actor="test")
        elif step == "reload":
            tm = TradeManager(ledger, state_file=state_file, clock=clock)
        elif step == "price":
            tm.update_price(symbol, str(99 + n))
        text = _saved(tm)
        assert text == _as_json_dumps_wrote_it(tm, text)
