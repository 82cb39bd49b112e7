//! MyWP's settings: one typed tree, parsed once from the command line, the environment, the
//! config file and the data plane's `dataplane.env`, in that order of precedence (see
//! [`Layers`]). Nothing writes the process environment.
//!
//! Adding a key means adding one field to one of these structs: its flag, its environment
//! variable, its default and its parser are the field's attributes, and the config files
//! feed it under the same name as the environment variable.

mod layers;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub use layers::{read_env_file, Layers, SettingsError};

use crate::{
    domain::{Hostname, SiteAddressing},
    secrets::Secret,
    sitedb::DbNamespace,
};

/// Where the sites are provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    /// This host: MariaDB, directories, nginx + php-fpm (started by scripts/dataplane.sh).
    SingleHost,
    /// Shared AWS infrastructure, named by the MYWP_AWS_* keys (needs the `aws` feature).
    Aws,
}

/// The whole tree. `mywp`'s command line flattens it; tests build it from key-value pairs
/// with [`Settings::from_pairs`].
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// An env-style file (KEY=value lines, the same keys as the environment variables) read
    /// at start; variables set in the environment win over it.
    #[arg(long, env = "MYWP_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// The deployment shape.
    #[arg(long, env = "MYWP_SHAPE", value_enum, default_value_t = Shape::SingleHost, global = true)]
    pub shape: Shape,

    /// Where the panel keeps its state: the SQLite database, the master key, the data plane.
    #[arg(long, env = "MYWP_STATE_DIR", default_value = "var", global = true)]
    pub state_dir: PathBuf,

    /// The control-plane database: sqlite://… (default: <state dir>/mywp.db) or postgres://…
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_parser = secret)]
    pub database_url: Option<Secret>,

    /// The master key file every site's secrets derive from (default: <state dir>/master.key,
    /// created on first use). The AWS shape needs an explicit one, shared by every process.
    #[arg(long, env = "MYWP_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,

    /// Where the built browser bundle is (holds pkg/).
    #[arg(
        long,
        env = "MYWP_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,

    #[command(flatten)]
    pub sites: SiteSettings,

    #[command(flatten)]
    pub workers: WorkerSettings,

    #[command(flatten)]
    pub snapshots: SnapshotSettings,

    #[command(flatten)]
    pub host: HostSettings,

    #[command(flatten)]
    pub aws: AwsSettings,
}

/// How the sites are addressed.
#[derive(Debug, Clone, Args)]
pub struct SiteSettings {
    /// The domain every site gets a subdomain of.
    #[arg(long, env = "MYWP_PLATFORM_DOMAIN", default_value = "localhost", global = true, value_parser = hostname)]
    pub platform_domain: Hostname,

    /// The port the sites are served on (omitted from their URLs when 80). Default: 8080 on
    /// a single host, 80 in the AWS shape.
    #[arg(long, env = "MYWP_SITES_PORT", global = true)]
    pub sites_port: Option<u16>,

    /// The sites are reached over https through a proxy that terminates TLS (the AWS shape's
    /// CloudFront): their URLs are https://<host> and their config trusts the proxy's
    /// X-Forwarded-Proto. Default: on in the AWS shape, off on a single host.
    #[arg(long, env = "MYWP_SITES_HTTPS", value_parser = clap::builder::BoolishValueParser::new())]
    pub sites_https: Option<bool>,
}

