-- Issue 14, as SQLite's 0010: agent replies the customer has not read are
-- emailed to them (see that file for the columns).
--
-- The index holds `email_due_at` only, which an append changes only on
-- an agent reply that starts a burst: customers' appends stay heap-only
-- (see 0002).
ALTER TABLE conversations ADD COLUMN emailed_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN email_due_at BIGINT;
ALTER TABLE conversations ADD COLUMN email_attempts BIGINT NOT NULL DEFAULT 0;

CREATE INDEX conversations_email_due ON conversations (email_due_at)
    WHERE email_due_at IS NOT NULL;
