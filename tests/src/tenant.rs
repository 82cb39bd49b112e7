//! A hostile tenant's tools: sites provisioned through the single-host drivers (no panel),
//! commands run as a site's Unix user, and its pages and wp-admin over HTTP
//! ([`crate::wp_admin`]).

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use mywp_jobs::{
    deployment::Deployment,
    domain::SiteSlug,
    drivers::{
        local::{login_link, LocalConfig, SiteUser},
        Drivers, Ensured, SiteSpec,
    },
};

use crate::{
    dataplane, unique,
    wp_admin::{self, WpAdmin},
};

/// One test site: its spec, its Unix user, its directory.
pub struct Site {
    pub spec: SiteSpec,
    pub user: SiteUser,
    pub dir: PathBuf,
}

impl Site {
    pub fn slug(&self) -> &str {
        self.spec.slug.as_str()
    }

    pub fn content(&self) -> PathBuf {
        self.dir.join("wp-content")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.php")
    }
}

/// Held for the whole of a test that drives wp-admin: one such test at a time in a test
/// binary. Each tenant test creates and removes sites, so nginx and php-fpm reload several
/// times a second; under that, an nginx worker told to quit right after it started has been
/// seen to exit with a wp-admin response half sent ("open socket left in connection",
/// "aborting" in nginx's log), which fails a test about something else. A reload on a real
/// host is one per site change, and browsers reload a broken page.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// The single host's drivers.
pub fn drivers(cfg: &LocalConfig) -> Drivers {
    Deployment::single_host(cfg.clone()).drivers
}

/// A new site's spec with a unique slug and an id no other test uses (site ids of the
/// panel's tests are small; these are large and random).
pub fn new_site(cfg: &LocalConfig, prefix: &str) -> Site {
    let slug = unique(prefix);
    let id = rand::random::<u32>() as i64 % 900_000_000 + 100_000_000;
    let spec = SiteSpec::parse(
        id,
        &slug,
        &format!("Tenant {slug}"),
        &format!("{slug}@example.com"),
        &[cfg.addressing.platform_host_of(&slug)],
    )
    .unwrap();
    let user = SiteUser::of(cfg, &spec).unwrap();
    let dir = cfg.site_dir(&SiteSlug::from_stored(&slug).unwrap());
    Site { spec, user, dir }
}

/// Runs the database, files and wordpress steps for the site: live when it returns.
pub async fn provision(drivers: &Drivers, site: &Site) {
    for (name, driver) in [
        ("database", &drivers.database),
        ("files", &drivers.files),
        ("wordpress", &drivers.wordpress),
    ] {
        match driver.as_ref().unwrap().ensure(&site.spec).await {
            Ok(Ensured::Done { .. }) => {}
            other => panic!("{name}.ensure of {}: {other:?}", site.slug()),
        }
    }
}

/// Removes what [`provision`] made.
pub async fn remove(drivers: &Drivers, site: &Site) {
    for driver in [&drivers.wordpress, &drivers.files, &drivers.database] {
        driver.as_ref().unwrap().remove(&site.spec).await.unwrap();
    }
}

/// `sh -c script` with `args` as the site's user (its uid and gid, no other group).
pub fn as_user(user: SiteUser, script: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .uid(user.uid)
        .gid(user.gid)
        .stdin(Stdio::null())
        .output()
        .expect("run sh as the site's user")
}

/// Writes `contents` to `path` as the site's user (as its PHP could).
pub fn write_as(user: SiteUser, path: &Path, contents: &str) {
    let out = as_user(
        user,
        "printf '%s' \"$2\" > \"$1\"",
        &[path.to_str().unwrap(), contents],
    );
    assert!(
        out.status.success(),
        "write {} as uid {}: {}",
        path.display(),
        user.uid,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GET `path` on the site's hostname, following redirects: (status, body).
pub async fn site_page(site: &Site, path: &str) -> (u16, String) {
    wp_admin::get(&wp_admin::client(site.slug()), site.slug(), path).await
}

/// Signs into the site's wp-admin with a one-time login link made from its spec (as the
/// panel makes them).
pub async fn sign_in(cfg: &LocalConfig, site: &Site) -> WpAdmin {
    let link = login_link(cfg, &site.spec, Duration::from_secs(300));
    WpAdmin::sign_in(site.slug(), &link).await
}

/// The data plane's configuration.
pub fn config() -> LocalConfig {
    dataplane::config()
}
