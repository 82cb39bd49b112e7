//! The files step: `<sites_dir>/<slug>/` with the site's generated `config.php` and its
//! `wp-content` (uploads, plugins, themes, mu-plugins, upgrade), writable by the web user.
//! No PHP code is copied: the default theme and the login mu-plugin are symlinks to shared,
//! read-only files.

use std::{path::Path, sync::Arc};

use super::LocalConfig;
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};
use crate::fsutil::{ensure_dir, ensure_symlink, io_err, stale_entries, write_atomic, Owner};
use crate::sitedb::SiteDatabase;

/// The subdirectories of each site's wp-content.
const CONTENT_DIRS: [&str; 5] = ["uploads", "plugins", "themes", "mu-plugins", "upgrade"];

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
        let web = Owner::of_user(&cfg.web_user)?;
        let dir = cfg.site_dir(&site.slug);
        // The site directory belongs to root: only wp-content is the web user's.
        ensure_dir(&dir, 0o755, Owner::root())?;
        let content = dir.join("wp-content");
        ensure_dir(&content, 0o755, web)?;
        for sub in CONTENT_DIRS {
            ensure_dir(&content.join(sub), 0o755, web)?;
        }
        let theme = &cfg.default_theme_dir;
        let theme_name = theme
            .file_name()
            .ok_or_else(|| StepError::permanent("the default theme path has no name"))?;
        ensure_symlink(theme, &content.join("themes").join(theme_name))?;
        ensure_symlink(
            &cfg.dataplane_php_dir.join("mywp-login.php"),
            &content.join("mu-plugins").join("mywp-login.php"),
        )?;
        remove_stale_temp_files(&dir);
        let db = SiteDatabase::of(site, &cfg.db_namespace, &cfg.master_key)?;
        let config = render_config(cfg, site, &db, &content);
        let group_web = Owner {
            uid: 0,
            gid: web.gid,
        };
        write_atomic(
            &cfg.site_config(&site.slug),
            config.as_bytes(),
            0o640,
            group_web,
        )?;
        Ok(Ensured::Done {
            resource: dir.display().to_string(),
        })
    }

    fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        let dir = self.cfg.site_dir(&site.slug);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot remove", &dir, e)),
        }
    }
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
                key.derive(&format!("wp-{}", name.to_lowercase()), slug)
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
        ("MYWP_LOGIN_KEY", php_str(cfg.login_key(slug).expose())),
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
