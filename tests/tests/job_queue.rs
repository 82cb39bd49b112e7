//! The job queue settles: at most one job per site waits (on SQLite and on PostgreSQL),
//! finished jobs are deleted, and deleting sites in the middle of a snapshot, a restore and
//! their provisioning leaves the queue empty, and empty it stays (the job storm: every run
//! of a deleted site's job used to ask for another, forever).

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::FutureExt;
use mywp_jobs::{
    domain::{Email, PasswordHash, Role, SiteSlug, SiteTitle},
    drivers::Drivers,
    pipeline::{Pipeline, Settings},
    queue::{JobCounts, JobQueue, QueueSettings},
    store::{NewSite, SiteRow, Store},
};
use mywp_tests::{customer::Customer, postgres::TestDatabase, unique, wait_for, TestApp};
use tokio::sync::oneshot;

const LIVE: Duration = Duration::from_secs(120);
const WORK: Duration = Duration::from_secs(90);
const GONE: Duration = Duration::from_secs(60);

/// A sweep this quick makes the tests' observation windows short.
const FAST: QueueSettings = QueueSettings {
    sweep_every: Duration::from_millis(500),
    keep_finished: Duration::ZERO,
};

async fn site_of(store: &Store) -> SiteRow {
    let email = Email::parse(&format!("{}@example.com", unique("q"))).unwrap();
    let owner = store
        .create_account(
            &email,
            &PasswordHash("not-a-real-hash".into()),
            Role::Customer,
        )
        .await
        .unwrap();
    let slug = SiteSlug::parse(&unique("q")).unwrap();
    let title = SiteTitle::parse("Queued").unwrap();
    store
        .create_site(NewSite {
            slug: &slug,
            title: &title,
            owner_id: owner.id,
        })
        .await
        .unwrap()
}

/// Workers on `queue` until the returned sender is dropped or fired.
fn workers(queue: &JobQueue, pipeline: Arc<Pipeline>) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let queue = queue.clone();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        queue
            .run_workers(unique("queue-worker"), pipeline, 4, shutdown)
            .await
            .expect("the workers stop cleanly")
    });
    stop
}

/// Waits (bounded) for no job to wait, then watches the queue for `window`: no job may
/// appear, and the finished ones must be deleted by the sweep and stay deleted.
async fn settles_and_stays_empty(queue: &JobQueue, window: Duration) {
    wait_for("no job left waiting", Duration::from_secs(30), || async {
        let counts = queue.counts().await.unwrap();
        (counts.waiting == 0)
            .then_some(())
            .ok_or(format!("{counts:?}"))
    })
    .await;
    let start = Instant::now();
    let mut last = queue.counts().await.unwrap();
    while start.elapsed() < window {
        let counts = queue.counts().await.unwrap();
        assert_eq!(counts.waiting, 0, "a job appeared: {counts:?}");
        assert!(counts.finished <= last.finished, "a job ran: {counts:?}");
        last = counts;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        last,
        JobCounts::default(),
        "the sweep deletes finished jobs"
    );
}

