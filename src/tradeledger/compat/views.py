"""Read-only mappings in the legacy shapes: `ctx.positions` and `paper_wallet.positions`.

They are computed from the ledger on every read, so they are always current and can never drift.
Any write raises ReadOnlyView with the call that records a fill instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from tradeledger.errors import ReadOnlyView


class ReadOnlyDict(dict[str, Any]):
    """One legacy position entry: a plain dict for readers (json.dumps, .get), refusing every write."""

    __slots__ = ("_advice",)

    def __init__(self, values: Mapping[str, Any], advice: str) -> None:
        super().__init__(values)
        self._advice = advice

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise ReadOnlyView(f"this position entry is a read-only view of the ledger; {self._advice}")

    __setitem__ = __delitem__ = _refuse

    # A copy is the caller's own plain dict (copying reads; it must not look like a write).
    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, object]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)

    pop = popitem = clear = update = setdefault = __ior__ = _refuse


class ReadOnlyPositions(Mapping[str, ReadOnlyDict]):
    """A mapping symbol -> legacy position dict, recomputed from the ledger on each read."""

    def __init__(self, name: str, compute: Callable[[], dict[str, ReadOnlyDict]], advice: str) -> None:
        self._name = name
        self._compute = compute
        self._advice = advice

    def __getitem__(self, symbol: str) -> ReadOnlyDict:
        return self._compute()[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._compute())

    def __len__(self) -> int:
        return len(self._compute())

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._compute()

    def __copy__(self) -> dict[str, dict[str, Any]]:
        return {symbol: dict(entry) for symbol, entry in self._compute().items()}

    def __deepcopy__(self, memo: dict[int, object]) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.__copy__(), memo)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, dict[str, Any]]]]:
        return dict, (self.__copy__(),)

    def snapshot(self) -> dict[str, ReadOnlyDict]:
        """Every entry as of one read of the ledger."""
        return self._compute()

    def __repr__(self) -> str:
        return f"{self._name}({self._compute()!r})"

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise ReadOnlyView(f"{self._name} is a read-only view of the ledger; {self._advice}")

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _refuse
