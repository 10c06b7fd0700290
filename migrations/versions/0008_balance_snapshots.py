"""Snapshots of the balances beside those of the positions: a rollback rewinds from the newest snapshot at or
below its target instead of folding the whole log again.

`balance_snapshots` holds, at each snapshot's seq, every `balances` entry of `projection_entries` as it was
after that event (its key text and amount). A ledger that already has position snapshots gets them filled by
the next open, which rebuilds the projections once (tradeledger.bootstrap), so that every snapshot holds both.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
    op.create_table(
        "balance_snapshots",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("amount", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", "key", name="pk_balance_snapshots"),
    )
    op.execute(
        "INSERT INTO projection_entries (projection, key, value) SELECT 'pending', 'rebuild', "
        "'revision 0008: the balances of each snapshot' "
        "WHERE EXISTS (SELECT 1 FROM position_snapshots) "
        "AND NOT EXISTS (SELECT 1 FROM projection_entries WHERE projection = 'pending' AND key = 'rebuild')"
    )


def downgrade() -> None:
    op.drop_table("balance_snapshots")
