"""`print_table` writes the rows it can itself (cli/table_body.py): the same text and styles as Rich's own table.

The reference is what `print_table` did before issue 19: the rows added to the Rich table, Rich drawing every cell.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError
from rich.text import Text

from tradeledger.cli import table_body
from tradeledger.cli import tables as table_module
from tradeledger.cli.table_body import Body
from tradeledger.cli.tables import Cell, Column, RowsOf, _table, fit, print_table


def rich_table(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> None:
    """`print_table` before issue 19 (the fitted case): every row added to Rich's table."""
    fitted = fit(console.width, columns, rows)
    assert fitted is not None
    table = _table(title, [columns[i] for i in fitted.kept], fitted.widths)
    for row in rows:
        table.add_row(*(row[i] for i in fitted.kept))
    console.print(table)
    if fitted.dropped:
        console.print(
            f"left out at {console.width} columns: {', '.join(fitted.dropped)} (a wider terminal or --json shows them)",
            style="dim",
            highlight=False,
        )


KINDS: dict[str, dict[str, Any]] = {
    "piped": {},
    "truecolor": {"force_terminal": True, "color_system": "truecolor"},
    "standard": {"force_terminal": True, "color_system": "standard"},
    "markup": {"force_terminal": True, "color_system": "256", "markup": True},
    "emoji": {"emoji": True},  # a console that replaces emoji codes (tradeledger's do not)
    "ascii": {"file": "ascii"},  # an ASCII-only file: Rich draws ASCII boxes
    "legacy windows": {"legacy_windows": True, "safe_box": True},  # the boxes Rich substitutes there
}


class AsciiFile(io.StringIO):
    encoding = "ascii"


def body_of(console: Console, columns: list[Column], rows: list[list[Cell]]) -> Body:
    """What `print_table` prints when every column is shown."""
    fitted = fit(console.width, columns, rows)
    assert fitted is not None
    assert fitted.kept == list(range(len(columns)))
    return Body(_table("T", columns, fitted.widths), rows, fitted.widths, lambda: _table(None, columns, fitted.widths))


def console_of(kind: str, width: int) -> Console:
    options = {"highlight": False, "markup": False, "emoji": False, **KINDS[kind]}  # as cli.common's, unless told
    file = AsciiFile() if options.pop("file", None) == "ascii" else io.StringIO()
    return Console(file=file, width=width, **options)


def printed(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def printed_by_rich(kind: str, width: int, columns: list[Column], rows: list[list[Cell]]) -> str:
    """What Rich alone prints for the table titled "T" on a new console of that kind and width."""
    reference = console_of(kind, width)
    rich_table(reference, "T", columns, rows)
    return printed(reference)


WORDS = st.sampled_from(
    [
        "",
        "BTC/USDT",
        "97500.5",
        "-12.5",
        "2025-01-01 00:00:00",
        "default",
        ":+1:",
        "a:smile:b",
        ":100:",
        "x[/]",
        "[bold]y[/bold]",
        "café",
        "中文账户",
        "😀",
        " padded ",
        "trailing ",
        "tab\there",
        "a long account name that folds",
        "averyveryverylongunbrokenidentifier-0123456789",
        "78e51061-7311-48a3-82ce-6f447ed4d57b",
        "a-b/c.d_e:f+g=h@i#j$k%l^m&n*o(p)q[r]s{t}u|v~w",
        "\x1b[31mred",
        "sell",
    ]
)
CELLS = st.one_of(
    WORDS,
    st.text(alphabet="ab :-.0123456789", max_size=14),
    st.builds(lambda word, style: Text(word, style=style), WORDS, st.sampled_from(["green", "red", "dim", ""])),
    st.builds(lambda word: Text.assemble((word, "bold"), " x"), WORDS),
)
COLUMNS = st.builds(
    Column,
    header=st.sampled_from(["Account", "Symbol", "Qty", "Acq. seq", "Occurred (UTC)", "Gain", "%"]),
    wraps=st.booleans(),
    drop=st.integers(min_value=0, max_value=3),
    left=st.booleans(),
    min_width=st.integers(min_value=0, max_value=8),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Column], list[list[Cell]]]:
    columns = draw(st.lists(COLUMNS, min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(columns), max_size=len(columns)), max_size=8))
    return columns, rows


def outcome(
    printer: Callable[[Console, str, list[Column], list[list[Cell]]], None],
    console: Console,
    columns: list[Column],
    rows: list[list[Cell]],
) -> str:
    """What the printer wrote, or the error it raised (a console reading markup refuses `x[/]`)."""
    try:
        printer(console, "Title of the table", columns, rows)
    except MarkupError as error:
        return f"MarkupError: {error}"
    return printed(console)


