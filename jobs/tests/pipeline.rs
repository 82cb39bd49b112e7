//! The pipeline runner's scheduling, on a real SQLite store: each step runs once, after
//! what it needs; transient errors are retried, permanent ones fail the site; removal goes
//! in reverse order; a second run of the same site waits for the first one's lease.
//!
//! The drivers here record what the runner asks of them: the runner is under test, not the
//! infrastructure (the real drivers have their own tests against the real services).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{future::BoxFuture, FutureExt};
use mywp_jobs::{
    domain::{Email, Password, Role, SiteSlug, SiteStatus, SiteTitle, StepKind, StepState},
    drivers::{Drivers, Ensured, Removed, SiteSpec, StepDriver, StepError},
    pipeline::{Outcome, Pipeline, Settings},
    store::{NewSite, Store},
};

#[derive(Default)]
struct Journal {
    events: Mutex<Vec<String>>,
    /// Transient failures still to give, per step.
    flaky: Mutex<HashMap<StepKind, u32>>,
    /// Steps that fail for good.
    broken: Mutex<Vec<StepKind>>,
}

struct Recording {
    step: StepKind,
    journal: Arc<Journal>,
}

impl StepDriver for Recording {
    fn ensure<'a>(&'a self, _: &'a SiteSpec) -> BoxFuture<'a, Result<Ensured, StepError>> {
        async move {
            self.journal
                .events
                .lock()
                .unwrap()
                .push(format!("start {}", self.step.as_str()));
            tokio::time::sleep(Duration::from_millis(30)).await;
            self.journal
                .events
                .lock()
                .unwrap()
                .push(format!("end {}", self.step.as_str()));
            if let Some(n) = self
                .journal
                .flaky
                .lock()
                .unwrap()
                .get_mut(&self.step)
                .filter(|n| **n > 0)
            {
                *n -= 1;
                return Err(StepError::transient("connection refused"));
            }
            if self.journal.broken.lock().unwrap().contains(&self.step) {
                return Err(StepError::permanent("quota exceeded"));
            }
            Ok(Ensured::Done {
                resource: self.step.as_str().into(),
            })
        }
        .boxed()
    }

    fn remove<'a>(&'a self, _: &'a SiteSpec) -> BoxFuture<'a, Result<Removed, StepError>> {
        async move {
            self.journal
                .events
                .lock()
                .unwrap()
                .push(format!("remove {}", self.step.as_str()));
            Ok(Removed::Gone)
        }
        .boxed()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    journal: Arc<Journal>,
    pipeline: Arc<Pipeline>,
    site_id: i64,
}

/// A store with one site, and drivers for database, files and wordpress only.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let email = Email::parse("owner@example.com").unwrap();
    let hash = Password::parse_new("correct horse battery", &email)
        .unwrap()
        .hash();
    let owner = store
        .create_account(&email, &hash, Role::Customer)
        .await
        .unwrap();
    let site = store
        .create_site(NewSite {
            slug: &SiteSlug::parse("blog").unwrap(),
            title: &SiteTitle::parse("Blog").unwrap(),
            owner_id: owner.id,
        })
        .await
        .unwrap();
    let journal = Arc::new(Journal::default());
    let driver = |step| -> Option<Arc<dyn StepDriver>> {
        Some(Arc::new(Recording {
            step,
            journal: journal.clone(),
        }))
    };
    let drivers = Drivers {
        database: driver(StepKind::Database),
        files: driver(StepKind::Files),
        wordpress: driver(StepKind::Wordpress),
        ..Drivers::default()
    };
    let settings = Settings {
        backoff: Duration::from_millis(1),
        ..Settings::default()
    };
    let pipeline = Arc::new(Pipeline::new(
        store.clone(),
        drivers,
        None,
        settings,
        "test".into(),
    ));
    Fixture {
        _dir: dir,
        store,
        journal,
        pipeline,
        site_id: site.id,
    }
}

fn events(f: &Fixture) -> Vec<String> {
    f.journal.events.lock().unwrap().clone()
}

