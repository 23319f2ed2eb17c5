-- Issue 14: agent replies the customer has not read are emailed to them
-- (server/src/email/).
--
-- `emailed_seq`: every agent message up to this seq is handled: emailed,
-- or passed over (read by then, no address to send to, given up).
-- Recorded in the statement that ends an attempt, so a restart never
-- emails those again.
-- `email_due_at` (unix ms): when the email worker looks at the
-- conversation next; NULL: nothing pending. An agent reply sets it (if
-- unset) to the reply's time plus the app's `unread_delay_secs`; a worker
-- that claims it moves it to the end of its lease, so no other worker (or
-- server) takes it meanwhile, and one that stopped mid-send is retried.
-- `email_attempts`: failed attempts of the email pending (the backoff).
ALTER TABLE conversations ADD COLUMN emailed_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN email_due_at INTEGER;
ALTER TABLE conversations ADD COLUMN email_attempts INTEGER NOT NULL DEFAULT 0;

-- The worker finds what is due in this index, never in the messages.
CREATE INDEX conversations_email_due ON conversations (email_due_at)
    WHERE email_due_at IS NOT NULL;
