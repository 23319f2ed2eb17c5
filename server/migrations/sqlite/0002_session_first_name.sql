-- The first name a session greets by, when the identity token named one
-- (`given_name`); otherwise it is derived from display_name.
ALTER TABLE sessions ADD COLUMN display_first_name TEXT;
