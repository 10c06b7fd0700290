"""The head and the projection checkpoint in one row that follows the log; deletes tied to the record's hashes.

`ledger_head` takes the positions projection's checkpoint (`checkpoint_epoch`, `checkpoint_seq`,
`checkpoint_hash`, moved from `projection_checkpoints`, which goes). A trigger on the row refuses any
change that no append or audited rollback makes:

- the checkpoint equals the head (they move in one statement, in the append's transaction);
- the head names an event of the log (its seq and hash), or is seq 0 with the genesis hash;
- its epoch never goes back, and is the epoch of the event it names unless an audited rollback
  record moved the head to exactly this (epoch, seq, hash);
- it moves back in seq only to where a rollback record says (to_epoch, to_seq, to_hash);
- the row is never inserted again or deleted (nor truncated, on PostgreSQL).

A DELETE of an event (only a rollback makes one) must also match the hashes its record lists. The
record keeps its removed events as JSON, which a trigger can only scan (a rollback of N events would
cost N scans of N); so the rollback also writes each removed event's (seq, hash) into
`ledger_rollback_removed` under the record's id, in the same transaction, and the delete trigger
looks the row's seq and hash up there (a key look-up). That table is append-only too; verify reads
the records themselves, so it is an index for the trigger, never a source of truth.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64

# The head row is consistent (NEW is the row after the update); used by both dialects.
HEAD_HOLDS = """
    NEW.id = OLD.id
    AND NEW.checkpoint_epoch = NEW.epoch AND NEW.checkpoint_seq = NEW.seq AND NEW.checkpoint_hash = NEW.hash
    AND NEW.epoch >= OLD.epoch
    AND (
        (NEW.seq = 0 AND NEW.hash = '0000000000000000000000000000000000000000000000000000000000000000'
         AND NEW.epoch = 1)
        OR EXISTS (SELECT 1 FROM ledger_events AS e
                   WHERE e.seq = NEW.seq AND e.hash = NEW.hash AND e.epoch = NEW.epoch AND NEW.seq >= OLD.seq)
        OR EXISTS (SELECT 1 FROM ledger_admin_log AS a
                   WHERE a.action = 'rollback'
                     AND a.to_epoch = NEW.epoch AND a.to_seq = NEW.seq AND a.to_hash = NEW.hash)
    )
"""

# An event may go only as a rollback record removes it, with the hash the record lists for its seq.
COVERED = """
    EXISTS (SELECT 1 FROM ledger_rollback_removed AS r JOIN ledger_admin_log AS a ON a.id = r.record_id
            WHERE r.seq = OLD.seq AND r.hash = OLD.hash
              AND a.action = 'rollback' AND OLD.epoch <= a.from_epoch
              AND a.to_seq < OLD.seq AND OLD.seq <= a.from_seq)
"""

# 0004's condition, for the downgrade.
COVERED_0004 = """
    EXISTS (SELECT 1 FROM ledger_admin_log AS a
            WHERE a.action = 'rollback' AND OLD.epoch <= a.from_epoch
              AND a.to_seq < OLD.seq AND OLD.seq <= a.from_seq)
"""

SQLITE_UP = (
    f"""
    CREATE TRIGGER ledger_head_follows_the_log BEFORE UPDATE ON ledger_head
    WHEN NOT ({HEAD_HOLDS})
    BEGIN SELECT RAISE(ABORT, 'ledger_head follows the log: only an append or an audited rollback moves it'); END
    """,
    """
    CREATE TRIGGER ledger_head_no_insert BEFORE INSERT ON ledger_head
    BEGIN SELECT RAISE(ABORT, 'ledger_head is one row: it is never inserted again'); END
    """,
    """
    CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    BEGIN SELECT RAISE(ABORT, 'ledger_head is one row: it is never deleted'); END
    """,
    "DROP TRIGGER ledger_events_no_delete",
    f"""
    CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    WHEN NOT {COVERED}
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: use tradeledger rollback'); END
    """,
    """
    CREATE TRIGGER ledger_rollback_removed_no_update BEFORE UPDATE ON ledger_rollback_removed
    BEGIN SELECT RAISE(ABORT, 'ledger_rollback_removed is append-only: rows are never updated'); END
    """,
    """
    CREATE TRIGGER ledger_rollback_removed_no_delete BEFORE DELETE ON ledger_rollback_removed
    BEGIN SELECT RAISE(ABORT, 'ledger_rollback_removed is append-only: rows are never deleted'); END
    """,
    """
    CREATE TRIGGER ledger_rollback_removed_no_replace BEFORE INSERT ON ledger_rollback_removed
    WHEN EXISTS (SELECT 1 FROM ledger_rollback_removed AS r WHERE r.record_id = NEW.record_id AND r.seq = NEW.seq)
    BEGIN SELECT RAISE(ABORT, 'ledger_rollback_removed is append-only: an insert may not replace a row'); END
    """,
)
SQLITE_DOWN = (
    "DROP TRIGGER ledger_rollback_removed_no_update",
    "DROP TRIGGER ledger_rollback_removed_no_delete",
    "DROP TRIGGER ledger_rollback_removed_no_replace",
    "DROP TRIGGER ledger_head_follows_the_log",
    "DROP TRIGGER ledger_head_no_insert",
    "DROP TRIGGER ledger_head_no_delete",
    "DROP TRIGGER ledger_events_no_delete",
    f"""
    CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    WHEN NOT {COVERED_0004}
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: use tradeledger rollback'); END
    """,
)


def _postgres_events_function(covered: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND {covered} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'ledger_events is append-only: % is refused (use tradeledger rollback)', TG_OP;
    END $$
    """


