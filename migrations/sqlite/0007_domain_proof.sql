-- A customer's domain is served only once its ownership is proven (its CNAME points at the
-- site's platform hostname, or a TXT record at _mywp-challenge.<domain> holds `token`), and
-- is checked again on a schedule. `proof`: pending | verified | failed | lost; `proof_detail`:
-- what the last check found, in words; `check_due_at`: when the workers check it next (Unix
-- milliseconds). Several sites may claim a domain; only one may have it verified.
--
-- Domains mapped before this version were served: they stay verified, due for a check at
-- once, so one that does not point at its site stops being served within a sweep.

CREATE TABLE site_domains_proven (
    id           INTEGER PRIMARY KEY,
    site_id      INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    hostname     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    token        TEXT NOT NULL,
    proof        TEXT NOT NULL,
    proof_detail TEXT,
    checked_at   INTEGER,
    check_due_at INTEGER NOT NULL
);
INSERT INTO site_domains_proven (id, site_id, hostname, created_at, token, proof, check_due_at)
    SELECT id, site_id, hostname, created_at, lower(hex(randomblob(16))), 'verified', 0
    FROM site_domains;
DROP TABLE site_domains;
ALTER TABLE site_domains_proven RENAME TO site_domains;
CREATE INDEX site_domains_site ON site_domains(site_id, created_at);
CREATE UNIQUE INDEX site_domains_claim ON site_domains(site_id, hostname);
CREATE UNIQUE INDEX site_domains_served ON site_domains(hostname) WHERE proof = 'verified';
CREATE INDEX site_domains_due ON site_domains(check_due_at);
