-- Customers and their chat sessions. Timestamps are unix seconds.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY NOT NULL,   -- uuid v4
    app_id      TEXT NOT NULL,
    name        TEXT,
    email       TEXT,                        -- lowercased by validation
    phone       TEXT,                        -- E.164
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- A profile is found by email or phone within its app; partial indexes so
-- any number of anonymous customers (NULL email and phone) may exist.
CREATE UNIQUE INDEX customers_app_email ON customers (app_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX customers_app_phone ON customers (app_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,           -- uuid v4
    token_hash     TEXT NOT NULL UNIQUE,                -- sha-256 hex of the bearer token
    app_id         TEXT NOT NULL,
    customer_id    TEXT NOT NULL REFERENCES customers (id),
    trusted        INTEGER NOT NULL DEFAULT 0,
    trusted_until  INTEGER,                             -- when the JWT proof expires
    identity_kind  TEXT NOT NULL CHECK (identity_kind IN ('anonymous', 'user', 'jwt')),
    display_name   TEXT,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);

CREATE INDEX sessions_customer ON sessions (customer_id);
