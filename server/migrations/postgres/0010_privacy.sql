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

-- A privacy request by email or phone also finds the profiles whose
-- sessions gave it (a phone given beside an email stays with the session).
CREATE INDEX sessions_app_display_email ON sessions (app_id, display_email)
    WHERE display_email IS NOT NULL;
CREATE INDEX sessions_app_display_phone ON sessions (app_id, display_phone)
    WHERE display_phone IS NOT NULL;