/// The workers.
#[derive(Debug, Clone, Args)]
pub struct WorkerSettings {
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

/// The sites' scheduled snapshots.
#[derive(Debug, Clone, Args)]
pub struct SnapshotSettings {
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

/// The web data plane: on a single host, where `scripts/dataplane.sh start` runs MariaDB,
/// php-fpm and nginx (it writes these keys into `<state>/dataplane.env`); in the AWS shape,
/// the web nodes' paths, as baked into their image.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Data plane")]
pub struct HostSettings {
    /// MariaDB's socket (single host: the sites' databases are administered as root on it).
    #[arg(long, env = "MYWP_MARIADB_SOCKET", value_parser = absolute_path)]
    pub mariadb_socket: Option<PathBuf>,
    /// nginx's main config file (single host); its `pid` says which process to reload.
    #[arg(long, env = "MYWP_NGINX_CONF", value_parser = absolute_path)]
    pub nginx_conf: Option<PathBuf>,
    /// Where the per-site server blocks go (single host; the AWS shape uses the EFS mount).
    #[arg(long, env = "MYWP_NGINX_SITES_DIR", value_parser = config_path)]
    pub nginx_sites_dir: Option<PathBuf>,
    /// The FastCGI parameters the server blocks include (default: beside nginx.conf on a
    /// single host, Debian's /etc/nginx/fastcgi_params on the web nodes).
    #[arg(long, env = "MYWP_NGINX_FASTCGI_PARAMS", value_parser = config_path)]
    pub fastcgi_params: Option<PathBuf>,
    /// The `nginx` binary (for `-t` and `-s reload`).
    #[arg(long, env = "MYWP_NGINX_BIN", default_value = "nginx")]
    pub nginx_bin: PathBuf,
    /// php-fpm's socket, the server blocks' `fastcgi_pass`.
    #[arg(long, env = "MYWP_PHP_FPM_SOCKET", value_parser = config_path)]
    pub php_fpm_socket: Option<PathBuf>,
    /// The `php` CLI binary, which runs WordPress's installer.
    #[arg(long, env = "MYWP_PHP_BIN", default_value = "php")]
    pub php_bin: PathBuf,
    /// The sites' directories (single host; the AWS shape uses the EFS mount).
    #[arg(long, env = "MYWP_SITES_DIR", value_parser = config_path)]
    pub sites_dir: Option<PathBuf>,
    /// The shared, read-only WordPress core.
    #[arg(long, env = "MYWP_WORDPRESS_CORE", value_parser = config_path)]
    pub wordpress_core: Option<PathBuf>,
    /// Where prepend.php, install.php and mywp-login.php are installed.
    #[arg(long, env = "MYWP_DATAPLANE_PHP_DIR", value_parser = config_path)]
    pub dataplane_php_dir: Option<PathBuf>,
    /// The shared default theme, linked into each site's themes/.
    #[arg(long, env = "MYWP_DEFAULT_THEME_DIR", value_parser = config_path,
          default_value = "/usr/share/wordpress/wp-content/themes/twentytwentythree")]
    pub default_theme_dir: PathBuf,
    /// The OS user nginx runs as (the group of every site's wp-content, so nginx reads its
    /// static files), and the user of the shared php-fpm pool where sites have no pool of
    /// their own (the AWS shape's web nodes, for now).
    #[arg(long, env = "MYWP_WEB_USER", default_value = "www-data")]
    pub web_user: String,
    /// Each site runs as its own Unix user: uid = gid = this base + the site's id, the same
    /// on every host (no /etc/passwd entry is needed). Keep the range free of other users
    /// (rootless containers' subordinate ids often start at 100000).
    #[arg(long, env = "MYWP_SITE_UID_BASE", default_value_t = 200_000,
          value_parser = clap::value_parser!(u32).range(1000..=3_000_000_000))]
    pub site_uid_base: u32,
    /// Where each site's php-fpm pool file goes (`<slug>.conf`, included by php-fpm's
    /// config); unset: the sites share the pool at `MYWP_PHP_FPM_SOCKET` as the web user.
    #[arg(long, env = "MYWP_PHP_FPM_POOLS_DIR", value_parser = config_path)]
    pub php_fpm_pools_dir: Option<PathBuf>,
    /// Where the per-site pools' sockets go (`<slug>.sock`).
    #[arg(long, env = "MYWP_PHP_FPM_SOCKETS_DIR", value_parser = config_path)]
    pub php_fpm_sockets_dir: Option<PathBuf>,
    /// The php-fpm master's pid file: it is sent SIGUSR2 to load a changed pool.
    #[arg(long, env = "MYWP_PHP_FPM_PID", value_parser = config_path)]
    pub php_fpm_pid: Option<PathBuf>,
    /// The most PHP processes one site's pool runs at once.
    #[arg(long, env = "MYWP_PHP_FPM_MAX_CHILDREN", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub php_fpm_max_children: u32,
    /// The shared read-only directories a site's PHP may read besides its own (open_basedir):
    /// where the shared core's links lead, `:`-separated (written by dataplane.sh).
    #[arg(long, env = "MYWP_PHP_SHARED_DIRS", default_value = "/usr/share/wordpress",
          value_parser = path_list)]
    pub php_shared_dirs: String,
    /// The host part of each site's database user (`'wp_blog'@'<host>'`); default
    /// `localhost` on a single host, `%` in the AWS shape (the web nodes' addresses change).
    #[arg(long, env = "MYWP_DB_USER_HOST", value_parser = db_user_host)]
    pub db_user_host: Option<String>,
    /// Sets this panel's database names apart from another panel's on the same MySQL
    /// server: sites' databases are `mywp<namespace>_<site id>` (default: empty).
    #[arg(long, env = "MYWP_DB_NAMESPACE", default_value = "", value_parser = DbNamespace::parse)]
    pub db_namespace: DbNamespace,
    /// nginx's `listen` for the sites (default: 127.0.0.1:<sites port>).
    #[arg(long, env = "MYWP_SITES_LISTEN", value_parser = listen_address)]
    pub sites_listen: Option<String>,
    /// Where the wordpress step sends its requests for a site's hostname (`host:port`):
    /// default, the address nginx listens on; in the AWS shape, the load balancer.
    #[arg(long, env = "MYWP_SITES_PROBE")]
    pub sites_probe: Option<String>,
}

