"""Ending a transaction after a failure: every step of the end still runs, and the first error stays the one raised.

A transaction's end is several steps (close its streams, roll back, give the connection back, put the DB-API
connection back in its mode). When one fails (a cursor whose connection died), the later ones must still run, or
the transaction stays open: SQLite's write lock held, the next unit of work refused ("cannot start a transaction
within a transaction"). A step's failure after the first error is noted on that error (`add_note`), never raised
in its place nor dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import exc


def said(error: BaseException) -> str:
    """What an error says, on one line: a driver error's own message (without SQLAlchemy's SQL and links)."""
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    return f"{type(cause).__name__}: {' '.join(str(cause).split())}"


def after_failure(first: BaseException, what: str, step: Callable[[], object]) -> None:
    """Run `step` although `first` was raised; an error of its own is noted on `first`, which stays the one raised."""
    try:
        step()
    except Exception as error:  # noqa: BLE001 - kept, on the first error that is raised
        first.add_note(f"{what} failed too: {said(error)}")
