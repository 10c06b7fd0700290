"""The database schema as SQLAlchemy Core tables. Alembic revisions in migrations/ create it."""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# INTEGER PRIMARY KEY makes seq SQLite's rowid; BIGINT elsewhere. Values are always given explicitly.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Amount = sa.Text  # exact decimal strings, never floats
Time = sa.Text  # canonical UTC ISO 8601, sorts in time order
Hash = sa.String(64)

events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("recorded_at", Time, nullable=False),
    sa.Column("fill_id", sa.Text, nullable=False),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("exchange", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text),
    sa.Column("side", sa.Text),
    sa.Column("quantity", Amount),
    sa.Column("price", Amount),
    sa.Column("fee", Amount),
    sa.Column("occurred_at", Time, nullable=False),
    sa.Column("strategy", sa.Text),
    sa.Column("order_id", sa.Text),
    sa.Column("client_order_id", sa.Text),
    sa.Column("metadata", sa.Text),
    sa.Column("prev_hash", Hash, nullable=False),
    sa.Column("hash", Hash, nullable=False),
    # Revision 0007 (spec section 9): typed, versioned events. Rows written before it are v1 fills.
    sa.Column("type", sa.Text, nullable=False, server_default="fill"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("fees", sa.Text),  # a v2 fill's fees, canonical JSON
    sa.Column("amount", Amount),  # a funding payment's or a transfer's signed amount
    sa.Column("currency", sa.Text),  # ... and its currency
    sa.Column("kind", sa.Text),  # a transfer's kind: deposit, withdrawal, internal
    sa.UniqueConstraint("fill_id", "account", "exchange"),
    # Revision 0009 adds ix_ledger_events_order_id ON (order_id, account, exchange) WHERE order_id IS NOT NULL: the
    # fills of an order (exchanges/ccxt/covering.py). Not declared here: a dialect's `*_where` keyword would import
    # that dialect with this module (tests/e2e/test_startup_imports.py), and nothing builds tables from it.
    # Revision 0011 adds ix_ledger_events_exchange ON (exchange) WHERE seq > 0: the log's exchange names, read only by
    # EventLog.exchanges (the predicate keeps other queries' plans: see the revision).
)

# One row (id = 1): the log's head and, beside it, where the positions projection stands (moved in
# the same statement). Appends lock it (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), so seq
# is assigned in commit order with no gaps. A trigger (revision 0005) refuses any change that no
# append or audited rollback makes: the head names an event (or a rollback record's target) and the
# checkpoint equals it.
head = sa.Table(
    "ledger_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("seq", Seq, nullable=False),
    sa.Column("hash", Hash, nullable=False),
    sa.Column("checkpoint_epoch", sa.Integer, nullable=False),
    sa.Column("checkpoint_seq", Seq, nullable=False),
    sa.Column("checkpoint_hash", Hash, nullable=False),
    # Revision 0010: the latest occurred_at of the log's events whose metadata may name lots (EventLog.
    # lots_named_until; NULL when none does), read with the head and written with it, so that the usual append
    # (occurred after it, or a log naming no lots) is known at no cost to take no lot a recorded event names.
    sa.Column("lots_named_until", Time),
)

# One row per (account, symbol) ever traded: the open cycle (side is NULL when flat) and the sums
# over its closed cycles; lifetime totals are those sums plus the open cycle.
positions = sa.Table(
    "positions",
    metadata,
    sa.Column("account", sa.Text, primary_key=True),
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("side", sa.Text),
    sa.Column("quantity", Amount),
    sa.Column("avg_price", Amount),
    sa.Column("realized_pnl", Amount),
    sa.Column("fees", Amount),
    sa.Column("opened_at", Time),
    sa.Column("opened_seq", Seq),
    sa.Column("entered_quantity", Amount),
    sa.Column("last_seq", Seq),
    sa.Column("closed_realized_pnl", Amount, nullable=False),
    sa.Column("closed_fees", Amount, nullable=False),
    # Revision 0007: the open cycle's funding and unvalued fees (JSON [[currency, amount], ...]), and
    # the closed cycles' sums of both (funding booked while flat included).
    sa.Column("funding", Amount),
    sa.Column("unvalued_fees", sa.Text),
    sa.Column("closed_funding", Amount, nullable=False, server_default="0"),
    sa.Column("closed_unvalued_fees", sa.Text),
)

