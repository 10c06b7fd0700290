"""The fast path of fill validation (domain.intake) is the model's validation or nothing: whatever the
input, it gives the Fill pydantic gives, field for field, or None (and the model then says what is wrong)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tradeledger.domain.fills import FeeEntry, Fill, Side, exact_amount
from tradeledger.domain.intake import _DECIMAL_TEXT, SHORT_DECIMAL_TEXT, fast_fill

BASE: dict[str, Any] = {
    "fill_id": "f-1",
    "account": "acc",
    "exchange": "binance",
    "symbol": "BTC/USDT",
    "side": "buy",
    "quantity": "0.5",
    "price": "42000.10",
    "occurred_at": "2024-03-01T12:00:00+00:00",
}

TEXTS = st.sampled_from(
    ["x", "", " x", "x ", "caf\u00e9", "cafe\u0301", "a\u00a0b", "a\tb", "Zs\u3000", "y" * 200, "y" * 201]
)
AMOUNTS = st.one_of(
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "0.0",
            "1.50",
            "1e3",
            "1E-30",
            " 1",
            "1_000",
            "\uff11",
            "NaN",
            "inf",
            "-0",
            "00.10",
            "1." + "1" * 30,
            "9" * 29,
            "1" + "0" * 24,  # 25 characters, 1E+24: the longest text taken without exact_amount
            "1" + "0" * 25,  # 26 characters, 1E+25: out of range
            "-0." + "0" * 22 + "1",  # 26 characters, 1E-23
            "0." + "0" * 23 + "1",  # 26 characters, 1E-24
            "0." + "0" * 24 + "1",  # 27 characters, 1E-25: out of range
            "",
            "1.",
        ]
    ),
    st.sampled_from([Decimal("1.5"), Decimal(-2), Decimal("NaN"), Decimal("1E+30"), Decimal(0), 1, 0, -3, True, 1.5]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1000, max_value=1000),
)
TIMES = st.sampled_from(
    [
        "2024-03-01T12:00:00+00:00",
        "2024-03-01T12:00:00Z",
        "2024-03-01 12:00:00+02:00",
        "2024-03-01T12:00:00",
        "yesterday",
        "1969-12-31T23:59:59+00:00",
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2024, 1, 1),  # noqa: DTZ001 - naive on purpose
        1_700_000_000,
    ]
)
FEE_ENTRIES = st.fixed_dictionaries(
    {"amount": AMOUNTS},
    optional={
        "currency": st.sampled_from(["USDT", "BTC", "BNB", "bnb", "", None, 5]),
        "quote_value": st.one_of(st.none(), AMOUNTS),
        "extra": st.just(1),
    },
)
CHANGES: dict[str, st.SearchStrategy[Any]] = {
    "fill_id": TEXTS,
    "account": TEXTS,
    "exchange": TEXTS,
    "symbol": st.sampled_from(["ETH/USD", "BTC/USDT:USDT", "BTC/USD:BTC", "btc/usd", "BTC-USD", 3]),
    "side": st.sampled_from(["sell", "SELL", "Buy", Side.SELL, 1, None]),
    "quantity": AMOUNTS,
    "price": AMOUNTS,
    "fee": AMOUNTS,
    "fees": st.one_of(
        st.lists(st.one_of(FEE_ENTRIES, st.builds(FeeEntry, amount=st.just(Decimal("0.1")))), max_size=3),
        st.just([{"amount": "1"}] * 17),
        st.just("1"),
    ),
    "occurred_at": TIMES,
    "strategy": st.one_of(st.none(), TEXTS),
    "order_id": st.one_of(st.none(), TEXTS),
    "client_order_id": st.one_of(st.none(), TEXTS),
    "metadata": st.sampled_from(
        [None, {}, {"a": 1, "b": [1, 2]}, {1: "x"}, {"n": float("nan")}, {"s": {1, 2}}, [1], {"d": Decimal(1)}]
    ),
    "type": st.sampled_from(["fill", "funding", None]),
    "unknown": st.just("x"),
}


@st.composite
def fill_inputs(draw: st.DrawFn) -> dict[str, Any]:
    data = dict(BASE)
    for name in draw(st.lists(st.sampled_from(sorted(CHANGES)), max_size=4, unique=True)):
        data[name] = draw(CHANGES[name])
    for name in draw(st.lists(st.sampled_from(sorted(BASE)), max_size=1)):
        del data[name]
    return data


def assert_same_fill(fast: Fill, slow: Fill) -> None:
    assert fast == slow
    assert repr(fast) == repr(slow)  # Decimal exponents, tz-info types, fee entries: all as the model builds them
    assert fast.model_fields_set == slow.model_fields_set
    assert [entry.model_fields_set for entry in fast.fees] == [entry.model_fields_set for entry in slow.fees]
    assert fast.canonical() == slow.canonical()
    assert fast.model_dump() == slow.model_dump()


@settings(max_examples=600, deadline=None)
@given(fill_inputs())
def test_the_fast_path_gives_the_models_fill_or_nothing(data: dict[str, Any]) -> None:
    assert_fast_path_agrees(data)


def assert_fast_path_agrees(data: Any) -> None:
    """The fast path gives the model's Fill, or nothing when the model refuses (or it declines)."""
    fast = fast_fill(data)
    try:
        slow = Fill.model_validate(data)
    except ValidationError:
        assert fast is None
        return
    if fast is not None:
        assert_same_fill(fast, slow)


