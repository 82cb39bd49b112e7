-- Customers' own domains for their sites (IDNA ASCII form), and the one WordPress uses as
-- its address (NULL: the platform hostname). Times are Unix milliseconds.

CREATE TABLE site_domains (
    id         INTEGER PRIMARY KEY,
    site_id    INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    hostname   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX site_domains_site ON site_domains(site_id, created_at);

ALTER TABLE sites ADD COLUMN primary_domain TEXT;
