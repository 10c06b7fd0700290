"""`history`'s table, its memory bounded (issue 19: every row was held to size the columns, 761 MB at 1,000,000 events).

The log is read twice: once to measure every column's widest cell and to see the accounts and exchanges (a column
shared by every fill is named in the title instead), a chunk of rows at a time, none kept; once to write the rows
(`tables.print_table` with those widths, the body printed a part at a time). The second read stops at the last event
the first one saw, and that event's hash must be the one the first read saw: the hash chains every event before it,
so both reads saw the same events (a rollback in between is refused loudly, not printed as one table).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from datetime import UTC
from sys import intern

from rich.console import Console

from tradeledger.cli.event_view import event_cells
from tradeledger.cli.output import short_hash
from tradeledger.cli.tables import Cell, Column, measure, print_table
from tradeledger.domain.records import RecordedFill
from tradeledger.errors import LedgerError

ACCOUNT, EXCHANGE = 2, 3  # the columns of a row that a shared account or exchange leaves out
# The history's events up to a seq (None: to the head), a read transaction held until exhausted or closed.
ReadHistory = Callable[[int | None], Generator[RecordedFill, None, None]]


def history_row(recorded: RecordedFill) -> list[Cell]:
    """A recorded event's cells: seq, time, account, exchange, id, symbol, side, quantity, price, fee, hash."""
    f = recorded.fill
    fill_id, symbol, side, *rest = event_cells(f)
    return [
        str(recorded.seq),
        f"{f.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        intern(f.account),  # one text each, not one a row
        intern(f.exchange),
        fill_id,
        intern(symbol),
        intern(side),
        *rest,
        short_hash(recorded.hash),
    ]


class _Seen:
    """The accounts and exchanges of the rows read through it, and the last event's seq and hash."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.exchanges: set[str] = set()
        self.last: tuple[int, str] | None = None

    def rows(self, fills: Iterable[RecordedFill]) -> Iterator[list[Cell]]:
        for recorded in fills:
            row = history_row(recorded)
            self.accounts.add(str(row[ACCOUNT]))
            self.exchanges.add(str(row[EXCHANGE]))
            self.last = (recorded.seq, recorded.hash)
            yield row


def _again(read: ReadHistory, last: tuple[int, str] | None, dropped: list[int]) -> Iterator[list[Cell]]:
    """The rows of the second read (up to the last event of the first, the columns left out removed); refused at its
    end when its last event is not the first read's."""
    seen = _Seen()
    with closing(read(0 if last is None else last[0])) as fills:
        for row in seen.rows(fills):
            for i in dropped:
                del row[i]
            yield row
    if seen.last != last:
        raise LedgerError(
            f"history: the log changed while it was read twice (rolled back: its last event was {last}, then "
            f"{seen.last}); the rows above are not one state of the log; run it again"
        )


def print_history(console: Console, read: ReadHistory, *, filters: str = "") -> None:
    """The fill log; an account or exchange shared by every fill is named in the title, else it is a column (the
    module says how the log is read twice). `filters`: the options that narrowed `read` (`--symbol S`), named
    when no event matches them."""
    seen = _Seen()
    with closing(read(None)) as fills:
        widths, count = measure(11, seen.rows(fills))
    accounts, exchanges = sorted(seen.accounts), sorted(seen.exchanges)
    dropped = [i for i, names in ((EXCHANGE, exchanges), (ACCOUNT, accounts)) if len(names) <= 1]  # from the right
    shared = [
        *([f"account {accounts[0]}"] if len(accounts) == 1 else []),
        *([f"exchange {exchanges[0] or '(none)'}"] if len(exchanges) == 1 else []),
    ]
    columns = [
        Column("Seq"),
        Column("Occurred (UTC)", drop=1, left=True),
        *([Column("Account", wraps=True, left=True)] if len(accounts) > 1 else []),
        *([Column("Exchange", wraps=True, left=True)] if len(exchanges) > 1 else []),
        Column("Fill id", wraps=True, left=True),
        Column("Symbol", left=True),
        Column("Side", left=True),
        Column("Qty"),
        Column("Price"),
        Column("Fee"),
        Column("Hash", left=True, drop=1),
    ]
    kept = [width for i, width in enumerate(widths) if i not in dropped]
    title = "Fill log" + (f": {', '.join(shared)}" if shared else "")
    rows = _again(read, seen.last, dropped)
    empty = f"no event matches {filters}" if filters else "the log is empty"
    print_table(console, title, columns, rows, empty=empty, measured=(kept, count))
