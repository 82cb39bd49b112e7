//! The control-plane store, against both of its backends: every scenario runs once on a
//! fresh SQLite file and once on a fresh PostgreSQL database (`MYWP_TEST_POSTGRES_URL`).

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use futures::FutureExt;
use mywp_jobs::{
    domain::{
        CustomDomain, Email, OpState, Password, PasswordHash, Retention, Role, SiteSlug,
        SiteStatus, SiteTitle, SnapshotFacts, SnapshotKind, StepKind, StepState,
    },
    store::{
        now_ms, Account, Backend, BackupOp, Lease, NewSite, SiteRow, StepRow, Store, StoreError,
        MAX_DOMAINS_PER_SITE,
    },
};
use mywp_tests::{postgres::TestDatabase, unique};
use sqlx::{AssertSqlSafe, Row};

// ---------------------------------------------------------------------------------------
// The harness: one scenario, two backends.

/// Runs `scenario` on a store over a fresh SQLite file.
async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("mywp.db").display());
    let store = Store::open(&url).await.expect("the SQLite store opens");
    assert_eq!(store.backend(), Backend::Sqlite);
    scenario(store.clone(), url).await;
    store.pool().close().await;
}

/// Runs `scenario` on a store over a fresh PostgreSQL database, dropped afterwards even if
/// the scenario fails.
async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::create("mywp_store_").await;
    let url = db.url.clone();
    let outcome = AssertUnwindSafe(async move {
        let store = Store::open(&url).await.expect("the PostgreSQL store opens");
        assert_eq!(store.backend(), Backend::Postgres);
        scenario(store.clone(), url).await;
        store.pool().close().await;
    })
    .catch_unwind()
    .await;
    db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// One module per scenario, holding its `sqlite` and `postgres` tests.
macro_rules! on_both_backends {
    ($($name:ident $([$url:ident])?),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::on_sqlite(|store, url| {
                    let _ = &url;
                    super::$name(store $(, { let $url = url; $url })?)
                })
                .await
            }

            #[tokio::test]
            async fn postgres() {
                super::on_postgres(|store, url| {
                    let _ = &url;
                    super::$name(store $(, { let $url = url; $url })?)
                })
                .await
            }
        }
    )*};
}

on_both_backends!(
    migrations_run_twice[url],
    accounts,
    sessions,
    login_failures,
    sites,
    sites_of_paginates,
    site_lifecycle,
    leases,
    unsettled_sites,
    concurrent_writers,
    audit_newest_first,
    snapshots_and_restores,
    snapshot_retention,
    domains,
    deleting_a_site_cascades,
    rows_of_no_parent_are_refused,
    accounts_and_their_rows,
    constraints_are_the_same,
    deleted_site_ids_never_come_back[url],
);

// ---------------------------------------------------------------------------------------
// Helpers.

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .try_get(0)
        .unwrap()
}

/// Whether a table exists, asked the way each backend can answer.
async fn table_exists(store: &Store, table: &str) -> bool {
    let sql = match store.backend() {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let n: i64 = sqlx::query(sql)
        .bind(table)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    n == 1
}

/// An account with a unique email and a (fake, cheap) password hash.
async fn account(store: &Store) -> Account {
    let email = Email::parse(&format!("{}@example.com", unique("a"))).unwrap();
    store
        .create_account(
            &email,
            &PasswordHash("not-a-real-hash".into()),
            Role::Customer,
        )
        .await
        .expect("the account is created")
}

async fn site_of(store: &Store, owner: &Account) -> SiteRow {
    let slug = SiteSlug::parse(&unique("s")).unwrap();
    let title = SiteTitle::parse(&format!("Site {slug}")).unwrap();
    store
        .create_site(NewSite {
            slug: &slug,
            title: &title,
            owner_id: owner.id,
        })
        .await
        .expect("the site is created")
}

async fn step_of(store: &Store, site_id: i64, kind: StepKind) -> StepRow {
    store
        .steps(site_id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.step == kind)
        .unwrap_or_else(|| panic!("site {site_id} has no {kind:?} step"))
}

/// Waits (bounded) until the store's clock has moved past `t`.
async fn clock_passes(t: i64) {
    let start = Instant::now();
    while now_ms() <= t {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the clock is stuck"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Polls `check` every few milliseconds until it is true, for at most two seconds.
async fn eventually<Fut: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> Fut) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios.

async fn migrations_run_twice(store: Store, url: String) {
    assert!(table_exists(&store, "mywp_migrations").await);
    assert!(
        !table_exists(&store, "_sqlx_migrations").await,
        "the store's migrations must stay out of the job queue's table"
    );
    let backend = match store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let files = std::fs::read_dir(mywp_tests::repo_root().join("migrations").join(backend))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count() as i64;
    assert!(files >= 1);
    let applied = "SELECT COUNT(*) FROM mywp_migrations WHERE success";
    assert_eq!(count(&store, applied).await, files);

    // Opening again finds the schema up to date and applies nothing twice.
    let again = Store::open(&url)
        .await
        .expect("the store opens a second time");
    assert_eq!(count(&again, applied).await, files);
    assert_eq!(
        count(&again, "SELECT COUNT(*) FROM mywp_migrations").await,
        files
    );
    assert!(!table_exists(&again, "_sqlx_migrations").await);
    // And both handles see the same data.
    let ann = account(&store).await;
    assert_eq!(
        again
            .account_by_email(&Email::parse(&ann.email).unwrap())
            .await
            .unwrap(),
        Some(ann)
    );
    again.pool().close().await;
}

async fn accounts(store: Store) {
    let email = Email::parse(&format!("{}@Example.com", unique("Ann"))).unwrap();
    let password = Password::parse_new("correct horse battery", &email).unwrap();
    let ann = store
        .create_account(&email, &password.hash(), Role::Customer)
        .await
        .unwrap();
    assert!(ann.id > 0);
    assert_eq!(ann.email, email.as_str());
    assert_eq!(ann.role, Role::Customer);

    // The same email again, whatever its case, is a conflict and changes nothing.
    let same = Email::parse(&email.as_str().to_uppercase()).unwrap();
    let err = store
        .create_account(&same, &PasswordHash("other".into()), Role::Staff)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("account")),
        "expected Conflict(\"account\"), got {err:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM accounts").await, 1);

    // The stored hash verifies the password, and only it.
    let (found, hash) = store.account_for_login(&email).await.unwrap().unwrap();
    assert_eq!(found, ann);
    let hash = hash.expect("a password hash");
    assert!(Password::for_login("correct horse battery")
        .unwrap()
        .verify(&hash));
    assert!(!Password::for_login("wrong horse battery")
        .unwrap()
        .verify(&hash));

    let nobody = Email::parse(&format!("{}@example.com", unique("nobody"))).unwrap();
    assert!(store.account_for_login(&nobody).await.unwrap().is_none());
    assert!(store.account_by_email(&nobody).await.unwrap().is_none());

    // Roles.
    let bob = account(&store).await;
    store.set_role(ann.id, Role::Staff).await.unwrap();
    let ann = store.account_by_email(&email).await.unwrap().unwrap();
    assert_eq!(ann.role, Role::Staff);
    let bob_email = Email::parse(&bob.email).unwrap();
    assert_eq!(
        store
            .account_by_email(&bob_email)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Customer,
        "set_role touches only its account"
    );
    store.set_role(ann.id, Role::Customer).await.unwrap();
    assert_eq!(
        store.account_by_email(&email).await.unwrap().unwrap().role,
        Role::Customer
    );
}

