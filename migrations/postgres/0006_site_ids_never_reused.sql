-- The SQLite twin rebuilds `sites` with AUTOINCREMENT so that a deleted site's id (which
-- names its database and seeds its secrets) is never handed out again. PostgreSQL's identity
-- column never reuses a value already: nothing to do here.
SELECT 1;
