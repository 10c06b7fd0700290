"""SQLite's read ahead: the one statement an append's unit of work begins with (store.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tradeledger.application.ports import LAST_REBUILD, REBUILDS
from tradeledger.storage.prepared import Prepared
from tradeledger.storage.schema import events, head, projection_entries

# SQLite's read ahead (`head_and_keys`, run by store.py's `_read_head_and_keys`): the head, the rebuild token
# (ports.REBUILDS) and whether an event is stored under each key, in one statement (the write lock is held from
# BEGIN IMMEDIATE: nothing moves between statements either), run on the DB-API connection (a statement costs ~20 k
# instructions, Prepared's path ~10 k more). Each key is a LEFT JOIN on the log's unique key giving the `seq` found
# (NULL: none, the usual answer); each (account, id) looked up on any exchange (`find_anywhere`) a subquery on the
# unique key's leading columns giving the first seq found (its values come first: the select list's, before the
# joins').
_HEAD_AND_KEYS: dict[tuple[int, int], Prepared] = {}  # by numbers of keys, built when first used


def head_and_keys(n_keys: int, n_anywhere: int = 0) -> Prepared:
    found = _HEAD_AND_KEYS.get((n_keys, n_anywhere))
    if found is not None:
        return found
    entry = projection_entries.c
    token = (
        sa.select(entry.value)
        .where(
            entry.projection == sa.literal_column(f"'{REBUILDS}'"), entry.key == sa.literal_column(f"'{LAST_REBUILD}'")
        )
        .scalar_subquery()
    )
    joined: Any = head
    seqs = []
    for i in range(n_keys):
        event = events.alias(f"k{i}")
        on = sa.and_(
            event.c.fill_id == sa.bindparam(f"k{i}_fill_id"),
            event.c.account == sa.bindparam(f"k{i}_account"),
            event.c.exchange == sa.bindparam(f"k{i}_exchange"),
        )
        joined = joined.outerjoin(event, on)
        seqs.append(event.c.seq)
    firsts = []
    for i in range(n_anywhere):
        event = events.alias(f"a{i}")
        firsts.append(
            sa.select(sa.func.min(event.c.seq))
            .where(event.c.fill_id == sa.bindparam(f"a{i}_fill_id"), event.c.account == sa.bindparam(f"a{i}_account"))
            .scalar_subquery()
        )
    query = (
        sa.select(head.c.epoch, head.c.seq, head.c.hash, head.c.lots_named_until, token, *firsts, *seqs)
        .select_from(joined)
        .where(head.c.id == sa.literal_column("1"))
    )
    prepared = _HEAD_AND_KEYS[(n_keys, n_anywhere)] = Prepared(query)
    return prepared
