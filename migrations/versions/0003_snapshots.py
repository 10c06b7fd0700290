"""Snapshots of the positions projection, for fast replay to any seq (a cache verify checks).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "position_snapshots",
        sa.Column("seq", Seq),
        sa.Column("account", sa.Text),
        sa.Column("symbol", sa.Text),
        sa.Column("epoch", sa.Integer, nullable=False),
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
        sa.PrimaryKeyConstraint("seq", "account", "symbol", name="pk_position_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("position_snapshots")