POSTGRES_UP = (
    f"""
    CREATE FUNCTION ledger_head_follows_the_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF {HEAD_HOLDS} THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'ledger_head follows the log: % is refused (only an append or an audited rollback moves it)',
            TG_OP;
    END $$
    """,
    """
    CREATE TRIGGER ledger_head_follows_the_log BEFORE INSERT OR UPDATE OR DELETE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_head_follows_the_log()
    """,
    """
    CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_head_follows_the_log()
    """,
    _postgres_events_function(COVERED),
    """
    CREATE FUNCTION ledger_rollback_removed_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_rollback_removed is append-only: % is refused', TG_OP;
    END $$
    """,
    """
    CREATE TRIGGER ledger_rollback_removed_append_only BEFORE UPDATE OR DELETE ON ledger_rollback_removed
    FOR EACH ROW EXECUTE FUNCTION ledger_rollback_removed_append_only()
    """,
    """
    CREATE TRIGGER ledger_rollback_removed_no_truncate BEFORE TRUNCATE ON ledger_rollback_removed
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_rollback_removed_append_only()
    """,
)
POSTGRES_DOWN = (
    "DROP FUNCTION IF EXISTS ledger_rollback_removed_append_only() CASCADE",
    "DROP TRIGGER IF EXISTS ledger_head_no_truncate ON ledger_head",
    "DROP TRIGGER IF EXISTS ledger_head_follows_the_log ON ledger_head",
    "DROP FUNCTION IF EXISTS ledger_head_follows_the_log()",
    _postgres_events_function(COVERED_0004),
)


def upgrade() -> None:
    with op.batch_alter_table("ledger_head") as batch:
        batch.add_column(sa.Column("checkpoint_epoch", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("checkpoint_seq", Seq, nullable=False, server_default="0"))
        batch.add_column(sa.Column("checkpoint_hash", sa.String(64), nullable=False, server_default=GENESIS))
    op.execute(
        """
        UPDATE ledger_head SET
            checkpoint_epoch = (SELECT c.epoch FROM projection_checkpoints AS c WHERE c.name = 'positions'),
            checkpoint_seq = (SELECT c.seq FROM projection_checkpoints AS c WHERE c.name = 'positions'),
            checkpoint_hash = (SELECT c.hash FROM projection_checkpoints AS c WHERE c.name = 'positions')
        WHERE EXISTS (SELECT 1 FROM projection_checkpoints AS c WHERE c.name = 'positions')
        """
    )
    op.drop_table("projection_checkpoints")
    op.create_table(
        "ledger_rollback_removed",
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("seq", Seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "seq", name="pk_ledger_rollback_removed"),
    )
    op.create_index("ix_ledger_rollback_removed_seq", "ledger_rollback_removed", ["seq"])
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN
    for statement in statements:
        op.execute(statement)
    op.drop_table("ledger_rollback_removed")
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.Text),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("seq", Seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_projection_checkpoints"),
    )
    op.execute(
        """
        INSERT INTO projection_checkpoints (name, epoch, seq, hash)
        SELECT 'positions', checkpoint_epoch, checkpoint_seq, checkpoint_hash FROM ledger_head WHERE id = 1
        """
    )
    with op.batch_alter_table("ledger_head") as batch:
        batch.drop_column("checkpoint_hash")
        batch.drop_column("checkpoint_seq")
        batch.drop_column("checkpoint_epoch")
