"""tradeledger: an event-sourced position ledger for trading bots.

Every fill is an immutable, hash-chained event; positions are projections of that log.
"""

from tradeledger.application.ledger import Ledger
from tradeledger.application.verification import Problem, VerifyReport
from tradeledger.bootstrap import open_ledger
from tradeledger.domain.fills import Fill, Side
from tradeledger.domain.positions import ClosedPosition, Position, PositionSide, Totals
from tradeledger.domain.records import Checkpoint, LedgerState, Receipt, RecordedFill
from tradeledger.errors import FillConflict, InvalidFill, LedgerError, SchemaError, StorageError

__all__ = [
    "Checkpoint",
    "ClosedPosition",
    "Fill",
    "FillConflict",
    "InvalidFill",
    "Ledger",
    "LedgerError",
    "LedgerState",
    "Position",
    "PositionSide",
    "Problem",
    "Receipt",
    "RecordedFill",
    "SchemaError",
    "Side",
    "StorageError",
    "Totals",
    "VerifyReport",
    "open_ledger",
]