async fn sessions(store: Store) {
    let ann = account(&store).await;
    let bob = account(&store).await;

    let token = store.create_session(ann.id).await.unwrap();
    let other = store.create_session(ann.id).await.unwrap();
    assert_ne!(token, other, "every session has its own token");
    assert_eq!(
        store.session_account(&token).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store.session_account(&other).await.unwrap(),
        Some(ann.clone())
    );

    // Only the token's hash is stored.
    let stored: String = sqlx::query("SELECT token_hash FROM sessions WHERE account_id = $1")
        .bind(ann.id)
        .fetch_all(store.pool())
        .await
        .unwrap()[0]
        .try_get(0)
        .unwrap();
    assert_ne!(stored, token.0);
    assert_ne!(stored, other.0);

    // A token the store never issued finds nobody.
    let forged = mywp_jobs::store::SessionToken("0".repeat(64));
    assert_eq!(store.session_account(&forged).await.unwrap(), None);

    // Logging out ends that session only.
    store.delete_session(&token).await.unwrap();
    assert_eq!(store.session_account(&token).await.unwrap(), None);
    assert_eq!(
        store.session_account(&other).await.unwrap(),
        Some(ann.clone())
    );

    // An expired session is not accepted.
    let old = store.create_session(bob.id).await.unwrap();
    assert_eq!(
        store.session_account(&old).await.unwrap(),
        Some(bob.clone())
    );
    sqlx::query("UPDATE sessions SET expires_at = $1 WHERE account_id = $2")
        .bind(now_ms() - 1000)
        .bind(bob.id)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.session_account(&old).await.unwrap(), None);

    // Deleting any session also sweeps expired ones.
    store.delete_session(&other).await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions").await, 0);
}

async fn login_failures(store: Store) {
    let ann = unique("ann");
    let bob = unique("bob");
    let ip1 = format!("10.0.0.1-{}", unique(""));
    let ip2 = format!("10.0.0.2-{}", unique(""));
    let before = now_ms();

    store.record_login_failure(&ann, &ip1).await.unwrap();
    store.record_login_failure(&ann, &ip1).await.unwrap();
    store.record_login_failure(&ann, &ip2).await.unwrap();
    store.record_login_failure(&bob, &ip1).await.unwrap();

    let since = before - 1;
    assert_eq!(
        store.login_failures_since(&ann, &ip1, since).await.unwrap(),
        (3, 3)
    );
    assert_eq!(
        store.login_failures_since(&ann, &ip2, since).await.unwrap(),
        (3, 1)
    );
    assert_eq!(
        store.login_failures_since(&bob, &ip2, since).await.unwrap(),
        (1, 1)
    );
    assert_eq!(
        store
            .login_failures_since("nobody", "nowhere", since)
            .await
            .unwrap(),
        (0, 0)
    );

    // The window: an hour-old failure counts for a two-hour window, not a ten-minute one.
    let hour = 3600 * 1000;
    let insert = "INSERT INTO login_failures (email, ip, at) VALUES ($1, $2, $3)";
    sqlx::query(insert)
        .bind(&bob)
        .bind(&ip2)
        .bind(now_ms() - hour)
        .execute(store.pool())
        .await
        .unwrap();
    let now = now_ms();
    assert_eq!(
        store
            .login_failures_since(&bob, &ip2, now - 10 * 60 * 1000)
            .await
            .unwrap(),
        (1, 1)
    );
    assert_eq!(
        store
            .login_failures_since(&bob, &ip2, now - 2 * hour)
            .await
            .unwrap(),
        (2, 2)
    );
    assert_eq!(
        store
            .login_failures_since(&ann, &ip1, now_ms() + 1000)
            .await
            .unwrap(),
        (0, 0),
        "nothing happened in the future"
    );

    // Failures older than a day are swept on the next one recorded.
    sqlx::query(insert)
        .bind(&bob)
        .bind(&ip2)
        .bind(now_ms() - 25 * hour)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        store.login_failures_since(&bob, &ip2, 0).await.unwrap(),
        (3, 3)
    );
    store.record_login_failure(&bob, &ip1).await.unwrap();
    assert_eq!(
        store.login_failures_since(&bob, &ip2, 0).await.unwrap(),
        (3, 2)
    );

    // A successful login clears the email's failures, not the others'.
    store.clear_login_failures(&ann).await.unwrap();
    assert_eq!(
        store.login_failures_since(&ann, &ip1, 0).await.unwrap(),
        (0, 2),
        "ip1 still has bob's failures"
    );
    assert_eq!(
        store.login_failures_since(&bob, &ip1, 0).await.unwrap(),
        (3, 2)
    );
}

async fn sites(store: Store) {
    let ann = account(&store).await;
    let bob = account(&store).await;
    let before = now_ms();
    let slug = SiteSlug::parse(&unique("blog")).unwrap();
    let title = SiteTitle::parse("Ann's Blog — ünïcode").unwrap();
    let site = store
        .create_site(NewSite {
            slug: &slug,
            title: &title,
            owner_id: ann.id,
        })
        .await
        .unwrap();
    assert!(site.id > 0);
    assert_eq!(site.slug, slug.as_str());
    assert_eq!(site.title, title.as_str());
    assert_eq!(site.owner_id, ann.id);
    assert_eq!(site.owner_email, ann.email);
    assert_eq!(site.status, SiteStatus::Provisioning);
    assert!(site.wanted);
    assert_eq!(site.last_error, None);
    assert_eq!(site.live_at, None);
    assert!(site.created_at >= before && site.created_at <= now_ms());
    assert_eq!(site.updated_at, site.created_at);

    // Exactly the eight steps, all pending and untouched.
    let steps = store.steps(site.id).await.unwrap();
    assert_eq!(
        steps.iter().map(|s| s.step).collect::<Vec<_>>(),
        StepKind::ALL.to_vec()
    );
    for s in &steps {
        assert_eq!(
            s,
            &StepRow {
                step: s.step,
                state: StepState::Pending,
                attempts: 0,
                last_error: None,
                resource: None,
                started_at: None,
                finished_at: None,
                next_attempt_at: None,
            }
        );
    }

    // The same slug again, even by someone else, is a conflict and leaves nothing behind.
    let err = store
        .create_site(NewSite {
            slug: &slug,
            title: &SiteTitle::parse("Bob's copy").unwrap(),
            owner_id: bob.id,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("site")),
        "expected Conflict(\"site\"), got {err:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM sites").await, 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM site_steps").await, 8);
    assert_eq!(store.sites_of(bob.id, 10, 0).await.unwrap(), (vec![], 0));
    // The pool is still usable after the failed transaction.
    let bobs = site_of(&store, &bob).await;
    assert_eq!(store.steps(bobs.id).await.unwrap().len(), 8);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM site_steps").await, 16);

    // Lookups.
    assert_eq!(store.site(site.id).await.unwrap(), Some(site.clone()));
    assert_eq!(
        store.site_by_slug(slug.as_str()).await.unwrap(),
        Some(site.clone())
    );
    assert_eq!(store.site(site.id + 1_000_000).await.unwrap(), None);
    assert_eq!(store.site_by_slug("no-such-site").await.unwrap(), None);

    // save_step writes every field, and only that step's.
    let saved = StepRow {
        step: StepKind::Wordpress,
        state: StepState::Waiting,
        attempts: 3,
        last_error: Some("it's \"broken\" — ünïcode".into()),
        resource: Some("db_ann_blog".into()),
        started_at: Some(1_700_000_000_123),
        finished_at: Some(1_700_000_004_567),
        next_attempt_at: Some(i64::from(i32::MAX) + 10),
    };
    store.save_step(site.id, &saved).await.unwrap();
    let steps = store.steps(site.id).await.unwrap();
    for s in &steps {
        if s.step == StepKind::Wordpress {
            assert_eq!(s, &saved);
        } else {
            assert_eq!(s.state, StepState::Pending, "{:?} changed", s.step);
        }
    }
    assert!(store
        .steps(bobs.id)
        .await
        .unwrap()
        .iter()
        .all(|s| s.state == StepState::Pending));
    // And clears them again.
    let cleared = StepRow {
        step: StepKind::Wordpress,
        state: StepState::Done,
        attempts: 4,
        last_error: None,
        resource: None,
        started_at: None,
        finished_at: None,
        next_attempt_at: None,
    };
    store.save_step(site.id, &cleared).await.unwrap();
    assert_eq!(step_of(&store, site.id, StepKind::Wordpress).await, cleared);
    // Every state survives the trip.
    for state in StepState::ALL {
        let row = StepRow {
            state,
            ..cleared.clone()
        };
        store.save_step(site.id, &row).await.unwrap();
        assert_eq!(step_of(&store, site.id, StepKind::Wordpress).await, row);
    }
}

