"""The head's mark of when an event naming lots last occurred (`lots_named_until`, revision 0010) against the log:
a mark earlier than the log's (left by a process still running code from before revision 0010, or by a bug) lets a
backfill skip the lot check it needs. `verify` reports it, saying what the mark is and what the log says; `rebuild`
sets it from the log, as a rollback does. On SQLite and PostgreSQL, the mark moved behind the ledger's back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends import Backend
from tests.integration.test_lot_picks import named
from tests.integration.test_lot_picks_fold import at, buy, sell
from tradeledger import InvalidFill, Ledger, open_ledger
from tradeledger.application.verification import Problem
from tradeledger.storage.sql import log as sql_log

LOTS_NAMED_AT = "2026-01-05T00:00:00.000000+00:00"  # the sale naming lot 1, as the log stores its time


@pytest.fixture
def opened(backend: Backend) -> Iterator[Ledger]:
    """Two buys and a sale naming the first one's lot (seq 3, on day 5)."""
    with open_ledger(backend.url) as ledger:
        ledger.record_many([buy(1), buy(2), named((1, "1"), quantity="1", occurred_at=at(5))])
        yield ledger


def marked(backend: Backend, mark: str | None) -> None:
    """The head's mark set behind the ledger's back, as a writer that does not move it leaves it."""
    backend.sql("UPDATE ledger_head SET lots_named_until = :mark WHERE id = 1", {"mark": mark})


def stored_mark(backend: Backend) -> str | None:
    ((mark,),) = backend.sql("SELECT lots_named_until FROM ledger_head")
    assert mark is None or isinstance(mark, str)
    return mark


def test_verify_reports_a_mark_of_lots_named_missing_though_the_log_names_lots(
    opened: Ledger, backend: Backend
) -> None:
    marked(backend, None)

    report = opened.verify()

    assert not report.ok
    assert report.problems == (
        Problem(
            None,
            "head",
            "the head says no event names lots (lots_named_until NULL), the log's latest event whose metadata may "
            f"name lots occurred at {LOTS_NAMED_AT} (seq 3): a backfill before it would not be checked against the "
            "lots named; `tradeledger rebuild` (`Ledger.rebuild()`) sets the mark from the log",
        ),
    )


def test_verify_reports_a_mark_of_lots_named_earlier_than_the_log_says(opened: Ledger, backend: Backend) -> None:
    marked(backend, "2026-01-02T00:00:00.000000+00:00")

    (problem,) = opened.verify().problems

    assert problem.check == "head"
    assert problem.seq is None
    assert problem.detail.startswith(
        "the head says events naming lots occurred until 2026-01-02T00:00:00.000000+00:00 (lots_named_until), the "
        f"log's latest event whose metadata may name lots occurred at {LOTS_NAMED_AT} (seq 3)"
    )


def test_verify_takes_a_mark_of_lots_named_later_than_the_log_says(opened: Ledger, backend: Backend) -> None:
    # Later costs a check more, never one less (a rollback's mark on SQLite, whose LIKE ignores case, may be later).
    marked(backend, "2026-01-09T00:00:00.000000+00:00")

    assert opened.verify().ok


def test_verify_takes_the_mark_of_lots_named_an_append_and_a_rollback_leave(opened: Ledger, backend: Backend) -> None:
    assert stored_mark(backend) == LOTS_NAMED_AT
    assert opened.verify().ok
    opened.rollback(to_seq=2, reason="test", actor="tester")

    assert stored_mark(backend) is None
    assert opened.verify().ok


def test_rebuild_sets_the_mark_of_lots_named_from_the_log_and_a_backfill_is_checked_again(
    opened: Ledger, backend: Backend
) -> None:
    marked(backend, None)

    opened.rebuild()

    assert stored_mark(backend) == LOTS_NAMED_AT
    assert opened.verify().ok
    # The backfill the missing mark let through (a sale that takes lot 1, which seq 3 names) is refused again.
    with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: the fill at seq 3, which occurred after this one"):
        opened.record(sell(3))


def test_rebuild_sets_a_mark_of_lots_named_later_than_the_log_back_to_the_log_s(
    opened: Ledger, backend: Backend
) -> None:
    marked(backend, "2026-01-09T00:00:00.000000+00:00")

    opened.rebuild()

    assert stored_mark(backend) == LOTS_NAMED_AT


def test_an_event_naming_lots_from_a_writer_that_does_not_move_the_mark_moves_it_by_the_log_s_trigger(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_ledger(backend.url) as ledger:
        ledger.record_many([buy(1), buy(2)])
        # As a process running code from before revision 0010 appends: its head's UPDATE never moves the mark.
        monkeypatch.setattr(sql_log, "latest_naming_lots", lambda _events, latest: latest)
        ledger.record(named((1, "1"), quantity="1", occurred_at=at(5)))
        monkeypatch.undo()

        assert stored_mark(backend) == LOTS_NAMED_AT  # revision 0012's trigger
        assert ledger.verify().ok
        with pytest.raises(InvalidFill, match=r"^fill 1: metadata\.lots: the fill at seq 3, which occurred after"):
            ledger.record(sell(3))


def test_the_trigger_leaves_a_later_mark_of_lots_named_as_it_is(opened: Ledger, backend: Backend) -> None:
    opened.record(named((2, "1"), quantity="1", occurred_at=at(4)))  # names lots, earlier than the mark

    assert stored_mark(backend) == LOTS_NAMED_AT
