//! The single-host drivers: a local MariaDB, local directories, the shared WordPress core
//! from Debian's package, and this host's nginx + php-fpm.
//!
//! They work against the data plane started by `scripts/dataplane.sh start`, which writes
//! every path they need into `<state>/dataplane.env`; [`LocalConfig::from_state_dir`] reads it.

mod db_server;
mod files;
pub(crate) mod fsutil;
mod mariadb;
mod nginx;
mod wordpress;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use db_server::{AdminLogin, DbServer, ReloadLogin};
pub use files::FilesDriver;
pub use mariadb::{site_db_name, MariaDbDriver};
pub use nginx::render as render_server_block;
pub use wordpress::WordPressDriver;

use super::{Drivers, SiteSpec, StepError};
use crate::secrets::MasterKey;

/// Everything the local drivers need: plain paths, ports and names, plus the master key.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The data plane's state directory (`var/`).
    pub state_dir: PathBuf,
    /// The MySQL server the sites' databases live on, and how the panel administers it.
    pub db: DbServer,
    /// The host part of each site's database user (`'wp_blog'@'<host>'`).
    pub db_user_host: String,
    /// nginx's main config file; its `pid` directive says which process to reload. `None`
    /// when this host does not serve the sites (the AWS shape: the web nodes' `mywp agent`
    /// tests and applies the server blocks it finds in `nginx_sites_dir`).
    pub nginx_conf: Option<PathBuf>,
    /// Where the per-site server blocks go (`<slug>.conf`), included by `nginx_conf`.
    pub nginx_sites_dir: PathBuf,
    /// The FastCGI parameters the server blocks include.
    pub fastcgi_params: PathBuf,
    /// The `nginx` binary (for `-t` and `-s reload`).
    pub nginx_bin: PathBuf,
    /// php-fpm's socket, the server blocks' `fastcgi_pass`.
    pub php_fpm_socket: PathBuf,
    /// The `php` CLI binary, which runs the install script.
    pub php_bin: PathBuf,
    /// The sites' directories: `<sites_dir>/<slug>/{config.php,wp-content}`.
    pub sites_dir: PathBuf,
    /// The port the sites answer on (omitted from URLs when 80).
    pub sites_port: u16,
    /// The sites are reached over https through a proxy that terminates TLS (CloudFront and
    /// the ALB in the AWS shape, `MYWP_SITES_HTTPS=1`): their URLs are `https://<host>` and
    /// their config trusts the proxy's `X-Forwarded-Proto`.
    pub sites_https: bool,
    /// nginx's `listen` for the sites, e.g. `127.0.0.1:8080` (must match the default server).
    pub sites_listen: String,
    /// Where the wordpress step sends its requests for a site's hostname (`host:port`):
    /// `MYWP_SITES_PROBE`, by default the address of `sites_listen` (this host's nginx); in
    /// the AWS shape the load balancer in front of the web fleet.
    pub probe_address: String,
    /// The shared core: symlinks into Debian's WordPress plus our wp-config.php shim.
    pub wordpress_core: PathBuf,
    /// Where prepend.php, install.php and mywp-login.php are installed.
    pub dataplane_php_dir: PathBuf,
    /// The shared default theme, symlinked into each site's themes/.
    pub default_theme_dir: PathBuf,
    /// Sites are served as `<slug>.<platform_domain>`.
    pub platform_domain: String,
    /// The OS user php-fpm's workers run as; owns each site's wp-content.
    pub web_user: String,
    /// How long the wordpress step polls for the site to answer 200 with its title.
    pub health_timeout: Duration,
    /// Per-site secrets (DB password, salts, login key) are derived from it.
    pub master_key: MasterKey,
}

/// `name`'s value from `lookup`, which must be an absolute path.
fn absolute_path(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<PathBuf, LocalConfigError> {
    let value = lookup(name)
        .filter(|v| !v.is_empty())
        .ok_or(LocalConfigError::Missing(name))?;
    let p = PathBuf::from(&value);
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(LocalConfigError::Invalid {
            name,
            value,
            why: "must be an absolute path",
        })
    }
}

