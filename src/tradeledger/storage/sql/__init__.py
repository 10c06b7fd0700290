"""The ledger in SQLAlchemy Core, any dialect: the log (log.py), the projections (projection.py), the
transactions that hold them (store.py), and the rows of the tables (rows.py)."""

from tradeledger.storage.sql.store import SqlLedgerStore
from tradeledger.storage.sql.translation import translated_errors

__all__ = ["SqlLedgerStore", "translated_errors"]
