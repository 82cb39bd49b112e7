-- Logical snapshots of each site (a database dump and a wp-content archive, kept in the
-- snapshot vault) and the restores made from them. Times are Unix milliseconds.

CREATE TABLE site_snapshots (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual', 'pre_restore')),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    requested_by    INTEGER,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    database_bytes  INTEGER,
    files_bytes     INTEGER,
    database_sha256 TEXT,
    files_sha256    TEXT,
    error           TEXT
);
CREATE INDEX site_snapshots_site ON site_snapshots(site_id, created_at);
-- One snapshot under way per site (a pre-restore snapshot is part of its restore).
CREATE UNIQUE INDEX site_snapshots_one_active ON site_snapshots(site_id)
    WHERE state IN ('pending', 'running') AND kind <> 'pre_restore';

CREATE TABLE site_restores (
    id                 INTEGER PRIMARY KEY,
    site_id            INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    snapshot_id        INTEGER NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    requested_by       INTEGER,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    attempts           INTEGER NOT NULL DEFAULT 0,
    safety_snapshot_id INTEGER,
    error              TEXT
);
CREATE INDEX site_restores_site ON site_restores(site_id, created_at);
CREATE UNIQUE INDEX site_restores_one_active ON site_restores(site_id)
    WHERE state IN ('pending', 'running');
