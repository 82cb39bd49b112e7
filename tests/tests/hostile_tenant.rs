//! The hostile tenant: site A's customer installs a plugin the way customers do (its zip
//! through wp-admin's upload form) and its PHP attacks everything around it — site B's
//! config, uploads, mu-plugins and database, the panel's state — and plants links for nginx
//! and for the platform's root-run steps to follow, racing them. Every attempt is refused;
//! `/etc` and the state directory are left as they were; no foreign file enters an archive.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::Duration,
};

use mywp_jobs::{
    domain::SiteSlug,
    drivers::{local::FilesDriver, Driver},
};
use mywp_tests::{
    dataplane::{config, site_client},
    unique, wait_for,
    wp_admin::{zip_of, WpAdmin},
    Customer, TestApp,
};
use serde_json::Value;

const LIVE: Duration = Duration::from_secs(180);
const WORK: Duration = Duration::from_secs(120);
const PLUGIN: &[u8] = include_bytes!("../fixtures/hostile-plugin/mywp-hostile.php");

/// A site of its own customer, live.
async fn live_site(app: &TestApp, prefix: &str) -> (Customer, String) {
    let customer = app.new_customer().await;
    let slug = unique(prefix);
    customer.create_site(&format!("Site {slug}"), &slug).await;
    customer.wait_status(&slug, "live", LIVE).await;
    (customer, slug)
}

/// Installs the hostile plugin into `slug` through wp-admin.
async fn install_hostile_plugin(customer: &Customer, slug: &str) {
    let admin = WpAdmin::open(customer, slug).await;
    let zip = zip_of(&[("mywp-hostile/mywp-hostile.php", PLUGIN)]);
    admin.install_plugin("mywp-hostile.zip", zip).await;
}

/// Runs one probe of the plugin as `slug`'s PHP.
async fn probe(slug: &str, params: &[(&str, &str)]) -> Value {
    let url = config().addressing.site_url(slug);
    let res = site_client(slug)
        .get(format!("{url}/"))
        .query(params)
        .timeout(Duration::from_secs(150))
        .send()
        .await
        .expect("the site answers");
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not a probe's answer: {text:.500}"))
}

async fn allowed(slug: &str, probe_name: &str, params: &[(&str, &str)]) -> (bool, Value) {
    let mut all = vec![("mywp-hostile", probe_name)];
    all.extend_from_slice(params);
    let answer = probe(slug, &all).await;
    (answer["ok"] == true, answer)
}

