-- no-transaction
-- A site's id names its database and user, and its database password, WordPress salts and
-- login-link key are derived from it. SQLite gives a new row of an `INTEGER PRIMARY KEY`
-- table the largest id plus one, so the newest deleted site's id came back for the next
-- site: its previous owner, who could read those secrets in their own config, would know
-- the new site's. `AUTOINCREMENT` never hands out an id twice (SQLite keeps the largest in
-- `sqlite_sequence`), as PostgreSQL's identity never does.
--
-- SQLite cannot add AUTOINCREMENT to a table, so the table is rebuilt (SQLite's documented
-- twelve steps). Foreign keys are off for it, or dropping the old table would cascade to
-- every site's steps, domains and snapshots; that needs a migration outside sqlx's
-- transaction, hence the marker above and the explicit one below.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE sites_rebuilt (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    slug           TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    owner_id       INTEGER NOT NULL REFERENCES accounts(id),
    status         TEXT NOT NULL,
    desired        TEXT NOT NULL DEFAULT 'present' CHECK (desired IN ('present', 'absent')),
    last_error     TEXT,
    lease_owner    TEXT,
    lease_until    INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    live_at        INTEGER,
    primary_domain TEXT,
    queued_job     TEXT,
    queued_for     INTEGER
);
INSERT INTO sites_rebuilt (id, slug, title, owner_id, status, desired, last_error, lease_owner,
                           lease_until, created_at, updated_at, live_at, primary_domain,
                           queued_job, queued_for)
    SELECT id, slug, title, owner_id, status, desired, last_error, lease_owner, lease_until,
           created_at, updated_at, live_at, primary_domain, queued_job, queued_for
    FROM sites;
DROP TABLE sites;
ALTER TABLE sites_rebuilt RENAME TO sites;
CREATE INDEX sites_owner ON sites(owner_id, created_at);
CREATE INDEX sites_unsettled ON sites(status);
-- Ids deleted before this upgrade are recorded nowhere: the newest ones were above the
-- largest id left. On a database that was in use, new ids start 100000 above it; a fresh
-- one starts at 1.
DELETE FROM sqlite_sequence WHERE name = 'sites';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'sites', COALESCE(MAX(id), 0)
        + CASE WHEN EXISTS (SELECT 1 FROM sites) OR EXISTS (SELECT 1 FROM audit_log)
               THEN 100000 ELSE 0 END
    FROM sites;
COMMIT;
PRAGMA foreign_keys = ON;
