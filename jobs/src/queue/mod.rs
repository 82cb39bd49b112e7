//! The job queue: apalis on SQLite (a file beside the control-plane database: apalis-sqlite
//! sets `synchronous = OFF` on its pool, which the control plane must not have) or on the
//! control plane's PostgreSQL (its own `apalis` schema).
//!
//! A job is "run site N's pipeline". At most one job per site waits in the queue: the site's
//! row is claimed for a job before it is added (`store::queued_runs`), so a site that no
//! longer exists gets no job at all, and asking twice adds nothing. The pipeline's lease
//! keeps a second run of a site (a job the claim could not stop: an overtaken one already
//! fetched, one re-delivered after a crash) harmless.

mod tables;
mod workers;

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};

pub use tables::JobCounts;

use crate::store::{now_ms, sqlite_path, Backend, RunClaim, Store, StoreError};

/// The one kind of job: carry a site's pipeline as far as it goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunSite {
    pub site_id: i64,
}

const QUEUE: &str = "mywp::run_site";

/// How often a worker beats: it also wakes an idle worker to look for new jobs (apalis
/// parks a worker whose fetch came back empty until its next heartbeat), and a worker that
/// misses two beats is dead, its jobs handed to others.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The queue's housekeeping.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// How often the sweep runs: schedules due snapshots, hands out sites with work left
    /// and no waiting job, and deletes old finished jobs.
    pub sweep_every: Duration,
    /// How long a finished job stays in the queue's table (for inspection) before the
    /// sweep deletes it.
    pub keep_finished: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            sweep_every: Duration::from_secs(15),
            keep_finished: Duration::from_secs(10 * 60),
        }
    }
}

/// The queue of one control plane: its apalis storage and the store holding the claims.
#[derive(Clone)]
pub struct JobQueue {
    store: Store,
    storage: Storage,
    settings: QueueSettings,
}

/// apalis's storage on either backend, with its pool for the queries apalis has no API for.
#[derive(Clone)]
enum Storage {
    Sqlite(SqliteStorage<RunSite>, apalis_sqlite::SqlitePool),
    Postgres(PostgresStorage<RunSite>, apalis_postgres::PgPool),
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.storage {
            Storage::Sqlite(..) => "JobQueue::Sqlite",
            Storage::Postgres(..) => "JobQueue::Postgres",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("job queue: {0}")]
    Store(#[from] StoreError),
    #[error("job queue database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("job queue: {0}")]
    Apalis(String),
}

/// Where the SQLite queue of the control-plane database at `url` lives.
pub fn sqlite_queue_url(url: &str) -> String {
    match sqlite_path(url) {
        Some(path) => format!("sqlite://{path}.queue?mode=rwc"),
        None => "sqlite::memory:".into(),
    }
}

impl JobQueue {
    /// Opens the queue that goes with the control-plane database at `database_url`, whose
    /// `store` keeps the claims.
    pub async fn open(database_url: &str, store: Store) -> Result<JobQueue, QueueError> {
        let storage = match Backend::of_url(database_url)? {
            Backend::Sqlite => {
                let pool =
                    apalis_sqlite::SqlitePool::connect(&sqlite_queue_url(database_url)).await?;
                SqliteStorage::setup(&pool)
                    .await
                    .map_err(|e| QueueError::Apalis(e.to_string()))?;
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(HEARTBEAT);
                Storage::Sqlite(SqliteStorage::new(&pool).with_config(config), pool)
            }
            Backend::Postgres => {
                let pool = apalis_postgres::PgPool::connect(database_url).await?;
                PostgresStorage::setup(&pool)
                    .await
                    .map_err(|e| QueueError::Apalis(e.to_string()))?;
                let config = apalis_postgres::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(HEARTBEAT);
                Storage::Postgres(PostgresStorage::new(&pool).with_config(config), pool)
            }
        };
        Ok(JobQueue {
            store,
            storage,
            settings: QueueSettings::default(),
        })
    }

    /// The same queue with other housekeeping settings.
    pub fn with_settings(mut self, settings: QueueSettings) -> JobQueue {
        self.settings = settings;
        self
    }

    pub fn settings(&self) -> QueueSettings {
        self.settings
    }

    /// Asks a worker to run site `site_id`'s pipeline after `delay`: adds a job unless one
    /// already waits that runs no later; one that waits longer is replaced. Nothing is added
    /// for a site that no longer exists.
    pub async fn enqueue(&self, site_id: i64, delay: Duration) -> Result<(), QueueError> {
        self.add(site_id, delay, true).await
    }

    /// The sweep's enqueue: adds a job now unless any job already waits for the site
    /// (one waiting for a slow resource keeps its time).
    pub async fn hand_out(&self, site_id: i64) -> Result<(), QueueError> {
        self.add(site_id, Duration::ZERO, false).await
    }

    async fn add(&self, site_id: i64, delay: Duration, overtake: bool) -> Result<(), QueueError> {
        let id = ulid::Ulid::generate();
        let job_id = id.to_string();
        let due = now_ms() + delay.as_millis() as i64;
        let claim = self
            .store
            .claim_queued_run(site_id, &job_id, due, overtake)
            .await?;
        let RunClaim::Claimed { overtaken } = claim else {
            return Ok(());
        };
        if let Err(e) = self.push(site_id, id, delay).await {
            self.store.cancel_queued_run(site_id, &job_id).await?;
            return Err(e);
        }
        if let Some(old) = overtaken {
            // Still waiting: gone from the queue. Already fetched: it finds the claim is
            // not its own and ends without running.
            if let Err(e) = tables::delete_waiting(&self.storage, &old).await {
                tracing::warn!(site_id, error = %e, "could not delete an overtaken job");
            }
        }
        Ok(())
    }

    async fn push(&self, site_id: i64, id: ulid::Ulid, delay: Duration) -> Result<(), QueueError> {
        let task = TaskBuilder::new(RunSite { site_id })
            .task_id(TaskId::from(id))
            .run_after(delay)
            .build();
        let result = match self.storage.clone() {
            Storage::Sqlite(mut q, _) => q.push_task(task).await.map_err(|e| e.to_string()),
            Storage::Postgres(mut q, _) => q.push_task(task).await.map_err(|e| e.to_string()),
        };
        result.map_err(QueueError::Apalis)
    }

    /// How many of this queue's jobs wait or run, and how many finished ones are kept.
    pub async fn counts(&self) -> Result<JobCounts, QueueError> {
        Ok(tables::counts(&self.storage).await?)
    }

    /// Deletes the finished jobs older than the settings keep; returns how many.
    pub async fn prune(&self) -> Result<u64, QueueError> {
        Ok(tables::prune(&self.storage, self.settings.keep_finished).await?)
    }
}