fn site_dir(slug: &str) -> PathBuf {
    config().site_dir(&SiteSlug::from_stored(slug).unwrap())
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_uploaded_through_wp_admin_runs_as_its_site() {
    let app = TestApp::spawn().await;
    let (ann, slug) = live_site(&app, "plug").await;
    install_hostile_plugin(&ann, &slug).await;
    let me = probe(&slug, &[("mywp-hostile", "whoami")]).await;
    let content = site_dir(&slug).join("wp-content");
    let owner = std::fs::metadata(&content).unwrap().uid();
    assert_eq!(me["euid"], owner, "PHP runs as the owner of its wp-content: {me}");
    assert_ne!(owner, 0);
    // The site still serves its pages with the plugin active.
    mywp_tests::dataplane::wait_for_title(&slug, &format!("Site {slug}")).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_php_cannot_reach_another_site_or_the_panel() {
    let db = tempfile::tempdir_in(mywp_tests::dataplane::state_dir()).unwrap();
    let panel_db = db.path().join("mywp.db");
    let url = format!("sqlite://{}", panel_db.display());
    let app = TestApp::spawn_with(
        move |c| c.database_url = Some(mywp_jobs::secrets::Secret::new(url)),
        true,
    )
    .await;
    let (ann, a) = live_site(&app, "atk").await;
    let (_bob, b) = live_site(&app, "vic").await;
    install_hostile_plugin(&ann, &a).await;
    let cfg = config();
    let b_dir = site_dir(&b);
    let b_upload = b_dir.join("wp-content/uploads/private.txt");
    std::fs::write(&b_upload, "B's unpublished file").unwrap();
    let b_owner = std::fs::metadata(b_dir.join("wp-content")).unwrap();
    nix::unistd::chown(
        &b_upload,
        Some(b_owner.uid().into()),
        Some(b_owner.gid().into()),
    )
    .unwrap();

    let master_key = app.config.master_key_path();
    let wal = PathBuf::from(format!("{}-wal", panel_db.display()));
    assert!(panel_db.exists() && master_key.exists());
    for path in [
        cfg.site_config(&SiteSlug::from_stored(&b).unwrap()),
        b_upload.clone(),
        panel_db.clone(),
        wal,
        master_key,
    ] {
        let (ok, answer) = allowed(&a, "read", &[("path", &s(&path))]).await;
        assert!(!ok, "A's PHP read {}: {answer}", path.display());
    }
    for dir in [
        b_dir.join("wp-content/uploads"),
        b_dir.clone(),
        cfg.state_dir.join("snapshots"),
        db.path().to_path_buf(),
    ] {
        let (ok, answer) = allowed(&a, "list", &[("path", &s(&dir))]).await;
        assert!(!ok, "A's PHP listed {}: {answer}", dir.display());
    }
    let evil = b_dir.join("wp-content/mu-plugins/evil.php");
    let (ok, answer) = allowed(
        &a,
        "write",
        &[("path", &s(&evil)), ("data", "<?php echo 'owned';")],
    )
    .await;
    assert!(!ok && !evil.exists(), "A's PHP wrote B's mu-plugins: {answer}");

    // A's own database login cannot read B's database; B's user is not A's to use.
    let b_db = mywp_jobs::sitedb::SiteDatabase::of(
        &spec_of(&app, &b).await,
        &cfg.master_key,
    )
    .unwrap();
    let sql = format!("SELECT option_value FROM `{}`.wp_options LIMIT 1", b_db.name);
    let (ok, answer) = allowed(&a, "mysql", &[("sql", &sql)]).await;
    assert!(!ok, "A's database user read B's database: {answer}");
    for (user, password) in [(b_db.name.as_str(), ""), ("root", ""), (b_db.name.as_str(), "wordpress")] {
        let (ok, answer) = allowed(
            &a,
            "mysql",
            &[("user", user), ("password", password), ("sql", "SELECT 1")],
        )
        .await;
        assert!(!ok, "A's PHP logged in to MariaDB as {user}: {answer}");
    }
    app.stop().await;
}

/// The spec of a site as the pipeline builds it.
async fn spec_of(app: &TestApp, slug: &str) -> mywp_jobs::domain::SiteSpec {
    let row = app
        .plane
        .store
        .site_by_slug(slug)
        .await
        .unwrap()
        .expect("the site exists");
    app.plane
        .store
        .site_spec(&row, &config().addressing)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_a_tenant_plants_are_never_followed_by_nginx() {
    let app = TestApp::spawn().await;
    let (ann, a) = live_site(&app, "lnk").await;
    let (_bob, b) = live_site(&app, "lnv").await;
    install_hostile_plugin(&ann, &a).await;
    let cfg = config();
    let uploads = site_dir(&a).join("wp-content/uploads");
    let targets = [
        cfg.site_config(&SiteSlug::from_stored(&b).unwrap()),
        app.config.master_key_path(),
        PathBuf::from("/etc/passwd"),
    ];
    for (i, target) in targets.iter().enumerate() {
        let link = uploads.join(format!("picture-{i}.jpg"));
        let (ok, answer) = allowed(
            &a,
            "symlink",
            &[("path", &s(&link)), ("target", &s(target))],
        )
        .await;
        assert!(ok, "a tenant may make links in its own uploads: {answer}");
        let url = format!("{}/wp-content/uploads/picture-{i}.jpg", cfg.addressing.site_url(&a));
        let res = site_client(&a).get(url).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.bytes().await.unwrap();
        let secret = std::fs::read(target).unwrap();
        assert!(
            status != 200 && !body.windows(secret.len().min(16)).any(|w| secret.starts_with(w)),
            "nginx served {} through a tenant's link (HTTP {status})",
            target.display()
        );
    }
    app.stop().await;
}

/// Owner, group and mode of `path` and of every entry directly in it.
fn listing(path: &Path) -> Vec<(String, u32, u32, u32)> {
    let mut out = Vec::new();
    let meta = std::fs::symlink_metadata(path).unwrap();
    out.push((s(path), meta.uid(), meta.gid(), meta.mode()));
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            if let Ok(m) = entry.path().symlink_metadata() {
                out.push((s(&entry.path()), m.uid(), m.gid(), m.mode()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_never_follows_a_link_the_tenant_swaps_in() {
    let app = TestApp::spawn().await;
    let (ann, a) = live_site(&app, "race").await;
    install_hostile_plugin(&ann, &a).await;
    let cfg = std::sync::Arc::new(config());
    // A stand-in for /etc that root owns, and /etc and the state directory themselves.
    let decoy = tempfile::tempdir().unwrap();
    std::fs::write(decoy.path().join("passwd"), "root:x:0:0").unwrap();
    let watched = [
        decoy.path().to_path_buf(),
        PathBuf::from("/etc"),
        cfg.state_dir.clone(),
    ];
    let before: Vec<_> = watched.iter().map(|p| listing(p)).collect();
    let content = site_dir(&a).join("wp-content");
    let spec = spec_of(&app, &a).await;
    let files = FilesDriver::new(cfg.clone());

    for (round, target) in watched.iter().enumerate() {
        let stop = content.join(format!(".stop-{round}"));
        let racer = {
            let a = a.clone();
            let params = [
                ("mywp-hostile", "race".to_string()),
                ("path", s(&content.join("uploads"))),
                ("target", s(target)),
                ("stop", s(&stop)),
                ("seconds", "100".to_string()),
            ];
            tokio::spawn(async move {
                let params: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                probe(&a, &params).await
            })
        };
        // The files step, as root, over and over while the tenant swaps.
        for _ in 0..60 {
            let _ = files.ensure(&spec).await;
        }
        // A snapshot and its download while the tenant swaps: nothing from outside inside.
        let (status, body) = ann.call_json("take_snapshot", &[("slug", &a)]).await;
        assert_eq!(status, 200, "{body}");
        let id = wait_for("the snapshot", WORK, || async {
            let (_, detail) = ann.site(&a).await;
            let snaps = detail["backups"]["snapshots"].as_array().cloned().unwrap_or_default();
            match snaps.iter().find(|s| s["state"] != "running" && s["state"] != "pending") {
                Some(s) => Ok(s["id"].as_i64().unwrap()),
                None => Err(detail.to_string()),
            }
        })
        .await;
        std::fs::write(&stop, "").unwrap();
        let swaps = racer.await.unwrap();
        assert!(swaps["swaps"].as_i64().unwrap_or(0) > 0, "the race ran: {swaps}");
        let _ = std::fs::remove_file(&stop);
        let res = ann
            .client
            .get(format!("{}/sites/{a}/snapshots/{id}/files.tar.gz", app.base))
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            let bytes = res.bytes().await.unwrap();
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
            for entry in archive.entries().unwrap() {
                let entry = entry.unwrap();
                let path = entry.path().unwrap().display().to_string();
                assert!(
                    !path.contains("passwd") && !path.contains("shadow") && !path.contains("master.key"),
                    "a foreign file in the archive: {path}"
                );
            }
        }
    }
    for (path, was) in watched.iter().zip(before) {
        assert_eq!(listing(path), was, "{} changed", path.display());
    }
    app.stop().await;
}
