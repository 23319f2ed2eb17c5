-- Only a proven identity opens a customer's conversations.
--
-- Profiles proven by an identity token are keyed by the token's `sub` (the
-- site's own user id); email and phone are attributes. Profiles nobody
-- proved (an email or phone someone typed) stay unique by email and by
-- phone, so claims of one email share one profile for the agent's view.
ALTER TABLE customers ADD COLUMN sub TEXT;
DROP INDEX customers_app_email;
DROP INDEX customers_app_phone;
CREATE UNIQUE INDEX customers_app_sub ON customers (app_id, sub) WHERE sub IS NOT NULL;
CREATE UNIQUE INDEX customers_app_claimed_email ON customers (app_id, email)
    WHERE sub IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX customers_app_claimed_phone ON customers (app_id, phone)
    WHERE sub IS NULL AND phone IS NOT NULL;
CREATE INDEX customers_app_email_any ON customers (app_id, email) WHERE email IS NOT NULL;
CREATE INDEX customers_app_phone_any ON customers (app_id, phone) WHERE phone IS NOT NULL;

-- What each session supplied: a session is told back only this, never a
-- stored field of its profile. `sub` is set for sessions opened or
-- upgraded with a token.
ALTER TABLE sessions ADD COLUMN sub TEXT;
ALTER TABLE sessions ADD COLUMN display_email TEXT;
ALTER TABLE sessions ADD COLUMN display_phone TEXT;

-- Sessions identified before this migration did not record what they
-- supplied, and some were opened on someone else's profile: keep their
-- profile's contact details for the agent's view, then end them (their
-- widgets start a new session on the next setUser or token).
UPDATE sessions SET
    display_email = (SELECT email FROM customers WHERE customers.id = sessions.customer_id),
    display_phone = (SELECT phone FROM customers WHERE customers.id = sessions.customer_id)
WHERE identity_kind <> 'anonymous';
UPDATE sessions SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER)
WHERE identity_kind <> 'anonymous' AND revoked_at IS NULL;

-- Every conversation has the session that started it (its owner) and
-- says whether it is held under proof: opened by a trusted session, or
-- merged into the profile by a valid token. Before this migration, a
-- conversation was opened by its first customer message.
ALTER TABLE conversations ADD COLUMN session_id TEXT;
ALTER TABLE conversations ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET
    session_id = (SELECT m.session_id FROM messages m
                  WHERE m.conversation_id = conversations.id AND m.author = 'customer'
                  ORDER BY m.seq LIMIT 1),
    proven = COALESCE((SELECT m.trusted FROM messages m
                       WHERE m.conversation_id = conversations.id AND m.author = 'customer'
                       ORDER BY m.seq LIMIT 1), 0);

-- A customer may now have several open conversations: the one their
-- proven sessions share, and one per session nobody proved. A session
-- writes into one open conversation at a time.
DROP INDEX conversations_open_per_customer;
CREATE UNIQUE INDEX conversations_open_proven_per_customer
    ON conversations (customer_id) WHERE status = 'open' AND proven = 1;
CREATE UNIQUE INDEX conversations_open_per_session
    ON conversations (session_id) WHERE status = 'open';
CREATE INDEX conversations_session ON conversations (session_id, created_at);

-- A customer message carries the name its sending session gave.
UPDATE messages SET author_name = (SELECT display_name FROM sessions WHERE sessions.id = messages.session_id)
WHERE author = 'customer' AND author_name IS NULL;
