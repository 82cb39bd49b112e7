//! Tests that drive the pipeline directly, without the panel: accounts and sites made in
//! the store, and a site's pipeline run as its jobs would run it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use mywp_jobs::{
    domain::{Email, Password, Role, SiteSlug, SiteTitle},
    pipeline::{Outcome, Pipeline},
    store::{NewSite, Store},
};

use crate::unique;

/// A customer account with a unique email: its id.
pub async fn customer(store: &Store) -> i64 {
    let email = Email::parse(&format!("{}@example.com", unique("owner"))).unwrap();
    let hash = Password::parse_new("correct horse battery", &email)
        .unwrap()
        .hash();
    store
        .create_account(&email, &hash, Role::Customer)
        .await
        .expect("create the account")
        .id
}

/// A site of `owner`'s: its id.
pub async fn site(store: &Store, owner: i64, slug: &str, title: &str) -> i64 {
    store
        .create_site(NewSite {
            slug: &SiteSlug::parse(slug).unwrap(),
            title: &SiteTitle::parse(title).unwrap(),
            owner_id: owner,
        })
        .await
        .expect("create the site")
        .id
}

/// Runs the site's pipeline as its jobs would, following its own schedule (the waits the
/// pipeline asks for), until it settles; fails after `timeout`.
pub async fn drive(pipeline: &Arc<Pipeline>, site_id: i64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let wait = match pipeline.run(site_id).await.expect("the pipeline runs") {
            Outcome::Settled | Outcome::Gone => return,
            Outcome::Again(d) | Outcome::Busy(d) => d,
        };
        assert!(
            Instant::now() + wait < deadline,
            "site {site_id} did not settle within {timeout:?}; steps: {:?}",
            pipeline.store().steps(site_id).await.unwrap()
        );
        tokio::time::sleep(wait).await;
    }
}
