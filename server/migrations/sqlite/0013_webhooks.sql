-- Issue 15: webhooks (server/src/webhooks/). The outbox: one row per
-- event and webhook, written in the transaction that commits the event
-- (a message, a conversation opened or closed, a session verified), so a
-- crash never loses one; the worker delivers them at least once.
--
-- `seq`: the order of enqueuing. Deliveries of one webhook with one
-- `order_key` (the conversation's id; the customer's for
-- `customer.verified`) go out in `seq` order: a row is not tried while an
-- earlier one of the same webhook and key is pending.
-- `id`: the delivery's id (the `TrustChat-Delivery` header); `event_id`:
-- the event's, the same in its deliveries to every webhook.
-- `url`: the webhook, as `[[apps.webhooks]]` names it (its key).
-- `payload`: the exact JSON body sent, signed at each attempt.
-- `status`: `pending` (waiting, retrying or in flight), `delivered` (a 2xx
-- answer), `failed` (given up `retry_for_secs` after `created_at`).
-- `next_attempt_at` (unix ms): when a pending row is due. A worker that
-- claims it moves it to the end of its lease, so no other worker takes it
-- meanwhile, and one that stopped mid-attempt is retried then; the lease
-- names the claim, and only that claim records the outcome.
-- `attempts`: attempts started (a claim counts one).
-- `last_error`: why the last attempt failed (an HTTP status, a timeout, a
-- refused connection); never the response's body.
CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    app_id           TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    order_key        TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER
);

-- The worker finds due rows here, and the earlier pending row of a key
-- with the second; the CLI lists an app's newest with the third.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pending_order ON webhook_deliveries (app_id, url, order_key, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, seq);