@settings(max_examples=400, deadline=None)
@given(tables(), st.integers(min_value=12, max_value=140), st.sampled_from(sorted(KINDS)))
def test_print_table_writes_the_text_and_styles_rich_draws(
    table: tuple[list[Column], list[list[Cell]]], width: int, kind: str
) -> None:
    columns, rows = table
    if fit(width, columns, rows) is None:  # printed as lines, by Rich, either way
        return
    ours, theirs = console_of(kind, width), console_of(kind, width)

    assert outcome(print_table, ours, columns, rows) == outcome(rich_table, theirs, columns, rows)


@settings(max_examples=300, deadline=None)
@given(
    tables(),
    st.integers(min_value=12, max_value=140),
    st.sampled_from(sorted(KINDS)),
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["list", "iterator", "rows of"]),
)
def test_print_table_in_chunks_of_rows_and_parts_of_lines_writes_what_rich_draws(
    table: tuple[list[Column], list[list[Cell]]], width: int, kind: str, size: int, given_as: str
) -> None:
    """The rows measured, checked and printed a few at a time (issue 19: never all held), given as a list, an
    iterator (listed first) or `RowsOf` (made when read): the text of the whole table drawn by Rich."""
    columns, rows = table
    if fit(width, columns, rows) is None:
        return
    ours, theirs = console_of(kind, width), console_of(kind, width)
    given_rows: Any = {"list": rows, "iterator": iter(rows), "rows of": RowsOf(rows, list)}[given_as]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(table_module, "MEASURE_CHUNK", size)
        patch.setattr(table_module, "PART_LINES", size)
        patch.setattr(table_body, "BODY_CHUNK", size)

        mine = outcome(lambda c, t, cs, _: print_table(c, t, cs, given_rows), ours, columns, rows)

    assert mine == outcome(rich_table, theirs, columns, rows)


def test_a_thousand_rows_of_plain_cells_are_all_written_without_rich() -> None:
    columns = [Column("Account", wraps=True, left=True), Column("Qty"), Column("Gain")]
    rows: list[list[Cell]] = [["default", f"{i}.5", Text(f"-{i}.25", style="red")] for i in range(1_000)]
    console = console_of("truecolor", 80)
    body = body_of(console, columns, rows)

    console.print(body)

    assert body.drawn_by_rich == 0
    assert printed(console).count("\n") == 1_000 + 5  # title, top border, header, its rule, rows, bottom border


def test_only_the_row_that_folds_is_drawn_by_rich() -> None:
    columns = [Column("Account", wraps=True, left=True, min_width=4), Column("Qty")]
    rows: list[list[Cell]] = [["alpha", "1"], ["a very long account name", "2"], ["beta", "3"], ["café", "4"]]
    console = console_of("piped", 20)
    body = body_of(console, columns, rows)

    console.print(body)

    assert body.drawn_by_rich == 2
    assert printed(console) == printed_by_rich("piped", 20, columns, rows)


def test_a_console_that_replaces_emoji_codes_has_the_whole_table_drawn_by_rich() -> None:
    columns = [Column("Account", left=True)]
    rows: list[list[Cell]] = [[":+1:"], ["plain"]]
    console = console_of("emoji", 40)
    body = body_of(console, columns, rows)

    console.print(body)

    assert body.drawn_by_rich == 2
    assert printed(console) == printed_by_rich("emoji", 40, columns, rows)


def test_a_console_that_reads_markup_has_the_whole_table_drawn_by_rich() -> None:
    columns = [Column("Account", left=True)]
    rows: list[list[Cell]] = [["[bold]x[/bold]"], ["plain"]]
    console = console_of("markup", 40)
    body = body_of(console, columns, rows)

    console.print(body)

    assert body.drawn_by_rich == 2


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("width", [40, 57, 80])
def test_ids_wider_than_their_column_are_folded_as_rich_folds_them_without_rich_drawing_the_rows(
    kind: str, width: int
) -> None:
    """`history`'s fill ids on a console narrower than the table (issue 19: each such row was drawn by Rich on its
    own): a word without a space folds into pieces of the column's width, here on the left and on the right of a
    column, beside a styled cell and an id that fits; the same text and styles as Rich's, no row drawn by Rich."""
    columns = [
        Column("Seq"),
        Column("Fill id", wraps=True, left=True),
        Column("Ref", wraps=True),
        Column("Gain"),
        Column("Side", left=True),
    ]
    ids = ["78e51061-7311-48a3-82ce-6f447ed4d57b", "a1", "008a05a6-c464-4159-8324-c9859b810e76-and-more-of-it"]
    rows: list[list[Cell]] = [
        [str(i), ids[i % 3], ids[(i + 1) % 3][: 5 + 7 * i], Text(f"-{i}.25", style="red"), "sell"] for i in range(6)
    ]
    console = console_of(kind, width)
    body = body_of(console, columns, rows)

    console.print(body)

    assert printed(console) == printed_by_rich(kind, width, columns, rows)
    if kind not in ("emoji", "markup"):  # those consoles have the whole table drawn by Rich
        assert body.drawn_by_rich == 0
    assert printed(console).count("\n") > len(rows) + 5  # some ids folded: more lines than rows
