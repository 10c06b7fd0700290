-- The schema a new SQLite ledger is created with: what migrations/versions build on an empty
-- database, dumped by scripts/schema_head.py (never edited by hand; tests/integration/test_schema.py
-- holds the two to the same dump).
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0012');
CREATE TABLE balance_snapshots (
	seq INTEGER NOT NULL, 
	"key" TEXT NOT NULL, 
	epoch INTEGER NOT NULL, 
	amount TEXT NOT NULL, 
	CONSTRAINT pk_balance_snapshots PRIMARY KEY (seq, "key")
);
CREATE TABLE closed_positions (
	closed_seq INTEGER NOT NULL, 
	account TEXT NOT NULL, 
	symbol TEXT NOT NULL, 
	side TEXT NOT NULL, 
	quantity TEXT NOT NULL, 
	avg_price TEXT NOT NULL, 
	realized_pnl TEXT NOT NULL, 
	fees TEXT NOT NULL, 
	opened_at TEXT NOT NULL, 
	opened_seq INTEGER NOT NULL, 
	closed_at TEXT NOT NULL, funding TEXT DEFAULT '0' NOT NULL, unvalued_fees TEXT, 
	CONSTRAINT pk_closed_positions PRIMARY KEY (closed_seq)
);
CREATE TABLE ledger_admin_log (
	id INTEGER NOT NULL, 
	action TEXT NOT NULL, 
	at TEXT NOT NULL, 
	actor TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	from_epoch INTEGER NOT NULL, 
	from_seq INTEGER NOT NULL, 
	from_hash VARCHAR(64) NOT NULL, 
	to_epoch INTEGER NOT NULL, 
	to_seq INTEGER NOT NULL, 
	to_hash VARCHAR(64) NOT NULL, 
	removed TEXT NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_ledger_admin_log PRIMARY KEY (id)
);
CREATE TABLE "ledger_events" (
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    fill_id TEXT NOT NULL,
    account TEXT NOT NULL,
    exchange TEXT NOT NULL,
    symbol TEXT,
    side TEXT,
    quantity TEXT,
    price TEXT,
    fee TEXT,
    occurred_at TEXT NOT NULL,
    strategy TEXT,
    order_id TEXT,
    client_order_id TEXT,
    metadata TEXT,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    type TEXT DEFAULT 'fill' NOT NULL,
    version INTEGER DEFAULT 1 NOT NULL,
    fees TEXT,
    amount TEXT,
    currency TEXT,
    kind TEXT,
    CONSTRAINT pk_ledger_events PRIMARY KEY (seq),
    CONSTRAINT uq_ledger_events_fill_id_account_exchange UNIQUE (fill_id, account, exchange)
);
CREATE TABLE ledger_head (
	id INTEGER NOT NULL, 
	epoch INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	hash VARCHAR(64) NOT NULL, checkpoint_epoch INTEGER DEFAULT '1' NOT NULL, checkpoint_seq INTEGER DEFAULT '0' NOT NULL, checkpoint_hash VARCHAR(64) DEFAULT '0000000000000000000000000000000000000000000000000000000000000000' NOT NULL, lots_named_until TEXT, 
	CONSTRAINT pk_ledger_head PRIMARY KEY (id)
);
INSERT INTO "ledger_head" VALUES(1,1,0,'0000000000000000000000000000000000000000000000000000000000000000',1,0,'0000000000000000000000000000000000000000000000000000000000000000',NULL);
CREATE TABLE ledger_rollback_removed (
	record_id INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_ledger_rollback_removed PRIMARY KEY (record_id, seq)
);
CREATE TABLE position_snapshots (
	seq INTEGER NOT NULL, 
	account TEXT NOT NULL, 
	symbol TEXT NOT NULL, 
	epoch INTEGER NOT NULL, 
	side TEXT, 
	quantity TEXT, 
	avg_price TEXT, 
	realized_pnl TEXT, 
	fees TEXT, 
	opened_at TEXT, 
	opened_seq INTEGER, 
	entered_quantity TEXT, 
	last_seq INTEGER, 
	closed_realized_pnl TEXT NOT NULL, 
	closed_fees TEXT NOT NULL, funding TEXT, unvalued_fees TEXT, closed_funding TEXT DEFAULT '0' NOT NULL, closed_unvalued_fees TEXT, 
	CONSTRAINT pk_position_snapshots PRIMARY KEY (seq, account, symbol)
);
CREATE TABLE positions (
	account TEXT NOT NULL, 
	symbol TEXT NOT NULL, 
	side TEXT, 
	quantity TEXT, 
	avg_price TEXT, 
	realized_pnl TEXT, 
	fees TEXT, 
	opened_at TEXT, 
	opened_seq INTEGER, 
	entered_quantity TEXT, 
	last_seq INTEGER, 
	closed_realized_pnl TEXT NOT NULL, 
	closed_fees TEXT NOT NULL, funding TEXT, unvalued_fees TEXT, closed_funding TEXT DEFAULT '0' NOT NULL, closed_unvalued_fees TEXT, 
	CONSTRAINT pk_positions PRIMARY KEY (account, symbol)
);
CREATE TABLE price_marks (
	symbol TEXT NOT NULL, 
	price TEXT NOT NULL, 
	marked_at TEXT NOT NULL, 
	CONSTRAINT pk_price_marks PRIMARY KEY (symbol)
);
CREATE TABLE projection_entries (
	projection TEXT NOT NULL, 
	"key" TEXT NOT NULL, 
	value TEXT NOT NULL, 
	CONSTRAINT pk_projection_entries PRIMARY KEY (projection, "key")
);
CREATE TABLE risk_levels (
	account TEXT NOT NULL, 
	symbol TEXT NOT NULL, 
	opened_seq INTEGER NOT NULL, 
	stop_loss_price TEXT, 
	take_profit_price TEXT, 
	trailing_stop_pct TEXT, 
	highest_price TEXT NOT NULL, 
	lowest_price TEXT NOT NULL, 
	CONSTRAINT pk_risk_levels PRIMARY KEY (account, symbol)
);
CREATE TRIGGER ledger_admin_log_no_replace BEFORE INSERT ON ledger_admin_log
    WHEN EXISTS (SELECT 1 FROM ledger_admin_log AS a WHERE a.id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'ledger_admin_log is append-only: an insert may not replace a record'); END;
