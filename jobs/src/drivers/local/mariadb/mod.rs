//! The database step on a MySQL server (this host's MariaDB, or the AWS shape's RDS): one
//! database and one user per site, named from the site's id ([`SiteDatabase`]), the user
//! granted on that database only. On a single host the panel connects as root through the
//! unix socket (unix_socket authentication: no root password exists anywhere).
//!
//! Every name is claimed in the server's registry ([`registry`]) before the database is
//! made, and a name another site holds is never adopted nor dropped. A site made before
//! names came from ids moves to its new name on its next ensure ([`upgrade`]).

mod errors;
mod upgrade;

use std::sync::Arc;

use sqlx::{
    mysql::{MySqlPool, MySqlPoolOptions},
    AssertSqlSafe,
};
use tokio::sync::OnceCell;

use super::LocalConfig;
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};
use crate::sitedb::{registry, SiteDatabase};
use errors::{classify, is_access_denied};

/// The database step's driver.
pub struct MariaDbDriver {
    cfg: Arc<LocalConfig>,
    pool: OnceCell<MySqlPool>,
    /// Set once this driver made sure the registry exists.
    registry: OnceCell<()>,
}

impl MariaDbDriver {
    pub fn new(cfg: Arc<LocalConfig>) -> Self {
        Self {
            cfg,
            pool: OnceCell::new(),
            registry: OnceCell::new(),
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
        self.checked(result).await.map(|_| ())
    }

    /// A statement's result, its error classified (a refused login read again first).
    async fn checked<T>(&self, result: Result<T, sqlx::Error>) -> Result<T, StepError> {
        match result {
            Ok(v) => Ok(v),
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

    /// A user as SQL names it (`'name'@'host'`); `name` is a checked identifier.
    fn user(&self, name: &str) -> String {
        format!("'{name}'@'{}'", self.cfg.db_user_host)
    }

    /// The site's database, its user as SQL names it, and who holds its name (if anyone).
    async fn site_names(
        &self,
        site: &SiteSpec,
    ) -> Result<(SiteDatabase, String, Option<i64>), StepError> {
        let db = SiteDatabase::of(site, &self.cfg.db_namespace, &self.cfg.master_key)?;
        let user = self.user(&db.name);
        let pool = self.pool().await;
        self.registry
            .get_or_try_init(|| async { self.checked(registry::ensure(pool).await).await })
            .await?;
        let owner = self.checked(registry::owner(pool, &db.name).await).await?;
        Ok((db, user, owner))
    }

    async fn ensure_site(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let (db, user, _) = self.site_names(site).await?;
        let (name, password) = (&db.name, &db.password);
        // Claimed before it is made: a database of this name without a claim is never ours.
        let holder = self
            .checked(registry::claim(self.pool().await, name, site.id).await)
            .await?;
        if holder != site.id {
            return Err(belongs_to(name, holder));
        }
        self.exec(format!(
            "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await?;
        // A site made before names came from ids: its tables move here, its old user goes.
        self.upgrade(site, name).await?;
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
        let (db, user, owner) = self.site_names(site).await?;
        let name = &db.name;
        match owner {
            // Another site's (another panel's, on a shared server): nothing of ours to drop.
            Some(holder) if holder != site.id => {
                tracing::warn!(
                    site_id = site.id,
                    holder,
                    "the site's database name belongs to another site: leaving it"
                );
            }
            // Ours, or a half-made one of our name (claimed names are made after the claim,
            // so an unclaimed one is only what a claim's own crash can leave: none).
            _ => {
                self.exec(format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await?;
                self.exec(format!("DROP USER IF EXISTS {user}")).await?;
                let pool = self.pool().await;
                self.checked(registry::release(pool, name, site.id).await)
                    .await?;
            }
        }
        // A site never ensured since the upgrade still has its legacy database.
        self.remove_legacy(site).await
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

/// The readable refusal to adopt another site's database.
fn belongs_to(name: &str, holder: i64) -> StepError {
    StepError::Permanent(format!(
        "database {name} belongs to site {holder}: refusing to use it for this site"
    ))
}
