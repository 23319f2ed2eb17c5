-- Agent accounts, their console sessions, read markers, and routing.
-- Times here are unix milliseconds, like conversations.

CREATE TABLE agents (
    id                TEXT PRIMARY KEY NOT NULL,       -- uuid v4
    email             TEXT NOT NULL,                   -- lowercased
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,                   -- argon2id PHC string
    status            TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'away')),
    created_at        INTEGER NOT NULL,
    disabled_at       INTEGER,                         -- set by `agent remove`
    last_assigned_at  INTEGER                          -- routing's tie-break: idle longest first
);

-- One live account per email, whatever its case; a removed agent's email
-- may be used again.
CREATE UNIQUE INDEX agents_email ON agents (email COLLATE NOCASE) WHERE disabled_at IS NULL;

CREATE TABLE agent_sessions (
    id          TEXT PRIMARY KEY NOT NULL,             -- uuid v4
    token_hash  TEXT NOT NULL UNIQUE,                  -- sha-256 hex of the cookie's token
    csrf_token  TEXT NOT NULL,
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

-- How far each agent has read each conversation.
CREATE TABLE agent_reads (
    agent_id         TEXT NOT NULL REFERENCES agents (id),
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    seq              INTEGER NOT NULL,
    PRIMARY KEY (agent_id, conversation_id)
);

CREATE INDEX conversations_assigned ON conversations (assigned_agent_id, status);
CREATE INDEX conversations_queue ON conversations (status, created_at) WHERE assigned_agent_id IS NULL;

-- Idempotent agent replies: one message per conversation and client_id
-- among agent messages (customer messages have their own index).
CREATE UNIQUE INDEX messages_agent_client_id
    ON messages (conversation_id, client_id) WHERE author = 'agent' AND client_id IS NOT NULL;
