"""tradeledger: an event-sourced position ledger for trading bots.

Every fill is an immutable, hash-chained event; positions are projections of that log.
"""

from tradeledger.application.anchoring import Anchor, AnchorCheck, load_private_key, new_private_key
from tradeledger.application.bulk import Appended, EventText
from tradeledger.application.checkpoints import ResumedAccount
from tradeledger.application.ledger import Ledger
from tradeledger.application.lots import GainsReport, LotsReport
from tradeledger.application.maintenance import RollbackReport
from tradeledger.application.replaying import AccountStart
from tradeledger.application.subscribing import EventNotice, Notice, RollbackNotice, Subscription
from tradeledger.application.verification import Problem, VerifyReport
from tradeledger.bootstrap import open_ledger
from tradeledger.domain.admin import AdminRecord
from tradeledger.domain.balances import Balance, Balances
from tradeledger.domain.events import Funding, Transfer, TransferKind
from tradeledger.domain.fills import FeeEntry, Fill, Side
from tradeledger.domain.lot_terms import GainRow, GainTotals, Method, MethodPlan, MissingAcquisition, OpenLot
from tradeledger.domain.positions import ClosedPosition, Position, PositionSide, Totals
from tradeledger.domain.records import Checkpoint, LedgerState, Receipt, RecordedFill
from tradeledger.domain.risk import Marks, PriceMark, RiskLevels
from tradeledger.domain.wallet import WalletBook
from tradeledger.errors import (
    CallbackError,
    FillConflict,
    InvalidArgument,
    InvalidFill,
    InvariantViolation,
    LedgerError,
    ReadOnlyView,
    SchemaError,
    StorageError,
    TradeRefused,
)

__all__ = [
    "AccountStart",
    "AdminRecord",
    "Anchor",
    "AnchorCheck",
    "Appended",
    "Balance",
    "Balances",
    "CallbackError",
    "Checkpoint",
    "ClosedPosition",
    "EventNotice",
    "EventText",
    "FeeEntry",
    "Fill",
    "FillConflict",
    "Funding",
    "GainRow",
    "GainTotals",
    "GainsReport",
    "InvalidArgument",
    "InvalidFill",
    "InvariantViolation",
    "Ledger",
    "LedgerError",
    "LedgerState",
    "LotsReport",
    "Marks",
    "Method",
    "MethodPlan",
    "MissingAcquisition",
    "Notice",
    "OpenLot",
    "Position",
    "PositionSide",
    "PriceMark",
    "Problem",
    "ReadOnlyView",
    "Receipt",
    "RecordedFill",
    "ResumedAccount",
    "RiskLevels",
    "RollbackNotice",
    "RollbackReport",
    "SchemaError",
    "Side",
    "StorageError",
    "Subscription",
    "Totals",
    "TradeRefused",
    "Transfer",
    "TransferKind",
    "VerifyReport",
    "WalletBook",
    "load_private_key",
    "new_private_key",
    "open_ledger",
]
