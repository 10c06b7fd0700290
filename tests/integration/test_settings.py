"""The ledger's settings: arguments, else TRADELEDGER_* variables (their names in any case), else the defaults."""

from __future__ import annotations

import os

import pytest

from tradeledger import InvalidArgument, open_ledger
from tradeledger.settings import LedgerSettings

VARIABLES = ("TRADELEDGER_URL", "TRADELEDGER_SYNCHRONOUS", "TRADELEDGER_BUSY_TIMEOUT_S")


@pytest.fixture(autouse=True)
def no_ledger_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("TRADELEDGER_"):
            monkeypatch.delenv(name)


def test_without_arguments_or_variables_the_settings_are_the_defaults() -> None:
    assert LedgerSettings().model_dump() == {
        "url": "sqlite:///tradeledger.db",
        "synchronous": "full",
        "busy_timeout_s": 30.0,
    }


def test_the_variables_give_each_setting_their_text_validated() -> None:
    os.environ.update(dict(zip(VARIABLES, ("sqlite:///env.db", "normal", "5"), strict=True)))

    assert LedgerSettings().model_dump() == {"url": "sqlite:///env.db", "synchronous": "normal", "busy_timeout_s": 5.0}


def test_a_variable_is_read_whatever_the_case_of_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("tradeledger_url", "sqlite:///lower.db")
    monkeypatch.setenv("TradeLedger_Synchronous", "off")

    assert (LedgerSettings().url, LedgerSettings().synchronous) == ("sqlite:///lower.db", "off")


def test_an_argument_comes_before_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADELEDGER_URL", "sqlite:///env.db")
    monkeypatch.setenv("TRADELEDGER_BUSY_TIMEOUT_S", "5")

    settings = LedgerSettings(url="sqlite:///given.db")

    assert (settings.url, settings.busy_timeout_s) == ("sqlite:///given.db", 5.0)


def test_an_empty_variable_is_its_setting_and_other_tradeledger_variables_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADELEDGER_URL", "")
    monkeypatch.setenv("TRADELEDGER_COLOUR", "blue")

    assert LedgerSettings().model_dump() == {"url": "", "synchronous": "full", "busy_timeout_s": 30.0}


@pytest.mark.parametrize(
    ("name", "value", "refused"),
    [
        ("TRADELEDGER_BUSY_TIMEOUT_S", "0", "TRADELEDGER_BUSY_TIMEOUT_S: Input should be greater than 0 (got '0')"),
        (
            "tradeledger_synchronous",
            "FULL",
            "TRADELEDGER_SYNCHRONOUS: Input should be 'full', 'normal' or 'off' (got 'FULL')",
        ),
    ],
)
def test_a_bad_variable_is_refused_in_one_line_naming_the_variable_and_its_text(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, refused: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(InvalidArgument) as raised:
        open_ledger("sqlite://")

    assert str(raised.value) == f"invalid ledger settings: {refused}"


def test_a_bad_argument_is_refused_naming_the_argument() -> None:
    with pytest.raises(InvalidArgument) as raised:
        open_ledger("sqlite://", busy_timeout_s=-1)

    assert str(raised.value) == "invalid ledger settings: busy_timeout_s: Input should be greater than 0 (got -1)"
