-- The control plane's tables (SQLite). Times are Unix milliseconds.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    role          TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'staff')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE login_failures (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    ip    TEXT NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures(email, at);
CREATE INDEX login_failures_ip ON login_failures(ip, at);

CREATE TABLE sites (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    owner_id    INTEGER NOT NULL REFERENCES accounts(id),
    status      TEXT NOT NULL,
    desired     TEXT NOT NULL DEFAULT 'present' CHECK (desired IN ('present', 'absent')),
    last_error  TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    live_at     INTEGER
);
CREATE INDEX sites_owner ON sites(owner_id, created_at);
CREATE INDEX sites_unsettled ON sites(status);

CREATE TABLE site_steps (
    site_id       INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    step          TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    resource      TEXT,
    started_at    INTEGER,
    finished_at   INTEGER,
    next_attempt_at INTEGER,
    PRIMARY KEY (site_id, step)
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    actor_id  INTEGER,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT,
    ip        TEXT,
    at        INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
