//! A restore puts the site on a 503 page while it loads a snapshot (`<site>/maintenance`).
//! A worker killed meanwhile must not leave it there: the next worker finishes the restore
//! and takes the page down, and when the restore cannot go on (its snapshot expired
//! meanwhile) it puts back what the restore replaced and takes the page down too.

use std::time::{Duration, Instant};

use mywp_jobs::{
    domain::{OpState, SiteSlug, SnapshotKind},
    store::RestoreRow,
};
use mywp_tests::{
    dataplane::{config, get_site_page, site_sql, wait_for_title},
    sigkill, spawn_worker, unique, wait_for, TestApp,
};

const LIVE: Duration = Duration::from_secs(120);
const WORK: Duration = Duration::from_secs(90);

fn set_title(title: &str) -> String {
    format!("UPDATE wp_options SET option_value = '{title}' WHERE option_name = 'blogname'")
}

/// Polls every 5 ms (bounded) until the file `path` exists.
async fn wait_for_file(path: &std::path::Path) {
    let deadline = Instant::now() + WORK;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn restore_of(app: &TestApp, site_id: i64, id: i64) -> RestoreRow {
    let all = app.plane.store.restores_of(site_id, 10).await.unwrap();
    all.into_iter().find(|r| r.id == id).expect("the restore")
}

async fn wait_restore_finished(app: &TestApp, site_id: i64, id: i64) -> RestoreRow {
    wait_for("the restore to finish", WORK, || async {
        let row = restore_of(app, site_id, id).await;
        if matches!(row.state, OpState::Done | OpState::Failed) {
            Ok(row)
        } else {
            Err(format!("{row:?}"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_restore_never_leaves_the_maintenance_page() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let cfg = config();
    let store = &app.plane.store;
    let ann = app.new_customer().await;
    let slug = unique("rk");
    ann.create_site(&format!("Killed restore {slug}"), &slug)
        .await;
    let worker = spawn_worker(&app);
    ann.wait_status(&slug, "live", LIVE).await;
    let site = store.site_by_slug(&slug).await.unwrap().unwrap();
    let db = app.site_db(&slug).await;
    let marker = cfg
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("maintenance");

    let before = format!("Before {slug}");
    site_sql(&cfg, &db, set_title(&before)).await;
    let snapshot = store
        .request_snapshot(site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    app.plane
        .queue
        .enqueue(site.id, Duration::ZERO)
        .await
        .unwrap();
    wait_for("the snapshot", WORK, || async {
        match store.snapshot(snapshot.id).await.unwrap() {
            Some(s) if s.state == OpState::Done => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // Killed while the site shows the maintenance page; the next worker finishes it.
    site_sql(&cfg, &db, set_title(&format!("After {slug}"))).await;
    let restore = store
        .request_restore(site.id, snapshot.id, None)
        .await
        .unwrap();
    app.plane
        .queue
        .enqueue(site.id, Duration::ZERO)
        .await
        .unwrap();
    wait_for_file(&marker).await;
    sigkill(worker).await;
    assert!(marker.exists());
    assert_eq!(
        get_site_page(&slug).await.0,
        503,
        "the maintenance page is up"
    );
    let worker = spawn_worker(&app);
    let row = wait_restore_finished(&app, site.id, restore.id).await;
    assert_eq!(row.state, OpState::Done, "{row:?}");
    wait_for_title(&slug, &before).await;
    assert!(!marker.exists());

    // Killed again, and the snapshot it restores expires before a worker comes back: the
    // site gets back what the restore replaced, without the maintenance page.
    let changed = format!("Changed {slug}");
    site_sql(&cfg, &db, set_title(&changed)).await;
    wait_for_title(&slug, &changed).await;
    let restore = store
        .request_restore(site.id, snapshot.id, None)
        .await
        .unwrap();
    app.plane
        .queue
        .enqueue(site.id, Duration::ZERO)
        .await
        .unwrap();
    wait_for_file(&marker).await;
    sigkill(worker).await;
    store.delete_snapshot_row(snapshot.id).await.unwrap();
    let worker = spawn_worker(&app);
    app.plane
        .queue
        .enqueue(site.id, Duration::ZERO)
        .await
        .unwrap();
    let row = wait_restore_finished(&app, site.id, restore.id).await;
    assert_eq!(row.state, OpState::Failed, "{row:?}");
    assert!(
        row.error
            .as_deref()
            .unwrap_or_default()
            .contains("no longer exists"),
        "{row:?}"
    );
    wait_for_title(&slug, &changed).await;
    assert!(!marker.exists(), "the maintenance page is down");

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, LIVE).await;
    sigkill(worker).await;
    app.stop().await;
}
