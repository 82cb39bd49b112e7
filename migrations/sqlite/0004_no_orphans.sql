-- Rows whose parent is gone: a deleted site's steps, domains, snapshots and restores, a
-- deleted account's sessions. SQLite enforces foreign keys only on a connection that asks
-- for it, so any connection that did not (the sqlite3 shell, a tool) could delete a parent
-- and leave its children. Worse than clutter: SQLite may give a new site the id of the
-- newest deleted one, which would then inherit those rows (another customer's snapshots).
-- From here on the store asks on every connection and relies on the cascades; the
-- PostgreSQL twin of this migration finds nothing.

DELETE FROM site_steps WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM site_domains WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM site_restores WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM site_snapshots WHERE site_id NOT IN (SELECT id FROM sites);
DELETE FROM sessions WHERE account_id NOT IN (SELECT id FROM accounts);
