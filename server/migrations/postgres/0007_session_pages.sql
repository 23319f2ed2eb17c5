-- Issue 14, as SQLite's 0011: the page the customer is on now.
ALTER TABLE sessions ADD COLUMN page_url TEXT;