@settings(max_examples=200, deadline=None)
@given(fill_inputs())
def test_the_fast_path_takes_a_validated_fill_as_the_model_does(data: dict[str, Any]) -> None:
    try:
        fill = Fill.model_validate(data)
    except ValidationError:
        return
    fast = fast_fill(fill)
    assert fast is not None
    assert_same_fill(fast, Fill.model_validate(fill))


def test_a_bots_usual_fills_take_the_fast_path() -> None:
    usual = [
        BASE,
        BASE | {"fee": "0.01"},
        BASE | {"fee": "0"},
        BASE
        | {"fees": [{"amount": "0.001", "currency": "BTC"}, {"amount": "0.02", "currency": "BNB", "quote_value": "6"}]},
        BASE | {"strategy": "grid", "order_id": "o-1", "metadata": {"note": "x"}, "type": "fill"},
        BASE | {"quantity": Decimal(2), "occurred_at": datetime(2024, 1, 1, tzinfo=UTC), "side": Side.SELL},
    ]
    for data in usual:
        fast = fast_fill(data)
        assert fast is not None, data
        assert_same_fill(fast, Fill.model_validate(data))


def test_a_fill_built_without_validation_is_not_taken_as_is() -> None:
    unchecked = Fill.model_construct(**(BASE | {"quantity": Decimal(-1), "side": Side.BUY, "fees": ()}))
    assert fast_fill(unchecked) is None


def test_a_fill_this_path_built_is_taken_again_as_the_same_object() -> None:
    fast = fast_fill(BASE | {"fee": "0.01"})
    assert fast is not None
    assert fast_fill(fast) is fast


def test_a_copy_of_a_checked_fill_with_a_bad_value_is_checked_again() -> None:
    fast = fast_fill(BASE)
    assert fast is not None
    assert fast_fill(fast.model_copy(update={"quantity": Decimal(-1)})) is None
    copied = fast_fill(fast.model_copy())
    assert copied is not None
    assert copied is not fast
    assert_same_fill(copied, fast)


def test_a_fill_the_model_validated_is_checked_by_the_fast_path_once() -> None:
    slow = Fill.model_validate(BASE)
    fast = fast_fill(slow)
    assert fast is not None
    assert fast is not slow
    assert fast_fill(fast) is fast


def test_a_fill_naming_another_type_is_not_taken_as_a_fill() -> None:
    fields = dict(Fill.model_validate(BASE).__dict__)
    for kind in ("funding", None):
        unchecked = Fill.model_construct(**(fields | {"type": kind}))
        with pytest.raises(ValidationError):
            Fill.model_validate(unchecked)
        assert fast_fill(unchecked) is None


