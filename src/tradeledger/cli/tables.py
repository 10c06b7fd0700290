"""Rich tables that fit the console without ever cutting a number.

Cells are plain text (user text printed as it is: the consoles have markup off) or `Text` with a
style (coloured money).

Rich shrinks a table that is too wide by cutting cells ("975…" for 97500). Here every column gets
its width before Rich draws it: a column that does not wrap (numbers, sides, seqs, hashes) is as
wide as its widest cell; when the console is narrow, the columns that can go (`drop` > 0, highest
first: seqs, times, percentages) are left out and named under the table; then text columns (symbol,
account, fill id) fold; if even that does not fit, each row is printed as a line of `header value`.
Rich draws the title, header and borders; `table_body.Body` writes the rows that are only their cells
justified to those widths (the same text, without Rich's work per cell) and leaves Rich any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tradeledger.cli.table_body import Body

Cell = str | Text


# Each column costs its left and right padding and one border; pad_edge=False drops the outer two paddings.
CHROME_PER_COLUMN = 3
CHROME_EDGES = -1


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    wraps: bool = False  # text that may fold (symbol, account, fill id); numbers never do
    drop: int = 0  # 0: always shown; on a narrow console the highest goes first
    left: bool = False  # left-aligned (text); numbers are right-aligned
    min_width: int = 0  # text folds no narrower than this (else the rows are printed as lines)


def cell_width(cell: Cell) -> int:
    """Printed width of a cell (plain text, or Text with a style); printable ASCII is one column a character."""
    text = cell.plain if isinstance(cell, Text) else cell
    if text.isascii() and text.isprintable():
        return len(text)
    return (cell if isinstance(cell, Text) else Text(cell)).cell_len


def column_width(cells: Sequence[Cell]) -> int:
    """The widest cell's width; a column of printable ASCII is measured by length, in one pass."""
    texts = [cell.plain if isinstance(cell, Text) else cell for cell in cells]
    joined = "".join(texts)
    if joined.isascii() and joined.isprintable():
        return max(map(len, texts), default=0)
    return max(map(cell_width, cells), default=0)


def _header_words(header: str) -> int:
    return max((len(word) for word in header.split()), default=0)


@dataclass(frozen=True, slots=True)
class Fitted:
    kept: list[int]  # indexes of the columns shown
    widths: list[int]  # content width of each kept column
    dropped: list[str]  # headers left out


def fit(width: int, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> Fitted | None:
    """The columns to show and their widths within `width`; None when not even the narrowest fits."""
    cells = [column_width([row[i] for row in rows]) for i in range(len(columns))]
    full = [max(cells[i], len(c.header)) for i, c in enumerate(columns)]
    tight = [max(cells[i], _header_words(c.header)) for i, c in enumerate(columns)]
    floor = [
        min(tight[i], max(_header_words(c.header), c.min_width)) if c.wraps else tight[i] for i, c in enumerate(columns)
    ]

    def total(kept: list[int], sizes: list[int]) -> int:
        return sum(sizes[i] for i in kept) + CHROME_PER_COLUMN * len(kept) + CHROME_EDGES

    kept = list(range(len(columns)))
    for sizes in (full, tight):
        if total(kept, sizes) <= width:
            return Fitted(kept, [sizes[i] for i in kept], [])
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: (-columns[i].drop, -i))
    for i in droppable:
        kept.remove(i)
        if total(kept, tight) <= width:
            break
    dropped = [columns[i].header for i in range(len(columns)) if i not in kept]
    if total(kept, tight) <= width:
        return Fitted(kept, [tight[i] for i in kept], dropped)
    if total(kept, floor) > width:
        return None
    # Text columns fold: each gets its floor, then the room left goes to them in turn up to their widest cell.
    folded = {i: floor[i] for i in kept}
    room = width - total(kept, floor)
    for i in kept:
        more = min(room, tight[i] - floor[i])
        folded[i] += more
        room -= more
    return Fitted(kept, [folded[i] for i in kept], dropped)


def _table(title: str | None, columns: Sequence[Column], widths: Sequence[int]) -> Table:
    """A Rich table of `columns` at these content widths, without rows."""
    table = Table(title=title, title_justify="left", pad_edge=False)
    for column, size in zip(columns, widths, strict=True):
        table.add_column(
            Text(column.header, no_wrap=False, overflow="fold"),
            justify="left" if column.left else "right",
            width=size,
            no_wrap=not column.wraps,
            overflow="fold" if column.wraps else "ellipsis",  # never reached: the width holds every cell
        )
    return table


def print_table(
    console: Console,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    empty: str | None = None,
) -> None:
    """`rows` under `title`, fitted to the console (see the module)."""
    fitted = fit(console.width, columns, rows)
    if fitted is None:
        console.print(title, highlight=False)
        for row in rows:
            parts = [
                Text.assemble(f"{column.header} ", cell) for column, cell in zip(columns, row, strict=True) if cell
            ]
            console.print(Text("  ").append(Text(", ").join(parts)), highlight=False)
        return
    shown = [columns[i] for i in fitted.kept]
    table = _table(title, shown, fitted.widths)
    if not rows and empty is not None:
        table.caption = empty
    kept = fitted.kept
    body = [[row[i] for i in kept] for row in rows] if len(kept) < len(columns) else rows
    console.print(Body(table, body, fitted.widths, lambda: _table(None, shown, fitted.widths)))
    if fitted.dropped:
        console.print(
            f"left out at {console.width} columns: {', '.join(fitted.dropped)} (a wider terminal or --json shows them)",
            style="dim",
            highlight=False,
        )
