//! Logical snapshots on a single host, over HTTP: take one from the panel, change the site,
//! restore it, and find the site as it was (database and files), with a snapshot of what
//! the restore replaced; a damaged snapshot is refused without touching the site; deleting
//! the site deletes its snapshots.

use std::{os::unix::fs::MetadataExt, path::PathBuf, time::Duration};

use mywp_jobs::{
    domain::{SiteSlug, SnapshotFacts, SnapshotKind},
    drivers::local::LocalConfig,
};
use mywp_tests::{
    customer::Customer,
    dataplane::{config, site_sql, wait_for_title},
    unique, wait_for, TestApp,
};
use serde_json::Value;
use sha2::Digest;
use sqlx::{ConnectOptions, Connection};

const LIVE: Duration = Duration::from_secs(120);
const WORK: Duration = Duration::from_secs(90);

async fn table_count(cfg: &LocalConfig, db: &str, table: &str) -> i64 {
    let mut conn = cfg.db.admin_options().connect().await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
    )
    .bind(db)
    .bind(table)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    n
}

fn set_title(title: &str) -> String {
    format!(
        "UPDATE wp_options SET option_value = '{}' WHERE option_name = 'blogname'",
        title.replace('\'', "''")
    )
}

/// Waits (bounded) until `pick` finds what it wants in the site's backups.
async fn wait_backups<T>(
    ann: &Customer,
    slug: &str,
    what: &str,
    pick: impl Fn(&Value) -> Option<T>,
) -> T {
    wait_for(what, WORK, || async {
        let (status, body) = ann.site(slug).await;
        assert_eq!(status, 200, "{body}");
        let backups = &body["backups"];
        for s in backups["snapshots"].as_array().unwrap() {
            assert_ne!(s["state"], "failed", "a snapshot failed: {backups}");
        }
        pick(backups).ok_or_else(|| backups.to_string())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_change_restore_and_delete() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let cfg = config();
    let slug = unique("snap");
    ann.create_site(&format!("Snap {slug}"), &slug).await;
    let detail = ann.wait_status(&slug, "live", LIVE).await;
    let backup = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "backup")
        .unwrap()
        .clone();
    assert_eq!(backup["state"], "done", "{backup}");
    assert!(
        detail["backups"]["policy"]
            .as_str()
            .unwrap()
            .contains("every day"),
        "{detail}"
    );
    assert_eq!(detail["backups"]["snapshots"], Value::Array(vec![]));

    // The content the snapshot must bring back.
    let before = format!("Before {slug}");
    let db = app.site_db(&slug).await;
    site_sql(&cfg, &db, set_title(&before)).await;
    let uploads = cfg
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("wp-content/uploads");
    std::fs::write(uploads.join("note.txt"), "first").unwrap();
    wait_for_title(&slug, &before).await;

    // Bad input is refused with a clear error and changes nothing.
    let (status, body) = ann
        .call_json(
            "restore_snapshot",
            &[("slug", &slug), ("snapshot_id", "nope")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["Invalid"]["field"], "snapshot_id");

    let (status, body) = ann.call_json("take_snapshot", &[("slug", &slug)]).await;
    assert_eq!(status, 200, "{body}");
    let snapshot = wait_backups(&ann, &slug, "the manual snapshot", |b| {
        let s = &b["snapshots"][0];
        (s["state"] == "done").then(|| s.clone())
    })
    .await;
    assert_eq!(snapshot["kind"], "manual");
    assert!(
        snapshot["database_bytes"].as_i64().unwrap() > 1000,
        "{snapshot}"
    );
    assert!(snapshot["files_bytes"].as_i64().unwrap() > 0, "{snapshot}");
    let id = snapshot["id"].as_i64().unwrap().to_string();
    let vault = cfg.state_dir.join("snapshots").join(&slug).join(&id);
    for file in ["database.sql.gz", "files.tar.gz", "manifest.json"] {
        assert!(vault.join(file).is_file(), "{} is missing", file);
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(vault.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["slug"], slug.as_str());
    assert_eq!(manifest["files"]["bytes"], snapshot["files_bytes"]);

    // The owner downloads both files; nobody else can.
    let url = |file: &str| format!("{}/sites/{slug}/snapshots/{id}/{file}", app.base);
    for (file, part) in [("database.sql.gz", "database"), ("files.tar.gz", "files")] {
        let res = ann.client.get(url(file)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{file}");
        let disposition = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            disposition.contains(&format!("{slug}-snapshot-{id}-{file}")),
            "{disposition}"
        );
        let body = res.bytes().await.unwrap();
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{file} is gzip");
        let sha = hex::encode(sha2::Sha256::digest(&body));
        assert_eq!(
            manifest[part]["sha256"],
            sha.as_str(),
            "{file} is the snapshot's"
        );
    }
    let eve = app.new_customer().await;
    let res = eve.client.get(url("database.sql.gz")).send().await.unwrap();
    assert_eq!(res.status(), 404, "another customer");
    let res = app
        .customer()
        .client
        .get(url("database.sql.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "signed out");
    let res = ann.client.get(url("manifest.json")).send().await.unwrap();
    assert_eq!(res.status(), 404, "only the two parts");

    // Change everything: the title, a file gone, a file and a table added.
    let after = format!("After {slug}");
    site_sql(&cfg, &db, set_title(&after)).await;
    site_sql(&cfg, &db, "CREATE TABLE wp_later (id INT)".into()).await;
    std::fs::remove_file(uploads.join("note.txt")).unwrap();
    std::fs::write(uploads.join("later.txt"), "made after the snapshot").unwrap();
    wait_for_title(&slug, &after).await;

    let (status, body) = ann
        .call_json("restore_snapshot", &[("slug", &slug), ("snapshot_id", &id)])
        .await;
    assert_eq!(status, 200, "{body}");
    let restore = wait_backups(&ann, &slug, "the restore", |b| {
        let r = &b["restores"][0];
        assert_ne!(r["state"], "failed", "{b}");
        (r["state"] == "done").then(|| r.clone())
    })
    .await;
    wait_for_title(&slug, &before).await;
    // While a restore runs the site shows a short "being restored" page; none is left.
    let flag = cfg
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("maintenance");
    assert!(
        !flag.exists(),
        "the maintenance flag is gone after the restore"
    );
    std::fs::write(&flag, "test").unwrap();
    let (status, body) = mywp_tests::dataplane::get_site_page(&slug).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("being restored"), "{body}");
    std::fs::remove_file(&flag).unwrap();
    wait_for_title(&slug, &before).await;
    let uploads = cfg
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("wp-content/uploads");
    assert_eq!(
        std::fs::read_to_string(uploads.join("note.txt")).unwrap(),
        "first"
    );
    assert!(
        !uploads.join("later.txt").exists(),
        "files made later are gone"
    );
    assert_eq!(table_count(&cfg, &db, "wp_later").await, 0);
    assert_eq!(table_count(&cfg, &db, "wp_options").await, 1);
    // The restored files belong to the site's own user (wp-content's owner), as before.
    let site_uid = std::fs::metadata(uploads.parent().unwrap()).unwrap().uid();
    assert_ne!(site_uid, 0);
    assert_eq!(
        std::fs::metadata(uploads.join("note.txt")).unwrap().uid(),
        site_uid
    );

    // What the restore replaced was kept first.
    let (_, detail) = ann.site(&slug).await;
    let snapshots = detail["backups"]["snapshots"].as_array().unwrap().clone();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    let safety = &snapshots[0];
    assert_eq!(safety["kind"], "pre_restore");
    assert_eq!(safety["state"], "done");
    assert_eq!(restore["safety_snapshot_id"], safety["id"]);
    assert_eq!(restore["snapshot_id"].as_i64().unwrap().to_string(), id);

    // A damaged snapshot is refused, and the site is left as it is.
    let safety_id = safety["id"].as_i64().unwrap().to_string();
    let damaged: PathBuf = cfg
        .state_dir
        .join("snapshots")
        .join(&slug)
        .join(&safety_id)
        .join("files.tar.gz");
    std::fs::write(&damaged, "not an archive").unwrap();
    let (status, body) = ann
        .call_json(
            "restore_snapshot",
            &[("slug", &slug), ("snapshot_id", &safety_id)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let failed = wait_for("the damaged restore to fail", WORK, || async {
        let (_, body) = ann.site(&slug).await;
        let r = body["backups"]["restores"][0].clone();
        if r["state"] == "failed" {
            Ok(r)
        } else {
            Err(r.to_string())
        }
    })
    .await;
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("damaged"), "{error}");
    wait_for_title(&slug, &before).await;
    assert_eq!(
        std::fs::read_to_string(uploads.join("note.txt")).unwrap(),
        "first"
    );

    // A snapshot whose database does not load: the restore fails half-way (every table was
    // dropped first) and puts back what the safety snapshot holds.
    let site_id = app
        .plane
        .store
        .site_by_slug(&slug)
        .await
        .unwrap()
        .unwrap()
        .id;
    let broken = app
        .plane
        .store
        .request_snapshot(site_id, SnapshotKind::PreRestore, None)
        .await
        .unwrap();
    let dir = cfg
        .state_dir
        .join("snapshots")
        .join(&slug)
        .join(broken.id.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let sql = dir.join("database.sql");
    std::fs::write(&sql, "CREATE TABLE wp_broken (id INT);\nTHIS IS NOT SQL;\n").unwrap();
    let gzip = std::process::Command::new("gzip")
        .arg(&sql)
        .status()
        .unwrap();
    assert!(gzip.success());
    std::fs::write(dir.join("files.tar.gz"), "never reached").unwrap();
    let sha =
        |name: &str| hex::encode(sha2::Sha256::digest(std::fs::read(dir.join(name)).unwrap()));
    let facts = SnapshotFacts {
        database_bytes: 1,
        database_sha256: sha("database.sql.gz"),
        files_bytes: 1,
        files_sha256: sha("files.tar.gz"),
    };
    app.plane
        .store
        .finish_snapshot(broken.id, &facts)
        .await
        .unwrap();
    let (status, body) = ann
        .call_json(
            "restore_snapshot",
            &[("slug", &slug), ("snapshot_id", &broken.id.to_string())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let failed = wait_for("the broken restore to fail", WORK, || async {
        let (_, body) = ann.site(&slug).await;
        let r = body["backups"]["restores"][0].clone();
        if r["state"] == "failed" && r["snapshot_id"] == broken.id {
            Ok(r)
        } else {
            Err(r.to_string())
        }
    })
    .await;
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("put back as it was"), "{error}");
    wait_for_title(&slug, &before).await;
    assert_eq!(table_count(&cfg, &db, "wp_broken").await, 0);
    assert_eq!(table_count(&cfg, &db, "wp_options").await, 1);
    assert_eq!(
        std::fs::read_to_string(uploads.join("note.txt")).unwrap(),
        "first"
    );

    // Deleting the site deletes its snapshots.
    let (status, body) = ann
        .call_json("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    assert_eq!(status, 200, "{body}");
    ann.wait_gone(&slug, WORK).await;
    assert!(
        !cfg.state_dir.join("snapshots").join(&slug).exists(),
        "the site's snapshots are deleted with it"
    );
    app.stop().await;
}

/// The schedule, end to end: a site live for longer than the interval gets a scheduled
/// snapshot from the workers' sweep; with one kept, the next one replaces it in the vault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_snapshots_come_and_expire() {
    let app = TestApp::spawn_with(|c| c.snapshots.snapshot_keep = 1, true).await;
    let ann = app.new_customer().await;
    let cfg = config();
    let slug = unique("sched");
    ann.create_site(&format!("Sched {slug}"), &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;
    let store = &app.plane.store;
    let site = store.site_by_slug(&slug).await.unwrap().unwrap();
    let day = 25 * 3600 * 1000_i64;
    // As if the site went live a day ago: the sweep (every 15 s) finds it due.
    let age = |sql: &'static str| {
        sqlx::query(sql)
            .bind(day)
            .bind(site.id)
            .execute(store.pool())
    };
    age("UPDATE sites SET live_at = live_at - $1 WHERE id = $2")
        .await
        .unwrap();
    let first = wait_backups(&ann, &slug, "a scheduled snapshot", |b| {
        let s = &b["snapshots"][0];
        (s["state"] == "done").then(|| s.clone())
    })
    .await;
    assert_eq!(first["kind"], "scheduled");
    let first_dir = cfg
        .state_dir
        .join("snapshots")
        .join(&slug)
        .join(first["id"].as_i64().unwrap().to_string());
    assert!(first_dir.join("manifest.json").is_file());

    // A day later, the next one; only one is kept.
    age("UPDATE site_snapshots SET created_at = created_at - $1 WHERE site_id = $2")
        .await
        .unwrap();
    let second = wait_backups(&ann, &slug, "the next scheduled snapshot", |b| {
        let all = b["snapshots"].as_array().unwrap();
        match all.as_slice() {
            [s] if s["state"] == "done" && s["id"] != first["id"] => Some(s.clone()),
            _ => None,
        }
    })
    .await;
    assert_eq!(second["kind"], "scheduled");
    assert!(!first_dir.exists(), "the expired snapshot left the vault");

    // A snapshot a killed worker left running (and half-written) is taken again.
    let left = store
        .request_snapshot(site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    store.start_snapshot(left.id).await.unwrap();
    let half = cfg
        .state_dir
        .join("snapshots")
        .join(&slug)
        .join(left.id.to_string());
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join("files.tar.gz"), "cut short").unwrap();
    app.plane
        .queue
        .enqueue(site.id, Duration::ZERO)
        .await
        .unwrap();
    let id = left.id;
    let again = wait_backups(&ann, &slug, "the interrupted snapshot", |b| {
        b["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id && s["state"] == "done")
            .cloned()
    })
    .await;
    assert!(again["files_bytes"].as_i64().unwrap() > 9, "{again}");
    assert!(half.join("manifest.json").is_file());

    let (status, body) = ann
        .call_json("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    assert_eq!(status, 200, "{body}");
    ann.wait_gone(&slug, WORK).await;
    app.stop().await;
}
