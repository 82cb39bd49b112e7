//! The single-host drivers: a local MariaDB, local directories, the shared WordPress core
//! from Debian's package, and this host's nginx + php-fpm.
//!
//! They work against the data plane started by `scripts/dataplane.sh start`, which writes
//! every path they need into `<state>/dataplane.env`, a layer of the settings
//! ([`crate::settings`]); [`LocalConfig::single_host`] takes them from there.

mod files;
mod fpm;
mod mariadb;
mod nginx;
mod site_user;
mod wordpress;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use crate::sitedb::{AdminLogin, DbNamespace, DbServer, ReloadLogin, SiteDatabase};
pub use files::{FilesDriver, SITE_MARKER};
pub use fpm::{open_basedir, render as render_pool, FpmPools};
pub use mariadb::MariaDbDriver;
pub use nginx::render as render_server_block;
pub use site_user::SiteUser;
pub use wordpress::WordPressDriver;

use super::{Drivers, SiteSpec, VaultStep};
use crate::{
    domain::{SiteAddressing, SiteSlug},
    secrets::MasterKey,
    settings::{Settings, SettingsError},
    snapshots::Vault,
};

/// Everything the local drivers need: plain paths, ports and names, plus the master key.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The data plane's state directory (`var/`).
    pub state_dir: PathBuf,
    /// The MySQL server the sites' databases live on, and how the panel administers it.
    pub db: DbServer,
    /// The host part of each site's database user (`'mywp_12'@'<host>'`).
    pub db_user_host: String,
    /// What sets this panel's database names apart on a shared server.
    pub db_namespace: DbNamespace,
    /// nginx's main config file; its `pid` directive says which process to reload. `None`
    /// when this host does not serve the sites (the AWS shape: the web nodes' `mywp agent`
    /// tests and applies the server blocks it finds in `nginx_sites_dir`).
    pub nginx_conf: Option<PathBuf>,
    /// Where the per-site server blocks go ([`server_block_file`]), included by `nginx_conf`.
    pub nginx_sites_dir: PathBuf,
    /// The FastCGI parameters the server blocks include.
    pub fastcgi_params: PathBuf,
    /// The `nginx` binary (for `-t` and `-s reload`).
    pub nginx_bin: PathBuf,
    /// The shared php-fpm pool's socket (the web user's): the server blocks' `fastcgi_pass`
    /// where the sites have no pools of their own (`fpm` is `None`).
    pub php_fpm_socket: PathBuf,
    /// Each site's own php-fpm pool, run as its own user; `None`: the sites share the web
    /// user's pool (the AWS shape's web nodes, until their agent writes pools).
    pub fpm: Option<FpmPools>,
    /// Each site's Unix uid and gid is this base + its id ([`SiteUser`]).
    pub site_uid_base: u32,
    /// The `php` CLI binary, which runs the install script.
    pub php_bin: PathBuf,
    /// The sites' directories: `<sites_dir>/<slug>/{config.php,wp-content}`.
    pub sites_dir: PathBuf,
    /// How sites are addressed: the platform domain, the port, http or https.
    pub addressing: SiteAddressing,
    /// nginx's `listen` for the sites, e.g. `127.0.0.1:8080` (must match the default server).
    pub sites_listen: String,
    /// Where the wordpress step sends its requests for a site's hostname (`host:port`):
    /// by default the address of `sites_listen` (this host's nginx); in the AWS shape the
    /// load balancer in front of the web fleet.
    pub probe_address: String,
    /// The shared core: symlinks into Debian's WordPress plus our wp-config.php shim.
    pub wordpress_core: PathBuf,
    /// Where prepend.php, install.php and mywp-login.php are installed.
    pub dataplane_php_dir: PathBuf,
    /// The shared default theme, symlinked into each site's themes/.
    pub default_theme_dir: PathBuf,
    /// nginx's OS user: the group of each site's wp-content.
    pub web_user: String,
    /// How long the wordpress step polls for the site to answer 200 with its title.
    pub health_timeout: Duration,
    /// Whether the server blocks rate-limit `/wp-login.php` and `/xmlrpc.php` per client
    /// address with nginx's `mywp_login` zone, which `scripts/dataplane.sh` defines in the
    /// single host's nginx.conf. Off in the AWS shape: there the web ACL on each
    /// distribution does it, and nginx sees only the load balancer's addresses.
    pub login_limit: bool,
    /// Per-site secrets (DB password, salts, login key) are derived from it.
    pub master_key: MasterKey,
}

