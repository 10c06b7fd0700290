"""What internal moves did to the lots a specific disposal names, for the check before it is written
(application/lot_picks.py): the lots a move carries are those the fold of the reports moves (`domain.lot_transfers`:
under `specific`, first in, first out, as a move names no lots), so the check asks that fold.

Only a disposal whose account had an internal move of its currency since the first lot it names (in the log or
earlier in its batch) is looked at here (one read of the account's history over that time, which the check reads
anyway); for it, the whole log and the batch before it are folded under `specific` up to the disposal's time, in the
order the events occurred, with every internal move paired (a move whose other side occurred later is in transit: its
lots are in neither account). That fold is a report's cost, paid per such disposal, never by an append naming no lots.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradeledger.application.ports import EventLog
from tradeledger.domain.lot_terms import NO_TAX_YEAR, MethodPlan
from tradeledger.domain.lot_transfers import internal_moves, paired_moves
from tradeledger.domain.lots import LotBook
from tradeledger.domain.markets import market
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidArgument, InvalidFill

SPECIFIC = MethodPlan.parse(["specific"])  # the method the checks fold by (a move names no lots)


def lot_currency(event: StoredEvent) -> str | None:
    """The currency whose lots `event` moves: a spot fill's base, a transfer's currency; None for any other."""
    if event.type == "transfer":
        return event.currency
    if event.type != "fill" or event.symbol is None:
        return None
    traded = market(event.symbol)
    return traded.base if traded.settle is None else None


def _internal_of(event: StoredEvent, account: str, currency: str) -> bool:
    return (
        event.type == "transfer"
        and event.kind == "internal"
        and event.account == account
        and event.currency == currency
    )


def time_then_seq(event: StoredEvent) -> tuple[str, int]:
    """The order the lots are matched in: by `occurred_at`, then seq."""
    return (event.occurred_at, event.seq)


def named_lots(event: StoredEvent) -> dict[str, Any] | None:
    """The metadata of an event whose metadata has `lots` (as the reports read it), else None."""
    if event.metadata is None or '"lots"' not in event.metadata:
        return None
    found = json.loads(event.metadata)
    return found if isinstance(found, dict) and "lots" in found else None


class AccountMoves:
    """Whether an account had an internal move (in the log, or in the append `new`), asked once per account and
    append by the checks of the lots it names (application/lot_picks.py, lot_pick_fold.py): the usual account never
    moves coins between its accounts, and its disposals then need no look at moves (a look per disposal read the
    account's history each time: an import naming lots on every sale was quadratic)."""

    def __init__(self, log: EventLog, new: Sequence[StoredEvent]) -> None:
        self._log = log
        self._in_batch = {event.account for event in new if event.type == "transfer" and event.kind == "internal"}
        self._known: dict[str, bool] = {}

    def of(self, account: str) -> bool:
        if account not in self._known:
            self._known[account] = account in self._in_batch or (
                self._log.last_occurred(account, None, _TRANSFER, kinds=_INTERNAL) is not None
            )
        return self._known[account]


_TRANSFER, _INTERNAL = frozenset({"transfer"}), frozenset({"internal"})


def _before(event: StoredEvent, disposal: StoredEvent) -> bool:
    return (event.occurred_at, event.seq) < (disposal.occurred_at, disposal.seq)


def moved_lots(
    log: EventLog, disposal: StoredEvent, batch: Sequence[StoredEvent], since: str, where: str
) -> dict[int, Decimal]:
    """Per lot seq, the quantity internal moves brought into the account of `disposal` less what they took out of it
    by the time it occurred (empty when the account had no internal move of its currency from `since`, the time of
    the first lot it names, to then); `batch`: the events of its append. InvalidFill (naming `where`) when the log and
    the batch before it do not fold under `specific`."""
    account, currency = disposal.account, lot_currency(disposal)
    assert currency is not None  # a disposal naming lots: a spot fill or a withdrawal (lot_picks.py refused others)
    if not any(
        _internal_of(event, account, currency) and _before(event, disposal)
        for events in (log.read(account=account, occurred_from=since, occurred_until=disposal.occurred_at), batch)
        for event in events
    ):
        return {}
    events = [*log.read(), *batch]
    transfers = internal_moves(events)
    folded = sorted((event for event in events if _before(event, disposal)), key=time_then_seq)
    metadata = {event.seq: found for event in folded if (found := named_lots(event)) is not None}
    kinds = {event.seq: event.kind for event in folded if event.kind is not None}
    book = LotBook(SPECIFIC, year=NO_TAX_YEAR, in_time_order=True)
    try:
        book.apply_rows((event.execution_row() for event in folded), metadata, kinds, paired_moves(transfers))
    except (InvalidArgument, InvalidFill) as error:
        raise InvalidFill(
            f"{where}: metadata.lots: the lots internal moves carried into or out of account {account!r} cannot be "
            f"followed, as the events before this disposal do not fold under specific: {error}"
        ) from None
    return {lot_seq: quantity for (moved_to, lot_seq), quantity in book.moved_lots.items() if moved_to == account}
