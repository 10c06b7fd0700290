"""The only exceptions callers of tradeledger need to catch."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error tradeledger raises on purpose."""


class InvalidFill(LedgerError, ValueError):
    """A fill was refused before anything was written; the message names field and value."""


class FillConflict(LedgerError):
    """A fill key is already in the log with different content."""

    def __init__(self, key: tuple[str, str, str], existing: dict[str, object], new: dict[str, object]) -> None:
        account, exchange, fill_id = key
        differing = sorted(k for k in set(existing) | set(new) if existing.get(k) != new.get(k))
        super().__init__(
            f"fill {fill_id!r} (account {account!r}, exchange {exchange!r}) is already recorded "
            f"with different content (fields {', '.join(differing)}): "
            f"recorded {existing}, new {new}"
        )
        self.key = key
        self.existing = existing
        self.new = new


class SchemaError(LedgerError):
    """The database schema cannot be used by this version of tradeledger."""


class StorageError(LedgerError):
    """The database refused an operation (locked, read-only, full, corrupt, append-only)."""
