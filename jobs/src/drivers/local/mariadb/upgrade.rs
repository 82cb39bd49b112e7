//! Moving a site made before database names came from ids (upgrade only).
//!
//! The previous code named a site's database and user from its slug ([`legacy_db_name`]),
//! which two slugs could share. On the site's next ensure its tables move into its new
//! database (`RENAME TABLE`, atomic, across databases on one server), then the emptied
//! legacy database and the legacy user go; the files step writes the new name and password
//! into the site's config. A legacy database is taken only when this site proves it its
//! own: its legacy user still logs in with the password the previous code derived from
//! this site's slug, and no site holds the name in the registry. Killed at any point, the
//! next ensure finds the same proof (the legacy user is dropped last) and finishes the move.

use std::collections::BTreeSet;

use sqlx::{mysql::MySqlPool, ConnectOptions, Connection};

use super::{errors::classify, MariaDbDriver};
use crate::drivers::{SiteSpec, StepError};
use crate::sitedb::{checked, legacy_db_name, legacy_db_password, registry};

impl MariaDbDriver {
    /// The legacy database name of `site`, when it provably is this site's.
    async fn legacy_of(&self, site: &SiteSpec) -> Result<Option<String>, StepError> {
        let legacy = checked(legacy_db_name(&site.slug))?;
        let pool = self.pool().await;
        if let Some(holder) = self
            .checked(registry::owner(pool, &legacy).await)
            .await?
            .filter(|h| *h != site.id)
        {
            tracing::warn!(
                site_id = site.id,
                holder,
                "the legacy name is claimed: not moving it"
            );
            return Ok(None);
        }
        let user_exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?")
                .bind(&legacy)
                .bind(&self.cfg.db_user_host)
                .fetch_optional(pool)
                .await
                .map_err(classify)?;
        if user_exists.is_none() {
            return Ok(None);
        }
        let password = legacy_db_password(&site.slug, &self.cfg.master_key);
        let login = self
            .cfg
            .db
            .login_options(&legacy, &password)
            .connect()
            .await;
        match login {
            Ok(conn) => {
                conn.close().await.ok();
                Ok(Some(legacy))
            }
            Err(sqlx::Error::Database(e)) => {
                // Another site's legacy user (the old names collided), or one the previous
                // code never finished: not this site's to take.
                tracing::warn!(site_id = site.id, error = %e.message(), "the legacy database user is not this site's: not moving it");
                Ok(None)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Moves the site's legacy database, if it has one, into `name` (this site's, claimed).
    pub(super) async fn upgrade(&self, site: &SiteSpec, name: &str) -> Result<(), StepError> {
        let Some(legacy) = self.legacy_of(site).await? else {
            return Ok(());
        };
        tracing::info!(site_id = site.id, from = %legacy, to = %name, "moving a site's database to its new name");
        let legacy_user = self.user(&legacy);
        // The site's PHP still connects as the legacy user until its config is rewritten:
        // take its rights first, so nothing it writes lands behind the move.
        self.exec(format!(
            "REVOKE ALL PRIVILEGES, GRANT OPTION FROM {legacy_user}"
        ))
        .await?;
        let pool = self.pool().await;
        let tables = tables_in(pool, &legacy).await?;
        if !tables.is_empty() {
            let already = tables_in(pool, name).await?;
            if let Some(both) = tables.iter().find(|t| already.contains(*t)) {
                return Err(StepError::Permanent(format!(
                    "moving database {legacy} to {name}: both hold a table {both}; \
                     nothing was moved (keep one of them and reconverge the site)"
                )));
            }
            let pairs: Vec<String> = tables
                .iter()
                .map(|t| {
                    let t = t.replace('`', "``");
                    format!("`{legacy}`.`{t}` TO `{name}`.`{t}`")
                })
                .collect();
            // One statement: all the tables move, or none does.
            self.exec(format!("RENAME TABLE {}", pairs.join(", ")))
                .await?;
        }
        if !tables_in(pool, &legacy).await?.is_empty() {
            return Err(StepError::transient(format!(
                "database {legacy} got new tables while they moved: moving again"
            )));
        }
        // Empty now: the database first, the user (the proof of ownership) last.
        self.exec(format!("DROP DATABASE IF EXISTS `{legacy}`"))
            .await?;
        self.exec(format!("DROP USER IF EXISTS {legacy_user}"))
            .await?;
        Ok(())
    }

    /// Drops the site's legacy database and user, if it still has them (a site deleted
    /// before any ensure moved it).
    pub(super) async fn remove_legacy(&self, site: &SiteSpec) -> Result<(), StepError> {
        let Some(legacy) = self.legacy_of(site).await? else {
            return Ok(());
        };
        self.exec(format!("DROP DATABASE IF EXISTS `{legacy}`"))
            .await?;
        self.exec(format!("DROP USER IF EXISTS {}", self.user(&legacy)))
            .await
    }
}

/// The base tables of database `db`; a view (WordPress makes none) is refused: it would not
/// survive the move as it is.
async fn tables_in(pool: &MySqlPool, db: &str) -> Result<BTreeSet<String>, StepError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(table_type AS CHAR) \
         FROM information_schema.tables WHERE table_schema = ?",
    )
    .bind(db)
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    let mut tables = BTreeSet::new();
    for (table, kind) in rows {
        if kind != "BASE TABLE" {
            return Err(StepError::Permanent(format!(
                "database {db} holds {table}, a {kind}: move it by hand, then reconverge"
            )));
        }
        tables.insert(table);
    }
    Ok(tables)
}
