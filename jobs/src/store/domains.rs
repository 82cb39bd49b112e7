//! Customers' own domains for their sites, whether each is proven theirs, and which one is
//! the site's address. Only a verified domain is served (see `domain::ownership`); several
//! sites may claim a domain, one may have it verified.

use super::{conflict, now_ms, Store, StoreError};
use crate::domain::{ChallengeToken, Checked, CustomDomain, ProofState, SiteStatus, StepState};

/// How many domains one site may have.
pub const MAX_DOMAINS_PER_SITE: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainRow {
    pub id: i64,
    pub site_id: i64,
    pub hostname: String,
    pub created_at: i64,
    /// The site's token for the domain's TXT proof.
    pub token: String,
    #[sqlx(try_from = "String")]
    pub proof: ProofState,
    /// What the last check found, in words.
    pub proof_detail: Option<String>,
    pub checked_at: Option<i64>,
    pub check_due_at: i64,
}

impl DomainRow {
    pub fn token(&self) -> ChallengeToken {
        ChallengeToken::from_stored(&self.token)
    }
}

/// The columns of a [`DomainRow`], as a literal (queries are static strings).
macro_rules! domain_columns {
    () => {
        "id, site_id, hostname, created_at, token, proof, proof_detail, checked_at, check_due_at"
    };
}

/// What recording a check changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The domain's row took the new state; `served_changed`: it started or stopped being
    /// served, so the site must reconverge.
    Saved { served_changed: bool },
    /// The proof holds, but another site has the domain verified: recorded as failed.
    TakenElsewhere,
    /// The domain is no longer the site's.
    Gone,
}

impl Store {
    /// Claims `domain` for the site, not proven yet (due for a check at once). Another
    /// site's verified domain, or one the site already has, is `Conflict("domain")`; past
    /// [`MAX_DOMAINS_PER_SITE`] it is `Config` with a message.
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
        let now = now_ms();
        let added = sqlx::query(
            "INSERT INTO site_domains
               (site_id, hostname, created_at, token, proof, check_due_at)
             SELECT $1, $2, $3, $4, $5, $3
             WHERE NOT EXISTS (SELECT 1 FROM site_domains
                               WHERE hostname = $2 AND proof = $6 AND site_id <> $1)",
        )
        .bind(site_id)
        .bind(domain.as_str())
        .bind(now)
        .bind(ChallengeToken::generate().as_str())
        .bind(ProofState::Pending.as_str())
        .bind(ProofState::Verified.as_str())
        .execute(&self.pool)
        .await
        .map_err(conflict("domain"))?;
        if added.rows_affected() == 0 {
            return Err(StoreError::Conflict("domain"));
        }
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
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            domain_columns!(),
            " FROM site_domains WHERE site_id = $1 ORDER BY created_at, id"
        ))
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The site's domains whose check is due at `now`.
    pub async fn domains_due(&self, site_id: i64, now: i64) -> Result<Vec<DomainRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            domain_columns!(),
            " FROM site_domains WHERE site_id = $1 AND check_due_at <= $2
             ORDER BY check_due_at, id"
        ))
        .bind(site_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Asks for the site's domain `hostname` to be checked at once. Returns false if the
    /// site has no such domain.
    pub async fn request_domain_check(
        &self,
        site_id: i64,
        hostname: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE site_domains SET check_due_at = $1 WHERE site_id = $2 AND hostname = $3",
        )
        .bind(now_ms())
        .bind(site_id)
        .bind(hostname)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a check of domain `row` (as read before the check): its new state, when it
    /// was checked, and when it is due again. Verifying a domain another site has verified
    /// is refused by the database and recorded as failed.
    pub async fn record_domain_check(
        &self,
        row: &DomainRow,
        checked: &Checked,
        now: i64,
        due_at: i64,
    ) -> Result<Recorded, StoreError> {
        let save = |state: ProofState, detail: String| {
            sqlx::query(
                "UPDATE site_domains SET proof = $1, proof_detail = $2, checked_at = $3,
                 check_due_at = $4 WHERE id = $5",
            )
            .bind(state.as_str())
            .bind(detail)
            .bind(now)
            .bind(due_at)
            .bind(row.id)
            .execute(&self.pool)
        };
        let saved = save(checked.state, checked.detail.clone()).await;
        let saved = match saved.map_err(conflict("domain")) {
            Err(StoreError::Conflict(_)) => {
                let why = format!(
                    "{} is already served by another site: it must be removed there first.",
                    row.hostname
                );
                let state = if row.proof == ProofState::Verified {
                    ProofState::Lost
                } else {
                    ProofState::Failed
                };
                save(state, why).await?;
                return Ok(Recorded::TakenElsewhere);
            }
            other => other?,
        };
        if saved.rows_affected() == 0 {
            return Ok(Recorded::Gone);
        }
        let served = |s: ProofState| s == ProofState::Verified;
        Ok(Recorded::Saved {
            served_changed: served(row.proof) != served(checked.state),
        })
    }

    /// Makes `hostname` (one of the site's verified domains) the site's address, or with
    /// `None` the platform hostname again. Returns false if the site has no such domain
    /// verified.
    pub async fn set_primary_domain(
        &self,
        site_id: i64,
        hostname: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sites SET primary_domain = $1 WHERE id = $2
             AND ($1 IS NULL OR EXISTS (SELECT 1 FROM site_domains d
                                        WHERE d.site_id = $2 AND d.hostname = $1
                                        AND d.proof = $3))",
        )
        .bind(hostname)
        .bind(site_id)
        .bind(ProofState::Verified.as_str())
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
