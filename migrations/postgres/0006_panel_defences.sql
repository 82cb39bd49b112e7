-- The panel's defences (issue 9).
--
-- Failed logins become a per-key throttle: `failures` in a row and `not_before`, the
-- time (Unix ms) before which no password check is made for the key. A login claims its
-- attempt here (one conditional write) before the password is checked, so parallel
-- attempts cannot all slip through. The key is the email, or the email and the client's
-- address when that address has signed into the account before (so failures from
-- elsewhere never delay its owner there).
DROP TABLE login_failures;
CREATE TABLE login_throttle (
    key        TEXT PRIMARY KEY,
    failures   BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle(updated_at);

-- Addresses each account has signed in from (its own history).
CREATE TABLE login_addresses (
    email   TEXT NOT NULL,
    ip      TEXT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (email, ip)
);

-- Sessions end after an idle time too: `last_seen_at` is when one was last used.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