/// The AWS shape's shared infrastructure (see the README's AWS section).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS shape")]
pub struct AwsSettings {
    /// The infrastructure's region (else AWS_REGION, else us-east-1).
    #[arg(long = "aws-region", env = "MYWP_AWS_REGION")]
    pub region: Option<String>,
    /// AWS_REGION, the SDK's own variable, as a fallback for the region.
    #[arg(long = "aws-sdk-region", env = "AWS_REGION", hide = true)]
    pub sdk_region: Option<String>,
    /// One endpoint for every AWS API (an emulator; tests only).
    #[arg(long = "aws-endpoint-url", env = "MYWP_AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// The platform domain's Route 53 hosted zone.
    #[arg(long = "aws-hosted-zone-id", env = "MYWP_AWS_HOSTED_ZONE_ID")]
    pub hosted_zone_id: Option<String>,
    /// The shared media bucket.
    #[arg(long = "aws-media-bucket", env = "MYWP_AWS_MEDIA_BUCKET")]
    pub media_bucket: Option<String>,
    /// The web fleet's load balancer: the distributions' origin.
    #[arg(long = "aws-alb-dns-name", env = "MYWP_AWS_ALB_DNS_NAME")]
    pub alb_dns_name: Option<String>,
    /// The `*.<platform domain>` certificate, in us-east-1.
    #[arg(long = "aws-platform-cert-arn", env = "MYWP_AWS_PLATFORM_CERT_ARN")]
    pub platform_cert_arn: Option<String>,
    /// The shared EFS file system.
    #[arg(long = "aws-efs-id", env = "MYWP_AWS_EFS_ID")]
    pub efs_id: Option<String>,
    /// Where that file system is mounted.
    #[arg(
        long = "aws-efs-mount",
        env = "MYWP_AWS_EFS_MOUNT",
        default_value = "/mnt/efs"
    )]
    pub efs_mount: PathBuf,
    /// RDS MySQL's host[:port].
    #[arg(long = "aws-rds-endpoint", env = "MYWP_AWS_RDS_ENDPOINT")]
    pub rds_endpoint: Option<String>,
    /// RDS's master user.
    #[arg(
        long = "aws-rds-admin-user",
        env = "MYWP_AWS_RDS_ADMIN_USER",
        default_value = "admin"
    )]
    pub rds_admin_user: String,
    /// The master user's Secrets Manager secret (wins over a password).
    #[arg(
        long = "aws-rds-admin-secret-arn",
        env = "MYWP_AWS_RDS_ADMIN_SECRET_ARN"
    )]
    pub rds_admin_secret_arn: Option<String>,
    /// The master user's password.
    #[arg(long = "aws-rds-admin-password", env = "MYWP_AWS_RDS_ADMIN_PASSWORD",
          hide_env_values = true, value_parser = secret)]
    pub rds_admin_password: Option<Secret>,
    /// A file holding the master user's password.
    #[arg(
        long = "aws-rds-admin-password-file",
        env = "MYWP_AWS_RDS_ADMIN_PASSWORD_FILE"
    )]
    pub rds_admin_password_file: Option<PathBuf>,
    /// AWS Backup's vault.
    #[arg(long = "aws-backup-vault", env = "MYWP_AWS_BACKUP_VAULT")]
    pub backup_vault: Option<String>,
    /// The role AWS Backup assumes.
    #[arg(long = "aws-backup-role-arn", env = "MYWP_AWS_BACKUP_ROLE_ARN")]
    pub backup_role_arn: Option<String>,
    /// Each site's backup plan gets its tag-based selection; off only for an emulator
    /// without AWS Backup selections.
    #[arg(long = "aws-backup-selections", env = "MYWP_AWS_BACKUP_SELECTIONS",
          default_value = "on", value_parser = clap::builder::BoolishValueParser::new())]
    pub backup_selections: bool,
    /// The web fleet's Auto Scaling group.
    #[arg(long = "aws-web-asg", env = "MYWP_AWS_WEB_ASG")]
    pub web_asg: Option<String>,
    /// The AWS WAF web ACL (scope CLOUDFRONT, so in us-east-1) every site's distribution
    /// carries: deploy/mywp.yaml's `WebAcl`.
    #[arg(long = "aws-web-acl-arn", env = "MYWP_AWS_WEB_ACL_ARN")]
    pub web_acl_arn: Option<String>,
    /// ElastiCache Redis host:port for WordPress's object cache (optional).
    #[arg(long = "aws-redis-endpoint", env = "MYWP_AWS_REDIS_ENDPOINT")]
    pub redis_endpoint: Option<String>,
}

