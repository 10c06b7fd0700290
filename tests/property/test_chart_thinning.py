"""The report chart's thinning (application.report_series.thinned, issue 19): of each pixel column, it keeps
the first and the last point and, per line, the first lowest and the first highest, in drawing order, so a
step line through the kept points covers each column as the line through all of them does."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tradeledger.application.report_series import thinned

LINES = 3
Drawn = Sequence[tuple[int, tuple[Decimal, ...], bool]]  # (column, the lines' values, forced) in drawing order
values = st.tuples(*[st.decimals(-5, 5, places=1, allow_nan=False, allow_infinity=False)] * LINES)
points = st.lists(st.tuples(st.integers(0, 6), values, st.booleans()), max_size=80).map(
    lambda drawn: sorted(drawn, key=lambda point: point[0])  # columns never decrease in drawing order
)


def kept_positions(drawn: Drawn) -> list[int]:
    return list(
        thinned((column, line_values, position, forced) for position, (column, line_values, forced) in enumerate(drawn))
    )


def columns(drawn: Drawn) -> dict[int, list[int]]:
    """The positions of each column's points."""
    grouped: dict[int, list[int]] = {}
    for position, (column, _, _) in enumerate(drawn):
        grouped.setdefault(column, []).append(position)
    return grouped


@given(points)
def test_the_kept_points_are_some_of_the_points_in_their_order(
    drawn: Drawn,
) -> None:
    kept = kept_positions(drawn)

    assert kept == sorted(set(kept))
    assert set(kept) <= set(range(len(drawn)))


@given(points)
def test_each_column_keeps_its_first_and_last_point_and_the_forced_ones(
    drawn: Drawn,
) -> None:
    kept = set(kept_positions(drawn))

    for positions in columns(drawn).values():
        assert positions[0] in kept
        assert positions[-1] in kept
    assert {position for position, (_, _, forced) in enumerate(drawn) if forced} <= kept


@given(points)
def test_each_column_keeps_the_first_lowest_and_first_highest_point_of_each_line(
    drawn: Drawn,
) -> None:
    kept = set(kept_positions(drawn))

    for positions in columns(drawn).values():
        for line in range(LINES):
            line_values = [drawn[p][1][line] for p in positions]
            lowest, highest = min(line_values), max(line_values)
            assert positions[line_values.index(lowest)] in kept
            assert positions[line_values.index(highest)] in kept
            kept_values = [drawn[p][1][line] for p in positions if p in kept]
            assert (min(kept_values), max(kept_values)) == (lowest, highest)


@given(points)
def test_a_column_keeps_at_most_its_ends_its_extremes_and_the_forced_points(
    drawn: Drawn,
) -> None:
    kept = set(kept_positions(drawn))

    for positions in columns(drawn).values():
        forced = sum(1 for p in positions if drawn[p][2])
        assert len(kept & set(positions)) <= 2 + 2 * LINES + forced


def test_every_point_of_a_column_of_few_is_kept() -> None:
    drawn = [(0, (Decimal(1), Decimal(2), Decimal(3)), False), (0, (Decimal(0), Decimal(5), Decimal(3)), False)]

    assert kept_positions(drawn) == [0, 1]


def test_a_point_between_the_extremes_of_every_line_is_left_out() -> None:
    middle = (Decimal(1), Decimal(1), Decimal(1))
    drawn = [
        (4, (Decimal(0), Decimal(0), Decimal(0)), False),
        (4, (Decimal(2), Decimal(2), Decimal(2)), False),
        (4, middle, False),
        (4, (Decimal(-1), Decimal(3), Decimal(1)), False),
        (4, middle, False),
    ]

    assert kept_positions(drawn) == [0, 1, 3, 4]