@pytest.mark.parametrize(
    "entry",
    [
        FeeEntry.model_construct(amount="1.5", currency="BNB"),  # type: ignore[arg-type]
        FeeEntry.model_construct(amount="1.5"),  # type: ignore[arg-type]
        FeeEntry.model_construct(amount=Decimal("0.1"), currency="BNB", quote_value="2"),  # type: ignore[arg-type]
        FeeEntry.model_construct(amount=Decimal("NaN"), currency="BNB"),
        FeeEntry(amount=Decimal(1), currency="BNB").model_copy(update={"currency": "bnb"}),
        FeeEntry(amount=Decimal(1), currency="BNB").model_copy(update={"amount": Decimal("1." + "1" * 30)}),
    ],
)
def test_a_fee_entry_built_without_validation_gives_the_models_fill_or_nothing(entry: FeeEntry) -> None:
    for data in (BASE | {"fees": [entry]}, Fill.model_validate(BASE).model_copy(update={"fees": (entry,)})):
        assert_fast_path_agrees(data)


def test_a_fill_with_metadata_is_checked_again_since_its_dict_could_have_changed() -> None:
    fast = fast_fill(BASE | {"metadata": {"note": "x"}})
    assert fast is not None
    assert fast.metadata is not None
    deep: list[object] = ["too deep"]
    for _ in range(40):  # past MAX_METADATA_DEPTH (32)
        deep = [deep]
    fast.metadata["deep"] = deep
    assert fast_fill(fast) is None  # the model then says what is wrong


def test_a_fill_with_metadata_handed_over_again_unchanged_is_taken_as_it_is() -> None:
    fast = fast_fill(BASE | {"metadata": {"info": {"id": "12", "fees": [1, 2]}}})
    assert fast is not None

    assert fast_fill(fast) is fast  # a ccxt mapping's fill, appended: not checked a second time


def test_a_fill_whose_nested_metadata_changed_is_checked_again_and_gives_the_new_content() -> None:
    metadata: dict[str, Any] = {"info": {"id": "12"}}
    fast = fast_fill(BASE | {"metadata": metadata})
    assert fast is not None
    assert fast.metadata is not None

    fast.metadata["info"]["id"] = "13"  # the copy is shallow: the caller's nested dict is the fill's too
    again = fast_fill(fast)

    assert again is not None
    assert again is not fast
    assert again.metadata == {"info": {"id": "13"}}
    assert again.canonical()["metadata"] == '{"info":{"id":"13"}}'


@pytest.mark.parametrize("metadata", [{}, {"info": {"id": "12"}}])
@pytest.mark.parametrize("given_as", ["dict", "a Fill's copy"])
def test_a_checked_fill_is_remembered_with_the_metadata_it_had_and_checked_again_once_that_changed(
    metadata: dict[str, Any], given_as: str
) -> None:
    data = BASE | {"metadata": copy.deepcopy(metadata)}
    fast = fast_fill(data if given_as == "dict" else Fill.model_validate(data).model_copy())
    assert fast is not None
    assert fast.metadata is not None
    assert fast_fill(fast) is fast

    fast.metadata["late"] = float("nan")  # not JSON: the model refuses it

    assert fast_fill(fast) is None


def test_a_checked_fill_whose_metadata_now_nests_10_000_deep_is_refused_as_the_model_refuses_it() -> None:
    fast = fast_fill(BASE | {"metadata": {"info": {}}})
    assert fast is not None
    assert fast.metadata is not None
    deep: list[object] = []
    for _ in range(10_000):  # past Python's recursion limit (1,000), which json.dumps recurses into
        deep = [deep]

    fast.metadata["info"]["deep"] = deep  # the caller's nested dict is the fill's too

    assert fast_fill(fast) is None  # the model then says what is wrong
    with pytest.raises(ValidationError) as refused:
        Fill.model_validate(fast)
    assert [error["msg"] for error in refused.value.errors(include_input=False)] == [
        "Value error, is nested more than 32 levels deep; at most 32 are kept"
    ]


