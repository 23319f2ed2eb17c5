-- Issue 15, as SQLite's 0013: the webhook outbox (see that file for the
-- columns).
--
-- `seq` comes from an identity: rows of one conversation are inserted in
-- transactions that hold the conversation's row lock (the message's
-- `last_seq` bump, the close), so their seqs follow their commits.
CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    app_id           TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    order_key        TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pending_order ON webhook_deliveries (app_id, url, order_key, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, seq);
