-- The schema a new PostgreSQL ledger is created with: what migrations/versions build on an empty
-- database, dumped by scripts/schema_head.py (never edited by hand; tests/integration/test_schema.py
-- holds the two to the same dump).
CREATE FUNCTION ledger_admin_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_admin_log is append-only: % is refused', TG_OP;
    END $$;

CREATE FUNCTION ledger_events_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND 
    EXISTS (SELECT 1 FROM ledger_rollback_removed AS r JOIN ledger_admin_log AS a ON a.id = r.record_id
            WHERE r.seq = OLD.seq AND r.hash = OLD.hash
              AND a.action = 'rollback' AND OLD.epoch <= a.from_epoch
              AND a.to_seq < OLD.seq AND OLD.seq <= a.from_seq)
 THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'ledger_events is append-only: % is refused (use tradeledger rollback)', TG_OP;
    END $$;

CREATE FUNCTION ledger_events_lots_named() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        UPDATE ledger_head SET lots_named_until = NEW.occurred_at
        WHERE id = 1
          AND (lots_named_until IS NULL OR lots_named_until COLLATE "C" < NEW.occurred_at COLLATE "C");
        RETURN NULL;
    END $$;

CREATE FUNCTION ledger_head_follows_the_log() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF 
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
 THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'ledger_head follows the log: % is refused (only an append or an audited rollback moves it)',
            TG_OP;
    END $$;

CREATE FUNCTION ledger_rollback_removed_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_rollback_removed is append-only: % is refused', TG_OP;
    END $$;

CREATE TABLE alembic_version (
    version_num character varying(32) NOT NULL
);

CREATE TABLE balance_snapshots (
    seq bigint NOT NULL,
    key text NOT NULL,
    epoch integer NOT NULL,
    amount text NOT NULL
);

CREATE TABLE closed_positions (
    closed_seq bigint NOT NULL,
    account text NOT NULL,
    symbol text NOT NULL,
    side text NOT NULL,
    quantity text NOT NULL,
    avg_price text NOT NULL,
    realized_pnl text NOT NULL,
    fees text NOT NULL,
    opened_at text NOT NULL,
    opened_seq bigint NOT NULL,
    closed_at text NOT NULL,
    funding text DEFAULT '0'::text NOT NULL,
    unvalued_fees text
);

CREATE TABLE ledger_admin_log (
    id integer NOT NULL,
    action text NOT NULL,
    at text NOT NULL,
    actor text NOT NULL,
    reason text NOT NULL,
    from_epoch integer NOT NULL,
    from_seq bigint NOT NULL,
    from_hash character varying(64) NOT NULL,
    to_epoch integer NOT NULL,
    to_seq bigint NOT NULL,
    to_hash character varying(64) NOT NULL,
    removed text NOT NULL,
    prev_hash character varying(64) NOT NULL,
    hash character varying(64) NOT NULL
);

CREATE TABLE ledger_events (
    seq bigint NOT NULL,
    epoch integer NOT NULL,
    recorded_at text NOT NULL,
    fill_id text NOT NULL,
    account text NOT NULL,
    exchange text NOT NULL,
    symbol text,
    side text,
    quantity text,
    price text,
    fee text,
    occurred_at text NOT NULL,
    strategy text,
    order_id text,
    client_order_id text,
    metadata text,
    prev_hash character varying(64) NOT NULL,
    hash character varying(64) NOT NULL,
    type text DEFAULT 'fill'::text NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    fees text,
    amount text,
    currency text,
    kind text
);

CREATE TABLE ledger_head (
    id integer NOT NULL,
    epoch integer NOT NULL,
    seq bigint NOT NULL,
    hash character varying(64) NOT NULL,
    checkpoint_epoch integer DEFAULT 1 NOT NULL,
    checkpoint_seq bigint DEFAULT '0'::bigint NOT NULL,
    checkpoint_hash character varying(64) DEFAULT '0000000000000000000000000000000000000000000000000000000000000000'::character varying NOT NULL,
    lots_named_until text
);

CREATE TABLE ledger_rollback_removed (
    record_id integer NOT NULL,
    seq bigint NOT NULL,
    hash character varying(64) NOT NULL
);

CREATE TABLE position_snapshots (
    seq bigint NOT NULL,
    account text NOT NULL,
    symbol text NOT NULL,
    epoch integer NOT NULL,
    side text,
    quantity text,
    avg_price text,
    realized_pnl text,
    fees text,
    opened_at text,
    opened_seq bigint,
    entered_quantity text,
    last_seq bigint,
    closed_realized_pnl text NOT NULL,
    closed_fees text NOT NULL,
    funding text,
    unvalued_fees text,
    closed_funding text DEFAULT '0'::text NOT NULL,
    closed_unvalued_fees text
);

