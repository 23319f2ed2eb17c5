-- Issue 15: privacy requests and retention.
--
-- The audit log of privacy work: who exported or erased which customer of
-- which app, and what retention purged. It names ids and counts only,
-- never an email, a phone, a name or a message text. `actor`: `cli`,
-- `api-key:<name>` or `retention`. `detail`: counts, as JSON.
CREATE TABLE privacy_audit (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,                 -- unix milliseconds
    action       TEXT NOT NULL CHECK (action IN ('export', 'erase', 'retention')),
    app_id       TEXT NOT NULL,
    customer_id  TEXT,                             -- none for retention
    actor        TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX privacy_audit_app ON privacy_audit (app_id, at_ms);

-- FTS5 keeps a deleted row's terms in its index segments (a delete only
-- adds a tombstone) until segments happen to be merged, so an erased
-- customer's words would stay in the file. With `secure-delete` a delete
-- takes the row's entries out of the segments at once (SQLite 3.44 and
-- later read these tables; older ones refuse them). The server also runs
-- with `PRAGMA secure_delete = ON`, which zeroes the space a deleted row
-- leaves in its page and the pages freed.
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
INSERT INTO customers_fts (customers_fts, rank) VALUES ('secure-delete', 1);

-- A privacy request by email or phone also finds the profiles whose
-- sessions gave it (a phone given beside an email stays with the session).
CREATE INDEX sessions_app_display_email ON sessions (app_id, display_email)
    WHERE display_email IS NOT NULL;
CREATE INDEX sessions_app_display_phone ON sessions (app_id, display_phone)
    WHERE display_phone IS NOT NULL;
