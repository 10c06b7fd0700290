"""A table's body rows written once each, as Rich would write them (issue 19: a 16,000-row table took ~1 ms a row).

Rich renders every cell of a table on its own: a Text, its wrap, its justification, its padding and the
cropping of its line, some thirty Python calls a cell. The tables of `tables.print_table` give every
column its width before Rich draws it, so a row that fits on one line is only its cells justified to
those widths between the box's verticals. `Body` hands Rich the table without its rows (title, top
border, header, the header's rule, bottom border: what Rich draws of it does not depend on the rows)
and writes each row between the header's rule and the bottom border itself:

- a row whose every cell is plain ASCII that fits its column on one line (no leading or trailing
  space) is written
  straight: the same characters, the same style on each (a styled `Text` cell is one styled segment,
  its padding and borders unstyled, as Rich writes it);
- any other row (a folding cell, wide or control characters) is drawn by Rich, as a
  table of that one row under the same header, and its lines are taken between the header's rule and
  the bottom border;
- a table whose layout Rich would draw otherwise (another box, styled borders, widths Rich would
  change, markup or emoji codes read, as tradeledger's consoles never do) is drawn by Rich whole.

The rows are read once, a chunk of BODY_CHUNK at a time (issue 19: the cells and segments of one chunk are
held, not the table's). Same text, same styles, on every console (tests/property/test_table_body.py compares the two on
random tables, with and without colour).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from rich.box import Box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Column, Table
from rich.text import Text

Cell = str | Text
T = TypeVar("T")
Token = str | int  # a constant piece of every line, or the index of a column of cells
BODY_CHUNK = 1_024  # rows whose cells are checked and justified at once


class Body:
    """`table` (columns, title; no rows) with `rows` under its header (read once, when it is rendered); `widths` are
    its columns' content widths (what `add_column(width=...)` was given); `new_table` makes another such table,
    without title."""

    def __init__(
        self,
        table: Table,
        rows: Iterable[Sequence[Cell]],
        widths: Sequence[int],
        new_table: Callable[[], Table],
    ) -> None:
        self.table = table
        self.rows = rows
        self.widths = list(widths)
        self.new_table = new_table
        self.drawn_by_rich = 0  # rows Rich drew (one by one, or the whole table): what the tests count

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.table
        head = list(console.render(table, options))
        box = None if table.box is None else table.box.substitute(options, safe=_pick(table.safe_box, console.safe_box))
        if box is None or not self._written_as_rich_would(console, options, head, box):
            yield from self._whole(console, options)
            return
        yield from head[:-2]  # all but the bottom border and its line break
        tokens = self._tokens(box)
        lines_before: int | None = None
        for chunk in chunks(self.rows, BODY_CHUNK):
            columns = [
                _Cells(console, [row[i] for row in chunk], width, column.justify, folds=_folds(column))
                for i, (width, column) in enumerate(zip(self.widths, table.columns, strict=True))
            ]
            lines = _Lines(columns, tokens, len(chunk))
            for index, row in enumerate(chunk):
                if lines.plain(index):
                    yield from lines.segments(index)
                    continue
                if lines_before is None:  # the header's lines in a table without title (and without rows)
                    lines_before = len(list(Segment.split_lines(console.render(self.new_table(), options)))) - 1
                yield from self._one_by_rich(console, options, row, lines_before=lines_before)
        yield from head[-2:]

    def _tokens(self, box: Box) -> list[Token]:
        """A body line: its left edge, each column's padding around its cell, the dividers, its right edge
        (pad_edge=False: no padding at the table's edges)."""
        table = self.table
        _, right, _, left = table.padding
        last = len(table.columns) - 1
        tokens: list[Token] = [box.mid_left]
        for i in range(last + 1):
            tokens += [" " * (0 if i == 0 and not table.pad_edge else left), i]
            tokens += [" " * (0 if i == last and not table.pad_edge else right)]
            tokens.append(box.mid_right if i == last else box.mid_vertical)
        return tokens

    def _written_as_rich_would(self, console: Console, options: ConsoleOptions, head: list[Segment], box: Box) -> bool:
        """The layout this module writes is the one Rich would draw: plain borders, the widths given, no caption,
        no markup or emoji code read, the same verticals on every body row (the last one included)."""
        table = self.table
        drawn = [
            table.caption,
            not table.show_header,
            not table.show_edge,
            table.show_lines,
            table.leading,
            table.show_footer,
            table.collapse_padding,
            table.row_styles,
            table.rows,
            table.padding[0],
            table.padding[2],
            (box.mid_left, box.mid_vertical, box.mid_right) != (box.foot_left, box.foot_vertical, box.foot_right),
            console.get_style(table.style or "") + console.get_style(table.border_style or ""),
            any(column.style or column.vertical != "top" for column in table.columns),
            len(head) < 2 or head[-1] != Segment.line(),  # noqa: PLR2004 - the bottom border and its line break
        ]
        if any(drawn):
            return False
        _, right, _, left = table.padding
        last = len(self.widths) - 1
        outer = [
            width + (0 if i == 0 and not table.pad_edge else left) + (0 if i == last and not table.pad_edge else right)
            for i, width in enumerate(self.widths)
        ]
        if head[-2].text != box.get_bottom(outer):  # Rich would draw other widths (a console too narrow)
            return False
        probe = "[bold]x[/bold] :+1:"
        return console.render_str(probe, markup=options.markup, highlight=False).plain == probe

    def _one_by_rich(
        self, console: Console, options: ConsoleOptions, row: Sequence[Cell], *, lines_before: int
    ) -> list[Segment]:
        """The row drawn by Rich, as the only row of a table under the same header: its lines between the
        header's rule and the bottom border."""
        self.drawn_by_rich += 1
        table = self.new_table()
        table.add_row(*row)
        lines = list(Segment.split_lines(console.render(table, options)))
        segments: list[Segment] = []
        for line in lines[lines_before:-1]:
            segments.extend(line)
            segments.append(Segment.line())
        return segments

    def _whole(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        table = self.table
        for row in self.rows:
            self.drawn_by_rich += 1
            table.add_row(*row)
        return console.render(table, options)


class _Cells:
    """One column's cells justified to its width, each checked once: `plain[r]` is False where Rich would do
    more than justify the cell (fold it at a space, strip or widen a character, read a Text's
    own layout); `styles` holds the Text cells' styles (None: no cell of the column has one).

    In a column that folds (`folds`), a plain ASCII text without a space that is wider than the column (a fill
    id, a long symbol) is folded as Rich folds one word: into pieces of the column's width, the last one
    justified; `texts[r]` is its first line, `more[r]` the lines under it (issue 19: such a row was drawn by
    Rich on its own, ~2 ms a row, every row of `history` on a 120-column console)."""

    def __init__(self, console: Console, cells: list[Cell], width: int, justify: str, *, folds: bool = False) -> None:
        texts = [cell if isinstance(cell, str) else cell.plain for cell in cells]
        self.plain = [justify in ("left", "right")] * len(cells)
        self.styles: list[Style | None] | None = None
        self.more: dict[int, list[str]] = {}
        if any(not isinstance(cell, str) for cell in cells):
            self._styled(console, cells)
        joined = "".join(texts)
        if not (joined.isascii() and joined.isprintable() and max(map(len, texts), default=0) <= width):
            for r, text in enumerate(texts):
                if len(text) <= width and text.isascii() and text.isprintable():
                    continue
                if folds and width > 0 and isinstance(cells[r], str) and _one_word(text):
                    pieces = [text[i : i + width] for i in range(0, len(text), width)]
                    texts[r] = pieces[0]
                    self.more[r] = [_justified(piece, width, justify) for piece in pieces[1:]]
                else:
                    self.plain[r] = False
        if " " in joined:
            for r, text in enumerate(texts):
                if text[:1] == " " or text[-1:] == " ":  # Rich strips a right-justified cell's trailing spaces
                    self.plain[r] = False
        self.texts = [text.ljust(width) for text in texts] if justify == "left" else [t.rjust(width) for t in texts]

    def _styled(self, console: Console, cells: list[Cell]) -> None:
        """The Text cells' styles; a Text with spans or a layout of its own is not plain."""
        get_style = console.get_style
        known: dict[str | Style, Style] = {}  # a style named by a cell, read once (a link's is read each time)
        styles: list[Style | None] = [None] * len(cells)
        for r, cell in enumerate(cells):
            if isinstance(cell, Text):
                if cell.spans or cell.justify or cell.overflow or cell.no_wrap is not None or cell.end != "\n":
                    self.plain[r] = False
                style = known.get(cell.style)
                if style is None:
                    style = get_style(cell.style)
                    if not style.link:
                        known[cell.style] = style
                styles[r] = style or None
        self.styles = styles


class _Lines:
    """The body's lines from its columns: each run of unstyled pieces joined once per row, a styled cell
    its own segment (what Rich writes: the same text, each character in the same style). A row with a folded
    cell has lines under its first: the folded cells' next pieces, every other cell blank (unstyled spaces,
    as Rich pads a cell to the row's height), between the same borders."""

    def __init__(self, columns: list[_Cells], tokens: list[Token], rows: int) -> None:
        self.columns = columns
        self.tokens = tokens
        pieces: list[list[Token]] = [[]]
        self.styled: list[int] = []  # the column between piece k and piece k + 1
        for token in tokens:
            if isinstance(token, int) and columns[token].styles is not None:
                self.styled.append(token)
                pieces.append([])
            else:
                pieces[-1].append(token)
        runs = [self._joined(piece, rows) for piece in pieces]
        self.plain_rows = [all(flags) for flags in zip(*(column.plain for column in columns), strict=True)]
        pieces_of_lines = [list(map(Segment, runs[0]))]
        for k, column in enumerate(self.styled, start=1):
            styles = columns[column].styles
            assert styles is not None
            pieces_of_lines.append(list(map(Segment, columns[column].texts, styles)))
            pieces_of_lines.append(list(map(Segment, runs[k])))
        pieces_of_lines.append([Segment.line()] * rows)
        self.lines = list(zip(*pieces_of_lines, strict=True))

    def _joined(self, piece: list[Token], rows: int) -> list[str]:
        if not any(isinstance(token, int) for token in piece):
            return ["".join(str(token) for token in piece)] * rows
        parts = [
            self.columns[token].texts if isinstance(token, int) else [token] * rows for token in piece if token != ""
        ]
        return ["".join(row) for row in zip(*parts, strict=True)]

    def plain(self, row: int) -> bool:
        return self.plain_rows[row]

    def segments(self, row: int) -> tuple[Segment, ...]:
        first = self.lines[row]
        under = [column.more.get(row, ()) for column in self.columns]
        height = max(map(len, under))
        if not height:
            return first
        blank = [" " * len(column.texts[row]) for column in self.columns]
        lines: list[Segment] = list(first)
        for k in range(height):
            cells = [pieces[k] if k < len(pieces) else blank[i] for i, pieces in enumerate(under)]
            lines.append(Segment("".join(cells[token] if isinstance(token, int) else token for token in self.tokens)))
            lines.append(Segment.line())
        return tuple(lines)


def _folds(column: Column) -> bool:
    """Whether Rich folds a word wider than the column into pieces (overflow "fold", wrapping on)."""
    return column.overflow == "fold" and not column.no_wrap


def _one_word(text: str) -> bool:
    """Printable ASCII without a space: Rich's wrap sees one word, and folds it into pieces of the width."""
    return text.isascii() and text.isprintable() and " " not in text


def _justified(piece: str, width: int, justify: str) -> str:
    return piece.ljust(width) if justify == "left" else piece.rjust(width)


def chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """`rows` in lists of `size` (the last one shorter)."""
    reading = iter(rows)
    while chunk := list(islice(reading, size)):
        yield chunk


def _pick(value: bool | None, default: bool) -> bool:
    return default if value is None else value
