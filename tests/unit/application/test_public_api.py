"""The public API names every type a caller of `Ledger` meets, and keeps the names it had."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import tradeledger
from tradeledger import Ledger

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
