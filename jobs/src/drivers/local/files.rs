//! The files step: the site's directory, its generated `config.php`, its `wp-content`,
//! and (on a single host) its php-fpm pool.
//!
//! Layout and permissions (the site's user is [`SiteUser`], nginx's group is the web user's):
//!
//! | path | owner | mode |
//! | --- | --- | --- |
//! | `<sites_dir>/<slug>/` | root:root | 0711: the tenant cannot rename or replace entries |
//! | `.mywp-site` | root:root | 0644: the id of the site the directory belongs to |
//! | `config.php` | site:site | 0400: its database password and keys, for it alone |
//! | `wp-content/` and its subdirectories | site:nginx | 02750: nginx reads by group, other sites cannot enter |
//! | `tmp/`, `sessions/`, `log/` | site:site | 0700: PHP's uploads, sessions, errors |
//!
//! Root never follows a link in the tenant's tree: wp-content is opened from the site's
//! root-owned directory and everything in it through open directories ([`crate::beneath`]).
//! A site made by earlier versions (wp-content owned by the web user) is handed to its own
//! user on its next run. No PHP code is copied: the default theme and the login mu-plugin
//! are root-owned symlinks to shared, read-only files.

use std::{
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    path::Path,
    sync::Arc,
};

use super::{fpm, site_user::SiteUser, LocalConfig};
use crate::beneath;
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};
use crate::fsutil::{io_err, read_if_exists, stale_entries, write_atomic, Owner};
use crate::sitedb::SiteDatabase;

/// The subdirectories of each site's wp-content.
const CONTENT_DIRS: [&str; 5] = ["uploads", "plugins", "themes", "mu-plugins", "upgrade"];

/// The site's own private directories beside wp-content: PHP's temporary files (uploads in
/// flight), its sessions, its error log.
const PRIVATE_DIRS: [&str; 3] = ["tmp", "sessions", "log"];

/// The root-owned file in a site's directory naming the site it belongs to.
pub const SITE_MARKER: &str = ".mywp-site";

/// wp-content and its subdirectories: set-gid, so what PHP creates keeps nginx's group.
const CONTENT_MODE: u32 = 0o2750;

/// The eight WordPress keys and salts, each derived from the master key per site.
const SALT_NAMES: [&str; 8] = [
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
];

/// The files step's driver.
pub struct FilesDriver {
    cfg: Arc<LocalConfig>,
}

impl FilesDriver {
    pub fn new(cfg: Arc<LocalConfig>) -> Self {
        Self { cfg }
    }

