"""The head row keeps the latest occurred_at of the log's events whose metadata may name lots (`metadata.lots`):
an append dated before it is checked for the lots it takes first in, first out (application/lot_picks.py), read
with the head at no cost; NULL when no event names lots (the usual ledger), and filled here from the log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
    op.add_column("ledger_head", sa.Column("lots_named_until", sa.Text))
    # The stored times are canonical UTC text of one width, compared as bytes ("C" on PostgreSQL); LIKE is
    # case-insensitive on SQLite, which only makes the mark later (a check more, never one less).
    occurred = 'occurred_at COLLATE "C"' if op.get_bind().dialect.name == "postgresql" else "occurred_at"
    op.execute(
        "UPDATE ledger_head SET lots_named_until = "  # noqa: S608 - constant text
        f"(SELECT max({occurred}) FROM ledger_events WHERE metadata LIKE '%\"lots\"%') WHERE id = 1"
    )


def downgrade() -> None:
    op.drop_column("ledger_head", "lots_named_until")