CREATE TABLE positions (
    account text NOT NULL,
    symbol text NOT NULL,
    side text,
    quantity text,
    avg_price text,
    realized_pnl text,
    fees text,
    opened_at text,
    opened_seq bigint,
    entered_quantity text,
    last_seq bigint,
    closed_realized_pnl text NOT NULL,
    closed_fees text NOT NULL,
    funding text,
    unvalued_fees text,
    closed_funding text DEFAULT '0'::text NOT NULL,
    closed_unvalued_fees text
);

CREATE TABLE price_marks (
    symbol text NOT NULL,
    price text NOT NULL,
    marked_at text NOT NULL
);

CREATE TABLE projection_entries (
    projection text NOT NULL,
    key text NOT NULL,
    value text NOT NULL
);

CREATE TABLE risk_levels (
    account text NOT NULL,
    symbol text NOT NULL,
    opened_seq bigint NOT NULL,
    stop_loss_price text,
    take_profit_price text,
    trailing_stop_pct text,
    highest_price text NOT NULL,
    lowest_price text NOT NULL
);

INSERT INTO alembic_version VALUES ('0012');

INSERT INTO ledger_head VALUES (1, 1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 1, 0, '0000000000000000000000000000000000000000000000000000000000000000', NULL);

ALTER TABLE ONLY alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY balance_snapshots
    ADD CONSTRAINT pk_balance_snapshots PRIMARY KEY (seq, key);

ALTER TABLE ONLY closed_positions
    ADD CONSTRAINT pk_closed_positions PRIMARY KEY (closed_seq);

ALTER TABLE ONLY ledger_admin_log
    ADD CONSTRAINT pk_ledger_admin_log PRIMARY KEY (id);

ALTER TABLE ONLY ledger_events
    ADD CONSTRAINT pk_ledger_events PRIMARY KEY (seq);

ALTER TABLE ONLY ledger_head
    ADD CONSTRAINT pk_ledger_head PRIMARY KEY (id);

ALTER TABLE ONLY ledger_rollback_removed
    ADD CONSTRAINT pk_ledger_rollback_removed PRIMARY KEY (record_id, seq);

ALTER TABLE ONLY position_snapshots
    ADD CONSTRAINT pk_position_snapshots PRIMARY KEY (seq, account, symbol);

ALTER TABLE ONLY positions
    ADD CONSTRAINT pk_positions PRIMARY KEY (account, symbol);

ALTER TABLE ONLY price_marks
    ADD CONSTRAINT pk_price_marks PRIMARY KEY (symbol);

ALTER TABLE ONLY projection_entries
    ADD CONSTRAINT pk_projection_entries PRIMARY KEY (projection, key);

ALTER TABLE ONLY risk_levels
    ADD CONSTRAINT pk_risk_levels PRIMARY KEY (account, symbol);

ALTER TABLE ONLY ledger_events
    ADD CONSTRAINT uq_ledger_events_fill_id_account_exchange UNIQUE (fill_id, account, exchange);

CREATE INDEX ix_ledger_events_exchange ON ledger_events USING btree (exchange) WHERE (seq > 0);

CREATE INDEX ix_ledger_events_order_id ON ledger_events USING btree (order_id, account, exchange) WHERE (order_id IS NOT NULL);

CREATE INDEX ix_ledger_rollback_removed_seq ON ledger_rollback_removed USING btree (seq);

CREATE TRIGGER ledger_admin_log_append_only BEFORE DELETE OR UPDATE ON ledger_admin_log FOR EACH ROW EXECUTE FUNCTION ledger_admin_log_append_only();

CREATE TRIGGER ledger_admin_log_no_truncate BEFORE TRUNCATE ON ledger_admin_log FOR EACH STATEMENT EXECUTE FUNCTION ledger_admin_log_append_only();

CREATE TRIGGER ledger_events_append_only BEFORE DELETE OR UPDATE ON ledger_events FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only();

CREATE TRIGGER ledger_events_lots_named AFTER INSERT ON ledger_events FOR EACH ROW WHEN ((new.metadata ~~ '%"lots"%'::text)) EXECUTE FUNCTION ledger_events_lots_named();

CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_append_only();

CREATE TRIGGER ledger_head_follows_the_log BEFORE INSERT OR DELETE OR UPDATE ON ledger_head FOR EACH ROW EXECUTE FUNCTION ledger_head_follows_the_log();

CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head FOR EACH STATEMENT EXECUTE FUNCTION ledger_head_follows_the_log();

CREATE TRIGGER ledger_rollback_removed_append_only BEFORE DELETE OR UPDATE ON ledger_rollback_removed FOR EACH ROW EXECUTE FUNCTION ledger_rollback_removed_append_only();

CREATE TRIGGER ledger_rollback_removed_no_truncate BEFORE TRUNCATE ON ledger_rollback_removed FOR EACH STATEMENT EXECUTE FUNCTION ledger_rollback_removed_append_only();