    fn ensure_site(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let cfg = &self.cfg;
        if !cfg.sites_dir.is_dir() {
            return Err(StepError::transient(format!(
                "{} does not exist: is the data plane started?",
                cfg.sites_dir.display()
            )));
        }
        // Every site user passes through the sites' directory to its own, lists nothing.
        let sites = beneath::open_trusted_dir(&cfg.sites_dir)?;
        beneath::set_mode_at_least(sites.as_fd(), "the sites' directory", 0o711)?;
        let user = SiteUser::of(cfg, site)?;
        let web = Owner::of_user(&cfg.web_user)?;
        let dir = cfg.site_dir(&site.slug);
        let site_fd = beneath::open_or_make_dir(sites.as_fd(), site.slug.as_str())?;
        beneath::set_owner_mode(site_fd.as_fd(), site.slug.as_str(), Owner::root(), 0o711)?;
        claim(&dir, site)?;
        let content = ensure_content(site_fd.as_fd(), user, web)?;
        let mut subdirs = Vec::with_capacity(CONTENT_DIRS.len());
        for sub in CONTENT_DIRS {
            let fd =
                beneath::ensure_dir(content.as_fd(), sub, CONTENT_MODE, user.owner_in(web.gid))?;
            subdirs.push((sub, fd));
        }
        let subdir = |name: &str| {
            subdirs
                .iter()
                .find(|(sub, _)| *sub == name)
                .map(|(_, fd)| fd.as_fd())
                .expect("one of CONTENT_DIRS")
        };
        for private in PRIVATE_DIRS {
            beneath::ensure_dir(site_fd.as_fd(), private, 0o700, user.owner())?;
        }
        let theme = &cfg.default_theme_dir;
        let theme_name = theme
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StepError::permanent("the default theme path has no name"))?;
        // Into the directories opened above: one swapped since is not looked at.
        beneath::ensure_symlink(subdir("themes"), theme_name, theme)?;
        beneath::ensure_symlink(
            subdir("mu-plugins"),
            "mywp-login.php",
            &cfg.dataplane_php_dir.join("mywp-login.php"),
        )?;
        remove_stale_temp_files(&dir);
        let db = SiteDatabase::of(site, &cfg.db_namespace, &cfg.master_key)?;
        let config = render_config(cfg, site, &db, &dir.join("wp-content"));
        // Root writes it into the root-owned site directory (no tenant can swap it).
        write_atomic(
            &cfg.site_config(&site.slug),
            config.as_bytes(),
            0o400,
            user.owner(),
        )?;
        if let Some(pools) = &cfg.fpm {
            fpm::apply(cfg, pools, site, user)?;
        }
        Ok(Ensured::Done {
            resource: dir.display().to_string(),
        })
    }

    fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        let cfg = &self.cfg;
        let dir = cfg.site_dir(&site.slug);
        if let Some(owner) = marked_for(&dir)? {
            if owner != site.id {
                tracing::warn!(dir = %dir.display(), site = site.id, owner, "not removing another site's directory");
                return Ok(());
            }
        }
        if let Some(pools) = &cfg.fpm {
            fpm::remove(cfg, pools, site)?;
        }
        // std's remove_dir_all does not follow symlinks (it walks with openat/unlinkat).
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot remove", &dir, e)),
        }
    }
}

/// The id of the site whose marker `dir` carries, if any.
fn marked_for(dir: &Path) -> Result<Option<i64>, StepError> {
    let path = dir.join(SITE_MARKER);
    let Some(text) = read_if_exists(&path)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&text);
    text.trim()
        .strip_prefix("site-id ")
        .and_then(|id| id.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            StepError::permanent(format!("{} is damaged: {:?}", path.display(), text.trim()))
        })
}

/// Marks the site's directory as its own; refuses one that carries another site's marker.
fn claim(dir: &Path, site: &SiteSpec) -> Result<(), StepError> {
    match marked_for(dir)? {
        Some(id) if id == site.id => Ok(()),
        Some(id) => Err(StepError::permanent(format!(
            "{} belongs to another site (id {id}); refusing to take it over",
            dir.display()
        ))),
        None => write_atomic(
            &dir.join(SITE_MARKER),
            format!("site-id {}\n", site.id).as_bytes(),
            0o644,
            Owner::root(),
        )
        .map(drop),
    }
}

/// Opens the site's wp-content, owned by the site's user in nginx's group. A wp-content of
/// the earlier layout (owned by the web user) is handed over, walking it without following
/// links, before its own owner changes: a walk killed half-way is done again next time.
fn ensure_content(
    site_fd: BorrowedFd<'_>,
    user: SiteUser,
    web: Owner,
) -> Result<OwnedFd, StepError> {
    let content = beneath::open_or_make_dir(site_fd, "wp-content")?;
    let st = rustix::fs::fstat(&content)
        .map_err(|e| StepError::transient(format!("cannot look at wp-content: {e}")))?;
    if st.st_uid != user.uid {
        if st.st_uid == web.uid {
            let done = beneath::chown_tree(content.as_fd(), web.uid, user.owner_in(web.gid))?;
            tracing::info!(
                changed = done.changed,
                skipped_links = done.skipped_links,
                uid = user.uid,
                "wp-content handed to the site's user"
            );
        } else if st.st_uid != 0 {
            return Err(StepError::permanent(format!(
                "wp-content belongs to uid {}, neither the site's user ({}) nor the web user",
                st.st_uid, user.uid
            )));
        }
    }
    beneath::set_owner_mode(
        content.as_fd(),
        "wp-content",
        user.owner_in(web.gid),
        CONTENT_MODE,
    )?;
    Ok(content)
}

