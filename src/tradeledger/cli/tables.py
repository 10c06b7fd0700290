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

The rows are read twice and never held as cells (issue 19: a 180,000-row `gains` table held every cell, then
every segment of the body): once to measure the columns, a chunk of rows at a time, once to write them, the
body printed a part at a time. `RowsOf` makes a report's items into rows as they are read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.console import Console, RenderableType
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from tradeledger.application.collector import cycle_collector_paused
from tradeledger.cli.table_body import Body, chunks

Cell = str | Text
Rows = Iterable[Sequence[Cell]]  # read twice (measured, then written); an iterator is listed first
T = TypeVar("T")
MEASURE_CHUNK = 1_024  # rows whose columns are measured at once
PART_LINES = 2_000  # lines of a table printed at once


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


class RowsOf(Generic[T]):
    """The rows of `items`, each made by `cells` whenever the rows are read, none kept."""

    def __init__(self, items: Collection[T], cells: Callable[[T], Sequence[Cell]]) -> None:
        self.items = items
        self.cells = cells

    def __iter__(self) -> Iterator[Sequence[Cell]]:
        return map(self.cells, self.items)

    def __len__(self) -> int:
        return len(self.items)


def measure(count: int, rows: Rows) -> tuple[list[int], int]:
    """The widest cell of each of `count` columns, and how many rows there are: one pass, a chunk at a time."""
    widths = [0] * count
    seen = 0
    for chunk in chunks(rows, MEASURE_CHUNK):
        seen += len(chunk)
        widths = [max(widths[i], column_width([row[i] for row in chunk])) for i in range(count)]
    return widths, seen


def _header_words(header: str) -> int:
    return max((len(word) for word in header.split()), default=0)


@dataclass(frozen=True, slots=True)
class Fitted:
    kept: list[int]  # indexes of the columns shown
    widths: list[int]  # content width of each kept column
    dropped: list[str]  # headers left out


def fit(width: int, columns: Sequence[Column], rows: Rows) -> Fitted | None:
    """The columns to show and their widths within `width`; None when not even the narrowest fits."""
    return fit_widths(width, columns, measure(len(columns), rows)[0])


def fit_widths(width: int, columns: Sequence[Column], cells: Sequence[int]) -> Fitted | None:
    """`fit` of columns whose widest cells are `cells` wide."""
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
    rows: Rows,
    *,
    empty: str | None = None,
    measured: tuple[list[int], int] | None = None,
) -> None:
    """`rows` under `title`, fitted to the console (see the module). The cycle collector is paused meanwhile: the
    cells and segments make no cycles, and each collection walked every row of the report again (4.5 s of 13.7 s
    for `gains`' 180,000 rows). `measured`: each column's widest cell and the number of rows, when the caller
    measured them as `measure` does (the rows are then read once: an iterator is not listed)."""
    if measured is None and isinstance(rows, Iterator):
        rows = list(rows)
    with cycle_collector_paused():
        _print_table(console, title, columns, rows, empty, measured or measure(len(columns), rows))


def _print_table(
    console: Console,
    title: str,
    columns: Sequence[Column],
    rows: Rows,
    empty: str | None,
    measured: tuple[list[int], int],
) -> None:
    cells, count = measured
    fitted = fit_widths(console.width, columns, cells)
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
    if not count and empty is not None:
        table.caption = empty
    kept = fitted.kept
    body = ([row[i] for i in kept] for row in rows) if len(kept) < len(columns) else rows
    print_in_parts(console, Body(table, body, fitted.widths, lambda: _table(None, shown, fitted.widths)))
    if fitted.dropped:
        console.print(
            f"left out at {console.width} columns: {', '.join(fitted.dropped)} (a wider terminal or --json shows them)",
            style="dim",
            highlight=False,
        )


def print_in_parts(console: Console, renderable: RenderableType) -> None:
    """`console.print(renderable)`, its lines rendered as they are printed, PART_LINES at a time: the same text
    (each part a run of whole lines, cropped to the console as `print` crops them), not held whole."""
    if console.style is not None:  # print wraps the whole renderable in the console's style
        console.print(renderable)
        return
    options = console.options.update(  # print's options, as it is called here
        justify=None, overflow=None, height=None, no_wrap=None, markup=None, highlight=None
    )
    part: list[Segment] = []
    lines = 0
    for segment in console.render(renderable, options):
        part.append(segment)
        if segment.text.endswith("\n"):
            lines += 1
            if lines >= PART_LINES:
                console.print(Segments(part))
                part = []
                lines = 0
    if part:
        console.print(Segments(part))
