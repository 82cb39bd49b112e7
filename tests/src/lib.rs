//! The harness of MyWP's integration and end-to-end tests.
//!
//! Every test gets a fresh control-plane database and unique names; they share the data
//! plane (MariaDB, php-fpm, nginx) and PostgreSQL that the test command started, found
//! through `MYWP_TEST_STATE_DIR` and `MYWP_TEST_POSTGRES_URL`.

#[cfg(feature = "aws")]
pub mod aws;
pub mod browser;
pub mod bundle;
pub mod customer;
pub mod dataplane;
pub mod direct;
#[cfg(feature = "aws")]
pub mod faults;
pub mod own_mariadb;
pub mod postgres;
pub mod tenant;
pub mod wp_admin;

use std::{
    future::Future,
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use mywp::{Application, ServeArgs};
use mywp_jobs::settings::{Layers, Settings};
use tokio::sync::oneshot;

pub use customer::Customer;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `mywp` binary: `MYWP_BIN` (set by the test command), else beside the test binary.
pub fn mywp_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("MYWP_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("mywp");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p mywp` (make test does)",
        bin.display()
    );
    bin
}

/// A name no other test (in this run or an earlier one) uses: `prefix` + pid + counter + time.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000;
    format!("{prefix}{}x{n}x{t}", std::process::id())
}

/// A database namespace of its own for a test panel (`MYWP_DB_NAMESPACE`): every panel
/// numbers its sites from 1, and the tests' panels share one MariaDB.
pub fn db_namespace() -> String {
    use sha2::Digest;
    let seed = unique("ns");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let hash = sha2::Sha256::digest(format!("{seed}/{nanos}").as_bytes());
    // A letter first keeps it readable in a name (`mywpt1a2b3c4_7`).
    format!("t{}", &hex::encode(hash)[..7])
}

/// Polls `check` every 100 ms until it yields `Some`, for at most `timeout`; then fails
/// with `what` and the last thing `check` saw.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if start.elapsed() > timeout => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The settings of a test panel: the shared data plane's (its `dataplane.env`), a fresh
/// SQLite database in `dir`, short leases.
pub fn test_config(dir: &std::path::Path) -> Settings {
    Layers::of_data_plane(&dataplane::state_dir())
        .expect("dataplane.env: run the tests with `make test`, which starts the data plane")
        .with([
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("mywp.db").display()),
            ),
            (
                "MYWP_SITE_ROOT",
                repo_root().join("target/site").display().to_string(),
            ),
            ("MYWP_WORKER_NAME", "test-worker".into()),
            ("MYWP_DB_NAMESPACE", db_namespace()),
            ("MYWP_LEASE_SECONDS", "3".into()),
        ])
        .settings()
        .expect("the test settings are valid")
}

/// A panel running in this process on a free port, with its own database and workers.
pub struct TestApp {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub config: Settings,
    pub plane: std::sync::Arc<mywp::ControlPlane>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}, true).await
    }

    /// A panel whose configuration `tweak` may change; `workers` false serves only.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings), workers: bool) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let serve = ServeArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            no_workers: !workers,
            secure_cookies: false,
        };
        let app = Application::build(config.clone(), serve)
            .await
            .expect("the panel starts");
        let base = format!("http://{}", app.addr());
        let plane = app.control_plane().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            dir,
            config,
            plane,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The database name of the site `slug` (which must exist) of this panel.
    pub async fn site_db(&self, slug: &str) -> String {
        let site = self
            .plane
            .store
            .site_by_slug(slug)
            .await
            .expect("read the site")
            .unwrap_or_else(|| panic!("no site {slug}"));
        self.config.host.db_namespace.db_name(site.id)
    }

    pub fn customer(&self) -> Customer {
        Customer::new(&self.base)
    }

    /// A signed-up customer with a unique email.
    pub async fn new_customer(&self) -> Customer {
        let c = self.customer();
        let email = format!("{}@example.com", unique("c"));
        let res = c
            .call(
                "signup",
                &[
                    ("email", email.as_str()),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert!(res.status().is_success(), "signup failed: {}", res.status());
        c
    }

    /// Stops the panel and its workers and waits for them.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("the panel's task")
                .expect("the panel stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A `mywp worker` process on `app`'s database and the shared data plane, for tests that
/// kill it (the panel serves only: `TestApp::spawn_with(.., false)`).
pub fn spawn_worker(app: &TestApp) -> tokio::process::Child {
    tokio::process::Command::new(mywp_bin())
        .arg("worker")
        .env("DATABASE_URL", app.config.database_url())
        .env("MYWP_STATE_DIR", &app.config.state_dir)
        .env("MYWP_DB_NAMESPACE", app.config.host.db_namespace.as_str())
        .env("MYWP_LEASE_SECONDS", "2")
        .env("MYWP_WORKER_NAME", "killable")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start mywp worker")
}

/// SIGKILLs a worker from [`spawn_worker`] and reaps it.
pub async fn sigkill(mut worker: tokio::process::Child) {
    worker.start_kill().expect("SIGKILL the worker");
    worker.wait().await.expect("the killed worker is reaped");
}
