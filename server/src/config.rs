//! The panel's configuration: command-line flags, each with an environment variable,
//! and defaults that need nothing configured on a single host.

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where the panel keeps its state: the SQLite database, the master key, the data plane.
    #[arg(long, env = "MYWP_STATE_DIR", default_value = "var", global = true)]
    pub state_dir: PathBuf,

    /// The control-plane database: sqlite://… (default: <state dir>/mywp.db) or postgres://…
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// The domain every site gets a subdomain of.
    #[arg(
        long,
        env = "MYWP_PLATFORM_DOMAIN",
        default_value = "localhost",
        global = true
    )]
    pub platform_domain: String,

    /// The port nginx serves the sites on.
    #[arg(long, env = "MYWP_SITES_PORT", default_value_t = 8080, global = true)]
    pub sites_port: u16,

    /// Where the built browser bundle is (holds pkg/).
    #[arg(
        long,
        env = "MYWP_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,

    /// Jobs one worker process runs at once.
    #[arg(
        long,
        env = "MYWP_WORKER_CONCURRENCY",
        default_value_t = 8,
        global = true
    )]
    pub worker_concurrency: usize,

    /// The start of this worker's name in the queue (the process id and a random suffix are
    /// added: the queue refuses two live workers of one name).
    #[arg(long, env = "MYWP_WORKER_NAME", global = true)]
    pub worker_name: Option<String>,

    /// Seconds a worker's hold on a site lasts unless renewed.
    #[arg(long, env = "MYWP_LEASE_SECONDS", default_value_t = 15, global = true)]
    pub lease_seconds: u64,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.state_dir.join("mywp.db").display()))
    }

    pub fn worker_name(&self) -> String {
        let base = self.worker_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            format!("mywp-worker@{}", host.trim())
        });
        format!(
            "{base}/{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The panel's address.
    #[arg(long, env = "MYWP_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Serve the panel only; run workers with `mywp worker`.
    #[arg(long, env = "MYWP_NO_WORKERS")]
    pub no_workers: bool,

    /// Set when the panel is reached over https: cookies then get `Secure`.
    #[arg(long, env = "MYWP_SECURE_COOKIES")]
    pub secure_cookies: bool,
}