/// Why the local drivers cannot be configured.
#[derive(Debug, thiserror::Error)]
pub enum LocalConfigError {
    #[error(
        "{path} not found: start the data plane first (`scripts/dataplane.sh start`, with \
         MYWP_STATE_DIR={state}) ({source})"
    )]
    EnvFileMissing {
        path: PathBuf,
        state: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not set (expected in dataplane.env, written by `scripts/dataplane.sh start`)")]
    Missing(&'static str),
    #[error("{name}={value:?} is not valid: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("cannot read the master key {path}: {source}")]
    MasterKey {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LocalConfig {
    /// Reads `<state_dir>/dataplane.env`. Keys in that file are authoritative (they say where
    /// the running services are); keys it lacks may come from the process environment:
    /// `MYWP_PLATFORM_DOMAIN` (default `localhost`), `MYWP_DB_USER_HOST` (default
    /// `localhost`), `MYWP_MASTER_KEY_FILE` (default `<state_dir>/master.key`, created on
    /// first use), `MYWP_NGINX_BIN`, `MYWP_PHP_BIN`.
    pub fn from_state_dir(state_dir: &Path) -> Result<Self, LocalConfigError> {
        let path = state_dir.join("dataplane.env");
        let text =
            std::fs::read_to_string(&path).map_err(|source| LocalConfigError::EnvFileMissing {
                path: path.clone(),
                state: state_dir.to_path_buf(),
                source,
            })?;
        let file = parse_env_file(&text);
        Self::from_vars(state_dir, |key| {
            file.get(key).cloned().or_else(|| std::env::var(key).ok())
        })
    }

    /// Builds the config from `lookup` (e.g. a parsed env file); see [`Self::from_state_dir`].
    pub fn from_vars(
        state_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, LocalConfigError> {
        let socket = absolute_path(&lookup, "MYWP_MARIADB_SOCKET")?;
        let nginx_conf = absolute_path(&lookup, "MYWP_NGINX_CONF")?;
        let fastcgi_params = nginx_conf.with_file_name("fastcgi_params");
        Self::build(
            state_dir,
            lookup,
            DbServer::Socket(socket),
            Some(nginx_conf),
            fastcgi_params,
        )
    }

    /// The same drivers' config for a data plane this host does not run: site databases on
    /// `db`, server blocks written for the web nodes' agents (no nginx here), FastCGI
    /// parameters at `fastcgi_params` on the web nodes. The AWS shape builds it.
    pub fn for_web_fleet(
        state_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
        db: DbServer,
        fastcgi_params: PathBuf,
    ) -> Result<Self, LocalConfigError> {
        Self::build(state_dir, lookup, db, None, fastcgi_params)
    }

    fn build(
        state_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
        db: DbServer,
        nginx_conf: Option<PathBuf>,
        fastcgi_params: PathBuf,
    ) -> Result<Self, LocalConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(LocalConfigError::Missing(name))
        };
        let abs = |name: &'static str| absolute_path(&lookup, name);
        let or = |name: &'static str, default: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };

        let port_text = get("MYWP_SITES_PORT")?;
        let sites_port: u16 = port_text.parse().map_err(|_| LocalConfigError::Invalid {
            name: "MYWP_SITES_PORT",
            value: port_text.clone(),
            why: "must be a TCP port",
        })?;
        let platform_domain = or("MYWP_PLATFORM_DOMAIN", "localhost").to_ascii_lowercase();
        if !is_hostname(&platform_domain) {
            return Err(LocalConfigError::Invalid {
                name: "MYWP_PLATFORM_DOMAIN",
                value: platform_domain,
                why: "must be a DNS name",
            });
        }
        let db_user_host = or("MYWP_DB_USER_HOST", "localhost");
        if !mariadb::is_valid_user_host(&db_user_host) {
            return Err(LocalConfigError::Invalid {
                name: "MYWP_DB_USER_HOST",
                value: db_user_host,
                why: "only letters, digits, '.', '-', '_' and '%' are allowed",
            });
        }
        let sites_listen = or("MYWP_SITES_LISTEN", &format!("127.0.0.1:{sites_port}"));
        if !sites_listen
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:[]".contains(c))
        {
            return Err(LocalConfigError::Invalid {
                name: "MYWP_SITES_LISTEN",
                value: sites_listen,
                why: "must be an nginx listen address such as 127.0.0.1:8080",
            });
        }
        let probe_address = or(
            "MYWP_SITES_PROBE",
            &default_probe(&sites_listen, sites_port),
        );
        let key_path = lookup("MYWP_MASTER_KEY_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| state_dir.join("master.key"));
        let master_key =
            MasterKey::load_or_create(&key_path).map_err(|source| LocalConfigError::MasterKey {
                path: key_path,
                source,
            })?;

        let cfg = Self {
            // Absolute: the drivers run programs in other working directories.
            state_dir: std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf()),
            db,
            db_user_host,
            fastcgi_params,
            nginx_conf,
            nginx_sites_dir: abs("MYWP_NGINX_SITES_DIR")?,
            nginx_bin: PathBuf::from(or("MYWP_NGINX_BIN", "nginx")),
            php_fpm_socket: abs("MYWP_PHP_FPM_SOCKET")?,
            php_bin: PathBuf::from(or("MYWP_PHP_BIN", "php")),
            sites_dir: abs("MYWP_SITES_DIR")?,
            sites_port,
            sites_https: matches!(or("MYWP_SITES_HTTPS", "0").as_str(), "1" | "true" | "yes"),
            sites_listen,
            probe_address,
            wordpress_core: abs("MYWP_WORDPRESS_CORE")?,
            dataplane_php_dir: abs("MYWP_DATAPLANE_PHP_DIR")?,
            default_theme_dir: PathBuf::from(or(
                "MYWP_DEFAULT_THEME_DIR",
                "/usr/share/wordpress/wp-content/themes/twentytwentythree",
            )),
            platform_domain,
            web_user: or("MYWP_WEB_USER", "www-data"),
            health_timeout: Duration::from_secs(30),
            master_key,
        };
        for (name, value) in [
            ("MYWP_PHP_FPM_SOCKET", &cfg.php_fpm_socket),
            ("MYWP_SITES_DIR", &cfg.sites_dir),
            ("MYWP_WORDPRESS_CORE", &cfg.wordpress_core),
            ("MYWP_NGINX_SITES_DIR", &cfg.nginx_sites_dir),
        ] {
            if !is_safe_path(value) {
                return Err(LocalConfigError::Invalid {
                    name,
                    value: value.display().to_string(),
                    why: "must not contain spaces, quotes, ';', '{', '}', '$' or '\\'",
                });
            }
        }
        Ok(cfg)
    }

    /// The site's platform hostname, `<slug>.<platform domain>`.
    pub fn site_host(&self, slug: &str) -> String {
        format!("{slug}.{}", self.platform_domain)
    }

    /// The site's platform URL without a trailing slash, e.g. `http://blog.localhost:8080`.
    pub fn site_url(&self, slug: &str) -> String {
        self.url_of(&self.site_host(slug))
    }

    /// The site's address, what WordPress calls its home: its primary domain if it has
    /// one, else its platform hostname.
    pub fn home_host(&self, site: &SiteSpec) -> String {
        site.primary
            .clone()
            .unwrap_or_else(|| self.site_host(&site.slug))
    }

    /// [`Self::home_host`] as a URL without a trailing slash.
    pub fn home_url(&self, site: &SiteSpec) -> String {
        self.url_of(&self.home_host(site))
    }

    /// `host`'s URL as the sites are served: https behind a proxy, else http on the port.
    fn url_of(&self, host: &str) -> String {
        if self.sites_https {
            return format!("https://{host}");
        }
        match self.sites_port {
            80 => format!("http://{host}"),
            port => format!("http://{host}:{port}"),
        }
    }

    /// The site's directory: its config.php and wp-content.
    pub fn site_dir(&self, slug: &str) -> PathBuf {
        self.sites_dir.join(slug)
    }

    /// The site's generated WordPress config.
    pub fn site_config(&self, slug: &str) -> PathBuf {
        self.site_dir(slug).join("config.php")
    }

    /// The site's nginx server block.
    pub fn server_block(&self, slug: &str) -> PathBuf {
        self.nginx_sites_dir.join(format!("{slug}.conf"))
    }

    fn login_key(&self, slug: &str) -> crate::secrets::Secret {
        self.master_key.derive("wp-login-key", slug)
    }
}

/// The single-host drivers: database, files, wordpress, and backup (snapshots kept in
/// `<state>/snapshots/`); the other steps are not available on this shape (`None`).
pub fn local_drivers(cfg: LocalConfig) -> Result<Drivers, LocalConfigError> {
    let cfg = Arc::new(cfg);
    let snapshots = Arc::new(crate::snapshots::Snapshots::local(cfg.clone()));
    Ok(Drivers {
        database: Some(Arc::new(MariaDbDriver::new(cfg.clone()))),
        files: Some(Arc::new(FilesDriver::new(cfg.clone()))),
        wordpress: Some(Arc::new(WordPressDriver::new(cfg))),
        backup: Some(Arc::new(crate::snapshots::SnapshotsStep::new(
            snapshots.vault().clone(),
        ))),
        snapshots: Some(snapshots),
        ..Drivers::default()
    })
}

/// A one-time login link into the site's wp-admin for its owner, valid for `valid_for`
/// (at most a day: the site refuses longer-lived links).
pub fn login_link(cfg: &LocalConfig, site: &SiteSpec, valid_for: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let expires = now + valid_for.as_secs().max(1);
    let key = cfg.login_key(&site.slug);
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key length works");
    mac.update(format!("{}|{expires}", site.owner_email.to_lowercase()).as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("{}/?mywp-login={expires}.{signature}", cfg.home_url(site))
}

/// Slugs are DNS labels: 1–40 of `[a-z0-9-]`, not starting or ending with `-`.
pub(crate) fn check_slug(slug: &str) -> Result<(), StepError> {
    let ok = !slug.is_empty()
        && slug.len() <= 40
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(StepError::permanent(format!(
            "site name {slug:?} is not valid: use 1 to 40 lowercase letters, digits and '-'"
        )))
    }
}

/// A lowercase DNS name (IDNA-normalised already): labels of `[a-z0-9-]`, 253 chars at most.
pub(crate) fn is_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The address nginx listens on for the sites, as something to connect to: an unspecified
/// or missing address means loopback.
fn default_probe(listen: &str, port: u16) -> String {
    let host = listen
        .rsplit_once(':')
        .map(|(host, _)| host.trim_matches(|c| c == '[' || c == ']'))
        .filter(|h| !h.is_empty() && *h != "0.0.0.0" && *h != "::" && *h != "*")
        .unwrap_or("127.0.0.1");
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Paths that go into nginx and PHP config verbatim must not need quoting.
fn is_safe_path(p: &Path) -> bool {
    p.to_str().is_some_and(|s| {
        !s.chars()
            .any(|c| c.is_whitespace() || "'\"`;{}$\\#".contains(c))
    })
}

/// The `KEY=value` lines of an env file such as `dataplane.env`.
pub fn read_env_file(path: &Path) -> std::io::Result<HashMap<String, String>> {
    Ok(parse_env_file(&std::fs::read_to_string(path)?))
}

fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_parsing() {
        let vars = parse_env_file("# c\nA=1\nexport B=\"two\"\n\nC='x y'\n");
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two");
        assert_eq!(vars["C"], "x y");
    }

    #[test]
    fn slugs_and_hosts() {
        assert!(check_slug("my-blog2").is_ok());
        assert!(check_slug("-x").is_err());
        assert!(check_slug("a_b").is_err());
        assert!(check_slug(&"a".repeat(41)).is_err());
        assert!(is_hostname("blog.example.com"));
        assert!(!is_hostname("blog.example.com;"));
        assert!(!is_hostname("a..b"));
    }

    #[test]
    fn missing_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("mywp-cfg-{}", std::process::id()));
        let err = LocalConfig::from_vars(&dir, |_| None).unwrap_err();
        assert!(err.to_string().contains("MYWP_MARIADB_SOCKET"), "{err}");
        let err = LocalConfig::from_state_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("dataplane.sh start"), "{err}");
    }
}