async fn sites_of_paginates(store: Store) {
    let ann = account(&store).await;
    let bob = account(&store).await;
    let mut anns = Vec::new();
    for i in 0..5 {
        anns.push(site_of(&store, &ann).await.id);
        if i % 2 == 0 {
            site_of(&store, &bob).await;
        }
    }
    anns.reverse(); // newest first

    let mut seen = Vec::new();
    for (offset, expect) in [(0, 2), (2, 2), (4, 1), (6, 0)] {
        let (page, total) = store.sites_of(ann.id, 2, offset).await.unwrap();
        assert_eq!(total, 5);
        assert_eq!(page.len(), expect, "page at offset {offset}");
        assert!(page
            .iter()
            .all(|s| s.owner_id == ann.id && s.owner_email == ann.email));
        seen.extend(page.iter().map(|s| s.id));
    }
    assert_eq!(seen, anns, "newest first, each site once");
    let (all, total) = store.sites_of(ann.id, 100, 0).await.unwrap();
    assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), anns);
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert_eq!(total, 5);

    let (bobs, total) = store.sites_of(bob.id, 100, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(bobs.len(), 3);
    assert!(bobs.iter().all(|s| s.owner_id == bob.id));
    let nobody = account(&store).await;
    assert_eq!(store.sites_of(nobody.id, 10, 0).await.unwrap(), (vec![], 0));
}

