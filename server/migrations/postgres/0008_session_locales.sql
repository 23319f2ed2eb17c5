-- Issue 14, as SQLite's 0012: the languages the customer asks for.
ALTER TABLE sessions ADD COLUMN locales TEXT;
