"""Keyed tables for projections beyond positions (balances, lots, subscriber positions, ...).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
    op.create_table(
        "projection_entries",
        sa.Column("projection", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("projection", "key", name="pk_projection_entries"),
    )


def downgrade() -> None:
    op.drop_table("projection_entries")
