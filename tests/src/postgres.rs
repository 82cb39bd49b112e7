//! Fresh PostgreSQL databases for tests, on the server the test command started
//! (`MYWP_TEST_POSTGRES_URL`).

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::unique;

/// The variable that names the test PostgreSQL server.
pub const URL_VAR: &str = "MYWP_TEST_POSTGRES_URL";

/// The URL of the test PostgreSQL server's maintenance database. Panics, saying how to get
/// one, if the test command did not provide it: a missing PostgreSQL fails the test, it
/// never skips it.
pub fn server_url() -> String {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{URL_VAR} is not set: these tests need PostgreSQL. Run them with `make test` \
             (scripts/test.sh starts PostgreSQL and exports {URL_VAR}), or start one with \
             `scripts/dataplane.sh start-postgres` and export the {URL_VAR} line it writes to \
             the state directory's dataplane.env"
        ),
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

/// A database of its own on the test PostgreSQL server, created empty.
pub struct TestDatabase {
    /// Where to connect to it.
    pub url: String,
    name: String,
    server: String,
}

impl TestDatabase {
    /// Creates a database with a unique name starting with `prefix` (lower-case letters,
    /// digits and underscores).
    pub async fn create(prefix: &str) -> TestDatabase {
        let server = server_url();
        let name = unique(prefix);
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}={server}: {e}"));
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = admin.close().await;
        TestDatabase {
            url: with_database(&server, &name),
            name,
            server,
        }
    }

    /// Drops the database, best effort: a failure here is only printed.
    pub async fn drop_database(self) {
        let dropped = async {
            let mut admin = PgConnection::connect(&self.server).await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            )))
            .execute(&mut admin)
            .await?;
            admin.close().await
        }
        .await;
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5435/mywp_test", "x1"),
            "postgres://postgres@127.0.0.1:5435/x1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x1"),
            "postgres://u:p@h/x1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x1"), "postgres://h:1/x1");
    }
}
