"""The fill log, its head, the position projection and its checkpoint.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_APPEND_ONLY = (
    """
    CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: events are never updated'); END
    """,
    """
    CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: use tradeledger rollback'); END
    """,
)
POSTGRES_APPEND_ONLY = (
    """
    CREATE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_events is append-only: % is refused', TG_OP;
    END $$
    """,
    """
    CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only()
    """,
    """
    CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_append_only()
    """,
)


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("seq", Seq, primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
        sa.Column("fill_id", sa.Text, nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("exchange", sa.Text, nullable=False),
        sa.Column("symbol", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("price", sa.Text, nullable=False),
        sa.Column("fee", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text),
        sa.Column("order_id", sa.Text),
        sa.Column("client_order_id", sa.Text),
        sa.Column("metadata", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_events"),
        sa.UniqueConstraint("fill_id", "account", "exchange", name="uq_ledger_events_fill_id_account_exchange"),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("seq", Seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
    )
    op.create_table(
        "positions",
        sa.Column("account", sa.Text),
        sa.Column("symbol", sa.Text),
        sa.Column("side", sa.Text),
        sa.Column("quantity", sa.Text),
        sa.Column("avg_price", sa.Text),
        sa.Column("realized_pnl", sa.Text),
        sa.Column("fees", sa.Text),
        sa.Column("opened_at", sa.Text),
        sa.Column("opened_seq", Seq),
        sa.Column("entered_quantity", sa.Text),
        sa.Column("last_seq", Seq),
        sa.Column("closed_realized_pnl", sa.Text, nullable=False),
        sa.Column("closed_fees", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("account", "symbol", name="pk_positions"),
    )
    op.create_table(
        "closed_positions",
        sa.Column("closed_seq", Seq, autoincrement=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("symbol", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("avg_price", sa.Text, nullable=False),
        sa.Column("realized_pnl", sa.Text, nullable=False),
        sa.Column("fees", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Text, nullable=False),
        sa.Column("opened_seq", Seq, nullable=False),
        sa.Column("closed_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("closed_seq", name="pk_closed_positions"),
    )
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.Text),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("seq", Seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_projection_checkpoints"),
    )
    genesis = {"epoch": 1, "seq": 0, "hash": "0" * 64}
    op.bulk_insert(
        sa.table("ledger_head", sa.column("id"), sa.column("epoch"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, **genesis}],
    )
    op.bulk_insert(
        sa.table("projection_checkpoints", sa.column("name"), sa.column("epoch"), sa.column("seq"), sa.column("hash")),
        [{"name": "positions", **genesis}],
    )
    statements = SQLITE_APPEND_ONLY if op.get_bind().dialect.name == "sqlite" else POSTGRES_APPEND_ONLY
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_events_no_truncate ON ledger_events")
        op.execute("DROP TRIGGER IF EXISTS ledger_events_append_only ON ledger_events")
        op.execute("DROP FUNCTION IF EXISTS ledger_events_append_only()")
    for table in ("projection_checkpoints", "closed_positions", "positions", "ledger_head", "ledger_events"):
        op.drop_table(table)
