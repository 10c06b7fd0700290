"""What a subscription handed over, as the tests compare it."""

from __future__ import annotations

from tradeledger import Fill
from tradeledger.application.subscribing import EventNotice, Notice


def seen(notices: list[Notice]) -> list[tuple[int, str]]:
    """Each notice as (seq, fill id); a rollback notice, or an event that is not a fill, fails the test."""
    found = []
    for notice in notices:
        assert isinstance(notice, EventNotice)
        assert isinstance(notice.event.event, Fill)
        found.append((notice.seq, notice.event.event.fill_id))
    return found
