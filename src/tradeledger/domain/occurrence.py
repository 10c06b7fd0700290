"""When a new event can have occurred: the bounds its `occurred_at` is held to when it is recorded.

The log is immutable and ordered by time wherever time matters (tax lots match in the order events occurred,
`gains --year` files a disposal under its year, `replay --until-time` and the history place it by it), so an
event recorded with an impossible time stays wrong for ever: only a rollback removes it. The model takes any
time from 1970 to 9999 (`fills.EARLIEST`, `fills.LATEST`: what a time text can hold); an append also refuses
what no trading bot's event can be:

- after the clock at record time plus `CLOCK_SKEW` (5 minutes). An exchange's clock and the machine's are
  seconds apart (a machine whose clock is a minute off cannot even sign orders on most exchanges: binance's
  recvWindow is at most 60 s); an hour ahead is a time in a zone east of UTC (BST, CET, ...) written as UTC,
  or a daylight-saving hour, the smallest such offset; a year typo or milliseconds read as seconds is years
  ahead. Five minutes passes any honest skew and catches the first of those bugs.
- before `EARLIEST_OCCURRED`, 2009-01-03 00:00 UTC, the day of Bitcoin's first (genesis) block: no crypto
  asset, so no crypto trade, transfer or funding, existed before it. The epoch bugs all land in January 1970 (a
  timestamp of 0; seconds read as milliseconds: 1.7e9 ms is 1970-01-20; milliseconds read as microseconds).

The bound is the clock's reading the append stamps as `recorded_at` (one reading, under the head's lock: the
Ledger's clock, `bootstrap.utc_now` unless a caller passes its own), so a stored event shows what it was held to:
`occurred_at <= recorded_at + CLOCK_SKEW`. Checked when events are recorded, never on the log's events: a log
holding such an event from before this check still folds, replays, verifies, rebuilds and copies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tradeledger.domain.fills import LATEST, time_text
from tradeledger.domain.records import StoredEvent
from tradeledger.errors import InvalidFill

CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_OCCURRED = datetime(2009, 1, 3, tzinfo=UTC)
_EARLIEST_TEXT = time_text(EARLIEST_OCCURRED)


@dataclass(frozen=True, slots=True)
class OccurrenceBounds:
    """The times a new event may have occurred at, as canonical time texts (text order is time order), and the
    clock's reading they came from."""

    earliest: str
    latest: str
    clock: str

    @classmethod
    def at(cls, now: datetime) -> OccurrenceBounds:
        """The bounds of an append whose clock reads `now`."""
        latest = LATEST if now > LATEST - CLOCK_SKEW else now + CLOCK_SKEW
        return cls(_EARLIEST_TEXT, time_text(latest), time_text(now))


def refuse_out_of_bounds(
    events: Sequence[StoredEvent], bounds: OccurrenceBounds, *, named: Callable[[int], str]
) -> None:
    """InvalidFill for the first new event (`named(seq)` says which) whose `occurred_at` (a canonical time text)
    lies outside `bounds`, naming the field, the value and the bound (an append asks `outside` of each new event as
    it seals it, and this only when one was)."""
    earliest, latest = bounds.earliest, bounds.latest
    for event in events:
        occurred = event.occurred_at
        if earliest <= occurred <= latest:
            continue
        if occurred < earliest:
            why = (
                f"is before {earliest}, the day of Bitcoin's first block: no crypto trade occurred before it "
                "(a timestamp of 0, or seconds read as milliseconds, reads as 1970)"
            )
        else:
            why = (
                f"is after {latest}, the clock when it was recorded ({bounds.clock}) plus "
                f"{int(CLOCK_SKEW.total_seconds()) // 60} minutes for clock skew (a year typo, a local time given as "
                "UTC, or milliseconds read as seconds?)"
            )
        raise InvalidFill(f"{named(event.seq)}: occurred_at: {why} (got {occurred})")
