//! The `mywp` binary's library: configuration, start-up, the HTTP routes, the CLI and the
//! web nodes' agent.
//!
//! Tests build an [`Application`] on port 0 with a fresh database, exactly as `mywp serve` does.

pub mod agent;
pub mod cli;
pub mod config;
mod downloads;
mod routes;
pub mod shape;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt;
use mywp_app::api::ssr::{AppState, LoginLinks};
use mywp_jobs::{
    domain::Retention,
    pipeline::{self, Pipeline},
    queue::JobQueue,
    settings::Settings,
    store::Store,
};
use tokio::net::TcpListener;

pub use config::ServeArgs;

/// The control plane's parts, opened from the [`Settings`]: store, queue and pipeline.
pub struct ControlPlane {
    pub settings: Settings,
    pub store: Store,
    pub queue: JobQueue,
    pub pipeline: Arc<Pipeline>,
    pub login_links: Option<LoginLinks>,
    pub fleet: Option<mywp_app::api::ssr::FleetSource>,
    /// How snapshots are scheduled and kept, in words; `None`: no snapshots here.
    pub snapshot_policy: Option<String>,
    /// Where the snapshots are kept (for downloads).
    pub snapshot_vault: Option<Arc<dyn mywp_jobs::snapshots::Vault>>,
    /// This process's name in the queue and on the sites it leases.
    pub worker_name: String,
}

impl ControlPlane {
    /// Opens the database (migrating it), the job queue and the shape's drivers.
    pub async fn open(settings: Settings) -> anyhow::Result<ControlPlane> {
        let url = settings.database_url();
        let store = Store::open(&url)
            .await
            .with_context(|| format!("opening {}", redact(&url)))?;
        let queue = JobQueue::open(&url, store.clone())
            .await
            .context("opening the job queue")?;
        let plane = shape::data_plane(&settings).await?;
        let policy = pipeline::Settings {
            addressing: settings.addressing(),
            lease_ttl: Duration::from_secs(settings.workers.lease_seconds.max(3)),
            snapshot_every: (settings.snapshots.snapshot_every_hours > 0)
                .then(|| Duration::from_secs(settings.snapshots.snapshot_every_hours * 3600)),
            retention: Retention {
                scheduled: settings.snapshots.snapshot_keep as usize,
                ..Retention::default()
            },
            dns_resolver: settings.domains.dns_resolver,
            domain_check_every: Duration::from_secs(settings.domains.domain_check_every_seconds),
            ..pipeline::Settings::default()
        };
        let snapshot_policy = plane.snapshots.is_some().then(|| snapshot_policy(&policy));
        let snapshot_vault = plane.snapshots.as_ref().map(|s| s.vault().clone());
        let worker_name = settings.worker_name();
        let pipeline = Arc::new(Pipeline::new(
            store.clone(),
            plane.drivers,
            plane.snapshots,
            policy,
            worker_name.clone(),
        ));
        Ok(ControlPlane {
            settings,
            store,
            queue,
            pipeline,
            login_links: plane.login_links,
            fleet: plane.fleet,
            snapshot_policy,
            snapshot_vault,
            worker_name,
        })
    }

    /// Runs the workers until `shutdown` completes.
    pub async fn run_workers(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.queue
            .clone()
            .run_workers(
                self.worker_name.clone(),
                Arc::clone(&self.pipeline),
                self.settings.workers.worker_concurrency,
                shutdown,
            )
            .await?;
        Ok(())
    }
}

/// The snapshot schedule and retention, as the site page states them.
fn snapshot_policy(settings: &pipeline::Settings) -> String {
    let keep = &settings.retention;
    let schedule = match settings.snapshot_every {
        Some(every) if every.as_secs() == 24 * 3600 => "A snapshot is taken every day".into(),
        Some(every) => format!("A snapshot is taken every {} hours", every.as_secs() / 3600),
        None => "Snapshots are taken on request only".into(),
    };
    format!(
        "{schedule}. Kept: the {} newest scheduled snapshots, the {} newest taken on request \
         and the {} newest taken before a restore.",
        keep.scheduled, keep.manual, keep.pre_restore
    )
}

/// A URL with its password (if any) replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The panel, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    plane: Arc<ControlPlane>,
    workers: bool,
}

impl Application {
    pub async fn build(settings: Settings, serve: ServeArgs) -> anyhow::Result<Application> {
        let plane = Arc::new(ControlPlane::open(settings).await?);
        let state = AppState {
            store: plane.store.clone(),
            queue: plane.queue.clone(),
            addressing: plane.settings.addressing(),
            secure_cookies: serve.secure_cookies,
            login_links: plane.login_links.clone(),
            fleet: plane.fleet.clone(),
            snapshot_policy: plane.snapshot_policy.clone(),
            snapshot_vault: plane.snapshot_vault.clone(),
        };
        let router = routes::router(state, &plane.settings, serve.listen)?;
        let listener = TcpListener::bind(serve.listen)
            .await
            .with_context(|| format!("binding {}", serve.listen))?;
        Ok(Application {
            listener,
            router,
            plane,
            workers: !serve.no_workers,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn control_plane(&self) -> &Arc<ControlPlane> {
        &self.plane
    }

    /// Serves (and runs the workers, unless told not to) until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let workers = self.workers.then(|| {
            let plane = Arc::clone(&self.plane);
            let mut rx = stop_rx.clone();
            tokio::spawn(async move {
                plane
                    .run_workers(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    })
                    .await
            })
        });
        let mut rx = stop_rx.clone();
        // Pages stream in several writes: without TCP_NODELAY, Nagle's algorithm holds each
        // later write for the client's delayed ACK (~40 ms a page).
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.wait_for(|s| *s).await;
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        server.await?;
        if let Some(workers) = workers {
            workers.await??;
        }
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
