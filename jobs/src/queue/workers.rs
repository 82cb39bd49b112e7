//! The workers: apalis monitors running the `RunSite` job on either backend (one generic
//! set-up), and the sweep beside them.

use std::{future::Future, sync::Arc, time::Duration};

use apalis::{layers::limit::ConcurrencyLimitLayer, prelude::*};
use apalis_core::backend::{finalize::FinalizeBackend, BackendConfig};
use futures::future::BoxFuture;

use super::{JobQueue, QueueError, RunSite, Storage};
use crate::pipeline::{Outcome, Pipeline};

/// How long a worker waits between fetches while jobs keep coming; each empty fetch doubles
/// the wait, up to `IDLE_POLL` (the heartbeat also wakes it). Polling every 100 ms for
/// ever cost an idle panel 1.1 % of a core (`make bench`, part 5).
const POLL: Duration = Duration::from_millis(100);
const IDLE_POLL: Duration = Duration::from_millis(500);

struct WorkerCtx {
    queue: JobQueue,
    pipeline: Arc<Pipeline>,
}

impl JobQueue {
    /// Runs `concurrency` workers named `name` until `shutdown` completes, plus the sweep
    /// that hands out again any site left unfinished (a worker killed mid-step, a lost job)
    /// and deletes old finished jobs.
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
        let result = match self.storage {
            Storage::Sqlite(storage, _) => {
                let backend = storage.poll_with_backoff(POLL, BackoffConfig::new(IDLE_POLL));
                monitor(backend, name, concurrency, ctx, shutdown).await
            }
            // Each poll is a round trip to a server that other processes share: less often.
            Storage::Postgres(storage, _) => {
                let backend =
                    storage.poll_with_backoff(POLL * 3, BackoffConfig::new(IDLE_POLL * 2));
                monitor(backend, name, concurrency, ctx, shutdown).await
            }
        };
        sweep.abort();
        result.map_err(|e| QueueError::Apalis(e.to_string()))
    }
}

/// The job's handler as a nameable type, so `monitor`'s bounds can name its service.
type Handler = fn(RunSite, TaskId, Data<Arc<WorkerCtx>>) -> BoxFuture<'static, JobResult>;
type JobResult = Result<(), BoxDynError>;
/// The middleware `monitor` stacks around the handler (innermost last).
type Middleware = Stack<Data<Arc<WorkerCtx>>, Stack<ConcurrencyLimitLayer, Identity>>;
/// The handler as apalis wraps it, inside the middleware.
type HandlerService = LifecycleService<TaskFn<Handler, RunSite, (TaskId, Data<Arc<WorkerCtx>>)>>;

/// One apalis monitor of `concurrency` workers on `backend` (either storage, polled),
/// until `shutdown`. The bounds are what apalis asks of a backend to run our handler: `O`
/// is the backend as finalised for a worker, `I` our middleware around the handler, `W`
/// the backend's own layer around that.
async fn monitor<B, O, I, W>(
    backend: B,
    name: String,
    concurrency: usize,
    ctx: Arc<WorkerCtx>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MonitorError>
where
    B: Backend + BackendConfig<Args = RunSite> + Clone + Send + Sync + 'static,
    B::Kind: FinalizeBackend<B, RunSite, Backend = O>,
    O: Backend<Task = Task<RunSite>> + BackendConfig<Args = RunSite> + Send + Unpin + 'static,
    O::Error: Into<BoxDynError> + Send + 'static,
    Middleware: Layer<HandlerService, Service = I>,
    O::Layer: Layer<I, Service = W>,
    W: Service<Task<RunSite>> + Send + 'static,
    W::Future: Send,
    W::Error: Into<BoxDynError> + Send + Sync + 'static,
    W::Response: Send + Sync + 'static,
{
    let handler: Handler = |job, id, ctx| Box::pin(run_site(job, id, ctx));
    Monitor::new()
        .register(move |_| {
            WorkerBuilder::new(name.as_str())
                .backend(backend.clone())
                .concurrency(concurrency)
                .data(Arc::clone(&ctx))
                .build(handler)
        })
        .shutdown_timeout(Duration::from_secs(20))
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
}

/// The job: unless another job for the site waits to run, run the pipeline, and ask again
/// when a step is waiting or the site was busy.
async fn run_site(job: RunSite, id: TaskId, ctx: Data<Arc<WorkerCtx>>) -> JobResult {
    let site_id = job.site_id;
    if !ctx
        .queue
        .store
        .start_queued_run(site_id, &id.to_string())
        .await?
    {
        return Ok(());
    }
    match ctx.pipeline.run(site_id).await? {
        Outcome::Settled | Outcome::Gone => {}
        Outcome::Busy(after) | Outcome::Again(after) => ctx.queue.enqueue(site_id, after).await?,
    }
    Ok(())
}

/// At start, hands out every site with work left (a site whose lease is still held by a
/// killed worker comes back when the lease ends); then at every tick, asks for the scheduled
/// snapshots that are due, hands out the sites with work left, no live lease and no waiting
/// job, and deletes the finished jobs older than the settings keep.
async fn sweep(queue: JobQueue, pipeline: Arc<Pipeline>) {
    let mut tick = tokio::time::interval(queue.settings.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                    if let Err(e) = queue.hand_out(id).await {
                        tracing::warn!(site_id = id, error = %e, "sweep could not enqueue");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweep could not list sites"),
        }
        match queue.prune().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(jobs = n, "sweep deleted finished jobs"),
            Err(e) => tracing::warn!(error = %e, "sweep could not delete finished jobs"),
        }
    }
}
