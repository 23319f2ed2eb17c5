-- The whole schema, equal to the SQLite one after its 0006: the same
-- tables, columns and index names, so queries, `db copy` and the mapping
-- of unique violations to keys (`store::postgres::rows::unique_key`) read
-- alike on both. Times are BIGINT (customers and sessions in Unix seconds,
-- the rest in Unix milliseconds, as on SQLite); flags are BOOLEAN.
--
-- One addition: `customers` and `conversations` have `rowid`, SQLite's
-- implicit insertion order made explicit, for the tie-breaks of queries
-- that order by time ("the newest", "oldest first") and for `db copy`,
-- which copies rows in that order.

CREATE TABLE customers (
    rowid       BIGINT GENERATED ALWAYS AS IDENTITY,
    id          TEXT PRIMARY KEY,                  -- uuid v4
    app_id      TEXT NOT NULL,
    sub         TEXT,                              -- the token's sub, once proven
    name        TEXT,
    email       TEXT,                              -- lowercased by validation
    phone       TEXT,                              -- E.164
    created_at  BIGINT NOT NULL,                   -- unix seconds
    updated_at  BIGINT NOT NULL                    -- unix seconds
);

-- Proven profiles are keyed by `sub`; profiles nobody proved stay unique by
-- email and by phone, so claims of one email share one profile.
CREATE UNIQUE INDEX customers_app_sub ON customers (app_id, sub) WHERE sub IS NOT NULL;
CREATE UNIQUE INDEX customers_app_claimed_email ON customers (app_id, email)
    WHERE sub IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX customers_app_claimed_phone ON customers (app_id, phone)
    WHERE sub IS NULL AND phone IS NOT NULL;
CREATE INDEX customers_app_email_any ON customers (app_id, email) WHERE email IS NOT NULL;
CREATE INDEX customers_app_phone_any ON customers (app_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,          -- uuid v4
    token_hash          TEXT NOT NULL,             -- sha-256 hex of the bearer token
    app_id              TEXT NOT NULL,
    customer_id         TEXT NOT NULL REFERENCES customers (id),
    trusted             BOOLEAN NOT NULL DEFAULT FALSE,
    trusted_until       BIGINT,                    -- when the JWT proof expires, unix seconds
    identity_kind       TEXT NOT NULL CHECK (identity_kind IN ('anonymous', 'user', 'jwt')),
    display_name        TEXT,
    created_at          BIGINT NOT NULL,           -- unix seconds
    revoked_at          BIGINT,                    -- unix seconds
    display_first_name  TEXT,
    sub                 TEXT,
    display_email       TEXT,
    display_phone       TEXT,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX sessions_customer ON sessions (customer_id);

CREATE TABLE conversations (
    rowid              BIGINT GENERATED ALWAYS AS IDENTITY,
    id                 TEXT PRIMARY KEY,           -- uuid v4
    app_id             TEXT NOT NULL,
    customer_id        TEXT NOT NULL REFERENCES customers (id),
    status             TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at         BIGINT NOT NULL,            -- unix milliseconds
    closed_at          BIGINT,
    last_seq           BIGINT NOT NULL DEFAULT 0,  -- the seq of its newest message
    assigned_agent_id  TEXT,
    last_activity_at   BIGINT NOT NULL,
    session_id         TEXT,                       -- the session that started it
    proven             BOOLEAN NOT NULL DEFAULT FALSE
);

-- A customer's proven sessions share one open proven conversation; a
-- session writes into one open conversation at a time.
CREATE UNIQUE INDEX conversations_open_proven_per_customer
    ON conversations (customer_id) WHERE status = 'open' AND proven;
CREATE UNIQUE INDEX conversations_open_per_session
    ON conversations (session_id) WHERE status = 'open';
CREATE INDEX conversations_customer ON conversations (customer_id, created_at);
CREATE INDEX conversations_app_activity ON conversations (app_id, status, last_activity_at);
CREATE INDEX conversations_session ON conversations (session_id, created_at);
CREATE INDEX conversations_assigned ON conversations (assigned_agent_id, status);
CREATE INDEX conversations_queue ON conversations (status, created_at) WHERE assigned_agent_id IS NULL;

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,             -- uuid v4
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    seq              BIGINT NOT NULL,              -- 1, 2, 3, ... per conversation
    author           TEXT NOT NULL CHECK (author IN ('customer', 'agent')),
    author_name      TEXT,
    kind             TEXT NOT NULL CHECK (kind IN ('text', 'login_request')),
    body             TEXT NOT NULL,
    link             TEXT,
    trusted          BOOLEAN NOT NULL DEFAULT FALSE, -- decided by the server at receipt
    created_at_ms    BIGINT NOT NULL,
    client_id        TEXT,                         -- the idempotency key
    session_id       TEXT,                         -- the customer session that sent it
    customer_id      TEXT,                         -- the customer who sent it (follows a moved conversation)
    CONSTRAINT messages_conversation_id_seq_key UNIQUE (conversation_id, seq)
);

