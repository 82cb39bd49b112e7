//! The queue's claim on each site: at most one job per site waits in the job queue.
//!
//! Before a job is added to the queue, the site's row is claimed for it (`queued_job`, its id
//! in the queue, and `queued_for`, when it is due), by a compare-and-swap that any number of
//! panels and workers can race on. A job that would run no sooner than the one already
//! waiting is not added; one that must run sooner overtakes it (the caller deletes the
//! overtaken job from the queue). A job clears the claim as it starts, so everything changed
//! before that is seen by its run, and any later request queues a job of its own. A site
//! that no longer exists cannot be claimed: nothing is queued for it.

use super::{Store, StoreError};

/// A claim whose job is this late (due this long ago and not started) counts as lost: a job
/// that could not be added, or a queue that lost it. Another job may then take its place.
pub const LOST_AFTER_MS: i64 = 60_000;

/// A waiting job due at most this much later than a new one is not overtaken: requests
/// made at the same moment read the clock a few milliseconds apart, in any order, and one
/// overtaking another that has not reached the queue yet left two jobs waiting.
pub const OVERTAKE_SLACK_MS: i64 = 1_000;

/// What claiming a site's next run gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunClaim {
    /// The job is now the site's waiting job; `overtaken` was the one before it (still in
    /// the queue, unless it started meanwhile).
    Claimed { overtaken: Option<String> },
    /// A job already waits that runs no later: the new one is not needed.
    AlreadyQueued,
    /// There is no such site.
    NoSite,
}

impl Store {
    /// Claims the site's waiting slot for job `job_id`, due at `due` (Unix ms). With
    /// `overtake`, a waiting job due later than `due` (by more than [`OVERTAKE_SLACK_MS`])
    /// is replaced; without, any waiting job
    /// that is not lost is left alone (the sweep's way: never hurry a job that waits on
    /// purpose).
    pub async fn claim_queued_run(
        &self,
        site_id: i64,
        job_id: &str,
        due: i64,
        overtake: bool,
    ) -> Result<RunClaim, StoreError> {
        // A few rounds of read, then swap if unchanged; losing every round means others keep
        // queueing jobs for the site, so one waits anyway.
        for _ in 0..8 {
            let Some((waiting, waiting_for)) = self.queued_columns(site_id).await? else {
                return Ok(RunClaim::NoSite);
            };
            let live = match (&waiting, waiting_for) {
                (Some(_), Some(at)) => at >= super::now_ms() - LOST_AFTER_MS,
                _ => false,
            };
            if live && (!overtake || waiting_for.is_some_and(|at| at <= due + OVERTAKE_SLACK_MS)) {
                return Ok(RunClaim::AlreadyQueued);
            }
            let swapped = sqlx::query(
                "UPDATE sites SET queued_job = $1, queued_for = $2
                 WHERE id = $3 AND COALESCE(queued_job, '') = $4",
            )
            .bind(job_id)
            .bind(due)
            .bind(site_id)
            .bind(waiting.clone().unwrap_or_default())
            .execute(&self.pool)
            .await?;
            if swapped.rows_affected() == 1 {
                return Ok(RunClaim::Claimed { overtaken: waiting });
            }
        }
        Ok(RunClaim::AlreadyQueued)
    }

    /// A job starts: it clears the site's claim if the claim is its own, or nobody's, or
    /// lost, and then runs (true). False: another job waits to run (or the site is gone),
    /// so this one has nothing to do.
    pub async fn start_queued_run(&self, site_id: i64, job_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sites SET queued_job = NULL, queued_for = NULL
             WHERE id = $1 AND (queued_job IS NULL OR queued_job = $2 OR queued_for < $3)",
        )
        .bind(site_id)
        .bind(job_id)
        .bind(super::now_ms() - LOST_AFTER_MS)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the claim back when its job could not be added to the queue.
    pub async fn cancel_queued_run(&self, site_id: i64, job_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sites SET queued_job = NULL, queued_for = NULL
             WHERE id = $1 AND queued_job = $2",
        )
        .bind(site_id)
        .bind(job_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The job waiting for the site, if any: its id and when it is due.
    pub async fn queued_run(&self, site_id: i64) -> Result<Option<(String, i64)>, StoreError> {
        let Some((job, at)) = self.queued_columns(site_id).await? else {
            return Ok(None);
        };
        Ok(job.zip(at))
    }

    /// The site's `queued_job` and `queued_for`; `None`: no such site.
    async fn queued_columns(
        &self,
        site_id: i64,
    ) -> Result<Option<(Option<String>, Option<i64>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT queued_job, queued_for FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