closed_positions = sa.Table(
    "closed_positions",
    metadata,
    sa.Column("closed_seq", Seq, primary_key=True, autoincrement=False),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("quantity", Amount, nullable=False),
    sa.Column("avg_price", Amount, nullable=False),
    sa.Column("realized_pnl", Amount, nullable=False),
    sa.Column("fees", Amount, nullable=False),
    sa.Column("opened_at", Time, nullable=False),
    sa.Column("opened_seq", Seq, nullable=False),
    sa.Column("closed_at", Time, nullable=False),
    sa.Column("funding", Amount, nullable=False, server_default="0"),
    sa.Column("unvalued_fees", sa.Text),
)

# The last price seen per symbol (the TradeManager's price cache). Market data, not ledger facts:
# upserted, coalesced, by TradeManager.update_price; never part of the hash chain.
price_marks = sa.Table(
    "price_marks",
    metadata,
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("price", Amount, nullable=False),
    sa.Column("marked_at", Time, nullable=False),
)

# Stop loss, take profit and the trailing ratchet of each open cycle; `opened_seq` names the cycle,
# so a row left from an earlier cycle of the same (account, symbol) is never applied to a new one.
risk_levels = sa.Table(
    "risk_levels",
    metadata,
    sa.Column("account", sa.Text, primary_key=True),
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("opened_seq", Seq, nullable=False),
    sa.Column("stop_loss_price", Amount),
    sa.Column("take_profit_price", Amount),
    sa.Column("trailing_stop_pct", Amount),
    sa.Column("highest_price", Amount, nullable=False),
    sa.Column("lowest_price", Amount, nullable=False),
)

# Snapshots of the positions projection: a copy of every `positions` row as of event `seq` (of
# `epoch`), taken every few thousand events. A cache for replay(until_seq=…, closed=False), never a
# source of truth: verify compares each with a replay; rebuild rewrites them, and so does a rollback,
# with the projection, in its transaction (a snapshot of another epoch is never used by replay).
position_snapshots = sa.Table(
    "position_snapshots",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=False),
    sa.Column("account", sa.Text, primary_key=True),
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),
    # Every other column of `positions`, as it is: a snapshot is a copy of its rows.
    *(
        sa.Column(column.name, column.type, nullable=column.nullable)
        for column in positions.c
        if column.name not in ("account", "symbol")
    ),
)

# The balances at each snapshot's seq (revision 0008): every `balances` entry of `projection_entries` (its key
# text, its amount) as it was after that event. Written with the position snapshot of the same seq, so that a
# rollback rewinds both from the newest snapshot at or below its target; a cache like them, checked by verify.
balance_snapshots = sa.Table(
    "balance_snapshots",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=False),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("amount", Amount, nullable=False),
)

# Audited operations on the log (revision 0004): a rollback's who/when/why, the heads before and
# after, and the removed events whole. Hash-chained like the log; append-only (triggers). A DELETE
# of an event is allowed by the trigger only when a rollback record here covers it and the event is
# part of the chain that ends at the record's `from_hash` (revision 0005).
admin_log = sa.Table(
    "ledger_admin_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("from_epoch", sa.Integer, nullable=False),
    sa.Column("from_seq", Seq, nullable=False),
    sa.Column("from_hash", Hash, nullable=False),
    sa.Column("to_epoch", sa.Integer, nullable=False),
    sa.Column("to_seq", Seq, nullable=False),
    sa.Column("to_hash", Hash, nullable=False),
    sa.Column("removed", sa.Text, nullable=False),
    sa.Column("prev_hash", Hash, nullable=False),
    sa.Column("hash", Hash, nullable=False),
)

# The (seq, hash) of every event a rollback removes, under its admin record's id, written in the
# rollback's transaction before the delete (revision 0005): the delete trigger looks each event up
# here, so a DELETE goes through only for the hashes the record lists. An index for the trigger
# (the record's JSON is the source of truth, which verify reads); append-only.
rollback_removed = sa.Table(
    "ledger_rollback_removed",
    metadata,
    sa.Column("record_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", Seq, primary_key=True, autoincrement=False),
    sa.Column("hash", Hash, nullable=False),
    sa.Index("ix_ledger_rollback_removed_seq", "seq"),
)

# Keyed tables of the projections that have no table of their own (revision 0006): one row per
# (projection, key), the value as text (JSON, exact decimals as strings), written in the same
# transaction as the log like every projection.
projection_entries = sa.Table(
    "projection_entries",
    metadata,
    sa.Column("projection", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
