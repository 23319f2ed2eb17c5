-- Appends update their conversation's row (`last_seq`, `last_activity_at`)
-- once per message. Postgres can make that a heap-only (HOT) update, which
-- writes no index entry, only when no index holds a column it changes and
-- the row's page has room for the new version. So: no index on
-- `last_activity_at` (no query searched by it: the console's lists sort
-- the few conversations of one agent or customer after finding them by
-- their own indexes), and room in each page.
DROP INDEX IF EXISTS conversations_app_activity;
ALTER TABLE conversations SET (fillfactor = 70);
