-- Issue 14: the languages the customer's browser asks for (the widget's
-- `Accept-Language`), best first, comma-separated language tags, at most
-- 255 characters; NULL before any. The last non-empty list is kept: the
-- email of unread replies and the server's automatic messages are written
-- in the first of them the server has texts for.
ALTER TABLE sessions ADD COLUMN locales TEXT;
