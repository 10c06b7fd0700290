"""tradeledger: an event-sourced position ledger for trading bots.

Every fill is an immutable, hash-chained event; positions are projections of that log.

The public names are imported on first use (PEP 562): `import tradeledger` costs the errors only, and a
command or a script pays for what it touches (`from tradeledger import open_ledger`: the ledger and its
storage, never the anchors' cryptography or the subscriptions' asyncio unless it uses them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeledger.errors import (
    CallbackError,
    ConnectionLost,
    FillConflict,
    InvalidArgument,
    InvalidFill,
    InvariantViolation,
    LedgerError,
    ReadOnlyView,
    SchemaError,
    StorageError,
    TradeRefused,
    UnreadableEvent,
)
from tradeledger.lazy import lazy_names

if TYPE_CHECKING:
    from tradeledger.application.anchoring import Anchor, AnchorCheck, load_private_key, new_private_key
    from tradeledger.application.bulk import Appended, EventText
    from tradeledger.application.checkpoints import ResumedAccount
    from tradeledger.application.ledger import Ledger
    from tradeledger.application.lots import GainsReport, LotsReport
    from tradeledger.application.maintenance import RollbackReport
    from tradeledger.application.replaying import AccountStart, HistoryFilters
    from tradeledger.application.settling import SettlementTerms
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

# Where each public name that is not an error lives imported when first read.
_LAZY = {
    "AccountStart": "tradeledger.application.replaying",
    "AdminRecord": "tradeledger.domain.admin",
    "Anchor": "tradeledger.application.anchoring",
    "AnchorCheck": "tradeledger.application.anchoring",
    "Appended": "tradeledger.application.bulk",
    "Balance": "tradeledger.domain.balances",
    "Balances": "tradeledger.domain.balances",
    "Checkpoint": "tradeledger.domain.records",
    "ClosedPosition": "tradeledger.domain.positions",
    "EventNotice": "tradeledger.application.subscribing",
    "EventText": "tradeledger.application.bulk",
    "FeeEntry": "tradeledger.domain.fills",
    "Fill": "tradeledger.domain.fills",
    "Funding": "tradeledger.domain.events",
    "GainRow": "tradeledger.domain.lot_terms",
    "GainTotals": "tradeledger.domain.lot_terms",
    "GainsReport": "tradeledger.application.lots",
    "HistoryFilters": "tradeledger.application.replaying",
    "Ledger": "tradeledger.application.ledger",
    "LedgerState": "tradeledger.domain.records",
    "LotsReport": "tradeledger.application.lots",
    "Marks": "tradeledger.domain.risk",
    "Method": "tradeledger.domain.lot_terms",
    "MethodPlan": "tradeledger.domain.lot_terms",
    "MissingAcquisition": "tradeledger.domain.lot_terms",
    "Notice": "tradeledger.application.subscribing",
    "OpenLot": "tradeledger.domain.lot_terms",
    "Position": "tradeledger.domain.positions",
    "PositionSide": "tradeledger.domain.positions",
    "PriceMark": "tradeledger.domain.risk",
    "Problem": "tradeledger.application.verification",
    "Receipt": "tradeledger.domain.records",
    "RecordedFill": "tradeledger.domain.records",
    "ResumedAccount": "tradeledger.application.checkpoints",
    "RiskLevels": "tradeledger.domain.risk",
    "RollbackNotice": "tradeledger.application.subscribing",
    "RollbackReport": "tradeledger.application.maintenance",
    "SettlementTerms": "tradeledger.application.settling",
    "Side": "tradeledger.domain.fills",
    "Subscription": "tradeledger.application.subscribing",
    "Totals": "tradeledger.domain.positions",
    "Transfer": "tradeledger.domain.events",
    "TransferKind": "tradeledger.domain.events",
    "VerifyReport": "tradeledger.application.verification",
    "WalletBook": "tradeledger.domain.wallet",
    "load_private_key": "tradeledger.application.anchoring",
    "new_private_key": "tradeledger.application.anchoring",
    "open_ledger": "tradeledger.bootstrap",
}


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
    "ConnectionLost",
    "EventNotice",
    "EventText",
    "FeeEntry",
    "Fill",
    "FillConflict",
    "Funding",
    "GainRow",
    "GainTotals",
    "GainsReport",
    "HistoryFilters",
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
    "SettlementTerms",
    "Side",
    "StorageError",
    "Subscription",
    "Totals",
    "TradeRefused",
    "Transfer",
    "TransferKind",
    "UnreadableEvent",
    "VerifyReport",
    "WalletBook",
    "load_private_key",
    "new_private_key",
    "open_ledger",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