-- Idempotent sends: one message per customer and client_id, whatever the
-- conversation.
CREATE UNIQUE INDEX messages_customer_client_id
    ON messages (customer_id, client_id) WHERE client_id IS NOT NULL;
-- Idempotent agent replies: one per conversation and client_id.
CREATE UNIQUE INDEX messages_agent_client_id
    ON messages (conversation_id, client_id) WHERE author = 'agent' AND client_id IS NOT NULL;

-- No trigger moves `last_seq`: the statement that stores a message takes
-- its seq with `UPDATE conversations SET last_seq = last_seq + 1 ...
-- RETURNING last_seq`, whose row lock orders writers of one conversation
-- on every server.

CREATE TABLE agents (
    id                TEXT PRIMARY KEY,            -- uuid v4
    email             TEXT NOT NULL,               -- lowercased
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,               -- argon2id PHC string
    status            TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'away')),
    created_at        BIGINT NOT NULL,             -- unix milliseconds
    disabled_at       BIGINT,                      -- set by `agent remove`
    last_assigned_at  BIGINT                       -- routing's tie-break
);

-- One live account per email, whatever its case. `lower` of the "C"
-- collation folds ASCII letters only, whatever the database's locale, like
-- SQLite's NOCASE: a Unicode case mapping would merge distinct mailboxes
-- (the Kelvin sign and `k`).
CREATE UNIQUE INDEX agents_email ON agents (lower(email COLLATE "C")) WHERE disabled_at IS NULL;

CREATE TABLE agent_sessions (
    id          TEXT PRIMARY KEY,                  -- uuid v4
    token_hash  TEXT NOT NULL,                     -- sha-256 hex of the cookie's token
    csrf_token  TEXT NOT NULL,
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    created_at  BIGINT NOT NULL,                   -- unix milliseconds
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    CONSTRAINT agent_sessions_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

CREATE TABLE agent_reads (
    agent_id         TEXT NOT NULL REFERENCES agents (id),
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    seq              BIGINT NOT NULL,
    PRIMARY KEY (agent_id, conversation_id)
);

-- Agents with a console connection, per server, until a heartbeat lapses.
CREATE TABLE agent_presence (
    server_id   TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,                   -- unix milliseconds
    PRIMARY KEY (server_id, agent_id)
);
CREATE INDEX agent_presence_expiry ON agent_presence (expires_at);

-- Single-use token ids seen, until their token could no longer be accepted.
CREATE TABLE used_jtis (
    app_id      TEXT NOT NULL,
    jti         TEXT NOT NULL,
    keep_until  BIGINT NOT NULL,                   -- unix seconds
    PRIMARY KEY (app_id, jti)
);
CREATE INDEX used_jtis_keep_until ON used_jtis (keep_until);