impl Driver for FilesDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let site = site.clone();
        let this = Self {
            cfg: self.cfg.clone(),
        };
        tokio::task::spawn_blocking(move || this.ensure_site(&site))
            .await
            .map_err(|e| StepError::transient(format!("the files task failed: {e}")))?
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        let site = site.clone();
        let this = Self {
            cfg: self.cfg.clone(),
        };
        tokio::task::spawn_blocking(move || this.remove_site(&site))
            .await
            .map_err(|e| StepError::transient(format!("the files task failed: {e}")))??;
        Ok(Removed::Gone)
    }
}

/// Temporary files of a write that was killed half-way (`.config.php.tmp-…`), once they are
/// old enough not to belong to a write in progress.
fn remove_stale_temp_files(dir: &Path) {
    for path in stale_entries(dir, ".config.php.tmp-", std::time::Duration::from_secs(300)) {
        let _ = std::fs::remove_file(path);
    }
}

/// A PHP single-quoted string literal.
fn php_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The site's `config.php`, required by the shared core's wp-config.php shim.
fn render_config(cfg: &LocalConfig, site: &SiteSpec, db: &SiteDatabase, content: &Path) -> String {
    let key = &cfg.master_key;
    let slug = &site.slug;
    // Keyed by the site's id, never its slug: a deleted site's slug can be taken again.
    let subject = super::site_secret_subject(site);
    // The site's address: its primary domain, else its platform hostname.
    let url = cfg.addressing.home_url(site);
    let mut defines: Vec<(&str, String)> = vec![
        ("DB_NAME", php_str(&db.name)),
        ("DB_USER", php_str(&db.name)),
        ("DB_PASSWORD", php_str(db.password.expose())),
        ("DB_HOST", php_str(&cfg.db.site_db_host())),
        ("DB_CHARSET", php_str("utf8mb4")),
        ("DB_COLLATE", php_str("")),
    ];
    for name in SALT_NAMES {
        defines.push((
            name,
            php_str(
                key.derive(&format!("wp-{}", name.to_lowercase()), &subject)
                    .expose(),
            ),
        ));
    }
    defines.extend([
        ("WP_CONTENT_DIR", php_str(&content.display().to_string())),
        ("WP_CONTENT_URL", php_str(&format!("{url}/wp-content"))),
        ("WP_HOME", php_str(&url)),
        ("WP_SITEURL", php_str(&url)),
        ("WP_CACHE_KEY_SALT", php_str(&format!("{slug}:"))),
        ("DISALLOW_FILE_EDIT", "true".to_string()),
        ("WP_AUTO_UPDATE_CORE", "false".to_string()),
        ("AUTOMATIC_UPDATER_DISABLED", "true".to_string()),
        ("FS_METHOD", php_str("direct")),
        ("MYWP_SITE_SLUG", php_str(slug)),
        ("MYWP_LOGIN_KEY", php_str(cfg.login_key(site).expose())),
    ]);
    let mut out = String::from(
        "<?php\n// Generated by MyWP for this site: do not edit, changes are overwritten.\n",
    );
    for (name, value) in defines {
        out.push_str(&format!("define('{name}', {value});\n"));
    }
    if cfg.addressing.https {
        // Behind CloudFront and the load balancer, which terminate TLS and say so.
        out.push_str(
            "if (($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '') === 'https') { $_SERVER['HTTPS'] = 'on'; }\n",
        );
    }
    out.push_str("$table_prefix = 'wp_';\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_strings_are_escaped() {
        assert_eq!(php_str(r"a'b\c"), r"'a\'b\\c'");
    }
}
