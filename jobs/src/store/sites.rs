//! Sites, their provisioning steps and the per-site lease that keeps one worker on a site.

use super::{conflict, now_ms, Store, StoreError};
use crate::domain::{SiteSlug, SiteStatus, SiteTitle, StepKind, StepState, UnknownName};

pub struct NewSite<'a> {
    pub slug: &'a SiteSlug,
    pub title: &'a SiteTitle,
    pub owner_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub owner_id: i64,
    pub owner_email: String,
    #[sqlx(try_from = "String")]
    pub status: SiteStatus,
    /// False once deletion was asked for.
    #[sqlx(flatten, try_from = "Desired")]
    pub wanted: bool,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub live_at: Option<i64>,
    /// The customer's domain WordPress uses as its address; `None`: the platform hostname.
    pub primary_domain: Option<String>,
}

/// What asking for a site's lease gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// The caller holds the site now.
    Taken,
    /// Another worker holds it until `until` (Unix milliseconds).
    Held { until: i64 },
    /// There is no such site (it was deleted).
    NoSite,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StepRow {
    #[sqlx(try_from = "String")]
    pub step: StepKind,
    #[sqlx(try_from = "String")]
    pub state: StepState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub resource: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
}

/// The columns of a `SiteRow`, from `sites s` joined to its owner `a`.
macro_rules! select_sites {
    ($($rest:literal),*) => {
        concat!(
            "SELECT s.id, s.slug, s.title, s.owner_id, a.email AS owner_email, s.status, s.desired, ",
            "s.last_error, s.created_at, s.updated_at, s.live_at, s.primary_domain ",
            "FROM sites s JOIN accounts a ON a.id = s.owner_id ",
            $($rest),*
        )
    };
}

/// The `sites.desired` column, read into `SiteRow::wanted`: `present` until deletion is
/// asked for, then `absent`.
#[derive(sqlx::FromRow)]
struct Desired {
    desired: String,
}

impl TryFrom<Desired> for bool {
    type Error = UnknownName;

    fn try_from(column: Desired) -> Result<bool, UnknownName> {
        match column.desired.as_str() {
            "present" => Ok(true),
            "absent" => Ok(false),
            _ => Err(UnknownName {
                what: "desired state",
                name: column.desired,
            }),
        }
    }
}

