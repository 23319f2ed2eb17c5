-- Issue 14, as SQLite's 0009: how far the customer has read their
-- conversation.
ALTER TABLE conversations ADD COLUMN customer_read_seq BIGINT NOT NULL DEFAULT 0;