impl Settings {
    /// The control-plane database's URL.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}", self.state_dir.join("mywp.db").display()),
        }
    }

    /// The master key's file.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.state_dir.join("master.key"))
    }

    /// The port the sites are served on (see [`SiteSettings::sites_port`]).
    pub fn sites_port(&self) -> u16 {
        self.sites.sites_port.unwrap_or(match self.shape {
            Shape::SingleHost => 8080,
            Shape::Aws => 80,
        })
    }

    /// Whether the sites are reached over https (see [`SiteSettings::sites_https`]).
    pub fn sites_https(&self) -> bool {
        self.sites.sites_https.unwrap_or(self.shape == Shape::Aws)
    }

    /// How sites are addressed: one value for the pipeline, the drivers and the panel.
    pub fn addressing(&self) -> SiteAddressing {
        SiteAddressing {
            platform_domain: self.sites.platform_domain.clone(),
            port: self.sites_port(),
            https: self.sites_https(),
        }
    }

    /// This worker's name in the queue: the configured start (else `mywp-worker@<host>`),
    /// the process id and a random suffix.
    pub fn worker_name(&self) -> String {
        let base = self.workers.worker_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            format!("mywp-worker@{}", host.trim())
        });
        format!(
            "{base}/{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )
    }

    /// The settings of the data plane `scripts/dataplane.sh start` runs in `state_dir`: its
    /// `dataplane.env` alone (no command line, no environment). Tests and tools use it.
    pub fn of_data_plane(state_dir: &std::path::Path) -> Result<Settings, SettingsError> {
        Layers::of_data_plane(state_dir)?.settings()
    }

    /// Settings from `pairs` alone (as if they were a config file's lines), ignoring the
    /// command line and the process environment: what tests and tools build.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Settings, SettingsError> {
        Layers::from_pairs(pairs).settings()
    }
}

fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

fn hostname(s: &str) -> Result<Hostname, String> {
    Hostname::parse(s).map_err(|e| e.message)
}

fn absolute_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err("must be an absolute path".into())
    }
}

/// A path that goes into nginx and PHP configuration verbatim: absolute, and needing no
/// quoting there.
fn config_path(s: &str) -> Result<PathBuf, String> {
    let path = absolute_path(s)?;
    if s.chars()
        .any(|c| c.is_whitespace() || "'\"`;{}$\\#".contains(c))
    {
        return Err("must not contain spaces, quotes, ';', '{', '}', '$', '#' or '\\'".into());
    }
    Ok(path)
}

/// `:`-separated absolute paths, each as [`config_path`] wants it.
fn path_list(s: &str) -> Result<String, String> {
    for part in s.split(':') {
        config_path(part).map_err(|e| format!("{part:?}: {e}"))?;
    }
    Ok(s.to_string())
}

fn db_user_host(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_%".contains(c))
    {
        Ok(s.to_string())
    } else {
        Err("only letters, digits, '.', '-', '_' and '%' are allowed".into())
    }
}

fn listen_address(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:[]".contains(c))
    {
        Ok(s.to_string())
    } else {
        Err("must be an nginx listen address such as 127.0.0.1:8080".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_nothing() {
        let s = Settings::from_pairs(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(s.shape, Shape::SingleHost);
        assert_eq!(s.sites.platform_domain.as_str(), "localhost");
        assert_eq!(s.database_url(), "sqlite://var/mywp.db");
        assert!(!s.sites_https());
        assert!(s.aws.backup_selections);
    }

    #[test]
    fn values_are_parsed_and_bad_ones_named() {
        let s = Settings::from_pairs([
            ("MYWP_PLATFORM_DOMAIN", "Sites.Example.NET."),
            ("MYWP_SHAPE", "aws"),
            ("MYWP_AWS_BACKUP_SELECTIONS", "off"),
            ("MYWP_SITES_PORT", "80"),
        ])
        .unwrap();
        assert_eq!(s.sites.platform_domain.as_str(), "sites.example.net");
        assert!(s.sites_https());
        assert!(!s.aws.backup_selections);
        for (key, value) in [
            ("MYWP_SITES_PORT", "eighty"),
            ("MYWP_SITES_DIR", "relative/dir"),
            ("MYWP_SITES_DIR", "/a dir"),
            ("MYWP_PLATFORM_DOMAIN", "bad;name"),
            ("MYWP_DB_USER_HOST", "x'y"),
        ] {
            let err = Settings::from_pairs([(key, value)])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}={value}: {err}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let s = Settings::from_pairs([
            ("DATABASE_URL", "postgres://mywp:s3cret@db.internal/mywp"),
            ("MYWP_AWS_RDS_ADMIN_PASSWORD", "pa55word"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("pa55word"), "{shown}");
    }
}
