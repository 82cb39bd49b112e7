//! The database step on a local MariaDB: one database and one user per site, the user
//! granted on that database only. The panel connects as root through the unix socket
//! (unix_socket authentication: no root password exists anywhere).

use std::sync::Arc;

use sqlx::{
    mysql::{MySqlPool, MySqlPoolOptions},
    AssertSqlSafe,
};
use tokio::sync::OnceCell;

use super::LocalConfig;
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};
use crate::sitedb::SiteDatabase;

/// The database step's driver.
pub struct MariaDbDriver {
    cfg: Arc<LocalConfig>,
    pool: OnceCell<MySqlPool>,
}

impl MariaDbDriver {
    pub fn new(cfg: Arc<LocalConfig>) -> Self {
        Self {
            cfg,
            pool: OnceCell::new(),
        }
    }

    /// One small pool per driver, created on first use (connections are opened lazily).
    async fn pool(&self) -> &MySqlPool {
        self.pool
            .get_or_init(|| async {
                let options = self.cfg.db.admin_options();
                MySqlPoolOptions::new()
                    .max_connections(2)
                    .min_connections(0)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .idle_timeout(std::time::Duration::from_secs(60))
                    .connect_lazy_with(options)
            })
            .await
    }

    async fn exec(&self, sql: String) -> Result<(), StepError> {
        let result = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.pool().await)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_access_denied(&e) => Err(self.login_refused(e).await),
            Err(e) => Err(classify(e)),
        }
    }

    /// The server refused the administrator's login: read it again (RDS may have rotated
    /// its secret) and, if it changed, connect with the new one from now on and retry.
    async fn login_refused(&self, e: sqlx::Error) -> StepError {
        let Some(admin) = self.cfg.db.admin() else {
            return classify(e);
        };
        match admin.reload().await {
            Ok(true) => {
                self.pool()
                    .await
                    .set_connect_options(self.cfg.db.admin_options());
                tracing::info!("the database administrator's password changed: reconnecting");
                StepError::Transient(
                    "the database administrator's password was rotated: trying again".into(),
                )
            }
            Ok(false) => classify(e),
            Err(why) => StepError::Transient(format!(
                "the database refused the administrator's login, and reading it again failed: {why}"
            )),
        }
    }

    /// The site's database, and its user as SQL names it (`'name'@'host'`).
    fn names(&self, site: &SiteSpec) -> Result<(SiteDatabase, String), StepError> {
        let db = SiteDatabase::of(site, &self.cfg.master_key)?;
        let user = format!("'{}'@'{}'", db.name, self.cfg.db_user_host);
        Ok((db, user))
    }

    async fn ensure_site(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let (db, user) = self.names(site)?;
        let (name, password) = (&db.name, &db.password);
        self.exec(format!(
            "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await?;
        self.exec(format!(
            "CREATE USER IF NOT EXISTS {user} IDENTIFIED BY '{}'",
            password.expose()
        ))
        .await?;
        // Converge: a user left from an earlier attempt (or another key) gets today's password.
        self.exec(format!(
            "ALTER USER {user} IDENTIFIED BY '{}'",
            password.expose()
        ))
        .await?;
        // `_` is a wildcard in GRANT's database names: escape it so the grant is this one only.
        let grant_db = name.replace('_', "\\_");
        self.exec(format!("GRANT ALL PRIVILEGES ON `{grant_db}`.* TO {user}"))
            .await?;
        Ok(Ensured::Done {
            resource: format!("mariadb:{name}"),
        })
    }

    async fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        let (db, user) = self.names(site)?;
        let name = &db.name;
        self.exec(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await?;
        self.exec(format!("DROP USER IF EXISTS {user}")).await?;
        Ok(())
    }
}

impl Driver for MariaDbDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        self.ensure_site(site).await
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        self.remove_site(site).await.map(|()| Removed::Gone)
    }
}

/// MySQL's "Access denied for user" (1045): a wrong or rotated password.
fn is_access_denied(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| m.number() == 1045),
        _ => false,
    }
}

/// Connection trouble is worth a retry; what the server refuses is not, with its message.
/// (Statements never carry the password in an error: MariaDB does not echo them.)
fn classify(e: sqlx::Error) -> StepError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // MariaDB's numeric error number, when sqlx has it.
            let number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|m| m.number())
                .unwrap_or(0);
            let msg = format!(
                "MariaDB refused the operation: {} (error {number}, {code})",
                db.message()
            );
            match number {
                // too many connections, lock wait timeout, deadlock, server shutting down
                1040 | 1205 | 1213 | 1053 => StepError::Transient(msg),
                _ => StepError::Permanent(msg),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => StepError::Transient(format!("cannot reach MariaDB: {e}")),
        _ => StepError::Permanent(format!("database error: {e}")),
    }
}
