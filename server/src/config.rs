//! The panel's configuration: command-line flags, each with an environment variable,
//! and defaults that need nothing configured on a single host.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};

/// Where the sites are provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    /// This host: MariaDB, directories, nginx + php-fpm (started by scripts/dataplane.sh).
    SingleHost,
    /// Shared AWS infrastructure, named by the MYWP_AWS_* keys (needs the `aws` feature).
    Aws,
}

#[derive(Clone, Args)]
pub struct Config {
    /// An env-style file (KEY=value lines, the same keys as the environment variables) read
    /// at start; variables set in the environment win over it.
    #[arg(long, env = "MYWP_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// The deployment shape.
    #[arg(
        long,
        env = "MYWP_SHAPE",
        value_enum,
        default_value_t = Shape::SingleHost,
        global = true
    )]
    pub shape: Shape,

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

    /// Hours between a live site's scheduled snapshots (its database and files); 0 turns
    /// the schedule off (snapshots on request still work).
    #[arg(
        long,
        env = "MYWP_SNAPSHOT_EVERY_HOURS",
        default_value_t = 24,
        global = true
    )]
    pub snapshot_every_hours: u64,

    /// How many scheduled snapshots each site keeps (older ones are deleted).
    #[arg(long, env = "MYWP_SNAPSHOT_KEEP", default_value_t = 14, global = true,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub snapshot_keep: u64,
}

/// Shows everything but the database URL's password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("config", &self.config)
            .field("shape", &self.shape)
            .field("state_dir", &self.state_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::redact),
            )
            .field("platform_domain", &self.platform_domain)
            .field("sites_port", &self.sites_port)
            .field("site_root", &self.site_root)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("worker_name", &self.worker_name)
            .field("lease_seconds", &self.lease_seconds)
            .field("snapshot_every_hours", &self.snapshot_every_hours)
            .field("snapshot_keep", &self.snapshot_keep)
            .finish()
    }
}

/// The config file named by `--config FILE` / `--config=FILE` or `MYWP_CONFIG`, read before
/// the command line is parsed so that its keys act as environment variables: each
/// `KEY=value` line is set unless the environment has `KEY` already. Comments (`#`), blank
/// lines, `export ` prefixes and quotes around values are allowed.
pub fn load_config_file(args: &[String]) -> anyhow::Result<Option<PathBuf>> {
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_string).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let Some(path) = from_args.or_else(|| std::env::var("MYWP_CONFIG").ok()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            anyhow::bail!(
                "{}:{}: expected KEY=value, found {line:?}",
                path.display(),
                n + 1
            );
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            anyhow::bail!(
                "{}:{}: {key:?} is not a variable name",
                path.display(),
                n + 1
            );
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        if std::env::var_os(key).is_none() {
            // Called from `main` before the runtime and its threads start.
            std::env::set_var(key, value);
        }
    }
    Ok(Some(path))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_database_password() {
        let config = Config {
            config: None,
            shape: Shape::SingleHost,
            state_dir: "var".into(),
            database_url: Some("postgres://mywp:s3cret@db.internal/mywp".into()),
            platform_domain: "localhost".into(),
            sites_port: 8080,
            site_root: "target/site".into(),
            worker_concurrency: 8,
            worker_name: None,
            lease_seconds: 15,
            snapshot_every_hours: 24,
            snapshot_keep: 14,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://mywp:***@db.internal/mywp"),
            "{shown}"
        );
    }
}
