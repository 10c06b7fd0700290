"""The public API names every type a caller of `Ledger` meets, and keeps the names it had."""

from __future__ import annotations

import importlib
import inspect
import sys
import types
import typing
from typing import Any

import pytest

import tradeledger
from tradeledger import Ledger
from tradeledger.lazy import lazy_names

# __all__ only gains names: these were public before the house issue and stay so.
EARLIER = {
    "Anchor", "AnchorCheck", "CallbackError", "Checkpoint", "ClosedPosition", "Fill", "FillConflict",
    "InvalidArgument", "InvalidFill", "InvariantViolation", "Ledger", "LedgerError", "LedgerState", "Position",
    "PositionSide", "Problem", "ReadOnlyView", "Receipt", "RecordedFill", "SchemaError", "Side", "StorageError",
    "Totals", "TradeRefused", "VerifyReport", "load_private_key", "new_private_key", "open_ledger",
}  # fmt: skip


def _classes(hint: Any) -> set[type]:
    """The tradeledger classes a type hint mentions, however nested (list[X], X | None, dict[K, X] ...)."""
    found: set[type] = set()
    if isinstance(hint, type) and hint.__module__.startswith("tradeledger."):
        found.add(hint)
    for argument in typing.get_args(hint):
        found |= _classes(argument)
    return found


def test_every_type_a_ledger_method_takes_or_returns_is_exported() -> None:
    met: set[type] = set()
    for name, member in inspect.getmembers(Ledger):
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        for hint in typing.get_type_hints(function).values():
            met |= _classes(hint)

    missing = sorted(cls.__name__ for cls in met if getattr(tradeledger, cls.__name__, None) is not cls)

    assert missing == []
    assert {"RollbackReport", "AdminRecord", "Marks", "PriceMark", "RiskLevels", "WalletBook"} <= met_names(met)


def met_names(classes: set[type]) -> set[str]:
    return {cls.__name__ for cls in classes}


def test_the_public_names_of_before_stay_exported() -> None:
    assert set(tradeledger.__all__) >= EARLIER
    assert all(hasattr(tradeledger, name) for name in tradeledger.__all__)


def test_the_two_position_classes_stay_importable_under_their_names() -> None:
    from tradeledger.compat import Position as LegacyPosition  # noqa: PLC0415 - the import is what is tested

    assert (tradeledger.Position.__module__, LegacyPosition.__module__) == (
        "tradeledger.domain.positions",
        "tradeledger.compat.legacy_position",
    )


PACKAGES = ["tradeledger", "tradeledger.compat", "tradeledger.compat.migration"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_a_package_exports_is_read_on_first_use_and_listed_by_dir(name: str) -> None:
    package = importlib.import_module(name)

    assert [public for public in package.__all__ if not hasattr(package, public)] == []
    assert set(dir(package)) >= set(package.__all__)


@pytest.mark.parametrize("name", PACKAGES)
def test_a_name_a_package_does_not_export_is_an_attribute_error(name: str) -> None:
    package = importlib.import_module(name)

    with pytest.raises(AttributeError, match=f"module '{name}' has no attribute 'Nonexistent'"):
        _ = package.Nonexistent


def test_an_import_error_of_a_lazy_name_is_raised_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("lazy_probe")
    monkeypatch.setitem(sys.modules, "lazy_probe", package)
    getattr_, _ = lazy_names("lazy_probe", {"Thing": "tradeledger_missing_module"}, ["Thing"])

    with pytest.raises(ModuleNotFoundError) as raised:
        getattr_("Thing")

    assert raised.value.name == "tradeledger_missing_module"
