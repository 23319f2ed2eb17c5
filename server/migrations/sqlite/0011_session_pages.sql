-- Issue 14: the page the customer is on now (`TrustChat.navigate`, or the
-- page the widget started on), for page-prefix rules and the console.
ALTER TABLE sessions ADD COLUMN page_url TEXT;