async fn states(f: &Fixture) -> HashMap<StepKind, (StepState, i64)> {
    f.store
        .steps(f.site_id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.step, (s.state, s.attempts)))
        .collect()
}

#[tokio::test]
async fn each_step_runs_once_after_its_needs() {
    let f = fixture().await;
    assert_eq!(f.pipeline.run(f.site_id).await.unwrap(), Outcome::Settled);
    let ev = events(&f);
    for step in ["database", "files", "wordpress"] {
        assert_eq!(
            ev.iter().filter(|e| **e == format!("start {step}")).count(),
            1,
            "{step} ran once: {ev:?}"
        );
    }
    let pos = |e: &str| ev.iter().position(|x| x == e).unwrap();
    assert!(
        pos("start wordpress") > pos("end database") && pos("start wordpress") > pos("end files"),
        "{ev:?}"
    );
    // database and files ran side by side.
    assert!(pos("start files") < pos("end database"), "{ev:?}");
    let st = states(&f).await;
    assert_eq!(st[&StepKind::Wordpress], (StepState::Done, 1));
    assert_eq!(st[&StepKind::Cdn].0, StepState::Unavailable);
    assert_eq!(
        f.store.site(f.site_id).await.unwrap().unwrap().status,
        SiteStatus::Live
    );

    // Running a settled site again does nothing.
    f.pipeline.run(f.site_id).await.unwrap();
    assert_eq!(events(&f).len(), ev.len());
}

#[tokio::test]
async fn transient_errors_are_retried_and_counted() {
    let f = fixture().await;
    f.journal.flaky.lock().unwrap().insert(StepKind::Files, 2);
    f.pipeline.run(f.site_id).await.unwrap();
    let st = states(&f).await;
    assert_eq!(st[&StepKind::Files], (StepState::Done, 3));
    assert_eq!(
        f.store.site(f.site_id).await.unwrap().unwrap().status,
        SiteStatus::Live
    );
}

#[tokio::test]
async fn permanent_errors_fail_the_site_and_retry_resumes() {
    let f = fixture().await;
    f.journal.broken.lock().unwrap().push(StepKind::Database);
    f.pipeline.run(f.site_id).await.unwrap();
    let site = f.store.site(f.site_id).await.unwrap().unwrap();
    assert_eq!(site.status, SiteStatus::Failed);
    assert!(site.last_error.unwrap().contains("quota exceeded"));
    let st = states(&f).await;
    assert_eq!(st[&StepKind::Database], (StepState::Failed, 1));
    assert_eq!(
        st[&StepKind::Wordpress].0,
        StepState::Pending,
        "nothing built on a failed step"
    );

    f.journal.broken.lock().unwrap().clear();
    f.store.retry_failed_steps(f.site_id).await.unwrap();
    f.pipeline.run(f.site_id).await.unwrap();
    assert_eq!(
        f.store.site(f.site_id).await.unwrap().unwrap().status,
        SiteStatus::Live
    );
}

#[tokio::test]
async fn removal_runs_in_reverse_and_forgets_the_site() {
    let f = fixture().await;
    f.pipeline.run(f.site_id).await.unwrap();
    assert!(f.store.request_delete(f.site_id).await.unwrap());
    assert_eq!(f.pipeline.run(f.site_id).await.unwrap(), Outcome::Settled);
    let ev = events(&f);
    let pos = |e: &str| ev.iter().position(|x| x == e).unwrap();
    assert!(
        pos("remove wordpress") < pos("remove database")
            && pos("remove wordpress") < pos("remove files"),
        "{ev:?}"
    );
    assert!(f.store.site(f.site_id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_second_run_waits_for_the_first() {
    let f = fixture().await;
    let (a, b) = tokio::join!(f.pipeline.run(f.site_id), f.pipeline.run(f.site_id));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(outcomes.contains(&Outcome::Settled));
    assert!(
        outcomes.iter().any(|o| matches!(o, Outcome::Busy(_))),
        "{outcomes:?}"
    );
    let ev = events(&f);
    assert_eq!(
        ev.iter().filter(|e| *e == "start database").count(),
        1,
        "{ev:?}"
    );
}