async fn site_lifecycle(store: Store) {
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;
    let other = site_of(&store, &ann).await;

    // Failing, then going live: live_at is set once, the first time.
    store
        .set_site_status(site.id, SiteStatus::Failed, Some("database: boom"))
        .await
        .unwrap();
    let failed = store.site(site.id).await.unwrap().unwrap();
    assert_eq!(failed.status, SiteStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("database: boom"));
    assert_eq!(failed.live_at, None);
    assert!(failed.updated_at >= site.updated_at);

    // retry_failed_steps puts failed steps (only) back to pending, the site to provisioning.
    for (kind, state) in [
        (StepKind::Database, StepState::Failed),
        (StepKind::Files, StepState::Failed),
        (StepKind::Media, StepState::Done),
    ] {
        store
            .save_step(
                site.id,
                &StepRow {
                    step: kind,
                    state,
                    attempts: 5,
                    last_error: Some("boom".into()),
                    resource: Some("r".into()),
                    started_at: Some(1),
                    finished_at: Some(2),
                    next_attempt_at: Some(3),
                },
            )
            .await
            .unwrap();
    }
    store
        .save_step(
            other.id,
            &StepRow {
                step: StepKind::Database,
                state: StepState::Failed,
                attempts: 5,
                last_error: None,
                resource: None,
                started_at: None,
                finished_at: None,
                next_attempt_at: Some(3),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.retry_failed_steps(site.id).await.unwrap(), 2);
    for kind in [StepKind::Database, StepKind::Files] {
        let s = step_of(&store, site.id, kind).await;
        assert_eq!(s.state, StepState::Pending, "{kind:?}");
        assert_eq!(s.attempts, 0, "{kind:?}");
        assert_eq!(s.next_attempt_at, None, "{kind:?}");
    }
    let media = step_of(&store, site.id, StepKind::Media).await;
    assert_eq!((media.state, media.attempts), (StepState::Done, 5));
    assert_eq!(
        step_of(&store, other.id, StepKind::Database).await.state,
        StepState::Failed,
        "another site's steps are left alone"
    );
    let retried = store.site(site.id).await.unwrap().unwrap();
    assert_eq!(retried.status, SiteStatus::Provisioning);
    assert_eq!(retried.last_error, None);
    assert_eq!(store.retry_failed_steps(site.id).await.unwrap(), 0);

    store
        .set_site_status(site.id, SiteStatus::Live, None)
        .await
        .unwrap();
    let live = store.site(site.id).await.unwrap().unwrap();
    assert_eq!(live.status, SiteStatus::Live);
    let live_at = live.live_at.expect("live_at is set");
    assert_eq!(live_at, live.updated_at);
    clock_passes(live_at).await;
    store
        .set_site_status(site.id, SiteStatus::Failed, Some("later"))
        .await
        .unwrap();
    store
        .set_site_status(site.id, SiteStatus::Live, None)
        .await
        .unwrap();
    let again = store.site(site.id).await.unwrap().unwrap();
    assert_eq!(again.status, SiteStatus::Live);
    assert_eq!(again.last_error, None);
    assert!(again.updated_at > live_at);
    assert_eq!(again.live_at, Some(live_at), "live_at is set only once");
    assert_eq!(store.site(other.id).await.unwrap().unwrap().live_at, None);

    // Asking for deletion flips `wanted`, once.
    assert!(store.request_delete(site.id).await.unwrap());
    let deleting = store.site(site.id).await.unwrap().unwrap();
    assert!(!deleting.wanted);
    assert_eq!(deleting.status, SiteStatus::Deleting);
    assert!(!store.request_delete(site.id).await.unwrap());
    assert!(store.site(other.id).await.unwrap().unwrap().wanted);
    // A failed removal retried goes back to deleting, not provisioning.
    store
        .set_site_status(site.id, SiteStatus::DeleteFailed, Some("rm failed"))
        .await
        .unwrap();
    assert_eq!(
        store.site(site.id).await.unwrap().unwrap().status,
        SiteStatus::DeleteFailed
    );
    store.retry_failed_steps(site.id).await.unwrap();
    let redeleting = store.site(site.id).await.unwrap().unwrap();
    assert_eq!(redeleting.status, SiteStatus::Deleting);
    assert!(!redeleting.wanted);

    // Forgetting the site removes it and its steps, and nothing else.
    store.delete_site_row(site.id).await.unwrap();
    assert_eq!(store.site(site.id).await.unwrap(), None);
    assert_eq!(store.site_by_slug(&site.slug).await.unwrap(), None);
    assert!(store.steps(site.id).await.unwrap().is_empty());
    assert_eq!(count(&store, "SELECT COUNT(*) FROM sites").await, 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM site_steps").await, 8);
    assert_eq!(store.steps(other.id).await.unwrap().len(), 8);
    assert_eq!(store.sites_of(ann.id, 10, 0).await.unwrap().1, 1);
}

async fn leases(store: Store) {
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;
    let other = site_of(&store, &ann).await;
    assert_eq!(store.lease_until(site.id).await.unwrap(), None);

    let before = now_ms();
    assert_eq!(
        store.try_lease(site.id, "worker-a", 60_000).await.unwrap(),
        Lease::Taken
    );
    let until = store.lease_until(site.id).await.unwrap().expect("leased");
    assert!(
        until >= before + 60_000 && until <= now_ms() + 60_000,
        "lease_until {until} is not about a minute from {before}"
    );
    // B cannot take it while A holds it; another site is free.
    assert!(matches!(
        store.try_lease(site.id, "worker-b", 60_000).await.unwrap(),
        Lease::Held { .. }
    ));
    assert_eq!(
        store.try_lease(other.id, "worker-b", 60_000).await.unwrap(),
        Lease::Taken
    );
    // A renews.
    clock_passes(before).await;
    assert_eq!(
        store.try_lease(site.id, "worker-a", 120_000).await.unwrap(),
        Lease::Taken
    );
    assert!(store.lease_until(site.id).await.unwrap().unwrap() > until);
    // B releasing A's lease does nothing; A releasing it frees it for B.
    store.release_lease(site.id, "worker-b").await.unwrap();
    assert!(store.lease_until(site.id).await.unwrap().is_some());
    assert!(matches!(
        store.try_lease(site.id, "worker-b", 60_000).await.unwrap(),
        Lease::Held { .. }
    ));
    store.release_lease(site.id, "worker-a").await.unwrap();
    assert_eq!(store.lease_until(site.id).await.unwrap(), None);
    assert_eq!(
        store.try_lease(site.id, "worker-b", 60_000).await.unwrap(),
        Lease::Taken
    );
    store.release_lease(site.id, "worker-b").await.unwrap();

    // A dead worker's lease expires: A takes it for 1 ms, then B gets it.
    assert_eq!(
        store.try_lease(site.id, "worker-a", 1).await.unwrap(),
        Lease::Taken
    );
    let short = store.lease_until(site.id).await.unwrap().unwrap();
    eventually("worker-b to take the expired lease", || {
        let store = store.clone();
        async move { store.try_lease(site.id, "worker-b", 60_000).await.unwrap() == Lease::Taken }
    })
    .await;
    assert!(now_ms() > short, "the lease was taken before it expired");
    assert!(matches!(
        store.try_lease(site.id, "worker-a", 60_000).await.unwrap(),
        Lease::Held { .. }
    ));

    // A missing site is never leased, and says so.
    assert_eq!(
        store
            .try_lease(other.id + 1_000_000, "worker-a", 60_000)
            .await
            .unwrap(),
        Lease::NoSite
    );
    assert_eq!(store.lease_until(other.id + 1_000_000).await.unwrap(), None);
}

async fn unsettled_sites(store: Store) {
    let ann = account(&store).await;
    let provisioning = site_of(&store, &ann).await.id;
    let live = site_of(&store, &ann).await.id;
    let failed = site_of(&store, &ann).await.id;
    let deleting = site_of(&store, &ann).await.id;
    let delete_failed = site_of(&store, &ann).await.id;
    store
        .set_site_status(live, SiteStatus::Live, None)
        .await
        .unwrap();
    store
        .set_site_status(failed, SiteStatus::Failed, Some("x"))
        .await
        .unwrap();
    assert!(store.request_delete(deleting).await.unwrap());
    assert!(store.request_delete(delete_failed).await.unwrap());
    store
        .set_site_status(delete_failed, SiteStatus::DeleteFailed, Some("x"))
        .await
        .unwrap();

    let sorted = |mut v: Vec<i64>| {
        v.sort();
        v
    };
    let both = sorted(vec![provisioning, deleting]);
    assert_eq!(sorted(store.unsettled_sites(false).await.unwrap()), both);
    assert_eq!(sorted(store.unsettled_sites(true).await.unwrap()), both);

    // A held lease hides a site from the sweep, not from the full list.
    assert_eq!(
        store.try_lease(provisioning, "w", 60_000).await.unwrap(),
        Lease::Taken
    );
    assert_eq!(sorted(store.unsettled_sites(false).await.unwrap()), both);
    assert_eq!(store.unsettled_sites(true).await.unwrap(), vec![deleting]);
    // A lease on a settled site changes nothing.
    assert_eq!(
        store.try_lease(live, "w", 60_000).await.unwrap(),
        Lease::Taken
    );
    assert_eq!(sorted(store.unsettled_sites(false).await.unwrap()), both);

    // An expired lease no longer hides it.
    assert_eq!(
        store.try_lease(deleting, "w", 1).await.unwrap(),
        Lease::Taken
    );
    eventually("the expired lease to show the site again", || {
        let store = store.clone();
        async move { store.unsettled_sites(true).await.unwrap() == vec![deleting] }
    })
    .await;
    // Nor does a released one.
    store.release_lease(provisioning, "w").await.unwrap();
    assert_eq!(sorted(store.unsettled_sites(true).await.unwrap()), both);
}

async fn concurrent_writers(store: Store) {
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;

    // Eight workers race for one lease: exactly one gets it.
    let racers = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.try_lease(site.id, &format!("w{i}"), 60_000).await })
    });
    let won = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| {
            r.unwrap()
                .expect("try_lease does not error under contention")
        })
        .filter(|&won| won == Lease::Taken)
        .count();
    assert_eq!(won, 1, "exactly one worker holds the lease");

    // Four customers race for one slug: one site, one set of steps, the rest conflicts.
    let slug = SiteSlug::parse(&unique("race")).unwrap();
    let racers = (0..4).map(|i| {
        let (store, slug) = (store.clone(), slug.clone());
        let owner = ann.id;
        tokio::spawn(async move {
            let title = SiteTitle::parse(&format!("Racer {i}")).unwrap();
            store
                .create_site(NewSite {
                    slug: &slug,
                    title: &title,
                    owner_id: owner,
                })
                .await
        })
    });
    let mut created = 0;
    for result in futures::future::join_all(racers).await {
        match result.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict("site")) => {}
            Err(e) => panic!("a losing create_site must be a Conflict, not {e:?}"),
        }
    }
    assert_eq!(created, 1);
    let raced = store.site_by_slug(slug.as_str()).await.unwrap().unwrap();
    assert_eq!(store.steps(raced.id).await.unwrap().len(), 8);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM sites").await, 2);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM site_steps").await, 16);
}

