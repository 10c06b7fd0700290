"""An index of the log's fills by the exchange's order id: a fill a bot recorded live with the order id covers that
order's trades when the exchange's list is ingested or synced (exchanges/ccxt/covering.py), which looks the order's
fills up by (order_id, account, exchange) without reading the log.

Partial (WHERE order_id IS NOT NULL): a fill without an order id (funding, transfers, and a bot's fills that
carry none) is not in it, so an append of one writes no index entry.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
    op.create_index(
        "ix_ledger_events_order_id",
        "ledger_events",
        ["order_id", "account", "exchange"],
        sqlite_where=sa.text("order_id IS NOT NULL"),
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_events_order_id", table_name="ledger_events")
