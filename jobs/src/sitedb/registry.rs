//! Which site each database name belongs to, kept on the database server itself in
//! `mywp_registry.site_databases`: the marker the database step checks before it adopts a
//! database or user, and before it drops one.
//!
//! A table of the administrator's rather than a marker inside each site's database: the
//! site's user has every privilege on its own database, so a marker there could be forged
//! or dropped by the site's PHP. Plain SQL tables work the same on MariaDB 10.11, MySQL 8
//! and RDS (`CREATE DATABASE … COMMENT` is MariaDB's only).

use sqlx::{mysql::MySqlPool, AssertSqlSafe};

/// The registry's database: not a site's name (those are `mywp<namespace>_<digits>`, or
/// legacy `wp_…`).
pub const DATABASE: &str = "mywp_registry";

/// Makes the registry if it is missing (idempotent, cheap).
pub async fn ensure(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET ascii"),
        format!(
            "CREATE TABLE IF NOT EXISTS `{DATABASE}`.site_databases (
                name VARCHAR(64) NOT NULL PRIMARY KEY,
                site_id BIGINT NOT NULL
            )"
        ),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
    }
    Ok(())
}

/// The site the database `name` belongs to, if the registry says.
pub async fn owner(pool: &MySqlPool, name: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT site_id FROM `{DATABASE}`.site_databases WHERE name = ?"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await
}

/// Claims `name` for `site_id` unless some site holds it; returns who holds it now.
pub async fn claim(pool: &MySqlPool, name: &str, site_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT IGNORE INTO `{DATABASE}`.site_databases (name, site_id) VALUES (?, ?)"
    )))
    .bind(name)
    .bind(site_id)
    .execute(pool)
    .await?;
    Ok(owner(pool, name).await?.unwrap_or(site_id))
}

/// Forgets `name`, if `site_id` holds it.
pub async fn release(pool: &MySqlPool, name: &str, site_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM `{DATABASE}`.site_databases WHERE name = ? AND site_id = ?"
    )))
    .bind(name)
    .bind(site_id)
    .execute(pool)
    .await?;
    Ok(())
}
