//! A worker killed with SIGKILL at any point of a site's pipeline: a new worker resumes it,
//! the site ends live (or gone), and nothing is duplicated or left behind.

use std::time::{Duration, Instant};

use mywp_jobs::domain::{StepKind, StepState};
use mywp_tests::{
    dataplane::{leftovers, wait_for_title, Leftovers},
    sigkill, spawn_worker, unique, Customer, TestApp,
};

/// Polls the store every 5 ms (bounded) until `point` holds for the site's steps.
async fn wait_for_point(
    app: &TestApp,
    slug: &str,
    what: &str,
    point: impl Fn(&[(StepKind, StepState)]) -> bool,
) {
    let store = &app.plane.store;
    let site = store
        .site_by_slug(slug)
        .await
        .unwrap()
        .expect("the site exists");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let steps: Vec<_> = store
            .steps(site.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.step, s.state))
            .collect();
        if point(&steps) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{slug} never reached '{what}': {steps:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn state_of(steps: &[(StepKind, StepState)], kind: StepKind) -> StepState {
    steps
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| *s)
        .unwrap()
}

async fn provision_with_a_kill(
    app: &TestApp,
    ann: &Customer,
    what: &str,
    point: fn(&[(StepKind, StepState)]) -> bool,
) {
    let slug = unique("kill");
    let title = format!("Killed {slug}");
    ann.create_site(&title, &slug).await;
    let first = spawn_worker(app);
    wait_for_point(app, &slug, what, point).await;
    sigkill(first).await;

    let second = spawn_worker(app);
    ann.wait_status(&slug, "live", Duration::from_secs(120))
        .await;
    let db = app.site_db(&slug).await;
    assert_eq!(
        leftovers(&db, &slug).await,
        Leftovers::ONE,
        "killed at '{what}': exactly one of each"
    );
    wait_for_title(&slug, &title).await;

    // Deleting, killed mid-way too.
    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    wait_for_point(app, &slug, "a removal started", |steps| {
        steps
            .iter()
            .any(|(_, s)| matches!(s, StepState::Removing | StepState::Removed))
    })
    .await;
    sigkill(second).await;
    let third = spawn_worker(app);
    ann.wait_gone(&slug, Duration::from_secs(120)).await;
    assert_eq!(
        leftovers(&db, &slug).await,
        Leftovers::NONE,
        "killed at '{what}' and while deleting"
    );
    sigkill(third).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_resume_without_duplicates() {
    // The panel serves only; the workers are separate processes that we kill.
    let app = TestApp::spawn_with(|_| {}, false).await;
    let ann = app.new_customer().await;
    provision_with_a_kill(&app, &ann, "the first step running", |s| {
        s.iter().any(|(_, st)| *st == StepState::Running)
    })
    .await;
    provision_with_a_kill(&app, &ann, "the database done", |s| {
        state_of(s, StepKind::Database) == StepState::Done
    })
    .await;
    provision_with_a_kill(&app, &ann, "WordPress being installed", |s| {
        state_of(s, StepKind::Wordpress) == StepState::Running
    })
    .await;
    app.stop().await;
}