async fn audit_newest_first(store: Store) {
    let ann = account(&store).await;
    let target = format!("site:{}", unique("t"));
    store
        .audit(
            Some(ann.id),
            "site.create",
            &target,
            Some("title=Ann's"),
            Some("192.0.2.1"),
        )
        .await
        .unwrap();
    store
        .audit(None, "other", "site:elsewhere", None, None)
        .await
        .unwrap();
    store
        .audit(Some(ann.id), "site.live", &target, None, None)
        .await
        .unwrap();
    store
        .audit(
            None,
            "site.delete",
            &target,
            Some("by staff"),
            Some("2001:db8::1"),
        )
        .await
        .unwrap();

    let entries = store.audit_for(&target, 10).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["site.delete", "site.live", "site.create"]
    );
    assert!(entries.windows(2).all(|w| w[0].at >= w[1].at));
    assert!(entries.iter().all(|e| e.target == target));
    let first = &entries[2];
    assert_eq!(first.actor_id, Some(ann.id));
    assert_eq!(first.detail.as_deref(), Some("title=Ann's"));
    assert_eq!(first.ip.as_deref(), Some("192.0.2.1"));
    let last = &entries[0];
    assert_eq!(last.actor_id, None);
    assert_eq!(last.ip.as_deref(), Some("2001:db8::1"));
    assert_eq!(entries[1].detail, None);
    assert_eq!(entries[1].ip, None);

    let newest = store.audit_for(&target, 1).await.unwrap();
    assert_eq!(newest, vec![last.clone()]);
    assert!(store.audit_for("site:none", 10).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------

#[test]
fn backend_of_url() {
    assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
    assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
    assert_eq!(
        Backend::of_url("postgres://u@h/db").unwrap(),
        Backend::Postgres
    );
    assert_eq!(
        Backend::of_url("postgresql://u@h/db").unwrap(),
        Backend::Postgres
    );
    for bad in ["mysql://x", "mariadb://x", "x.db", ""] {
        let err = Backend::of_url(bad).unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{bad:?}: {err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("sqlite:") && msg.contains("postgres:"),
            "{bad:?}: the message should name what is accepted: {msg}"
        );
    }
    let msg = Backend::of_url("mysql://x").unwrap_err().to_string();
    assert!(msg.contains("mysql"), "the message names the scheme: {msg}");
}

async fn domains(store: Store) {
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;
    let other = site_of(&store, &ann).await;
    let name = format!("www.{}.example", unique("d"));
    let www = CustomDomain::parse(&name, "localhost").unwrap();
    store.add_domain(site.id, &www).await.unwrap();
    // A domain belongs to one site.
    assert!(matches!(
        store.add_domain(other.id, &www).await,
        Err(StoreError::Conflict("domain"))
    ));
    assert!(matches!(
        store.add_domain(site.id, &www).await,
        Err(StoreError::Conflict("domain"))
    ));
    let listed: Vec<String> = store
        .domains_of(site.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.hostname)
        .collect();
    assert_eq!(listed, vec![name.clone()]);
    assert!(store.domains_of(other.id).await.unwrap().is_empty());

    // Only a domain of the site can be its address.
    assert!(!store
        .set_primary_domain(other.id, Some(&name))
        .await
        .unwrap());
    assert!(store
        .set_primary_domain(site.id, Some(&name))
        .await
        .unwrap());
    let row = store.site(site.id).await.unwrap().unwrap();
    assert_eq!(row.primary_domain.as_deref(), Some(name.as_str()));
    // Removing it makes the platform hostname the address again.
    assert!(!store.remove_domain(other.id, &name).await.unwrap());
    assert!(store.remove_domain(site.id, &name).await.unwrap());
    assert!(!store.remove_domain(site.id, &name).await.unwrap());
    assert_eq!(
        store.site(site.id).await.unwrap().unwrap().primary_domain,
        None
    );
    store.add_domain(other.id, &www).await.unwrap();

    // At most MAX_DOMAINS_PER_SITE, with a message.
    for n in 0..MAX_DOMAINS_PER_SITE {
        let d = CustomDomain::parse(&format!("d{n}.{}.example", unique("m")), "localhost").unwrap();
        store.add_domain(site.id, &d).await.unwrap();
    }
    let one_more = CustomDomain::parse(&format!("{}.example", unique("x")), "localhost").unwrap();
    match store.add_domain(site.id, &one_more).await {
        Err(StoreError::Config(message)) => assert!(message.contains("at most"), "{message}"),
        other => panic!("{other:?}"),
    }

    // A change of hostnames sends every step through again.
    store
        .set_site_status(site.id, SiteStatus::Live, None)
        .await
        .unwrap();
    let mut done = step_of(&store, site.id, StepKind::Cdn).await;
    done.state = StepState::Done;
    done.attempts = 2;
    store.save_step(site.id, &done).await.unwrap();
    store.reconverge_site(site.id).await.unwrap();
    let again = step_of(&store, site.id, StepKind::Cdn).await;
    assert_eq!((again.state, again.attempts), (StepState::Pending, 0));
    assert_eq!(
        store.site(site.id).await.unwrap().unwrap().status,
        SiteStatus::Provisioning
    );
    // Not for a site being deleted.
    assert!(store.request_delete(other.id).await.unwrap());
    store.reconverge_site(other.id).await.unwrap();
    assert_eq!(
        store.site(other.id).await.unwrap().unwrap().status,
        SiteStatus::Deleting
    );

    store.delete_site_row(other.id).await.unwrap();
    assert!(store.domains_of(other.id).await.unwrap().is_empty());
    // The forgotten site's domain is free again.
    store.add_domain(site.id, &www).await.unwrap_err();
    let fresh = site_of(&store, &ann).await;
    store.add_domain(fresh.id, &www).await.unwrap();
}

fn facts(n: i64) -> SnapshotFacts {
    SnapshotFacts {
        database_bytes: 100 + n,
        database_sha256: format!("{n:064}"),
        files_bytes: 200 + n,
        files_sha256: format!("{:064}", n + 1),
    }
}

async fn snapshots_and_restores(store: Store) {
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;
    let other = site_of(&store, &ann).await;
    let hour = Duration::from_secs(3600);

    // Nothing is due for a site that is not live, nor for one live for less than `every`.
    assert_eq!(
        store
            .schedule_due_snapshots(Duration::ZERO, Duration::ZERO)
            .await
            .unwrap(),
        0
    );
    store
        .set_site_status(site.id, SiteStatus::Live, None)
        .await
        .unwrap();
    assert_eq!(store.schedule_due_snapshots(hour, hour).await.unwrap(), 0);
    let live_at = store.site(site.id).await.unwrap().unwrap().live_at.unwrap();
    clock_passes(live_at).await;
    assert_eq!(
        store
            .schedule_due_snapshots(Duration::ZERO, Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    // One snapshot under way per site: scheduling again, or asking for one, adds nothing.
    assert_eq!(
        store
            .schedule_due_snapshots(Duration::ZERO, Duration::ZERO)
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        store
            .request_snapshot(site.id, SnapshotKind::Manual, Some(ann.id))
            .await,
        Err(StoreError::Conflict("snapshot"))
    ));
    assert!(store
        .unsettled_sites(true)
        .await
        .unwrap()
        .contains(&site.id));

    let Some(BackupOp::Snapshot(scheduled)) = store.next_backup_op(site.id).await.unwrap() else {
        panic!("the scheduled snapshot is next");
    };
    assert_eq!(
        (scheduled.kind, scheduled.state),
        (SnapshotKind::Scheduled, OpState::Pending)
    );
    store.start_snapshot(scheduled.id).await.unwrap();
    store
        .finish_snapshot(scheduled.id, &facts(1))
        .await
        .unwrap();
    let done = store.snapshot(scheduled.id).await.unwrap().unwrap();
    assert_eq!(done.state, OpState::Done);
    assert_eq!(done.attempts, 1);
    assert_eq!(done.facts, Some(facts(1)));
    assert_eq!(store.next_backup_op(site.id).await.unwrap(), None);
    // A fresh snapshot makes the next one due only after `every`.
    assert_eq!(
        store
            .schedule_due_snapshots(hour, Duration::ZERO)
            .await
            .unwrap(),
        0
    );

    // A failed snapshot is tried again after `retry_after`, not at once.
    let manual = store
        .request_snapshot(site.id, SnapshotKind::Manual, Some(ann.id))
        .await
        .unwrap();
    store.fail_snapshot(manual.id, "disk full").await.unwrap();
    assert_eq!(
        store
            .snapshot(manual.id)
            .await
            .unwrap()
            .unwrap()
            .error
            .as_deref(),
        Some("disk full")
    );

    // One restore under way per site; it comes before later snapshots.
    let restore = store
        .request_restore(site.id, scheduled.id, Some(ann.id))
        .await
        .unwrap();
    assert!(matches!(
        store
            .request_restore(site.id, scheduled.id, Some(ann.id))
            .await,
        Err(StoreError::Conflict("restore"))
    ));
    clock_passes(restore.created_at).await;
    let later = store
        .request_snapshot(site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    assert_eq!(
        store.next_backup_op(site.id).await.unwrap(),
        Some(BackupOp::Restore(restore.clone()))
    );
    store.start_restore(restore.id).await.unwrap();
    // Its safety snapshot runs beside the pending manual one.
    let safety = store
        .request_snapshot(site.id, SnapshotKind::PreRestore, Some(ann.id))
        .await
        .unwrap();
    assert_eq!(safety.state, OpState::Running);
    store
        .set_restore_safety_snapshot(restore.id, safety.id)
        .await
        .unwrap();
    store.finish_snapshot(safety.id, &facts(2)).await.unwrap();
    store.finish_restore(restore.id, None).await.unwrap();
    let restores = store.restores_of(site.id, 5).await.unwrap();
    assert_eq!(restores.len(), 1);
    assert_eq!(restores[0].state, OpState::Done);
    assert_eq!(restores[0].safety_snapshot_id, Some(safety.id));
    assert_eq!(
        store.next_backup_op(site.id).await.unwrap(),
        Some(BackupOp::Snapshot(later.clone()))
    );
    store.fail_snapshot(later.id, "gone").await.unwrap();
    let failed = store
        .request_restore(site.id, safety.id, None)
        .await
        .unwrap();
    store
        .finish_restore(failed.id, Some("damaged"))
        .await
        .unwrap();
    assert_eq!(
        store.restores_of(site.id, 5).await.unwrap()[0]
            .error
            .as_deref(),
        Some("damaged")
    );

    let kinds: Vec<_> = store
        .snapshots_of(site.id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds.len(), 4);
    assert!(store.snapshots_of(other.id).await.unwrap().is_empty());
    // Forgetting the site forgets its snapshots and restores.
    store.delete_site_row(site.id).await.unwrap();
    assert!(store.snapshots_of(site.id).await.unwrap().is_empty());
    assert!(store.restores_of(site.id, 5).await.unwrap().is_empty());
}

async fn snapshot_retention(store: Store) {
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;
    let mut manual = Vec::new();
    for n in 0..4 {
        let s = store
            .request_snapshot(site.id, SnapshotKind::Manual, None)
            .await
            .unwrap();
        store.finish_snapshot(s.id, &facts(n)).await.unwrap();
        clock_passes(s.created_at).await;
        manual.push(s.id);
    }
    let keep_two = Retention {
        scheduled: 2,
        manual: 2,
        pre_restore: 2,
    };
    let expired: Vec<i64> = store
        .expired_snapshots(site.id, keep_two)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(expired, vec![manual[1], manual[0]], "the two oldest go");
    // A snapshot a restore still needs is kept; one under way is never expired.
    store
        .request_restore(site.id, manual[0], None)
        .await
        .unwrap();
    let pending = store
        .request_snapshot(site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    let expired: Vec<i64> = store
        .expired_snapshots(site.id, keep_two)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(expired, vec![manual[1]]);
    assert!(!expired.contains(&pending.id));
}

#[tokio::test]
async fn open_rejects_other_databases() {
    let err = Store::open("mysql://root@localhost/mywp")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Config(m) if m.contains("mysql")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Foreign keys: enforced, and the same, on both backends.

/// How many rows of `table` belong to site `site_id`.
async fn rows_of(store: &Store, table: &str, site_id: i64) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE site_id = $1"
    )))
    .bind(site_id)
    .fetch_one(store.pool())
    .await
    .unwrap_or_else(|e| panic!("{table}: {e}"))
}

/// Every table a site's rows live in, besides `sites`.
const SITE_CHILDREN: [&str; 4] = [
    "site_steps",
    "site_domains",
    "site_snapshots",
    "site_restores",
];

/// A site with a row in every child table: its steps, a domain, a finished snapshot, a
/// restore of it with its safety snapshot.
async fn site_with_everything(store: &Store, owner: &Account) -> SiteRow {
    let site = site_of(store, owner).await;
    let domain = CustomDomain::parse(&format!("{}.example", unique("c")), "localhost").unwrap();
    store.add_domain(site.id, &domain).await.unwrap();
    let snapshot = store
        .request_snapshot(site.id, SnapshotKind::Manual, Some(owner.id))
        .await
        .unwrap();
    store.finish_snapshot(snapshot.id, &facts(7)).await.unwrap();
    let restore = store
        .request_restore(site.id, snapshot.id, Some(owner.id))
        .await
        .unwrap();
    let safety = store
        .request_snapshot(site.id, SnapshotKind::PreRestore, None)
        .await
        .unwrap();
    store
        .set_restore_safety_snapshot(restore.id, safety.id)
        .await
        .unwrap();
    for table in SITE_CHILDREN {
        assert!(rows_of(store, table, site.id).await > 0, "{table}");
    }
    site
}

async fn deleting_a_site_cascades(store: Store) {
    let ann = account(&store).await;
    let site = site_with_everything(&store, &ann).await;
    let other = site_with_everything(&store, &ann).await;
    let mut others = Vec::new();
    for table in SITE_CHILDREN {
        others.push(rows_of(&store, table, other.id).await);
    }

    // One DELETE of the site's row: the foreign keys take every child row with it.
    store.delete_site_row(site.id).await.unwrap();
    assert_eq!(store.site(site.id).await.unwrap(), None);
    for table in SITE_CHILDREN {
        assert_eq!(rows_of(&store, table, site.id).await, 0, "{table}");
    }
    let mut left = Vec::new();
    for table in SITE_CHILDREN {
        left.push(rows_of(&store, table, other.id).await);
    }
    assert_eq!(left, others, "another site's rows are left alone");
    assert_eq!(store.steps(other.id).await.unwrap().len(), 8);
}

/// Whether `err` is a foreign key's refusal.
fn is_fk_violation(err: &StoreError) -> bool {
    matches!(err, StoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation())
}

async fn rows_of_no_parent_are_refused(store: Store) {
    if store.backend() == Backend::Sqlite {
        // SQLite enforces foreign keys per connection: every connection of the pool must.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool().acquire().await.unwrap());
        }
        for conn in &mut held {
            let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(on, 1, "a pooled SQLite connection without foreign keys");
        }
    }
    let ann = account(&store).await;
    let site = site_of(&store, &ann).await;
    let snapshot = store
        .request_snapshot(site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    let missing: i64 = sqlx::query_scalar("SELECT MAX(id) + 1000 FROM sites")
        .fetch_one(store.pool())
        .await
        .unwrap();

    let step = sqlx::query("INSERT INTO site_steps (site_id, step, state) VALUES ($1, $2, $3)")
        .bind(missing)
        .bind(StepKind::Database.as_str())
        .bind(StepState::Pending.as_str())
        .execute(store.pool())
        .await
        .map_err(StoreError::from)
        .unwrap_err();
    assert!(is_fk_violation(&step), "a step of no site: {step:?}");
    let domain = CustomDomain::parse(&format!("{}.example", unique("m")), "localhost").unwrap();
    let err = store.add_domain(missing, &domain).await.unwrap_err();
    assert!(is_fk_violation(&err), "a domain of no site: {err:?}");
    let err = store
        .request_snapshot(missing, SnapshotKind::Manual, None)
        .await
        .unwrap_err();
    assert!(is_fk_violation(&err), "a snapshot of no site: {err:?}");
    let err = store
        .request_restore(missing, snapshot.id, None)
        .await
        .unwrap_err();
    assert!(is_fk_violation(&err), "a restore of no site: {err:?}");
    let err = store.create_session(missing).await.unwrap_err();
    assert!(is_fk_violation(&err), "a session of no account: {err:?}");
    let err = store
        .create_site(NewSite {
            slug: &SiteSlug::parse(&unique("n")).unwrap(),
            title: &SiteTitle::parse("Nobody's").unwrap(),
            owner_id: missing,
        })
        .await
        .unwrap_err();
    assert!(is_fk_violation(&err), "a site of no account: {err:?}");

    for table in SITE_CHILDREN {
        assert_eq!(rows_of(&store, table, missing).await, 0, "{table}");
    }
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM site_snapshots").await,
        1,
        "only the real site's snapshot"
    );
}