/// Why the local drivers cannot be configured.
#[derive(Debug, thiserror::Error)]
pub enum LocalConfigError {
    #[error(
        "{0} is not set: start the data plane first (`scripts/dataplane.sh start` writes it \
         into <state dir>/dataplane.env), or set it"
    )]
    Missing(&'static str),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot read the master key {path}: {source}")]
    MasterKey {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a web data plane keeps the sites and their server blocks, and how the panel
/// reaches their database server: what differs between a single host and the web fleet.
pub struct WebPlacement {
    pub db: DbServer,
    pub sites_dir: PathBuf,
    pub nginx_sites_dir: PathBuf,
    /// `None`: this host does not run the sites' nginx (the web nodes' agents do).
    pub nginx_conf: Option<PathBuf>,
    pub fastcgi_params: PathBuf,
    /// The address nginx listens on when not configured.
    pub default_listen: String,
    /// Where the wordpress step's checks go when not configured; `None`: where nginx listens.
    pub default_probe: Option<String>,
    /// The database users' host part when not configured.
    pub default_db_user_host: &'static str,
    /// See [`LocalConfig::login_limit`].
    pub login_limit: bool,
}

fn need<T: Clone>(value: &Option<T>, key: &'static str) -> Result<T, LocalConfigError> {
    value.clone().ok_or(LocalConfigError::Missing(key))
}

impl LocalConfig {
    /// This host's data plane, as `scripts/dataplane.sh start` describes it in
    /// `<state>/dataplane.env` (a layer of the settings).
    pub fn single_host(settings: &Settings) -> Result<Self, LocalConfigError> {
        let host = &settings.host;
        let nginx_conf = need(&host.nginx_conf, "MYWP_NGINX_CONF")?;
        let placement = WebPlacement {
            db: DbServer::Socket(need(&host.mariadb_socket, "MYWP_MARIADB_SOCKET")?),
            sites_dir: need(&host.sites_dir, "MYWP_SITES_DIR")?,
            nginx_sites_dir: need(&host.nginx_sites_dir, "MYWP_NGINX_SITES_DIR")?,
            fastcgi_params: host
                .fastcgi_params
                .clone()
                .unwrap_or_else(|| nginx_conf.with_file_name("fastcgi_params")),
            nginx_conf: Some(nginx_conf),
            default_listen: format!("127.0.0.1:{}", settings.sites_port()),
            default_probe: None,
            default_db_user_host: "localhost",
            login_limit: true,
        };
        let mut cfg = Self::new(settings, placement)?;
        // Per-site pools when the data plane runs them (dataplane.sh says where).
        if let Some(pools_dir) = host.php_fpm_pools_dir.clone() {
            cfg.fpm = Some(FpmPools {
                pools_dir,
                sockets_dir: need(&host.php_fpm_sockets_dir, "MYWP_PHP_FPM_SOCKETS_DIR")?,
                pid_file: need(&host.php_fpm_pid, "MYWP_PHP_FPM_PID")?,
                max_children: host.php_fpm_max_children,
                shared_dirs: host.php_shared_dirs.clone(),
            });
        }
        Ok(cfg)
    }

    /// The data plane at `<state_dir>` that `scripts/dataplane.sh start` runs (tests, tools).
    pub fn from_state_dir(state_dir: &Path) -> Result<Self, LocalConfigError> {
        Self::single_host(&Settings::of_data_plane(state_dir)?)
    }

    /// The drivers' view of a web data plane placed as `placement` says, with the web
    /// nodes' paths (shared core, php-fpm's socket…) from `settings`.
    pub fn new(settings: &Settings, placement: WebPlacement) -> Result<Self, LocalConfigError> {
        let host = &settings.host;
        let sites_listen = host
            .sites_listen
            .clone()
            .unwrap_or(placement.default_listen);
        let probe_address = host
            .sites_probe
            .clone()
            .or(placement.default_probe)
            .unwrap_or_else(|| default_probe(&sites_listen, settings.sites_port()));
        let key_path = settings.master_key_path();
        let master_key =
            MasterKey::load_or_create(&key_path).map_err(|source| LocalConfigError::MasterKey {
                path: key_path,
                source,
            })?;
        let state_dir = &settings.state_dir;
        Ok(Self {
            // Absolute: the drivers run programs in other working directories.
            state_dir: std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.clone()),
            db: placement.db,
            db_user_host: host
                .db_user_host
                .clone()
                .unwrap_or_else(|| placement.default_db_user_host.to_string()),
            db_namespace: host.db_namespace.clone(),
            nginx_conf: placement.nginx_conf,
            nginx_sites_dir: placement.nginx_sites_dir,
            fastcgi_params: placement.fastcgi_params,
            nginx_bin: host.nginx_bin.clone(),
            php_fpm_socket: need(&host.php_fpm_socket, "MYWP_PHP_FPM_SOCKET")?,
            fpm: None,
            site_uid_base: host.site_uid_base,
            php_bin: host.php_bin.clone(),
            sites_dir: placement.sites_dir,
            addressing: settings.addressing(),
            sites_listen,
            probe_address,
            wordpress_core: need(&host.wordpress_core, "MYWP_WORDPRESS_CORE")?,
            dataplane_php_dir: need(&host.dataplane_php_dir, "MYWP_DATAPLANE_PHP_DIR")?,
            default_theme_dir: host.default_theme_dir.clone(),
            web_user: host.web_user.clone(),
            health_timeout: Duration::from_secs(30),
            login_limit: placement.login_limit,
            master_key,
        })
    }

    /// The site's directory: its config.php and wp-content.
    pub fn site_dir(&self, slug: &SiteSlug) -> PathBuf {
        self.sites_dir.join(slug.as_str())
    }

    /// The site's generated WordPress config.
    pub fn site_config(&self, slug: &SiteSlug) -> PathBuf {
        self.site_dir(slug).join("config.php")
    }

    /// The site's nginx server block.
    pub fn server_block(&self, slug: &SiteSlug) -> PathBuf {
        self.nginx_sites_dir.join(server_block_file(slug))
    }

    /// The key the site's one-time login links are signed with (in its config).
    fn login_key(&self, site: &SiteSpec) -> crate::secrets::Secret {
        self.master_key
            .derive("wp-login-key", &site_secret_subject(site))
    }
}

/// What a site's own secrets (salts, login key) are derived for: its id, never its slug,
/// which another customer can take once the site is deleted.
fn site_secret_subject(site: &SiteSpec) -> String {
    format!("site-id:{}", site.id)
}

/// The file name of a site's server block: `<slug>.conf`. The web nodes' agent reads the
/// same contract back with [`slug_of_server_block`].
pub fn server_block_file(slug: &SiteSlug) -> String {
    format!("{slug}.conf")
}

/// The site a server block's file name belongs to, if it is one (`<slug>.conf`).
pub fn slug_of_server_block(file_name: &str) -> Option<SiteSlug> {
    let stem = file_name.strip_suffix(".conf")?;
    SiteSlug::from_stored(stem).ok()
}

/// The single-host drivers: database, files, wordpress, and backup (the site's place in the
/// snapshot `vault`); the other steps are not available on this shape (`None`).
pub fn local_drivers(cfg: Arc<LocalConfig>, vault: Arc<dyn Vault>) -> Drivers {
    Drivers {
        database: Some(Arc::new(MariaDbDriver::new(cfg.clone()))),
        files: Some(Arc::new(FilesDriver::new(cfg.clone()))),
        wordpress: Some(Arc::new(WordPressDriver::new(cfg))),
        backup: Some(Arc::new(VaultStep::new(vault))),
        ..Drivers::default()
    }
}

/// A one-time login link into the site's wp-admin for its owner, valid for `valid_for`
/// (at most a day: the site refuses longer-lived links).
pub fn login_link(cfg: &LocalConfig, site: &SiteSpec, valid_for: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let expires = now + valid_for.as_secs().max(1);
    let key = cfg.login_key(site);
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key length works");
    mac.update(format!("{}|{expires}", site.owner_email.to_lowercase()).as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!(
        "{}/?mywp-login={expires}.{signature}",
        cfg.addressing.home_url(site)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_block_names_round_trip() {
        let slug = SiteSlug::parse("my-blog2").unwrap();
        assert_eq!(server_block_file(&slug), "my-blog2.conf");
        assert_eq!(slug_of_server_block("my-blog2.conf"), Some(slug));
        for bad in ["-x.conf", "a_b.conf", "x.conf.bak", ".x.conf", "Blog.conf"] {
            assert_eq!(slug_of_server_block(bad), None, "{bad}");
        }
    }

    #[test]
    fn missing_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalConfig::from_state_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("dataplane.env"), "{err}");
        std::fs::write(dir.path().join("dataplane.env"), "MYWP_SITES_PORT=8080\n").unwrap();
        let err = LocalConfig::from_state_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("MYWP_NGINX_CONF"), "{err}");
        assert!(err.to_string().contains("dataplane.sh start"), "{err}");
    }
}
