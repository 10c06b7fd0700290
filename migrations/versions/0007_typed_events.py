"""Typed, versioned events (spec section 9): fill, funding, transfer; funding and unvalued fees on cycles.

`ledger_events` gains type, version, fees, amount, currency and kind; symbol, side, quantity, price and
fee become nullable (a funding payment has no side, a transfer no symbol, a v2 fill keeps its fees in
`fees`). Every row written before is a v1 fill: its values and its hash stay as they are. On SQLite a
NOT NULL cannot be dropped in place, so the table is rebuilt the SQLite way (new table, copy, drop,
rename), with every trigger that reads it taken down first and put back verbatim after. The cycles
(`positions`, `position_snapshots`, `closed_positions`) gain funding and unvalued fees.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# A revision is a frozen snapshot: its DDL is written out here, never imported from schema.py.
_COMMON = """
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    fill_id TEXT NOT NULL,
    account TEXT NOT NULL,
    exchange TEXT NOT NULL,
    symbol TEXT{nn},
    side TEXT{nn},
    quantity TEXT{nn},
    price TEXT{nn},
    fee TEXT{nn},
    occurred_at TEXT NOT NULL,
    strategy TEXT,
    order_id TEXT,
    client_order_id TEXT,
    metadata TEXT,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,{typed}
    CONSTRAINT pk_ledger_events PRIMARY KEY (seq),
    CONSTRAINT uq_ledger_events_fill_id_account_exchange UNIQUE (fill_id, account, exchange)
"""
_TYPED = """
    type TEXT DEFAULT 'fill' NOT NULL,
    version INTEGER DEFAULT 1 NOT NULL,
    fees TEXT,
    amount TEXT,
    currency TEXT,
    kind TEXT,"""
_V1_COLUMNS = (
    "seq, epoch, recorded_at, fill_id, account, exchange, symbol, side, quantity, price, fee, occurred_at, "
    "strategy, order_id, client_order_id, metadata, prev_hash, hash"
)
_TYPED_COLUMNS = f"{_V1_COLUMNS}, type, version, fees, amount, currency, kind"
_NULLABLE = ("symbol", "side", "quantity", "price", "fee")


def _new_event_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("type", sa.Text, nullable=False, server_default="fill"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("fees", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("currency", sa.Text),
        sa.Column("kind", sa.Text),
    ]


def _position_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("funding", sa.Text),
        sa.Column("unvalued_fees", sa.Text),
        sa.Column("closed_funding", sa.Text, nullable=False, server_default="0"),
        sa.Column("closed_unvalued_fees", sa.Text),
    ]


def _cycle_columns() -> dict[str, list[sa.Column[object]]]:
    return {
        "positions": _position_columns(),
        "position_snapshots": _position_columns(),
        "closed_positions": [
            sa.Column("funding", sa.Text, nullable=False, server_default="0"),
            sa.Column("unvalued_fees", sa.Text),
        ],
    }


def _rebuild_sqlite_events(*, typed: bool) -> None:
    """Rebuild ledger_events in the typed (or the v1) shape, keeping every row and every trigger."""
    bind = op.get_bind()
    triggers = bind.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND (tbl_name = 'ledger_events' OR sql LIKE '%ledger_events%') ORDER BY rowid"
        )
    ).all()
    indexes = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_events' AND sql IS NOT NULL")
    ).all()
    for name, _ in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    body = _COMMON.format(nn="" if typed else " NOT NULL", typed=_TYPED if typed else "")
    op.execute(f"CREATE TABLE ledger_events_rebuilt ({body})")
    columns = _V1_COLUMNS
    op.execute(f"INSERT INTO ledger_events_rebuilt ({columns}) SELECT {columns} FROM ledger_events ORDER BY seq")  # noqa: S608
    op.execute("DROP TABLE ledger_events")
    op.execute("ALTER TABLE ledger_events_rebuilt RENAME TO ledger_events")
    for (sql,) in indexes:
        op.execute(sql)
    for _, sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_events(typed=True)
    else:
        for name in _NULLABLE:
            op.alter_column("ledger_events", name, nullable=True)
        for column in _new_event_columns():
            op.add_column("ledger_events", column)
    for table, columns in _cycle_columns().items():
        for column in columns:
            op.add_column(table, column)
    # The balances projection is new: the next open of a ledger that has events rebuilds the projections
    # (tradeledger.bootstrap), in one transaction that also removes this note.
    op.execute(
        "INSERT INTO projection_entries (projection, key, value) SELECT 'pending', 'rebuild', "
        "'revision 0007: funding, unvalued fees and the balances projection' "
        "WHERE EXISTS (SELECT 1 FROM ledger_events)"
    )


def downgrade() -> None:
    bind = op.get_bind()
    typed = bind.execute(
        sa.text("SELECT count(*) FROM ledger_events WHERE type <> 'fill' OR version <> 1")
    ).scalar_one()
    funded = bind.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM positions WHERE closed_funding <> '0' OR funding NOT IN ('0')"
            " OR unvalued_fees IS NOT NULL OR closed_unvalued_fees IS NOT NULL)"
            " + (SELECT count(*) FROM closed_positions WHERE funding <> '0' OR unvalued_fees IS NOT NULL)"
        )
    ).scalar_one()
    if typed or funded:
        raise RuntimeError(
            f"cannot downgrade below revision 0007: {typed} events are not v1 fills and {funded} position rows "
            "hold funding or unvalued fees; a ledger written by this version needs it"
        )
    op.execute("DELETE FROM projection_entries WHERE projection IN ('pending', 'balances')")
    for table, columns in _cycle_columns().items():
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite_events(typed=False)
    else:
        for column in reversed(_new_event_columns()):
            op.drop_column("ledger_events", column.name)
        for name in _NULLABLE:
            op.alter_column("ledger_events", name, nullable=False)
