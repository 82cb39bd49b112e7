-- Rows whose parent is gone. PostgreSQL always enforced these foreign keys, so this finds
-- nothing here; it keeps the two backends' migrations one list (the SQLite twin says why
-- it matters there).

DELETE FROM site_steps WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM site_domains WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM site_restores WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM site_snapshots WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM sessions WHERE account_id NOT IN (SELECT id FROM accounts);
