-- Issue 13, as SQLite's 0008: what routing decided for a conversation,
-- the customer's rating, saved replies, and full-text search.
ALTER TABLE conversations ADD COLUMN team_id TEXT;
ALTER TABLE conversations ADD COLUMN priority BIGINT NOT NULL DEFAULT 1;
ALTER TABLE conversations ADD COLUMN rule TEXT;
ALTER TABLE conversations ADD COLUMN held_until BIGINT;
ALTER TABLE conversations ADD COLUMN rating BIGINT CHECK (rating BETWEEN 1 AND 5);
ALTER TABLE conversations ADD COLUMN rating_comment TEXT;
ALTER TABLE conversations ADD COLUMN rated_at BIGINT;

CREATE INDEX conversations_app_created ON conversations (app_id, created_at);

CREATE TABLE saved_replies (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX saved_replies_team ON saved_replies (team_id, title);

-- Full-text search: the 'simple' configuration (no stemming, any
-- language), the same expressions as the queries use.
CREATE INDEX messages_body_search ON messages USING GIN (to_tsvector('simple', body));
CREATE INDEX customers_search ON customers USING GIN (
    to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || replace(coalesce(phone, ''), '+', ''))
);
