//! The few queries on apalis's own job table that apalis has no API for, one per backend:
//! deleting an overtaken job, deleting old finished jobs, counting.
//!
//! apalis-sqlite's `Vacuum::vacuum_before` compares its integer `run_at` with a date string
//! (so it deletes every finished job, however recent) and runs `VACUUM`, rewriting the
//! whole file; apalis-postgres has no vacuum at all. Hence these.

use std::time::Duration;

use super::{Storage, QUEUE};

/// What the queue's table holds for this queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobCounts {
    /// Jobs pending, fetched or running.
    pub waiting: i64,
    /// Finished jobs (done, killed, or failed for good) not yet deleted.
    pub finished: i64,
}

/// apalis's statuses of a job that will not run again.
const FINISHED: &str =
    "(status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))";

/// Deletes job `id` if no worker has fetched it yet.
pub(super) async fn delete_waiting(storage: &Storage, id: &str) -> Result<(), sqlx::Error> {
    match storage {
        Storage::Sqlite(_, pool) => {
            sqlx::query("DELETE FROM Jobs WHERE id = ?1 AND status = 'Pending'")
                .bind(id)
                .execute(pool)
                .await?;
        }
        Storage::Postgres(_, pool) => {
            sqlx::query("DELETE FROM apalis.jobs WHERE id = $1 AND status = 'Pending'")
                .bind(id)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Deletes this queue's jobs that finished more than `kept` ago.
pub(super) async fn prune(storage: &Storage, kept: Duration) -> Result<u64, sqlx::Error> {
    let before = std::time::SystemTime::now()
        .checked_sub(kept)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let done = match storage {
        // done_at: Unix seconds.
        Storage::Sqlite(_, pool) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM Jobs WHERE job_type = ?1 AND done_at <= ?2 AND {FINISHED}"
        )))
        .bind(QUEUE)
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected(),
        // done_at: timestamptz.
        Storage::Postgres(_, pool) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM apalis.jobs WHERE job_type = $1 AND done_at <= to_timestamp($2) \
                 AND {FINISHED}"
        )))
        .bind(QUEUE)
        .bind(before as f64)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    Ok(done)
}

/// Counts this queue's jobs, waiting and finished.
pub(super) async fn counts(storage: &Storage) -> Result<JobCounts, sqlx::Error> {
    let (waiting, finished): (i64, i64) = match storage {
        Storage::Sqlite(_, pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FILTER (WHERE NOT {FINISHED}), COUNT(*) FILTER (WHERE {FINISHED}) \
                 FROM Jobs WHERE job_type = ?1"
            )))
            .bind(QUEUE)
            .fetch_one(pool)
            .await?
        }
        Storage::Postgres(_, pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FILTER (WHERE NOT {FINISHED}), COUNT(*) FILTER (WHERE {FINISHED}) \
                 FROM apalis.jobs WHERE job_type = $1"
            )))
            .bind(QUEUE)
            .fetch_one(pool)
            .await?
        }
    };
    Ok(JobCounts { waiting, finished })
}