async fn accounts_and_their_rows(store: Store) {
    // The store has no account deletion; these are the rules one would meet.
    let ann = account(&store).await;
    let bob = account(&store).await;
    store.create_session(ann.id).await.unwrap();
    store.create_session(bob.id).await.unwrap();
    let site = site_of(&store, &bob).await;
    let delete = |id: i64| {
        let store = store.clone();
        async move {
            sqlx::query("DELETE FROM accounts WHERE id = $1")
                .bind(id)
                .execute(store.pool())
                .await
                .map_err(StoreError::from)
        }
    };
    let sessions_of = |id: i64| {
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions WHERE account_id = $1")
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap()
        }
    };

    // An account's sessions go with it.
    assert_eq!(delete(ann.id).await.unwrap().rows_affected(), 1);
    assert_eq!(sessions_of(ann.id).await, 0);
    assert_eq!(sessions_of(bob.id).await, 1);
    // An account that owns a site stays: its sites must be torn down first (they hold
    // real resources), never cascaded away.
    let err = delete(bob.id).await.unwrap_err();
    assert!(is_fk_violation(&err), "{err:?}");
    assert_eq!(store.site(site.id).await.unwrap().unwrap().owner_id, bob.id);
    assert_eq!(sessions_of(bob.id).await, 1);
}

