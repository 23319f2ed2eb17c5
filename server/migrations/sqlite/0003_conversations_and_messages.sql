-- Conversations and their messages. Times here are unix milliseconds
-- (messages are ordered within a second); customers and sessions keep
-- seconds.

CREATE TABLE conversations (
    id                 TEXT PRIMARY KEY NOT NULL,      -- uuid v4
    app_id             TEXT NOT NULL,
    customer_id        TEXT NOT NULL REFERENCES customers (id),
    status             TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at         INTEGER NOT NULL,
    closed_at          INTEGER,
    last_seq           INTEGER NOT NULL DEFAULT 0,     -- the seq of its newest message
    assigned_agent_id  TEXT,                           -- routing, from the agent console on
    last_activity_at   INTEGER NOT NULL
);

-- A customer has at most one open conversation: the one new messages join.
CREATE UNIQUE INDEX conversations_open_per_customer
    ON conversations (customer_id) WHERE status = 'open';
CREATE INDEX conversations_customer ON conversations (customer_id, created_at);
CREATE INDEX conversations_app_activity ON conversations (app_id, status, last_activity_at);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY NOT NULL,        -- uuid v4
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    seq              INTEGER NOT NULL,                 -- 1, 2, 3, ... per conversation
    author           TEXT NOT NULL CHECK (author IN ('customer', 'agent')),
    author_name      TEXT,                             -- the agent's display name
    kind             TEXT NOT NULL CHECK (kind IN ('text', 'login_request')),
    body             TEXT NOT NULL,
    link             TEXT,
    trusted          INTEGER NOT NULL DEFAULT 0,       -- decided by the server at receipt
    created_at_ms    INTEGER NOT NULL,
    client_id        TEXT,                             -- the customer's idempotency key
    session_id       TEXT,                             -- the customer session that sent it
    customer_id      TEXT,                             -- the customer who sent it (follows a moved conversation)
    UNIQUE (conversation_id, seq)
);

-- Idempotent sends: one message per customer and client_id, whatever the
-- conversation, so a resend after a reload or a restart finds the first.
CREATE UNIQUE INDEX messages_customer_client_id
    ON messages (customer_id, client_id) WHERE client_id IS NOT NULL;

-- A message's seq is its conversation's last_seq + 1, taken in the
-- INSERT ... SELECT that stores it; this moves last_seq on in the same
-- statement, so seqs have no gaps and no repeats (UNIQUE above checks).
CREATE TRIGGER messages_advance_seq AFTER INSERT ON messages
BEGIN
    UPDATE conversations SET last_seq = NEW.seq, last_activity_at = NEW.created_at_ms
    WHERE id = NEW.conversation_id;
END;