def test_a_checked_fill_whose_metadata_key_is_now_an_int_of_the_same_json_is_refused_as_the_model_refuses_it() -> None:
    fast = fast_fill(BASE | {"metadata": {"1": "a"}})
    assert fast is not None
    assert fast.metadata is not None

    del fast.metadata["1"]  # its canonical JSON stays {"1":"a"}; the model takes str keys only
    fast.metadata[1] = "a"  # type: ignore[index]

    assert fast_fill(fast) is None
    assert fast_fill(fast.model_copy()) is None  # a copy of the same fill: the same answer
    with pytest.raises(ValidationError) as refused:
        Fill.model_validate(fast)
    assert [(error["loc"], error["msg"]) for error in refused.value.errors(include_input=False)] == [
        (("metadata", 1, "[key]"), "Input should be a valid string")
    ]


def _nested(depth: int) -> list[object]:
    deep: list[object] = []
    for _ in range(depth):
        deep = [deep]
    return deep


def _in_info(change: Callable[[dict[Any, Any]], object]) -> Callable[[dict[Any, Any]], None]:
    def changed(metadata: dict[Any, Any]) -> None:
        info = metadata.get("info")
        if type(info) is dict and type(info.get("fees")) is list:
            change(info)

    return changed


# What a caller may do, in place, to the metadata of a fill the fast path checked (the dict is the fill's,
# its nested values the caller's too): some changes keep the canonical JSON, some make it refused.
CHANGES_IN_PLACE: list[Callable[[dict[Any, Any]], object]] = [
    lambda metadata: metadata.update(note="y"),
    lambda metadata: metadata.update({1: metadata.pop("1", "one")}),  # alone, the same JSON: {"1": ...}
    lambda metadata: metadata.update({True: "t"}),
    lambda metadata: metadata.update(n=float("nan")),
    lambda metadata: metadata.update(d=Decimal(1)),
    lambda metadata: metadata.update(deep=_nested(40)),
    lambda metadata: metadata.update(deeper=_nested(5_000)),
    lambda metadata: metadata.update(big="x" * 70_000),
    lambda metadata: metadata.pop("info", None),
    _in_info(lambda info: info.update(id=13)),
    _in_info(lambda info: info["fees"].append({"1": 2})),
    _in_info(lambda info: info["fees"].append({1: 2})),  # a nested key: the model takes it as JSON writes it
    _in_info(lambda info: info.update(fees=tuple(info["fees"]))),  # the same JSON: a tuple writes as a list
    _in_info(lambda info: info.update(cycle=info)),
]


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from([{"1": "one"}, {"1": "one", "info": {"id": "12", "fees": [1, 2]}}]),
    st.lists(st.sampled_from(range(len(CHANGES_IN_PLACE))), min_size=1, max_size=3),
)
def test_a_checked_fill_whose_metadata_a_caller_changed_in_place_gives_the_models_fill_or_nothing(
    metadata: dict[str, Any], changes: list[int]
) -> None:
    # A copy: the sampled dict is the same object in every example, and a change in place would outlive it.
    fast = fast_fill(BASE | {"metadata": copy.deepcopy(metadata)})
    assert fast is not None
    assert fast.metadata is not None
    for change in changes:
        CHANGES_IN_PLACE[change](fast.metadata)
    assert_fast_path_agrees(fast)


SHORT_TEXTS = st.from_regex(_DECIMAL_TEXT, fullmatch=True).filter(lambda text: len(text) <= SHORT_DECIMAL_TEXT)
EDGE_TEXTS = st.builds(
    lambda sign, whole, fraction: sign + whole + ("." + fraction if fraction else ""),
    st.sampled_from(["", "-"]),
    st.text("0123456789", min_size=1, max_size=25),
    st.text("0123456789", max_size=24),
).filter(lambda text: len(text) <= SHORT_DECIMAL_TEXT)


@settings(max_examples=500, deadline=None)
@given(st.one_of(SHORT_TEXTS, EDGE_TEXTS))
def test_a_short_decimal_text_is_one_the_models_digit_and_range_checks_take_as_it_is(text: str) -> None:
    value = Decimal(text)

    assert exact_amount(value) is value  # what lets the fast path skip them for a text this short


def test_a_text_one_character_longer_than_the_short_bound_can_be_out_of_range() -> None:
    assert len("1" + "0" * 25) == SHORT_DECIMAL_TEXT + 1
    with pytest.raises(ValueError, match="out of range"):
        exact_amount(Decimal("1" + "0" * 25))
    assert fast_fill(BASE | {"quantity": "1" + "0" * 25}) is None