/// The control plane's foreign keys and unique indexes, as the backend reports them, in
/// one spelling: `child.column -> parent.column ON DELETE rule` and
/// `UNIQUE table(columns)` (`WHERE …` for a partial index, its condition left out).
async fn constraints(store: &Store) -> Vec<String> {
    let (fks, uniques) = match store.backend() {
        Backend::Sqlite => (
            "SELECT m.name, f.\"from\", f.\"table\", f.\"to\", f.on_delete
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table'",
            // Primary keys are left out: SQLite's INTEGER PRIMARY KEY has no index.
            "SELECT m.name, i.name, i.partial, c.name
             FROM sqlite_master m, pragma_index_list(m.name) i, pragma_index_info(i.name) c
             WHERE m.type = 'table' AND i.\"unique\" = 1 AND i.origin <> 'pk'
             ORDER BY m.name, i.name, c.seqno",
        ),
        Backend::Postgres => (
            "SELECT c.conrelid::regclass::text, a.attname::text, c.confrelid::regclass::text,
                    pa.attname::text,
                    CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'a' THEN 'NO ACTION'
                         WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL'
                         ELSE 'SET DEFAULT' END
             FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
            "SELECT t.relname::text, i.relname::text,
                    CASE WHEN x.indpred IS NULL THEN 0 ELSE 1 END, a.attname::text
             FROM pg_index x
             JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) ON true
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE x.indisunique AND NOT x.indisprimary
               AND t.relnamespace = current_schema()::regnamespace
             ORDER BY t.relname, i.relname, k.n",
        ),
    };
    let mut out: Vec<String> = sqlx::query_as::<_, (String, String, String, String, String)>(fks)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(child, col, parent, to, rule)| {
            format!("{child}.{col} -> {parent}.{to} ON DELETE {rule}")
        })
        .collect();
    let mut indexes: Vec<(String, String, i64, Vec<String>)> = Vec::new();
    for (table, index, partial, column) in
        sqlx::query_as::<_, (String, String, i64, String)>(uniques)
            .fetch_all(store.pool())
            .await
            .unwrap()
    {
        match indexes.last_mut() {
            Some((t, i, _, cols)) if *t == table && *i == index => cols.push(column),
            _ => indexes.push((table, index, partial, vec![column])),
        }
    }
    out.extend(
        indexes
            .into_iter()
            .filter(|(table, ..)| table != "mywp_migrations")
            .map(|(table, _, partial, cols)| {
                let partial = if partial == 1 { " WHERE …" } else { "" };
                format!("UNIQUE {table}({}){partial}", cols.join(", "))
            }),
    );
    out.sort();
    out
}

