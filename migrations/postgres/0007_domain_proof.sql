-- A customer's domain is served only once its ownership is proven (its CNAME points at the
-- site's platform hostname, or a TXT record at _mywp-challenge.<domain> holds `token`), and
-- is checked again on a schedule. `proof`: pending | verified | failed | lost; `proof_detail`:
-- what the last check found, in words; `check_due_at`: when the workers check it next (Unix
-- milliseconds). Several sites may claim a domain; only one may have it verified.
--
-- Domains mapped before this version were served: they stay verified, due for a check at
-- once, so one that does not point at its site stops being served within a sweep.

ALTER TABLE site_domains DROP CONSTRAINT site_domains_hostname_key;
ALTER TABLE site_domains
    ADD COLUMN token TEXT NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text),
    ADD COLUMN proof TEXT NOT NULL DEFAULT 'verified',
    ADD COLUMN proof_detail TEXT,
    ADD COLUMN checked_at BIGINT,
    ADD COLUMN check_due_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE site_domains ALTER COLUMN token DROP DEFAULT;
ALTER TABLE site_domains ALTER COLUMN proof DROP DEFAULT;
ALTER TABLE site_domains ALTER COLUMN check_due_at DROP DEFAULT;
CREATE UNIQUE INDEX site_domains_claim ON site_domains(site_id, hostname);
CREATE UNIQUE INDEX site_domains_served ON site_domains(hostname) WHERE proof = 'verified';
CREATE INDEX site_domains_due ON site_domains(check_due_at);
