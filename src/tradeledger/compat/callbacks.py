"""The legacy TradeManager's callbacks: each one called, a failing one kept subscribed and reported after the others."""

from __future__ import annotations

from typing import Any

from tradeledger.errors import CallbackError

Failures = list[tuple[Any, Exception]]


def notify(callbacks: list[Any], *arguments: object) -> Failures:
    """Call every callback; a failing one stays subscribed and is reported after the others ran."""
    errors: Failures = []
    for callback in list(callbacks):
        try:
            callback(*arguments)
        except Exception as error:  # noqa: BLE001 - collected and raised as CallbackError by raise_callback_errors
            errors.append((callback, error))
    return errors


def raise_callback_errors(errors: Failures, done: str) -> None:
    """CallbackError naming every callback that failed after `done` (nothing when none did)."""
    if errors:
        named = "; ".join(f"{getattr(cb, '__qualname__', repr(cb))}: {error!r}" for cb, error in errors)
        raise CallbackError(f"{done}, but {len(errors)} callback(s) failed: {named}") from errors[0][1]
