//! The single-host drivers against the running data plane (`scripts/dataplane.sh start`).
//!
//! The data plane is found through `$MYWP_STATE_DIR/dataplane.env` (default: the repo's
//! `var/`). When it is not there these tests fail, they do not skip: start it first.

mod common;

use std::{
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use mywp_jobs::{
    deployment::Deployment,
    domain::SiteSlug,
    drivers::{
        local::{login_link, DbNamespace, LocalConfig},
        Drivers, Ensured, SiteSpec,
    },
};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

fn state_dir() -> PathBuf {
    std::env::var_os("MYWP_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("var")
        })
}

fn config() -> LocalConfig {
    let dir = state_dir();
    LocalConfig::from_state_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the local data plane is not available: {e}\n\
             Start it with `scripts/dataplane.sh install && scripts/dataplane.sh start` \
             (state dir {}, override with MYWP_STATE_DIR)",
            dir.display()
        )
    })
}

fn site(cfg: &LocalConfig, slug: &str) -> SiteSpec {
    SiteSpec::parse(
        1,
        slug,
        &format!("Tom's Test & Blog {slug}"),
        "Owner@Example.com",
        &[cfg.addressing.platform_host_of(slug)],
    )
    .unwrap()
}

async fn root_pool(cfg: &LocalConfig) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(1)
        .connect_with(cfg.db.admin_options())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {e} (is the data plane started?)",
                cfg.db.describe()
            )
        })
}