impl Store {
    /// Records a new site and its pending steps, in one transaction.
    pub async fn create_site(&self, new: NewSite<'_>) -> Result<SiteRow, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sites (slug, title, owner_id, status, desired, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'present', $5, $5) RETURNING id",
        )
        .bind(new.slug.as_str())
        .bind(new.title.as_str())
        .bind(new.owner_id)
        .bind(SiteStatus::Provisioning.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict("site"))?;
        for kind in StepKind::ALL {
            sqlx::query("INSERT INTO site_steps (site_id, step, state) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(kind.as_str())
                .bind(StepState::Pending.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.site(id).await?.ok_or(StoreError::Conflict("site"))
    }

    pub async fn site(&self, id: i64) -> Result<Option<SiteRow>, StoreError> {
        Ok(sqlx::query_as(select_sites!("WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn site_by_slug(&self, slug: &str) -> Result<Option<SiteRow>, StoreError> {
        Ok(sqlx::query_as(select_sites!("WHERE s.slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// One page of `owner_id`'s sites, newest first, and how many they have in all.
    pub async fn sites_of(
        &self,
        owner_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SiteRow>, i64), StoreError> {
        let sites = sqlx::query_as(select_sites!(
            "WHERE s.owner_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(owner_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sites WHERE owner_id = $1")
            .bind(owner_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((sites, total))
    }

    pub async fn steps(&self, site_id: i64) -> Result<Vec<StepRow>, StoreError> {
        let mut steps: Vec<StepRow> = sqlx::query_as(
            "SELECT step, state, attempts, last_error, resource, started_at, finished_at, next_attempt_at
             FROM site_steps WHERE site_id = $1",
        )
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?;
        steps.sort_by_key(|s| s.step);
        Ok(steps)
    }

    /// Writes one step's state. Called after every transition, so a killed worker's
    /// successor knows exactly where the site stands.
    pub async fn save_step(&self, site_id: i64, row: &StepRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE site_steps SET state = $1, attempts = $2, last_error = $3, resource = $4,
             started_at = $5, finished_at = $6, next_attempt_at = $7 WHERE site_id = $8 AND step = $9",
        )
        .bind(row.state.as_str())
        .bind(row.attempts)
        .bind(row.last_error.as_deref())
        .bind(row.resource.as_deref())
        .bind(row.started_at)
        .bind(row.finished_at)
        .bind(row.next_attempt_at)
        .bind(site_id)
        .bind(row.step.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_site_status(
        &self,
        site_id: i64,
        status: SiteStatus,
        last_error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE sites SET status = $1, last_error = $2, updated_at = $3,
             live_at = CASE WHEN $1 = 'live' AND live_at IS NULL THEN $3 ELSE live_at END
             WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(last_error)
        .bind(now)
        .bind(site_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the site for deletion. Returns false if it was already being deleted.
    pub async fn request_delete(&self, site_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sites SET desired = 'absent', status = $1, last_error = NULL, updated_at = $2
             WHERE id = $3 AND desired = 'present'",
        )
        .bind(SiteStatus::Deleting.as_str())
        .bind(now_ms())
        .bind(site_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts failed steps back to pending so the next run tries them again.
    pub async fn retry_failed_steps(&self, site_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE site_steps SET state = $1, attempts = 0, next_attempt_at = NULL
             WHERE site_id = $2 AND state = $3",
        )
        .bind(StepState::Pending.as_str())
        .bind(site_id)
        .bind(StepState::Failed.as_str())
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE sites SET status = CASE WHEN desired = 'present' THEN $1 ELSE $2 END,
             last_error = NULL, updated_at = $3 WHERE id = $4",
        )
        .bind(SiteStatus::Provisioning.as_str())
        .bind(SiteStatus::Deleting.as_str())
        .bind(now_ms())
        .bind(site_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Forgets a site whose resources are all removed. Its steps, domains, snapshots and
    /// restores go with it: every child table's foreign key cascades, on both backends.
    pub async fn delete_site_row(&self, site_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sites WHERE id = $1")
            .bind(site_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes (or renews) the lease on a site for `owner` until `now + ttl_ms`.
    /// Only one worker holds a site's lease at a time; a dead worker's lease expires.
    /// A site that no longer exists says so: its jobs have nothing left to do.
    pub async fn try_lease(
        &self,
        site_id: i64,
        owner: &str,
        ttl_ms: i64,
    ) -> Result<Lease, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE sites SET lease_owner = $1, lease_until = $2
             WHERE id = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4)",
        )
        .bind(owner)
        .bind(now + ttl_ms)
        .bind(site_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Lease::Taken);
        }
        let until: Option<Option<i64>> =
            sqlx::query_scalar("SELECT lease_until FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match until {
            None => Lease::NoSite,
            Some(until) => Lease::Held {
                until: until.unwrap_or(now),
            },
        })
    }

    pub async fn release_lease(&self, site_id: i64, owner: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sites SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(site_id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// When the lease on a site ends, if someone holds it.
    pub async fn lease_until(&self, site_id: i64) -> Result<Option<i64>, StoreError> {
        let until: Option<Option<i64>> =
            sqlx::query_scalar("SELECT lease_until FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(until.flatten())
    }

    /// Sites with work left (provisioning or deleting, a snapshot or a restore to do, a
    /// domain due for its ownership check) and no job waiting in the queue; with
    /// `unleased_only`, only those no worker holds. The sweep hands them to a worker again.
    /// (The snapshot condition is the one-active-snapshot index's: it stays cheap however
    /// many snapshots are kept.)
    pub async fn unsettled_sites(&self, unleased_only: bool) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM sites WHERE (status IN ($1, $2)
               OR id IN (SELECT site_id FROM site_snapshots
                         WHERE state IN ('pending', 'running') AND kind <> 'pre_restore')
               OR id IN (SELECT site_id FROM site_restores WHERE state IN ('pending', 'running'))
               OR id IN (SELECT site_id FROM site_domains WHERE check_due_at <= $4))
             AND ($3 = 0 OR lease_until IS NULL OR lease_until < $4)
             AND (queued_for IS NULL OR queued_for < $5)",
        )
        .bind(SiteStatus::Provisioning.as_str())
        .bind(SiteStatus::Deleting.as_str())
        .bind(i64::from(unleased_only))
        .bind(now_ms())
        .bind(now_ms() - super::queued_runs::LOST_AFTER_MS)
        .fetch_all(&self.pool)
        .await?)
    }
}
