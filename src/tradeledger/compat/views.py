"""Read-only mappings in the legacy shapes: `ctx.positions` and `paper_wallet.positions`, and a recorded trade's
metadata (`read_only_metadata`).

They are computed from the ledger on every read, so they are always current and can never drift.
Any write raises ReadOnlyView with the call that records a fill instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn

from tradeledger.errors import ReadOnlyView


class ReadOnlyDict(dict[str, Any]):
    """One legacy position entry: a plain dict for readers (json.dumps, .get), refusing every write."""

    __slots__ = ("_advice",)
    _what = "this position entry"

    def __init__(self, values: Mapping[str, Any], advice: str) -> None:
        super().__init__(values)
        self._advice = advice

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise ReadOnlyView(f"{self._what} is a read-only view of the ledger; {self._advice}")

    __setitem__ = __delitem__ = _refuse

    # A copy is the caller's own plain dict (copying reads; it must not look like a write).
    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, object]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)

    pop = popitem = clear = update = setdefault = __ior__ = _refuse


_METADATA_ADVICE = "record a new trade to record other metadata"


class _ReadOnlyMetadata(ReadOnlyDict):
    """A JSON object of a recorded trade's metadata (`read_only_metadata`)."""

    __slots__ = ()
    _what = "a recorded trade's metadata"


class ReadOnlyList(list[Any]):
    """A JSON array of a recorded trade's metadata: a plain list for readers (json.dumps, ==, iteration), refusing
    every write (`read_only_metadata`)."""

    __slots__ = ("_advice",)

    def __init__(self, values: Iterable[Any], advice: str) -> None:
        super().__init__(values)
        self._advice = advice

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise ReadOnlyView(f"a recorded trade's metadata is a read-only view of the ledger; {self._advice}")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, object]) -> list[Any]:
        return copy.deepcopy(list(self), memo)

    def __reduce__(self) -> tuple[type[list[Any]], tuple[list[Any]]]:
        return list, (list(self),)


def read_only_metadata(value: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded trade's metadata (JSON: objects, arrays, scalars), read-only all the way down. The legacy state
    file keeps each trade's text once it was written (compat.state_text): a change of the trade's metadata in
    place would never reach it, nor the ledger; it is refused (ReadOnlyView) instead."""
    return _ReadOnlyMetadata({key: _read_only(item) for key, item in value.items()}, _METADATA_ADVICE)


def _read_only(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    if isinstance(value, dict):
        return read_only_metadata(value)
    if isinstance(value, list):
        return ReadOnlyList((_read_only(item) for item in value), _METADATA_ADVICE)
    return value


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