/// The claims, on either backend: twenty requests at once queue one job; a later request
/// adds nothing; a sooner one overtakes (the later job leaves the queue); the sweep never
/// hurries a waiting job; a deleted site gets no job; workers run what waits, and the sweep
/// deletes what finished.
async fn one_job_per_site(store: Store, url: String) {
    let queue = JobQueue::open(&url, store.clone())
        .await
        .expect("the queue opens")
        .with_settings(FAST);
    let site = site_of(&store).await;
    let asks = (0..20).map(|_| queue.enqueue(site.id, Duration::ZERO));
    for asked in futures::future::join_all(asks).await {
        asked.expect("enqueue");
    }
    assert_eq!(queue.counts().await.unwrap().waiting, 1);
    let (first, _) = store.queued_run(site.id).await.unwrap().expect("claimed");
    queue
        .enqueue(site.id, Duration::from_secs(60))
        .await
        .unwrap();
    queue.hand_out(site.id).await.unwrap();
    assert_eq!(queue.counts().await.unwrap().waiting, 1);
    assert_eq!(store.queued_run(site.id).await.unwrap().unwrap().0, first);

    let other = site_of(&store).await;
    queue
        .enqueue(other.id, Duration::from_secs(60))
        .await
        .unwrap();
    let (later, _) = store.queued_run(other.id).await.unwrap().unwrap();
    queue.hand_out(other.id).await.unwrap();
    assert_eq!(store.queued_run(other.id).await.unwrap().unwrap().0, later);
    queue.enqueue(other.id, Duration::ZERO).await.unwrap();
    let (sooner, _) = store.queued_run(other.id).await.unwrap().unwrap();
    assert_ne!(sooner, later, "the sooner job overtakes");
    assert_eq!(queue.counts().await.unwrap().waiting, 2, "one job per site");
    // An overtaken job that was already fetched does not run.
    assert!(!store.start_queued_run(other.id, &later).await.unwrap());

    let gone = site_of(&store).await;
    assert!(store.request_delete(gone.id).await.unwrap());
    store.delete_site_row(gone.id).await.unwrap();
    queue.enqueue(gone.id, Duration::ZERO).await.unwrap();
    assert_eq!(
        queue.counts().await.unwrap().waiting,
        2,
        "none for a deleted site"
    );

    // No drivers: every step is "not available here", so each site settles in one run.
    let pipeline = Arc::new(Pipeline::new(
        store.clone(),
        Drivers::default(),
        None,
        Settings::default(),
        unique("pipeline"),
    ));
    let stop = workers(&queue, pipeline);
    settles_and_stays_empty(&queue, FAST.sweep_every * 3).await;
    for id in [site.id, other.id] {
        let row = store.site(id).await.unwrap().unwrap();
        assert_eq!(row.status.as_str(), "live", "site {id} ran");
        assert_eq!(store.queued_run(id).await.unwrap(), None);
    }
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_per_site_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mywp.db").display());
    let store = Store::open(&url).await.unwrap();
    one_job_per_site(store, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_per_site_on_postgres() {
    let db = TestDatabase::create("mywp_queue_").await;
    let url = db.url.clone();
    let outcome = AssertUnwindSafe(async move {
        let store = Store::open(&url).await.unwrap();
        one_job_per_site(store, url).await;
    })
    .catch_unwind()
    .await;
    db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn take_snapshot(ann: &Customer, slug: &str) {
    let (status, body) = ann.call_json("take_snapshot", &[("slug", slug)]).await;
    assert_eq!(status, 200, "{body}");
}

async fn delete(ann: &Customer, slug: &str) {
    let (status, body) = ann
        .call_json("delete_site", &[("slug", slug), ("confirm", slug)])
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The newest finished snapshot's id.
async fn snapshot_done(ann: &Customer, slug: &str) -> String {
    wait_for("a finished snapshot", WORK, || async {
        let (_, body) = ann.site(slug).await;
        let snapshots = &body["backups"]["snapshots"];
        snapshots
            .as_array()
            .and_then(|all| all.iter().find(|s| s["state"] == "done"))
            .map(|s| s["id"].as_i64().unwrap().to_string())
            .ok_or_else(|| snapshots.to_string())
    })
    .await
}

/// The reported storm, on a single host through the panel: snapshot a site, download it and
/// delete the site within the same second; delete another mid-restore and a third while it
/// is being provisioned. Every site goes, and the queue empties and stays empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_sites_leave_no_jobs() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let queue = app.plane.queue.clone().with_settings(FAST);
    let stop = workers(&queue, Arc::clone(&app.plane.pipeline));
    let ann = app.new_customer().await;
    let (snap, restore, young) = (unique("storm"), unique("storm"), unique("storm"));
    ann.create_site("Snapshot then delete", &snap).await;
    ann.create_site("Restore then delete", &restore).await;
    ann.wait_status(&snap, "live", LIVE).await;
    ann.wait_status(&restore, "live", LIVE).await;

    // Mid-snapshot: the first one downloaded, a second asked for, then the site deleted.
    take_snapshot(&ann, &snap).await;
    let id = snapshot_done(&ann, &snap).await;
    let url = format!("{}/sites/{snap}/snapshots/{id}/database.sql.gz", app.base);
    let res = ann.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    take_snapshot(&ann, &snap).await;
    delete(&ann, &snap).await;

    // Mid-restore.
    take_snapshot(&ann, &restore).await;
    let id = snapshot_done(&ann, &restore).await;
    let (status, body) = ann
        .call_json(
            "restore_snapshot",
            &[("slug", &restore), ("snapshot_id", &id)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    delete(&ann, &restore).await;

    // Mid-provisioning.
    ann.create_site("Deleted young", &young).await;
    delete(&ann, &young).await;

    // Late requests for the sites, as a panel racing the deletion makes: while they are
    // being torn down (their lease held), and once they are gone.
    let store = &app.plane.store;
    let mut ids = Vec::new();
    for slug in [&snap, &restore, &young] {
        if let Some(site) = store.site_by_slug(slug).await.unwrap() {
            ids.push(site.id);
            queue.enqueue(site.id, Duration::ZERO).await.unwrap();
        }
    }
    assert!(!ids.is_empty(), "the sites were still being deleted");
    for slug in [&snap, &restore, &young] {
        ann.wait_gone(slug, GONE).await;
    }
    for &id in &ids {
        queue.enqueue(id, Duration::ZERO).await.unwrap();
    }
    settles_and_stays_empty(&queue, FAST.sweep_every * 3).await;
    drop(stop);
    app.stop().await;
}
