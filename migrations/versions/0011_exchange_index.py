"""An index of the log's events by exchange name: an append bringing an exchange name that its Ledger has not met
reads the names the log holds (application/exchange_names.py: a name differing only in case from one of them is
refused), a look-up per name through this index (EventLog.exchanges), not a read of the log.

Partial (WHERE seq > 0, which every event meets): a query that does not state it cannot use the index, so the
lookups by exchange and more (an order's fills by (order_id, account, exchange): revision 0009) keep the plans
they had. SQLite, with no statistics, took this index for any `exchange = ?` before that one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
    op.create_index(
        "ix_ledger_events_exchange",
        "ledger_events",
        ["exchange"],
        sqlite_where=sa.text("seq > 0"),
        postgresql_where=sa.text("seq > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_events_exchange", table_name="ledger_events")
