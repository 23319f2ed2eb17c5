-- Issue 14: how far the customer has read their conversation (the highest
-- seq the widget reported while its panel was open and the page visible).
-- Agents see "Seen"; unread agent replies past it may be emailed.
ALTER TABLE conversations ADD COLUMN customer_read_seq INTEGER NOT NULL DEFAULT 0;
