"""The only exceptions callers of tradeledger need to catch."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error tradeledger raises on purpose."""


class InvalidFill(LedgerError, ValueError):
    """A fill was refused before anything was written; the message names field and value."""


class InvalidArgument(LedgerError, ValueError):
    """An argument other than a fill (a seq, a time, a mark, a setting) was refused."""


class FillConflict(LedgerError):
    """A fill key is already in the log (or earlier in the same batch) with different content."""

    def __init__(
        self, key: tuple[str, str, str], existing: dict[str, object], new: dict[str, object], *, in_log: bool = True
    ) -> None:
        account, exchange, fill_id = key
        differing = sorted(k for k in set(existing) | set(new) if existing.get(k) != new.get(k))
        where = "is already recorded" if in_log else "appears twice in this batch"
        first = "recorded" if in_log else "first"
        kind = existing.get("type") or new.get("type") or "fill"  # fill, funding or transfer (a v1 row: fill)
        super().__init__(
            f"{kind} {fill_id!r} (account {account!r}, exchange {exchange!r}) {where} "
            f"with different content (fields {', '.join(differing)}): "
            f"{first} {_shown(existing, kind)}, new {_shown(new, kind)}"
        )
        self.key = key
        self.existing = existing
        self.new = new


def _shown(content: dict[str, object], kind: object) -> dict[str, object]:
    """An event's stored content as a message shows it: its id by its type's name (funding_id, transfer_id), and
    none of the fields its type does not have (stored as None: a funding payment has no side or price)."""
    return {
        (f"{kind}_id" if field == "fill_id" else field): value for field, value in content.items() if value is not None
    }


class SchemaError(LedgerError):
    """The database schema cannot be used by this version of tradeledger."""


class StorageError(LedgerError):
    """The database refused an operation (locked, read-only, full, corrupt, append-only)."""


class ConnectionLost(StorageError):
    """The connection to the database was lost (a server restart, a failover, a network cut) where the call could
    not be made again on a new connection: nothing of the call is half-written; its text says whether the commit
    had been sent (then all of it may be there: its fills sent again are duplicates), and the next call connects
    again. (An append whose connection is found lost in its first round trip, and a read in its BEGIN, are made
    again on a new connection once, without this error.)"""


class UnreadableEvent(StorageError):
    """A stored event does not read as any event the ledger writes (its row was edited behind the ledger's back):
    the message names its seq, field and value, and `verify` finds it; nothing was folded from it."""


class InvariantViolation(LedgerError):
    """A read model does not reconcile with the log (the wallet's cash invariant): a bug, never clamped."""


class ReadOnlyView(LedgerError, TypeError):
    """A caller tried to write to a read model; the message names the call that records a fill instead."""


class TradeRefused(LedgerError, RuntimeError):
    """A paper-wallet command failed its checks (cash, open-trade limit, shorts); nothing was appended."""


class CallbackError(LedgerError):
    """A trade, position or price callback raised; what triggered it has already been recorded."""
