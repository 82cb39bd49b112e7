//! The control-plane store: one API over SQLite (the embedded default) and PostgreSQL,
//! chosen by the database URL's scheme.
//!
//! Queries are written once, in the SQL both backends share (`$1` parameters, `RETURNING`,
//! `ON CONFLICT`); each backend has its own migrations under `migrations/<backend>/`, with
//! the same constraints: foreign keys are enforced on both (a site's rows go with it).
//! Rows are read into their types by `sqlx::FromRow`; stored names become domain values
//! through their `TryFrom<String>`.

mod accounts;
mod audit;
mod domains;
mod queued_runs;
mod sites;
mod snapshots;
mod spec;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{any::AnyPoolOptions, AnyPool, Executor};

pub use accounts::{Account, SessionToken};
pub use audit::AuditEntry;
pub use domains::{DomainRow, Recorded, MAX_DOMAINS_PER_SITE};
pub use queued_runs::{RunClaim, LOST_AFTER_MS};
pub use sites::{Lease, NewSite, SiteRow, StepRow};
pub use snapshots::{BackupOp, RestoreRow, SnapshotRow};

/// Which database the control plane runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "DATABASE_URL must start with sqlite: or postgres:, not {:?}",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Config(String),
    #[error("that {0} already exists")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Maps a unique-constraint violation to `Conflict(what)`.
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}

/// The control-plane store. Cheap to clone: it holds a connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Milliseconds since the Unix epoch: how the store keeps time.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if
    /// needed, and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        if backend == Backend::Sqlite {
            if let Some(path) = sqlite_path(&url) {
                if let Some(dir) = std::path::Path::new(path).parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
        }
        let max = if backend == Backend::Sqlite { 8 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // SQLite enforces foreign keys per connection, and only when asked.
                        // sqlx asks by default today; the store relies on it (a site's rows
                        // cascade, a row of no site is refused, as on PostgreSQL), so it
                        // asks itself rather than trust a default.
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets the panel read while a worker writes; it is a property of the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        // The job queue keeps its own migrations in `_sqlx_migrations`; ours stay apart.
        migrator.dangerous_set_table_name("mywp_migrations");
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The file path of a `sqlite:` URL, if it names a file.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}
