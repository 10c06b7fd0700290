"""A trigger keeps the head row's `lots_named_until` (revision 0010) for every writer: an event inserted whose metadata
may name lots (holds the text `"lots"`) moves the mark to its `occurred_at` when that is later. A process still
running code from before revision 0010 (after another process upgraded the ledger) appends without moving the mark,
and a backfill dated between the mark and such an event skipped the lot check it needs (application/lot_picks.py).
The ledger's own appends move the mark as before (written with the head); the trigger's WHEN is the only cost of an
insert naming none (docs/benchmarks.md, SQLite: +1.2 k instructions a single append, +2.6 k a fill of a batch).
The mark is computed again from the log here, as a rollback computes it, mending one an older writer left behind.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py. The stored times are
# canonical UTC text of one width, compared as bytes ("C" on PostgreSQL). LIKE is case-insensitive on SQLite, which
# only makes the mark later (a check more, never one less).
SQLITE_UP = (
    """
    CREATE TRIGGER ledger_events_lots_named AFTER INSERT ON ledger_events
    WHEN NEW.metadata LIKE '%"lots"%'
    BEGIN
        UPDATE ledger_head SET lots_named_until = NEW.occurred_at
        WHERE id = 1 AND (lots_named_until IS NULL OR lots_named_until < NEW.occurred_at);
    END
    """,
)
POSTGRES_UP = (
    """
    CREATE FUNCTION ledger_events_lots_named() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE ledger_head SET lots_named_until = NEW.occurred_at
        WHERE id = 1
          AND (lots_named_until IS NULL OR lots_named_until COLLATE "C" < NEW.occurred_at COLLATE "C");
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_events_lots_named AFTER INSERT ON ledger_events
    FOR EACH ROW WHEN (NEW.metadata LIKE '%"lots"%') EXECUTE FUNCTION ledger_events_lots_named()
    """,
)
SQLITE_DOWN = ("DROP TRIGGER ledger_events_lots_named",)
POSTGRES_DOWN = (
    "DROP TRIGGER ledger_events_lots_named ON ledger_events",
    "DROP FUNCTION ledger_events_lots_named()",
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_UP if postgresql else SQLITE_UP:
        op.execute(statement)
    occurred = 'occurred_at COLLATE "C"' if postgresql else "occurred_at"
    op.execute(
        "UPDATE ledger_head SET lots_named_until = "  # noqa: S608 - constant text
        f"(SELECT max({occurred}) FROM ledger_events WHERE metadata LIKE '%\"lots\"%') WHERE id = 1"
    )


def downgrade() -> None:
    for statement in POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
