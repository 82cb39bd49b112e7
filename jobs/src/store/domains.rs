//! Customers' own domains for their sites, and which one is the site's address.

use super::{conflict, now_ms, Store, StoreError};
use crate::domain::{CustomDomain, SiteStatus, StepState};

/// How many domains one site may have.
pub const MAX_DOMAINS_PER_SITE: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainRow {
    pub hostname: String,
    pub created_at: i64,
}

impl Store {
    /// Maps `domain` to the site. A domain belongs to one site: another's is
    /// `Conflict("domain")`; past [`MAX_DOMAINS_PER_SITE`] it is `Config` with a message.
    pub async fn add_domain(&self, site_id: i64, domain: &CustomDomain) -> Result<(), StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM site_domains WHERE site_id = $1")
            .bind(site_id)
            .fetch_one(&self.pool)
            .await?;
        if count >= MAX_DOMAINS_PER_SITE {
            return Err(StoreError::Config(format!(
                "A site can have at most {MAX_DOMAINS_PER_SITE} domains."
            )));
        }
        sqlx::query("INSERT INTO site_domains (site_id, hostname, created_at) VALUES ($1, $2, $3)")
            .bind(site_id)
            .bind(domain.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(conflict("domain"))?;
        Ok(())
    }

    /// Unmaps `hostname` from the site (and stops it being the site's address). Returns
    /// whether the site had it.
    pub async fn remove_domain(&self, site_id: i64, hostname: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM site_domains WHERE site_id = $1 AND hostname = $2")
            .bind(site_id)
            .bind(hostname)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sites SET primary_domain = NULL WHERE id = $1 AND primary_domain = $2")
            .bind(site_id)
            .bind(hostname)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The site's domains, oldest first.
    pub async fn domains_of(&self, site_id: i64) -> Result<Vec<DomainRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT hostname, created_at FROM site_domains WHERE site_id = $1
             ORDER BY created_at, id",
        )
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Makes `hostname` (one of the site's domains) the site's address, or with `None` the
    /// platform hostname again. Returns false if the site has no such domain.
    pub async fn set_primary_domain(
        &self,
        site_id: i64,
        hostname: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sites SET primary_domain = $1 WHERE id = $2
             AND ($1 IS NULL OR EXISTS (SELECT 1 FROM site_domains d
                                        WHERE d.site_id = $2 AND d.hostname = $1))",
        )
        .bind(hostname)
        .bind(site_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Asks for every step of a wanted site to be ensured again (its hostnames changed):
    /// each is idempotent, so what is already right stays as it is.
    pub async fn reconverge_site(&self, site_id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let wanted = sqlx::query(
            "UPDATE sites SET status = $1, last_error = NULL, updated_at = $2
             WHERE id = $3 AND desired = 'present'",
        )
        .bind(SiteStatus::Provisioning.as_str())
        .bind(now_ms())
        .bind(site_id)
        .execute(&mut *tx)
        .await?;
        if wanted.rows_affected() == 1 {
            sqlx::query(
                "UPDATE site_steps SET state = $1, attempts = 0, next_attempt_at = NULL,
                 started_at = NULL, finished_at = NULL WHERE site_id = $2",
            )
            .bind(StepState::Pending.as_str())
            .bind(site_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