async fn count(pool: &MySqlPool, sql: &'static str, name: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn http_client(cfg: &LocalConfig, slug: &str, cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .resolve(
            &cfg.addressing.platform_host_of(slug),
            SocketAddr::from(([127, 0, 0, 1], cfg.addressing.port)),
        )
        .cookie_store(cookies)
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn get(cfg: &LocalConfig, slug: &str) -> (u16, String) {
    let resp = http_client(cfg, slug, false)
        .get(format!("{}/", cfg.addressing.site_url(slug)))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Polls until the site's hostname answers `status` (bounded).
async fn wait_for_status(cfg: &LocalConfig, slug: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (got, body) = get(cfg, slug).await;
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{} answered {got}, expected {status}",
            cfg.addressing.platform_host_of(slug)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ensure_all(drivers: &Drivers, site: &SiteSpec) {
    for (name, driver) in [
        ("database", &drivers.database),
        ("files", &drivers.files),
        ("wordpress", &drivers.wordpress),
        ("backup", &drivers.backup),
    ] {
        let driver = driver
            .as_ref()
            .unwrap_or_else(|| panic!("no {name} driver"));
        match driver.ensure(site).await {
            Ok(Ensured::Done { resource }) => assert!(!resource.is_empty()),
            other => panic!("{name}.ensure: {other:?}"),
        }
    }
}

async fn remove_all(drivers: &Drivers, site: &SiteSpec) {
    for (name, driver) in [
        ("backup", &drivers.backup),
        ("wordpress", &drivers.wordpress),
        ("files", &drivers.files),
        ("database", &drivers.database),
    ] {
        let driver = driver.as_ref().unwrap();
        if let Err(e) = driver.remove(site).await {
            panic!("{name}.remove: {e:?}");
        }
    }
}

async fn full_lifecycle(slug: String) {
    let mut cfg = config();
    // Its own names on the shared MariaDB: every test here numbers its site 1.
    cfg.db_namespace = DbNamespace::parse(&common::db_namespace()).unwrap();
    let deployment = Deployment::single_host(cfg.clone());
    let drivers = deployment.drivers;
    assert!(drivers.media.is_none() && drivers.cdn.is_none() && drivers.dns.is_none());
    assert!(drivers.certificate.is_none());
    // Backups on a single host: snapshots in a directory of the state directory.
    assert!(drivers.backup.is_some() && deployment.snapshots.is_some());
    let snapshots = cfg.state_dir.join("snapshots").join(&slug);
    let site = site(&cfg, &slug);
    let db = cfg.db_namespace.db_name(site.id);
    assert!(db.len() <= 32, "{db}");
    let pool = root_pool(&cfg).await;

    // Ensure twice: the second run converges on the same resources.
    ensure_all(&drivers, &site).await;
    ensure_all(&drivers, &site).await;

    let schemata = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?";
    let users = "SELECT COUNT(*) FROM mysql.user WHERE User = ?";
    let db_grants = "SELECT COUNT(*) FROM mysql.db WHERE User = ?";
    assert_eq!(count(&pool, schemata, &db).await, 1);
    assert_eq!(count(&pool, users, &db).await, 1);
    assert_eq!(
        count(&pool, db_grants, &db).await,
        1,
        "the user is granted on its database only"
    );
    let granted_on: String = sqlx::query_scalar("SELECT Db FROM mysql.db WHERE User = ?")
        .bind(&db)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(granted_on, db.replace('_', "\\_"));

    assert!(
        snapshots.is_dir(),
        "the backup step makes the site's snapshot directory"
    );
    let dir = cfg.site_dir(&SiteSlug::from_stored(&slug).unwrap());
    let config_meta = std::fs::metadata(dir.join("config.php")).unwrap();
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // The site's own user alone reads its config; it owns its wp-content.
        let user = mywp_jobs::drivers::local::SiteUser::of(&cfg, &site).unwrap();
        assert_eq!(config_meta.permissions().mode() & 0o777, 0o400);
        assert_eq!(config_meta.uid(), user.uid);
        let uploads = std::fs::metadata(dir.join("wp-content/uploads")).unwrap();
        assert_eq!(uploads.uid(), user.uid, "uploads belong to the site's user");
    }
    let theme = std::fs::read_link(dir.join("wp-content/themes/twentytwentythree")).unwrap();
    assert_eq!(theme, cfg.default_theme_dir);
    assert!(
        std::fs::symlink_metadata(dir.join("wp-content/mu-plugins/mywp-login.php"))
            .unwrap()
            .is_symlink()
    );
    // This site's temporary files only: other tests write theirs in the shared directory.
    let names = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let leftovers: Vec<_> = names(&dir)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .chain(
            names(&cfg.nginx_sites_dir)
                .into_iter()
                .filter(|n| n.starts_with(&format!(".{slug}.conf.tmp-"))),
        )
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Live: 200 with the title (WordPress escapes it: compare the escaped form).
    let (status, body) = get(&cfg, &slug).await;
    assert_eq!(status, 200);
    let escaped =
        ["&amp;", "&#038;"].map(|amp| format!("<title>Tom&#039;s Test {amp} Blog {slug}"));
    assert!(
        escaped.iter().any(|t| body.contains(t.as_str())),
        "title missing from the page"
    );

    // The login link logs the owner into wp-admin once.
    let link = login_link(&cfg, &site, Duration::from_secs(300));
    let browser = http_client(&cfg, &slug, true);
    let resp = browser.get(&link).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "login link answered {}",
        resp.status()
    );
    assert_eq!(resp.url().path(), "/wp-admin/", "ended on {}", resp.url());
    let dashboard = resp.text().await.unwrap();
    assert!(
        dashboard.contains("Dashboard"),
        "wp-admin did not show the dashboard"
    );
    // The session cookie works on its own too.
    let again = browser
        .get(format!("{}/wp-admin/", cfg.addressing.site_url(&slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(again.url().path(), "/wp-admin/");
    // A second use is refused, and so is a forged link.
    let resp = http_client(&cfg, &slug, true)
        .get(&link)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "a used link must be refused");
    assert!(resp.text().await.unwrap().contains("used already"));
    let forged = format!("{}0", &link[..link.len() - 1]);
    let forged = if forged == link {
        format!("{}1", &link[..link.len() - 1])
    } else {
        forged
    };
    let resp = http_client(&cfg, &slug, true)
        .get(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "a forged link must be refused");

    // Remove twice: the second finds nothing and succeeds.
    remove_all(&drivers, &site).await;
    remove_all(&drivers, &site).await;
    assert_eq!(count(&pool, schemata, &db).await, 0);
    assert_eq!(count(&pool, users, &db).await, 0);
    assert_eq!(count(&pool, db_grants, &db).await, 0);
    assert!(!dir.exists(), "{} is left", dir.display());
    assert!(!snapshots.exists(), "the snapshot directory is left");
    assert!(
        !cfg.server_block(&SiteSlug::from_stored(&slug).unwrap())
            .exists(),
        "the server block is left"
    );
    wait_for_status(&cfg, &slug, 404).await;
}

#[tokio::test]
async fn site_lifecycle_is_idempotent_and_leaves_nothing() {
    full_lifecycle(common::unique("t")).await;
}

#[tokio::test]
async fn a_forty_character_slug_gets_a_short_database_user() {
    let mut slug = common::unique("long-");
    while slug.len() < 40 {
        slug.push('z');
    }
    slug.truncate(40);
    full_lifecycle(slug).await;
}

/// Names that are not DNS labels never reach a driver: no spec can be built from them.
#[test]
fn bad_names_cannot_reach_the_drivers() {
    let host = ["x.localhost"];
    assert!(SiteSpec::parse(1, "Not_A_Slug", "t", "o@example.com", &host).is_err());
    assert!(SiteSpec::parse(1, "-x", "t", "o@example.com", &host).is_err());
    let evil = ["evil.example; include /etc/passwd"];
    assert!(SiteSpec::parse(1, "okay", "t", "o@example.com", &evil).is_err());
}
