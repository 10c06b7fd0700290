"""An admin record's hash is SHA-256 of prev_hash, a newline and the canonical JSON array of its hashed fields (the
log's format): hashed with its removed events' text escaped a part at a time (issue 19), it is the same hash."""

from __future__ import annotations

from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from tradeledger.domain import admin
from tradeledger.domain.admin import ADMIN_HASHED_FIELDS, AdminRecord
from tradeledger.domain.chain import chained_hash

PREV = "ab" * 32


def _values(removed: object) -> dict[str, object]:
    return {
        "id": 3,
        "action": "rollback",
        "at": "2026-01-05T12:00:00.000000+00:00",
        "actor": 'öps "desk"',
        "reason": "line\nbreak\ttab \\ ☃",
        "from_epoch": 1,
        "from_seq": 9,
        "from_hash": "c" * 64,
        "to_epoch": 2,
        "to_seq": 5,
        "to_hash": "d" * 64,
        "removed": removed,
    }


@given(st.text(), st.integers(min_value=1, max_value=7))
def test_the_removed_text_hashed_in_parts_gives_the_hash_of_the_whole_array(removed: str, part: int) -> None:
    record = _values(removed)
    whole = chained_hash(PREV, [record[name] for name in ADMIN_HASHED_FIELDS])

    with patch.object(admin, "HASH_PART", part):
        assert admin._admin_hash(PREV, record) == whole


def test_the_removed_field_is_the_last_one_hashed() -> None:
    assert ADMIN_HASHED_FIELDS[-1] == "removed"
    assert set(ADMIN_HASHED_FIELDS) <= set(AdminRecord.__dataclass_fields__)


def test_a_record_hashed_in_parts_keeps_the_hash_the_whole_array_gave() -> None:
    record = _values('[{"seq":6,"note":"é \\"q\\"\\n"}]')

    with patch.object(admin, "HASH_PART", 2):
        assert admin._admin_hash(PREV, record) == "3f3458f1032c277a7dba3dd66ab78a7ccd218b5823d69cbd5a275e96b6d3e8d8"
