"""Two exchange names differ only in case when their Unicode case folds, in NFC, are equal
(domain/exchange_names.py)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from tradeledger.domain.exchange_names import case_fold, case_refusal, case_rival

ASCII_NAMES = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
NAMES = st.text(min_size=1, max_size=12).map(lambda text: unicodedata.normalize("NFC", text))


@given(ASCII_NAMES)
def test_an_ascii_name_and_its_capitals_differ_only_in_case(name: str) -> None:
    upper = name.upper()

    assert case_rival(upper, {name}) == (None if upper == name else name)
    assert case_fold(name) == name.casefold()


@given(NAMES, NAMES)
def test_a_name_has_a_rival_exactly_when_it_is_another_name_of_the_same_case_fold(name: str, held: str) -> None:
    same = unicodedata.normalize("NFC", name.casefold()) == unicodedata.normalize("NFC", held.casefold())

    assert case_rival(name, {held}) == (held if same and name != held else None)


def test_a_name_the_ledger_holds_has_no_rival_even_beside_another_spelling_of_it() -> None:
    assert case_rival("binance", {"Binance", "binance"}) is None
    assert case_rival("BINANCE", {"binance", "Binance"}) == "Binance"  # the first, sorted
    assert case_rival("binanceusdm", {"binance"}) is None


def test_case_folding_reaches_past_ascii() -> None:
    assert case_rival("STRASSE", {"Straße"}) == "Straße"
    assert case_rival("ΣΤΟΆ", {"στοά"}) == "στοά"
    assert case_rival("Borse", {"Börse"}) is None


def test_the_refusal_names_both_spellings() -> None:
    assert (
        case_refusal("Binance", "binance")
        == "exchange: 'Binance' differs only in case from 'binance' already in the ledger"
    )
