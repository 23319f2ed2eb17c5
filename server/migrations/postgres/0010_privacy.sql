-- Issue 15: the audit log of privacy work (see the SQLite migration
-- 0014_privacy.sql): ids and counts only, never an email, a phone, a name
-- or a message text.
CREATE TABLE privacy_audit (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms        BIGINT NOT NULL,                  -- unix milliseconds
    action       TEXT NOT NULL CHECK (action IN ('export', 'erase', 'retention')),
    app_id       TEXT NOT NULL,
    customer_id  TEXT,                             -- none for retention
    actor        TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX privacy_audit_app ON privacy_audit (app_id, at_ms);