async fn constraints_are_the_same(store: Store) {
    // The same list on both backends: a rule added to one must be added to the other.
    assert_eq!(
        constraints(&store).await,
        [
            "UNIQUE accounts(email)",
            "UNIQUE site_domains(hostname)",
            "UNIQUE site_restores(site_id) WHERE …",
            "UNIQUE site_snapshots(site_id) WHERE …",
            "UNIQUE sites(slug)",
            "sessions.account_id -> accounts.id ON DELETE CASCADE",
            "site_domains.site_id -> sites.id ON DELETE CASCADE",
            "site_restores.site_id -> sites.id ON DELETE CASCADE",
            "site_snapshots.site_id -> sites.id ON DELETE CASCADE",
            "site_steps.site_id -> sites.id ON DELETE CASCADE",
            "sites.owner_id -> accounts.id ON DELETE NO ACTION",
        ]
    );
}

/// A SQLite database at `path` with the migrations before `version` applied, as an earlier
/// release left it, over a connection that enforces foreign keys or not.
async fn sqlite_before(
    path: &std::path::Path,
    version: i64,
    foreign_keys: bool,
) -> sqlx::sqlite::SqliteConnection {
    use sqlx::{sqlite::SqliteConnectOptions, ConnectOptions};
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(foreign_keys)
        .connect()
        .await
        .unwrap();
    let mut before =
        sqlx::migrate::Migrator::new(mywp_tests::repo_root().join("migrations").join("sqlite"))
            .await
            .unwrap();
    before.dangerous_set_table_name("mywp_migrations");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(before.migrations.len() as i64, version - 1);
    before.run(&mut conn).await.unwrap();
    conn
}

/// A SQLite database from before foreign keys were relied on may hold rows whose parent is
/// gone; opening it with this version removes them, and keeps every other row.
#[tokio::test]
async fn sqlite_upgrade_removes_orphans() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mywp.db");
    // The schema as the last version without 0004 left it, written by a connection that
    // does not enforce foreign keys (as the sqlite3 shell does not).
    let mut conn = sqlite_before(&path, 4, false).await;
    sqlx::raw_sql(
        "INSERT INTO accounts (id, email, created_at) VALUES (1, 'ann@example.com', 0);
         INSERT INTO sessions (token_hash, account_id, created_at, expires_at)
           VALUES ('kept', 1, 0, 1), ('orphan', 2, 0, 1);
         INSERT INTO sites (id, slug, title, owner_id, status, created_at, updated_at)
           VALUES (1, 'kept', 'Kept', 1, 'live', 0, 0);
         INSERT INTO site_steps (site_id, step, state) VALUES (1, 'database', 'done'),
           (2, 'database', 'done'), (2, 'files', 'done');
         INSERT INTO site_domains (site_id, hostname, created_at)
           VALUES (1, 'kept.example', 0), (2, 'orphan.example', 0);
         INSERT INTO site_snapshots (id, site_id, kind, state, created_at)
           VALUES (1, 1, 'manual', 'done', 0), (2, 2, 'manual', 'done', 0);
         INSERT INTO site_restores (site_id, snapshot_id, state, created_at)
           VALUES (1, 1, 'done', 0), (2, 2, 'done', 0);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.expect("the old database opens");
    for table in SITE_CHILDREN {
        assert_eq!(rows_of(&store, table, 1).await, 1, "{table}: kept");
        assert_eq!(rows_of(&store, table, 2).await, 0, "{table}: orphans");
    }
    let tokens: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(tokens, ["kept"]);
    let violations = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(
        violations.is_empty(),
        "{} rows break a foreign key",
        violations.len()
    );
    // A new site never takes the orphans' old id: ids deleted before the upgrade are
    // recorded nowhere, so new ones start well above the largest left (0006).
    let ann = store
        .account_by_email(&Email::parse("ann@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let fresh = site_of(&store, &ann).await;
    assert!(
        fresh.id > 2,
        "{}: above any id a deleted site may have had",
        fresh.id
    );
    assert!(store.snapshots_of(fresh.id).await.unwrap().is_empty());
    assert!(store.domains_of(fresh.id).await.unwrap().is_empty());
    store.pool().close().await;
}

/// A site's id names its database and seeds its secrets: the id of a deleted site, even the
/// newest one (which SQLite's plain `INTEGER PRIMARY KEY` would hand out again), never goes
/// to another site, nor after the store is opened again (the upgrade to 0006 keeps it).
async fn deleted_site_ids_never_come_back(store: Store, url: String) {
    let owner = account(&store).await;
    let kept = site_of(&store, &owner).await;
    let newest = site_of(&store, &owner).await;
    store.delete_site_row(newest.id).await.unwrap();
    let next = site_of(&store, &owner).await;
    assert!(
        next.id > newest.id,
        "site {} took the id of deleted site {}",
        next.id,
        newest.id
    );
    store.delete_site_row(next.id).await.unwrap();
    store.pool().close().await;
    let reopened = Store::open(&url).await.unwrap();
    let after = site_of(&reopened, &owner).await;
    assert!(after.id > next.id, "{} after reopening", after.id);
    assert!(kept.id < newest.id);
    reopened.pool().close().await;
}

/// The upgrade that rebuilds SQLite's `sites` (0006) keeps every site and every row of
/// theirs: foreign keys are off while the old table is dropped, so nothing cascades.
#[tokio::test]
async fn sqlite_rebuild_of_sites_keeps_their_rows() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mywp.db");
    let mut conn = sqlite_before(&path, 6, true).await;
    sqlx::raw_sql(
        "INSERT INTO accounts (id, email, created_at) VALUES (1, 'ann@example.com', 0);
         INSERT INTO sites (id, slug, title, owner_id, status, created_at, updated_at,
                            primary_domain, queued_job, queued_for)
           VALUES (1, 'one', 'One', 1, 'live', 0, 0, 'one.example', 'job-1', 5),
                  (7, 'seven', 'Seven', 1, 'live', 0, 0, NULL, NULL, NULL);
         INSERT INTO site_steps (site_id, step, state) VALUES (1, 'database', 'done'),
           (7, 'database', 'done');
         INSERT INTO site_domains (site_id, hostname, created_at)
           VALUES (1, 'one.example', 0), (7, 'seven.example', 0);
         INSERT INTO site_snapshots (id, site_id, kind, state, created_at)
           VALUES (1, 1, 'manual', 'done', 0), (2, 7, 'manual', 'done', 0);
         INSERT INTO site_restores (site_id, snapshot_id, state, created_at)
           VALUES (1, 1, 'done', 0), (7, 2, 'done', 0);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.expect("the old database opens");
    for table in SITE_CHILDREN {
        for site in [1, 7] {
            assert_eq!(rows_of(&store, table, site).await, 1, "{table} of {site}");
        }
    }
    let one = store.site(1).await.unwrap().expect("site 1 is kept");
    assert_eq!(one.slug, "one");
    assert_eq!(one.primary_domain.as_deref(), Some("one.example"));
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(fk, 1, "foreign keys are enforced again after the rebuild");
    // Deleting the newest site still cascades, and its id is not handed out again.
    store.delete_site_row(7).await.unwrap();
    for table in SITE_CHILDREN {
        assert_eq!(rows_of(&store, table, 7).await, 0, "{table} cascaded");
    }
    let ann = store
        .account_by_email(&Email::parse("ann@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let fresh = site_of(&store, &ann).await;
    assert!(
        fresh.id > 7 + 1000,
        "{}: ids deleted before the upgrade (above 7) are never handed out",
        fresh.id
    );
    store.pool().close().await;
}