CREATE TRIGGER ledger_admin_log_no_update BEFORE UPDATE ON ledger_admin_log
    BEGIN SELECT RAISE(ABORT, 'ledger_admin_log is append-only: records are never updated'); END;
CREATE TRIGGER ledger_admin_log_no_delete BEFORE DELETE ON ledger_admin_log
    BEGIN SELECT RAISE(ABORT, 'ledger_admin_log is append-only: records are never deleted'); END;
CREATE INDEX ix_ledger_rollback_removed_seq ON ledger_rollback_removed (seq);
CREATE TRIGGER ledger_head_no_insert BEFORE INSERT ON ledger_head
    BEGIN SELECT RAISE(ABORT, 'ledger_head is one row: it is never inserted again'); END;
CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    BEGIN SELECT RAISE(ABORT, 'ledger_head is one row: it is never deleted'); END;
CREATE TRIGGER ledger_rollback_removed_no_update BEFORE UPDATE ON ledger_rollback_removed
    BEGIN SELECT RAISE(ABORT, 'ledger_rollback_removed is append-only: rows are never updated'); END;
CREATE TRIGGER ledger_rollback_removed_no_delete BEFORE DELETE ON ledger_rollback_removed
    BEGIN SELECT RAISE(ABORT, 'ledger_rollback_removed is append-only: rows are never deleted'); END;
CREATE TRIGGER ledger_rollback_removed_no_replace BEFORE INSERT ON ledger_rollback_removed
    WHEN EXISTS (SELECT 1 FROM ledger_rollback_removed AS r WHERE r.record_id = NEW.record_id AND r.seq = NEW.seq)
    BEGIN SELECT RAISE(ABORT, 'ledger_rollback_removed is append-only: an insert may not replace a row'); END;
CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: events are never updated'); END;
CREATE TRIGGER ledger_events_no_replace BEFORE INSERT ON ledger_events
    WHEN EXISTS (SELECT 1 FROM ledger_events AS e WHERE e.seq = NEW.seq
                 OR (e.fill_id = NEW.fill_id AND e.account = NEW.account AND e.exchange = NEW.exchange))
    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: an insert may not replace an event'); END;
CREATE TRIGGER ledger_head_follows_the_log BEFORE UPDATE ON ledger_head
    WHEN NOT (
    NEW.id = OLD.id
    AND NEW.checkpoint_epoch = NEW.epoch AND NEW.checkpoint_seq = NEW.seq AND NEW.checkpoint_hash = NEW.hash
    AND NEW.epoch >= OLD.epoch
    AND (
        (NEW.seq = 0 AND NEW.hash = '0000000000000000000000000000000000000000000000000000000000000000'
         AND NEW.epoch = 1)
        OR EXISTS (SELECT 1 FROM ledger_events AS e
                   WHERE e.seq = NEW.seq AND e.hash = NEW.hash AND e.epoch = NEW.epoch AND NEW.seq >= OLD.seq)
        OR EXISTS (SELECT 1 FROM ledger_admin_log AS a
                   WHERE a.action = 'rollback'
                     AND a.to_epoch = NEW.epoch AND a.to_seq = NEW.seq AND a.to_hash = NEW.hash)
    )
)
    BEGIN SELECT RAISE(ABORT, 'ledger_head follows the log: only an append or an audited rollback moves it'); END;
CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    WHEN NOT 
    EXISTS (SELECT 1 FROM ledger_rollback_removed AS r JOIN ledger_admin_log AS a ON a.id = r.record_id
            WHERE r.seq = OLD.seq AND r.hash = OLD.hash
              AND a.action = 'rollback' AND OLD.epoch <= a.from_epoch
              AND a.to_seq < OLD.seq AND OLD.seq <= a.from_seq)

    BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only: use tradeledger rollback'); END;
CREATE INDEX ix_ledger_events_order_id ON ledger_events (order_id, account, exchange) WHERE order_id IS NOT NULL;
CREATE INDEX ix_ledger_events_exchange ON ledger_events (exchange) WHERE seq > 0;
CREATE TRIGGER ledger_events_lots_named AFTER INSERT ON ledger_events
    WHEN NEW.metadata LIKE '%"lots"%'
    BEGIN
        UPDATE ledger_head SET lots_named_until = NEW.occurred_at
        WHERE id = 1 AND (lots_named_until IS NULL OR lots_named_until < NEW.occurred_at);
    END;
