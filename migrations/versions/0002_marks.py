"""Price marks and the risk levels of open position cycles (the TradeManager's market-side state).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "price_marks",
        sa.Column("symbol", sa.Text),
        sa.Column("price", sa.Text, nullable=False),
        sa.Column("marked_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_price_marks"),
    )
    op.create_table(
        "risk_levels",
        sa.Column("account", sa.Text),
        sa.Column("symbol", sa.Text),
        sa.Column("opened_seq", Seq, nullable=False),
        sa.Column("stop_loss_price", sa.Text),
        sa.Column("take_profit_price", sa.Text),
        sa.Column("trailing_stop_pct", sa.Text),
        sa.Column("highest_price", sa.Text, nullable=False),
        sa.Column("lowest_price", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("account", "symbol", name="pk_risk_levels"),
    )


def downgrade() -> None:
    op.drop_table("risk_levels")
    op.drop_table("price_marks")
