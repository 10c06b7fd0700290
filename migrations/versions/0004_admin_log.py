"""The admin log (audited rollbacks), and events deletable only as a recorded rollback removes them.

A DELETE of an event is allowed exactly when the admin log holds a rollback record that removes
it: one whose range (to_seq, from_seq] covers the event's seq, made in the event's epoch or a later
one. The record is written first, in the same transaction. A record the ledger wrote never covers a
live event again: after a rollback to seq T in epoch E, every event past T is of an epoch after E.
(Someone with write access who forges a record, or edits the head's epoch, can make a delete pass
the trigger; verify finds both: the admin log is hash-chained and every epoch change must be one of
its records.) The admin log itself is append-only. On SQLite, INSERT OR REPLACE deletes the row it
replaces without firing delete triggers, so inserts that would replace a row are refused too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

COVERED = """
    EXISTS (SELECT 1 FROM ledger_admin_log AS a
            WHERE a.action = 'rollback' AND OLD.epoch <= a.from_epoch
              AND a.to_seq < OLD.seq AND OLD.seq <= a.from_seq)
"""

SQLITE_UP = (
    "DROP TRIGGER ledger_events_no_delete",
    f"""
    CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    WHEN NOT {COVERED}
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: use tradeledger rollback'); END
    """,
    """
    CREATE TRIGGER ledger_events_no_replace BEFORE INSERT ON ledger_events
    WHEN EXISTS (SELECT 1 FROM ledger_events AS e WHERE e.seq = NEW.seq
                 OR (e.fill_id = NEW.fill_id AND e.account = NEW.account AND e.exchange = NEW.exchange))
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: an insert may not replace an event'); END
    """,
    """
    CREATE TRIGGER ledger_admin_log_no_replace BEFORE INSERT ON ledger_admin_log
    WHEN EXISTS (SELECT 1 FROM ledger_admin_log AS a WHERE a.id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'ledger_admin_log is append-only: an insert may not replace a record'); END
    """,
    """
    CREATE TRIGGER ledger_admin_log_no_update BEFORE UPDATE ON ledger_admin_log
    BEGIN SELECT RAISE(ABORT, 'ledger_admin_log is append-only: records are never updated'); END
    """,
    """
    CREATE TRIGGER ledger_admin_log_no_delete BEFORE DELETE ON ledger_admin_log
    BEGIN SELECT RAISE(ABORT, 'ledger_admin_log is append-only: records are never deleted'); END
    """,
)
SQLITE_DOWN = (
    "DROP TRIGGER ledger_admin_log_no_replace",
    "DROP TRIGGER ledger_events_no_replace",
    "DROP TRIGGER ledger_admin_log_no_delete",
    "DROP TRIGGER ledger_admin_log_no_update",
    "DROP TRIGGER ledger_events_no_delete",
    """
    CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: use tradeledger rollback'); END
    """,
)
POSTGRES_UP = (
    f"""
    CREATE OR REPLACE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND {COVERED} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'ledger_events is append-only: % is refused (use tradeledger rollback)', TG_OP;
    END $$
    """,
    """
    CREATE FUNCTION ledger_admin_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_admin_log is append-only: % is refused', TG_OP;
    END $$
    """,
    """
    CREATE TRIGGER ledger_admin_log_append_only BEFORE UPDATE OR DELETE ON ledger_admin_log
    FOR EACH ROW EXECUTE FUNCTION ledger_admin_log_append_only()
    """,
    """
    CREATE TRIGGER ledger_admin_log_no_truncate BEFORE TRUNCATE ON ledger_admin_log
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_admin_log_append_only()
    """,
)
POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS ledger_admin_log_no_truncate ON ledger_admin_log",
    "DROP TRIGGER IF EXISTS ledger_admin_log_append_only ON ledger_admin_log",
    "DROP FUNCTION IF EXISTS ledger_admin_log_append_only()",
    """
    CREATE OR REPLACE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_events is append-only: % is refused', TG_OP;
    END $$
    """,
)


def upgrade() -> None:
    op.create_table(
        "ledger_admin_log",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("from_epoch", sa.Integer, nullable=False),
        sa.Column("from_seq", Seq, nullable=False),
        sa.Column("from_hash", sa.String(64), nullable=False),
        sa.Column("to_epoch", sa.Integer, nullable=False),
        sa.Column("to_seq", Seq, nullable=False),
        sa.Column("to_hash", sa.String(64), nullable=False),
        sa.Column("removed", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_admin_log"),
    )
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN
    for statement in statements:
        op.execute(statement)
    op.drop_table("ledger_admin_log")
