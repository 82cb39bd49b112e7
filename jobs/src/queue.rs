//! The job queue: apalis on SQLite (a file beside the control-plane database: apalis-sqlite
//! sets `synchronous = OFF` on its pool, which the control plane must not have) or on the
//! control plane's PostgreSQL (its own `apalis` schema).
//!
//! A job is "run site N's pipeline". The pipeline's lease makes a duplicate job harmless,
//! so the sweep may hand out a site again whenever no worker holds it.

use std::{future::Future, sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};

use crate::{
    pipeline::{Outcome, Pipeline},
    store::{sqlite_path, Backend, StoreError},
};

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

#[derive(Clone)]
pub enum JobQueue {
    Sqlite(SqliteStorage<RunSite>),
    Postgres(PostgresStorage<RunSite>),
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobQueue::Sqlite(_) => "JobQueue::Sqlite",
            JobQueue::Postgres(_) => "JobQueue::Postgres",
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
    /// Opens the queue that goes with the control-plane database at `database_url`.
    pub async fn open(database_url: &str) -> Result<JobQueue, QueueError> {
        match Backend::of_url(database_url)? {
            Backend::Sqlite => {
                let pool =
                    apalis_sqlite::SqlitePool::connect(&sqlite_queue_url(database_url)).await?;
                SqliteStorage::setup(&pool)
                    .await
                    .map_err(|e| QueueError::Apalis(e.to_string()))?;
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(HEARTBEAT);
                Ok(JobQueue::Sqlite(
                    SqliteStorage::new(&pool).with_config(config),
                ))
            }
            Backend::Postgres => {
                let pool = apalis_postgres::PgPool::connect(database_url).await?;
                PostgresStorage::setup(&pool)
                    .await
                    .map_err(|e| QueueError::Apalis(e.to_string()))?;
                let config = apalis_postgres::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(HEARTBEAT);
                Ok(JobQueue::Postgres(
                    PostgresStorage::new(&pool).with_config(config),
                ))
            }
        }
    }

    /// Asks a worker to run site `site_id`'s pipeline after `delay`.
    pub async fn enqueue(&self, site_id: i64, delay: Duration) -> Result<(), QueueError> {
        let task = TaskBuilder::new(RunSite { site_id })
            .run_after(delay)
            .build();
        let result = match self.clone() {
            JobQueue::Sqlite(mut q) => q.push_task(task).await.map_err(|e| e.to_string()),
            JobQueue::Postgres(mut q) => q.push_task(task).await.map_err(|e| e.to_string()),
        };
        result.map_err(QueueError::Apalis)
    }

    /// Runs `concurrency` workers named `name` until `shutdown` completes, plus the sweep
    /// that hands out again any site left unfinished (a worker killed mid-step, a lost job).
    pub async fn run_workers(
        self,
        name: String,
        pipeline: Arc<Pipeline>,
        concurrency: usize,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueueError> {
        let sweep = tokio::spawn(sweep(self.clone(), Arc::clone(&pipeline)));
        let ctx = Arc::new(WorkerCtx {
            queue: self.clone(),
            pipeline,
        });
        let poll = Duration::from_millis(100);
        let result = match self {
            JobQueue::Sqlite(storage) => {
                let backend = storage.poll_with_interval(poll);
                Monitor::new()
                    .register(move |_| {
                        WorkerBuilder::new(name.as_str())
                            .backend(backend.clone())
                            .concurrency(concurrency)
                            .data(Arc::clone(&ctx))
                            .build(run_site)
                    })
                    .shutdown_timeout(Duration::from_secs(20))
                    .run_with_signal(async move {
                        shutdown.await;
                        Ok(())
                    })
                    .await
            }
            JobQueue::Postgres(storage) => {
                let backend = storage.poll_with_interval(poll * 3);
                Monitor::new()
                    .register(move |_| {
                        WorkerBuilder::new(name.as_str())
                            .backend(backend.clone())
                            .concurrency(concurrency)
                            .data(Arc::clone(&ctx))
                            .build(run_site)
                    })
                    .shutdown_timeout(Duration::from_secs(20))
                    .run_with_signal(async move {
                        shutdown.await;
                        Ok(())
                    })
                    .await
            }
        };
        sweep.abort();
        result.map_err(|e| QueueError::Apalis(e.to_string()))
    }
}

struct WorkerCtx {
    queue: JobQueue,
    pipeline: Arc<Pipeline>,
}

/// The job: run the pipeline, and ask again when a step is waiting or the site was busy.
async fn run_site(job: RunSite, ctx: Data<Arc<WorkerCtx>>) -> Result<(), BoxDynError> {
    match ctx.pipeline.run(job.site_id).await? {
        Outcome::Settled => {}
        Outcome::Busy(after) | Outcome::Again(after) => {
            ctx.queue.enqueue(job.site_id, after).await?
        }
    }
    Ok(())
}

/// At start, hands out every site with work left (a site whose lease is still held by a
/// killed worker comes back when the lease ends); then every 15 seconds, asks for the
/// scheduled snapshots that are due and hands out the sites with work left and no live lease.
async fn sweep(queue: JobQueue, pipeline: Arc<Pipeline>) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    let mut first = true;
    loop {
        tick.tick().await;
        if let Some(every) = pipeline.settings().snapshot_every {
            // A failed scheduled snapshot is tried again within the hour.
            let retry_after = every.min(Duration::from_secs(3600));
            if let Err(e) = pipeline
                .store()
                .schedule_due_snapshots(every, retry_after)
                .await
            {
                tracing::warn!(error = %e, "sweep could not schedule snapshots");
            }
        }
        let sites = pipeline
            .store()
            .unsettled_sites(!std::mem::take(&mut first))
            .await;
        match sites {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = queue.enqueue(id, Duration::ZERO).await {
                        tracing::warn!(site_id = id, error = %e, "sweep could not enqueue");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweep could not list sites"),
        }
    }
}
