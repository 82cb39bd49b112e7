//! Several processes on one PostgreSQL control plane in the AWS shape, as production runs
//! them: a `mywp serve --no-workers` and two `mywp worker`s, configured by one config file.
//! Customers create sites over HTTP; every site goes live with each of its steps run once
//! (one attempt, one resource of each kind in AWS), and deleting them leaves nothing.

#![cfg(feature = "aws")]

use std::time::Duration;

use mywp_jobs::{domain::StepState, drivers::SiteSpec, store::Store};
use mywp_tests::{
    aws::{
        infra, inventory, panel_vars, spawn_panel, spawn_worker, write_config, Agent, Inventory,
        ONE_SITE,
    },
    postgres::TestDatabase,
    unique, Customer,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_run_each_step_once() {
    let infra = infra(false).await;
    let agent = Agent::start(&infra.cfg);
    let db = TestDatabase::create("aws_workers").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &panel_vars(&infra, &db.url));
    let (_panel, base) = spawn_panel(&config);
    let _workers = [
        spawn_worker(&config, &unique("w1-")),
        spawn_worker(&config, &unique("w2-")),
    ];

    let customer = Customer::new(&base);
    let email = format!("{}@example.com", unique("c"));
    let res = customer
        .call(
            "signup",
            &[
                ("email", email.as_str()),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert!(res.status().is_success(), "signup: {}", res.status());
    let slugs: Vec<String> = (0..4).map(|_| unique("w")).collect();
    for slug in &slugs {
        customer.create_site(&format!("Fleet {slug}"), slug).await;
    }
    for slug in &slugs {
        let detail = customer
            .wait_status(slug, "live", Duration::from_secs(180))
            .await;
        assert_eq!(
            detail["site"]["url"],
            format!("https://{slug}.{}/", infra.cfg.platform_domain),
            "the panel shows the site's https address"
        );
    }

    let store = Store::open(&db.url).await.unwrap();
    let mut specs = Vec::new();
    for slug in &slugs {
        let site = store.site_by_slug(slug).await.unwrap().expect("the site");
        for step in store.steps(site.id).await.unwrap() {
            assert_eq!(step.state, StepState::Done, "{slug}: {step:?}");
            assert_eq!(step.attempts, 1, "{slug}: {:?} ran once", step.step);
        }
        let host = format!("{slug}.{}", infra.cfg.platform_domain);
        let spec = SiteSpec::parse(site.id, slug, &site.title, &email, &[host]).unwrap();
        assert_eq!(
            inventory(&infra.cfg, &infra.clients, &spec).await,
            ONE_SITE,
            "one of each resource for {slug}"
        );
        specs.push(spec);
    }

    for slug in &slugs {
        let (status, body) = customer
            .call_json("delete_site", &[("slug", slug), ("confirm", slug)])
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for slug in &slugs {
        customer.wait_gone(slug, Duration::from_secs(180)).await;
    }
    for spec in &specs {
        assert_eq!(
            inventory(&infra.cfg, &infra.clients, spec).await,
            Inventory::default(),
            "nothing of {} is left in AWS",
            spec.slug
        );
    }
    drop(agent);
    let _ = std::fs::remove_dir_all(&infra.cfg.efs_mount);
    db.drop_database().await;
}
