-- What every server of one database shares beyond the conversations.

-- Agents with a console connection, per server, until a heartbeat lapses:
-- an agent is online while any server's row for them has not expired, so a
-- server that dies takes its agents offline within one heartbeat period.
CREATE TABLE agent_presence (
    server_id   TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,                   -- unix milliseconds
    PRIMARY KEY (server_id, agent_id)
);
CREATE INDEX agent_presence_expiry ON agent_presence (expires_at);

-- Single-use token ids seen, until their token could no longer be
-- accepted anyway: a token used on one server is refused on every other.
CREATE TABLE used_jtis (
    app_id      TEXT NOT NULL,
    jti         TEXT NOT NULL,
    keep_until  INTEGER NOT NULL,                   -- unix seconds
    PRIMARY KEY (app_id, jti)
);
CREATE INDEX used_jtis_keep_until ON used_jtis (keep_until);
