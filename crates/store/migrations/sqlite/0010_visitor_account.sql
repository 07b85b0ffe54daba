-- A visitor record may belong to a console account (issue #7): the visitor then sees and
-- records their own visits without choosing themselves from a list.
ALTER TABLE visitor ADD COLUMN account TEXT;
CREATE UNIQUE INDEX visitor_account ON visitor (account) WHERE account IS NOT NULL;
